"""``bench``: time every stage of one-shot generation and avatar speech, end to end (the work: ``bench.run``)."""
from __future__ import annotations

import argparse
from typing import Any

from ..config import DEVICES, DTYPES
from ..weights import SIZES
from .common import WEIGHTS_HELP, batch_size_arg, quiet_libraries


def register(sub: Any) -> None:
    b = sub.add_parser(
        "bench", help="time every stage of generate and avatar speak",
        description="Run one-shot generation and avatar speech on VIDEO + AUDIO, timing every stage, "
                    "end to end, and peak memory. Prints a table; --json writes the numbers for scripts.")
    b.add_argument("--video", required=True, help="face video (or image)")
    b.add_argument("--audio", required=True, help="speech")
    src = b.add_mutually_exclusive_group()
    src.add_argument("--weights", help=WEIGHTS_HELP)
    src.add_argument("--random", choices=SIZES,
                     help="random-init weights of this size, made once in ~/.cache/musetalk/random-SIZE")
    b.add_argument("--device", default="auto", choices=DEVICES)
    b.add_argument("--dtype", default="auto", choices=DTYPES)
    b.add_argument("--batch-size", type=batch_size_arg, default=8, help="frames per model call, or auto")
    b.add_argument("--frames", type=int, help="output frames (the audio is cut to frames/25 s); default: all")
    b.add_argument("--loop-audio", action="store_true",
                   help="repeat AUDIO to fill --frames (e.g. a 5-minute live stream from a short clip)")
    b.add_argument("--avatar-source-frames", type=int, default=250,
                   help="frames of VIDEO the avatar is prepared from (it loops them); default 250 (10 s)")
    b.add_argument("--only", choices=["oneshot", "avatar", "live"],
                   help="run one of them (live: paced live sessions, only when asked)")
    b.add_argument("--chunk-ms", default="100", metavar="MS[,MS...]",
                   help="live: chunk sizes to feed, one session each (default 100; e.g. 20,100,500)")
    b.add_argument("--compile", action="store_true", help="torch.compile the UNet and VAE (slow first batches)")
    b.add_argument("--channels-last", choices=["auto", "on", "off"], default="auto",
                   help="NHWC memory layout for the convolutions; auto = on CUDA only (slower on CPU here)")
    b.add_argument("--serial", action="store_true", help="run every stage in one thread (no pipelining)")
    b.add_argument("--sync-stages", action="store_true",
                   help="on a GPU, wait for the device at the end of each model stage (exact stage times, "
                        "slightly slower end to end)")
    b.add_argument("--score", action="store_true",
                   help="also score the outputs (lip sync, silence, jitter, quality vs the source video)")
    b.add_argument("--json", help="write the results to this JSON file")
    b.add_argument("--keep", help="keep the output videos in this folder")
    b.set_defaults(func=cmd_bench)


def cmd_bench(ns: argparse.Namespace) -> int:
    from ..bench.live import chunk_list
    from ..bench.run import BenchOptions, format_table, run_bench, write_json

    opts = BenchOptions(
        video=ns.video, audio=ns.audio, weights=ns.weights, random=ns.random, device=ns.device, dtype=ns.dtype,
        batch_size=ns.batch_size, frames=ns.frames, loop_audio=ns.loop_audio,
        avatar_source_frames=ns.avatar_source_frames, only=ns.only,
        compile=ns.compile, channels_last={"auto": None, "on": True, "off": False}[ns.channels_last],
        pipelined=not ns.serial,
        sync_stages=ns.sync_stages, keep=ns.keep, score=ns.score, chunk_ms=chunk_list(ns.chunk_ms),
    )
    quiet_libraries(ns)
    result = run_bench(opts)
    print(format_table(result))
    if ns.json:
        write_json(result, ns.json)
        print(f"wrote {ns.json}")
    return 0
