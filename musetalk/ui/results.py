"""Past results: every video the app wrote to ``outputs_dir``, newest first, each beside the face it came from.

Generate records its source next to the result (``NAME.mp4.json``: the uploaded file's path, in gradio's
upload cache, and its own name), so a result can be shown before/after. A source that is gone (the cache was
cleared) leaves the result on its own.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import gradio as gr

from .context import AppContext
from .messages import file_name

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
# Both players start together, so the lips can be compared frame by frame.
PLAY_BOTH_JS = """() => document.querySelectorAll('#res-before video, #res-after video')
  .forEach((v) => { v.currentTime = 0; v.muted = v.closest('#res-before') !== null; v.play(); })"""


def record_source(out: Path, source: str) -> None:
    """Note which face ``out`` was made from (best effort: a result without the note still lists)."""
    try:
        Path(f"{out}.json").write_text(json.dumps({"source": str(source), "name": file_name(str(source))}))
    except OSError as exc:
        log.warning("could not note the source of %s: %s", out.name, exc)


def past_results(outputs_dir: Path) -> list[tuple[str, str]]:
    """(label, file name) of each finished mp4 in ``outputs_dir``, newest first; hidden temp files are skipped."""
    if not outputs_dir.is_dir():
        return []
    videos = [p for p in outputs_dir.glob("*.mp4") if not p.name.startswith(".")]
    videos.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [(f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(p.stat().st_mtime))} · {_source_name(p) or p.stem}",
             p.name) for p in videos]


def _note(result: Path) -> dict:
    try:
        return json.loads(Path(f"{result}.json").read_text())
    except (OSError, ValueError):
        return {}


def _source_name(result: Path) -> str | None:
    return _note(result).get("name")


def build_results(ctx: AppContext, demo: gr.Blocks) -> None:
    """An accordion listing the past results, with the chosen one before (its face) and after."""
    with gr.Accordion("Past results", open=False, elem_id="results"):
        with gr.Row(equal_height=False, elem_classes=["picker-row"]):
            chosen = gr.Dropdown([], label="Result", elem_id="res-list", scale=4,
                                 info=f"Every video made on this server (saved in {ctx.outputs_dir.name}/).")
            refresh = gr.Button("Refresh", size="sm", scale=1, min_width=90, elem_id="res-refresh",
                                elem_classes=["compact-btn"])
            play = gr.Button("Play both", size="sm", scale=1, min_width=90, elem_id="res-play",
                             elem_classes=["compact-btn"])
        with gr.Row(equal_height=True):
            before_video = gr.Video(label="Before: the face you gave", interactive=False, elem_id="res-before",
                                    height=300)
            before_image = gr.Image(label="Before: the photo you gave", interactive=False, visible=False,
                                    elem_id="res-before-image", height=300)
            after = gr.Video(label="After: lip-synced", interactive=False, elem_id="res-after", height=300,
                             buttons=["download"])
        note = gr.Markdown(elem_classes=["hint"])

    def listing(current: str | None):
        items = past_results(ctx.outputs_dir)
        names = [name for _, name in items]
        return gr.update(choices=items, value=current if current in names else (names[0] if names else None))

    def show(name: str | None):
        if not name or "/" in name or not (ctx.outputs_dir / name).is_file():
            return None, gr.update(value=None, visible=False), gr.update(value=None, visible=True), ""
        result = ctx.outputs_dir / name
        source = Path(_note(result).get("source") or "")
        if not source.is_file():
            return (str(result), gr.update(value=None, visible=False), gr.update(value=None, visible=True),
                    "The face this result was made from is no longer on the server.")
        if source.suffix.lower() in IMAGE_SUFFIXES:
            return str(result), gr.update(value=str(source), visible=True), gr.update(value=None, visible=False), ""
        return str(result), gr.update(visible=False), gr.update(value=str(source), visible=True), ""

    outputs = [after, before_image, before_video, note]
    refresh.click(listing, chosen, chosen, api_name="list_results", concurrency_limit=None)
    demo.load(listing, chosen, chosen, api_visibility="private", concurrency_limit=None)
    chosen.change(show, chosen, outputs, api_visibility="private", concurrency_limit=None)
    play.click(None, None, None, js=PLAY_BOTH_JS)
