"""``weights``: download the official weights, check a folder, or write random-init ones in the same layout."""
from __future__ import annotations

import argparse
from typing import Any

from ..weights import SIZES


def register(sub: Any) -> None:
    w = sub.add_parser("weights", help="download, check or make random-init weights")
    wsub = w.add_subparsers(dest="weights_cmd", required=True, metavar="ACTION")
    wd = wsub.add_parser("download", help="fetch the official weights from the Hugging Face Hub")
    wd.add_argument("--dir", help="weights folder (default: $MUSETALK_WEIGHTS, else ./weights)")
    wm = wsub.add_parser("make-random", help="random-init models in the official layout (tests, benchmarks)")
    wm.add_argument("--dir", help="weights folder")
    wm.add_argument("--size", choices=SIZES, default="tiny")
    wm.add_argument("--seed", type=int, default=0)
    wc = wsub.add_parser("check", help="say which files are missing")
    wc.add_argument("--dir", help="weights folder")
    w.set_defaults(func=cmd_weights)


def cmd_weights(ns: argparse.Namespace) -> int:
    from .. import weights

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
