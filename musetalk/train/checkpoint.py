"""Training state on disk, enough to continue exactly: trainable weights, optimizer and step.

``RUN_DIR/checkpoint/``: ``trainable.safetensors`` (the parameters being trained, by name), ``optimizer.pt``
(AdamW's state_dict, read back with ``weights_only=True``: tensors and numbers, no code), ``scaler.pt`` (fp16
runs only) and ``state.json`` (step, written last). No RNG state is needed: the samples of a step are a function of
the seed and the step (``dataset.ClipSet.step_samples``), and nothing else in a step draws random numbers. That is
also why a run saved by N processes resumes on M: the state is the same on every process, and only the main
process writes it. A new checkpoint is written beside the old one and swapped in, so an interrupted save leaves
the previous one intact.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError

CHECKPOINT_DIR = "checkpoint"


def trainable_state(unet) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().contiguous() for n, p in unet.named_parameters() if p.requires_grad}


def save_checkpoint(run_dir: Path, unet, optimizer, step: int, scaler=None) -> Path:
    """unet: the bare (unwrapped) model; optimizer: anything with ``state_dict()``."""
    from safetensors.torch import save_file

    final = run_dir / CHECKPOINT_DIR
    tmp = run_dir / f".{CHECKPOINT_DIR}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(trainable_state(unet), str(tmp / "trainable.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    if scaler is not None:
        torch.save(scaler.state_dict(), tmp / "scaler.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step}))
    old = run_dir / f".{CHECKPOINT_DIR}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoint_step(run_dir: Path) -> int | None:
    try:
        return int(json.loads((run_dir / CHECKPOINT_DIR / "state.json").read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_checkpoint(run_dir: Path, unet, optimizer, scaler=None) -> int:
    """Restore weights and optimizer (and fp16 scaler) states in place; returns the step it was taken at."""
    from safetensors.torch import load_file

    ckpt = run_dir / CHECKPOINT_DIR
    step = checkpoint_step(run_dir)
    if step is None:
        raise InputError(f"{run_dir} holds no checkpoint to resume from.", "Start a new run without --resume.")
    state: dict[str, Any] = load_file(str(ckpt / "trainable.safetensors"))
    params = dict(unet.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in state]
    if missing or any(n not in params for n in state):
        raise InputError(f"The checkpoint in {ckpt} does not match this model ({len(missing)} tensors missing).",
                         "Resume with the same weights and --lora-rank/--full as the original run.")
    with torch.no_grad():
        for n, t in state.items():
            params[n].copy_(t)
    optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", map_location="cpu", weights_only=True))
    if scaler is not None and (ckpt / "scaler.pt").is_file():
        scaler.load_state_dict(torch.load(ckpt / "scaler.pt", weights_only=True))
    return step
