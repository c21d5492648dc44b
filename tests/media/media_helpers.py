"""Helpers shared by the media tests: run the bundled ffmpeg, inspect outputs, measure a tone."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def ffmpeg(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the bundled ffmpeg with ``args``; fail the test with its stderr if it fails."""
    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-v", "error", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result


def ffmpeg_info(path: Path) -> str:
    """The stderr of ``ffmpeg -i path`` (stream descriptions)."""
    return subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          capture_output=True, text=True, timeout=60).stderr


def count_frames(path: Path) -> int:
    """Decode every video frame of ``path`` (no resampling) and return how many there are."""
    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path),
                             "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "null", "-"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return int(re.findall(r"frame=\s*(\d+)", result.stderr)[-1])


def dominant_frequency(signal: np.ndarray, sample_rate: int) -> float:
    """Frequency in Hz of the strongest FFT bin of ``signal`` (n,) float."""
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size)))
    return float(np.argmax(spectrum) * sample_rate / signal.size)


class MediaFactory:
    """Makes each test file on first request and reuses it for the rest of the session."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _make(self, name: str, *args: str) -> Path:
        out = self.root / name
        if not out.exists():
            ffmpeg(*args, str(out))
        return out

    def video(self, rate: int = 30, seconds: float = 2.0, size: str = "320x240") -> Path:
        """H.264 testsrc clip at ``rate`` fps, no audio."""
        return self._make(f"testsrc_{rate}fps_{seconds}s_{size}.mp4", "-f", "lavfi",
                          "-i", f"testsrc=size={size}:rate={rate}", "-t", str(seconds),
                          "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")

    def vfr_video(self) -> Path:
        """2 s variable-frame-rate clip: 30 fps for the first second, then 15 fps (every other frame dropped)."""
        return self._make("vfr.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30", "-t", "2",
                          "-vf", "select='lt(t,1)+not(mod(n,2))'", "-fps_mode", "vfr",
                          "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")

    def rotated_video(self) -> Path:
        """320x240 clip stored with a 90 degree display matrix: decodes as 240x320."""
        return self._make("rotated.mp4", "-display_rotation", "90", "-i", str(self.video()), "-c", "copy")

    def video_with_audio(self) -> Path:
        """2 s 320x240 25 fps clip with a 440 Hz AAC track."""
        return self._make("av.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi",
                          "-i", "sine=frequency=440:sample_rate=44100", "-t", "2",
                          "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac")

    def image(self, ext: str = "png") -> Path:
        return self._make(f"still.{ext}", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1")

    def sine(self, ext: str = "wav", rate: int = 44100, channels: int = 1, freq: int = 440,
             seconds: float = 1.5) -> Path:
        """A sine tone in any container ffmpeg can write (codec chosen from the extension)."""
        # Stereo duplicates the tone exactly into both channels (plain aformat would scale an upmix by 0.707).
        layout = "aformat=channel_layouts=mono" if channels == 1 else "pan=stereo|c0=c0|c1=c0"
        return self._make(f"sine_{freq}hz_{rate}_{channels}ch_{seconds}s.{ext}", "-f", "lavfi",
                          "-i", f"sine=frequency={freq}:sample_rate={rate}:duration={seconds}",
                          "-af", layout)

    def empty_wav(self) -> Path:
        return self._make("empty.wav", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0")
