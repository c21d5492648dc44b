"""Synthetic face-mesh landmarks and real-media access shared by the face tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from musetalk.face import FaceLandmarks
from musetalk.face.crop import NOSE_BRIDGE_MESH
from musetalk.face.mask import FACE_OVAL, LIPS_OUTER, NOSE_OUTLINE

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _ring(n: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    """n points clockwise (image coordinates) from the top of an ellipse."""
    t = np.deg2rad(-90.0 + 360.0 * np.arange(n) / n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def synthetic_face(cx: float = 100.0, cy: float = 100.0, s: float = 40.0) -> FaceLandmarks:
    """A cartoon mesh: oval of half-width s and half-height 1.3 s around (cx, cy), chin at cy + 1.3 s.

    Nose bridge (68-point 27..30) evenly from the nasion at cy - 0.25 s to the tip at cy + 0.2 s, nose outline
    around cy + 0.15 s, lips around cy + 0.65 s; every other point sits at the centre.
    """
    pts = np.tile(np.array([cx, cy], np.float64), (468, 1))
    pts[FACE_OVAL] = _ring(len(FACE_OVAL), cx, cy, s, 1.3 * s)  # FACE_OVAL[18] = 152 is the chin
    pts[LIPS_OUTER] = _ring(len(LIPS_OUTER), cx, cy + 0.65 * s, 0.4 * s, 0.15 * s)
    pts[NOSE_OUTLINE] = _ring(len(NOSE_OUTLINE), cx, cy + 0.15 * s, 0.2 * s, 0.1 * s)
    top, tip = cy - 0.25 * s, cy + 0.2 * s
    for k, mesh in NOSE_BRIDGE_MESH.items():
        pts[mesh] = (cx, top + (tip - top) * (k - 27) / 3)
    return FaceLandmarks(points=pts.astype(np.float32), det_box=(int(cx - s), int(cy - s), int(cx + s), int(cy + s)))
