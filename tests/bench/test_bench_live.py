"""``bench --only live`` on tiny random weights: one paced session per chunk size; the numbers must be present,
finite and consistent, not fast."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from core_helpers import ASSETS, ffmpeg

from musetalk.cli import main


def test_bench_live_reports_each_chunk_size(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("musetalk.bench.live.RSS_EVERY_S", 0.2)  # an RSS sample every 5 frames of the 20
    clip = tmp_path / "face.mp4"
    ffmpeg("-loop", "1", "-i", str(ASSETS / "face.jpg"), "-t", "0.4", "-vf", "fps=25,scale=256:256",
           "-pix_fmt", "yuv420p", str(clip))
    out = tmp_path / "bench.json"
    assert main(["bench", "--video", str(clip), "--audio", str(ASSETS / "speech.wav"), "--random", "tiny",
                 "--device", "cpu", "--dtype", "fp32", "--frames", "20", "--batch-size", "4", "--only", "live",
                 "--chunk-ms", "100,500", "--avatar-source-frames", "10", "--json", str(out)]) == 0
    assert "live chunk" in capsys.readouterr().out
    r = json.loads(out.read_text())
    assert "oneshot" not in r and "avatar" not in r and r["live_source_frames"] == 10
    assert [run["chunk_ms"] for run in r["live"]] == [100, 500]
    for run in r["live"]:
        assert run["frames"] == run["expected_frames"] == 20 and run["audio_mismatch"] == 0
        assert run["rendered"] + run["held"] + run["idle"] == 20
        assert run["render_fps"] >= 0 and math.isclose(run["real_time_factor"], run["render_fps"] / 25)
        assert run["stride"] >= 1 and run["peak_rss_mb"] > 0 and run["av_offset_max"] >= 0
        assert run["latency_median_s"] > 0 and run["latency_p95_s"] >= run["latency_median_s"]
        assert len(run["rss_every_10s_mb"]) == 4 and min(run["rss_every_10s_mb"]) > 0


def test_loop_audio_repeats_the_clip_to_fill_the_frames(tmp_path: Path) -> None:
    from musetalk.bench.run import _cut_audio
    from musetalk.errors import InputError
    from musetalk.media import load_audio

    wav = load_audio(ASSETS / "speech.wav")  # 4.14 s: 103 frames
    dst, n = _cut_audio(str(ASSETS / "speech.wav"), 250, tmp_path / "a.wav", loop=True)
    got = load_audio(dst)
    assert n == 250 and len(got) == 250 * 640
    assert np.abs(got[len(wav) : 2 * len(wav)] - got[: len(wav)]).max() < 1e-6  # the clip again, not silence
    assert np.abs(got[: len(wav)] - np.clip(wav, -1, 1)).max() < 1 / 16000  # 16-bit
    with pytest.raises(InputError, match="--loop-audio"):
        _cut_audio(str(ASSETS / "speech.wav"), 250, tmp_path / "b.wav")
