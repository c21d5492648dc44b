"""``build_demo(ctx)``: the whole app as one ``gr.Blocks``. Wiring and display only; the work is in ``musetalk``."""
from __future__ import annotations

import logging

import gradio as gr

from .avatar_tab import build_avatar_tab
from .context import AppContext
from .controls import model_choices, model_picker
from .finetune import build_finetune_tab
from .generate_tab import build_generate_tab
from .live_tab import CSS as LIVE_CSS
from .live_tab import build_live_tab
from .results import build_results
from .weights_banner import build_weights_banner

log = logging.getLogger(__name__)

TITLE = "MuseTalk Studio"

THEME = gr.themes.Soft(primary_hue="violet", secondary_hue="sky", neutral_hue="slate",
                       font=["ui-sans-serif", "system-ui", "sans-serif"],
                       font_mono=["ui-monospace", "Consolas", "monospace"])  # no web fonts: works offline

CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto; }
#app-header h1 { margin-bottom: 0.1em; }
#app-header p { margin-top: 0; opacity: 0.8; }
.hint p { font-size: 0.85em; opacity: 0.75; margin: -0.3em 0 0.4em 0; }
/* Theme variables, so the banner reads in the light and the dark scheme: the text keeps the theme's colour and
   the tint is mixed into the theme's own background. */
.banner { border-radius: 10px; padding: 6px 12px; align-items: center; color: var(--body-text-color); }
.banner.warn { background: color-mix(in srgb, #f59e0b 16%, var(--background-fill-primary));
               border: 1px solid color-mix(in srgb, #f59e0b 70%, var(--background-fill-primary)); }
.banner.ok { background: color-mix(in srgb, #22c55e 12%, var(--background-fill-primary));
             border: 1px solid color-mix(in srgb, #22c55e 55%, var(--background-fill-primary)); }
.picker-row { align-items: flex-end; }
.compact-btn { align-self: flex-end; margin-bottom: 8px; }
/* A phone (412 px): gradio moves the tabs that do not fit into a "more" menu, where nobody finds them; tighter
   tab buttons keep all three in sight (gradio measures a hidden copy of the same buttons, so this counts). */
@media (max-width: 480px) {
  .gradio-container { padding-left: 8px !important; padding-right: 8px !important; }
  .tab-container button { padding-left: 6px !important; padding-right: 6px !important; font-size: 0.85em; }
}
""" + LIVE_CSS

# gradio's own sentence for a wrong upload lists MIME types ("Only audio/aac,audio/midi,... allowed"): the page
# says it in its own words instead. Runs once on page load (``launch(js=JS)``).
JS = """() => {
  const takes = {audio: "a speech recording (wav, mp3, m4a, ...)", video: "a video (mp4, mov, mkv, ...)",
                 image: "a photo (png, jpg, webp, ...)"};
  const fix = (root) => {
    if (!root) return;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      const m = t.data.match(/Invalid file types?: (.+?)\\. Only (.+?) allowed\\.?/);
      if (!m) continue;
      const kind = /video\\//.test(m[2]) ? "video" : /image\\//.test(m[2]) ? "image" : "audio";
      t.data = `${m[1]} cannot go in this box: it takes ${takes[kind]}.`;
    }
  };
  new MutationObserver((changes) => changes.forEach((c) => {
    if (c.type === "characterData") fix(c.target.parentNode);
    c.addedNodes.forEach((n) => fix(n.nodeType === 1 ? n : n.parentNode));
  })).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def build_demo(ctx: AppContext) -> gr.Blocks:
    """The app: weights banner, model picker, and the Generate / Real-time avatar / Live / Fine-tune tabs."""
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\nGive it a face video (or a photo) and any speech: it returns the same video "
                    "with the lips speaking that audio. A clean reimplementation of MuseTalk v1.5.",
                    elem_id="app-header")
        build_weights_banner(ctx, demo)
        with gr.Row(equal_height=False, elem_classes=["picker-row"]):
            model = model_picker(ctx)
            refresh_models = gr.Button("Refresh models", size="sm", scale=0, min_width=150, elem_id="model-refresh",
                                       elem_classes=["compact-btn"])
        refresh_models.click(lambda current: _models_update(ctx, current), model, model, api_name="list_models",
                             concurrency_limit=None)
        demo.load(lambda current: _models_update(ctx, current), model, model, api_visibility="private",
                  concurrency_limit=None)  # runs that finished since the page was built
        with gr.Tabs():
            with gr.Tab("Generate", id="generate", elem_id="tab-generate"):
                build_generate_tab(ctx, model)
            with gr.Tab("Real-time avatar", id="avatar", elem_id="tab-avatar"):
                build_avatar_tab(ctx, model, demo)
            with gr.Tab("Live", id="live", elem_id="tab-live"):
                build_live_tab(ctx, model, demo)
            with gr.Tab("Fine-tune on my clip", id="finetune", elem_id="tab-finetune"):
                build_finetune_tab(ctx, demo)
        build_results(ctx, demo)
        gr.Markdown(f"Device: `{device_line(ctx)}` · weights: `{ctx.weights_dir}` · "
                    "Check, Generate, Prepare and Speak run one at a time (your place in the queue is shown "
                    "while you wait); a fine-tune run trains in the background beside them, one run at a time.",
                    elem_classes=["hint"])
    demo.queue(default_concurrency_limit=1)
    return demo


def device_line(ctx: AppContext) -> str:
    """The device and dtype the models run on, as resolved from the app's settings (not "auto")."""
    from ..errors import MuseTalkError
    from ..models.device import resolve_device, resolve_dtype

    try:
        device = resolve_device(ctx.device)
        dtype = str(resolve_dtype(ctx.dtype, device)).replace("torch.", "")
    except MuseTalkError:  # e.g. --device cuda without a GPU: the first job says so in full
        return f"{ctx.device} · dtype: {ctx.dtype}"
    asked = "" if ctx.device == "auto" and ctx.dtype == "auto" else f" (asked: {ctx.device}, {ctx.dtype})"
    return f"{device} · dtype: {dtype}{asked}"


def _models_update(ctx: AppContext, current: str | None):
    choices = model_choices(ctx)
    return gr.update(choices=choices, value=current if current in choices else choices[0])
