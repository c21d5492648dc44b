"""Blend masks from landmarks: shape, range, zero border, modes, cheek widths."""
from __future__ import annotations

import numpy as np
import pytest
from face_helpers import synthetic_face

from musetalk.errors import InputError
from musetalk.face import blend_mask, face_box

LM = synthetic_face(200, 200, 80)
BOX = face_box(LM, (480, 480))


@pytest.mark.parametrize("mode", ["jaw", "raw", "neck"])
def test_mask_shape_range_and_zero_border(mode: str) -> None:
    x1, y1, x2, y2 = BOX
    m = blend_mask(LM, BOX, mode)
    assert m.shape == (y2 - y1, x2 - x1) and m.dtype == np.float32
    assert m.min() >= 0.0 and m.max() <= 1.0
    assert m.max() == pytest.approx(1.0)  # the lower face is fully replaced somewhere
    for edge in (m[0], m[-1], m[:, 0], m[:, -1]):
        assert np.all(edge == 0.0)


@pytest.mark.parametrize("mode", ["jaw", "raw", "neck"])
def test_mask_covers_the_mouth_not_the_eyes(mode: str) -> None:
    m = blend_mask(LM, BOX, mode)
    x1, y1 = BOX[:2]
    mouth = LM.points[0] - (x1, y1)  # mesh 0: upper-lip point
    assert m[int(mouth[1]) + 4, int(mouth[0])] > 0.95
    assert np.all(m[: m.shape[0] // 2 - 1] < 0.5)  # upper half (eyes, forehead) stays original
    tip = LM.points[1] - (x1, y1)  # nose tip stays original
    assert m[int(tip[1]), int(tip[0])] < 0.5


def test_modes_differ_and_neck_contains_raw() -> None:
    jaw, raw, neck = (blend_mask(LM, BOX, mode) for mode in ("jaw", "raw", "neck"))
    assert neck.sum() > raw.sum() * 1.05
    assert np.all(neck >= raw - 1e-5)
    assert np.abs(jaw - raw).mean() > 0.01


def test_cheek_widths_change_the_jaw_mask() -> None:
    narrow = blend_mask(LM, BOX, "jaw", left_cheek_width=20, right_cheek_width=20)
    wide = blend_mask(LM, BOX, "jaw", left_cheek_width=200, right_cheek_width=200)
    assert wide.sum() > narrow.sum() * 1.05
    # only the image-left half changes when only the left width changes
    left = blend_mask(LM, BOX, "jaw", left_cheek_width=200, right_cheek_width=20)
    half = narrow.shape[1] // 2
    assert np.allclose(left[:, half + 40:], narrow[:, half + 40:])
    assert left[:, :half].sum() > narrow[:, :half].sum()


def test_invalid_mode_is_an_input_error() -> None:
    with pytest.raises(InputError, match="parsing mode"):
        blend_mask(LM, BOX, "cheeks")


def test_mask_on_tiny_box() -> None:
    lm = synthetic_face(20, 20, 8)
    box = face_box(lm, (60, 60))
    m = blend_mask(lm, box, "jaw")
    assert m.shape == (box[3] - box[1], box[2] - box[0])
    assert np.isfinite(m).all() and m[0].max() == 0.0
