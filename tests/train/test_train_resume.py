"""Stop (which saves a checkpoint) and --resume continue exactly like an uninterrupted run."""
from __future__ import annotations

import copy
import dataclasses
import json
import threading

import pytest

from musetalk.train.checkpoint import checkpoint_step
from musetalk.train.config import TrainConfig
from musetalk.train.dataset import ClipDataset
from musetalk.train.trainer import Trainer, load_metrics


def _run(models, clip, run_dir, cfg, stop_at=None, resume=False):
    models = dataclasses.replace(models, unet=copy.deepcopy(models.unet))  # the trainer adapts the UNet in place
    trainer = Trainer(models, ClipDataset(clip, min_ref_distance=3), cfg, run_dir)
    start = trainer.restore() if resume else 0
    stop = threading.Event()

    def progress(stage, done, total):
        if done == stop_at:
            stop.set()

    return trainer.fit(start, stop, progress)


# Full training uses the numbers (stop at 100, compare 101-110); the LoRA path is the same code with an
# adapter, checked on a shorter run to keep the suite quick.
@pytest.mark.parametrize(("lora_rank", "steps", "stop_at"), [(4, 8, 4), (None, 110, 100)], ids=["lora", "full"])
def test_stop_and_resume_match_an_uninterrupted_run(tiny_models, synthetic_clip, tmp_path, lora_rank, steps, stop_at):
    cfg = TrainConfig(lora_rank=lora_rank, steps=steps, batch_size=2, lr=1e-3, val_every=0, val_frames=2,
                      save_every=3 if steps < 10 else 40, seed=3)
    whole = _run(tiny_models, synthetic_clip, tmp_path / "whole", cfg)
    assert whole.status == "finished" and whole.step == steps

    first = _run(tiny_models, synthetic_clip, tmp_path / "split", cfg, stop_at=stop_at)
    assert first.status == "stopped" and first.step == stop_at
    assert checkpoint_step(tmp_path / "split") == stop_at
    assert json.loads((tmp_path / "split" / "model.json").read_text())["status"] == "stopped"
    second = _run(tiny_models, synthetic_clip, tmp_path / "split", cfg, resume=True)
    assert second.status == "finished" and second.step == steps

    a, b = load_metrics(tmp_path / "whole"), load_metrics(tmp_path / "split")
    assert [r["step"] for r in a] == [r["step"] for r in b] == list(range(steps + 1))
    for ra, rb in zip(a[stop_at + 1 :], b[stop_at + 1 :]):
        for key in ("loss", "pixel", "latent"):
            assert abs(ra[key] - rb[key]) <= 1e-5, (ra["step"], key)
    assert abs(a[-1]["val_loss"] - b[-1]["val_loss"]) <= 1e-5
    assert (tmp_path / "split" / "val" / f"step_{steps:06d}.png").is_file()
