"""``train``: train the UNet on one clip (``--clip``) or a dataset of many (``--data``), LoRA by default, with
checkpoints and resume; ``accelerate launch -m musetalk train ...`` runs the same command data-parallel."""
from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from pathlib import Path

from typing import Any

from ..config import DEVICES, DTYPES
from ..errors import InputError
from ..train.config import TrainConfig
from .common import WEIGHTS_HELP, add_face_args, face_config, quiet_libraries, tqdm_progress
from .dataset import add_prepare_args

D = TrainConfig()


def register(sub: Any) -> None:
    t = sub.add_parser(
        "train", help="train the UNet on a clip or a dataset of clips (LoRA by default)",
        description="Train on CLIP (a video of one face talking, with its own sound or --audio) or on DATA (a "
                    "folder of clips, a text file listing them, or a cache made by `dataset prepare`). "
                    "The run folder gets metrics.jsonl, loss_curve.png, validation frames, checkpoints and the "
                    "model (lora/ or unet.pth); use it with `generate --lora RUN_DIR`. Under `accelerate launch "
                    "-m musetalk train ...` it trains data-parallel over the launched processes.")
    src = t.add_mutually_exclusive_group()
    src.add_argument("--clip", help="one training video (--clip or --data is required unless --resume)")
    src.add_argument("--data", help="a folder of clips, a list file (one video per line), or a prepared cache; "
                                    "a clip's speech is its own sound or a sidecar audio file of the same name")
    t.add_argument("--audio", help="the speech of --clip, when the clip has no (or other) sound")
    t.add_argument("--out", required=True, help="run folder")
    t.add_argument("--weights", help="base " + WEIGHTS_HELP)
    t.add_argument("--init", choices=["official", "random"], default=D.init,
                   help="start from the weights' UNet (official) or from scratch (random, needs --full)")
    mode = t.add_mutually_exclusive_group()
    mode.add_argument("--lora-rank", type=int, default=None, help=f"LoRA rank (default {D.lora_rank})")
    mode.add_argument("--full", action="store_true", help="train every UNet weight instead of a LoRA adapter")
    t.add_argument("--steps", type=int, help=f"optimizer steps in all (default {D.steps}; on --resume, the run's)")
    t.add_argument("--batch-size", type=int, default=D.batch_size, help=f"samples per step (default {D.batch_size})")
    t.add_argument("--grad-accum", type=int, default=D.grad_accum, help="micro-batches per optimizer step")
    t.add_argument("--grad-checkpointing", action="store_true", help="trade compute for memory")
    t.add_argument("--lr", type=float, default=D.lr, help=f"AdamW learning rate (default {D.lr:g})")
    t.add_argument("--pixel-weight", type=float, default=D.pixel_weight,
                   help=f"weight of L1(decoded face, target face) (default {D.pixel_weight:g})")
    t.add_argument("--latent-weight", type=float, default=D.latent_weight,
                   help=f"weight of L1(predicted latent, target latent) (default {D.latent_weight:g})")
    t.add_argument("--min-ref-distance", type=int, default=D.min_ref_distance,
                   help=f"frames between a target and its reference, at least (default {D.min_ref_distance})")
    t.add_argument("--syncnet-t", type=int, default=D.syncnet_t, help="consecutive frames per sample")
    t.add_argument("--val-clips", type=val_clips_arg, default=D.val_clips,
                   help="clips of --data held out whole for validation: a count K, or names separated by "
                        "commas (default 0: the end of every clip is held out instead)")
    t.add_argument("--val-fraction", type=float, default=D.val_fraction,
                   help=f"with no clip held out: last part of each clip held out (default {D.val_fraction:g})")
    t.add_argument("--val-every", type=int,
                   help=f"validation every K steps (default {D.val_every}; 0 = start and end only)")
    t.add_argument("--val-frames", type=int, default=D.val_frames,
                   help="held-out frames in the validation loss; the sync score needs them all (a number at least "
                        "the held-out frame count)")
    t.add_argument("--no-val-sync", dest="val_sync", action="store_false",
                   help="leave out the offline sync score of the held-out clips (face mesh on each validation)")
    t.add_argument("--save-every", type=int,
                   help=f"checkpoint every K steps, and at the end (default {D.save_every}; 0 = end only)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    t.add_argument("--seed", type=int, default=D.seed, help=f"(default {D.seed})")
    t.add_argument("--cache-dir", help="where the prepared clips are cached (default RUN_DIR/prep)")
    add_prepare_args(t)
    t.add_argument("--device", default="auto", choices=DEVICES)
    t.add_argument("--dtype", default="auto", choices=DTYPES,
                   help="autocast dtype; auto = bf16 on a GPU or CPU with native bf16, else fp32")
    add_face_args(t)
    t.set_defaults(func=cmd_train)


def val_clips_arg(text: str) -> int | list[str]:
    """``--val-clips``: a count, or clip names separated by commas."""
    if text.strip().isdigit():
        return int(text)
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected a count or clip names separated by commas, got {text!r}")
    return names


def config_from_args(ns: argparse.Namespace) -> TrainConfig:
    from ..train.trainer import RESUME_CHANGEABLE, saved_train_config

    # Unset step count and cadences: the defaults for a new run, the run's own values on --resume.
    base = saved_train_config(Path(ns.out)) if ns.resume else D
    for key in RESUME_CHANGEABLE:
        if getattr(ns, key) is None:
            setattr(ns, key, getattr(base, key))
    rank = None if ns.full or ns.init == "random" and ns.lora_rank is None else (ns.lora_rank or D.lora_rank)
    cfg = TrainConfig(
        init=ns.init, lora_rank=rank, steps=ns.steps, batch_size=ns.batch_size, grad_accum=ns.grad_accum,
        lr=ns.lr, pixel_weight=ns.pixel_weight, latent_weight=ns.latent_weight,
        min_ref_distance=ns.min_ref_distance, syncnet_t=ns.syncnet_t, val_fraction=ns.val_fraction,
        val_clips=ns.val_clips, val_every=ns.val_every, val_frames=ns.val_frames, val_sync=ns.val_sync,
        save_every=ns.save_every, seed=ns.seed,
        grad_checkpointing=ns.grad_checkpointing,
        mixed_precision=ns.dtype, face=face_config(ns),
    )
    if ns.resume:
        _refuse_changed_settings(cfg, base, Path(ns.out))
    return cfg


def _refuse_changed_settings(cfg: TrainConfig, saved: TrainConfig, run_dir: Path) -> None:
    """A resumed run continues with its own settings; a non-default value that differs was meant to change one."""
    from ..train.trainer import RESUME_CHANGEABLE

    changed = [f"{f.name} {getattr(cfg, f.name)} (the run has {getattr(saved, f.name)})"
               for f in dataclasses.fields(TrainConfig) if f.name not in RESUME_CHANGEABLE
               and getattr(cfg, f.name) != getattr(saved, f.name) and getattr(cfg, f.name) != getattr(D, f.name)]
    if changed:
        raise InputError(f"--resume continues {run_dir} with its own settings, but these were given differently: "
                         f"{'; '.join(changed)}.",
                         "Drop them to resume, or start a new run with another --out.")


def cmd_train(ns: argparse.Namespace) -> int:
    from ..train.trainer import TrainJob, train

    if not ns.clip and not ns.data and not ns.resume:
        raise InputError("train needs --clip (one video) or --data (a dataset of clips).")
    if ns.audio and ns.data:
        raise InputError("--audio goes with --clip; clips of --data carry their own sound or a sidecar audio file.")
    cfg = config_from_args(ns)
    quiet_libraries(ns)

    def path(value: str | None) -> Path | None:
        return Path(value) if value else None

    job = TrainJob(path(ns.clip), Path(ns.out), path(ns.weights), path(ns.audio), ns.device, path(ns.cache_dir),
                   path(ns.data), ns.workers, ns.split_seconds, ns.min_face)
    bars, close = tqdm_progress()

    def update(stage: str, done: int, total: int) -> None:  # training draws its own bar, in samples/s
        if stage != "train":
            bars(stage, done, total)

    stop = threading.Event()

    def on_interrupt(signum, frame) -> None:  # first Ctrl-C: stop after this step, with a checkpoint
        print("\nstopping after this step (Ctrl-C again to abort)...", file=sys.stderr)
        stop.set()
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        result = train(job, cfg, resume=ns.resume, stop=stop, progress=update, bar=True)
    finally:
        signal.signal(signal.SIGINT, previous)
        close()
    if os.environ.get("RANK", "0") != "0":  # one report per run, from the main process of a launch
        return 0
    print(f"{result.status} at step {result.step}: model in {result.model_path}")
    use = f"--unet {result.model_path}" if Path(result.model_path).suffix == ".pth" else f"--lora {result.run_dir}"
    print(f"use it with: python -m musetalk generate {use} ...")
    return 0
