"""The parameter check: the first frame's box, blend mask and usable bbox_shift range, before any model loads."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np

from .config import FaceConfig
from .errors import InputError, NoFaceError
from .face import FaceTracker, bbox_shift_range, draw_face_numbers, draw_preview
from .face.choice import landmark_box
from .media import iter_frames


@dataclass
class Preview:
    """First-frame parameter check: the frame with box and mask drawn, and the usable bbox_shift range.

    faces: the landmark box (x1, y1, x2, y2) of every face in the frame, left to right (how ``FaceConfig.face``
        numbers them), each drawn with its number; chosen: the number of the face that is synced.
    """

    image: np.ndarray  # (H, W, 3) uint8 BGR
    box: tuple[int, int, int, int]
    bbox_shift_range: tuple[int, int]
    faces: list[tuple[int, int, int, int]] = field(default_factory=list)
    chosen: int = 0


def preview(video: str | os.PathLike[str], face_cfg: FaceConfig | None = None) -> Preview:
    """Analyse the first frame only: every face, numbered, and the chosen face's box, blend mask and usable
    bbox_shift range, drawn over the frame.

    Needs no models, so it answers in a second even before the weights are loaded (or downloaded).
    """
    face_cfg = face_cfg or FaceConfig()
    frames = iter_frames(video)
    try:
        frame = next(frames, None)
    finally:
        frames.close()
    if frame is None:
        raise InputError(f"No frame could be read from {video}.")
    with FaceTracker(replace(face_cfg, smooth=False), static_image_mode=True) as tracker:
        face = tracker(frame)  # the choice applied (InputError when it fits no face)
        boxes = [landmark_box(f) for f in tracker.faces(frame)]
    if face is None:
        raise NoFaceError("the first frame")
    chosen_box = landmark_box(face.landmarks)
    boxes = boxes or [chosen_box]
    chosen = min(range(len(boxes)), key=lambda k: sum(abs(a - b) for a, b in zip(boxes[k], chosen_box)))
    image = draw_face_numbers(draw_preview(frame, face.box, face.mask(face_cfg)), boxes, chosen)
    return Preview(image, face.box, bbox_shift_range(face.landmarks, frame.shape), boxes, chosen)
