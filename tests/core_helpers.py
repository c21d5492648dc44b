"""Helpers for tests anywhere under tests/ (importable because tests/conftest.py puts tests/ on sys.path)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np


def ffmpeg(*args: str) -> None:
    """Run the bundled ffmpeg (no system ffmpeg is needed) with an argument list."""
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True)


def cut(src: Path, dst: Path, seconds: float, start: float = 0.0, extra: tuple[str, ...] = ()) -> Path:
    """The first ``seconds`` of ``src`` (from ``start``), re-encoded, into ``dst``."""
    ffmpeg("-ss", str(start), "-i", str(src), "-t", str(seconds), *extra, str(dst))
    return dst


def read_frames(path: Path) -> list[np.ndarray]:
    from musetalk.media import iter_frames

    return list(iter_frames(path))


def stream_codecs(path: Path) -> str:
    """ffmpeg's description of the file's streams (codec names, fps, size)."""
    import imageio_ffmpeg

    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          capture_output=True, text=True)
    return "\n".join(line for line in proc.stderr.splitlines() if "Stream #" in line)


ASSETS = Path(__file__).resolve().parents[1] / "assets"


def face_clip_from_photo(dst: Path, seconds: float, size: int) -> Path:
    """A ``size`` x ``size``, 25 fps clip of the bundled face photo, the head drifting a few pixels in a circle
    (so every frame differs), no audio: the core tests' stand-in for a talking face, made here."""
    margin = max(size // 24, 2)
    drift = f"crop={size}:{size}:x='{margin}+{margin}*sin(2*PI*n/25)':y='{margin}+{margin}*cos(2*PI*n/25)'"
    ffmpeg("-loop", "1", "-i", str(ASSETS / "face.jpg"), "-t", str(seconds),
           "-vf", f"fps=25,scale={size + 2 * margin}:{size + 2 * margin},{drift}", "-pix_fmt", "yuv420p",
           "-an", str(dst))
    return dst


def two_face_clip(dst: Path, seconds: float = 1.0) -> Path:
    """640x360, 25 fps, no audio: the bundled photo's head smaller on the left (face 0, centre x ~145) and larger
    on the right (face 1, the largest, centre x ~480) on grey: the stand-in for two people in one shot."""
    ffmpeg("-loop", "1", "-i", str(ASSETS / "face.jpg"), "-f", "lavfi", "-i",
           f"color=c=gray:s=640x360:d={seconds}:r=25", "-filter_complex",
           "[0:v]crop=300:300:75:0,split[a][b];[a]scale=250:250[l];[b]scale=300:300[r];"
           "[1:v][l]overlay=20:70:shortest=1[t];[t][r]overlay=330:20:shortest=1,format=yuv420p[v]",
           "-map", "[v]", "-t", str(seconds), str(dst))
    return dst
