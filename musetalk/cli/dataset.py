"""``dataset prepare DATA --out CACHE``: prepare every clip of a dataset for training, several at once."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import DEVICES
from .common import WEIGHTS_HELP, add_face_args, face_config, quiet_libraries, tqdm_progress


def add_prepare_args(p: argparse.ArgumentParser) -> None:
    """How DATA's videos become clips (shared by ``dataset prepare`` and ``train --data``)."""
    p.add_argument("--workers", type=int, default=1, help="clips prepared at once, one process each (default 1)")
    p.add_argument("--split-seconds", type=float, default=0.0,
                   help="cut each video into clips of this many seconds (default 0: keep videos whole)")
    p.add_argument("--min-face", type=int, default=0,
                   help="leave out frames whose face box is narrower or lower than this many pixels")


def register(sub: Any) -> None:
    d = sub.add_parser("dataset", help="prepare a dataset of clips for training",
                       description="Prepare DATA (a folder of clips or a list file) into CACHE: per clip, 25 fps "
                                   "face crops, frozen-VAE latents and Whisper windows, cached and resumable. "
                                   "Clips that cannot be used are reported and skipped; CACHE/manifest.json "
                                   "lists what is ready. Train on it with `train --data CACHE`.")
    actions = d.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("prepare", help="prepare DATA into --out CACHE")
    p.add_argument("data", help="a folder of clips (searched recursively) or a text file listing one per line")
    p.add_argument("--out", required=True, help="the cache folder")
    p.add_argument("--weights", help=WEIGHTS_HELP)
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--min-frames", type=int, default=10, help="skip clips with fewer frames with a face")
    add_prepare_args(p)
    add_face_args(p)
    p.set_defaults(func=cmd_prepare)


def cmd_prepare(ns: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..train.prepare import PrepareConfig
    from ..train.prepare_set import prepare_dataset

    if ns.workers < 1:
        raise InputError("--workers must be at least 1.")
    cfg = PrepareConfig(face_config(ns), ns.split_seconds, ns.min_face, ns.min_frames).validate()
    quiet_libraries(ns)
    update, close = tqdm_progress()
    try:
        report = prepare_dataset(Path(ns.data), Path(ns.out), cfg, Path(ns.weights) if ns.weights else None,
                                 ns.device, ns.workers, progress=update)
    finally:
        close()
    for line in report.lines():
        print(line)
    if not report.clips:
        raise InputError(f"No clip of {ns.data} could be prepared (the reasons are listed above).")
    return 0
