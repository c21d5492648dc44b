"""The composite loss of the MuseTalk v1.5 seeds: pixel_weight * L1(decoded face) + latent_weight * L1(latent)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..models.audio import add_positional_encoding
from ..models.unet import predict_latents
from ..models.vae import decode_raw
from .dataset import Batch


@dataclass
class LossTerms:
    total: torch.Tensor  # scalar, float32
    pixel: torch.Tensor  # scalar: L1 between decoded prediction and target crop, both in [-1, 1]
    latent: torch.Tensor  # scalar: L1 between predicted and target latents
    pred: torch.Tensor  # (N, 4, 32, 32) predicted latents
    images: torch.Tensor | None  # (N, 3, 256, 256) decoded prediction, RGB in [-1, 1]; None when not decoded

    def values(self) -> dict[str, float]:
        return {"loss": self.total.item(), "pixel": self.pixel.item(), "latent": self.latent.item()}


def composite_loss(unet, vae, batch: Batch, pixel_weight: float = 2.0, latent_weight: float = 1.0) -> LossTerms:
    """UNet at timestep 0 on ``batch.inputs`` with the PE'd audio; gradients reach the UNet through the frozen
    VAE decoder. The pixel term is skipped (0) when its weight is 0, which saves the decode."""
    audio = add_positional_encoding(batch.audio)
    pred = predict_latents(unet, batch.inputs, audio)
    latent = F.l1_loss(pred.float(), batch.target_latents)
    images = None
    if pixel_weight > 0:
        images = decode_raw(vae, pred)
        pixel = F.l1_loss(images.float(), batch.target_images)
    else:
        pixel = latent.new_zeros(())
    return LossTerms(pixel_weight * pixel + latent_weight * latent, pixel, latent, pred, images)
