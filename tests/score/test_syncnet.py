"""SyncNet v2 (LSE-C / LSE-D): architecture vs the official state dict, loading errors, the score maths by hand,
the crop rule, and end-to-end scoring of a synthetic face clip with random weights."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from core_helpers import face_clip_from_photo, ffmpeg

from musetalk.errors import MuseTalkError, NoFaceError, WeightsError
from musetalk.score.syncnet import (SyncNetResult, _medfilt, crop_syncnet_face, lse_from_distances, sync_distances,
                                    syncnet_boxes, syncnet_score)
from musetalk.score.syncnet_model import (SyncNetWeightsError, find_syncnet_weights, load_syncnet,
                                          save_random_syncnet)

OFFICIAL_URL = "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model"


def _official_keys() -> list[str]:
    """The published layout: conv slots 0,4,8,11,14,18 and BatchNorm slots 1,5,9,12,15,19 in both towers (ReLU and
    pooling fill the other slots); the heads are Linear(0), BatchNorm1d(1), ReLU(2), Linear(3). No step counters."""
    keys = []
    for tower in ("netcnnaud", "netcnnlip"):
        for conv, bn in zip((0, 4, 8, 11, 14, 18), (1, 5, 9, 12, 15, 19)):
            keys += [f"{tower}.{conv}.weight", f"{tower}.{conv}.bias"]
            keys += [f"{tower}.{bn}.{n}" for n in ("weight", "bias", "running_mean", "running_var")]
    for head in ("netfcaud", "netfclip"):
        keys += [f"{head}.0.weight", f"{head}.0.bias"]
        keys += [f"{head}.1.{n}" for n in ("weight", "bias", "running_mean", "running_var")]
        keys += [f"{head}.3.weight", f"{head}.3.bias"]
    return keys


@pytest.fixture(scope="module")
def random_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_syncnet(tmp_path_factory.mktemp("syncnet") / "syncnet" / "syncnet_v2.model", seed=0)


@pytest.fixture(scope="module")
def model(random_file: Path):
    return load_syncnet(random_file)


# ------------------------------------------------------------------------------------------ weights and loading


def test_random_file_has_the_official_keys_and_shapes(random_file: Path) -> None:
    state = torch.load(random_file, weights_only=True)
    assert sorted(state) == sorted(_official_keys())
    assert len(state) == 88
    assert tuple(state["netcnnlip.0.weight"].shape) == (96, 3, 5, 7, 7)
    assert tuple(state["netcnnaud.0.weight"].shape) == (64, 1, 3, 3)
    assert tuple(state["netcnnaud.18.weight"].shape) == (512, 256, 5, 4)
    assert tuple(state["netcnnlip.18.weight"].shape) == (512, 256, 1, 6, 6)
    assert tuple(state["netfclip.0.weight"].shape) == (512, 512)
    assert tuple(state["netfcaud.3.weight"].shape) == (1024, 512)
    assert sum(v.numel() for k, v in state.items() if "running" not in k) == 13_631_616  # about 52 MiB of fp32


def test_round_trip_restores_every_tensor_and_eval_mode(random_file: Path, model) -> None:
    state = torch.load(random_file, weights_only=True)
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    assert not model.training
    # the same seed writes the same weights; another seed does not
    again = torch.load(save_random_syncnet(random_file.parent / "again.model", seed=0), weights_only=True)
    other = torch.load(save_random_syncnet(random_file.parent / "other.model", seed=1), weights_only=True)
    assert torch.equal(again["netcnnlip.0.weight"], state["netcnnlip.0.weight"])
    assert not torch.equal(other["netcnnlip.0.weight"], state["netcnnlip.0.weight"])


def test_a_modern_state_dict_with_counters_loads_too(tmp_path: Path, model) -> None:
    path = tmp_path / "modern.pt"
    torch.save(model.state_dict(), path)  # includes num_batches_tracked
    assert torch.equal(load_syncnet(path).state_dict()["netfcaud.3.bias"], model.state_dict()["netfcaud.3.bias"])


def test_missing_key_wrong_shape_and_garbage_fail_with_one_error(tmp_path: Path, random_file: Path) -> None:
    state = torch.load(random_file, weights_only=True)
    cases = {
        "missing": {k: v for k, v in state.items() if k != "netcnnlip.0.weight"},
        "wrong": {**state, "netfclip.3.weight": torch.zeros(512, 512)},
        "extra": {**state, "__S__.extra": torch.zeros(1)},
        "list": [state["netcnnaud.0.weight"]],
    }
    expected = {"missing": "missing netcnnlip.0.weight", "wrong": "wrong shape netfclip.3.weight",
                "extra": "unexpected __S__.extra", "list": "not a SyncNet state dict"}
    for name, content in cases.items():
        torch.save(content, tmp_path / f"{name}.model")
        with pytest.raises(SyncNetWeightsError, match=expected[name]):
            load_syncnet(tmp_path / f"{name}.model")
    (tmp_path / "text.model").write_text("not weights")
    with pytest.raises(SyncNetWeightsError, match="not a readable PyTorch weights file"):
        load_syncnet(tmp_path / "text.model")


def test_find_weights_explicit_then_folder_then_a_message_with_url_and_licence(tmp_path: Path,
                                                                               random_file: Path) -> None:
    weights_dir = random_file.parents[1]
    assert find_syncnet_weights(None, weights_dir) == random_file
    assert find_syncnet_weights(str(random_file), tmp_path) == random_file
    for explicit, folder in ((None, tmp_path), (tmp_path / "nope.model", weights_dir), (None, None)):
        with pytest.raises(SyncNetWeightsError) as info:
            find_syncnet_weights(explicit, folder)
        # a MuseTalkError: the CLI prints it as one message and exits with code 2
        assert isinstance(info.value, WeightsError) and isinstance(info.value, MuseTalkError)
        text = str(info.value)
        assert OFFICIAL_URL in text and "MIT licence" in text and "syncnet/syncnet_v2.model" in text
    with pytest.raises(SyncNetWeightsError, match=str(tmp_path / "syncnet" / "syncnet_v2.model")):
        find_syncnet_weights(None, tmp_path)


def test_forward_shapes(model) -> None:
    with torch.inference_mode():
        lip = model.forward_lip(torch.rand(2, 3, 5, 224, 224) * 255)
        aud = model.forward_aud(torch.randn(3, 1, 13, 20))
    assert lip.shape == (2, 1024) and aud.shape == (3, 1024)
    assert torch.isfinite(lip).all() and torch.isfinite(aud).all()


# ------------------------------------------------------------------------------------------ the maths, by hand


def test_distances_and_scores_by_hand() -> None:
    # video v0=(0,0) v1=(3,0) v2=(3,4); audio a_j = v_(j+1): a0=(3,0) a1=(3,4) a2=(0,0); vshift 1, zeros past ends.
    # d[i, k] = |v_i - a_(i+k-1)|:
    #   i=0: a_-1=0 -> 0,  a0 -> 3,  a1 -> 5
    #   i=1: a0 -> 0,      a1 -> 4,  a2 -> 3
    #   i=2: a1 -> 0,      a2 -> 5,  a3=0 -> 5
    # mean over i: [0, 12/3 = 4, 13/3]; LSE-D = min = 0; LSE-C = median 4 - 0 = 4;
    # offset = vshift - argmin = 1 - 0 = +1 frame (each frame shows the sound of the frame before: lips lag) = 40 ms.
    video = np.array([[0, 0], [3, 0], [3, 4]], np.float32)
    audio = np.array([[3, 0], [3, 4], [0, 0]], np.float32)
    dists = sync_distances(video, audio, vshift=1)
    expected = np.array([[0, 3, 5], [0, 4, 3], [0, 5, 5]], np.float32)
    np.testing.assert_allclose(dists, expected, atol=1e-5)  # torch's pairwise_distance adds eps 1e-6
    result = lse_from_distances(dists, vshift=1)
    assert result.offset_frames == 1 and result.frames == 3
    assert result.lse_d == pytest.approx(0.0, abs=1e-5)
    assert result.lse_c == pytest.approx(4.0, abs=1e-5)
    assert result.offset_ms == pytest.approx(40.0)
    # Longer audio: a real a3=(1,1) replaces the zero padding at i=2, k=2: |(3,4)-(1,1)| = sqrt(13).
    longer = sync_distances(video, np.vstack([audio, [[1, 1]]]), vshift=1)
    assert longer[2, 2] == pytest.approx(math.sqrt(13), abs=1e-5)
    np.testing.assert_allclose(longer[:, :2], expected[:, :2], atol=1e-5)


def test_scores_with_a_negative_offset() -> None:
    # 2 windows, vshift 2 (shifts -2..+2): [[5, 3, 2, 0, 6], [3, 3, 2, 2, 4]] -> mean [4, 3, 2, 1, 5]: min 1 at index 3 -> LSE-D 1,
    # median 3 -> LSE-C 2, offset 2 - 3 = -1 frame = -40 ms (the sound comes late).
    dists = np.array([[5, 3, 2, 0, 6], [3, 3, 2, 2, 4]], np.float32)
    assert lse_from_distances(dists, vshift=2) == SyncNetResult(lse_c=2.0, lse_d=1.0, offset_frames=-1,
                                                                offset_ms=-40.0, frames=2)
    with pytest.raises(ValueError):
        lse_from_distances(dists, vshift=1)


# ------------------------------------------------------------------------------------------ the crop rule


def test_median_filter_matches_scipy() -> None:
    signal = pytest.importorskip("scipy.signal")
    x = np.random.default_rng(0).normal(100, 10, 40)
    np.testing.assert_allclose(_medfilt(x, 13), signal.medfilt(x, 13))


def test_boxes_interpolate_missing_frames_then_smooth() -> None:
    # A face moving right 1 px per frame: box (t, 0, t + 20, 30) -> centre (t + 10, 15), half max(20, 30)/2 = 15.
    t = np.arange(30, dtype=np.float64)
    bounds = np.stack([t, 0 * t, t + 20, 0 * t + 30], axis=1)
    bounds[10:13] = np.nan  # three missed frames, interpolated linearly: the line goes on
    smoothed = syncnet_boxes(bounds)
    # Away from the ends (6 frames: half the 13-tap window) the median of a line is the line itself;
    # holding the last box instead would give 9 + 10 at frame 11.
    np.testing.assert_allclose(smoothed[6:24], np.stack([t[6:24] + 10, 0 * t[6:24] + 15, 0 * t[6:24] + 15], 1))
    # At the ends scipy's zero padding pulls the median down: frame 0 sees 6 zeros and frames 0..6 -> min = 10.
    assert smoothed[0, 0] == 10 and smoothed[0, 2] == 15


def test_crop_rule_inside_and_at_the_edge() -> None:
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    # centre (200, 150), half 50: rows [150-50, 150+50*1.8) = [100, 240), cols [200-70, 200+70) = [130, 270)
    crop = crop_syncnet_face(frame, 200.0, 150.0, 50.0)
    import cv2

    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    np.testing.assert_array_equal(crop, cv2.resize(frame[100:240, 130:270], (224, 224)))
    # at the top-left corner the outside is syncnet_python's grey 110
    corner = crop_syncnet_face(frame, 10.0, 10.0, 50.0)
    assert np.all(corner[:40, :40] == 110)


# ------------------------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a 1.2 s 224 px face clip with a 2 s tone as its own sound, the 1.2 s tone as a 16 kHz wav)."""
    root = tmp_path_factory.mktemp("syncnet-clip")
    silent = face_clip_from_photo(root / "face.mp4", 1.2, 224)
    wav = root / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:sample_rate=16000:duration=1.2", str(wav))
    voiced = root / "voiced.mp4"
    ffmpeg("-i", str(silent), "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=16000:duration=2",
           "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", str(voiced))
    return voiced, wav


def test_score_of_a_synthetic_face_clip_with_random_weights(face_clip, random_file: Path, model) -> None:
    voiced, wav = face_clip
    own = syncnet_score(voiced, None, random_file, vshift=15)
    # 30 frames of face, more sound than that: min_length 30, 30 - 5 = 25 windows
    assert own.frames == 25
    assert math.isfinite(own.lse_c) and math.isfinite(own.lse_d)
    assert own.lse_d > 0 and own.lse_c >= 0
    assert -15 <= own.offset_frames <= 15 and own.offset_ms == own.offset_frames * 40.0
    other = syncnet_score(voiced, wav, model, vshift=10)  # an external sound track, a loaded model
    assert other.frames == 25 and -10 <= other.offset_frames <= 10
    assert other.lse_d != pytest.approx(own.lse_d)


def test_a_clip_without_a_face_raises_no_face(tmp_path: Path, model) -> None:
    clip = tmp_path / "grey.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=96x96:r=25:d=0.4", "-f", "lavfi",
           "-i", "sine=frequency=220:sample_rate=16000:duration=0.4", "-pix_fmt", "yuv420p", "-shortest", str(clip))
    with pytest.raises(NoFaceError):
        syncnet_score(clip, None, model)


@pytest.mark.slow
def test_real_clip_scores_are_in_the_usual_range_shape(shared_data: Path, model) -> None:
    """The real clip with random weights: the protocol runs end to end on a real face (numbers mean nothing)."""
    clip = shared_data / "retalking_face3.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} not found")
    result = syncnet_score(clip, None, model, vshift=15)
    assert result.frames > 20 and math.isfinite(result.lse_c) and -15 <= result.offset_frames <= 15
