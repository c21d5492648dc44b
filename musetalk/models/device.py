"""Device and dtype, decided once and passed down."""
from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
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


def autocast_dtype(name: str, device: torch.device) -> torch.dtype | None:
    """The training autocast dtype; None = plain fp32. auto = bf16 on a CUDA GPU that has it or a CPU with native
    bf16, else fp32 (the trained weights stay fp32 either way)."""
    if name == "fp32":
        return None
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
        return torch.bfloat16 if device.type == "cpu" and cpu_has_fast_bf16() else None
    if name == "fp16" and device.type != "cuda":
        raise InputError("fp16 training needs a CUDA GPU.", "Use --dtype bf16 or fp32.")
    if name not in _DTYPES:
        raise InputError(f"Unknown dtype {name!r}.", "Use auto, fp32, fp16 or bf16.")
    return _DTYPES[name]


def available_memory() -> int | None:
    """Bytes of memory the system can still hand out (MemAvailable), or None when it cannot be told."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Host tensor -> ``device`` without stalling the host: pinned and non-blocking on CUDA.

    A plain ``.to("cuda")`` from pageable memory waits for the GPU to finish its queue; in the render loop
    that would be a per-batch sync. Other devices get a plain ``.to``.
    """
    if device.type != "cuda" or tensor.device.type != "cpu":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


# Working memory of one frame through VAE decode, the largest stage (estimated): its biggest activations are
# 256 channels x 256 x 256 fp32 = 64 MB, a few alive at once; half that in fp16/bf16.
_BYTES_PER_FRAME_FP32 = 0.25 * 2**30
MAX_AUTO_BATCH = 32


def auto_batch_size(device: torch.device, dtype: torch.dtype, budget_fraction: float = 0.5,
                    reserve_bytes: int = 0) -> int:
    """Frames per model call from free memory: CUDA free memory, else the host's available RAM.

    Uses ``budget_fraction`` of what is free, less ``reserve_bytes`` (the weights, when they are not loaded
    yet), for activations. On a CPU the speed hardly depends on the batch, so it is capped at 8 there to keep
    peak RSS low; on a GPU at 32.
    """
    per_frame = _BYTES_PER_FRAME_FP32 * (0.5 if dtype in (torch.float16, torch.bfloat16) else 1.0)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cap = MAX_AUTO_BATCH
    else:
        free = available_memory() or 4 * 2**30  # unknown platform: assume a modest machine
        cap = 8
    return int(max(1, min(cap, max(free - reserve_bytes, 0) * budget_fraction // per_frame)))


def choose_batch_size(weights_dir: str | os.PathLike[str], device: str, dtype: str) -> int:
    """``--batch-size auto`` before the models load: free memory less the weights' size in that dtype."""
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    root = Path(weights_dir)
    on_disk = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) if root.is_dir() else 0
    return auto_batch_size(dev, dt, reserve_bytes=int(on_disk * torch.finfo(dt).bits / 32))


def optimize_models(models, channels_last: bool | None = None, compile: bool = False):
    """Layout and compilation for speed, in place on ``models`` (a MuseTalkModels); returns it.

    channels_last (None = only on CUDA) lets cuDNN use its NHWC tensor-core kernels. On an AVX2 CPU (oneDNN,
    torch 2.13) it measured slower here: UNet 1.6x, VAE decode 1.3x, so it is not the CPU default. compile wraps
    the UNet and the VAE encoder/decoder in ``torch.compile`` (the first batches are slow while it compiles and
    each new batch size compiles again, so keep the batch size fixed).
    """
    if channels_last is None:
        channels_last = models.device.type == "cuda"
    if models.device.type == "cuda":
        # Batch shapes repeat (only the last batch differs), so cuDNN's per-shape algorithm search pays off.
        torch.backends.cudnn.benchmark = True
    if channels_last and models.device.type in ("cpu", "cuda"):
        models.unet.to(memory_format=torch.channels_last)
        models.vae.to(memory_format=torch.channels_last)
        models.channels_last = True
    if compile:
        models.unet = torch.compile(models.unet)
        models.vae.encoder = torch.compile(models.vae.encoder)
        models.vae.decoder = torch.compile(models.vae.decoder)
    return models
