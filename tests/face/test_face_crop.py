"""Box rule, bbox_shift range, smoothing and the 256 crop."""
from __future__ import annotations

import numpy as np
import pytest
from face_helpers import synthetic_face

from musetalk.face import BoxSmoother, bbox_shift_range, crop_face, face_box

# synthetic_face(100, 100, 40): x 60..140, chin y 152, nasion y 90, tip y 108
# -> 68-point 29 at 90 + 18 * 2/3 = 102, 28 at 96, 30 at 108.


def test_face_box_matches_hand_computed_rule() -> None:
    lm = synthetic_face(100, 100, 40)
    # d = 152 - 102 = 50 -> y1 = 52; y2 = 152 + 10
    assert face_box(lm, (300, 300, 3)) == (60, 52, 140, 162)
    assert face_box(lm, (300, 300), extra_margin=0) == (60, 52, 140, 152)


def test_bbox_shift_moves_the_upper_edge_twice_as_far() -> None:
    lm = synthetic_face(100, 100, 40)
    # c = 108 -> d = 44 -> y1 = 64 ; c = 96 -> d = 56 -> y1 = 40
    assert face_box(lm, (300, 300), bbox_shift=6) == (60, 64, 140, 162)
    assert face_box(lm, (300, 300), bbox_shift=-6) == (60, 40, 140, 162)


def test_face_box_is_clipped_to_the_frame() -> None:
    lm = synthetic_face(30, 40, 40)  # oval x -10..70, nasion 30, tip 48, c 42, chin 92 -> y1 -8
    x1, y1, x2, y2 = face_box(lm, (100, 60), extra_margin=20)
    assert (x1, y1, x2, y2) == (0, 0, 60, 100)


def test_face_box_is_never_empty() -> None:
    lm = synthetic_face(100, 100, 40)
    lm.points[:] = (50.0, 50.0)  # degenerate: every point the same
    x1, y1, x2, y2 = face_box(lm, (120, 120), extra_margin=0)
    assert x2 - x1 >= 4 and y2 - y1 >= 4
    lm.points[:] = (300.0, 300.0)  # outside the frame entirely
    x1, y1, x2, y2 = face_box(lm, (120, 160))
    assert 0 <= x1 < x2 <= 160 and 0 <= y1 < y2 <= 120 and x2 - x1 >= 4


def test_bbox_shift_range_is_one_bridge_step_each_way() -> None:
    assert bbox_shift_range(synthetic_face(100, 100, 40), (300, 300)) == (-6, 6)


def test_bbox_shift_range_keeps_upper_edge_in_frame() -> None:
    # c 42, chin 92: any upward shift would put y1 = 2 (c + s) - 92 < 0 even before shifting (y1 = -8)
    low, high = bbox_shift_range(synthetic_face(30, 40, 40), (100, 60))
    assert (low, high) == (0, 6)
    # c 58 (cy 56): y1 = 2*58 - 108 = 8 -> shifting up by at most 4 keeps y1 >= 0
    low, _ = bbox_shift_range(synthetic_face(100, 56, 40), (300, 300))
    assert low == -4


def test_smoother_constant_input_stays_constant() -> None:
    sm = BoxSmoother()
    box = (100, 120, 220, 260)
    assert all(sm.update(box) == box for _ in range(50))


def test_smoother_reduces_jitter() -> None:
    rng = np.random.default_rng(0)
    base = np.array([100.0, 120.0, 220.0, 260.0])
    noisy = [tuple(int(v) for v in np.round(base + rng.normal(0, 2.0, 4))) for _ in range(300)]
    sm = BoxSmoother()
    out = np.array([sm.update(b) for b in noisy], dtype=np.float64)[50:]
    raw = np.array(noisy, dtype=np.float64)[50:]
    assert out.std(axis=0).mean() < 0.6 * raw.std(axis=0).mean()
    assert np.abs(out.mean(axis=0) - base).max() < 1.0


def test_smoother_follows_motion_with_small_lag() -> None:
    sm = BoxSmoother()
    out = None
    for t in range(60):  # 2 px per frame to the right
        out = sm.update((100 + 2 * t, 120, 220 + 2 * t, 260))
    assert out is not None and abs(out[0] - (100 + 2 * 59)) <= 6


def test_smoother_snaps_on_big_jump() -> None:
    sm = BoxSmoother()
    for _ in range(20):
        sm.update((100, 120, 220, 260))
    assert sm.update((400, 300, 520, 440)) == (400, 300, 520, 440)


def test_smoother_none_passes_through_and_keeps_history() -> None:
    sm = BoxSmoother()
    for _ in range(20):
        sm.update((100, 120, 220, 260))
    assert sm.update(None) is None
    out = sm.update((104, 120, 224, 260))  # small move after a gap: smoothed, not snapped
    assert out is not None and 100 <= out[0] < 104


def test_smoother_disabled_is_identity() -> None:
    sm = BoxSmoother(enabled=False)
    boxes = [(100, 120, 220, 260), None, (103, 118, 223, 262), (400, 300, 520, 440)]
    assert [sm.update(b) for b in boxes] == boxes


def test_crop_face_shape_and_content() -> None:
    frame = np.zeros((200, 300, 3), np.uint8)
    frame[50:150, 100:200] = (10, 200, 30)
    crop = crop_face(frame, (100, 50, 200, 150))
    assert crop.shape == (256, 256, 3) and crop.dtype == np.uint8
    assert np.all(crop[5:-5, 5:-5] == (10, 200, 30))
    assert crop_face(frame, (100, 50, 200, 150), size=64).shape == (64, 64, 3)
    with pytest.raises(ValueError):
        crop_face(frame, (100, 50, 100, 150))
