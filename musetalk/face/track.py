"""Following the face through a frame sequence: landmarks per frame, the box smoothed over time.

``FaceTracker`` is what one-shot generation, avatars and the trainer run on every frame; ``TrackedFace`` is what
it finds in one frame (landmarks and the smoothed box), and how that frame's crop and blend mask are cut.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musetalk.config import FPS, FaceConfig, parse_face_choice
from musetalk.face.crop import Box, BoxSmoother, crop_face, face_box
from musetalk.face.landmarks import FaceAnalyzer, FaceLandmarks
from musetalk.face.mask import blend_mask


@dataclass
class TrackedFace:
    """The synced face of one frame: mesh landmarks (468, 2) float32 and the (smoothed) crop box."""

    landmarks: FaceLandmarks
    box: Box

    def crop(self, frame_bgr: np.ndarray, size: int = 256) -> np.ndarray:
        """(size, size, 3) uint8 BGR, Lanczos-resized."""
        return crop_face(frame_bgr, self.box, size)

    def mask(self, cfg: FaceConfig) -> np.ndarray:
        """(box_h, box_w) float32 in [0, 1]."""
        return blend_mask(self.landmarks, self.box, cfg.parsing_mode, cfg.left_cheek_width, cfg.right_cheek_width)


class FaceTracker:
    """Frame sequence -> TrackedFace | None per frame. Stateful: tracks the face and smooths the box over time.

    ``cfg.face`` chooses the face; a number or point that fits no face of the first frame with faces raises
    InputError from that call. A frame where the chosen face is not found gives None (it passes through).
    """

    def __init__(self, cfg: FaceConfig, fps: float = FPS, static_image_mode: bool = False) -> None:
        self.cfg = cfg
        self._analyzer = FaceAnalyzer(static_image_mode=static_image_mode, choice=parse_face_choice(cfg.face))
        self._smoother = BoxSmoother(enabled=cfg.smooth, fps=fps)

    def __call__(self, frame_bgr: np.ndarray) -> TrackedFace | None:
        lm = self._analyzer.analyze(frame_bgr)
        raw = None if lm is None else face_box(lm, frame_bgr.shape, self.cfg.bbox_shift, self.cfg.extra_margin)
        box = self._smoother.update(raw)
        if lm is None or box is None:
            return None
        return TrackedFace(lm, box)

    def faces(self, frame_bgr: np.ndarray) -> list[FaceLandmarks]:
        """Every face in the frame, left to right (how ``cfg.face`` numbers them); the tracking is not touched."""
        return self._analyzer.find_faces(frame_bgr)

    def close(self) -> None:
        self._analyzer.close()

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
