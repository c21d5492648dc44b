"""Blend masks from face-mesh landmarks, in place of MuseTalk's BiSeNet face parsing.

MuseTalk v1.5 facts reproduced here (``blending.get_image`` and ``face_parsing.FaceParsing``):

* Parsing runs on a square of side ``1.5 * max(box_w, box_h)`` centred on the box, resized to 512x512. One
  parsing pixel is therefore ``unit = side / 512`` box pixels; kernel sizes and cheek widths below are in
  parsing pixels and are scaled by ``unit``.
* Everything above the box centre row is dropped (``upper_boundary_ratio = 0.5`` of that square).
* ``raw``: skin + mouth + lips. ``neck``: raw + neck. The nose is never part of the mask.
* ``jaw``: skin dilated (about 10 px sideways, widening the mask out to the jaw line) everywhere; outside a central
  band ``[centre - left_cheek_width, centre + right_cheek_width]`` (image left/right) the dilated skin is then
  eroded sideways (two passes of a 35x3 ellipse, ~34 px), so the cheeks are narrowed. Wider cheek widths keep
  more of the full-width jaw. Then nose removed, mouth and lips added.
* The mask is feathered with a Gaussian of kernel ``0.05 * side``.

Unlike MuseTalk we also force the mask to 0 along the box border, so pasting a box never leaves a seam.
"""
from __future__ import annotations

import cv2
import numpy as np

from musetalk.config import PARSING_MODES
from musetalk.errors import InputError
from musetalk.face.crop import Box
from musetalk.face.landmarks import FaceLandmarks

MODES = PARSING_MODES

# Mesh index loops (MediaPipe FACEMESH_* connection sets, put in polygon order).
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185]
NOSE_OUTLINE = [4, 45, 220, 115, 48, 64, 98, 97, 2, 326, 327, 294, 278, 344, 440, 275]
LOWER_JAW = [397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172]  # image right to left

PARSE_SIZE = 512
PARSE_EXPAND = 1.5


def _ellipse(rx: float, ry: float) -> np.ndarray:
    """Elliptic structuring element with half-axes (rx, ry) pixels (rounded; 0 gives a 1-pixel axis)."""
    size = (2 * max(int(round(rx)), 0) + 1, 2 * max(int(round(ry)), 0) + 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, size)


def _fill(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    """(H, W) uint8 {0, 255} polygon fill of ``pts`` ((N, 2) float box pixels)."""
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 255, lineType=cv2.LINE_8)
    return m


def _region_masks(lm: FaceLandmarks, box: Box) -> dict[str, np.ndarray]:
    """Binary (box_h, box_w) uint8 {0, 255} masks: skin (face oval), lips, nose, neck, in box coordinates."""
    x1, y1, x2, y2 = box
    shape = (y2 - y1, x2 - x1)
    p = lm.points - np.array([x1, y1], np.float32)
    jaw = p[LOWER_JAW]
    bottom = float(shape[0])
    neck = np.vstack([jaw, [[jaw[-1, 0], bottom], [jaw[0, 0], bottom]]])
    return {
        "skin": _fill(shape, p[FACE_OVAL]),
        "lips": _fill(shape, p[LIPS_OUTER]),
        "nose": _fill(shape, p[NOSE_OUTLINE]),
        "neck": _fill(shape, neck),
    }


def _jaw_region(skin: np.ndarray, unit: float, left_cheek_width: int, right_cheek_width: int) -> np.ndarray:
    """Skin widened to the jaw, narrowed outside the central cheek band (see module docstring)."""
    dilated = cv2.dilate(skin, _ellipse(10 * unit, 6 * unit))
    eroded = cv2.erode(dilated, _ellipse(34 * unit, 2 * unit))
    w = skin.shape[1]
    cx = w // 2
    band = np.zeros(w, bool)
    lo = max(int(round(cx - left_cheek_width * unit)), 0)
    hi = min(int(round(cx + right_cheek_width * unit)), w)
    band[lo:hi] = True
    return np.where(band[None, :], dilated, eroded)


def blend_mask(
    lm: FaceLandmarks,
    box: Box,
    mode: str = "jaw",
    left_cheek_width: int = 90,
    right_cheek_width: int = 90,
) -> np.ndarray:
    """(box_h, box_w) float32 alpha in [0, 1] for pasting the generated face back into ``box``.

    Pixel (0, 0) is the box's top-left. 1 = generated face, 0 = original frame; 0 on the whole box border.
    mode: "jaw" | "raw" | "neck" (MuseTalk v1.5 parsing modes).
    left_cheek_width, right_cheek_width: half-widths, in 512-parsing pixels, of the central band that keeps
        the full jaw in "jaw" mode (image left / right of the box centre). Ignored by the other modes.
    """
    if mode not in MODES:
        raise InputError(f"Unknown parsing mode {mode!r}; use one of: {', '.join(MODES)}.")
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    if bw <= 0 or bh <= 0:
        raise ValueError(f"empty box {box}")
    side = 2 * int(max(bw, bh) // 2 * PARSE_EXPAND)  # MuseTalk's get_crop_box square
    unit = side / PARSE_SIZE

    r = _region_masks(lm, box)
    if mode == "jaw":
        region = _jaw_region(r["skin"], unit, left_cheek_width, right_cheek_width)
    elif mode == "neck":
        region = cv2.bitwise_or(r["skin"], r["neck"])
    else:
        region = r["skin"]
    region = cv2.bitwise_and(region, cv2.bitwise_not(r["nose"]))
    region = cv2.bitwise_or(region, r["lips"])
    region[: bh // 2] = 0  # keep only the lower half (MuseTalk upper_boundary_ratio 0.5)

    k = int(0.05 * side // 2 * 2) + 1
    # Zeroing a band wider than the kernel radius makes the blurred mask exactly 0 on the border.
    band = k // 2 + 1
    region[:band] = 0
    region[-band:] = 0
    region[:, :band] = 0
    region[:, -band:] = 0
    alpha = region.astype(np.float32) * np.float32(1.0 / 255.0)
    if k > 1:
        alpha = cv2.GaussianBlur(alpha, (k, k), 0, borderType=cv2.BORDER_CONSTANT)
    return np.clip(alpha, 0.0, 1.0, out=alpha)
