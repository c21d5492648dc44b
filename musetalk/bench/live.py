"""``bench --only live``: one paced live session per chunk size, fed the audio on the real-time clock.

Per run: chunk -> frame latency (median, p95), the render rate and its real-time factor, the stride the engine
chose, frames rendered / held / idle, the A/V offset (for each speech frame, the slot whose render it shows minus
its own slot; and per picture, its slot minus the middle of the slots showing it, ``Recording.picture_thirds``),
peak RSS, and RSS every 10 s of the stream (whether memory stays flat; ``--frames 7500 --loop-audio`` is 5 minutes).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..config import FaceConfig, InferenceConfig
from ..errors import InputError
from .memory import PeakMemory

RSS_EVERY_S = 10  # the RSS trace: one sample per this many seconds of recorded frames


def chunk_list(text: str) -> tuple[int, ...]:
    """``--chunk-ms 20,100,500`` -> (20, 100, 500); each at least 20 ms."""
    from ..live.record import MIN_CHUNK_MS

    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InputError(f"--chunk-ms takes milliseconds separated by commas, got {text!r}.") from None
    if not values or min(values) < MIN_CHUNK_MS:
        raise InputError(f"--chunk-ms values must be at least {MIN_CHUNK_MS} ms, got {text!r}.")
    return values


def bench_live(pipe, opts, cfg: InferenceConfig, audio: Path, n: int, tmp: Path, mem: PeakMemory) -> dict[str, Any]:
    from ..avatar import Avatar
    from ..live import LiveConfig
    from ..live.record import run_fed
    from ..media import load_audio
    from .run import _cut_video

    n_src = max(1, min(n, opts.avatar_source_frames))
    clip = _cut_video(opts.video, n_src, tmp / "live-source.mp4")
    avatar = Avatar.prepare(pipe, clip, tmp / "avatars" / "live", FaceConfig(), cfg.batch_size,
                            pipelined=opts.pipelined)
    wav = load_audio(audio)
    runs = []
    every = max(1, round(RSS_EVERY_S * float(avatar.fps)))
    for chunk_ms in opts.chunk_ms:
        mem.reset_peak()
        trace: list[float] = []

        def sample_rss(images: Iterator[np.ndarray]) -> None:  # run_fed calls it before the next chunk size
            for k, _ in enumerate(images, 1):
                if k % every == 0:
                    trace.append(mem.current_rss_mb())

        rec = run_fed(avatar, wav, chunk_ms, LiveConfig(batch_size=cfg.batch_size), sample_rss)
        st = rec.stats
        above = None if st.latency_median_s is None else st.latency_median_s - st.render_batch_s
        runs.append({
            "chunk_ms": chunk_ms, "latency_median_s": st.latency_median_s, "latency_p95_s": st.latency_p95_s,
            "render_batch_s": st.render_batch_s, "latency_above_render_s": above,
            "render_fps": st.render_fps, "real_time_factor": st.render_fps / st.fps, "stride": st.stride,
            "frames": rec.frames, "expected_frames": rec.expected_frames, "rendered": rec.kinds["speech"],
            "held": rec.kinds["held"], "idle": rec.kinds["idle"], "av_offset_mean": rec.mean_offset,
            "av_offset_max": rec.max_offset, "av_offset_thirds": rec.thirds,
            "av_picture_offset_thirds": rec.picture_thirds, "utterances": st.utterances,
            "audio_mismatch": rec.audio_mismatch,
            "message": st.message(), "peak_rss_mb": mem.peak_rss_mb(), "rss_every_10s_mb": trace,
        })
    return {"live": runs, "live_source_frames": n_src}


def live_lines(runs: list[dict[str, Any]]) -> list[str]:
    from ..live.record import format_thirds

    head = (f"{'live chunk':>10}{'latency med':>13}{'p95':>8}{'batch s':>9}{'render fps':>12}{'x real':>8}"
            f"{'stride':>8}{'rendered/held/idle':>20}{'offset s/m/e':>19}{'per picture':>19}{'spread mean/max':>17}"
            f"{'RSS MB':>8}{'RSS 10 s/end MB':>17}")
    lines = ["", head]
    for r in runs:
        lat = "-" if r["latency_median_s"] is None else f"{r['latency_median_s']:.3f}"
        p95 = "-" if r["latency_p95_s"] is None else f"{r['latency_p95_s']:.3f}"
        counts = f"{r['rendered']}/{r['held']}/{r['idle']}"
        thirds = format_thirds(r["av_offset_thirds"])
        pictures = format_thirds(r["av_picture_offset_thirds"])
        lines.append(f"{str(r['chunk_ms']) + ' ms':>10}{lat:>13}{p95:>8}{r['render_batch_s']:>9.3f}"
                     f"{r['render_fps']:>12.2f}{r['real_time_factor']:>8.2f}{r['stride']:>8}{counts:>20}{thirds:>19}"
                     f"{pictures:>19}"
                     f"{r['av_offset_mean']:>11.2f}/{r['av_offset_max']:<5}{r['peak_rss_mb']:>8.0f}"
                     f"{_trace_ends(r.get('rss_every_10s_mb') or []):>17}")
    return lines


def _trace_ends(trace: list[float]) -> str:
    """The RSS 10 s into the stream and at its last sample: "612/615" ("-" for a stream under 10 s)."""
    return f"{trace[0]:.0f}/{trace[-1]:.0f}" if trace else "-"
