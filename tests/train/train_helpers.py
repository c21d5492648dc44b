"""Shared by the trainer tests: a cached tiny weights folder whose VAE can actually decode the test clip, and a
trainer run on private copies of the session's models.

A randomly initialised tiny VAE decoder cannot represent faces, so nothing trained through it can show learning
(see DESIGN.md, "Testing the trainer on tiny models"). ``autoencoder_weights`` pre-trains the tiny VAE as an
autoencoder on the clip's face crops once and caches the folder across test sessions.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import threading
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CLIP = DATA_DIR / "retalking_face2.mp4"
CACHE_VERSION = 1
AE_STEPS = 150
AE_BATCH = 8


def cache_root() -> Path:
    """Persistent across sessions: $MUSETALK_TEST_CACHE, else <tmp>/musetalk-test-cache."""
    root = Path(os.environ.get("MUSETALK_TEST_CACHE") or Path(tempfile.gettempdir()) / "musetalk-test-cache")
    root.mkdir(parents=True, exist_ok=True)
    return root


def pretrain_vae(vae, crops: np.ndarray, steps: int = AE_STEPS, batch: int = AE_BATCH, lr: float = 1e-3,
                 seed: int = 0) -> list[float]:
    """Train ``vae`` (in place) to reconstruct crops (n, 256, 256, 3) uint8 BGR; returns the L1 per step."""
    from musetalk.models.vae import crops_to_tensor

    g = torch.Generator().manual_seed(seed)
    vae.train().requires_grad_(True)
    opt = torch.optim.AdamW(vae.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(crops), (batch,), generator=g).numpy()
        x = crops_to_tensor(crops[idx], torch.device("cpu"), torch.float32, mask_lower=False)
        recon = vae(x, sample_posterior=False).sample
        loss = (recon - x).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    vae.eval().requires_grad_(False)
    return losses


def face_crops(video: Path, cache: Path) -> np.ndarray:
    """(n, 256, 256, 3) uint8 BGR crops of the frames of ``video`` that have a face, cached in ``cache`` (npz)."""
    from musetalk.config import FaceConfig
    from musetalk.face import FaceTracker
    from musetalk.media import iter_frames

    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            return z["crops"]
    crops = []
    with FaceTracker(FaceConfig()) as tracker:
        for frame in iter_frames(video):
            face = tracker(frame)
            if face is not None:
                crops.append(face.crop(frame))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}.npz")
    np.savez(tmp, crops=np.stack(crops))
    os.replace(tmp, cache)
    return np.stack(crops)


def autoencoder_weights(crops: np.ndarray) -> Path:
    """Tiny random weights (seed 0) with the VAE pre-trained on ``crops``; built once, then read from the cache."""
    from diffusers import AutoencoderKL

    from musetalk.weights import VAE_DIR, make_random

    root = cache_root() / f"tiny-ae-v{CACHE_VERSION}"
    if (root / "done.json").is_file():
        return root
    shutil.rmtree(root, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(dir=root.parent, prefix=".tiny-ae-"))
    make_random(stage, "tiny", seed=0)
    vae = AutoencoderKL.from_pretrained(str(stage / VAE_DIR))
    torch.manual_seed(0)
    losses = pretrain_vae(vae, crops)
    vae.save_pretrained(stage / VAE_DIR)
    (stage / "done.json").write_text(json.dumps({"ae_l1_first": losses[0], "ae_l1_last": losses[-1]}))
    os.replace(stage, root)
    return root


def make_trainer(models, clips, run_dir: Path, cfg):
    """A Trainer (one process) on copies of the UNet and VAE: training adapts the UNet, and gradient
    checkpointing flags the VAE, in place, and the session's models are shared by other tests."""
    from musetalk.train.dataset import ClipSet
    from musetalk.train.distributed import make_accelerator, mixed_precision
    from musetalk.train.loop import Trainer

    clips = clips if isinstance(clips, list) else [clips]
    models = dataclasses.replace(models, unet=copy.deepcopy(models.unet), vae=copy.deepcopy(models.vae))
    data = ClipSet(clips, cfg.val_clips, cfg.val_fraction, min_ref_distance=3, syncnet_t=cfg.syncnet_t,
                   seed=cfg.seed, val_frames=cfg.val_frames)
    run_dir.mkdir(parents=True, exist_ok=True)
    acc = make_accelerator(models.device, mixed_precision(cfg.mixed_precision, models.device))
    return Trainer(models, data, cfg, run_dir, acc)


def run_trainer(models, clip, run_dir: Path, cfg, stop_at: int | None = None, resume: bool = False):
    """Train ``cfg`` on ``clip`` (see ``make_trainer``); Stop is pressed when progress reaches step ``stop_at``.
    Returns (last step, status), after exporting the model as ``train`` does."""
    trainer = make_trainer(models, clip, run_dir, cfg)
    start = trainer.restore() if resume else 0
    stop = threading.Event()

    def progress(stage, done, total):
        if done == stop_at:
            stop.set()

    step, status = trainer.fit(start, stop, progress)
    trainer.export(step, status)
    return step, status
