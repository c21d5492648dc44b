"""Keep native libraries' start-up notices off the user's terminal.

mediapipe's C++ graphs log through absl straight to file descriptor 2, past ``sys.stderr`` and past any Python
setting: "Created TensorFlow Lite XNNPACK delegate", "Feedback manager requires a model with a single signature",
"Using NORM_RECT without IMAGE_DIMENSIONS". They are harmless, but users read them as failures. While a command
runs, fd 2 becomes a pipe whose lines are forwarded to the real stderr unless they are such notices; Python's own
``sys.stderr`` (progress bars, messages) writes to the real stderr directly, so it is never delayed or reordered.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import threading
from collections.abc import Iterator

# absl/glog line prefix (severity, MMDD or 0000, time, thread, file:line]) and TFLite's delegate notices.
NATIVE_NOTICE = re.compile(
    rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\]"
    rb"|INFO: Created TensorFlow Lite"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)"
)


@contextlib.contextmanager
def filtered_native_stderr(drop: re.Pattern[bytes] = NATIVE_NOTICE) -> Iterator[None]:
    """Within the block, drop the native stderr lines matching ``drop``; errors (E/F lines) and the rest pass."""
    try:
        sys.stderr.flush()
        real_fd = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr (pythonw, closed): nothing to filter
        yield
        return
    read_fd, write_fd = os.pipe()
    python_stderr = sys.stderr
    if _uses_fd2(python_stderr):  # else it is already elsewhere (a test's capture, a log file): leave it there
        sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(real_fd), "wb", buffering=0),
                                      encoding=getattr(python_stderr, "encoding", None) or "utf-8",
                                      errors="backslashreplace", line_buffering=True, write_through=True)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    # The pump owns its own copy of the real stderr: if a child process still holds the pipe when we return, the
    # pump lives on and must never write to a descriptor number that has been reused.
    pump = threading.Thread(target=_forward, args=(read_fd, os.dup(real_fd), drop), name="native-stderr",
                            daemon=True)
    pump.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real_fd, 2)  # drops our pipe's last write end (unless a child still holds it): the pump ends
        os.close(real_fd)
        pump.join(timeout=2.0)
        # Not closed: log handlers made inside the block may still hold it (it closes when they let go).
        sys.stderr = python_stderr


def _uses_fd2(stream: object) -> bool:
    try:
        return stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


def _forward(read_fd: int, real_fd: int, drop: re.Pattern[bytes]) -> None:
    try:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(65536):
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                kept = [line + b"\n" for line in lines if not drop.match(line)]
                if kept:
                    _write_all(real_fd, b"".join(kept))
            if pending and not drop.match(pending):
                _write_all(real_fd, pending)
    finally:
        os.close(real_fd)


def _write_all(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:  # the terminal went away: nothing left to show it to
        pass
