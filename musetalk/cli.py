"""``python -m musetalk``: generate | avatar | weights (train and bench register themselves when present).

User errors (``MuseTalkError``) print one message and exit with code 2; Ctrl-C exits 130; an unexpected bug
prints a short message and the path of a log file holding the traceback.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .bench import batch_size_arg
from .config import FaceConfig, InferenceConfig
from .errors import InputError, MuseTalkError
from .native_log import filtered_native_stderr

log = logging.getLogger("musetalk")

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
BATCH_HELP = "frames per model call, or auto (from free memory)"


# ------------------------------------------------------------------------------------------- options


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", help="weights folder (default: $MUSETALK_WEIGHTS, else ./weights)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--dtype", default="auto", choices=["auto", "fp32", "fp16", "bf16"],
                   help="auto = fp16 on GPU, bf16 on a CPU with native bf16, else fp32")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the UNet and VAE: faster on a GPU after slow first batches")


def add_face_args(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    """Face options; with defaults=False they default to None so per-task values can override them."""
    d = FaceConfig()

    def dflt(v: Any) -> Any:
        return v if defaults else None

    p.add_argument("--bbox-shift", type=int, default=dflt(d.bbox_shift),
                   help="move the crop's centre down (+) or up (-) in pixels; changes mouth openness")
    p.add_argument("--extra-margin", type=int, default=dflt(d.extra_margin),
                   help="pixels added below the chin (v1.5 default 10)")
    p.add_argument("--parsing-mode", choices=["jaw", "raw", "neck"], default=dflt(d.parsing_mode),
                   help="blend region: jaw (default), raw (lips, mouth, skin) or neck")
    p.add_argument("--left-cheek-width", type=int, default=dflt(d.left_cheek_width))
    p.add_argument("--right-cheek-width", type=int, default=dflt(d.right_cheek_width))
    p.add_argument("--no-smooth", action="store_true", default=None if not defaults else False,
                   help="turn off temporal smoothing of the crop box")


def face_config(ns: argparse.Namespace, base: FaceConfig | None = None) -> FaceConfig:
    base = base or FaceConfig()
    values = {
        "bbox_shift": ns.bbox_shift, "extra_margin": ns.extra_margin, "parsing_mode": ns.parsing_mode,
        "left_cheek_width": ns.left_cheek_width, "right_cheek_width": ns.right_cheek_width,
    }
    cfg = FaceConfig(**{k: (getattr(base, k) if v is None else v) for k, v in values.items()},
                     smooth=base.smooth if ns.no_smooth is None else not ns.no_smooth)
    return cfg


def tqdm_progress() -> tuple[Callable[[str, int, int], None], Callable[[], None]]:
    """A progress callback drawing one tqdm bar per stage, and a function closing the last bar."""
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bars.clear()
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="frame", leave=False, dynamic_ncols=True)
        bar.total = max(total, done)
        bar.n = done
        bar.refresh()

    def close() -> None:
        for b in bars.values():
            b.close()

    return update, close


# ------------------------------------------------------------------------------------------- commands


def _pipeline(ns: argparse.Namespace):
    from .models import load_models
    from .models.device import optimize_models
    from .pipeline import LipSyncPipeline

    models = load_models(ns.weights, ns.device, ns.dtype, _finetuned(ns))
    return LipSyncPipeline(optimize_models(models, compile=getattr(ns, "compile", False)))


def _resolve_batch_size(ns: argparse.Namespace) -> None:
    """``--batch-size auto`` -> a number from free memory (see ``models.device.choose_batch_size``)."""
    if getattr(ns, "batch_size", None) == "auto":
        from .models.device import choose_batch_size
        from .weights import resolve_weights_dir

        ns.batch_size = choose_batch_size(resolve_weights_dir(ns.weights), ns.device, ns.dtype)
        log.info("batch size %d (auto)", ns.batch_size)


def _finetuned(ns: argparse.Namespace) -> str | None:
    """generate --lora RUN_DIR or --unet PATH: a fine-tuned model applied on top of the base UNet."""
    path = getattr(ns, "lora", None) or getattr(ns, "unet", None)
    if path and not Path(path).exists():
        raise InputError(f"{path} does not exist.", "Give a training run folder (--lora) or a unet.pth (--unet).")
    return path


def cmd_generate(ns: argparse.Namespace) -> int:
    from .checks import check_generate_inputs
    from .weights import check_weights, resolve_weights_dir

    _resolve_batch_size(ns)
    tasks = _tasks(ns)
    check_weights(resolve_weights_dir(ns.weights))  # instant: missing weights are named first
    for task in tasks:  # every task's inputs, before the models load: a wrong file fails in seconds
        check_generate_inputs(task["video"], task["audio"], task["out"], task["cfg"])
    pipe = _pipeline(ns)
    written: list[Path] = []
    for task in tasks:
        update, close = tqdm_progress()
        try:
            written.append(pipe.generate(task["video"], task["audio"], task["out"], task["cfg"], update))
        except KeyboardInterrupt:
            if not written:
                raise
            close()
            print(f"\ninterrupted: {len(written)} of {len(tasks)} videos were written (listed above); "
                  f"{task['out']} was not.", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            close()
        print(f"wrote {written[-1]}")
    return 0


def _tasks(ns: argparse.Namespace) -> list[dict[str, Any]]:
    """One task from --video/--audio/--out, or several from --tasks YAML (per-task overrides)."""
    base = InferenceConfig(face=face_config(ns), batch_size=ns.batch_size)
    if ns.tasks:
        return _load_tasks(Path(ns.tasks), base, Path(ns.out_dir or "results"))
    missing = [f"--{k}" for k in ("video", "audio", "out") if not getattr(ns, k)]
    if missing:
        raise InputError(f"generate needs {', '.join(missing)} (or --tasks FILE.yaml).")
    return [{"video": ns.video, "audio": ns.audio, "out": ns.out, "cfg": base}]


TASK_KEYS = {"video", "audio", "out", "bbox_shift", "extra_margin", "parsing_mode", "left_cheek_width",
             "right_cheek_width", "smooth", "batch_size"}


def _load_tasks(path: Path, base: InferenceConfig, out_dir: Path) -> list[dict[str, Any]]:
    """YAML: a mapping of task name -> {video, audio, [out], [face overrides]} (MuseTalk's format)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"Cannot read the tasks file {path}: {exc.strerror}.") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"The tasks file {path} is not valid YAML: {exc}.") from exc
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
        face = FaceConfig(**{k: t.get(k, getattr(base.face, k)) for k in FaceConfig.__dataclass_fields__})
        cfg = InferenceConfig(face=face, batch_size=int(t.get("batch_size", base.batch_size)))
        out = t.get("out") or _default_out(out_dir, name)
        rel = lambda p: p if Path(p).is_absolute() else path.parent / p  # noqa: E731 - paths relative to the YAML
        tasks.append({"video": rel(t["video"]), "audio": rel(t["audio"]), "out": Path(out), "cfg": cfg})
    return tasks


def _default_out(out_dir: Path, name: str) -> Path:
    """``OUT_DIR/NAME.mp4``; the folder (default ./results) is created, since the user did not name a file."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"Cannot create the output folder {out_dir}: {exc.strerror}.",
                         "Pass --out-dir with a folder you can write to.") from exc
    return out_dir / f"{name}.mp4"


def cmd_avatar(ns: argparse.Namespace) -> int:
    from .avatar import Avatar, delete_avatar, list_avatars, resolve_avatars_dir, validate_name

    root = resolve_avatars_dir(ns.avatars)
    if ns.avatar_cmd == "list":
        for name in list_avatars(root):
            print(name)
        return 0
    if ns.avatar_cmd == "delete":
        delete_avatar(root, ns.name)
        print(f"deleted {ns.name}")
        return 0
    _resolve_batch_size(ns)
    _check_avatar_inputs(ns, root / validate_name(ns.name))
    pipe = _pipeline(ns)
    update, close = tqdm_progress()
    try:
        if ns.avatar_cmd == "prepare":
            av = Avatar.prepare(pipe, ns.video, root / validate_name(ns.name), face_config(ns), ns.batch_size, update)
            print(f"prepared avatar {av.name}: {len(av.store)} frames in {av.root}")
        else:
            av = Avatar.load(pipe, root / validate_name(ns.name))
            out = av.speak_to_file(ns.audio, ns.out, InferenceConfig(batch_size=ns.batch_size), update)
            print(f"wrote {out}")
    finally:
        close()
    return 0


def _check_avatar_inputs(ns: argparse.Namespace, root: Path) -> None:
    """Wrong files fail before the models load: the video (and its face) to prepare; the audio, output and
    avatar folder to speak."""
    from .avatar import require_avatar_folder
    from .checks import check_audio, check_output_path, check_video, require_face

    if ns.avatar_cmd == "prepare":
        require_face(ns.video, check_video(ns.video, ns.batch_size))
    else:
        check_output_path(ns.out, (ns.audio,))
        check_audio(ns.audio)
        require_avatar_folder(root, "Prepare it with `python -m musetalk avatar prepare`.")


def cmd_weights(ns: argparse.Namespace) -> int:
    from . import weights

    root = weights.resolve_weights_dir(ns.dir)
    if ns.weights_cmd == "download":
        weights.download(root)
        print(f"weights ready in {root}")
    elif ns.weights_cmd == "make-random":
        weights.make_random(root, ns.size, ns.seed)
        print(f"wrote {ns.size} random-init weights to {root} (for tests: they do not lip-sync)")
    else:
        weights.check_weights(root)
        print(f"all weights present in {root}")
    return 0


# ------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m musetalk", description="Lip-sync a face video to any speech "
                                     "(MuseTalk v1.5 compatible).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("generate", help="lip-sync a video or image to an audio file",
                       description="Lip-sync VIDEO (or a still image) to AUDIO and write an mp4.")
    g.add_argument("--video", help="face video or image")
    g.add_argument("--audio", help="speech (any format ffmpeg reads, or a video with sound)")
    g.add_argument("--out", help="output .mp4")
    g.add_argument("--tasks", help="YAML of several tasks (name: {video, audio, [out], [overrides]})")
    g.add_argument("--out-dir", help="where --tasks outputs go when a task names no 'out' (default ./results)")
    g.add_argument("--batch-size", type=batch_size_arg, default=8, help=BATCH_HELP)
    tuned = g.add_mutually_exclusive_group()
    tuned.add_argument("--lora", metavar="RUN_DIR", help="apply the LoRA adapter of a training run")
    tuned.add_argument("--unet", metavar="PATH", help="use a fully fine-tuned UNet (a run's unet.pth)")
    add_model_args(g)
    add_face_args(g)
    g.set_defaults(func=cmd_generate)

    a = sub.add_parser("avatar", help="real-time avatars: prepare once, speak many times")
    a.add_argument("--avatars", help="avatars folder (default: $MUSETALK_AVATARS, else ./avatars)")
    asub = a.add_subparsers(dest="avatar_cmd", required=True, metavar="ACTION")
    ap = asub.add_parser("prepare", help="analyse and encode a video once")
    ap.add_argument("--video", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--batch-size", type=batch_size_arg, default=8, help=BATCH_HELP)
    add_model_args(ap)
    add_face_args(ap)
    sp = asub.add_parser("speak", help="make a prepared avatar say an audio")
    sp.add_argument("--name", required=True)
    sp.add_argument("--audio", required=True)
    sp.add_argument("--out", required=True)
    sp.add_argument("--batch-size", type=batch_size_arg, default=8, help=BATCH_HELP)
    add_model_args(sp)
    asub.add_parser("list", help="list prepared avatars")
    dp = asub.add_parser("delete", help="delete a prepared avatar")
    dp.add_argument("--name", required=True)
    a.set_defaults(func=cmd_avatar)

    w = sub.add_parser("weights", help="download, check or make random-init weights")
    wsub = w.add_subparsers(dest="weights_cmd", required=True, metavar="ACTION")
    wd = wsub.add_parser("download", help="fetch the official weights from the Hugging Face Hub")
    wd.add_argument("--dir", help="weights folder (default: $MUSETALK_WEIGHTS, else ./weights)")
    wm = wsub.add_parser("make-random", help="random-init models in the official layout (tests, benchmarks)")
    wm.add_argument("--dir", help="weights folder")
    wm.add_argument("--size", choices=["tiny", "full"], default="tiny")
    wm.add_argument("--seed", type=int, default=0)
    wc = wsub.add_parser("check", help="say which files are missing")
    wc.add_argument("--dir", help="weights folder")
    w.set_defaults(func=cmd_weights)

    for register in _optional_commands():
        register(sub)
    return parser


def _optional_commands() -> list[Callable[[Any], None]]:
    """Commands living in their own modules (train, bench) add their parsers here."""
    found = []
    for mod in ("musetalk.train.cli", "musetalk.bench"):
        try:
            module = __import__(mod, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("musetalk"):
                continue
            raise
        found.append(module.register)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if ns.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    _quiet_libraries(ns.verbose)
    # `kill`, docker stop, a closed terminal: unwind like Ctrl-C. Off the main thread (embedded), leave signals be.
    stops = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    try:
        previous = {sig: signal.signal(sig, _terminate) for sig in stops}
    except ValueError:
        previous = {}
    try:
        with filtered_native_stderr():
            return ns.func(ns)
    except MuseTalkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("\ninterrupted: the output in progress was not written.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # a bug: keep the traceback out of the user's face, but not out of reach
        log_path = Path(tempfile.gettempdir()) / "musetalk-error.log"
        log_path.write_text(traceback.format_exc())
        exc_type, exc_value = sys.exc_info()[:2]
        print(f"error: unexpected {exc_type.__name__}: {exc_value}. Details in {log_path}; please report it.",
              file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so atomic writers abort and temporary files are removed."""
    raise KeyboardInterrupt


def _quiet_libraries(verbose: bool) -> None:
    """diffusers/transformers warn about things that do not concern users of this tool."""
    if verbose:
        return
    try:
        from diffusers.utils import logging as dlog
        from transformers.utils import logging as tlog

        dlog.set_verbosity_error()
        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
    except ImportError:
        pass
