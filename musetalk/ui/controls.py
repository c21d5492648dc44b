"""Reusable control groups: the face source (video or photo), the face/blend settings, the model picker."""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..config import PARSING_MODES, SILENCE_MODES, FaceConfig, InferenceConfig, SilenceConfig
from ..errors import InputError
from ..train.runs import list_finished_runs
from .context import BASE_MODEL, AppContext

log = logging.getLogger(__name__)

DEFAULT_FACE = FaceConfig()
DEFAULT_RUN = InferenceConfig()
# The mask code takes cheek widths in MuseTalk's unit, as its face parsing does: pixels of a 512x512 square
# that spans 1.5x the face box (so 90 is about a quarter of the box width), not pixels of the 256 crop.
CHEEK_INFO = ("How far the blend reaches into the {side} cheek (jaw mode), in MuseTalk's units: pixels of its "
              "512-pixel face-parsing square, which spans 1.5x the face box.")


@dataclass
class FaceSource:
    """A video upload and a photo upload; uploading one clears the other, so exactly one is used."""

    video: gr.Video
    image: gr.Image

    @property
    def inputs(self) -> list[gr.components.Component]:
        return [self.video, self.image]


def face_source(prefix: str) -> FaceSource:
    video_tab, image_tab = f"{prefix}-video-tab", f"{prefix}-image-tab"
    with gr.Tabs(selected=video_tab) as tabs:
        with gr.Tab("Face video", id=video_tab):
            video = gr.Video(label="Face video", sources=["upload"], elem_id=f"{prefix}-video", height=300)
        with gr.Tab("Face photo", id=image_tab):
            image = gr.Image(label="Face photo", type="filepath", sources=["upload", "clipboard"],
                             elem_id=f"{prefix}-image", height=300,
                             placeholder="Drop a photo with one clearly visible face")
    gr.Markdown("One face, roughly facing the camera. A photo becomes a still video that speaks.",
                elem_classes=["hint"])

    # Uploading one clears the other, so a request never has two faces to choose from; and the tab holding the
    # face comes to the front, so a face set by an example (or the other tab) is never loaded out of sight.
    def shown(tab: str):
        return lambda value: (gr.update(), gr.update()) if value is None else (None, gr.Tabs(selected=tab))

    video.change(shown(video_tab), video, [image, tabs], queue=False, api_visibility="private")
    image.change(shown(image_tab), image, [video, tabs], queue=False, api_visibility="private")
    return FaceSource(video, image)


def pick_face(video: str | None, image: str | None) -> str:
    """The one face file of a request (video first, as the API may pass both)."""
    path = video or image
    if not path:
        raise InputError("No face video or photo was given.", "Upload a video or a photo of a face first.")
    return path


def need_audio(audio: str | None) -> str:
    if not audio:
        raise InputError("No audio was given.", "Upload a speech recording or record one with the microphone.")
    return audio


@dataclass
class FaceSettings:
    bbox_shift: gr.Slider
    extra_margin: gr.Slider
    parsing_mode: gr.Radio
    left_cheek_width: gr.Slider
    right_cheek_width: gr.Slider
    smooth: gr.Checkbox

    @property
    def inputs(self) -> list[gr.components.Component]:
        return [self.bbox_shift, self.extra_margin, self.parsing_mode, self.left_cheek_width,
                self.right_cheek_width, self.smooth]


def face_choice(prefix: str) -> gr.Dropdown:
    """Which face to sync (``FaceConfig.face``): hidden until Check parameters finds more than one face, then
    listing largest, 0, 1, ... (0 = leftmost, as numbered on the preview). Custom values ("X,Y") are accepted
    from the API."""
    return gr.Dropdown(["largest"], value="largest", label="Face", allow_custom_value=True, visible=False,
                       info="Which face to lip-sync: its number on the parameter check (0 = leftmost), or the "
                            "largest.", elem_id=f"{prefix}-face")


def face_choices(n_faces: int, current: str) -> dict[str, Any]:
    """The Face dropdown after a check that found ``n_faces``: shown when there is a choice to make; the current
    choice is kept if it is still one of them."""
    choices = ["largest", *map(str, range(n_faces))]
    value = current if current in choices or "," in str(current) else "largest"
    return gr.update(choices=choices, value=value, visible=n_faces > 1 or value != "largest")


def face_settings(prefix: str) -> FaceSettings:
    """Sliders for :class:`FaceConfig`; defaults are MuseTalk v1.5's."""
    d = DEFAULT_FACE
    with gr.Row():
        bbox_shift = gr.Slider(-40, 40, value=d.bbox_shift, step=1, label="bbox_shift",
                               info="Moves the face box up (-) or down (+), in pixels; + opens the mouth more. "
                                    "Check parameters shows the usable range.",
                               elem_id=f"{prefix}-bbox-shift")
        extra_margin = gr.Slider(0, 40, value=d.extra_margin, step=1, label="Extra chin margin",
                                 info="Pixels added below the chin so the jaw can move freely (MuseTalk: 10).")
    parsing_mode = gr.Radio(list(PARSING_MODES), value=d.parsing_mode, label="Blend region",
                            info="jaw: lower face down to the jaw (MuseTalk v1.5 default); raw: lips and mouth "
                                 "only; neck: mouth area plus the neck.")
    with gr.Row():
        left = gr.Slider(20, 160, value=d.left_cheek_width, step=1, label="Left cheek width",
                         info=CHEEK_INFO.format(side="left"))
        right = gr.Slider(20, 160, value=d.right_cheek_width, step=1, label="Right cheek width",
                          info=CHEEK_INFO.format(side="right"))
    smooth = gr.Checkbox(value=d.smooth, label="Smooth the face box over time",
                         info="Steadies the crop between frames against jitter. Turn off for fast head motion.")
    return FaceSettings(bbox_shift, extra_margin, parsing_mode, left, right, smooth)


FPS_CHOICES = ["source", "23.976", "24", "25", "29.97", "30", "50", "60"]


@dataclass
class OutputSettings:
    """What the result does in silence, its frame rate and its quality."""

    silence: gr.Radio
    fps: gr.Dropdown
    crf: gr.Slider

    @property
    def inputs(self) -> list[gr.components.Component]:
        return [self.silence, self.fps, self.crf]


def output_settings(prefix: str, with_fps: bool = True) -> OutputSettings:
    """with_fps=False for an avatar, which keeps the rate it was prepared at."""
    silence = gr.Radio(list(SILENCE_MODES), value=DEFAULT_RUN.silence.mode, label="When nobody speaks",
                       info="close: the mouth closes in the silences of the speech, with a closed mouth taken from "
                            "the video itself; keep: the model's frames throughout (MuseTalk).",
                       elem_id=f"{prefix}-silence")
    with gr.Row():
        fps = gr.Dropdown(FPS_CHOICES, value="source", label="Frame rate", allow_custom_value=True,
                          info="source: the video's own (25 for a photo)", elem_id=f"{prefix}-fps",
                          visible=with_fps)
        crf = gr.Slider(0, 51, value=DEFAULT_RUN.crf, step=1, label="Quality (crf)",
                        info="Lower is better and larger; 18 is visually lossless.", elem_id=f"{prefix}-crf")
    return OutputSettings(silence, fps, crf)


def run_settings(silence: str, fps: str, crf: float) -> dict[str, Any]:
    """InferenceConfig fields for the output settings; a bad frame rate is an InputError (shown as a message)."""
    from ..media.rates import parse_fps

    if silence not in SILENCE_MODES:
        raise InputError(f"Unknown silence setting {silence!r}; use one of: {', '.join(SILENCE_MODES)}.")
    return {"silence": SilenceConfig(mode=silence), "fps": parse_fps(fps or "source"), "crf": int(crf)}


def cancel_button(ctx: AppContext, elem_id: str) -> gr.Button:
    """Cancel for the page's device jobs; hidden until one is queued or running (see ``with_cancel``)."""
    button = gr.Button("Cancel", variant="stop", visible=False, elem_id=elem_id)

    def cancel(request: gr.Request):
        running = ctx.jobs.cancel(request.session_hash)
        gr.Info("Stopping after the current batch…" if running else "Cancelled before it started.")

    button.click(cancel, None, None, queue=False, api_visibility="private")
    return button


def time_estimate(ctx: AppContext, audio: gr.Audio, elem_id: str) -> gr.Markdown:
    """A line that says, once speech is uploaded and before anything runs, how long the lip-sync will take here."""
    from ..errors import MuseTalkError
    from ..media import probe
    from .estimate import estimate_text

    note = gr.Markdown("", elem_id=elem_id, elem_classes=["hint"])

    def update(path: str | None) -> str:
        if not path:
            return ""
        try:
            seconds = probe(path).duration
        except MuseTalkError:  # a wrong file: its own message says so when the job starts
            return ""
        return estimate_text(seconds, ctx.speed.fps)

    audio.change(update, audio, note, queue=False, api_visibility="private")
    return note


def with_cancel(ctx: AppContext, trigger: Callable[..., Any], cancel_btn: gr.Button, fn: Callable[..., Any],
                inputs: list[Any], outputs: Any, api_name: str, clear: Sequence[Any] = (),
                **kwargs: Any) -> None:
    """``trigger`` (a button's ``.click``) runs ``fn`` on the device queue, with ``cancel_btn`` shown meanwhile.

    clear: outputs emptied the moment the button is pressed. Cancel stops the job within one batch
    (``DeviceJobs``); the job chain's end hides the button again and forgets a Cancel that came too late.
    """

    def begin():
        shown = gr.update(visible=True)
        return (shown, *(None for _ in clear)) if clear else shown  # gradio reads a 1-tuple as no update

    def done(request: gr.Request):
        ctx.jobs.finished(request.session_hash)
        return gr.update(visible=False)

    trigger(begin, None, [cancel_btn, *clear], queue=False, api_visibility="private").then(
        fn, inputs, outputs, api_name=api_name, concurrency_id="device", **kwargs).then(
        done, None, cancel_btn, queue=False, api_visibility="private")


def batch_size_slider() -> gr.Slider:
    return gr.Slider(1, 64, value=DEFAULT_RUN.batch_size, step=1, label="Batch size",
                     info="Frames sent to the model at once. Larger is faster on a GPU but needs more memory.")


def face_config(bbox_shift: float, extra_margin: float, parsing_mode: str, left_cheek_width: float,
                right_cheek_width: float, smooth: bool, face: str | None = "largest") -> FaceConfig:
    if parsing_mode not in PARSING_MODES:
        raise InputError(f"Unknown blend region {parsing_mode!r}.", "Use jaw, raw or neck.")
    return FaceConfig(bbox_shift=int(bbox_shift), extra_margin=int(extra_margin), parsing_mode=parsing_mode,
                      left_cheek_width=int(left_cheek_width), right_cheek_width=int(right_cheek_width),
                      smooth=bool(smooth), face=face or "largest")


def model_choices(ctx: AppContext) -> list[str]:
    """'base' plus every finished fine-tuning run in ``ctx.runs_dir``."""
    return [BASE_MODEL, *list_finished_runs(ctx.runs_dir)]


def model_picker(ctx: AppContext) -> gr.Dropdown:
    return gr.Dropdown(model_choices(ctx), value=BASE_MODEL, label="Model", elem_id="model",
                       info="'base' is MuseTalk v1.5; the others are your finished fine-tuning runs.")
