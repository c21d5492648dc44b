"""How open the mouth is, and how much the lips move, from face-mesh landmarks.

Both measures are divided by the eye-corner distance so they do not depend on the face's size in the frame or
its distance to the camera. This is the one mouth-opening measure of the project: the sync score, the silence
numbers and the closed-mouth frame choice all use it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# MediaPipe face-mesh indices: the inner lip contour (upper arc then lower arc, in order round the mouth), the
# outer lip contour, the outer eye corners and the nose tip.
INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
OUTER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
EYE_CORNERS = (33, 263)
NOSE_TIP = 1


def eye_distance(points: np.ndarray) -> np.ndarray:
    """(..., 468, 2) landmarks -> (...,) outer eye-corner distance in pixels: the face's scale."""
    return np.linalg.norm(points[..., EYE_CORNERS[0], :] - points[..., EYE_CORNERS[1], :], axis=-1)


def mouth_opening(points: np.ndarray) -> np.ndarray:
    """(..., 468, 2) landmarks -> (...,) inner-lip area / eye distance², about 0 closed and 0.1-0.3 wide open."""
    lip = points[..., INNER_LIP, :]
    x, y = lip[..., 0], lip[..., 1]
    area = 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y, axis=-1))
    return area / np.maximum(eye_distance(points), 1e-6) ** 2


@dataclass
class MouthTrack:
    """Per-frame mouth measures of a clip at its frame rate; NaN where no face was found.

    opening: (N,) float64, ``mouth_opening`` per frame.
    speed: (N,) float64, mean displacement of the 40 lip landmarks since the previous frame, relative to the nose
        tip (so head motion cancels) and in eye distances; 0 for the first frame.
    """

    opening: np.ndarray
    speed: np.ndarray

    @property
    def found(self) -> np.ndarray:
        """(N,) bool: frames where a face was found."""
        return np.isfinite(self.opening)

    def __len__(self) -> int:
        return int(self.opening.size)


def mouth_track(points: np.ndarray) -> MouthTrack:
    """(N, 468, 2) float landmarks per frame (NaN rows where no face) -> MouthTrack."""
    points = np.asarray(points, dtype=np.float64)
    opening = mouth_opening(points)
    lips = points[:, INNER_LIP + OUTER_LIP, :] - points[:, [NOSE_TIP], :]
    step = np.linalg.norm(np.diff(lips, axis=0), axis=-1).mean(axis=-1)
    speed = np.concatenate([[0.0], step / np.maximum(eye_distance(points[1:]), 1e-6)])
    return MouthTrack(opening=opening, speed=speed)


def fill_gaps(x: np.ndarray) -> np.ndarray:
    """(N,) with NaNs -> (N,) with each NaN replaced by linear interpolation (edges: the nearest value)."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    if ok.all() or not ok.any():
        return x.copy()
    idx = np.arange(x.size)
    return np.interp(idx, idx[ok], x[ok])
