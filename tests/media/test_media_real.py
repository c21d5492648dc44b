"""The media layer on the real clips in ../shared/data (skipped when that folder is absent)."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from media_helpers import count_frames, ffmpeg_info

from musetalk.errors import InputError
from musetalk.media import audio_duration, iter_frames, load_audio, probe, write_video


def _require(data_dir: Path, name: str) -> Path:
    path = data_dir / name
    if not path.is_file():
        pytest.skip(f"{name} not found in {data_dir}")
    return path


def test_portrait_clip_without_audio(data_dir: Path) -> None:
    path = _require(data_dir, "musetalk_yongen.mp4")
    info = probe(path)
    assert (info.width, info.height) == (704, 1216)
    assert info.fps == pytest.approx(25.0)
    assert info.has_video and not info.has_audio and not info.is_image
    frames = sum(1 for _ in iter_frames(path))
    assert abs(frames - info.n_frames) <= 1  # the estimate is close for a clean 25 fps file
    first = next(iter_frames(path))
    assert first.shape == (1216, 704, 3) and first.dtype == np.uint8
    with pytest.raises(InputError, match="no audio track"):
        load_audio(path)


def test_talking_clip_roundtrip(data_dir: Path, tmp_path: Path) -> None:
    path = _require(data_dir, "retalking_face2.mp4")
    info = probe(path)
    assert (info.width, info.height, info.has_audio) == (844, 844, True)
    audio = load_audio(path)
    seconds = audio.size / 16000
    assert seconds == pytest.approx(5.0, abs=0.1)
    assert seconds == pytest.approx(audio_duration(path), abs=1e-3)
    assert 0.01 < np.abs(audio).max() <= 1.0  # speech, not silence

    n = round(seconds * 25)
    out = write_video(tmp_path / "dub.mp4", itertools.islice(iter_frames(path), n), audio_path=path)
    text = ffmpeg_info(out)
    assert re.search(r"Video: h264 .*844x844.*25 fps", text), text
    assert "Audio: aac" in text
    assert count_frames(out) == n
    assert probe(out).duration == pytest.approx(seconds, abs=0.1)


def test_stereo_48k_wav(data_dir: Path) -> None:
    path = _require(data_dir, "musetalk_yongen.wav")
    audio = load_audio(path)
    assert audio.size / 16000 == pytest.approx(8.0, abs=0.01)
