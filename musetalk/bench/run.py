"""The benchmark: load once, warm up, then time one-shot ``generate`` and avatar ``prepare`` + ``speak``.

Stage times come from ``musetalk.profiling`` timers inside the pipeline's own threads, so measuring does not
change the pipelined run (no extra syncs unless ``sync_stages``). Stages overlap in time; a stage's seconds per
frame is its busy time divided by the frames of the run, and ``model_share`` is the model thread's busy time over
the wall time: near 1 means everything else is hidden behind the models.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import time
import wave
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import AUDIO_SAMPLE_RATE, FPS, FaceConfig, InferenceConfig
from ..errors import InputError
from ..profiling import StageTimes
from ..temp_files import make_temp_dir
from .memory import PeakMemory

# Stage name -> (label, which thread runs it). Order is the table's.
STAGES: dict[str, tuple[str, str]] = {
    "checks": ("input checks (sampled face scan)", "caller"),
    "audio_load": ("audio decode", "caller"),
    "whisper": ("Whisper encoder + windows", "caller"),
    "decode": ("video decode", "prep"),
    "frame_read": ("frame read (avatar store)", "prep"),
    "landmarks": ("landmarks + box", "prep"),
    "crop": ("crop 256", "prep"),
    "mask": ("blend mask", "prep"),
    "vae_encode": ("VAE encode", "model"),
    "unet": ("UNet", "model"),
    "vae_decode": ("VAE decode", "model"),
    "download": ("download faces", "model"),
    "blend": ("blend (paste back)", "blend"),
    "write": ("pipe to ffmpeg", "caller"),
    "mux": ("ffmpeg finish + mux", "caller"),
}
MODEL_STAGES = ("vae_encode", "unet", "vae_decode", "download")
PREP_STAGES = ("landmarks", "crop", "mask")


@dataclass
class BenchOptions:
    video: str
    audio: str
    weights: str | None = None
    random: str | None = None  # "tiny" | "full"
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int | str = 8
    frames: int | None = None
    loop_audio: bool = False  # repeat the audio to fill ``frames``
    avatar_source_frames: int = 250
    only: str | None = None  # "oneshot" | "avatar" | "live" (live runs only when asked: it takes real time)
    compile: bool = False
    channels_last: bool | None = None  # None: on CUDA only
    pipelined: bool = True
    sync_stages: bool = False
    keep: str | None = None
    score: bool = False  # score the outputs too (sync, silence, jitter, quality vs the source)
    chunk_ms: tuple[int, ...] = (100,)  # live: one paced session per chunk size


def random_weights_dir(size: str) -> Path:
    """~/.cache/musetalk/random-SIZE (XDG_CACHE_HOME respected), made by ``make-random`` the first time."""
    from ..weights import make_random, missing_files

    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "musetalk" / f"random-{size}"
    if missing_files(root):
        make_random(root, size, seed=0)  # full: about 3.7 GB written once
    return root


def run_bench(opts: BenchOptions) -> dict[str, Any]:
    import torch

    from ..models.device import auto_batch_size
    from ..pipeline import build_pipeline

    if opts.frames is not None and opts.frames < 1:
        raise InputError("--frames must be at least 1.")
    weights = random_weights_dir(opts.random) if opts.random else opts.weights
    mem = PeakMemory()
    load_avg_start = os.getloadavg()
    t0 = time.perf_counter()
    pipe = build_pipeline(weights, opts.device, opts.dtype, compile=opts.compile, channels_last=opts.channels_last)
    models = pipe.models
    load_s = time.perf_counter() - t0
    batch = auto_batch_size(models.device, models.dtype) if opts.batch_size == "auto" else int(opts.batch_size)
    cfg = InferenceConfig(batch_size=batch, pipelined=opts.pipelined)
    result: dict[str, Any] = {
        "machine": machine_info(torch, models),
        "options": {**asdict(opts), "batch_size": batch, "batch_size_arg": opts.batch_size},
        "load_s": load_s,
        "rss_after_load_mb": mem.current_rss_mb(),
    }
    tmp = make_temp_dir("bench")
    try:
        audio, n = _cut_audio(opts.audio, opts.frames, tmp / "audio.wav", opts.loop_audio)
        result["frames"] = n
        t0 = time.perf_counter()
        _warm_up(pipe, batch)
        result["warmup_s"] = time.perf_counter() - t0
        out_dir = Path(opts.keep) if opts.keep else tmp
        out_dir.mkdir(parents=True, exist_ok=True)
        if opts.only in (None, "oneshot"):
            with _Phase(mem, opts.sync_stages, n) as ph:
                pipe.generate(opts.video, audio, out_dir / "oneshot.mp4", cfg)
            result["oneshot"] = ph.report()
        if opts.only in (None, "avatar"):
            result.update(_bench_avatar(pipe, opts, cfg, audio, n, tmp, out_dir, mem))
        if opts.only == "live":
            from .live import bench_live

            result.update(bench_live(pipe, opts, cfg, audio, n, tmp, mem))
        if opts.score:
            result["score"] = _score_outputs(opts, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["peak_rss_mb"] = mem.process_peak_mb()
    result["machine"]["load_average_start"] = load_avg_start
    result["machine"]["load_average_end"] = os.getloadavg()
    return _summarise(result)


def _score_outputs(opts: BenchOptions, out_dir: Path) -> dict[str, Any]:
    """Scores of the outputs: the one-shot result against the source video; the avatar's (which loops its
    source) without one."""
    from ..score.report import score_video

    scores: dict[str, Any] = {}
    for name, source in (("oneshot", opts.video), ("avatar", None)):
        out = out_dir / f"{name}.mp4"
        if out.is_file():
            report = score_video(out, None, source)
            scores[name] = {**report.to_dict(), "lines": report.lines()}
    return scores


def _bench_avatar(pipe, opts: BenchOptions, cfg: InferenceConfig, audio: Path, n: int, tmp: Path, out_dir: Path,
                  mem: PeakMemory) -> dict[str, Any]:
    from ..avatar import Avatar

    n_src = max(1, min(n, opts.avatar_source_frames))
    clip = _cut_video(opts.video, n_src, tmp / "avatar-source.mp4")
    with _Phase(mem, opts.sync_stages, n_src) as prep:
        avatar = Avatar.prepare(pipe, clip, tmp / "avatars" / "bench", FaceConfig(), cfg.batch_size,
                                pipelined=opts.pipelined)
    with _Phase(mem, opts.sync_stages, n) as speak:
        avatar.speak_to_file(audio, out_dir / "avatar.mp4", cfg)
    return {"avatar_prepare": prep.report(), "avatar": speak.report()}


class _Phase:
    """Times one run: wall clock, stage timers, peak RSS / CUDA memory, ffmpeg child CPU time."""

    def __init__(self, mem: PeakMemory, sync: bool, frames: int) -> None:
        self.mem, self.frames = mem, frames
        self.times = StageTimes(sync_cuda=sync)

    def __enter__(self) -> _Phase:
        self.mem.reset_peak()
        self._children = _children_cpu()
        self._ctx = self.times.activate()
        self._ctx.__enter__()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t0
        self._ctx.__exit__(*exc)
        self.ffmpeg_cpu = _children_cpu() - self._children
        self.peak_rss = self.mem.peak_rss_mb()
        self.peak_cuda = self.mem.peak_cuda_mb()

    def report(self) -> dict[str, Any]:
        n = self.frames
        stages = {k: {"seconds": s, "items": self.times.items[k], "s_per_frame": s / n}
                  for k, s in self.times.seconds.items()}
        model = sum(self.times.seconds.get(k, 0.0) for k in MODEL_STAGES)
        prep = sum(self.times.seconds.get(k, 0.0) for k in PREP_STAGES)
        return {
            "frames": n, "wall_s": self.wall, "fps": n / self.wall, "stages": stages,
            "model_s_per_frame": model / n, "model_share": model / self.wall,
            "prep_ms_per_frame": 1000 * prep / n,
            "ffmpeg_cpu_s_per_frame": self.ffmpeg_cpu / n,
            "peak_rss_mb": self.peak_rss, "peak_cuda_mb": self.peak_cuda,
        }


def _summarise(result: dict[str, Any]) -> dict[str, Any]:
    """Flat keys scripts compare: fps_end_to_end, avatar_fps_end_to_end, s_per_frame.{stage}, ..."""
    one, av = result.get("oneshot"), result.get("avatar")
    result["fps_end_to_end"] = one["fps"] if one else None
    result["avatar_fps_end_to_end"] = av["fps"] if av else None
    result["s_per_frame"] = {k: v["s_per_frame"] for k, v in (one or {}).get("stages", {}).items()}
    result["avatar_s_per_frame"] = {k: v["s_per_frame"] for k, v in (av or {}).get("stages", {}).items()}
    prep = result.get("avatar_prepare")
    result["avatar_prepare_fps"] = prep["fps"] if prep else None
    return result


def _warm_up(pipe, batch: int) -> None:
    """One batch through encode + render (oneDNN/cuDNN set-up, torch.compile), outside the timed runs."""
    import torch

    crops = np.zeros((batch, 256, 256, 3), np.uint8)
    latents = pipe.renderer.encode(crops)
    pipe.renderer.render(latents, torch.zeros(batch, 50, 384, device=pipe.models.device))


def _cut_audio(audio: str, frames: int | None, dst: Path, loop: bool = False) -> tuple[Path, int]:
    """16 kHz mono WAV of exactly ``frames`` video frames (frames * 640 samples); all of it when None. ``loop``:
    the audio repeated as often as ``frames`` needs."""
    from ..media import load_audio
    from ..models.audio import frame_count

    wav = load_audio(audio)
    per_frame = AUDIO_SAMPLE_RATE // FPS
    n = frame_count(len(wav)) if frames is None else frames
    if loop and 0 < len(wav) < n * per_frame:
        wav = np.tile(wav, -(-n * per_frame // len(wav)))
    if frames is not None and len(wav) < n * per_frame:
        raise InputError(f"{audio} is shorter than {n} frames ({n / FPS:.2f} s).",
                         "Use fewer --frames, or --loop-audio.")
    pcm = (np.clip(wav[: n * per_frame], -1, 1) * 32767).astype("<i2")
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(AUDIO_SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return dst, n


def _cut_video(video: str, frames: int, dst: Path) -> Path:
    """The first ``frames`` frames at 25 fps, near-lossless, as the avatar's source clip."""
    from ..media._ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-v", "error", "-y", "-i", str(video), "-vf", f"fps={FPS}",
                    "-frames:v", str(frames), "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "12",
                    "-pix_fmt", "yuv420p", str(dst)], check=True, stdin=subprocess.DEVNULL)
    return dst


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def machine_info(torch, models) -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            text = fh.read()
        cpu = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), cpu)
        flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), [])
    except OSError:
        flags = []
    info = {
        "cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "cpu_isa": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": any(f in flags for f in ("avx512_bf16", "amx_bf16")),
        "torch": torch.__version__, "device": str(models.device), "dtype": str(models.dtype).replace("torch.", ""),
    }
    if models.device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(models.device)
    return info


def write_json(result: dict[str, Any], path: str | os.PathLike[str]) -> None:
    Path(path).write_text(json.dumps(result, indent=2, default=str))


# ------------------------------------------------------------------------------------------------ table


def format_table(r: dict[str, Any]) -> str:
    m = r["machine"]
    one, av, prep = r.get("oneshot"), r.get("avatar"), r.get("avatar_prepare")
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores ({m['cpu_isa']}), torch {m['torch']} {m['torch_threads']} "
        f"threads, {m['device']} {m['dtype']}" + (f", {m['gpu']}" if "gpu" in m else ""),
        (f"load average {m['load_average_start'][0]:.2f} -> {m['load_average_end'][0]:.2f}; frames {r['frames']}, "
         f"batch {r['options']['batch_size']}; models loaded in {r['load_s']:.1f} s, warm-up {r['warmup_s']:.1f} s"),
        "",
        f"{'stage':<34}{'thread':>8}{'one-shot s/frame':>18}{'avatar s/frame':>16}{'prepare s/frame':>17}",
    ]
    cols = [one, av, prep]
    for key, (label, thread) in STAGES.items():
        vals = [c["stages"].get(key, {}).get("s_per_frame") if c else None for c in cols]
        if all(v is None for v in vals):
            continue
        lines.append(f"{label:<34}{thread:>8}" + "".join(_cell(v, w) for v, w in zip(vals, (18, 16, 17))))
    lines.append("")
    for name, c in (("one-shot", one), ("avatar speak", av), ("avatar prepare", prep)):
        if c:
            lines.append(
                f"{name:<15} {c['fps']:7.3f} fps end to end ({c['wall_s']:.1f} s for {c['frames']} frames); "
                f"model stages {c['model_share']:.0%} of wall; prep {c['prep_ms_per_frame']:.1f} ms/frame; "
                f"ffmpeg CPU {c['ffmpeg_cpu_s_per_frame'] * 1000:.0f} ms/frame; peak RSS {c['peak_rss_mb']:.0f} MB"
                + (f"; peak CUDA {c['peak_cuda_mb']:.0f} MB" if c["peak_cuda_mb"] is not None else ""))
    lines.append(f"peak RSS (process, whole run) {r['peak_rss_mb']:.0f} MB; after loading models "
                 f"{r['rss_after_load_mb']:.0f} MB")
    if r.get("live"):
        from .live import live_lines

        lines.extend(live_lines(r["live"]))
    for name, score in r.get("score", {}).items():
        lines.extend(f"score {name}: {line}" for line in score["lines"])
    return "\n".join(lines)


def _cell(v: float | None, width: int) -> str:
    return f"{'-':>{width}}" if v is None else f"{v:>{width}.4f}"
