"""MuseTalk Studio web app: ``python app.py [--weights DIR] [--port 7860] [--share]``. Also a Hugging Face Space."""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from musetalk.avatar import resolve_avatars_dir
from musetalk.config import DEVICES, DTYPES
from musetalk.host_memory import reuse_freed_memory
from musetalk.native_log import filtered_native_stderr
from musetalk.weights import resolve_weights_dir


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="MuseTalk Studio: lip-sync any face video to any speech, in the browser.")
    p.add_argument("--weights", help="weights folder (default: $MUSETALK_WEIGHTS or ./weights)")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="address to listen on (0.0.0.0 to allow other machines; default 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                   help="port (default 7860)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument("--device", default="auto", choices=DEVICES, help="default: auto")
    p.add_argument("--dtype", default="auto", choices=DTYPES,
                   help="default: auto (fp16 on GPU, bf16 or fp32 on CPU)")
    p.add_argument("--avatars-dir", help="prepared avatars (default: $MUSETALK_AVATARS or ./avatars)")
    p.add_argument("--runs-dir", default="runs", help="fine-tuning runs (default: ./runs)")
    p.add_argument("--outputs-dir", default="outputs", help="generated videos and the app log (default: ./outputs)")
    p.add_argument("--live-sessions", type=int, default=1, metavar="N",
                   help="live avatar sessions at once (Live tab and /live/ws); one more is told to try again "
                        "(default 1)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    reuse_freed_memory()  # before the server's threads start (see musetalk/host_memory.py)
    with filtered_native_stderr():  # mediapipe's start-up notices would read like failures in the server log
        _serve(args)


def _serve(args: argparse.Namespace) -> None:
    outputs = Path(args.outputs_dir).expanduser().resolve()
    outputs.mkdir(parents=True, exist_ok=True)
    log_path = outputs / "app.log"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=[logging.StreamHandler(), logging.FileHandler(log_path)])

    from musetalk.ui import AppContext, build_demo
    from musetalk.ui.demo import CSS, JS, THEME
    from musetalk.ui.live_tab import live_launch_options

    ctx = AppContext(
        weights_dir=resolve_weights_dir(args.weights).resolve(),
        device=args.device,
        dtype=args.dtype,
        avatars_dir=resolve_avatars_dir(args.avatars_dir).resolve(),
        runs_dir=Path(args.runs_dir).expanduser().resolve(),
        outputs_dir=outputs,
        log_path=log_path,
        assets_dir=Path(__file__).resolve().parent / "assets",
        live_sessions=args.live_sessions,
    )
    demo = build_demo(ctx)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, theme=THEME, css=CSS, js=JS,
                allowed_paths=[str(outputs)], ssr_mode=False, footer_links=["api", "gradio"],
                **live_launch_options(ctx))


if __name__ == "__main__":
    main()
