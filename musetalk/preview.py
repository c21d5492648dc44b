"""The parameter check: the first frame's box, blend mask and usable bbox_shift range, before any model loads."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from .config import FaceConfig
from .errors import InputError, NoFaceError
from .face import FaceTracker, bbox_shift_range, draw_preview
from .media import iter_frames


@dataclass
class Preview:
    """First-frame parameter check: the frame with box and mask drawn, and the usable bbox_shift range."""

    image: np.ndarray  # (H, W, 3) uint8 BGR
    box: tuple[int, int, int, int]
    bbox_shift_range: tuple[int, int]


def preview(video: str | os.PathLike[str], face_cfg: FaceConfig | None = None) -> Preview:
    """Analyse the first frame only: box, blend mask and usable bbox_shift range, drawn over the frame.

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
        face = tracker(frame)
    if face is None:
        raise NoFaceError("the first frame")
    image = draw_preview(frame, face.box, face.mask(face_cfg))
    return Preview(image, face.box, bbox_shift_range(face.landmarks, frame.shape))
