"""The Real-time avatar tab: prepare a face once, then make it speak any audio with frames streamed live."""
from __future__ import annotations

import logging
import time

import cv2
import gradio as gr

from ..avatar import Avatar, delete_avatar, list_avatars, validate_name
from ..checks import check_speech
from ..config import InferenceConfig
from ..errors import InputError
from ..pipeline import stream_to_file
from . import controls
from .context import AppContext
from .guard import on_gpu, user_errors
from .outputs import new_output
from .progress import bridge

log = logging.getLogger(__name__)

LIVE_INTERVAL_S = 0.1  # newest frame shown at most 10 times a second: smooth enough, light on the connection


def build_avatar_tab(ctx: AppContext, model: gr.Dropdown, demo: gr.Blocks) -> None:
    guarded = user_errors(ctx.log_path)

    def avatar_names() -> list[str]:
        return list_avatars(ctx.avatars_dir)

    @guarded
    @on_gpu(duration=300)
    def prepare(name, face_video, face_image, bbox_shift, extra_margin, parsing_mode, left_cheek_width,
                right_cheek_width, smooth, batch_size, model_name, request: gr.Request, progress=gr.Progress()):
        """Analyse and encode every frame of the face once, saved as avatar ``name``; returns the avatar list."""
        name = validate_name((name or "").strip())
        face = controls.pick_face(face_video, face_image)
        cfg = controls.face_config(bbox_shift, extra_margin, parsing_mode, left_cheek_width, right_cheek_width,
                                   smooth)
        with ctx.jobs.run(request.session_hash) as cancel:
            progress(0, desc="Loading the model")
            pipeline = ctx.pipeline(model_name)
            avatar = Avatar.prepare(pipeline, face, ctx.avatars_dir / name, cfg, int(batch_size),
                                    bridge(progress, cancel))
        gr.Info(f"Avatar '{name}' is ready: {len(avatar.store)} frames.")
        return gr.update(choices=avatar_names(), value=name)

    @guarded
    def refresh(selected):
        """The names of the prepared avatars."""
        names = avatar_names()
        return gr.update(choices=names, value=selected if selected in names else (names[0] if names else None))

    @guarded
    def delete(name):
        """Delete a prepared avatar; returns the remaining list."""
        if not name:
            raise InputError("No avatar is selected.", "Pick one in the list first.")
        delete_avatar(ctx.avatars_dir, name)
        gr.Info(f"Avatar '{name}' was deleted.")
        names = avatar_names()
        return gr.update(choices=names, value=names[0] if names else None)

    @guarded
    @on_gpu(duration=300)
    def speak(name, audio, batch_size, model_name, request: gr.Request, silence="close", crf=18,
              progress=gr.Progress()):
        """Make avatar ``name`` speak ``audio``: yields (live frame, None) while frames are made, then the mp4."""
        if not name:
            raise InputError("No avatar is selected.", "Prepare one above, or pick one in the list.")
        audio = controls.need_audio(audio)
        with ctx.jobs.run(request.session_hash) as cancel:
            avatar = Avatar.load(ctx.pipeline(model_name), ctx.avatars_dir / validate_name(name))
            out = new_output(ctx.outputs_dir, f"{name}-speaks")
            checked = check_speech(audio, out)
            run = controls.run_settings(silence, "source", crf)  # the avatar keeps the rate it was prepared at
            cfg = InferenceConfig(batch_size=int(batch_size), silence=run["silence"], crf=run["crf"])
            shown = 0.0
            frames = avatar.speak(checked, cfg, bridge(progress, cancel, ctx.speed))
            for frame in stream_to_file(frames, out, avatar.size, checked, sar=avatar.sar, fps=avatar.fps,
                                        crf=cfg.crf, color=avatar.color):
                now = time.monotonic()
                if now - shown >= LIVE_INTERVAL_S:
                    shown = now
                    yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), gr.update()
        yield gr.update(), str(out)

    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            gr.Markdown("### 1. Prepare an avatar (once)\nEvery frame is analysed and encoded once and saved, "
                        "so speaking later only runs the lip-sync itself.")
            avatar_name = gr.Textbox(label="Avatar name", placeholder="e.g. anna-office", elem_id="av-name",
                                     info="Letters, digits, '_', '-' or '.'; an existing avatar of that name "
                                          "is replaced.")
            source = controls.face_source("av")
            with gr.Accordion("Face and blend settings", open=False):
                settings = controls.face_settings("av")
                prep_batch = controls.batch_size_slider()
            with gr.Row():
                prepare_btn = gr.Button("Prepare avatar", variant="primary", elem_id="av-prepare")
                prep_cancel = controls.cancel_button(ctx, "av-prepare-cancel")
            if ctx.asset("face.jpg"):
                gr.Examples([["astronaut", str(ctx.asset("face.jpg"))]], inputs=[avatar_name, source.image],
                            label="Example avatar: a NASA portrait (public domain)")
        with gr.Column(scale=1):
            gr.Markdown("### 2. Make it speak")
            with gr.Row(equal_height=False, elem_classes=["picker-row"]):
                avatar_list = gr.Dropdown(avatar_names(), value=None, label="Saved avatars", elem_id="av-list",
                                          info="Avatars prepared on this server.", scale=4)
                refresh_btn = gr.Button("Refresh", size="sm", scale=1, min_width=90, elem_id="av-refresh",
                                        elem_classes=["compact-btn"])
                delete_btn = gr.Button("Delete", variant="stop", size="sm", scale=1, min_width=90, elem_id="av-delete",
                                       elem_classes=["compact-btn"])
            # Deleting throws away minutes of preparation: the page asks first.
            with gr.Row(visible=False, elem_id="av-delete-confirm") as confirm_row:
                confirm_text = gr.Markdown()
                confirm_btn = gr.Button("Yes, delete it", variant="stop", size="sm", elem_id="av-delete-yes")
                keep_btn = gr.Button("Keep it", size="sm", elem_id="av-delete-no")
            speak_audio = gr.Audio(label="Speech", sources=["upload", "microphone"], type="filepath",
                                   elem_id="av-audio")
            if ctx.asset("speech.wav"):
                gr.Examples([[str(ctx.asset("speech.wav"))]], inputs=[speak_audio], label="Example speech")
            with gr.Accordion("Speaking settings", open=False):
                speak_batch = controls.batch_size_slider()
                speak_output = controls.output_settings("av", with_fps=False)
            with gr.Row():
                speak_btn = gr.Button("Speak", variant="primary", elem_id="av-speak")
                speak_cancel = controls.cancel_button(ctx, "av-speak-cancel")
            controls.time_estimate(ctx, speak_audio, "av-estimate")
            live = gr.Image(label="Live (frames as they are made)", interactive=False, format="jpeg",
                            elem_id="av-live", height=300)
            final = gr.Video(label="Final video with sound", interactive=False, elem_id="av-final",
                             buttons=["download"], height=300)


    controls.with_cancel(ctx, prepare_btn.click, prep_cancel, prepare,
                         [avatar_name, *source.inputs, *settings.inputs, prep_batch, model], avatar_list,
                         api_name="prepare_avatar")
    refresh_btn.click(refresh, avatar_list, avatar_list, api_name="list_avatars", concurrency_limit=None)
    demo.load(refresh, avatar_list, avatar_list, api_visibility="private", concurrency_limit=None)
    def ask(name):
        if not name:
            gr.Info("Pick an avatar in the list first.")
            return gr.update(visible=False), gr.update()
        return gr.update(visible=True), f"Delete the avatar **{name}**? Its prepared frames are removed for good."

    delete_btn.click(ask, avatar_list, [confirm_row, confirm_text], queue=False, api_visibility="private")
    keep_btn.click(lambda: gr.update(visible=False), None, confirm_row, queue=False, api_visibility="private")
    confirm_btn.click(lambda: gr.update(visible=False), None, confirm_row, queue=False,
                      api_visibility="private").then(delete, avatar_list, avatar_list, api_name="delete_avatar",
                                                     concurrency_limit=None)
    # The progress shows on the final video's box: over the Live box it would hide the frames it streams.
    controls.with_cancel(ctx, speak_btn.click, speak_cancel, speak,
                         [avatar_list, speak_audio, speak_batch, model, speak_output.silence, speak_output.crf],
                         [live, final], api_name="speak", clear=[live, final], show_progress_on=[final])
