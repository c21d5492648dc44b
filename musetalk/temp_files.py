"""Temporary files and folders that a killed run (SIGKILL, power loss) cannot leave behind for good.

Every temporary name carries the pid of the process that made it: ``musetalk-KIND-PID-TOKEN`` for folders in
the temp dir, ``.NAME.PID-TOKEN.tmp...`` beside a target. A later run of the same kind removes those whose
process no longer exists.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def owner_tag() -> str:
    """``PID-TOKEN``: which process made a temporary name, and a random part that keeps its names apart."""
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def process_alive(pid: int) -> bool:
    if os.name == "nt":  # signal 0 is CTRL_C_EVENT there, not a probe: never clean up rather than interrupt
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def is_orphan(name: str, prefix: str) -> bool:
    """True when ``name`` is ``prefix`` + ``PID-...`` and that process is gone."""
    m = re.match(re.escape(prefix) + r"(\d+)-", name)
    return m is not None and not process_alive(int(m.group(1)))


def reclaim(folder: Path, prefix: str) -> list[Path]:
    """Remove the files and folders in ``folder`` named ``prefix`` + ``PID-...`` whose process is gone."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for path in entries:
        if not path.name.startswith(prefix) or not is_orphan(path.name, prefix):
            continue
        try:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        except OSError:  # someone else's, or already gone: not ours to insist on
            continue
        log.info("removed %s, left by a run that was killed", path)
        removed.append(path)
    return removed


def make_temp_dir(kind: str, parent: Path | None = None) -> Path:
    """A new ``musetalk-KIND-PID-TOKEN`` folder in ``parent`` (default: the temp dir), after removing the
    orphaned ones of the same kind there."""
    parent = Path(parent or tempfile.gettempdir())
    reclaim(parent, f"musetalk-{kind}-")
    path = parent / f"musetalk-{kind}-{owner_tag()}"
    path.mkdir(mode=0o700)
    return path
