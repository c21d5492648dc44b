"""Quality of a result against its source: PSNR and SSIM inside and outside the blend region, and jitter.

Errors are pooled over all compared frames (PSNR from the total squared error, SSIM as the mean of its map over
the region's pixels), so a long clip is not dominated by its few worst frames' per-frame scores.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from musetalk.face.crop import Box

_C1, _C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2  # SSIM's constants for 8-bit images (Wang et al. 2004)


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W) uint8 grey images -> (H, W) float32 SSIM map (Gaussian window 11, sigma 1.5)."""
    x = a.astype(np.float32)
    y = b.astype(np.float32)

    def blur(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    return ((2 * mx * my + _C1) * (2 * cxy + _C2)) / ((mx * mx + my * my + _C1) * (vx + vy + _C2))


def region_mask(shape: tuple[int, ...], box: Box | None, mask: np.ndarray | None) -> np.ndarray:
    """(H, W) bool: pixels the blend can touch (mask > 0 inside the box); all False when there is no face."""
    out = np.zeros(shape[:2], dtype=bool)
    if box is not None and mask is not None:
        x1, y1, x2, y2 = box
        out[y1:y2, x1:x2] = mask > 0
    return out


@dataclass
class RegionStats:
    """psnr in dB (inf when identical), ssim in [-1, 1], over ``pixels`` pixel-frames; None when empty."""

    psnr: float | None
    ssim: float | None
    pixels: int


class QualityMeter:
    """Accumulates PSNR/SSIM inside and outside the blend region over frame pairs."""

    def __init__(self) -> None:
        self._sq = {"inside": 0.0, "outside": 0.0}
        self._ssim = {"inside": 0.0, "outside": 0.0}
        self._n = {"inside": 0, "outside": 0}
        self.frames = 0

    def add(self, result_bgr: np.ndarray, source_bgr: np.ndarray, inside: np.ndarray) -> None:
        """Two (H, W, 3) uint8 frames and the (H, W) bool blend region of the source frame."""
        diff = result_bgr.astype(np.float32) - source_bgr.astype(np.float32)
        sq = (diff * diff).mean(axis=2)
        smap = ssim_map(cv2.cvtColor(result_bgr, cv2.COLOR_BGR2GRAY), cv2.cvtColor(source_bgr, cv2.COLOR_BGR2GRAY))
        for name, where in (("inside", inside), ("outside", ~inside)):
            count = int(where.sum())
            if count:
                self._sq[name] += float(sq[where].sum())
                self._ssim[name] += float(smap[where].sum())
                self._n[name] += count
        self.frames += 1

    def region(self, name: str) -> RegionStats:
        n = self._n[name]
        if n == 0:
            return RegionStats(None, None, 0)
        mse = self._sq[name] / n
        psnr = float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)
        return RegionStats(round(psnr, 2), round(self._ssim[name] / n, 4), n)


def box_motion(boxes: np.ndarray) -> float:
    """(N, 4) boxes (NaN rows where no face) -> mean frame-to-frame corner motion in box widths."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if len(boxes) < 2:
        return 0.0
    width = np.maximum(boxes[1:, 2] - boxes[1:, 0], 1.0)
    step = np.abs(np.diff(boxes, axis=0)).mean(axis=1) / width
    step = step[np.isfinite(step)]
    return float(step.mean()) if step.size else 0.0


def finite_mean(x: np.ndarray, where: np.ndarray | None = None) -> float | None:
    """Mean of the finite values of ``x`` (optionally only where ``where``); None when there are none."""
    x = np.asarray(x, dtype=np.float64)
    if where is not None:  # same length as x
        x = x[where]
    x = x[np.isfinite(x)]
    return round(float(x.mean()), 5) if x.size else None
