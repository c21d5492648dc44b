"""weights.py: official layout, make-random round trip, missing files, offline download."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from musetalk.config import OFFICIAL_UNET_CONFIG
from musetalk.errors import DownloadError, WeightsError
from musetalk.weights import REQUIRED, check_weights, download, missing_files, resolve_weights_dir


def test_make_random_writes_official_layout(tiny_weights: Path) -> None:
    for wf in REQUIRED:
        assert any((tiny_weights / alt).is_file() for alt in wf.alternatives), wf.alternatives
    config = json.loads((tiny_weights / "musetalkV15" / "musetalk.json").read_text())
    assert config["in_channels"] == 8 and config["cross_attention_dim"] == 384 and config["out_channels"] == 4
    # unet.pth is a bare state_dict (MuseTalk's format), not a pickled module or a wrapper dict.
    state = torch.load(tiny_weights / "musetalkV15" / "unet.pth", weights_only=True)
    assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
    assert "conv_in.weight" in state and state["conv_in.weight"].shape[1] == 8
    assert missing_files(tiny_weights) == []


def test_loaded_tensors_equal_saved(tiny_weights: Path, tiny_models) -> None:
    saved_unet = torch.load(tiny_weights / "musetalkV15" / "unet.pth", weights_only=True)
    loaded_unet = tiny_models.unet.state_dict()
    assert saved_unet.keys() == loaded_unet.keys()
    for k, v in saved_unet.items():
        assert torch.equal(v, loaded_unet[k]), k
    saved_vae = load_file(str(tiny_weights / "sd-vae" / "diffusion_pytorch_model.safetensors"))
    loaded_vae = tiny_models.vae.state_dict()
    for k, v in saved_vae.items():
        assert torch.equal(v, loaded_vae[k]), k
    saved_whisper = load_file(str(tiny_weights / "whisper" / "model.safetensors"))
    enc = {k[len("encoder."):]: v for k, v in saved_whisper.items() if k.startswith("encoder.")}
    loaded_enc = tiny_models.whisper.state_dict()
    assert enc.keys() == loaded_enc.keys()
    for k, v in enc.items():
        assert torch.equal(v, loaded_enc[k]), k


def test_full_config_is_the_official_one() -> None:
    assert OFFICIAL_UNET_CONFIG["block_out_channels"] == [320, 640, 1280, 1280]
    assert OFFICIAL_UNET_CONFIG["down_block_types"][-1] == "DownBlock2D"
    assert OFFICIAL_UNET_CONFIG["up_block_types"][0] == "UpBlock2D"
    assert OFFICIAL_UNET_CONFIG["attention_head_dim"] == 8 and OFFICIAL_UNET_CONFIG["sample_size"] == 64


def test_missing_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "musetalkV15").mkdir()
    (tmp_path / "musetalkV15" / "musetalk.json").write_text("{}")
    (tmp_path / "musetalkV15" / "unet.pth").write_bytes(b"")  # empty counts as missing
    missing = missing_files(tmp_path)
    assert "musetalkV15/unet.pth" in missing and "sd-vae/config.json" in missing
    assert "musetalkV15/musetalk.json" not in missing
    with pytest.raises(WeightsError) as err:
        check_weights(tmp_path)
    assert "musetalkV15/unet.pth" in str(err.value) and "weights download" in str(err.value)


def test_weights_dir_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSETALK_WEIGHTS", "/env/w")
    assert resolve_weights_dir("/cli/w") == Path("/cli/w")
    assert resolve_weights_dir(None) == Path("/env/w")
    monkeypatch.delenv("MUSETALK_WEIGHTS")
    assert resolve_weights_dir(None) == Path("weights")


def test_download_offline_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError) as err:
        download(tmp_path / "w", progress=False)
    assert "Could not download" in str(err.value)
    leftovers = [p for p in (tmp_path / "w").rglob("*") if p.is_file()]
    assert leftovers == []  # nothing half-written


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "musetalk", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=Path(__file__).resolve().parents[1])


def test_cli_missing_weights_exit_2(tmp_path: Path) -> None:
    proc = _cli("generate", "--video", "v.mp4", "--audio", "a.wav", "--out", str(tmp_path / "o.mp4"),
                "--weights", str(tmp_path / "nothing"))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "musetalkV15/unet.pth" in proc.stderr and "weights download" in proc.stderr


def test_cli_download_offline_exit_2(tmp_path: Path) -> None:
    proc = _cli("weights", "download", "--dir", str(tmp_path / "w"), env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Could not download" in proc.stderr


def test_cli_help_lists_commands() -> None:
    proc = _cli("--help")
    assert proc.returncode == 0
    for cmd in ("generate", "avatar", "weights"):
        assert cmd in proc.stdout
