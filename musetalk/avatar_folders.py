"""Avatar folders without the models: names, where they live, list, delete, and the preparation lock.

Kept apart from ``avatar.py`` (torch, the face models, the pipeline) so that ``avatar list`` and ``avatar delete``
answer at once instead of after seconds of imports.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .errors import InputError
from .frame_store import read_meta

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def validate_name(name: str) -> str:
    """Avatar names become folder names: letters, digits, '_', '-', '.', never a path."""
    if not NAME_RE.match(name or "") or ".." in name:
        raise InputError(
            f"Invalid avatar name {name!r}.",
            "Use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit.",
        )
    return name


def resolve_avatars_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """``--avatars``, else ``$MUSETALK_AVATARS``, else ``./avatars``."""
    return Path(path or os.environ.get("MUSETALK_AVATARS") or "avatars").expanduser()


def list_avatars(avatars_dir: Path) -> list[str]:
    """Names of complete (prepared) avatars."""
    if not avatars_dir.is_dir():
        return []
    return sorted(p.name for p in avatars_dir.iterdir() if p.is_dir() and read_meta(p) is not None)


def require_avatar_folder(root: Path, hint: str = "Prepare the avatar from its video first.") -> None:
    """InputError unless the avatar folder ``root`` exists (whether it is usable is for ``Avatar.load``)."""
    if not root.is_dir():
        raise InputError(f"There is no avatar named {root.name!r} in {root.parent}.", hint)


def delete_avatar(avatars_dir: Path, name: str) -> None:
    path = avatars_dir / validate_name(name)
    if not path.is_dir():
        raise InputError(f"There is no avatar named {name!r}.")
    shutil.rmtree(path)


def lock_path(root: Path) -> Path:
    """The lock a preparation of the avatar folder ``root`` holds: ``.NAME.lock`` beside it."""
    return root.with_name(f".{root.name}.lock")


def busy_message(root: Path) -> str:
    return f"Another process is preparing the avatar {root.name!r} in {root.parent} right now."
