"""The model half of the loop: crops -> 8-channel latents, and latents + audio -> generated faces."""
from __future__ import annotations

import numpy as np
import torch

from .models import MuseTalkModels
from .models.audio import positional_encoding
from .models.unet import predict_latents
from .models.vae import crops_to_tensor, decode, encode, images_to_bgr
from .profiling import stage


class FaceRenderer:
    """Runs the VAE and UNet on batches. Every call is under ``torch.inference_mode``.

    Nothing here waits for the device except the final download of the faces (``render``'s return), so on a
    GPU the host runs ahead and queues the next batch while the current one computes.
    """

    def __init__(self, models: MuseTalkModels) -> None:
        self.models = models
        self._pe: torch.Tensor | None = None  # (50, 384) float32 on the model device, made once

    @torch.inference_mode()
    def encode(self, crops_bgr: np.ndarray) -> torch.Tensor:
        """(B, 256, 256, 3) uint8 BGR -> (B, 8, 32, 32) = cat[masked latent, reference latent], model dtype.

        In inference the reference is the same crop, unmasked, as in MuseTalk v1.5.
        """
        m = self.models
        n = crops_bgr.shape[0]
        with stage("vae_encode", n, m.device):
            masked = crops_to_tensor(crops_bgr, m.device, m.dtype, mask_lower=True)
            ref = crops_to_tensor(crops_bgr, m.device, m.dtype, mask_lower=False)
            lat = encode(m.vae, torch.cat([masked, ref]))
            return torch.cat([lat[:n], lat[n:]], dim=1)

    @torch.inference_mode()
    def render(self, latents: torch.Tensor, windows: torch.Tensor) -> np.ndarray:
        """latents (B, 8, 32, 32), windows (B, 50, 384) without PE -> faces (B, 256, 256, 3) uint8 BGR."""
        m = self.models
        n = latents.shape[0]
        with stage("unet", n, m.device):
            audio = (windows.to(m.device).float() + self._positional_encoding(windows)).to(m.dtype)
            pred = predict_latents(m.unet, latents.to(device=m.device, dtype=m.dtype), audio)
        with stage("vae_decode", n, m.device):
            images = decode(m.vae, pred)
        with stage("download", n):  # the loop's one device->host copy (and on a GPU, its one wait)
            return images_to_bgr(images)

    def _positional_encoding(self, windows: torch.Tensor) -> torch.Tensor:
        """The PE on the model device, built once: a per-batch host->device copy would sync a GPU."""
        shape = tuple(windows.shape[1:])
        if self._pe is None or tuple(self._pe.shape) != shape:
            self._pe = positional_encoding(*shape).to(self.models.device)
        return self._pe
