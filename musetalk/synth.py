"""The model half of the loop: crops -> 8-channel latents, and latents + audio -> generated faces."""
from __future__ import annotations

import numpy as np
import torch

from .models import MuseTalkModels
from .models.audio import add_positional_encoding
from .models.unet import predict_latents
from .models.vae import crops_to_tensor, decode, encode, images_to_bgr


class FaceRenderer:
    """Runs the VAE and UNet on batches. Every call is under ``torch.inference_mode``."""

    def __init__(self, models: MuseTalkModels) -> None:
        self.models = models

    @torch.inference_mode()
    def encode(self, crops_bgr: np.ndarray) -> torch.Tensor:
        """(B, 256, 256, 3) uint8 BGR -> (B, 8, 32, 32) = cat[masked latent, reference latent], model dtype.

        In inference the reference is the same crop, unmasked, as in MuseTalk v1.5.
        """
        m = self.models
        masked = crops_to_tensor(crops_bgr, m.device, m.dtype, mask_lower=True)
        ref = crops_to_tensor(crops_bgr, m.device, m.dtype, mask_lower=False)
        lat = encode(m.vae, torch.cat([masked, ref]))
        n = crops_bgr.shape[0]
        return torch.cat([lat[:n], lat[n:]], dim=1)

    @torch.inference_mode()
    def render(self, latents: torch.Tensor, windows: torch.Tensor) -> np.ndarray:
        """latents (B, 8, 32, 32), windows (B, 50, 384) without PE -> faces (B, 256, 256, 3) uint8 BGR."""
        m = self.models
        audio = add_positional_encoding(windows.to(m.device)).to(m.dtype)
        pred = predict_latents(m.unet, latents.to(device=m.device, dtype=m.dtype), audio)
        return images_to_bgr(decode(m.vae, pred))
