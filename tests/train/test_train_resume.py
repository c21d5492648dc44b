"""Stop (which saves a checkpoint) and --resume continue exactly like an uninterrupted run."""
from __future__ import annotations

import json

import pytest
from train_helpers import run_trainer

from musetalk.train.checkpoint import checkpoint_step
from musetalk.train.config import TrainConfig
from musetalk.train.trainer import load_metrics


# Full training uses the numbers (stop at 100, compare 101-110); the LoRA path is the same code with an
# adapter, checked on a shorter run to keep the suite quick.
@pytest.mark.parametrize(("lora_rank", "steps", "stop_at"), [(4, 8, 4), (None, 110, 100)], ids=["lora", "full"])
def test_stop_and_resume_match_an_uninterrupted_run(tiny_models, synthetic_clip, tmp_path, lora_rank, steps, stop_at):
    cfg = TrainConfig(lora_rank=lora_rank, steps=steps, batch_size=2, lr=1e-3, val_every=0, val_frames=2,
                      save_every=3 if steps < 10 else 40, seed=3)
    assert run_trainer(tiny_models, synthetic_clip, tmp_path / "whole", cfg) == (steps, "finished")

    first = run_trainer(tiny_models, synthetic_clip, tmp_path / "split", cfg, stop_at=stop_at)
    assert first == (stop_at, "stopped")
    assert checkpoint_step(tmp_path / "split") == stop_at
    assert json.loads((tmp_path / "split" / "model.json").read_text())["status"] == "stopped"
    second = run_trainer(tiny_models, synthetic_clip, tmp_path / "split", cfg, resume=True)
    assert second == (steps, "finished")

    a, b = load_metrics(tmp_path / "whole"), load_metrics(tmp_path / "split")
    assert [r["step"] for r in a] == [r["step"] for r in b] == list(range(steps + 1))
    for ra, rb in zip(a[stop_at + 1 :], b[stop_at + 1 :]):
        for key in ("loss", "pixel", "latent"):
            assert abs(ra[key] - rb[key]) <= 1e-5, (ra["step"], key)
    assert abs(a[-1]["val_loss"] - b[-1]["val_loss"]) <= 1e-5
    assert (tmp_path / "split" / "val" / f"step_{steps:06d}.png").is_file()
