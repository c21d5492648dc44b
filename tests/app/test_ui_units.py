"""The UI's own small pieces, without a server: error conversion, the pipeline cache, the model list."""
from __future__ import annotations

from pathlib import Path

import pytest

gr = pytest.importorskip("gradio")

from musetalk.errors import InputError
from musetalk.ui.context import AppContext
from musetalk.ui.guard import user_errors


def test_library_errors_become_their_sentence():
    @user_errors(Path("/tmp/app.log"))
    def fails():
        raise InputError("The clip has no face.", "Use another clip.")

    with pytest.raises(gr.Error) as info:
        fails()
    assert info.value.message == "The clip has no face. Use another clip."


def test_unexpected_errors_are_short_and_name_the_log(caplog):
    @user_errors(Path("/tmp/app.log"))
    def streams():
        yield 1
        raise KeyError("frame 3")

    gen = streams()
    assert next(gen) == 1
    with pytest.raises(gr.Error) as info:
        next(gen)
    assert info.value.message == "Something went wrong (KeyError). The details were written to /tmp/app.log."
    assert "frame 3" in caplog.text  # the traceback is in the log, not in the page


def test_pipeline_is_loaded_once_and_unknown_runs_are_refused(tiny_weights, tmp_path):
    ctx = AppContext(weights_dir=tiny_weights, device="cpu", dtype="fp32", runs_dir=tmp_path / "runs")
    first = ctx.pipeline()
    assert ctx.pipeline("base") is first
    with pytest.raises(InputError, match="no fine-tuned model named 'nope'"):
        ctx.pipeline("nope")
    assert ctx.pipeline() is first


def test_model_choices_list_base_first(tmp_path):
    from musetalk.ui.controls import model_choices

    ctx = AppContext(weights_dir=tmp_path, runs_dir=tmp_path / "runs")
    assert model_choices(ctx)[0] == "base"


def test_footer_names_the_resolved_device_and_dtype(tmp_path):
    from musetalk.ui.demo import device_line

    auto = device_line(AppContext(weights_dir=tmp_path))  # no GPU here; bf16 only where the CPU has it natively
    assert auto in ("cpu · dtype: float32", "cpu · dtype: bfloat16"), auto
    assert device_line(AppContext(weights_dir=tmp_path, device="cpu", dtype="fp32")) == (
        "cpu · dtype: float32 (asked: cpu, fp32)")
    assert device_line(AppContext(weights_dir=tmp_path, device="cuda")) == "cuda · dtype: auto"
