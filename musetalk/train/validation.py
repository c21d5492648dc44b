"""Validation: the loss on every held-out clip, their predicted faces, and the validation image.

``validate`` decodes each held-out clip's predicted faces anyway (the pixel term needs them); ``ValHook``s receive
them with the clip and its true crops, and return extra metrics for that clip (the offline sync score of
``sync_check.py``). A hook's numbers land in ``metrics.jsonl`` as ``val_clips[NAME][KEY]``.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .dataset import ClipSet, ValClip
from .loss import composite_loss

# (held-out clip, predicted faces (n, 256, 256, 3) uint8 BGR, true crops (n, 256, 256, 3) uint8 BGR) -> metrics
ValHook = Callable[[ValClip, np.ndarray, np.ndarray], dict[str, float]]
IMAGE_CLIPS = 4  # rows of the validation image: prediction | ground truth of the first frame of each clip


@dataclass
class ValResult:
    means: dict[str, float]  # val_loss, val_pixel, val_latent over all held-out frames
    clips: dict[str, dict[str, float]]  # per held-out clip: loss, pixel, latent (+ what hooks add)
    image: np.ndarray | None = field(default=None, repr=False)  # (k * 256, 512, 3) uint8 BGR

    def row(self) -> dict:
        return {**self.means, "val_clips": self.clips}


def to_bgr(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) RGB in [-1, 1] -> (N, H, W, 3) uint8 BGR, as inference decodes (x / 2 + 0.5, clamped)."""
    x = (images.float() / 2 + 0.5).clamp(0, 1).mul(255).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).flip(-1).cpu().numpy()


@torch.no_grad()
def validate(unet, vae, data: ClipSet, device: torch.device, batch_size: int, weights: tuple[float, float],
             autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
             hooks: list[ValHook] | None = None) -> ValResult:
    """Loss of ``unet`` on every ``data.val`` clip, frames weighted equally; runs hooks on each clip's faces."""
    hooks = hooks or []
    clips: dict[str, dict[str, float]] = {}
    totals, n_total, rows = {"val_loss": 0.0, "val_pixel": 0.0, "val_latent": 0.0}, 0, []
    for vc in data.val:
        sums, faces = {"loss": 0.0, "pixel": 0.0, "latent": 0.0}, []
        for start in range(0, len(vc.samples), batch_size):
            chunk = vc.samples[start : start + batch_size]
            with autocast():
                terms = composite_loss(unet, vae, data.batch(chunk, device), *weights)
            for k, v in terms.values().items():
                sums[k] += v * len(chunk)
            if terms.images is not None and (hooks or len(rows) < IMAGE_CLIPS):
                faces.append(to_bgr(terms.images))
        n = len(vc.samples)
        clips[vc.name] = {k: v / n for k, v in sums.items()}
        for k, v in sums.items():
            totals[f"val_{k}"] += v
        n_total += n
        if faces:
            predicted = np.concatenate(faces)
            clip = data.clips[vc.samples[0].clip]
            truth = np.stack([clip.crops[s.targets[0]] for s in vc.samples])
            for hook in hooks:
                clips[vc.name].update(hook(vc, predicted, truth))
            if len(rows) < IMAGE_CLIPS:
                rows.append(np.hstack([predicted[0], truth[0]]))
    means = {k: v / n_total for k, v in totals.items()}
    return ValResult(means, clips, np.vstack(rows) if rows else None)


def write_image(path: Path, image: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
