"""One ``generate`` starts ffmpeg at most 6 times: one probe per input, one quick face scan before the models
load, one decode per input and one encode; with ``--silence close`` (the default) and silence in the audio, one
more decode chooses the closed-mouth frame. Counted through ``IMAGEIO_FFMPEG_EXE`` pointing at a logging wrapper
(the count was 24 before the checks handed on what they learned)."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from core_helpers import ASSETS, cut, face_clip_from_photo

REPO = Path(__file__).resolve().parents[2]
MAX_CALLS = 6


def _wrapper(tmp_path: Path) -> Path:
    import imageio_ffmpeg

    script = tmp_path / "ffmpeg-logged"
    script.write_text("#!/bin/sh\n"
                      'printf "%s\\n" "$*" >> "$FFMPEG_CALL_LOG"\n'
                      f'exec "{imageio_ffmpeg.get_ffmpeg_exe()}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.parametrize("silence", ["keep", "close"])
@pytest.mark.parametrize("case", ["longer-video", "looping-video", "still-image"])
def test_generate_starts_ffmpeg_at_most_six_times(case: str, silence: str, tiny_weights: Path,
                                                  tmp_path: Path) -> None:
    speech = cut(ASSETS / "speech.wav", tmp_path / "speech.wav", 1.0)
    video = {"longer-video": lambda: face_clip_from_photo(tmp_path / "face.mp4", 1.6, 256),
             "looping-video": lambda: face_clip_from_photo(tmp_path / "face.mp4", 0.4, 256),
             "still-image": lambda: ASSETS / "face.jpg"}[case]()
    log = tmp_path / "calls.txt"
    env = {**os.environ, "IMAGEIO_FFMPEG_EXE": str(_wrapper(tmp_path)), "FFMPEG_CALL_LOG": str(log)}
    out = tmp_path / "out.mp4"
    proc = subprocess.run([sys.executable, "-m", "musetalk", "generate", "--weights", str(tiny_weights),
                           "--device", "cpu", "--dtype", "fp32", "--video", str(video), "--audio", str(speech),
                           "--out", str(out), "--silence", silence], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    calls = log.read_text().splitlines()
    assert len(calls) <= MAX_CALLS + (silence == "close"), "\n".join(calls)
    assert sum("framecrc" in c for c in calls) == 2  # one probe of each input
