"""Gradient checkpointing trades compute for memory without changing what is learned."""
from __future__ import annotations

import threading

import pytest
from train_helpers import make_trainer

from musetalk.train.config import TrainConfig
from musetalk.train.trainer import load_metrics


@pytest.mark.parametrize("lora_rank", [4, None], ids=["lora", "full"])
def test_gradient_checkpointing_gives_the_same_losses(tiny_models, synthetic_clip, tmp_path, lora_rank):
    losses = {}
    for on in (False, True):
        cfg = TrainConfig(lora_rank=lora_rank, steps=3, batch_size=2, lr=1e-3, val_every=0, val_frames=2,
                          save_every=0, seed=5, grad_checkpointing=on)
        trainer = make_trainer(tiny_models, synthetic_clip, tmp_path / str(on), cfg)
        assert trainer.unet.is_gradient_checkpointing is on
        trainer.fit(0, threading.Event(), lambda *a: None)
        losses[on] = [r["loss"] for r in load_metrics(tmp_path / str(on)) if "loss" in r]
    assert len(losses[True]) == 3
    assert losses[True] == pytest.approx(losses[False], abs=1e-5)
