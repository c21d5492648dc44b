"""Build every model from a weights folder, on one device and dtype, laid out for speed on that device."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..weights import UNET_DIR, VAE_DIR, WHISPER_DIR, check_weights, resolve_weights_dir
from .device import optimize_models, resolve_device, resolve_dtype

log = logging.getLogger(__name__)


@dataclass
class MuseTalkModels:
    """Built, frozen components. The pipeline and the trainer receive this; tests build it from tiny weights."""

    unet: Any  # diffusers UNet2DConditionModel
    vae: Any  # diffusers AutoencoderKL
    whisper: Any  # transformers WhisperEncoder
    feature_extractor: Any  # transformers WhisperFeatureExtractor
    device: torch.device
    dtype: torch.dtype
    weights_dir: Path
    channels_last: bool = False  # the convolutions run NHWC (set by ``optimize_models``)


def load_models(
    weights: str | os.PathLike[str] | None = None,
    device: str = "auto",
    dtype: str = "auto",
    finetuned: str | os.PathLike[str] | None = None,
    compile: bool = False,
    channels_last: bool | None = None,
) -> MuseTalkModels:
    """Check the folder, then load UNet (musetalk.json + unet.pth), VAE and Whisper-tiny encoder.

    finetuned: a training run folder (LoRA adapter) or a full ``unet.pth`` to apply on top of the base UNet.
    compile, channels_last: see ``optimize_models`` (channels_last None = on CUDA only).
    """
    from .audio import load_whisper
    from ..host_memory import reuse_freed_memory
    from .finetuned import apply_finetuned, standalone_unet_dir
    from .unet import load_unet
    from .vae import load_vae

    root = check_weights(resolve_weights_dir(weights))
    dev = resolve_device(device)
    if dev.type == "cpu":
        reuse_freed_memory()  # a no-op when an entry point already did it, before its threads started
    dt = resolve_dtype(dtype, dev)
    log.info("loading models from %s on %s (%s)", root, dev, dt)
    own = standalone_unet_dir(finetuned)  # a full run's UNet needs nothing of the base UNet
    unet = load_unet(own or root / UNET_DIR, dev, dt)
    if finetuned is not None and own is None:
        unet = apply_finetuned(unet, Path(finetuned), dev, dt)
    vae = load_vae(root / VAE_DIR, dev, dt)
    whisper, extractor = load_whisper(root / WHISPER_DIR, dev, dt)
    return optimize_models(MuseTalkModels(unet, vae, whisper, extractor, dev, dt, root), channels_last, compile)
