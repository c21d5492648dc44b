"""Clips that cannot be trained on fail with a clear message before any model loads; the cache is reused."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from core_helpers import ffmpeg

from musetalk.cli import main
from musetalk.errors import InputError
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
    from musetalk.config import FaceConfig
    from musetalk.train import clip_features

    first = clip_features.load_clip_features(tiny_models, clip_path, tmp_path, FaceConfig())
    n = len(first.frame_index)
    assert n > 100 and first.crops.shape == (n, 256, 256, 3)
    assert first.latents.shape == first.masked.shape == (n, 4, 32, 32) and first.windows.shape == (n, 50, 384)
    assert json.loads((tmp_path / "faces.json").read_text())["version"] == clip_features.FEATURES_VERSION
    monkeypatch.setattr(clip_features, "FaceTracker", None)  # a rebuild would crash
    monkeypatch.setattr(clip_features, "audio_features", None)
    again = clip_features.load_clip_features(tiny_models, clip_path, tmp_path, FaceConfig())
    assert np.array_equal(again.crops, first.crops) and (again.latents == first.latents).all()
