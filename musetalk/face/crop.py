"""The MuseTalk v1.5 face box, its temporal smoothing, and the 256x256 crop.

Box rule (MuseTalk v1.5 ``get_landmark_and_bbox``): x spans the landmarks; the centre point ``c`` is 68-point
landmark 29 (0-based: the lowest nose-bridge point, one step above the nose tip); ``d = max_y - c_y``;
``y1 = c_y - d`` (the upper edge is the chin mirrored about ``c``); ``y2 = max_y``; then ``y2 += extra_margin``.
``bbox_shift`` moves ``c_y`` before the mirror, so a positive shift lowers the upper edge by twice the shift.

The 68-point nose bridge (points 27..30) is taken from the 468-point mesh by the correspondence in common public
use (27 -> 168, 28 -> 197, 29 -> 5, 30 -> 4). Mesh 5 lies on the nose surface, so it follows head pitch as a
68-point detector's landmark 29 does; the straight-line interpolation used before (2/3 of the way from mesh 168
to mesh 1) did not, and put the box's top edge up to 9 px (2.4 % of the box height) elsewhere on real clips.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from musetalk.face.landmarks import FaceLandmarks

Box = tuple[int, int, int, int]

# 68-point nose-bridge landmark -> face-mesh point: nasion (27) down to just above the nose tip (30).
NOSE_BRIDGE_MESH: dict[int, int] = {27: 168, 28: 197, 29: 5, 30: 4}
MIN_BOX_SIDE = 4  # pixels; a box is never thinner than this


def nose_bridge_y(lm: FaceLandmarks, k: int) -> float:
    """y (pixels) of 68-point nose-bridge landmark ``k`` in 27..30, from its face-mesh point."""
    if k not in NOSE_BRIDGE_MESH:
        raise ValueError(f"nose bridge landmarks are 27..30, got {k}")
    return float(lm.points[NOSE_BRIDGE_MESH[k], 1])


def _clip_span(lo: float, hi: float, size: int) -> tuple[int, int]:
    """Integer [lo, hi) clipped to [0, size) with at least MIN_BOX_SIDE pixels (fewer only if size is smaller)."""
    a = int(np.clip(round(lo), 0, size))
    b = int(np.clip(round(hi), 0, size))
    need = min(MIN_BOX_SIDE, size)
    if b - a < need:
        mid = (a + b) / 2
        a = int(np.clip(math.floor(mid - need / 2), 0, size - need))
        b = a + need
    return a, b


def face_box(
    lm: FaceLandmarks, frame_shape: tuple[int, ...], bbox_shift: int = 0, extra_margin: int = 10
) -> Box:
    """MuseTalk v1.5 face box (x1, y1, x2, y2), int pixels, x2/y2 exclusive, clipped to the frame.

    frame_shape: (H, W) or (H, W, C) of the frame the landmarks belong to.
    bbox_shift: pixels added to the centre's y before the upper edge is mirrored (+ lowers the top edge).
    extra_margin: pixels added below the chin (MuseTalk v1.5 default 10).
    """
    h, w = int(frame_shape[0]), int(frame_shape[1])
    xs, ys = lm.points[:, 0], lm.points[:, 1]
    max_y = float(ys.max())
    c_y = nose_bridge_y(lm, 29) + bbox_shift
    y_top = c_y - (max_y - c_y)
    x1, x2 = _clip_span(float(xs.min()), float(xs.max()), w)
    y1, y2 = _clip_span(y_top, max_y + extra_margin, h)
    return x1, y1, x2, y2


def bbox_shift_range(lm: FaceLandmarks, frame_shape: tuple[int, ...]) -> tuple[int, int]:
    """(low, high) integer bbox_shift values worth trying for this face; low <= 0 <= high.

    Definition (MuseTalk reports one nose-bridge step either way): the centre may move up to 68-point
    landmark 28 (``low = -(c_y - y_28)``) and down to the nose tip, landmark 30 (``high = y_30 - c_y``).
    ``low`` is further limited so that the box's upper edge stays inside the frame (``y1 >= 0``), unless the
    unshifted box already reaches past the top, in which case ``low`` is 0.
    """
    c_y = nose_bridge_y(lm, 29)
    low = -(c_y - nose_bridge_y(lm, 28))
    high = nose_bridge_y(lm, 30) - c_y
    max_y = float(lm.points[:, 1].max())
    # y1 = 2 (c_y + s) - max_y >= 0  <=>  s >= max_y / 2 - c_y
    low = max(low, max_y / 2 - c_y)
    return min(0, math.ceil(low)), max(0, math.floor(high))


class BoxSmoother:
    """Causal per-coordinate One-Euro filter for face boxes, against frame-to-frame jitter.

    Why One-Euro: landmark jitter is small, fast noise on a box that is mostly still, while real head motion is
    large and fast. A fixed low-pass either leaves jitter or lags behind motion; the One-Euro filter lowers its
    cut-off when the box is still (strong smoothing) and raises it with speed (little lag). Speeds are measured
    in box heights per second, so the same settings work for small and large faces.

    enabled: False makes ``update`` the identity.
    fps: frame rate of the stream (sets the filter time step).
    min_cutoff: cut-off frequency (Hz) at rest; lower smooths more.
    beta: how fast the cut-off rises with speed (per box-height/s).
    snap_iou: when the new box overlaps the smoothed one by less than this IoU (scene cut, face switch), the
        filter restarts at the new box instead of gliding across.
    """

    def __init__(
        self,
        enabled: bool = True,
        fps: float = 25.0,
        min_cutoff: float = 1.0,
        beta: float = 3.0,
        d_cutoff: float = 1.0,
        snap_iou: float = 0.5,
    ) -> None:
        self.enabled = enabled
        self.fps = fps
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.snap_iou = snap_iou
        self.reset()

    def reset(self) -> None:
        """Forget the history; the next box passes through unchanged."""
        self._x: np.ndarray | None = None  # (4,) float64 filtered box
        self._dx = np.zeros(4)
        self._frames_since = 1

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def update(self, box: Box | None) -> Box | None:
        """Smoothed (x1, y1, x2, y2) int box for this frame; None in gives None out and keeps the history."""
        if not self.enabled:
            return box
        if box is None:
            self._frames_since += 1
            return None
        x = np.asarray(box, dtype=np.float64)
        dt = self._frames_since / self.fps
        self._frames_since = 1
        if self._x is None or _iou(self._x, x) < self.snap_iou:
            self._x, self._dx = x, np.zeros(4)
            return _as_box(x)
        scale = max(float(x[3] - x[1]), 1.0)
        dx = (x - self._x) / dt / scale
        self._dx = self._dx + self._alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + self._alpha(cutoff, dt) * (x - self._x)
        return _as_box(self._x)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _as_box(x: np.ndarray) -> Box:
    x1, y1, x2, y2 = (int(round(v)) for v in x)
    return x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)


def crop_face(frame_bgr: np.ndarray, box: Box, size: int = 256) -> np.ndarray:
    """(size, size, 3) uint8 BGR crop of ``frame_bgr[y1:y2, x1:x2]``, resized with Lanczos (as MuseTalk)."""
    x1, y1, x2, y2 = box
    h, w = frame_bgr.shape[:2]
    if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
        raise ValueError(f"box {box} is empty or outside the {w}x{h} frame")
    return cv2.resize(frame_bgr[y1:y2, x1:x2], (size, size), interpolation=cv2.INTER_LANCZOS4)
