"""Run folders and the models they hold: export at the end of training, list finished runs, apply one to a UNet.

A run folder::

    config.json          TrainConfig + clip, audio, weights (written at the start)
    metrics.jsonl        one JSON line per step (loss terms, seconds per step) and per validation
    val/step_NNNNNN.png  validation frames: prediction | ground truth
    checkpoint/          latest training state (see checkpoint.py); --resume continues from it
    lora/                adapter_config.json + adapter_model.safetensors   (LoRA runs)
    unet.pth             the whole UNet, a bare state_dict as the official file  (--full runs)
    musetalk.json        its architecture, so unet.pth loads without the base weights' UNet  (--full runs)
    model.json           written last: which model the run holds, at which step; marks it usable
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from ..atomic import temp_beside, write_json_atomic
from ..models.finetuned import ADAPTER_CONFIG, ADAPTER_WEIGHTS, LORA_DIR, UNET_FILE
from ..models.unet import UNET_CONFIG

log = logging.getLogger(__name__)

MODEL_JSON = "model.json"
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
        tmp = temp_beside(out / ADAPTER_WEIGHTS)
        save_file(state, str(tmp))
        os.replace(tmp, out / ADAPTER_WEIGHTS)
        write_json_atomic(out / ADAPTER_CONFIG, adapter_cfg)
        path = out
    else:
        state = {k: v.detach().float().cpu() for k, v in unet.state_dict().items()}
        tmp = temp_beside(run_dir / UNET_FILE)
        torch.save(state, tmp)
        os.replace(tmp, run_dir / UNET_FILE)
        write_json_atomic(run_dir / UNET_CONFIG, {"_class_name": "UNet2DConditionModel", **_plain(unet.config)})
        path = run_dir / UNET_FILE
    write_json_atomic(run_dir / MODEL_JSON, {"kind": kind, **meta})
    return path


def _plain(config: Any) -> dict[str, Any]:
    """A diffusers FrozenDict config as JSON-ready values (tuples become lists), without private keys."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dict(config).items() if not k.startswith("_")}
