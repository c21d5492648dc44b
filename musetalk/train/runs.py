"""Run folders and the models they hold: export at the end of training, list finished runs, apply one to a UNet.

A run folder::

    config.json          TrainConfig + clip, audio, weights (written at the start)
    metrics.jsonl        one JSON line per step (loss terms, seconds per step) and per validation
    val/step_NNNNNN.png  validation frames: prediction | ground truth
    checkpoint/          latest training state (see checkpoint.py); --resume continues from it
    lora/                adapter_config.json + adapter_model.safetensors   (LoRA runs)
    unet.pth             the whole UNet, a bare state_dict as the official file  (--full runs)
    model.json           written last: which model the run holds, at which step; marks it usable
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError, WeightsError

log = logging.getLogger(__name__)

MODEL_JSON = "model.json"
LORA_DIR = "lora"
UNET_FILE = "unet.pth"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
# The attention projections of every diffusers Attention block (self- and cross-attention).
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def read_model_json(run_dir: Path) -> dict[str, Any] | None:
    """The run's model.json when it names a model file that exists, else None."""
    try:
        meta = json.loads((run_dir / MODEL_JSON).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(meta, dict):
        return None
    if meta.get("kind") == "lora" and (run_dir / LORA_DIR / ADAPTER_WEIGHTS).is_file():
        return meta
    if meta.get("kind") == "full" and (run_dir / UNET_FILE).is_file():
        return meta
    return None


def list_finished_runs(runs_dir: Path) -> list[str]:
    """Names of the run folders in ``runs_dir`` that hold a usable model (finished or stopped with a save)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    return sorted(p.name for p in runs_dir.iterdir() if p.is_dir() and read_model_json(p) is not None)


# --------------------------------------------------------------------------------------------- LoRA


def add_lora(unet, rank: int) -> None:
    """Inject a LoRA adapter (rank ``rank``, alpha = rank) into the UNet's attention projections, in place."""
    from peft import LoraConfig

    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=LORA_TARGETS))


def export_model(unet, run_dir: Path, kind: str, meta: dict[str, Any]) -> Path:
    """Write the trained model into the run folder (adapter or whole UNet), then model.json. Returns its path."""
    from safetensors.torch import save_file

    run_dir.mkdir(parents=True, exist_ok=True)
    if kind == "lora":
        from peft.utils import get_peft_model_state_dict

        out = run_dir / LORA_DIR
        out.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().float().cpu().contiguous() for k, v in get_peft_model_state_dict(unet).items()}
        cfg = unet.peft_config["default"]
        adapter_cfg = {"r": cfg.r, "lora_alpha": cfg.lora_alpha, "target_modules": sorted(cfg.target_modules)}
        tmp = out / f".{ADAPTER_WEIGHTS}.tmp"
        save_file(state, str(tmp))
        os.replace(tmp, out / ADAPTER_WEIGHTS)
        (out / ADAPTER_CONFIG).write_text(json.dumps(adapter_cfg, indent=2))
        path = out
    else:
        state = {k: v.detach().float().cpu() for k, v in unet.state_dict().items()}
        tmp = run_dir / f".{UNET_FILE}.tmp"
        torch.save(state, tmp)
        os.replace(tmp, run_dir / UNET_FILE)
        path = run_dir / UNET_FILE
    tmp_meta = run_dir / f".{MODEL_JSON}.tmp"
    tmp_meta.write_text(json.dumps({"kind": kind, **meta}, indent=2))
    os.replace(tmp_meta, run_dir / MODEL_JSON)
    return path


def apply_finetuned(unet, path: Path):
    """Return ``unet`` with a fine-tuned model applied.

    ``path``: a run folder (its LoRA adapter is merged into the weights, or its ``unet.pth`` loaded), a ``lora``
    folder, or a whole-UNet ``.pth`` / ``.safetensors`` state_dict. The result is a plain UNet: no peft layers.
    """
    path = Path(path)
    if path.is_dir() and (path / LORA_DIR / ADAPTER_WEIGHTS).is_file():
        return _merge_lora(unet, path / LORA_DIR)
    if path.is_dir() and (path / ADAPTER_WEIGHTS).is_file():
        return _merge_lora(unet, path)
    if path.is_dir() and (path / UNET_FILE).is_file():
        path = path / UNET_FILE
    if path.is_file():
        return _load_full(unet, path)
    raise InputError(f"{path} holds no fine-tuned model.",
                     "Give a finished training run folder (with lora/ or unet.pth) or a unet.pth file.")


def _load_full(unet, path: Path):
    from ..models.unet import load_state_dict

    state = load_state_dict(path)
    try:
        unet.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsError(f"{path} does not match the UNet architecture of the base weights.",
                           "Use the weights folder the run was trained from.") from exc
    log.info("loaded the whole UNet from %s", path)
    return unet


def _merge_lora(unet, lora_dir: Path):
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils import set_peft_model_state_dict
    from safetensors.torch import load_file

    try:
        cfg = json.loads((lora_dir / ADAPTER_CONFIG).read_text())
        state = load_file(str(lora_dir / ADAPTER_WEIGHTS))
    except Exception as exc:  # missing/corrupt json or safetensors
        raise WeightsError(f"Cannot read the LoRA adapter in {lora_dir}: {exc}.") from exc
    from peft import LoraConfig

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
