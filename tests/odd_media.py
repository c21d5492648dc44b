"""Inputs for the robustness suite, made with the bundled ffmpeg from lavfi sources and cuts of ../shared/data.

Every file is built on first use and reused for the session. Face clips are stamped: the top 12 rows of frame i
hold i in binary (8 cells of 12x12 px, white = 1), so a test can read which source frame an output frame came from
and prove that frame lists never drift.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch

from musetalk.render import FaceRenderer

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
STAMP_ROWS = 12
STAMP_BITS = 8
STAMP_CELL = 12
STUB_FACE_BGR = (255, 0, 255)  # the stub renderer paints every generated face magenta


def ffmpeg(*args: str | Path) -> None:
    """Run the bundled ffmpeg; fail the test with its stderr when it fails."""
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *map(str, args)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def ffmpeg_streams(path: Path) -> str:
    """The ``Stream #`` lines of ``ffmpeg -i path``."""
    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          capture_output=True, text=True, timeout=60)
    return "\n".join(line.strip() for line in proc.stderr.splitlines() if "Stream #" in line)


def stamp(frame: np.ndarray, index: int) -> np.ndarray:
    """Write ``index`` into the top rows of ``frame`` (in place) and return it."""
    frame[:STAMP_ROWS, : STAMP_BITS * STAMP_CELL] = 0
    for bit in range(STAMP_BITS):
        if index >> bit & 1:
            frame[:STAMP_ROWS, bit * STAMP_CELL : (bit + 1) * STAMP_CELL] = 255
    return frame


def read_stamp(frame: np.ndarray) -> int:
    """The index written by ``stamp`` (robust to H.264 noise: each cell is averaged)."""
    value = 0
    for bit in range(STAMP_BITS):
        cell = frame[2 : STAMP_ROWS - 2, bit * STAMP_CELL + 2 : (bit + 1) * STAMP_CELL - 2]
        if cell.mean() > 128:
            value |= 1 << bit
    return value


def magenta_share(frame: np.ndarray, source: np.ndarray) -> float:
    """Fraction of pixels pulled towards the stub's magenta face (green down and red+blue up, vs the source)."""
    f, s = frame.astype(np.int16), source.astype(np.int16)
    towards = ((s[..., 1] - f[..., 1]) > 25) & ((f[..., 0] + f[..., 2] - s[..., 0] - s[..., 2]) > 25)
    return float(towards.mean())


class StubRenderer(FaceRenderer):
    """The renderer's interface without the models: zero latents, and every face painted solid magenta.

    Used where a test is about the pipeline's bookkeeping (which frames are synced, counts, files), so that the
    suite stays fast on a 2-core CPU; the real tiny models run in the end-to-end cases.
    """

    def __init__(self, models=None, fail_after: int | None = None) -> None:
        self.models = models
        self.calls = 0
        self.fail_after = fail_after

    def encode(self, crops_bgr: np.ndarray) -> torch.Tensor:
        return torch.zeros(crops_bgr.shape[0], 8, 32, 32)

    def render(self, latents: torch.Tensor, windows: torch.Tensor) -> np.ndarray:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("stub renderer: simulated failure mid-run")
        faces = np.empty((latents.shape[0], 256, 256, 3), np.uint8)
        faces[:] = STUB_FACE_BGR
        return faces


class RobustMedia:
    """Builds each input on first request, in a session temp folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / name

    def _make(self, name: str, *args: str | Path) -> Path:
        out = self.root / name
        if not out.exists():
            ffmpeg(*args, out)
        return out

    # ------------------------------------------------------------------ real faces (need ../shared/data)

    def _shared(self, name: str) -> Path:
        src = SHARED_DATA / name
        if not src.is_file():
            pytest.skip(f"real test media not found: {src} (../shared/data beside the project)")
        return src

    def face_raw(self) -> Path:
        """1.2 s (30 frames at 25 fps) of a real talking face, 192x192, no audio."""
        return self._make("face_raw.mp4", "-i", self._shared("retalking_face3.mp4"), "-t", "1.2",
                          "-vf", "scale=192:192", "-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12")

    def face(self, blackout: range = range(0)) -> Path:
        """``face_raw`` with frame stamps; frames in ``blackout`` are black below the stamp (face lost)."""
        name = f"face_stamped_{blackout.start}_{blackout.stop}.mp4"
        out = self.root / name
        if not out.exists():
            from musetalk.media import VideoWriter, iter_frames

            frames = list(iter_frames(self.face_raw()))
            with VideoWriter(out, 192, 192, crf=8) as writer:
                for i, frame in enumerate(frames):
                    if i in blackout:
                        frame[STAMP_ROWS:] = 0
                    writer.write(stamp(frame, i))
        return out

    def face_variant(self, name: str, *vf_or_args: str) -> Path:
        """The stamped face clip through extra ffmpeg arguments (filters, rates)."""
        return self._make(name, "-i", self.face(), *vf_or_args, "-c:v", "libx264", "-preset", "ultrafast",
                          "-crf", "12")

    def face_frame(self, ext: str) -> Path:
        """Frame 0 of the stamped face clip as a still image (png is RGBA, to include an alpha channel)."""
        extra = ("-pix_fmt", "rgba") if ext == "png" else ()
        return self._make(f"face_still.{ext}", "-i", self.face(), "-frames:v", "1", *extra)

    def speech(self, seconds: float = 1.0) -> Path:
        """Real speech, 16 kHz mono wav."""
        return self._make(f"speech_{seconds}s.wav", "-i", self._shared("retalking_audio1.wav"), "-t", str(seconds),
                          "-ar", "16000", "-ac", "1")

    # ------------------------------------------------------------------ synthetic (always available)

    def testsrc(self, seconds: float = 1.0, size: str = "160x120", rate: int = 25) -> Path:
        """Colour bars, no face, no audio."""
        return self._make(f"testsrc_{seconds}_{size}_{rate}.mp4", "-f", "lavfi",
                          "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}",
                          "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")

    def tone(self, ext: str = "wav", seconds: float = 1.0, rate: int = 16000, channels: int = 1,
             extra: tuple[str, ...] = ()) -> Path:
        """A 440 Hz tone (codec picked from the extension)."""
        layout = "mono" if channels == 1 else "stereo"
        return self._make(f"tone_{seconds}s_{rate}_{channels}.{ext}", "-f", "lavfi",
                          "-i", f"sine=frequency=440:sample_rate={rate}:duration={seconds}",
                          "-af", f"aformat=channel_layouts={layout}", *extra)

    def silence(self, seconds: float, ext: str = "flac") -> Path:
        return self._make(f"silence_{seconds}s.{ext}", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
                          "-t", str(seconds))

    def text_as_mp4(self) -> Path:
        out = self.root / "notes.mp4"
        out.write_text("These are my meeting notes, not a video.\n" * 50)
        return out

    def truncated(self, faststart: bool) -> Path:
        """The first half of a clip's bytes. Plain mp4 keeps its index at the end, so the cut loses it; with
        faststart the index survives and only the later frames are missing (the stamped face clip is used)."""
        name = f"truncated_{'faststart' if faststart else 'plain'}.mp4"
        out = self.root / name
        if not out.exists():
            if faststart:
                full = self._make("face_faststart.mp4", "-i", self.face(), "-c", "copy", "-movflags", "+faststart")
            else:
                full = self.testsrc(2.0)
            data = full.read_bytes()
            out.write_bytes(data[: len(data) // 2])
        return out


def run_cli(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``python -m musetalk ARGS`` in a fresh process (exit codes and signals need a real process)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "musetalk", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)
