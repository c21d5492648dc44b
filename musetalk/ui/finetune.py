"""The "Fine-tune on my clip" tab: upload a clip, train in the background, watch the losses, stop, use the model.

Wiring and display only: the run is :class:`musetalk.train.background.BackgroundRun`; the plot and the validation
frame are read from the run folder (``metrics.jsonl``, ``val/*.png``) on a timer. Runs belong to the server, not
to a browser session: one run trains at a time (the device is shared), and every page, a reloaded one or a new
tab, shows the current run with its plot and can stop it.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import gradio as gr

from ..errors import InputError
from ..train.background import BackgroundRun
from ..train.config import TrainConfig
from ..train.clip_features import check_clip
from ..train.trainer import TrainJob, load_metrics
from .context import AppContext
from .guard import user_errors
from .loss_plot import loss_figure

log = logging.getLogger(__name__)

STAGES = {"faces": "Finding the face", "audio": "Reading the audio", "encode": "Encoding frames",
          "train": "Training"}


class RunBoard:
    """The server's background runs; at most one trains at a time. ``current`` is what every page shows."""

    def __init__(self) -> None:
        self.current: BackgroundRun | None = None  # the running run, else the last one started
        self._lock = threading.Lock()

    def start(self, run: BackgroundRun) -> None:
        with self._lock:
            if self.current is not None and self.current.running:
                raise InputError(f"The run {self.current.run_dir.name!r} is still training.",
                                 "Press Stop (on any page) or wait for it to end.")
            self.current = run.start()

    def stop(self) -> bool:
        """Ask the running run to stop after its current step (with a save); False when none is running."""
        run = self.current
        if run is None or not run.running:
            return False
        run.stop()
        return True


def _run_name(ctx: AppContext, wanted: str) -> str:
    from ..avatar import validate_name

    name = validate_name(wanted.strip()) if wanted and wanted.strip() else time.strftime("run-%Y%m%d-%H%M%S")
    if (ctx.runs_dir / name).exists():
        raise InputError(f"A run named {name!r} already exists.", "Choose another name.")
    return name


def _latest_val(run_dir: Path | None) -> str | None:
    if run_dir is None:
        return None
    frames = sorted((run_dir / "val").glob("step_*.png"))
    return str(frames[-1]) if frames else None


def _status(run: BackgroundRun | None) -> str:
    if run is None:
        return "No run yet. Upload a clip and press **Start**."
    if run.error:
        return f"**Failed:** {run.error}"
    if run.result is not None:
        r = run.result
        return (f"**{r.status.capitalize()} at step {r.step}.** The model **{run.run_dir.name}** is ready: press "
                "*Refresh models* at the top and pick it in the Model list.")
    label = STAGES.get(run.stage, run.stage.capitalize())
    count = f": {run.done}/{run.total}" if run.total else ""
    rows = load_metrics(run.run_dir)
    last = next((r for r in reversed(rows) if "loss" in r), None)
    loss = f" · loss {last['loss']:.4f} · {last['sec_per_step']:.2f} s/step" if last else ""
    return f"{'Stopping after this step… ' if run.stopping else ''}{label}{count}{loss}"


def build_finetune_tab(ctx: AppContext, demo: gr.Blocks) -> None:
    """Called inside the app's ``gr.Tab("Fine-tune on my clip")``."""
    board = RunBoard()
    d = TrainConfig()
    shown = gr.State(None)  # what this page shows now, so the timer sends only changes
    gr.Markdown("Teach the model your face: upload a few seconds (or minutes) of you talking, with sound. "
                "It trains a small LoRA adapter (or the whole UNet) and adds it to the Model list.",
                elem_classes=["hint"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            clip = gr.Video(label="Training clip (one face, talking, with sound)", sources=["upload"],
                            elem_id="ft-clip")
            audio = gr.Audio(label="Its speech, if the clip has no sound (optional)", type="filepath",
                             sources=["upload"], elem_id="ft-audio")
            name = gr.Textbox(label="Run name (optional)", placeholder="run-YYYYmmdd-HHMMSS", elem_id="ft-name")
            with gr.Row():
                steps = gr.Number(d.steps, label="Steps", precision=0, minimum=1, elem_id="ft-steps")
                lr = gr.Number(d.lr, label="Learning rate", minimum=0, elem_id="ft-lr")
            with gr.Row():
                mode = gr.Radio(["LoRA", "Full"], value="LoRA", label="Adapt", elem_id="ft-mode",
                                info="LoRA trains a few MB of adapters; Full trains every UNet weight.")
                rank = gr.Slider(1, 128, value=d.lora_rank, step=1, label="LoRA rank", elem_id="ft-rank")
            with gr.Row():
                batch = gr.Slider(1, 32, value=d.batch_size, step=1, label="Batch size", elem_id="ft-batch")
                val_every = gr.Number(d.val_every, label="Validate every (steps)", precision=0, minimum=1,
                                      elem_id="ft-val-every")
            with gr.Row():
                start = gr.Button("Start", variant="primary", elem_id="ft-start")
                stop = gr.Button("Stop", variant="stop", elem_id="ft-stop")
        with gr.Column(scale=2):
            status = gr.Markdown(_status(None), elem_id="ft-status")
            plot = gr.Plot(None, label="Losses", elem_id="ft-plot", format="png")
            val_image = gr.Image(label="Validation frame: prediction | ground truth", type="filepath",
                                 interactive=False, elem_id="ft-val")
    timer = gr.Timer(1.0)  # always on: a run started from another page shows up here too

    def refresh(seen: tuple | None = None):
        run = board.current
        rows = load_metrics(run.run_dir) if run else []
        text = _status(run)
        now = (run.run_dir.name if run else None, len(rows), text)
        if now == seen:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return loss_figure(rows), _latest_val(run.run_dir if run else None), text, now

    @user_errors(ctx.log_path)
    def on_start(clip_path, audio_path, wanted, n_steps, rate, how, r, bs, every):
        if not clip_path:
            raise InputError("Upload a training clip first.")
        audio_p = Path(audio_path) if audio_path else None
        check_clip(Path(clip_path), audio_p)  # no sound, not a video: say so now, not after loading models
        new = _run_name(ctx, wanted)
        cfg = TrainConfig(steps=int(n_steps), lr=float(rate), lora_rank=None if how == "Full" else int(r),
                          batch_size=int(bs), val_every=int(every), save_every=max(int(n_steps) // 4, 1)).validate()
        job = TrainJob(Path(clip_path), ctx.runs_dir / new, ctx.weights_dir, audio_p, ctx.device)
        # The run trains with the app's own base models (no second copy of the VAE and Whisper in memory).
        board.start(BackgroundRun(job, cfg, models=lambda: ctx.pipeline().models))
        return refresh(None)

    def on_stop():
        if not board.stop():
            gr.Info("No run is training.")
        return refresh(None)

    outputs = [plot, val_image, status, shown]
    start.click(on_start, [clip, audio, name, steps, lr, mode, rank, batch, val_every], outputs,
                concurrency_limit=None, api_name="finetune_start")
    stop.click(on_stop, None, outputs, concurrency_limit=None, api_name="finetune_stop")
    timer.tick(refresh, shown, outputs, concurrency_limit=None, show_progress="hidden", api_visibility="private")
    demo.load(refresh, None, outputs, concurrency_limit=None, api_visibility="private")
