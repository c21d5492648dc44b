"""The MuseTalk UNet: a diffusers UNet2DConditionModel (8 -> 4 channels) run once at timestep 0."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..errors import WeightsError

UNET_CONFIG = "musetalk.json"
UNET_WEIGHTS = "unet.pth"


def load_unet(unet_dir: Path, device: torch.device, dtype: torch.dtype):
    """Build the UNet from ``musetalk.json`` and load the bare state_dict ``unet.pth``."""
    from diffusers import UNet2DConditionModel

    config_path, weights_path = unet_dir / UNET_CONFIG, unet_dir / UNET_WEIGHTS
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"Cannot read the UNet config {config_path}: {exc}.") from exc
    from accelerate import init_empty_weights

    # Build on the meta device and adopt the loaded (memory-mapped) tensors: one copy of the 3.4 GB fp32 UNet
    # in memory instead of two (random init + state dict) at load time.
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config({k: v for k, v in config.items() if not k.startswith("_")})
    state = load_state_dict(weights_path)
    try:
        unet.load_state_dict(state, assign=True)
    except RuntimeError as exc:
        raise WeightsError(
            f"{weights_path} does not match the architecture in {config_path}.",
            "Re-download the weights (python -m musetalk weights download).",
        ) from exc
    return unet.to(device=device, dtype=dtype).eval().requires_grad_(False)


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A bare state_dict from ``.pth`` (MuseTalk's format) or ``.safetensors``; corrupt -> WeightsError."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # truncated zip, pickle errors, safetensors header errors
        raise WeightsError(
            f"Cannot read {path}: the file is damaged or incomplete.",
            "Delete it and run `python -m musetalk weights download` again.",
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return state


def predict_latents(unet, latents: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
    """latents: (B, 8, 32, 32); audio: (B, 50, 384) with PE -> predicted face latents (B, 4, 32, 32)."""
    timesteps = torch.zeros(latents.shape[0], device=latents.device, dtype=torch.long)
    return unet(latents, timesteps, encoder_hidden_states=audio, return_dict=False)[0]
