"""Shared plumbing for driving the bundled ffmpeg binary: locating it, running it, draining its stderr.

There is no system ffmpeg here; the binary comes from ``imageio_ffmpeg`` (which honours ``IMAGEIO_FFMPEG_EXE``).
Every call is an argument list, never a shell string.
"""
from __future__ import annotations

import collections
import functools
import logging
import os
import re
import subprocess
import threading
from typing import IO

logger = logging.getLogger(__name__)

# Options every invocation gets: no banner, no stats, never read the terminal.
BASE_ARGS: tuple[str, ...] = ("-hide_banner", "-nostdin", "-nostats")

_CONTEXT_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")

# ffmpeg runs in its own session, out of the terminal's process group: a Ctrl-C reaches only Python, whose
# KeyboardInterrupt then stops the children and removes temporary files. Sharing the group, ffmpeg would quit
# first and the interrupt would surface as a misleading "ffmpeg stopped accepting frames" error.
ISOLATE: dict[str, bool] = {"start_new_session": True} if os.name == "posix" else {}


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg (looked up once, on first use)."""
    import imageio_ffmpeg  # imported lazily: no work at import time

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    logger.debug("using ffmpeg at %s", exe)
    return exe


def run_ffmpeg(args: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess[bytes]:
    """Run ``ffmpeg BASE_ARGS *args`` to completion; returns the process with stdout/stderr as bytes."""
    cmd = [ffmpeg_exe(), *BASE_ARGS, *args]
    logger.debug("ffmpeg: %s", cmd)
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False, **ISOLATE)


# Lines ffmpeg prints after the real complaint, saying only that something failed somewhere.
_GENERIC = re.compile(r"^(Conversion failed|Task finished with error code|Terminating thread with return code|"
                      r"Error (while|submitting|encoding|muxing|sending|closing|writing|initializing)|"
                      r"Nothing was written into output file|Exiting normally)", re.IGNORECASE)


def last_error_line(stderr: str | bytes, default: str = "unknown ffmpeg error") -> str:
    """The line of ffmpeg's stderr that says what failed: the last one that is not one of its generic follow-ups
    ("Conversion failed!", "Task finished with error code -22", ...), else the last line."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", errors="replace")
    # "[h264 @ 0x55d1...] Invalid NAL unit size" -> "Invalid NAL unit size"; the caller adds its own full stop.
    lines = [_CONTEXT_PREFIX.sub("", line.strip()).rstrip(".") for line in stderr.splitlines() if line.strip()]
    lines = [line for line in lines if line]
    if not lines:
        return default
    meaningful = [line for line in lines if not _GENERIC.match(line)]
    return (meaningful or lines)[-1]


class StderrTail:
    """Drains a child's stderr on a daemon thread, keeping the last ``maxlen`` lines.

    A pipe that nobody reads fills up (64 KiB) and blocks ffmpeg, so stderr must be drained while stdout/stdin are
    in use; the tail is what goes into error messages.
    """

    def __init__(self, stream: IO[bytes], maxlen: int = 40) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=maxlen)
        self._stream = stream
        self._thread = threading.Thread(target=self._drain, name="ffmpeg-stderr", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            for raw in iter(self._stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip()
                if line:
                    self._lines.append(line)
        except (OSError, ValueError):  # stream closed under us while shutting down
            pass

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        return "\n".join(self._lines)

    def last_line(self, default: str = "unknown ffmpeg error") -> str:
        return last_error_line(self.text(), default)


def widen_pipe(stream: IO[bytes] | None, size: int = 1 << 20) -> None:
    """Best effort: grow a pipe's kernel buffer (Linux default 64 KiB) so a frame moves in fewer context switches."""
    if stream is None:
        return
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError, ValueError):  # not Linux, or above /proc/sys/fs/pipe-max-size
        pass


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Kill ``proc`` if it is still running and reap it, so that no zombie is left behind."""
    if proc.poll() is None:
        proc.kill()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            try:
                stream.close()
            except (OSError, ValueError):  # BrokenPipe on flushing stdin of a dead child
                pass
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:  # pragma: no cover - kill() cannot be ignored
        logger.warning("ffmpeg (pid %d) did not exit after kill", proc.pid)

