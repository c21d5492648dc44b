"""The fine-tuning loop: LoRA (default) or whole-UNet training on one clip, with checkpoints and exact resume.

``train(job, cfg)`` is the one entry point; the CLI and the app's fine-tune tab both call it. Every step appends a
line to ``RUN_DIR/metrics.jsonl``; validation (loss on held-out frames, and one frame: prediction | ground truth)
runs at step 0, every ``val_every`` steps and at the end. Setting ``stop`` (a ``threading.Event``) ends the run
after the current step with a checkpoint and a usable model.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import exclusive, write_json_atomic
from ..config import Progress, no_progress
from ..errors import InputError
from ..models import MuseTalkModels, load_models
from ..models.device import autocast_dtype
from ..render import FaceRenderer
from .checkpoint import checkpoint_step, load_checkpoint, save_checkpoint
from .clip_features import check_clip, load_clip_features
from .config import TrainConfig
from .dataset import ClipDataset
from .loss import composite_loss
from .runs import add_lora, export_model

log = logging.getLogger(__name__)

CONFIG_JSON = "config.json"
METRICS = "metrics.jsonl"
VAL_DIR = "val"


@dataclass
class TrainJob:
    """What to train on and where the run goes. ``cache_dir`` (default ``out/prep``) holds the prepared clip."""

    clip: Path
    out: Path
    weights: Path | None = None
    audio: Path | None = None
    device: str = "auto"
    cache_dir: Path | None = None


@dataclass
class TrainResult:
    run_dir: Path
    status: str  # "finished" or "stopped"
    step: int
    model_path: Path


def train(job: TrainJob, cfg: TrainConfig, resume: bool = False, stop: threading.Event | None = None,
          progress: Progress = no_progress, models: MuseTalkModels | None = None) -> TrainResult:
    """Encode the clip (cached), build the trainee, train ``cfg.steps`` steps (or continue to them on resume).

    models: built fp32 models to train with (the app hands over its own, so the frozen VAE and Whisper are not
    loaded twice; the trainee is then a copy of their UNet). None: loaded from ``job.weights`` on ``job.device``.
    """
    run_dir = Path(job.out)
    # One process per run folder: two trainings of one run would interleave checkpoints and metrics.
    with exclusive(run_dir.with_name(f".{run_dir.name}.lock"), f"Another process is training {run_dir} right now.",
                   "Wait for it to finish, or use another --out."):
        return _train(run_dir, job, cfg, resume, stop, progress, models)


def _train(run_dir: Path, job: TrainJob, cfg: TrainConfig, resume: bool, stop: threading.Event | None,
           progress: Progress, models: MuseTalkModels | None) -> TrainResult:
    if resume:
        job, cfg = _resume_settings(run_dir, job, cfg)
    elif (run_dir / CONFIG_JSON).exists():
        raise InputError(f"{run_dir} already holds a training run.",
                         "Add --resume to continue it, or choose another --out.")
    cfg.validate()
    info = check_clip(Path(job.clip), job.audio)
    shared = models is not None and models.dtype == torch.float32
    if not shared:
        models = load_models(job.weights, job.device, "fp32")
    amp = autocast_dtype(cfg.mixed_precision, models.device)
    cache_dir = Path(job.cache_dir or run_dir / "prep")
    clip = load_clip_features(models, Path(job.clip), cache_dir, cfg.face, job.audio, progress, info)
    data = ClipDataset(clip, cfg.val_fraction, cfg.min_ref_distance, cfg.syncnet_t)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        _write_config(run_dir, job, cfg, models)
    trainer = Trainer(models, data, cfg, run_dir, amp, copy_unet=shared)
    start = trainer.restore() if resume else 0
    return trainer.fit(start, stop or threading.Event(), progress)


RESUME_CHANGEABLE = ("steps", "save_every", "val_every")


def saved_train_config(run_dir: Path) -> TrainConfig:
    """The config a run was started with (``InputError`` when ``run_dir`` holds no run)."""
    return TrainConfig.from_dict(_saved_run(run_dir)["train"])


def _saved_run(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / CONFIG_JSON).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{run_dir} holds no training run to resume.", "Start it without --resume.") from exc


def _resume_settings(run_dir: Path, job: TrainJob, cfg: TrainConfig) -> tuple[TrainJob, TrainConfig]:
    """The saved job and config rule; only the step count (and save/val cadence) may change on resume."""
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
    j = saved["job"]
    new_job = TrainJob(Path(j["clip"]), run_dir, Path(j["weights"]), Path(j["audio"]) if j["audio"] else None,
                       job.device, Path(j["cache_dir"]) if j.get("cache_dir") else job.cache_dir)
    return new_job, new_cfg


def _write_config(run_dir: Path, job: TrainJob, cfg: TrainConfig, models: MuseTalkModels) -> None:
    job_dict = {"clip": str(Path(job.clip).resolve()), "audio": str(Path(job.audio).resolve()) if job.audio else None,
                "weights": str(models.weights_dir.resolve()),
                "cache_dir": str(Path(job.cache_dir).resolve()) if job.cache_dir else None}
    write_json_atomic(run_dir / CONFIG_JSON, {"train": cfg.to_dict(), "job": job_dict})


class Trainer:
    """Holds the trainee UNet, the frozen VAE, the optimizer and the sampler; runs steps and validation."""

    def __init__(self, models: MuseTalkModels, data: ClipDataset, cfg: TrainConfig, run_dir: Path,
                 amp: torch.dtype | None = None, copy_unet: bool = False) -> None:
        """copy_unet: train a copy of ``models.unet`` (whose owner keeps using it), not the UNet itself."""
        self.models, self.data, self.cfg, self.run_dir, self.amp = models, data, cfg, run_dir, amp
        self.device = models.device
        run_dir.mkdir(parents=True, exist_ok=True)
        self.unet = self._build_unet(copy_unet)
        self.vae = models.vae
        if cfg.grad_checkpointing:
            self.unet.enable_gradient_checkpointing()
            self.vae.enable_gradient_checkpointing()
        self.params = [p for p in self.unet.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=amp == torch.float16)
        self.sampler = torch.Generator().manual_seed(cfg.seed)
        self.renderer = FaceRenderer(dataclasses.replace(models, unet=self.unet))

    def _build_unet(self, copy_unet: bool):
        cfg, unet = self.cfg, self.models.unet
        torch.manual_seed(self.cfg.seed)
        if cfg.init == "random":
            from diffusers import UNet2DConditionModel

            unet = UNet2DConditionModel.from_config(unet.config).to(self.device)
        elif copy_unet:
            unet = copy.deepcopy(unet)
        if cfg.lora_rank is None:
            unet.requires_grad_(True)
        else:
            add_lora(unet, cfg.lora_rank)
        n = sum(p.numel() for p in unet.parameters() if p.requires_grad)
        log.info("training %s: %.2fM parameters", cfg.mode, n / 1e6)
        return unet.train()

    def restore(self) -> int:
        step = load_checkpoint(self.run_dir, self.unet, self.optimizer, self.sampler)
        _truncate_metrics(self.run_dir / METRICS, step)
        log.info("resumed %s at step %d", self.run_dir, step)
        return step

    def _autocast(self):
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def train_step(self) -> dict[str, float]:
        """One optimizer step over grad_accum micro-batches; returns the mean loss terms."""
        cfg = self.cfg
        self.optimizer.zero_grad(set_to_none=True)
        sums = {"loss": 0.0, "pixel": 0.0, "latent": 0.0}
        for _ in range(cfg.grad_accum):
            targets, refs = self.data.sample(cfg.batch_size, self.sampler)
            batch = self.data.batch(targets, refs, self.device)
            with self._autocast():
                terms = composite_loss(self.unet, self.vae, batch, cfg.pixel_weight, cfg.latent_weight)
            self.scaler.scale(terms.total / cfg.grad_accum).backward()
            for k, v in terms.values().items():
                sums[k] += v / cfg.grad_accum
        self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return {**sums, "grad_norm": float(grad_norm)}

    @torch.no_grad()
    def validate(self, step: int) -> dict[str, float]:
        """Loss on up to val_frames held-out frames (fixed references); writes val/step_NNNNNN.png."""
        targets, refs = self.data.val_pairs(self.cfg.val_frames)
        totals = {"val_loss": 0.0, "val_pixel": 0.0, "val_latent": 0.0}
        for start in range(0, len(targets), self.cfg.batch_size):
            t, r = targets[start : start + self.cfg.batch_size], refs[start : start + self.cfg.batch_size]
            with self._autocast():
                terms = composite_loss(self.unet, self.vae, self.data.batch(t, r, self.device),
                                       self.cfg.pixel_weight, self.cfg.latent_weight)
            for k, v in terms.values().items():
                totals[f"val_{k}"] += v * len(t) / len(targets)
        self._val_frame(step, targets[:1], refs[:1])
        return totals

    def _val_frame(self, step: int, target: torch.Tensor, ref: torch.Tensor) -> None:
        import cv2

        batch = self.data.batch(target, ref, self.device)
        pred = self.renderer.render(batch.inputs, batch.audio)[0]
        image = np.hstack([pred, self.data.clip.crops[int(target[0])]])
        out = self.run_dir / VAL_DIR
        out.mkdir(exist_ok=True)
        cv2.imwrite(str(out / f"step_{step:06d}.png"), image)

    def fit(self, start: int, stop: threading.Event, progress: Progress = no_progress) -> TrainResult:
        cfg = self.cfg
        with open(self.run_dir / METRICS, "a", encoding="utf-8") as metrics:
            def record(row: dict[str, Any]) -> None:
                metrics.write(json.dumps(row) + "\n")
                metrics.flush()

            if start == 0:
                record({"step": 0, **self.validate(0)})
            step, status = start, "finished"
            while step < cfg.steps:
                if stop.is_set():
                    status = "stopped"
                    break
                t0 = time.perf_counter()
                row = self.train_step()
                step += 1
                row = {"step": step, **row, "sec_per_step": time.perf_counter() - t0}
                if step == cfg.steps or (cfg.val_every and step % cfg.val_every == 0):
                    row.update(self.validate(step))
                record(row)
                progress("train", step, cfg.steps)
                if cfg.save_every and step % cfg.save_every == 0 and step < cfg.steps:
                    save_checkpoint(self.run_dir, self.unet, self.optimizer, step, self.sampler)
        return self._finish(step, status)

    def _finish(self, step: int, status: str) -> TrainResult:
        if checkpoint_step(self.run_dir) != step:
            save_checkpoint(self.run_dir, self.unet, self.optimizer, step, self.sampler)
        meta = {"step": step, "status": status, "lora_rank": self.cfg.lora_rank, "init": self.cfg.init,
                "weights": str(self.models.weights_dir.resolve())}
        path = export_model(self.unet, self.run_dir, self.cfg.mode, meta)
        log.info("%s at step %d: model in %s", status, step, path)
        return TrainResult(self.run_dir, status, step, path)


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop lines logged after the checkpoint, so a resumed run's metrics read as one run."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in keep))


def load_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of RUN_DIR/metrics.jsonl (a partly written last line is skipped)."""
    rows = []
    try:
        lines = (Path(run_dir) / METRICS).read_text().splitlines()
    except OSError:
        return rows
    for line in lines:
        with contextlib.suppress(json.JSONDecodeError):
            rows.append(json.loads(line))
    return rows

