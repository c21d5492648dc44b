"""Data-parallel training with accelerate (gloo, CPU): 2 processes of batch 2 compute what 1 process of batch 4
does, step by step; a run saved by 2 processes resumes on 1 exactly. Slow: each launch starts 2 Pythons.

The learning rate is small (2e-5) on purpose: the two runs add the same gradients in another order (float32), and
from a random init AdamW amplifies such rounding differences step by step (at lr 1e-3 they pass 1e-5 by step 4
on these synthetic clips; on the real clips at lr 1e-4 they stay below 2e-6 for 20 steps). A launch whose
processes do not form one group shows at once: each then trains alone on 2 samples, and its step-1 loss differs
by about 1e-2."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import synthetic_features

from musetalk.train.cache import write_clip, write_manifest
from musetalk.train.clip_features import weights_id

REPO = Path(__file__).resolve().parents[2]
STEPS = 20


@pytest.fixture(scope="module")
def cache(tiny_models, tmp_path_factory) -> Path:
    """A prepared dataset of 4 synthetic clips (one held out), as `dataset prepare` writes it."""
    root = tmp_path_factory.mktemp("cache")
    clips = [synthetic_features(tiny_models, f"s{i}", 20 + 3 * i, seed=i) for i in range(4)]
    for c in clips:
        write_clip(root, c, {"key": "synthetic"})
    write_manifest(root, [{"name": c.name, "rows": len(c), "n_frames": c.n_frames} for c in clips], [],
                   {"prepare": {}, "weights": weights_id(tiny_models.weights_dir)})
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(cache: Path, weights: Path, out: Path, processes: int, batch: int, steps: int, resume: bool = False):
    # --multi_gpu is accelerate's switch for several local processes (torchrun); with --device cpu the trainer's
    # Accelerator(cpu=True) then joins them over gloo. (`--cpu` would start one process, whatever the count.)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu" if processes > 1 else "--cpu",
              "--num_processes", str(processes),
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--main_process_port", str(_free_port()), "-m", "musetalk", "train"]
    args = ["--out", str(out), "--device", "cpu", "--steps", str(steps), "--val-every", "0", "--save-every", "0"]
    if not resume:
        args += ["--data", str(cache), "--weights", str(weights), "--dtype", "fp32", "--full", "--init", "random",
                 "--batch-size", str(batch), "--val-clips", "1", "--val-frames", "4", "--lr", "2e-5",
                 "--min-ref-distance", "3", "--seed", "7"]
    else:
        args += ["--resume"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([*launch, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_processes_match_one_with_the_global_batch(cache, tiny_weights, tmp_path):
    one = _train(cache, tiny_weights, tmp_path / "one", 1, 4, STEPS)
    two = _train(cache, tiny_weights, tmp_path / "two", 2, 2, STEPS)
    assert [r["step"] for r in one] == [r["step"] for r in two] == list(range(STEPS + 1))
    for a, b in zip(one[1:], two[1:]):
        for key in ("loss", "pixel", "latent"):
            assert abs(a[key] - b[key]) <= 1e-5, (a["step"], key, a[key], b[key])
    assert one[-1]["loss"] < one[1]["loss"]  # it trained, so equal losses are not equal constants
    # Validation runs on the weights after step 20, one float32-rounded update further than the step-20 loss.
    assert abs(one[-1]["val_loss"] - two[-1]["val_loss"]) <= 5e-5
    assert json.loads((tmp_path / "two" / "config.json").read_text())["train"]["processes"] == 2

    # Saved at step 10 by 2 processes, resumed by 1: steps 11-20 as in the uninterrupted runs.
    _train(cache, tiny_weights, tmp_path / "split", 2, 2, STEPS // 2)
    split = _train(cache, tiny_weights, tmp_path / "split", 1, 0, STEPS, resume=True)
    assert [r["step"] for r in split] == list(range(STEPS + 1))
    for a, b in zip(one[STEPS // 2 + 1 :], split[STEPS // 2 + 1 :]):
        for key in ("loss", "pixel", "latent"):
            assert abs(a[key] - b[key]) <= 1e-5, (a["step"], key, a[key], b[key])
    saved = json.loads((tmp_path / "split" / "config.json").read_text())["train"]
    assert (saved["batch_size"], saved["processes"]) == (2, 2)  # the run's record; the resume used 4 x 1
