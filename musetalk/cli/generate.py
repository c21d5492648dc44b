"""``generate``: lip-sync one video (or image) to one audio, or several pairs from a tasks YAML."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..config import (
    PARSING_MODES,
    SILENCE_MODES,
    FaceConfig,
    InferenceConfig,
    SilenceConfig,
    VadConfig,
    parse_face_choice,
)
from ..errors import InputError
from ..media.rates import parse_fps
from .common import (
    add_batch_arg,
    add_crf_arg,
    add_face_args,
    add_fps_arg,
    add_model_args,
    add_silence_args,
    build_pipeline_from_args,
    face_config,
    fps_value,
    resolve_batch_size,
    silence_config,
    tqdm_progress,
)

EXIT_INTERRUPTED = 130
TASK_KEYS = {"video", "audio", "out", "face", "bbox_shift", "extra_margin", "parsing_mode", "left_cheek_width",
             "right_cheek_width", "smooth", "batch_size", "silence", "silence_threshold_db", "min_silence",
             "closed_frame", "fps", "crf"}


@dataclass
class Task:
    video: Path
    audio: Path
    out: Path
    cfg: InferenceConfig


def register(sub: Any) -> None:
    g = sub.add_parser("generate", help="lip-sync a video or image to an audio file",
                       description="Lip-sync VIDEO (or a still image) to AUDIO and write an mp4.")
    g.add_argument("--video", help="face video or image")
    g.add_argument("--audio", help="speech (any format ffmpeg reads, or a video with sound)")
    g.add_argument("--out", help="output .mp4")
    g.add_argument("--tasks", help="YAML of several tasks (name: {video, audio, [out], [overrides]})")
    g.add_argument("--out-dir", help="where --tasks outputs go when a task names no 'out' (default ./results)")
    add_batch_arg(g)
    tuned = g.add_mutually_exclusive_group()
    tuned.add_argument("--lora", metavar="RUN_DIR", help="apply the LoRA adapter of a training run")
    tuned.add_argument("--unet", metavar="PATH", help="use a fully fine-tuned UNet (a run's unet.pth)")
    g.add_argument("--score", action="store_true",
                   help="score each result when written: lip sync and A/V offset, mouth opening in silence, "
                        "jitter, quality outside/inside the blend region (see the score command)")
    add_model_args(g)
    add_face_args(g)
    add_silence_args(g)
    add_fps_arg(g)
    add_crf_arg(g)
    g.set_defaults(func=cmd_generate)


def cmd_generate(ns: argparse.Namespace) -> int:
    from ..checks import check_generate_inputs
    from ..weights import check_weights, resolve_weights_dir

    resolve_batch_size(ns)
    tasks = _tasks(ns)
    check_weights(resolve_weights_dir(ns.weights))  # instant: missing weights are named first
    # Every task's inputs, before the models load: a wrong file fails in seconds. What the checks learn
    # (probes, frame counts) goes to generate, which then checks nothing twice.
    checked = [check_generate_inputs(t.video, t.audio, t.out, t.cfg) for t in tasks]
    pipe = build_pipeline_from_args(ns)
    written: list[Path] = []
    for task, inputs in zip(tasks, checked):
        update, close = tqdm_progress()
        try:
            written.append(pipe.generate(task.video, task.audio, task.out, task.cfg, update, checked=inputs))
        except KeyboardInterrupt:
            if not written:
                raise
            close()
            print(f"\ninterrupted: {len(written)} of {len(tasks)} videos were written (listed above); "
                  f"{task.out} was not.", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            close()
        print(f"wrote {written[-1]}")
        if ns.score:
            from .score import print_report, score_result

            print_report(score_result(written[-1], task.video, task.cfg.face, ns.weights))
    return 0


def _tasks(ns: argparse.Namespace) -> list[Task]:
    """One task from --video/--audio/--out, or several from --tasks YAML (per-task overrides)."""
    base = InferenceConfig(face=face_config(ns), silence=silence_config(ns), fps=fps_value(ns), crf=ns.crf,
                           batch_size=ns.batch_size)
    if ns.tasks:
        return load_tasks(Path(ns.tasks), base, Path(ns.out_dir or "results"))
    missing = [f"--{k}" for k in ("video", "audio", "out") if not getattr(ns, k)]
    if missing:
        raise InputError(f"generate needs {', '.join(missing)} (or --tasks FILE.yaml).")
    return [Task(Path(ns.video), Path(ns.audio), Path(ns.out), base)]


def load_tasks(path: Path, base: InferenceConfig, out_dir: Path) -> list[Task]:
    """YAML: a mapping of task name -> {video, audio, [out], [face overrides]} (MuseTalk's format)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"Cannot read the tasks file {path}: {exc.strerror}.") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "it cannot be parsed"
        raise InputError(f"The tasks file {path} is not valid YAML{where}: {problem}.") from None
    if isinstance(data, list):
        data = {f"task_{i}": t for i, t in enumerate(data)}
    if not isinstance(data, dict) or not data:
        raise InputError(f"The tasks file {path} must map task names to {{video, audio}} entries.")
    tasks = []
    for name, t in data.items():
        if not isinstance(t, dict) or "video" not in t or "audio" not in t:
            raise InputError(f"Task {name!r} in {path} needs both 'video' and 'audio'.")
        unknown = set(t) - TASK_KEYS
        if unknown:
            raise InputError(f"Task {name!r} has unknown keys: {', '.join(sorted(unknown))}.",
                             f"Allowed: {', '.join(sorted(TASK_KEYS))}.")
        for key, value in t.items():
            problem = _bad_value(key, value)
            if problem:
                raise InputError(f"Task {name!r} in {path}: {key} {problem} (got {value!r}).")
        face = FaceConfig(**{f.name: t.get(f.name, getattr(base.face, f.name)) for f in fields(FaceConfig)})
        silence = SilenceConfig(mode=t.get("silence", base.silence.mode),
                                vad=VadConfig(t.get("silence_threshold_db", base.silence.vad.threshold_db),
                                              t.get("min_silence", base.silence.vad.min_silence_s)),
                                closed_frame=t.get("closed_frame", base.silence.closed_frame))
        fps = parse_fps(t["fps"]) if "fps" in t else base.fps
        cfg = InferenceConfig(face=face, silence=silence, fps=fps, crf=t.get("crf", base.crf),
                              batch_size=t.get("batch_size", base.batch_size))
        out = t.get("out") or _default_out(out_dir, name)

        def rel(p: str) -> Path:  # paths in the YAML are relative to the YAML
            return Path(p) if Path(p).is_absolute() else path.parent / p

        tasks.append(Task(rel(t["video"]), rel(t["audio"]), Path(out), cfg))
    return tasks


# Each task key's type and lowest value (None: any); every task is checked before anything runs.
_INT_KEYS = {"bbox_shift": None, "extra_margin": 0, "left_cheek_width": 0, "right_cheek_width": 0, "batch_size": 1,
             "closed_frame": 0, "crf": 0}
_PATH_KEYS = ("video", "audio", "out")


def _bad_value(key: str, value: Any) -> str | None:
    """What is wrong with a task's ``value`` for ``key``, as the end of a sentence; None when it is right."""
    if key in _INT_KEYS:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number"
        low = _INT_KEYS[key]
        return f"must be at least {low}" if low is not None and value < low else None
    if key == "parsing_mode" and value not in PARSING_MODES:
        return f"must be one of {', '.join(PARSING_MODES)}"
    if key == "smooth" and not isinstance(value, bool):
        return "must be true or false"
    if key == "face":
        try:
            parse_face_choice(value)
        except InputError:
            return "must be largest, a face number (0 = leftmost) or a pixel X,Y inside the face"
    if key == "silence" and value not in SILENCE_MODES:
        return f"must be one of {', '.join(SILENCE_MODES)}"
    if key in ("silence_threshold_db", "min_silence") and (isinstance(value, bool)
                                                            or not isinstance(value, (int, float))):
        return "must be a number"
    if key == "min_silence" and value <= 0:
        return "must be positive"
    if key == "crf" and isinstance(value, int) and value > 51:
        return "must be at most 51"
    if key in _PATH_KEYS and not (isinstance(value, str) and value) and not (key == "out" and value is None):
        return "must be a file path"
    return None


def _default_out(out_dir: Path, name: str) -> Path:
    """``OUT_DIR/NAME.mp4``; the folder (default ./results) is created, since the user did not name a file."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"Cannot create the output folder {out_dir}: {exc.strerror}.",
                         "Pass --out-dir with a folder you can write to.") from exc
    return out_dir / f"{name}.mp4"
