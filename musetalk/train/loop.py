"""The training loop: the trainee UNet, frozen VAE, AdamW and the step, on one process of an accelerate run.

Every step draws the global batch of that step (``ClipSet.step_samples``) and trains on this process's shard;
DDP averages the gradients, so P processes of batch B compute what one process of batch P*B does. Only the main
process writes: ``metrics.jsonl`` (a line per step and per validation), ``val/step_N.png``, ``loss_curve.png``,
checkpoints and the exported model. Setting ``stop`` ends the run after the current step with a checkpoint.
"""
from __future__ import annotations

import contextlib
import copy
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import torch

from ..config import Progress, no_progress
from ..models import MuseTalkModels
from .checkpoint import checkpoint_step, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .dataset import ClipSet
from .distributed import shard
from .loss import composite_loss
from .plot import plot_losses
from .runs import add_lora, export_model
from .sync_check import SyncHook
from .validation import ValHook, ValResult, validate, write_image

log = logging.getLogger(__name__)

METRICS = "metrics.jsonl"
VAL_DIR = "val"
CURVE = "loss_curve.png"


class Trainer:
    def __init__(self, models: MuseTalkModels, data: ClipSet, cfg: TrainConfig, run_dir: Path, accelerator,
                 copy_unet: bool = False, val_hooks: list[ValHook] | None = None) -> None:
        """copy_unet: train a copy of ``models.unet`` (whose owner keeps using it), not the UNet itself."""
        self.models, self.data, self.cfg, self.run_dir, self.acc = models, data, cfg, run_dir, accelerator
        self.device = accelerator.device
        self.val_hooks = ([SyncHook(data)] if cfg.val_sync else []) + list(val_hooks or [])
        self.vae = models.vae
        unet = self._build_unet(copy_unet)
        if cfg.grad_checkpointing:
            unet.enable_gradient_checkpointing()
            self.vae.enable_gradient_checkpointing()
        self.params = [p for p in unet.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        # DDP across processes (and autocast in the forward for mixed precision); one process: the same modules.
        self.unet, self.optimizer = accelerator.prepare(unet, optimizer)
        self.bare = accelerator.unwrap_model(self.unet)
        self.global_batch = cfg.batch_size * accelerator.num_processes * cfg.grad_accum

    def _build_unet(self, copy_unet: bool):
        cfg, unet = self.cfg, self.models.unet
        torch.manual_seed(cfg.seed)  # the same random init (or LoRA init) on every process
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

    @property
    def main(self) -> bool:
        return self.acc.is_main_process

    def restore(self) -> int:
        step = load_checkpoint(self.run_dir, self.bare, self.optimizer, self.acc.scaler)
        if self.main:
            _truncate_metrics(self.run_dir / METRICS, step)
        log.info("resumed %s at step %d", self.run_dir, step)
        return step

    def train_step(self, step: int) -> dict[str, float]:
        """Optimizer step number ``step`` (1-based): grad_accum micro-batches of this process's shard."""
        cfg, acc = self.cfg, self.acc
        samples = self.data.step_samples(step, self.global_batch)
        self.optimizer.zero_grad(set_to_none=True)
        sums = torch.zeros(3, device=self.device)
        for micro in range(cfg.grad_accum):
            batch = self.data.batch(shard(samples, micro, acc.process_index, acc.num_processes, cfg.batch_size),
                                    self.device)
            # Gradients are averaged across processes once, on the last micro-batch.
            sync = micro == cfg.grad_accum - 1
            with acc.no_sync(self.unet) if not sync else contextlib.nullcontext():
                with acc.autocast():
                    terms = composite_loss(self.unet, self.vae, batch, cfg.pixel_weight, cfg.latent_weight)
                acc.backward(terms.total / cfg.grad_accum)
            sums += torch.stack([terms.total, terms.pixel, terms.latent]).detach().float() / cfg.grad_accum
        grad_norm = acc.clip_grad_norm_(self.params, cfg.max_grad_norm)
        self.optimizer.step()
        loss, pixel, latent = acc.reduce(sums, "mean").tolist()  # equal shards: the mean over the global batch
        return {"loss": loss, "pixel": pixel, "latent": latent, "grad_norm": float(grad_norm)}

    def validate(self, step: int) -> ValResult:
        """Main process only: per-clip validation loss, the validation image and the loss curve."""
        self.bare.eval()
        try:
            result = validate(self.bare, self.vae, self.data, self.device, self.cfg.batch_size,
                              (self.cfg.pixel_weight, self.cfg.latent_weight), self.acc.autocast, self.val_hooks)
        finally:
            self.bare.train()
        if result.image is not None:
            write_image(self.run_dir / VAL_DIR / f"step_{step:06d}.png", result.image)
        return result

    def fit(self, start: int, stop: threading.Event, progress: Progress = no_progress,
            bar: bool = False) -> tuple[int, str]:
        """Train from step ``start`` to ``cfg.steps``; returns (last step, "finished" | "stopped")."""
        with _Recorder(self.run_dir, self.main) as rec, _samples_bar(bar and self.main, self, start) as tq:
            if start == 0:
                self._checkpoint_validation(rec, {"step": 0})
            step, status = start, "finished"
            while step < self.cfg.steps:
                if self._stopping(stop):
                    status = "stopped"
                    break
                t0 = time.perf_counter()
                row = self.train_step(step + 1)
                step += 1
                sec = time.perf_counter() - t0
                row = {"step": step, **row, "sec_per_step": sec, "samples_per_s": self.global_batch / sec}
                if step == self.cfg.steps or (self.cfg.val_every and step % self.cfg.val_every == 0):
                    self._checkpoint_validation(rec, row)
                else:
                    rec.write(row)
                tq.set_postfix(loss=f"{row['loss']:.4f}", refresh=False)
                tq.update(self.global_batch)
                progress("train", step, self.cfg.steps)
                if self.cfg.save_every and step % self.cfg.save_every == 0 and step < self.cfg.steps:
                    self.save(step)
        if checkpoint_step(self.run_dir) != step:
            self.save(step)
        return step, status

    def _checkpoint_validation(self, rec: _Recorder, row: dict[str, Any]) -> None:
        if self.main:
            row = {**row, **self.validate(row["step"]).row()}
            rec.write(row)
            plot_losses(load_metrics(self.run_dir), self.run_dir / CURVE)
        self.acc.wait_for_everyone()

    def _stopping(self, stop: threading.Event) -> bool:
        """Stop on every process when any was asked to (Ctrl-C reaches each process of a launch on its own)."""
        flag = torch.tensor([1.0 if stop.is_set() else 0.0], device=self.device)
        return bool(self.acc.reduce(flag, "sum").item() > 0) if self.acc.num_processes > 1 else stop.is_set()

    def save(self, step: int) -> None:
        if self.main:
            save_checkpoint(self.run_dir, self.bare, self.optimizer, step, self.acc.scaler)
        self.acc.wait_for_everyone()

    def export(self, step: int, status: str) -> Path:
        meta = {"step": step, "status": status, "lora_rank": self.cfg.lora_rank, "init": self.cfg.init,
                "weights": str(self.models.weights_dir.resolve())}
        path = export_model(self.bare, self.run_dir, self.cfg.mode, meta) if self.main else self.run_dir
        self.acc.wait_for_everyone()
        return path


class _Recorder:
    """metrics.jsonl, appended and flushed line by line on the main process; a no-op elsewhere."""

    def __init__(self, run_dir: Path, main: bool) -> None:
        self.path, self.main, self.fh = run_dir / METRICS, main, None

    def __enter__(self) -> _Recorder:
        if self.main:
            self.fh = open(self.path, "a", encoding="utf-8")
        return self

    def write(self, row: dict[str, Any]) -> None:
        if self.fh is not None:
            self.fh.write(json.dumps(row) + "\n")
            self.fh.flush()

    def __exit__(self, *exc: object) -> None:
        if self.fh is not None:
            self.fh.close()


def _samples_bar(show: bool, trainer: Trainer, start: int):
    from tqdm import tqdm

    g = trainer.global_batch
    return tqdm(total=trainer.cfg.steps * g, initial=start * g, unit="sample", desc="train", disable=not show,
                dynamic_ncols=True, unit_scale=False)


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
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
