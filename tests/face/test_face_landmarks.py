"""FaceAnalyzer on real frames, on a small face in a large frame, and on blank images."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from face_helpers import DATA_DIR

from musetalk.face import FaceAnalyzer, FaceLandmarks, face_box

REPO = Path(__file__).resolve().parents[2]


def _read_frames(name: str, n: int) -> list[np.ndarray]:
    path = DATA_DIR / name
    if not path.is_file():
        pytest.skip(f"real test media not found at {path} (../shared/data beside the project)")
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert frames, f"could not decode {path}"
    return frames


@pytest.fixture(scope="module")
def sun_frames() -> list[np.ndarray]:
    return _read_frames("musetalk_sun.mp4", 10)


def _check_plausible(lm: FaceLandmarks, shape: tuple[int, ...]) -> None:
    assert lm.points.shape == (468, 2) and lm.points.dtype == np.float32
    x1, y1, x2, y2 = lm.det_box
    assert 0 <= x1 < x2 <= shape[1] and 0 <= y1 < y2 <= shape[0]
    nose = lm.points[1]
    assert x1 <= nose[0] <= x2 and y1 <= nose[1] <= y2  # nose tip inside the detection
    chin, forehead = lm.points[152], lm.points[10]
    assert chin[1] > nose[1] > forehead[1]  # upright face


def test_import_is_cheap() -> None:
    code = "import sys, musetalk.face; assert 'mediapipe' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


@pytest.mark.parametrize("static", [True, False])
def test_real_frame(sun_frames: list[np.ndarray], static: bool) -> None:
    frame = sun_frames[0]
    with FaceAnalyzer(static_image_mode=static) as fa:
        lm = fa.analyze(frame)
    assert lm is not None
    _check_plausible(lm, frame.shape)
    x1, y1, x2, y2 = face_box(lm, frame.shape)
    # The presenter's face is ~115 px wide in the 576x768 frame, around x 220..335.
    assert 90 < x2 - x1 < 150 and 200 < (x1 + x2) / 2 < 350


def test_video_mode_tracks_and_agrees_with_static(sun_frames: list[np.ndarray]) -> None:
    with FaceAnalyzer(static_image_mode=True) as still, FaceAnalyzer(static_image_mode=False) as video:
        for frame in sun_frames:
            a, b = still.analyze(frame), video.analyze(frame)
            assert a is not None and b is not None
            assert np.abs(a.points - b.points).mean() < 2.0


@pytest.mark.parametrize("static", [True, False])
def test_small_face_in_large_frame(sun_frames: list[np.ndarray], static: bool) -> None:
    frame = sun_frames[0]
    with FaceAnalyzer(static_image_mode=True) as fa:
        ref = fa.analyze(frame)
    assert ref is not None
    _, min_y, _, max_y = ref.bounds()
    scale = 60.0 / (max_y - min_y)  # face (forehead to chin) ~60 px tall
    small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((720, 1280, 3), 128, np.uint8)
    x0, y0 = 900, 150
    h, w = small.shape[:2]
    canvas[y0 : y0 + h, x0 : x0 + w] = small
    with FaceAnalyzer(static_image_mode=static) as fa:
        lms = [fa.analyze(canvas) for _ in range(3)]
    for lm in lms:
        assert lm is not None
        _check_plausible(lm, canvas.shape)
        px, py = lm.points[:, 0], lm.points[:, 1]
        assert px.min() >= x0 and px.max() < x0 + w and py.min() >= y0 and py.max() < y0 + h
        expected = ref.points * scale + np.array([x0, y0], np.float32)
        assert np.abs(lm.points - expected).mean() < 2.0


@pytest.mark.parametrize("static", [True, False])
def test_no_face_returns_none(static: bool) -> None:
    with FaceAnalyzer(static_image_mode=static) as fa:
        assert fa.analyze(np.full((720, 1280, 3), 128, np.uint8)) is None
        assert fa.analyze(np.zeros((64, 64, 3), np.uint8)) is None


def test_face_lost_and_found_again(sun_frames: list[np.ndarray]) -> None:
    blank = np.full_like(sun_frames[0], 90)
    with FaceAnalyzer(static_image_mode=False) as fa:
        assert fa.analyze(sun_frames[0]) is not None
        assert fa.analyze(blank) is None
        lm = fa.analyze(sun_frames[1])
    assert lm is not None
    _check_plausible(lm, sun_frames[1].shape)


def test_rejects_non_bgr_input() -> None:
    with FaceAnalyzer() as fa, pytest.raises(ValueError):
        fa.analyze(np.zeros((64, 64), np.uint8))


def test_usable_after_close(sun_frames: list[np.ndarray]) -> None:
    fa = FaceAnalyzer()
    assert fa.analyze(sun_frames[0]) is not None
    fa.close()
    assert fa.analyze(sun_frames[0]) is not None
    fa.close()
