"""Run folders: the exported model applied to a fresh base UNet reproduces the trained one; listing runs."""
from __future__ import annotations

import copy
import json

import pytest
import torch

from musetalk.errors import InputError
from musetalk.models.unet import predict_latents
from musetalk.models.finetuned import apply_finetuned, standalone_unet_dir
from musetalk.models.unet import load_unet
from musetalk.train.runs import add_lora, export_model, list_finished_runs


def _inputs():
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 8, 32, 32, generator=g), torch.randn(2, 50, 384, generator=g)


@torch.no_grad()
def test_lora_export_then_merge_matches_the_trained_unet(tiny_models, tmp_path):
    trained = copy.deepcopy(tiny_models.unet)
    add_lora(trained, 4)
    for name, p in trained.named_parameters():
        if "lora_B" in name:
            p.normal_(0, 0.05)
    run = tmp_path / "runs" / "r1"
    export_model(trained, run, "lora", {"step": 3, "status": "finished"})
    size = (run / "lora" / "adapter_model.safetensors").stat().st_size
    assert size < 200_000
    merged = apply_finetuned(copy.deepcopy(tiny_models.unet), run, tiny_models.device, tiny_models.dtype)
    assert not any("lora" in n for n, _ in merged.named_parameters())
    x, a = _inputs()
    base = predict_latents(tiny_models.unet, x, a)
    want, got = predict_latents(trained, x, a), predict_latents(merged, x, a)
    assert torch.allclose(want, got, atol=1e-5)
    assert (got - base).abs().max() > 1e-3
    assert list_finished_runs(tmp_path / "runs") == ["r1"]


@torch.no_grad()
def test_full_unet_export_and_load(tiny_models, tmp_path):
    trained = copy.deepcopy(tiny_models.unet)
    for p in trained.parameters():
        p.add_(0.01)
    export_model(trained, tmp_path / "full", "full", {"step": 1})
    x, a = _inputs()
    for path in (tmp_path / "full", tmp_path / "full" / "unet.pth"):
        loaded = apply_finetuned(copy.deepcopy(tiny_models.unet), path, tiny_models.device, tiny_models.dtype)
        assert torch.equal(predict_latents(loaded, x, a), predict_latents(trained, x, a))
        # The run carries its architecture (musetalk.json), so its UNet loads without the base weights' UNet.
        assert standalone_unet_dir(path) == tmp_path / "full"
    alone = load_unet(tmp_path / "full", tiny_models.device, tiny_models.dtype)
    assert torch.equal(predict_latents(alone, x, a), predict_latents(trained, x, a))


def test_only_runs_with_a_usable_model_are_listed(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.json").write_text(json.dumps({"kind": "lora"}))  # adapter file missing
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "model.json").write_text("{not json")
    assert list_finished_runs(tmp_path) == []
    assert list_finished_runs(tmp_path / "nowhere") == []


def test_apply_finetuned_rejects_a_folder_without_a_model(tiny_models, tmp_path):
    with pytest.raises(InputError, match="no fine-tuned model"):
        apply_finetuned(tiny_models.unet, tmp_path, tiny_models.device, tiny_models.dtype)
