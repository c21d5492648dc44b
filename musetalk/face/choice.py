"""Which face to sync when a frame holds several: the user's choice in the first frame, then the same person.

``FaceConfig.face`` is parsed by ``config.parse_face_choice`` (syntax); this module applies a choice to the faces
found in a frame (numbers, points) and follows the chosen face across a lost track by position and size.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from musetalk.config import FaceChoice
from musetalk.errors import InputError

if TYPE_CHECKING:  # landmarks imports this module
    from musetalk.face.landmarks import FaceLandmarks

# A re-detected face is the tracked person only if its centre moved at most this many face sizes since the last
# frame it was seen (growing with the frames lost, up to the cap) and its size changed by at most this factor.
# The cap stays below the centre distance of two people side by side (about 1.5-2 face sizes), so that losing
# the chosen face for a while never hands the sync to the neighbour.
MAX_SHIFT, MAX_SHIFT_PER_LOST, MAX_SHIFT_CAP = 0.5, 0.1, 1.0
MAX_SCALE = 1.5
SAME_FACE_IOU = 0.5  # two meshes whose boxes overlap this much are one face found twice (overlapping tiles)

Track = tuple[float, float, float]  # (centre x, centre y, long side) of a face's landmark box, pixels


def landmark_box(face: FaceLandmarks) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) int pixels around the landmarks: the box drawn, numbered, by the parameter check."""
    x1, y1, x2, y2 = face.bounds()
    return int(np.floor(x1)), int(np.floor(y1)), int(np.ceil(x2)), int(np.ceil(y2))


def track_of(face: FaceLandmarks) -> Track:
    x1, y1, x2, y2 = face.bounds()
    return (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1)


def is_same_face(a: FaceLandmarks, b: FaceLandmarks) -> bool:
    ax1, ay1, ax2, ay2 = a.bounds()
    bx1, by1, bx2, by2 = b.bounds()
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return union > 0 and inter / union > SAME_FACE_IOU


def left_to_right(faces: list[FaceLandmarks]) -> list[FaceLandmarks]:
    """The faces in the order the user numbers them: by the centre x of their landmarks."""
    return sorted(faces, key=lambda f: track_of(f)[0])


def select_face(choice: FaceChoice, faces: list[FaceLandmarks], frame_shape: tuple[int, ...]) -> int:
    """Index in ``faces`` (left to right, not empty) of the chosen face; InputError when the choice fits no face."""
    if choice.kind == "largest":
        return max(range(len(faces)), key=lambda k: track_of(faces[k])[2])
    if choice.kind == "index":
        if choice.index >= len(faces):
            count = f"only {len(faces)} face" + ("s" if len(faces) > 1 else "")
            numbers = "0" if len(faces) == 1 else f"0 to {len(faces) - 1}"
            raise InputError(f"Face {choice.index} was chosen, but the first frame with faces has {count} "
                             f"(numbered {numbers} from left to right).",
                             "Run 'Check parameters' (the preview) to see the faces and their numbers.")
        return choice.index
    x, y = choice.point
    h, w = frame_shape[:2]
    if not (0 <= x < w and 0 <= y < h):
        raise InputError(f"The face point {x},{y} lies outside the {w}x{h} frame.",
                         "Give X,Y in pixels of the video, from its top-left corner.")
    inside = [k for k, f in enumerate(faces) if _contains(landmark_box(f), x, y)]
    if not inside:
        boxes = "; ".join(f"face {k}: {b[0]},{b[1]} to {b[2]},{b[3]}" for k, b in
                          enumerate(landmark_box(f) for f in faces))
        raise InputError(f"No face covers the point {x},{y} in the first frame with faces ({boxes}).",
                         "Pick a pixel inside one of those boxes, or give the face's number.")
    # Overlapping boxes: the face whose centre is nearest the point.
    return min(inside, key=lambda k: np.hypot(track_of(faces[k])[0] - x, track_of(faces[k])[1] - y))


def nearest_face(faces: list[FaceLandmarks], last: Track, frames_lost: int = 0) -> int | None:
    """Index of the face nearest the last known position and size, or None when every face is too far away
    (then the tracked person is taken to be out of sight, and the frame passes through unchanged)."""
    cx, cy, side = last
    limit = side * min(MAX_SHIFT + MAX_SHIFT_PER_LOST * frames_lost, MAX_SHIFT_CAP)
    best, best_cost = None, np.inf
    for k, face in enumerate(faces):
        fx, fy, fside = track_of(face)
        shift = float(np.hypot(fx - cx, fy - cy))
        scale = max(fside / side, side / fside)
        if shift > limit or scale > MAX_SCALE:
            continue
        cost = shift / side + np.log(scale)  # position and size both count
        if cost < best_cost:
            best, best_cost = k, cost
    return best


def _contains(box: tuple[int, int, int, int], x: int, y: int) -> bool:
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]
