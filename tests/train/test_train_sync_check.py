"""The trainer's offline sync score (``musetalk.train.sync_check``) on the real clip's crops and audio."""
from __future__ import annotations

import logging

import numpy as np
from train_helpers import CLIP

from musetalk.media import load_audio
from musetalk.score.speech import speech_track
from musetalk.train.clip_features import ClipFeatures
from musetalk.train.dataset import ClipSet
from musetalk.train.sync_check import MIN_FRAMES, SyncHook, crop_landmarks


def real_clip(crops: np.ndarray) -> ClipFeatures:
    """The real clip as the cache holds it, but with zero latents and windows (the hook reads neither)."""
    n = len(crops)
    speech = speech_track(load_audio(CLIP), n).to_array()
    zeros = np.zeros((n, 4, 32, 32), np.float32)
    return ClipFeatures("face2", np.arange(n, dtype=np.int64), n, crops, zeros, zeros,
                        np.zeros((n, 50, 384), np.float32), speech)


def held_out(clip: ClipFeatures, val_frames: int) -> tuple[ClipSet, np.ndarray]:
    data = ClipSet([clip], val_fraction=0.5, val_frames=val_frames)
    vc = data.val[0]
    return data, np.stack([clip.crops[s.targets[0]] for s in vc.samples])


def test_true_faces_score_higher_with_their_own_audio(clip_crops):
    clip = real_clip(clip_crops)
    data, truth = held_out(clip, val_frames=10_000)
    vc = data.val[0]
    assert len(vc.samples) >= MIN_FRAMES
    m = SyncHook(data)(vc, truth, truth)
    assert set(m) == {"sync_own", "sync_other", "sync_truth", "sync_offset_ms", "sync_confident"}
    assert m["sync_own"] == m["sync_truth"]  # the prediction is the truth here
    assert m["sync_own"] > m["sync_other"] + 0.1, m


def test_faces_that_do_not_follow_the_audio_score_lower(clip_crops):
    clip = real_clip(clip_crops)
    data, truth = held_out(clip, val_frames=10_000)
    shuffled = truth[np.random.default_rng(0).permutation(len(truth))]  # every face, in no order
    m = SyncHook(data)(data.val[0], shuffled, truth)
    assert m["sync_own"] < m["sync_truth"] - 0.1, m


def test_spread_validation_frames_are_not_scored(clip_crops, caplog):
    clip = real_clip(clip_crops)
    data, truth = held_out(clip, val_frames=8)  # 8 of the ~60 held-out frames, spread: no time series
    with caplog.at_level(logging.WARNING, logger="musetalk.train.sync_check"):
        assert SyncHook(data)(data.val[0], truth, truth) == {}
    assert "pass --val-frames" in caplog.text


def test_padded_crops_are_read_by_the_mesh(clip_crops):
    points = crop_landmarks(clip_crops[:20])
    assert np.isfinite(points).all()  # every crop of the real clip is found
    assert points.shape == (20, 468, 2) and points.min() > -20 and points.max() < 276  # in crop pixels

