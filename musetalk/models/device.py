"""Device and dtype, decided once and passed down."""
from __future__ import annotations

import functools
import logging
from typing import Literal

import torch

from ..errors import InputError

log = logging.getLogger(__name__)

DeviceName = Literal["auto", "cpu", "cuda", "mps"]
DtypeName = Literal["auto", "fp32", "fp16", "bf16"]

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA was requested but no CUDA device is available.", "Use --device cpu or auto.")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError("MPS was requested but is not available on this machine.", "Use --device cpu or auto.")
    if name not in ("cpu", "cuda", "mps"):
        raise InputError(f"Unknown device {name!r}.", "Use auto, cpu, cuda or mps.")
    return torch.device(name)


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 matmul (AVX512-BF16 or AMX); without it bf16 is emulated and slow."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """auto = fp16 on CUDA/MPS, bf16 on a CPU with native bf16, else fp32."""
    if name == "auto":
        if device.type in ("cuda", "mps"):
            return torch.float16
        return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
    if name not in _DTYPES:
        raise InputError(f"Unknown dtype {name!r}.", "Use auto, fp32, fp16 or bf16.")
    dtype = _DTYPES[name]
    if device.type == "cpu" and dtype == torch.float16:
        log.warning("fp16 on CPU is slow and poorly supported; bf16 or fp32 is better")
    return dtype
