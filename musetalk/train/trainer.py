"""``train(job, cfg)``: the one entry point of training; the CLI (``--clip`` or ``--data``, with or without
``accelerate launch``) and the app's fine-tune tab all call it.

It prepares the data into the dataset cache (one clip, or every clip of DATA; the main process prepares, the
others wait), opens the clips memory-mapped, builds the sampler and the trainee, and runs ``loop.Trainer``. One
clip is the one-clip case of the same dataset: its end is held out for validation instead of whole clips.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..atomic import exclusive, write_json_atomic
from ..config import Progress, no_progress
from ..errors import InputError
from ..models import MuseTalkModels, load_models
from ..models.device import resolve_device
from .cache import is_prepared, open_clip, read_manifest
from .checkpoint import checkpoint_step
from .clip_features import check_clip, weights_id
from .clip_list import ClipSource, list_clips, source_name
from .config import TrainConfig
from .dataset import ClipSet
from .distributed import launched_processes, make_accelerator, mixed_precision
from .loop import Trainer, load_metrics  # noqa: F401 - load_metrics: the UI reads runs through this module
from .prepare import PrepareConfig
from .prepare_set import prepare_dataset
from .validation import ValHook

log = logging.getLogger(__name__)

CONFIG_JSON = "config.json"
RESUME_CHANGEABLE = ("steps", "save_every", "val_every")


@dataclass
class TrainJob:
    """What to train on and where the run goes: one ``clip`` (with ``audio`` when it has no sound of its own) or
    ``data`` (a folder or list of clips, or a prepared dataset cache). ``cache_dir`` (default ``out/prep``) holds
    the prepared clips; ``workers``, ``split_seconds`` and ``min_face`` apply when preparing ``data``."""

    clip: Path | None
    out: Path
    weights: Path | None = None
    audio: Path | None = None
    device: str = "auto"
    cache_dir: Path | None = None
    data: Path | None = None
    workers: int = 1
    split_seconds: float = 0.0
    min_face: int = 0


@dataclass
class TrainResult:
    run_dir: Path
    status: str  # "finished" or "stopped"
    step: int
    model_path: Path


def train(job: TrainJob, cfg: TrainConfig, resume: bool = False, stop: threading.Event | None = None,
          progress: Progress = no_progress, models: MuseTalkModels | None = None, bar: bool = False,
          val_hooks: list[ValHook] | None = None) -> TrainResult:
    """Prepare the data (cached), build the trainee, train ``cfg.steps`` steps (or continue to them on resume).

    models: built fp32 models to train with (the app hands over its own, so the frozen VAE and Whisper are not
    loaded twice; the trainee is then a copy of their UNet). None: loaded from ``job.weights`` on ``job.device``.
    bar: a tqdm bar of samples/s on the main process. val_hooks: see ``validation.ValHook``.
    """
    run_dir = Path(job.out)
    if resume:
        job, cfg = _resume_settings(run_dir, job, cfg)
    elif (run_dir / CONFIG_JSON).exists():
        raise InputError(f"{run_dir} already holds a training run.",
                         "Add --resume to continue it, or choose another --out.")
    cfg.validate()
    sources = _sources(job)  # fail fast on bad input, before any model loads
    shared = models is not None and models.dtype == torch.float32
    device = models.device if shared else resolve_device(job.device)
    acc = make_accelerator(device, mixed_precision(cfg.mixed_precision, device))
    # One run per folder: the main process holds the lock (the others are its own workers).
    lock = (exclusive(run_dir.with_name(f".{run_dir.name}.lock"), f"Another process is training {run_dir} right "
                      "now.", "Wait for it to finish, or use another --out.")
            if acc.is_main_process else contextlib.nullcontext())
    with lock:
        if not shared:
            models = load_models(job.weights, acc.device.type, "fp32")
        data = _dataset(job, cfg, sources, models, acc, run_dir, progress)
        if not resume:
            cfg = dataclasses.replace(cfg, processes=acc.num_processes)
            if acc.is_main_process:
                _write_config(run_dir, job, cfg, models)
        trainer = Trainer(models, data, cfg, run_dir, acc, copy_unet=shared, val_hooks=val_hooks)
        start = trainer.restore() if resume else 0
        step, status = trainer.fit(start, stop or threading.Event(), progress, bar)
        path = trainer.export(step, status)
    log.info("%s at step %d: model in %s", status, step, path)
    return TrainResult(run_dir, status, step, path)


def _sources(job: TrainJob) -> list[ClipSource] | None:
    """The clips to prepare (None: ``job.data`` is an already prepared cache)."""
    if job.data is not None:
        return None if is_prepared(job.data) else list_clips(Path(job.data))
    if job.clip is None:
        raise InputError("Training needs a clip or a dataset.", "Give --clip FILE or --data DATA.")
    clip = Path(job.clip)
    check_clip(clip, job.audio)
    return [ClipSource(clip, Path(job.audio) if job.audio else None, source_name(clip, clip.parent))]


def _dataset(job: TrainJob, cfg: TrainConfig, sources: list[ClipSource] | None, models: MuseTalkModels, acc,
             run_dir: Path, progress: Progress) -> ClipSet:
    cache = Path(job.data) if sources is None else Path(job.cache_dir or run_dir / "prep")
    error = None
    if sources is not None and acc.is_main_process:
        pcfg = PrepareConfig(cfg.face, job.split_seconds, job.min_face)
        report = prepare_dataset(sources, cache, pcfg, models=models, workers=job.workers, progress=progress)
        for line in report.lines()[:-1]:
            log.warning(line)
        if job.data is None and report.skipped:  # the one clip: its problem is the run's problem
            error = InputError(report.skipped[0].skipped)
    acc.wait_for_everyone()
    if error is not None:
        raise error
    manifest = read_manifest(cache)
    if manifest["settings"]["weights"] != weights_id(models.weights_dir):
        raise InputError(f"{cache} was prepared with other VAE or Whisper weights than {models.weights_dir}.",
                         "Prepare it again with these --weights, or train with the weights it was made with.")
    if not manifest["clips"]:
        raise InputError(f"No clip of {job.data or job.clip} could be prepared; see the report above.")
    clips = [open_clip(cache, c["name"]) for c in manifest["clips"]]
    return ClipSet(clips, cfg.val_clips, cfg.val_fraction, cfg.min_ref_distance, cfg.syncnet_t, cfg.seed,
                   cfg.val_frames)


def saved_train_config(run_dir: Path) -> TrainConfig:
    """The config a run was started with (``InputError`` when ``run_dir`` holds no run)."""
    return TrainConfig.from_dict(_saved_run(run_dir)["train"])


def _saved_run(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / CONFIG_JSON).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{run_dir} holds no training run to resume.", "Start it without --resume.") from exc


def _resume_settings(run_dir: Path, job: TrainJob, cfg: TrainConfig) -> tuple[TrainJob, TrainConfig]:
    """The saved job and config rule; only the step count (and save/val cadence) may change on resume, and the
    per-process batch follows the number of processes so that the global batch stays the run's."""
    saved = _saved_run(run_dir)
    old = TrainConfig.from_dict(saved["train"])
    new_cfg = dataclasses.replace(old, **{k: getattr(cfg, k) for k in RESUME_CHANGEABLE})
    done = checkpoint_step(run_dir)
    if done is None:
        raise InputError(f"{run_dir} has no checkpoint to resume from.",
                         "It was stopped before its first checkpoint; start it again without --resume.")
    if new_cfg.steps <= done:
        raise InputError(f"{run_dir} is already at step {done}; --steps {new_cfg.steps} leaves nothing to train.",
                         f"Give --steps above {done} to train further.")
    new_cfg = _rebatch(new_cfg, launched_processes())
    j = saved["job"]

    def path(key: str) -> Path | None:
        return Path(j[key]) if j.get(key) else None

    new_job = TrainJob(path("clip"), run_dir, path("weights"), path("audio"), job.device,
                       path("cache_dir") or job.cache_dir, path("data"), job.workers,
                       j.get("split_seconds", 0.0), j.get("min_face", 0))
    return new_job, new_cfg


def _rebatch(cfg: TrainConfig, processes: int) -> TrainConfig:
    total = cfg.batch_size * cfg.processes
    if total % processes:
        raise InputError(f"The run's global batch of {total} samples per micro-batch does not split over "
                         f"{processes} processes.", f"Resume with a number of processes that divides {total}.")
    return dataclasses.replace(cfg, batch_size=total // processes, processes=processes)


def _write_config(run_dir: Path, job: TrainJob, cfg: TrainConfig, models: MuseTalkModels) -> None:
    def resolved(p: Path | None) -> str | None:
        return str(Path(p).resolve()) if p else None

    job_dict = {"clip": resolved(job.clip), "audio": resolved(job.audio), "data": resolved(job.data),
                "weights": str(models.weights_dir.resolve()), "cache_dir": resolved(job.cache_dir),
                "split_seconds": job.split_seconds, "min_face": job.min_face}
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / CONFIG_JSON, {"train": cfg.to_dict(), "job": job_dict})
