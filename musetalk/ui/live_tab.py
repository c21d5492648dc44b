"""The Live tab: a prepared avatar answers the microphone frame by frame, over the ``/live/ws`` WebSocket.

The page does the live part itself (``live.js``: microphone capture, the socket, a canvas, each frame's audio
scheduled at its pts); this module only lays out the tab and hands ``launch`` the page script and the route.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from ..avatar_folders import list_avatars
from .context import AppContext
from .live_server import LiveServer

SCRIPT = Path(__file__).with_name("live.js")

PANEL = """
<div id="live-panel">
  <canvas id="live-canvas" width="512" height="512"></canvas>
  <div id="live-status" data-kind="info">Not live. Pick an avatar and press Start.</div>
  <div id="live-readout"></div>
  <div id="live-warning"></div>
</div>
"""

CSS = """
#live-panel { display: flex; flex-direction: column; gap: 6px; }
#live-canvas { width: 100%; max-width: 512px; aspect-ratio: auto; background: #111; border-radius: 8px; }
#live-status[data-kind="busy"], #live-status[data-kind="error"] { color: #dc2626; font-weight: 600; }
#live-status[data-kind="live"] { color: #16a34a; }
#live-readout { font-family: ui-monospace, monospace; font-size: 0.85em; opacity: 0.85; }
#live-warning { color: #d97706; font-size: 0.9em; }
"""


def live_launch_options(ctx: AppContext) -> dict:
    """What ``demo.launch`` needs for the Live tab: the page script in the head and the WebSocket route."""
    return {"head": f"<script>\n{SCRIPT.read_text(encoding='utf-8')}\n</script>",
            "app_kwargs": {"routes": [LiveServer(ctx).route()]}}


def build_live_tab(ctx: AppContext, model: gr.Dropdown, demo: gr.Blocks) -> None:
    def refresh(selected):
        names = list_avatars(ctx.avatars_dir)
        return gr.update(choices=names, value=selected if selected in names else (names[0] if names else None))

    n = ctx.live_sessions
    gr.Markdown("Talk and a prepared avatar answers with your words, live: the page sends your microphone to "
                "the server and shows each lip-synced frame with its sound as it comes back. When nobody speaks "
                "the avatar's own video plays. Headphones keep its voice out of your microphone. "
                f"This server runs {n} live session{'s' if n != 1 else ''} at a time; programs can use the same "
                "stream (see the README, \"Live avatar\").", elem_classes=["hint"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            with gr.Row(equal_height=False, elem_classes=["picker-row"]):
                avatar = gr.Dropdown(list_avatars(ctx.avatars_dir), value=None, label="Avatar", scale=4,
                                     elem_id="live-avatar", info="Prepared on the Real-time avatar tab.")
                refresh_btn = gr.Button("Refresh", size="sm", scale=1, min_width=90, elem_id="live-refresh",
                                        elem_classes=["compact-btn"])
            with gr.Row():
                start = gr.Button("Start", variant="primary", elem_id="live-start")
                stop = gr.Button("Stop", elem_id="live-stop")
        with gr.Column(scale=1):
            gr.HTML(PANEL, elem_id="live-html")

    refresh_btn.click(refresh, avatar, avatar, api_visibility="private", concurrency_limit=None, queue=False)
    demo.load(refresh, avatar, avatar, api_visibility="private", concurrency_limit=None, queue=False)
    # The page script runs the session; no server handler (the socket is its own endpoint).
    start.click(None, [avatar, model], None, js="(avatar, model) => { window.museLive.start(avatar, model); }")
    stop.click(None, None, None, js="() => { window.museLive.stop(); }")
