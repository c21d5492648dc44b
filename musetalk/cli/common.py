"""What every command shares: the model, face and batch options, their values as configs, and progress bars."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import (
    CRF,
    DEVICES,
    DTYPES,
    FACE_CHOICE_HELP,
    PARSING_MODES,
    SILENCE_MODES,
    FaceConfig,
    Progress,
    SilenceConfig,
    VadConfig,
)
from ..errors import InputError

log = logging.getLogger("musetalk")

BATCH_HELP = "frames per model call, or auto (from free memory)"
WEIGHTS_HELP = "weights folder (default: $MUSETALK_WEIGHTS, else ./weights)"


def batch_size_arg(text: str) -> int | str:
    """``--batch-size``: a positive integer or ``auto`` (from free memory, see ``models.device.auto_batch_size``)."""
    if text == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}")
    return value


def add_batch_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-size", type=batch_size_arg, default=8, help=BATCH_HELP)


def add_device_args(p: argparse.ArgumentParser, dtype_help: str | None = None) -> None:
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--dtype", default="auto", choices=DTYPES,
                   help=dtype_help or "auto = fp16 on GPU, bf16 on a CPU with native bf16, else fp32")


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", help=WEIGHTS_HELP)
    add_device_args(p)
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
    p.add_argument("--parsing-mode", choices=PARSING_MODES, default=dflt(d.parsing_mode),
                   help="blend region: jaw (default), raw (lips, mouth, skin) or neck")
    p.add_argument("--left-cheek-width", type=int, default=dflt(d.left_cheek_width),
                   help="jaw mode: how far the blend keeps the jaw left of the centre, in MuseTalk's units "
                        "(pixels of its 512-pixel face-parsing square, 1.5x the face box)")
    p.add_argument("--right-cheek-width", type=int, default=dflt(d.right_cheek_width),
                   help="the same, right of the centre")
    p.add_argument("--no-smooth", action="store_true", default=None if not defaults else False,
                   help="turn off temporal smoothing of the crop box")
    p.add_argument("--face", default=dflt(d.face), metavar="largest|N|X,Y", help=FACE_CHOICE_HELP)


def add_crf_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--crf", type=int, default=CRF, choices=range(0, 52), metavar="0-51",
                   help=f"H.264 quality of the output: lower is better and larger (default {CRF}, visually lossless)")


def add_fps_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fps", default="source",
                   help="output frame rate: source (default: the video's own, snapped to a standard rate; 25 for a "
                        "photo) or a rate such as 25, 30, 29.97 or 24000/1001")


def fps_value(ns: argparse.Namespace):  # -> Fraction | None
    from ..media.rates import parse_fps

    return parse_fps(getattr(ns, "fps", None))


def add_vad_args(p: argparse.ArgumentParser) -> None:
    """The silence detector's settings (generate, avatar speak and score share them)."""
    d = VadConfig()
    p.add_argument("--silence-threshold-db", type=float, default=None,
                   help=f"silent = this many dB below the loud end of the audio (default {d.threshold_db:g})")
    p.add_argument("--min-silence", type=float, default=None,
                   help=f"shortest silence in seconds; shorter pauses count as speech (default {d.min_silence_s:g})")


def add_silence_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--silence", choices=SILENCE_MODES, default=None,
                   help="close (default): the mouth closes in the audio's silent stretches, with a closed mouth "
                        "taken from the video itself; keep: the model's frames throughout, as MuseTalk")
    p.add_argument("--closed-frame", type=int, default=None,
                   help="the video frame (from 0, at 25 fps) to take the closed mouth from (default: the one "
                        "whose mouth is most closed)")
    add_vad_args(p)


def vad_config(ns: argparse.Namespace, base: VadConfig | None = None) -> VadConfig:
    base = base or VadConfig()
    threshold = getattr(ns, "silence_threshold_db", None)
    min_silence = getattr(ns, "min_silence", None)
    if min_silence is not None and min_silence <= 0:
        raise InputError(f"--min-silence must be positive, got {min_silence:g}.")
    return VadConfig(base.threshold_db if threshold is None else threshold,
                     base.min_silence_s if min_silence is None else min_silence)


def silence_config(ns: argparse.Namespace, base: SilenceConfig | None = None) -> SilenceConfig:
    base = base or SilenceConfig()
    closed = getattr(ns, "closed_frame", None)
    if closed is not None and closed < 0:
        raise InputError(f"--closed-frame must be 0 or more, got {closed}.")
    mode = getattr(ns, "silence", None)
    return SilenceConfig(mode=base.mode if mode is None else mode, vad=vad_config(ns, base.vad),
                         closed_frame=base.closed_frame if closed is None else closed)


def face_config(ns: argparse.Namespace, base: FaceConfig | None = None) -> FaceConfig:
    base = base or FaceConfig()
    values = {
        "bbox_shift": ns.bbox_shift, "extra_margin": ns.extra_margin, "parsing_mode": ns.parsing_mode,
        "left_cheek_width": ns.left_cheek_width, "right_cheek_width": ns.right_cheek_width, "face": ns.face,
    }
    return FaceConfig(**{k: (getattr(base, k) if v is None else v) for k, v in values.items()},
                      smooth=base.smooth if ns.no_smooth is None else not ns.no_smooth)


def resolve_batch_size(ns: argparse.Namespace) -> None:
    """``--batch-size auto`` -> a number from free memory (see ``models.device.choose_batch_size``)."""
    if getattr(ns, "batch_size", None) == "auto":
        from ..models.device import choose_batch_size
        from ..weights import resolve_weights_dir

        ns.batch_size = choose_batch_size(resolve_weights_dir(ns.weights), ns.device, ns.dtype)
        log.info("batch size %d (auto)", ns.batch_size)


def finetuned_path(ns: argparse.Namespace) -> str | None:
    """--lora RUN_DIR or --unet PATH: a fine-tuned model applied on top of the base UNet."""
    path = getattr(ns, "lora", None) or getattr(ns, "unet", None)
    if path and not Path(path).exists():
        raise InputError(f"{path} does not exist.", "Give a training run folder (--lora) or a unet.pth (--unet).")
    return path


def quiet_libraries(ns: argparse.Namespace) -> None:
    """diffusers/transformers warn about things that do not concern users of this tool. Called by the commands
    that load models, just before: importing those libraries takes seconds that other commands need not spend."""
    if getattr(ns, "verbose", False):
        return
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    dlog.set_verbosity_error()
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()


def build_pipeline_from_args(ns: argparse.Namespace):
    """The pipeline for the model options of ``ns`` (one factory: ``pipeline.build_pipeline``)."""
    from ..pipeline import build_pipeline

    print("loading models…", file=sys.stderr, flush=True)  # seconds to a minute of silence otherwise
    quiet_libraries(ns)
    return build_pipeline(ns.weights, ns.device, ns.dtype, finetuned_path(ns), compile=ns.compile)


# Stages that are one step (no count to show): one line when they start, instead of a bar at 0% and a rate
# made of one step in microseconds.
ONE_STEP_LABELS = {"audio": "reading the audio", "encode": "writing the video"}
UNITS = {"lip-sync": "frame", "prepare": "frame", "faces": "frame", "train": "step"}


def tqdm_progress() -> tuple[Progress, Callable[[], None]]:
    """A progress callback drawing one tqdm bar per counted stage (its rate and time left), one line for a
    one-step stage, and a function that ends the last bar on its own line (so "wrote ..." starts a new one)."""
    from tqdm import tqdm

    current: dict[str, Any] = {"stage": None, "bar": None}

    def close() -> None:
        if current["bar"] is not None:
            current["bar"].close()
            current["bar"] = None

    def update(stage: str, done: int, total: int) -> None:
        if stage != current["stage"]:
            close()
            current["stage"] = stage
            if total <= 1:
                print(f"{ONE_STEP_LABELS.get(stage, stage)}…", file=sys.stderr, flush=True)
                return
            # initial=done: the rate counts from here, not the work done before the first report.
            current["bar"] = tqdm(total=total, initial=done, desc=stage, unit=UNITS.get(stage, "step"), leave=True,
                                  dynamic_ncols=True, smoothing=0.1)
            return
        bar = current["bar"]
        if bar is None:  # a one-step stage, already announced
            return
        bar.total = max(total, done)
        bar.update(done - bar.n)

    return update, close
