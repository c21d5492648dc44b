"""VAE decode stays finite in half precision (no NaN faces, which would turn black), and layouts agree."""
from __future__ import annotations

import copy

import cv2
import numpy as np
import torch

from musetalk.models.vae import crops_to_tensor, decode, encode, images_to_bgr
from musetalk.render import FaceRenderer


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


def _musetalk_input(crop_bgr: np.ndarray, half_mask: bool) -> torch.Tensor:
    """A crop as MuseTalk v1.5's ``VAE.preprocess_img`` builds it: BGR -> RGB, / 255 in float64, FloatTensor,
    (C, H, W), lower half multiplied by 0 when masked, Normalize(0.5, 0.5), one image: contiguous NCHW."""
    img = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2RGB)
    x = torch.FloatTensor(np.transpose(np.asarray([img]) / 255.0, (3, 0, 1, 2))).squeeze()
    if half_mask:
        mask = torch.zeros(256, 256)
        mask[:128] = 1
        x = x * (mask > 0.5)
    x = (x - 0.5) / 0.5
    return x.unsqueeze(0)


def test_latent_of_a_crop_is_bit_identical_to_musetalks(tiny_models) -> None:
    """The 8-channel UNet input from the project's path equals, bit for bit, MuseTalk's: its masked and
    reference latents, each from a contiguous NCHW input, encoded one image per call."""
    rng = np.random.default_rng(7)
    crops = rng.integers(0, 256, (3, 256, 256, 3), dtype=np.uint8)
    vae = tiny_models.vae
    ours = FaceRenderer(tiny_models).encode(crops)
    with torch.inference_mode():
        for k, crop in enumerate(crops):
            masked = encode(vae, _musetalk_input(crop, True))
            ref = encode(vae, _musetalk_input(crop, False))
            theirs = torch.cat([masked, ref], dim=1)[0]
            assert torch.equal(ours[k], theirs), f"crop {k}: max diff {(ours[k] - theirs).abs().max():.3g}"


def test_cpu_encode_input_is_contiguous_and_cuda_keeps_channels_last() -> None:
    crops = np.zeros((2, 256, 256, 3), np.uint8)
    cpu = crops_to_tensor(crops, torch.device("cpu"), torch.float32, mask_lower=True)
    assert cpu.is_contiguous()
    nhwc = crops_to_tensor(crops, torch.device("cpu"), torch.float32, mask_lower=True, channels_last=True)
    assert nhwc.is_contiguous(memory_format=torch.channels_last) and not nhwc.is_contiguous()
    assert torch.equal(cpu, nhwc)


def test_decode_scales_latents_as_musetalk_does(tiny_models) -> None:
    """MuseTalk decodes ``(1 / 0.18215) * latents``; the image bytes equal that form's exactly."""
    torch.manual_seed(3)
    latents = torch.randn(2, 4, 32, 32)
    with torch.inference_mode():
        ours = images_to_bgr(decode(tiny_models.vae, latents))
        image = tiny_models.vae.decode((1 / 0.18215) * latents).sample
        image = (image / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).float().numpy()
        theirs = (image * 255).round().astype("uint8")[..., ::-1]
    assert np.array_equal(ours, theirs)
