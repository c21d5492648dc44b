"""Fine-tuned UNets on top of the base weights: a LoRA adapter merged in, or a whole ``unet.pth`` loaded.

What a training run folder holds (``train/runs.py`` writes it)::

    lora/adapter_config.json + lora/adapter_model.safetensors     a LoRA run
    unet.pth (+ musetalk.json, its architecture)                  a full run
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch

from ..errors import InputError, WeightsError
from .unet import UNET_CONFIG, UNET_WEIGHTS, load_state_dict

log = logging.getLogger(__name__)

LORA_DIR = "lora"
UNET_FILE = UNET_WEIGHTS
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


def standalone_unet_dir(path: str | os.PathLike[str] | None) -> Path | None:
    """The folder of a fine-tuned whole UNet that carries its own architecture (``unet.pth`` beside a
    ``musetalk.json``, as full runs write it), so it loads without the base UNet; None otherwise."""
    if path is None:
        return None
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if path.is_dir() or path.name == UNET_FILE:
        if (folder / UNET_FILE).is_file() and (folder / UNET_CONFIG).is_file():
            return folder
    return None


def apply_finetuned(unet, path: Path, device: torch.device, dtype: torch.dtype):
    """Return the UNet with the fine-tuned model at ``path`` applied, on ``device`` in ``dtype``, frozen.

    ``path``: a run folder (its LoRA adapter is merged into ``unet``'s weights, or its ``unet.pth`` loaded), a
    ``lora`` folder, or a whole-UNet ``.pth`` / ``.safetensors`` state_dict. The result is a plain UNet: no
    peft layers. (A whole UNet with its own ``musetalk.json`` loads without a base: ``standalone_unet_dir``.)
    """
    path = Path(path)
    if path.is_dir() and (path / LORA_DIR / ADAPTER_WEIGHTS).is_file():
        unet = _merge_lora(unet, path / LORA_DIR)
    elif path.is_dir() and (path / ADAPTER_WEIGHTS).is_file():
        unet = _merge_lora(unet, path)
    else:
        if path.is_dir() and (path / UNET_FILE).is_file():
            path = path / UNET_FILE
        if not path.is_file():
            raise InputError(f"{path} holds no fine-tuned model.",
                             "Give a finished training run folder (with lora/ or unet.pth) or a unet.pth file.")
        unet = _load_full(unet, path)
    return unet.to(device=device, dtype=dtype).eval().requires_grad_(False)


def _load_full(unet, path: Path):
    state = load_state_dict(path)
    try:
        unet.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsError(f"{path} does not match the UNet architecture of the base weights.",
                           "Use the weights folder the run was trained from.") from exc
    log.info("loaded the whole UNet from %s", path)
    return unet


def _merge_lora(unet, lora_dir: Path):
    from peft import LoraConfig
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils import set_peft_model_state_dict
    from safetensors.torch import load_file

    try:
        cfg = json.loads((lora_dir / ADAPTER_CONFIG).read_text())
        state = load_file(str(lora_dir / ADAPTER_WEIGHTS))
    except Exception as exc:  # missing/corrupt json or safetensors
        raise WeightsError(f"Cannot read the LoRA adapter in {lora_dir}: {exc}.") from exc
    unet.add_adapter(LoraConfig(r=cfg["r"], lora_alpha=cfg["lora_alpha"], target_modules=cfg["target_modules"]))
    result = set_peft_model_state_dict(unet, state)
    if getattr(result, "unexpected_keys", None):
        raise WeightsError(f"The LoRA adapter in {lora_dir} does not fit this UNet.",
                           "Use the weights folder the run was trained from.")
    # Merge every LoRA layer into its base layer and put the base layer back: a plain, fast UNet.
    for name, module in list(unet.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            setattr(unet.get_submodule(parent_name) if parent_name else unet, child, module.get_base_layer())
    unet._hf_peft_config_loaded = False
    if hasattr(unet, "peft_config"):
        del unet.peft_config
    log.info("merged the LoRA adapter from %s", lora_dir)
    return unet
