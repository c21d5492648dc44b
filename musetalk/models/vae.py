"""The frozen sd-vae-ft-mse autoencoder: 256x256 face crops <-> (4, 32, 32) latents."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..config import CROP_SIZE, LATENT_SCALE
from ..errors import WeightsError
from .device import to_device


def load_vae(vae_dir: Path, device: torch.device, dtype: torch.dtype):
    from diffusers import AutoencoderKL

    try:
        vae = AutoencoderKL.from_pretrained(str(vae_dir))
    except Exception as exc:  # diffusers raises OSError/ValueError/EnvironmentError for bad files
        raise WeightsError(
            f"Cannot load the VAE from {vae_dir}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}.",
            "Delete the folder and run `python -m musetalk weights download` again.",
        ) from exc
    return vae.to(device=device, dtype=dtype).eval().requires_grad_(False)


def crops_to_tensor(crops_bgr: np.ndarray, device: torch.device, dtype: torch.dtype, mask_lower: bool,
                    channels_last: bool | None = None) -> torch.Tensor:
    """(B, 256, 256, 3) uint8 BGR -> (B, 3, 256, 256) RGB in [-1, 1]; lower half black (-1) when masked.

    channels_last (None: on CUDA only) keeps the NHWC memory of the uint8 input, the layout cuDNN's tensor-core
    kernels prefer. On the CPU the tensor is made contiguous NCHW, as MuseTalk builds it: oneDNN picks other
    kernels for a channels-last input, and the latents then differ from MuseTalk's in the last bits.
    """
    if channels_last is None:
        channels_last = device.type == "cuda"
    # uint8 crosses to the device (4x fewer bytes than float), pinned and non-blocking on CUDA.
    x = to_device(torch.from_numpy(np.ascontiguousarray(crops_bgr[..., ::-1])), device).permute(0, 3, 1, 2)
    if not channels_last:
        x = x.contiguous()
    x = x.to(dtype).div(127.5).sub(1.0)  # bit-equal to MuseTalk's (x / 255 - 0.5) / 0.5 for every uint8 value
    if mask_lower:
        x[:, :, CROP_SIZE // 2 :, :] = -1.0
    return x


def encode_masked_and_reference(vae, crops_bgr: np.ndarray, device: torch.device, dtype: torch.dtype,
                                channels_last: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 256, 256, 3) uint8 BGR -> (masked latent, reference latent), each (B, 4, 32, 32) in ``dtype``.

    The UNet input of inference and training alike is ``cat([masked, reference], dim=1)``. On a GPU both
    halves go through the VAE in one call of 2B images. On the CPU each image is its own call, as in MuseTalk:
    oneDNN blocks a batch differently from a single image, and the latents would differ from MuseTalk's in the
    last bit (the speed hardly depends on the batch there). channels_last: see ``crops_to_tensor``.
    """
    n = crops_bgr.shape[0]
    x = torch.cat([crops_to_tensor(crops_bgr, device, dtype, True, channels_last),
                   crops_to_tensor(crops_bgr, device, dtype, False, channels_last)])
    lat = encode(vae, x) if device.type != "cpu" else torch.cat([encode(vae, x[i : i + 1]) for i in range(2 * n)])
    return lat[:n], lat[n:]


def encode(vae, images: torch.Tensor) -> torch.Tensor:
    """images: (B, 3, 256, 256) in [-1, 1] -> latents (B, 4, 32, 32) = mode() * 0.18215."""
    return vae.encode(images).latent_dist.mode() * LATENT_SCALE


def decode_raw(vae, latents: torch.Tensor) -> torch.Tensor:
    """latents (B, 4, 32, 32) -> the VAE's images (B, 3, 256, 256) in about [-1, 1], the latent's dtype.

    The one unscaling rule, for inference and the trainer's pixel loss: MuseTalk's ``(1 / 0.18215) * latents``
    (``latents / 0.18215`` rounds differently and flips 224 of 786,432 output bytes by one level).
    """
    return vae.decode((1 / LATENT_SCALE) * latents, return_dict=False)[0]


def decode(vae, latents: torch.Tensor) -> torch.Tensor:
    """latents (B, 4, 32, 32) -> images (B, 3, 256, 256) float32 RGB in [0, 1], always finite.

    In fp16 an activation can overflow to inf and turn a whole face into NaN; NaN would become black (0) after
    the uint8 cast. ``nan_to_num`` maps it to mid-grey and infinities to the range ends, on the device, without a
    host sync. (sd-vae-ft-mse decodes 256x256 crops in fp16 without overflow; this is the guard, not the path.)
    """
    images = decode_raw(vae, latents).float()
    images = torch.nan_to_num(images, nan=0.0, posinf=1.0, neginf=-1.0)
    return (images / 2 + 0.5).clamp(0, 1)


def images_to_bgr(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [0, 1] -> (B, H, W, 3) uint8 BGR on the host (the loop's only device->host copy)."""
    x = images.mul(255).round_().to(torch.uint8).permute(0, 2, 3, 1).flip(-1)
    return x.cpu().numpy()
