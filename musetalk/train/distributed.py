"""The accelerate side of training: one ``Accelerator`` per run, the precision it trains in, and each process's
shard of a step's global batch.

``accelerate launch -m musetalk train ...`` starts one process per GPU (or CPU worker, over gloo) on one or many
machines; each builds the same trainee from the same seed, DDP averages the gradients, and every process takes
its own slice of the step's samples. A plain ``python -m musetalk train`` is the one-process case of the same code.
"""
from __future__ import annotations

import os

import torch

from ..models.device import autocast_dtype

PRECISION = {None: "no", torch.bfloat16: "bf16", torch.float16: "fp16"}


def launched_processes() -> int:
    """Processes of this run as the launcher set them up (WORLD_SIZE), before any process group exists."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def mixed_precision(name: str, device: torch.device) -> str:
    """accelerate's precision name for ``--dtype``: auto keeps what ``accelerate launch --mixed_precision`` (or
    its config file) chose, else the project's rule (bf16 where the device runs it natively, else fp32)."""
    if name == "auto":
        launched = os.environ.get("ACCELERATE_MIXED_PRECISION", "no")
        if launched != "no":
            return launched
    return PRECISION[autocast_dtype(name, device)]


def make_accelerator(device: torch.device, precision: str):
    """An Accelerator on ``device``'s kind (cpu, cuda, mps) in ``precision`` ("no", "bf16", "fp16")."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    if launched_processes() == 1:
        # accelerate keeps its state per process and refuses a second Accelerator with other settings; a single
        # process (the app, a test session) trains many runs, each with its own device and precision.
        AcceleratorState._reset_state(reset_partial_state=True)
    return Accelerator(cpu=device.type == "cpu", mixed_precision=precision)


def shard(samples: list, micro: int, rank: int, processes: int, batch_size: int) -> list:
    """The samples of micro-batch ``micro`` on process ``rank``: the global batch is laid out micro-batch by
    micro-batch, each split in rank order, so one process with batch B*P sees what P processes of B see together."""
    start = (micro * processes + rank) * batch_size
    return samples[start : start + batch_size]
