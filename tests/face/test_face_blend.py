"""paste_back and draw_preview."""
from __future__ import annotations

import numpy as np
import pytest
from face_helpers import synthetic_face

from musetalk.face import blend_mask, draw_preview, face_box, paste_back


def _frame(h: int = 360, w: int = 480) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_paste_back_leaves_outside_of_box_identical() -> None:
    frame = _frame()
    lm = synthetic_face(200, 150, 60)
    box = face_box(lm, frame.shape)
    x1, y1, x2, y2 = box
    face = np.full((256, 256, 3), 255, np.uint8)
    before = frame.copy()
    out = paste_back(frame, face, box, blend_mask(lm, box, "jaw"))
    assert np.array_equal(frame, before)  # input untouched
    outside = np.ones(frame.shape[:2], bool)
    outside[y1:y2, x1:x2] = False
    assert np.array_equal(out[outside], frame[outside])
    assert not np.array_equal(out[y1:y2, x1:x2], frame[y1:y2, x1:x2])


def test_paste_back_alpha_extremes() -> None:
    frame = _frame()
    box = (100, 80, 228, 208)  # 128 x 128
    face = np.zeros((256, 256, 3), np.uint8)
    face[:, :, 1] = 200
    zero = np.zeros((128, 128), np.float32)
    assert np.array_equal(paste_back(frame, face, box, zero), frame)
    one = np.ones((128, 128), np.float32)
    out = paste_back(frame, face, box, one)
    assert np.all(out[80:208, 100:228] == (0, 200, 0))
    half = np.full((128, 128), 0.5, np.float32)
    mid = paste_back(frame, face, box, half)[80:208, 100:228].astype(int)
    expect = (frame[80:208, 100:228].astype(int) + face[0, 0].astype(int)) / 2
    assert np.abs(mid - expect).max() <= 1


def test_paste_back_rejects_mismatched_mask() -> None:
    frame = _frame()
    with pytest.raises(ValueError, match="mask shape"):
        paste_back(frame, np.zeros((256, 256, 3), np.uint8), (0, 0, 100, 100), np.zeros((50, 50), np.float32))


def test_draw_preview_marks_box_and_mask() -> None:
    frame = np.full((360, 480, 3), 128, np.uint8)
    lm = synthetic_face(200, 150, 60)
    box = face_box(lm, frame.shape)
    mask = blend_mask(lm, box, "raw")
    out = draw_preview(frame, box, mask)
    assert out.shape == frame.shape and out.dtype == np.uint8
    x1, y1, x2, y2 = box
    assert tuple(out[y1, (x1 + x2) // 2]) == (0, 255, 0)  # box outline
    my, mx = np.unravel_index(np.argmax(mask), mask.shape)
    assert out[y1 + my, x1 + mx, 1] < 100 and out[y1 + my, x1 + mx, 2] > 150  # magenta tint
    assert np.array_equal(out[:y1 - 2], frame[:y1 - 2])
