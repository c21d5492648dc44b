"""``avatar``: prepare a video once, then make it speak any audio; list and delete prepared avatars."""
from __future__ import annotations

import argparse
from typing import Any

from ..config import InferenceConfig
from .common import add_batch_arg, add_face_args, add_model_args, build_pipeline_from_args, face_config
from .common import add_crf_arg, add_fps_arg, add_silence_args, fps_value, resolve_batch_size, silence_config, tqdm_progress
from .common import BATCH_HELP, batch_size_arg
from ..errors import InputError


AVATARS_HELP = "avatars folder (default: $MUSETALK_AVATARS, else ./avatars)"
LIVE_IDLE_DB = -50.0  # LiveConfig's default (not imported: the live engine pulls in torch)


def _db_arg(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a level in dB or 'none', got {text!r}") from None


def register(sub: Any) -> None:
    a = sub.add_parser("avatar", help="real-time avatars: prepare once, speak many times")
    a.add_argument("--avatars", help=AVATARS_HELP)
    asub = a.add_subparsers(dest="avatar_cmd", required=True, metavar="ACTION")
    ap = asub.add_parser("prepare", help="analyse and encode a video once")
    ap.add_argument("--video", required=True)
    ap.add_argument("--name", required=True)
    add_batch_arg(ap)
    add_model_args(ap)
    add_face_args(ap)
    add_fps_arg(ap)
    sp = asub.add_parser("speak", help="make a prepared avatar say an audio")
    sp.add_argument("--name", required=True)
    sp.add_argument("--audio", required=True)
    sp.add_argument("--out", required=True)
    add_batch_arg(sp)
    add_model_args(sp)
    add_silence_args(sp)
    add_crf_arg(sp)
    lv = asub.add_parser("live", help="stream an audio file through the live engine into a video",
                         description="Feed AUDIO to a live session of the avatar as a stream of chunks (on the "
                                     "real-time clock, or at once with --no-pace) and record every frame of its "
                                     "speech into OUT, with AUDIO muxed; prints the engine's stats.")
    lv.add_argument("--name", required=True)
    lv.add_argument("--audio", required=True)
    lv.add_argument("--out", required=True)
    lv.add_argument("--chunk-ms", type=int, default=100, help="chunk length in ms (default 100, at least 20)")
    lv.add_argument("--no-pace", action="store_true",
                    help="no real-time clock: push the whole file, render every frame as fast as possible (the "
                         "frames are then those of `avatar speak --silence keep` with --idle-below-db none)")
    lv.add_argument("--idle-below-db", type=_db_arg, default=LIVE_IDLE_DB, metavar="DB|none",
                    help=f"frames quieter than this (dBFS) show the idle avatar frame (default {LIVE_IDLE_DB:g}); "
                         "none: render all")
    lv.add_argument("--batch-size", type=batch_size_arg, default=4, help=BATCH_HELP + " (default 4)")
    add_model_args(lv)
    add_crf_arg(lv)
    lp = asub.add_parser("list", help="list prepared avatars")
    dp = asub.add_parser("delete", help="delete a prepared avatar")
    dp.add_argument("--name", required=True)
    for action in (ap, sp, lv, lp, dp):  # accepted after the action too; SUPPRESS keeps an earlier value
        action.add_argument("--avatars", default=argparse.SUPPRESS, help=AVATARS_HELP)
    a.set_defaults(func=cmd_avatar)


def cmd_avatar(ns: argparse.Namespace) -> int:
    # list and delete need only the folders: they answer before torch and the face models would have loaded.
    from ..avatar_folders import busy_message, delete_avatar, list_avatars, lock_path, require_avatar_folder
    from ..avatar_folders import resolve_avatars_dir, validate_name

    avatars = resolve_avatars_dir(ns.avatars)
    if ns.avatar_cmd == "list":
        for name in list_avatars(avatars):
            print(name)
        return 0
    if ns.avatar_cmd == "delete":
        delete_avatar(avatars, ns.name)
        print(f"deleted {ns.name}")
        return 0
    from ..atomic import exclusive
    from ..checks import check_avatar_video, check_speech

    resolve_batch_size(ns)
    root = avatars / validate_name(ns.name)
    # Wrong files fail before the models load; what the checks learn is handed on, not looked up again.
    if ns.avatar_cmd == "prepare":
        fps = fps_value(ns)  # a bad --fps fails before the models load
        checked = check_avatar_video(ns.video, root, ns.batch_size, face_config(ns).face)
        with exclusive(lock_path(root), busy_message(root)):  # busy now: say so before the models load
            pass
    else:
        if ns.avatar_cmd == "live" and ns.chunk_ms < 20:
            raise InputError(f"--chunk-ms must be at least 20, got {ns.chunk_ms}.")
        checked = check_speech(ns.audio, ns.out)
        require_avatar_folder(root, "Prepare it with `python -m musetalk avatar prepare`.")
    from ..avatar import Avatar  # torch and the face models, now that the inputs are known to be good

    pipe = build_pipeline_from_args(ns)
    update, close = tqdm_progress()
    try:
        if ns.avatar_cmd == "prepare":
            av = Avatar.prepare(pipe, ns.video, root, face_config(ns), ns.batch_size, update, checked=checked,
                                fps=fps)
            done = f"prepared avatar {av.name}: {len(av.store)} frames in {av.root}"
        elif ns.avatar_cmd == "live":
            from ..live import LiveConfig
            from ..live.record import record_live

            av = Avatar.load(pipe, root)
            cfg = LiveConfig(batch_size=ns.batch_size, pace=not ns.no_pace, idle_below_db=ns.idle_below_db)
            rec = record_live(av, checked, ns.out, ns.chunk_ms, cfg, ns.crf, update)
            done = "\n".join([*rec.lines(), f"wrote {rec.path}"])
        else:
            av = Avatar.load(pipe, root)
            out = av.speak_to_file(ns.audio, ns.out, InferenceConfig(batch_size=ns.batch_size,
                                                                  silence=silence_config(ns), crf=ns.crf), update, checked)
            done = f"wrote {out}"
    finally:
        close()  # before the last line: it must not share a line with the bar
    print(done)
    return 0
