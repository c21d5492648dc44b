"""The Generate tab: a face video or photo plus speech in, the lip-synced video out."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import gradio as gr

from ..config import InferenceConfig
from ..preview import preview as preview_face
from . import controls
from .context import AppContext
from .guard import on_gpu, user_errors
from .outputs import new_output
from .progress import bridge
from .results import record_source
from .score_panel import attach_scores, build_score_panel

log = logging.getLogger(__name__)


def build_generate_tab(ctx: AppContext, model: gr.Dropdown) -> None:
    guarded = user_errors(ctx.log_path)

    @guarded
    def check_parameters(face_video, face_image, bbox_shift, extra_margin, parsing_mode, left_cheek_width,
                         right_cheek_width, smooth, model_name, face_choice="largest"):
        """Analyse the first frame: every face numbered, the chosen one's crop box and blend mask drawn over it,
        the usable bbox_shift range; and the Face choices (largest, 0, 1, ...)."""
        face = controls.pick_face(face_video, face_image)
        cfg = controls.face_config(bbox_shift, extra_margin, parsing_mode, left_cheek_width, right_cheek_width,
                                   smooth, face_choice)
        preview = preview_face(face, cfg)  # no models needed
        lo, hi = preview.bbox_shift_range
        x1, y1, x2, y2 = preview.box
        note = (f"**Usable bbox_shift range: {lo} to {hi}** (now {cfg.bbox_shift}).  \n"
                f"Face box: {x2 - x1}×{y2 - y1} px at ({x1}, {y1}). Green: the crop box; magenta: the region that is replaced.")
        if len(preview.faces) > 1:
            note += (f"  \n**{len(preview.faces)} faces found**, numbered from the left; face {preview.chosen} "
                     "is lip-synced. Choose another under **Face**.")
        return (cv2.cvtColor(preview.image, cv2.COLOR_BGR2RGB), note,
                controls.face_choices(len(preview.faces), cfg.face))

    @guarded
    @on_gpu(duration=180)
    def generate(face_video, face_image, audio, bbox_shift, extra_margin, parsing_mode, left_cheek_width,
                 right_cheek_width, smooth, batch_size, model_name, face_choice, request: gr.Request,
                 silence="close", fps="source", crf=18, progress=gr.Progress()):
        """Lip-sync the face video (or photo) to the audio; returns an H.264 + AAC mp4 (at the video's own frame
        rate unless ``fps`` says otherwise; the mouth closes in silences unless ``silence`` is "keep")."""
        face = controls.pick_face(face_video, face_image)
        audio = controls.need_audio(audio)
        cfg = InferenceConfig(
            face=controls.face_config(bbox_shift, extra_margin, parsing_mode, left_cheek_width,
                                      right_cheek_width, smooth, face_choice),
            batch_size=int(batch_size), **controls.run_settings(silence, fps, crf),
        )
        with ctx.jobs.run(request.session_hash) as cancel:
            progress(0, desc="Loading the model")
            pipeline = ctx.pipeline(model_name)
            out = new_output(ctx.outputs_dir, Path(face).stem)
            pipeline.generate(face, audio, out, cfg, progress=bridge(progress, cancel, ctx.speed))
        record_source(out, face)  # for the before/after view of Past results
        return str(out)

    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            gr.Markdown("### 1. Face and voice")
            source = controls.face_source("gen")
            audio = gr.Audio(label="Speech", sources=["upload", "microphone"], type="filepath",
                             elem_id="gen-audio")
            gr.Markdown("Any speech recording (wav, mp3, m4a, or a video with sound), or record one. "
                        "The result lasts as long as the speech.", elem_classes=["hint"])
            with gr.Accordion("2. Face and blend settings", open=False):
                settings = controls.face_settings("gen")
                batch_size = controls.batch_size_slider()
            with gr.Accordion("3. Silence, frame rate and quality", open=False):
                output = controls.output_settings("gen")
            face_choice = controls.face_choice("gen")
            with gr.Row():
                check_btn = gr.Button("Check parameters", variant="secondary", elem_id="gen-check")
                generate_btn = gr.Button("Generate", variant="primary", elem_id="gen-generate")
                cancel_btn = controls.cancel_button(ctx, "gen-cancel")
            controls.time_estimate(ctx, audio, "gen-estimate")
            face_jpg, speech_wav = ctx.asset("face.jpg"), ctx.asset("speech.wav")
            if face_jpg and speech_wav:
                gr.Examples(
                    examples=[[str(face_jpg), str(speech_wav)]],
                    inputs=[source.image, audio],
                    label="Example: a NASA portrait (public domain) and a synthetic voice",
                )
        with gr.Column(scale=1):
            gr.Markdown("### 3. Result")
            result = gr.Video(label="Lip-synced video", interactive=False, elem_id="gen-result",
                              buttons=["download"], height=360)
            scores = build_score_panel()
            with gr.Accordion("Parameter check (first frame)", open=True):
                preview_img = gr.Image(label="Crop box and blend mask", interactive=False, elem_id="gen-preview",
                                       format="jpeg", height=300)
                preview_note = gr.Markdown("Press **Check parameters** to see the face box, the blended region "
                                           "and the usable bbox_shift range on the first frame.",
                                           elem_id="gen-preview-note")


    face_inputs = [*source.inputs]
    # The face choice comes last in every call, so API callers that predate it need not pass it.
    check_btn.click(check_parameters, [*face_inputs, *settings.inputs, model, face_choice],
                    [preview_img, preview_note, face_choice], api_name="check_parameters", concurrency_id="device")
    controls.with_cancel(ctx, generate_btn.click, cancel_btn, generate,
                         [*face_inputs, audio, *settings.inputs, batch_size, model, face_choice, *output.inputs],
                         result,
                         api_name="generate")
    attach_scores(ctx, scores, result, face_inputs, [*settings.inputs, face_choice])
    for upload in source.inputs:  # another face file: its faces are not known until it is checked
        upload.change(lambda _: controls.face_choices(0, "largest"), upload, face_choice, queue=False,
                      api_visibility="private")
