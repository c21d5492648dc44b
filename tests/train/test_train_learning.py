"""The trainer learns: tiny model, real clip, VAE pre-trained as an autoencoder (see DESIGN.md).

Done-when check of the fine-tuning issue: 300 steps; the mean loss of the last 20 steps is at most half that of
the first 20, and the validation loss at the end is below the one at step 0.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from musetalk.cli import main

STEPS = int(os.environ.get("MUSETALK_LEARNING_STEPS", "300"))


@pytest.mark.slow
@pytest.mark.learning
def test_tiny_unet_learns_the_clip(ae_weights, clip_path, tmp_path):
    run = tmp_path / "run"
    code = main(["train", "--clip", str(clip_path), "--out", str(run), "--weights", str(ae_weights),
                 "--device", "cpu", "--dtype", "fp32", "--full", "--steps", str(STEPS), "--batch-size", "2",
                 "--lr", "5e-4", "--val-every", "0", "--save-every", "0", "--val-frames", "8"])
    assert code == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = np.array([r["loss"] for r in rows if "loss" in r])
    assert len(losses) == STEPS
    first, last = losses[:20].mean(), losses[-20:].mean()
    assert last <= 0.5 * first, (first, last)
    assert rows[-1]["val_loss"] < rows[0]["val_loss"], (rows[0], rows[-1])
