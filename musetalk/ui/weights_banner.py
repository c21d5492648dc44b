"""The weights status banner: which files are missing, and a Download button that fetches them."""
from __future__ import annotations

import logging

import gradio as gr

from ..errors import MuseTalkError
from ..weights import download, missing_files
from .context import AppContext

log = logging.getLogger(__name__)


def status_markdown(ctx: AppContext, error: str | None = None) -> str:
    missing = missing_files(ctx.weights_dir)
    if not missing:
        return f"**Weights ready** in `{ctx.weights_dir}`."
    files = ", ".join(f"`{m}`" for m in missing)
    text = (f"**Weights are missing** in `{ctx.weights_dir}`: {files}.  \n"
            "The app works once they are there. Press **Download weights** to fetch the official MuseTalk v1.5 "
            "files from the Hugging Face Hub (about 3.5 GB); files already downloaded are kept.")
    if error:
        text += f"\n\n**The download failed.** {error}"
    return text


class DownloadState:
    """The last download's failure, kept by the server: every status refresh shows it until a download works.

    The page-load status check and the download answer update the same banner; keeping the error here (not only
    in the download's answer) means a check that lands after a fast failure still shows it.
    """

    def __init__(self) -> None:
        self.error: str | None = None


def build_weights_banner(ctx: AppContext, demo: gr.Blocks) -> None:
    ready = not missing_files(ctx.weights_dir)
    state = DownloadState()
    with gr.Row(elem_id="weights-banner", elem_classes=["banner", "ok" if ready else "warn"]):
        status = gr.Markdown(status_markdown(ctx), elem_id="weights-status")
        # Enabled by the page-load status check: a click before it answered raced it for the banner, and a
        # check computed before a fast failure could arrive after it and hide it.
        download_btn = gr.Button("Download weights", variant="primary", visible=not ready, interactive=False,
                                 scale=0, min_width=180, elem_id="weights-download")

    def fetch(progress=gr.Progress(track_tqdm=True)):
        """Download the missing official weights; returns the new status text."""
        progress(0, desc="Connecting to the Hugging Face Hub")
        try:
            download(ctx.weights_dir, progress=True)
            state.error = None
        except MuseTalkError as exc:
            log.info("weights download failed: %s", exc)  # expected (offline): one line
            state.error = str(exc)
        except Exception:
            log.exception("weights download failed")
            where = f" Details are in {ctx.log_path}." if ctx.log_path else ""
            state.error = f"An unexpected error stopped it.{where}"
        if state.error is None:
            ctx.forget_pipeline()
            gr.Info("The weights are ready.")
        return check()

    def check():
        """The weights status, as Markdown."""
        missing = bool(missing_files(ctx.weights_dir))
        return (status_markdown(ctx, error=state.error if missing else None),
                gr.update(visible=missing, interactive=True))

    download_btn.click(fetch, None, [status, download_btn], api_name="download_weights",
                       concurrency_id="download", concurrency_limit=1)
    demo.load(check, None, [status, download_btn], api_name="weights_status", concurrency_limit=None)
