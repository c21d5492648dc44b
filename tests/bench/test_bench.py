"""``python -m musetalk bench`` on tiny random weights and a small clip made from the bundled face photo.

No timing assertions: the numbers must be present, finite and consistent, not fast.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from core_helpers import ffmpeg

from musetalk.cli.common import batch_size_arg
from musetalk.cli import main

ASSETS = Path(__file__).resolve().parents[2] / "assets"


@pytest.fixture(scope="module")
def still_clip(tmp_path_factory) -> Path:
    """1 s, 25 fps, 256x256 video of the bundled face photo."""
    out = tmp_path_factory.mktemp("bench-clip") / "face.mp4"
    ffmpeg("-loop", "1", "-i", str(ASSETS / "face.jpg"), "-t", "1", "-vf", "fps=25,scale=256:256",
           "-pix_fmt", "yuv420p", str(out))
    return out


def test_bench_random_tiny_writes_sane_json(still_clip, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # --random tiny is made here, once
    out = tmp_path / "bench.json"
    rc = main(["bench", "--video", str(still_clip), "--audio", str(ASSETS / "speech.wav"), "--random", "tiny",
               "--device", "cpu", "--dtype", "fp32", "--frames", "12", "--batch-size", "4",
               "--avatar-source-frames", "6", "--score", "--json", str(out)])
    assert rc == 0
    assert (tmp_path / "cache" / "musetalk" / "random-tiny" / "musetalkV15" / "unet.pth").is_file()
    r = json.loads(out.read_text())

    assert r["frames"] == 12
    for key in ("fps_end_to_end", "avatar_fps_end_to_end", "avatar_prepare_fps", "peak_rss_mb",
                "rss_after_load_mb"):
        assert isinstance(r[key], (int, float)) and math.isfinite(r[key]) and r[key] > 0, key
    assert r["peak_rss_mb"] >= r["rss_after_load_mb"] * 0.9
    assert r["machine"]["device"] == "cpu" and r["machine"]["dtype"] == "float32"

    one = r["s_per_frame"]
    for stage in ("whisper", "decode", "landmarks", "crop", "mask", "vae_encode", "unet", "vae_decode",
                  "download", "blend", "write", "mux"):
        assert stage in one and one[stage] >= 0 and math.isfinite(one[stage]), stage
    assert r["oneshot"]["stages"]["unet"]["items"] == 12  # every frame had the face
    assert r["oneshot"]["stages"]["vae_encode"]["items"] == 12  # no loop: each source frame encoded once

    av = r["avatar_s_per_frame"]
    for stage in ("whisper", "frame_read", "mask", "unet", "vae_decode", "blend", "write"):
        assert stage in av, stage
    assert "vae_encode" not in av and "landmarks" not in av  # the avatar's speech reuses its prepared latents
    assert r["avatar_prepare"]["frames"] == 6 and r["avatar_prepare"]["stages"]["vae_encode"]["items"] == 6

    for phase in ("oneshot", "avatar", "avatar_prepare"):
        p = r[phase]
        assert p["wall_s"] > 0 and 0 < p["model_share"] < 1.5 and p["prep_ms_per_frame"] >= 0
        assert math.isclose(p["fps"], p["frames"] / p["wall_s"], rel_tol=1e-6)
        assert p["peak_rss_mb"] > 0 and p["peak_cuda_mb"] is None

    # --score: the one-shot result against its source, the avatar's on its own
    one_score, av_score = r["score"]["oneshot"], r["score"]["avatar"]
    assert one_score["frames"] == 12 and one_score["quality"]["frames"] == 12
    assert one_score["quality"]["outside"]["psnr"] > 30  # outside the blend the frames are the source's
    assert av_score["quality"] is None and av_score["frames"] == 12
    assert not one_score["sync"]["confident"]  # 0.5 s: too short to decide, and it says so


def test_batch_size_arg() -> None:
    import argparse

    assert batch_size_arg("auto") == "auto" and batch_size_arg("12") == 12
    for bad in ("0", "-3", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            batch_size_arg(bad)


def test_auto_batch_size_is_bounded() -> None:
    import torch

    from musetalk.models.device import auto_batch_size

    assert 1 <= auto_batch_size(torch.device("cpu"), torch.float32) <= 8
