"""Clips that cannot be trained on fail with a clear message before any model loads; the cache is reused."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from core_helpers import ffmpeg

from musetalk.cli import main
from musetalk.errors import InputError
from musetalk.train.cache import CACHE_VERSION
from musetalk.train.clip_features import check_clip


@pytest.fixture(scope="module")
def silent_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "silent.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=128x128:rate=25:duration=1", "-pix_fmt", "yuv420p", str(path))
    return path


@pytest.fixture(scope="module")
def faceless_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "faceless.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:size=128x128:rate=25:duration=1", "-f", "lavfi",
           "-i", "sine=frequency=300:duration=1", "-shortest", "-pix_fmt", "yuv420p", str(path))
    return path


def test_clip_without_sound_needs_audio(silent_clip):
    with pytest.raises(InputError, match="no audio track"):
        check_clip(silent_clip, None)


def test_cli_refuses_silent_clip_before_loading_models(silent_clip, tmp_path, capsys):
    # No weights exist at all: the clip check must fail first.
    code = main(["train", "--clip", str(silent_clip), "--out", str(tmp_path / "run"), "--weights",
                 str(tmp_path / "no-weights"), "--steps", "1"])
    assert code == 2
    assert "no audio track" in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoint").exists()


def test_faceless_clip_fails_before_training(faceless_clip, tiny_weights, tmp_path, capsys):
    code = main(["train", "--clip", str(faceless_clip), "--out", str(tmp_path / "run"), "--weights",
                 str(tiny_weights), "--steps", "1", "--device", "cpu"])
    assert code == 2
    assert "No face" in capsys.readouterr().err
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_prepare_uses_its_cache(tiny_models, clip_path, tmp_path, monkeypatch):
    from musetalk.train import prepare
    from musetalk.train.cache import open_clip
    from musetalk.train.clip_list import ClipSource

    src = ClipSource(clip_path, None, "face2")
    first = prepare.prepare_source(tiny_models, src, tmp_path, prepare.PrepareConfig())
    assert not first.cached and first.skipped is None and [c["name"] for c in first.clips] == ["face2"]
    clip = open_clip(tmp_path, "face2")
    n = len(clip)
    assert n > 100 and clip.crops.shape == (n, 256, 256, 3) and first.clips[0]["rows"] == n
    assert clip.latents.shape == clip.masked.shape == (n, 4, 32, 32) and clip.windows.shape == (n, 50, 384)
    meta = json.loads((tmp_path / "clips" / "face2" / "clip.json").read_text())
    assert meta["version"] == CACHE_VERSION and meta["rows"] == n
    monkeypatch.setattr(prepare, "FaceTracker", None)  # a rebuild would crash
    monkeypatch.setattr(prepare, "lazy_audio_features", None)
    again = prepare.prepare_source(tiny_models, src, tmp_path, prepare.PrepareConfig())
    assert again.cached and again.clips == first.clips
    assert np.array_equal(open_clip(tmp_path, "face2").crops, clip.crops)
