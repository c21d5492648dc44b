"""``score``: how well a result is lip-synced (offline sync score and A/V offset; SyncNet LSE-C/LSE-D with its
weights), how open the mouth is in silence, jitter, and quality against the source."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..weights import resolve_weights_dir
from .common import WEIGHTS_HELP, add_face_args, add_vad_args, face_config, vad_config

AUTO = "auto"


def register(sub: Any) -> None:
    p = sub.add_parser("score", help="score a result: lip sync, A/V offset, silence, jitter, quality vs source")
    p.add_argument("--video", required=True, help="the result to score (a video with the speech muxed in)")
    p.add_argument("--audio", help="the speech to score against (default: the video's own sound track)")
    p.add_argument("--source", help="the video it was made from: adds PSNR/SSIM inside and outside the blend "
                                    "region and the source's own mouth opening and jitter")
    p.add_argument("--syncnet", nargs="?", const=AUTO, metavar="PATH",
                   help="also give SyncNet's LSE-C / LSE-D from syncnet_v2.model (PATH, or without PATH "
                        "<weights>/syncnet/syncnet_v2.model; used there automatically when present)")
    p.add_argument("--vshift", type=int, default=15, help="SyncNet offset search, frames either way "
                                                          "(15 as LatentSync; 10 as Wav2Lip's tables)")
    p.add_argument("--max-shift", type=int, default=15, help="offline offset search, frames either way (15 = 600 ms)")
    add_vad_args(p)
    p.add_argument("--weights", help=WEIGHTS_HELP)
    p.add_argument("--device", default="cpu", help="device for SyncNet (cpu, cuda, ...)")
    p.add_argument("--json", help="also write the report as JSON here")
    p.add_argument("--plot", help="write a PNG: mouth opening and speech over time, silences, the offset")
    p.add_argument("--shift-test", action="store_true",
                   help="check the offset finder on this clip: shift its own audio by -400..+400 ms and report "
                        "what it finds for each shift")
    add_face_args(p)
    p.set_defaults(func=cmd_score)


def score_config(ns: argparse.Namespace):  # -> ScoreConfig
    """The ScoreConfig for the options of ``ns`` (shared with ``generate --score`` and ``bench --score``)."""
    from ..errors import InputError
    from ..score.offset import SyncConfig
    from ..score.report import ScoreConfig

    vad = vad_config(ns)
    max_shift = getattr(ns, "max_shift", 15)
    if not 1 <= max_shift <= 50:
        raise InputError(f"--max-shift must be between 1 and 50 frames, got {max_shift}.", None)
    return ScoreConfig(sync=SyncConfig(max_shift=max_shift), vad=vad, face=face_config(ns),
                       syncnet=_syncnet_path(ns), vshift=getattr(ns, "vshift", 15),
                       device=getattr(ns, "device", "cpu") if getattr(ns, "device", "cpu") != "auto" else "cpu")


def _syncnet_path(ns: argparse.Namespace) -> Path | None:
    """--syncnet PATH / --syncnet: that file or the weights folder's (missing: an error naming where to get it);
    no --syncnet: the weights folder's when present, else none."""
    from ..score.syncnet_model import SYNCNET_RELPATH, find_syncnet_weights

    wanted = getattr(ns, "syncnet", None)
    root = resolve_weights_dir(getattr(ns, "weights", None))
    if wanted is None:
        default = root / SYNCNET_RELPATH
        return default if default.is_file() else None
    return find_syncnet_weights(None if wanted == AUTO else wanted, root)


def score_result(out: Path, source: Path, face: Any, weights: str | None) -> Any:
    """Score a result just made from ``source`` with face settings ``face`` (``generate --score``, bench)."""
    from ..score.report import ScoreConfig, score_video

    ns = argparse.Namespace(weights=weights, syncnet=None)
    return score_video(out, None, source, ScoreConfig(face=face, syncnet=_syncnet_path(ns)))


def print_report(report: Any) -> None:
    for line in report.lines():
        print(line)
    if report.syncnet is None:
        print("SyncNet LSE-C/LSE-D: not computed (pass --syncnet PATH to syncnet_v2.model)")


def cmd_score(ns: argparse.Namespace) -> int:
    from ..media.writer import check_output_file
    from ..score.report import score_video

    inputs = tuple(p for p in (ns.video, ns.audio, ns.source) if p)
    if ns.json:
        check_output_file(ns.json, (".json",), inputs)
    if ns.plot:
        check_output_file(ns.plot, (".png",), inputs)
    cfg = score_config(ns)
    if ns.shift_test:
        return _shift_test(ns, cfg)
    report = score_video(ns.video, ns.audio, ns.source, cfg)
    print_report(report)
    write_outputs(report, ns.json, ns.plot)
    return 0


def write_outputs(report: Any, json_path: str | None, plot_path: str | None) -> None:
    from ..atomic import write_json_atomic

    if json_path:
        write_json_atomic(Path(json_path), report.to_dict(series=True))
        print(f"wrote {json_path}")
    if plot_path:
        from ..score.plot import write_plot

        write_plot(report, plot_path)
        print(f"wrote {plot_path}")



def _shift_test(ns: argparse.Namespace, cfg: Any) -> int:
    from ..atomic import write_json_atomic
    from ..score.shift_test import shift_test, summarize

    trials = shift_test(ns.video, cfg=cfg.sync)
    for t in trials:
        e = t.estimate
        found = f"found {e.offset_ms:+.0f} ms (error {t.error_ms:+.0f})" if e.confident else f"not confident ({e.reason})"
        print(f"shift {t.shift_ms:+5.0f} ms: {found}; sync {e.sync_score:.3f}, confidence {e.confidence:.1f}")
    summary = summarize(trials)
    print(f"{summary['confident']}/{summary['trials']} confident, {summary['within_tolerance']} of them within "
          f"+-{summary['tolerance_ms']:.0f} ms")
    if ns.json:
        from dataclasses import asdict

        write_json_atomic(Path(ns.json), {"video": ns.video, "summary": summary,
                                          "trials": [{"shift_ms": t.shift_ms, **asdict(t.estimate)} for t in trials]})
        print(f"wrote {ns.json}")
    return 0
