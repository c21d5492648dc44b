"""VAE decode stays finite in half precision (no NaN faces, which would turn black), and layouts agree."""
from __future__ import annotations

import copy

import torch

from musetalk.models.vae import decode, encode


def test_fp16_decode_of_overflowing_latents_is_finite(tiny_models) -> None:
    vae = copy.deepcopy(tiny_models.vae).to(torch.float16)
    latents = torch.full((1, 4, 32, 32), 6e4, dtype=torch.float16)  # activations overflow fp16 -> inf/NaN
    images = decode(vae, latents)
    assert images.dtype == torch.float32
    assert torch.isfinite(images).all()
    assert images.min() >= 0 and images.max() <= 1


def test_channels_last_gives_the_same_latents_and_images(tiny_models) -> None:
    vae = tiny_models.vae
    cl = copy.deepcopy(vae).to(memory_format=torch.channels_last)
    torch.manual_seed(0)
    x = torch.rand(2, 3, 256, 256) * 2 - 1
    with torch.inference_mode():
        lat, lat_cl = encode(vae, x), encode(cl, x.contiguous(memory_format=torch.channels_last))
        assert torch.allclose(lat, lat_cl, atol=1e-4)
        assert torch.allclose(decode(vae, lat), decode(cl, lat), atol=1e-4)
