"""DATA -> the clips in it: a folder of videos (searched recursively) or a text file listing them.

A clip is a video with its own speech, or a video plus a sidecar audio file of the same name beside it
(``talk.mp4`` + ``talk.wav``). A list file holds one video per line, relative to the list's folder, optionally
followed by a tab and its audio file; blank lines and lines starting with ``#`` are skipped.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg")
AUDIO_EXTENSIONS = (".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus")


@dataclass(frozen=True)
class ClipSource:
    """A video to prepare; ``audio`` None = its own sound track. ``name`` is unique in the dataset cache."""

    video: Path
    audio: Path | None
    name: str


def sidecar_audio(video: Path) -> Path | None:
    for ext in AUDIO_EXTENSIONS:
        candidate = video.with_suffix(ext)
        if candidate.is_file():
            return candidate
    return None


def source_name(video: Path, root: Path) -> str:
    """A readable, filesystem-safe name that stays unique: the path below DATA plus a hash of the full path
    (two ``talk.mp4`` in different folders must not share a cache folder)."""
    try:
        rel = video.resolve().relative_to(root.resolve())
    except ValueError:
        rel = Path(video.name)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(rel.with_suffix("")))[-60:].strip("._") or "clip"
    digest = hashlib.sha1(str(video.resolve()).encode()).hexdigest()[:8]
    return f"{stem}-{digest}"


def list_clips(data: Path) -> list[ClipSource]:
    """The clips of DATA, in a stable (sorted) order. InputError when DATA holds none."""
    data = Path(data)
    if data.is_dir():
        videos = sorted(p for p in data.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                        and not any(part.startswith(".") for part in p.relative_to(data).parts))
        sources = [ClipSource(v, sidecar_audio(v), source_name(v, data)) for v in videos]
    elif data.is_file():
        sources = _from_list(data)
    else:
        raise InputError(f"{data} does not exist.", "Give a folder of clips or a text file listing them.")
    if not sources:
        raise InputError(f"{data} holds no video clips ({', '.join(VIDEO_EXTENSIONS)}).")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise InputError(f"{data} lists a clip twice.", "Give each video once.")
    return sources


def _from_list(list_file: Path) -> list[ClipSource]:
    root = list_file.parent
    sources = []
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{list_file} is not a readable text file listing clips ({exc}).") from None
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        video_text, _, audio_text = line.partition("\t")
        video = root / video_text.strip()
        audio = root / audio_text.strip() if audio_text.strip() else sidecar_audio(video)
        # A missing file is a bad clip of the dataset (reported at preparation), not a reason to stop here.
        sources.append(ClipSource(video, audio, source_name(video, root)))
    return sources
