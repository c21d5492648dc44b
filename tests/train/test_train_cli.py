"""End to end: `train` writes a usable run; `generate --lora RUN_DIR` differs from the base model."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from core_helpers import cut, read_frames

from musetalk.cli import main
from musetalk.train.runs import list_finished_runs


@pytest.fixture(scope="module")
def short_clip(clip_path, tmp_path_factory) -> Path:
    """2 s of the real clip, 360x360, with its own speech."""
    return cut(clip_path, tmp_path_factory.mktemp("clip") / "clip.mp4", 2.0, extra=("-vf", "scale=360:360"))


@pytest.fixture(scope="module")
def lora_run(short_clip, tiny_weights, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "me"
    code = main(["train", "--clip", str(short_clip), "--out", str(run), "--weights", str(tiny_weights),
                 "--device", "cpu", "--steps", "3", "--batch-size", "1", "--lr", "0.05", "--lora-rank", "4",
                 "--val-every", "0", "--save-every", "2", "--min-ref-distance", "3"])
    assert code == 0
    return run


def test_train_writes_a_complete_run(lora_run):
    rows = [json.loads(line) for line in (lora_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2, 3]
    assert {"loss", "pixel", "latent", "sec_per_step"} <= set(rows[1])
    assert "val_loss" in rows[0] and "val_loss" in rows[3]
    model = json.loads((lora_run / "model.json").read_text())
    assert model["kind"] == "lora" and model["status"] == "finished" and model["step"] == 3
    assert (lora_run / "lora" / "adapter_model.safetensors").stat().st_size < 1_000_000
    assert list_finished_runs(lora_run.parent) == ["me"]
    assert sorted(p.name for p in (lora_run / "val").iterdir()) == ["step_000000.png", "step_000003.png"]


def test_existing_run_needs_resume(lora_run, short_clip, tiny_weights, capsys):
    code = main(["train", "--clip", str(short_clip), "--out", str(lora_run), "--weights", str(tiny_weights)])
    assert code == 2 and "--resume" in capsys.readouterr().err


def test_resume_keeps_the_runs_step_count_unless_given(lora_run, tmp_path, capsys):
    run = shutil.copytree(lora_run, tmp_path / "me")
    code = main(["train", "--out", str(run), "--resume", "--device", "cpu"])  # the run asked for 3 and has them
    assert code == 2
    assert capsys.readouterr().err.strip() == (f"error: {run} is already at step 3; --steps 3 leaves nothing to train. "
                                               f"Give --steps above 3 to train further.")
    assert main(["train", "--out", str(run), "--resume", "--device", "cpu", "--steps", "4"]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4]
    assert json.loads((run / "model.json").read_text())["step"] == 4


def test_resume_refuses_settings_that_would_be_ignored(lora_run, capsys):
    before = (lora_run / "metrics.jsonl").read_text()
    code = main(["train", "--out", str(lora_run), "--resume", "--steps", "9", "--lr", "0.5", "--full"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --resume continues {lora_run} with its own settings, but these were given differently: "
        f"lora_rank None (the run has 4); lr 0.5 (the run has 0.05). "
        f"Drop them to resume, or start a new run with another --out.")
    assert (lora_run / "metrics.jsonl").read_text() == before


def test_resume_without_a_run_is_a_clear_error(tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path / "none"), "--resume"])
    assert code == 2 and "holds no training run to resume" in capsys.readouterr().err


def test_generate_with_lora_differs_from_base(lora_run, short_clip, tiny_weights, tmp_path):
    audio = cut(short_clip, tmp_path / "speech.wav", 0.6, extra=("-vn",))
    outs = {}
    for name, extra in (("base", []), ("lora", ["--lora", str(lora_run)])):
        outs[name] = tmp_path / f"{name}.mp4"
        code = main(["generate", "--video", str(short_clip), "--audio", str(audio), "--out", str(outs[name]),
                     "--weights", str(tiny_weights), "--device", "cpu", "--dtype", "fp32", *extra])
        assert code == 0
    base, tuned = read_frames(outs["base"]), read_frames(outs["lora"])
    assert len(base) == len(tuned) == 15
    diff = np.mean([np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() for a, b in zip(base, tuned)])
    assert diff > 0.5, diff


def test_generate_rejects_a_missing_run(short_clip, tiny_weights, tmp_path, capsys):
    code = main(["generate", "--video", str(short_clip), "--audio", str(short_clip), "--out",
                 str(tmp_path / "o.mp4"), "--weights", str(tiny_weights), "--lora", str(tmp_path / "nope")])
    assert code == 2 and "does not exist" in capsys.readouterr().err
