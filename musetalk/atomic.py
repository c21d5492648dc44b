"""Atomic file writes (a reader sees the old file or the whole new one, never a half-written one), and the
lock that keeps two processes from building the same thing at once."""
from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InputError
from .temp_files import owner_tag


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` through a temporary file beside it and a rename.

    The temporary name carries the pid, so two processes writing the same file never share a temporary file.
    """
    path = Path(path)
    tmp = temp_beside(path)
    try:
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def temp_beside(path: Path, suffix: str = "") -> Path:
    """A temporary name beside ``path`` for a file to be renamed onto it: ``.NAME.PID-TOKEN.tmp`` + suffix, unique to
    this process and call, so two writers never share one and a later run can tell a killed writer's."""
    return path.with_name(f".{path.name}.{owner_tag()}.tmp{suffix}")


@contextlib.contextmanager
def exclusive(lock_path: Path, busy: str, hint: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` for the block; InputError(``busy``) if another process holds it.

    The lock (``flock``) goes with the process: a killed holder frees it, so a stale lock file never blocks. The
    file is removed on release (while still locked); a waiter that locked a removed file tries again on the new
    one, so two processes never both hold it.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (the unique work folders still keep two runs apart)
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fh = open(lock_path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise InputError(busy, hint) from None
        try:
            same = os.fstat(fh.fileno()).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        fh.close()  # the holder removed it as we opened it: lock the new file
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock_path.unlink()
        fh.close()  # closing releases the lock
