"""Whisper windowing: indices checked against values computed by hand from the v1.5 rule."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from musetalk.errors import InputError
from musetalk.models.audio import (
    add_positional_encoding,
    audio_features,
    frame_count,
    frame_windows,
    FrameWindows,
    positional_encoding,
    window_starts,
)


def _marked_hidden(steps: int) -> torch.Tensor:
    """(steps, 5, 384) where every value of step t equals t + 1 (0 is reserved for padding)."""
    return (torch.arange(steps, dtype=torch.float32) + 1)[:, None, None].expand(steps, 5, 384).clone()


def test_window_indices_by_hand() -> None:
    # 3 s of audio: 150 Whisper steps, 75 frames at 25 fps. Padded sequence = 4 zeros + 150 steps + 12 zeros.
    hidden = _marked_hidden(150)
    win = frame_windows(hidden, 75)
    assert win.shape == (75, 50, 384)
    steps_of = lambda w: w.reshape(10, 5, 384)[:, 0, 0].tolist()  # noqa: E731
    # Frame 0 starts at padded index 0: 4 pad zeros, then steps 1..6.
    assert steps_of(win[0]) == [0, 0, 0, 0, 1, 2, 3, 4, 5, 6]
    # Frame 1 starts at padded index floor(1 * 50 / 25) = 2.
    assert steps_of(win[1]) == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    # Last frame 74 starts at 148: real steps 145..150, then 4 zeros of the right pad.
    assert steps_of(win[74]) == [145, 146, 147, 148, 149, 150, 0, 0, 0, 0]
    assert window_starts(3).tolist() == [0, 2, 4]


def test_window_layout_is_steps_then_layers() -> None:
    hidden = torch.zeros(10, 5, 384)
    hidden[:, :, 0] = torch.arange(5, dtype=torch.float32)[None, :]  # value = layer index
    win = frame_windows(hidden, 1)
    # Rows are (step, layer) pairs in step-major order. Frame 0's first 4 steps are left padding (rows 0-19);
    # from row 20 on the layer index cycles 0..4.
    assert win[0, :20, 0].abs().sum() == 0
    assert win[0, 20:30, 0].tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]


def test_audio_shorter_than_0_2_s() -> None:
    # 0.1 s: 2 frames, 5 Whisper steps; frame 1's window runs past the real steps into the right pad.
    assert frame_count(1600) == 2
    win = frame_windows(_marked_hidden(5), 2)
    steps_of = lambda w: w.reshape(10, 5, 384)[:, 0, 0].tolist()  # noqa: E731
    assert steps_of(win[0]) == [0, 0, 0, 0, 1, 2, 3, 4, 5, 0]
    assert steps_of(win[1]) == [0, 0, 1, 2, 3, 4, 5, 0, 0, 0]


def test_frame_count_rule() -> None:
    assert frame_count(16000 * 60) == 1500
    assert frame_count(16000 * 8) == 200
    assert frame_count(int(16000 * 0.039)) == 0
    assert frame_count(16000 * 5 - 1) == 124  # floor, as MuseTalk


def test_positional_encoding_matches_formula() -> None:
    pe = positional_encoding(50, 384)
    assert pe.shape == (50, 384)
    pos, i = 7, 10
    div = np.exp(i * -(np.log(10000.0) / 384))
    assert pe[pos, i].item() == pytest.approx(np.sin(pos * div), abs=1e-6)
    assert pe[pos, i + 1].item() == pytest.approx(np.cos(pos * div), abs=1e-6)
    x = torch.zeros(2, 50, 384)
    assert torch.allclose(add_positional_encoding(x)[1], pe)


def test_features_from_tiny_whisper(tiny_models) -> None:
    rng = np.random.default_rng(0)
    for seconds in (0.1, 1.0, 31.0):  # 31 s spans two 30 s Whisper segments
        wav = (rng.standard_normal(int(16000 * seconds)) * 0.1).astype(np.float32)
        feats = audio_features(tiny_models.whisper, tiny_models.feature_extractor, wav)
        assert feats.shape == (frame_count(len(wav)), 50, 384)
        assert torch.isfinite(feats).all()
    with pytest.raises(InputError, match="too short"):
        audio_features(tiny_models.whisper, tiny_models.feature_extractor, np.zeros(100, np.float32))


def test_lazy_windows_index_like_the_materialized_ones() -> None:
    fw = FrameWindows(_marked_hidden(150), 75)
    full = fw.materialize()
    assert len(fw) == 75 and fw.shape == full.shape == (75, 50, 384)
    assert torch.equal(fw[8:16], full[8:16])
    assert torch.equal(fw[[0, 74, 3]], full[[0, 74, 3]])
    assert torch.equal(fw[torch.tensor([5, 5, 60])], full[torch.tensor([5, 5, 60])])
