"""Paste a generated face back into its frame, and draw a parameter preview."""
from __future__ import annotations

import cv2
import numpy as np

from musetalk.face.crop import Box

PREVIEW_BOX_COLOR = (0, 255, 0)  # BGR
PREVIEW_MASK_COLOR = np.array([255, 0, 255], np.float32)  # BGR magenta
PREVIEW_MASK_OPACITY = 0.5


def _check(frame_bgr: np.ndarray, box: Box, mask: np.ndarray) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    h, w = frame_bgr.shape[:2]
    if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
        raise ValueError(f"box {box} is empty or outside the {w}x{h} frame")
    if mask.shape != (y2 - y1, x2 - x1):
        raise ValueError(f"mask shape {mask.shape} does not match box size {(y2 - y1, x2 - x1)}")
    return x1, y1, x2, y2


def paste_back(frame_bgr: np.ndarray, face_bgr: np.ndarray, box: Box, mask: np.ndarray) -> np.ndarray:
    """New frame with ``face_bgr`` alpha-blended into ``box``.

    frame_bgr: (H, W, 3) uint8. face_bgr: (S, S, 3) uint8 generated face (S = 256), resized to the box.
    mask: (box_h, box_w) float32 in [0, 1] (``blend_mask``), 1 = generated face.
    Pixels outside the box, and inside it where mask == 0, are byte-identical to ``frame_bgr``.
    """
    x1, y1, x2, y2 = _check(frame_bgr, box, mask)
    out = frame_bgr.copy()
    face = cv2.resize(face_bgr, (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
    alpha = np.ascontiguousarray(mask, dtype=np.float32)
    roi = out[y1:y2, x1:x2]
    # blendLinear computes face*a + roi*(1-a) in float32 and rounds once; a == 0 gives roi exactly.
    out[y1:y2, x1:x2] = cv2.blendLinear(face, np.ascontiguousarray(roi), alpha, 1.0 - alpha)
    return out


def draw_preview(frame_bgr: np.ndarray, box: Box, mask: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 copy of the frame with the mask tinted magenta and the box outlined in green."""
    x1, y1, x2, y2 = _check(frame_bgr, box, mask)
    out = frame_bgr.copy()
    roi = out[y1:y2, x1:x2].astype(np.float32)
    a = (mask.astype(np.float32) * PREVIEW_MASK_OPACITY)[..., None]
    out[y1:y2, x1:x2] = np.clip(roi + a * (PREVIEW_MASK_COLOR - roi) + 0.5, 0, 255).astype(np.uint8)
    thickness = max(1, round(max(out.shape[:2]) / 400))
    cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), PREVIEW_BOX_COLOR, thickness)
    return out


def draw_face_numbers(image_bgr: np.ndarray, boxes: list[tuple[int, int, int, int]], chosen: int) -> np.ndarray:
    """Copy of ``image_bgr`` with every face numbered (0 = leftmost) and the other faces' boxes outlined in white:
    the chosen one's number is in the box colour, so that the user can tell which number to pick."""
    out = image_bgr.copy()
    scale = max(out.shape[:2]) / 400
    thickness = max(1, round(scale))
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        colour = PREVIEW_BOX_COLOR if k == chosen else (255, 255, 255)
        if k != chosen:  # the chosen face already shows its crop box
            cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), colour, thickness)
        label, font_scale = str(k), max(0.5, 0.6 * scale)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness + 1)
        ty = y1 - 4 if y1 - th - 8 >= 0 else y2 + th + 4  # above the box, or below it at the top edge
        cv2.rectangle(out, (x1, ty - th - 4), (x1 + tw + 6, ty + 4), (0, 0, 0), -1)
        cv2.putText(out, label, (x1 + 3, ty), cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour, thickness + 1,
                    cv2.LINE_AA)
    return out
