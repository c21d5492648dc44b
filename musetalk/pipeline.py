"""The one core: one-shot lip-sync, in the brief's data flow, and the factory that builds it.

    check -> audio windows -> source frames with their faces -> render -> write

``build_pipeline`` is the one place models and pipeline are built (the CLI, the app, bench and the trainer's
validation use it or are handed what it built). Avatars (``avatar.py``) reuse the same renderer and writer.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .checks import CheckedInputs, check_generate_inputs
from .config import CRF, FPS, InferenceConfig, Progress, no_progress
from .media import MediaInfo, VideoWriter, load_audio, probe
from .models import MuseTalkModels, load_models
from .media.color import ColorTags
from .media.rates import output_rate
from .models.audio import FrameWindows, Rate, frame_count, lazy_audio_features
from .profiling import stage
from .render import FaceRenderer, RenderLoop, Windows
from .silence import video_closer
from .sources import video_source


def build_pipeline(weights: str | os.PathLike[str] | None = None, device: str = "auto", dtype: str = "auto",
                   finetuned: str | os.PathLike[str] | None = None, compile: bool = False,
                   channels_last: bool | None = None) -> LipSyncPipeline:
    """Models loaded from ``weights`` (device and dtype resolved, the device's layout applied), in a pipeline."""
    return LipSyncPipeline(load_models(weights, device, dtype, finetuned, compile, channels_last))


class LipSyncPipeline:
    """Built models in; videos out. Used by the CLI, the app, avatars, bench and the trainer's validation."""

    def __init__(self, models: MuseTalkModels) -> None:
        self.models = models
        self.renderer = FaceRenderer(models)

    def audio_windows(self, audio: str | os.PathLike[str] | MediaInfo, fps: Rate = FPS) -> FrameWindows:
        """Any audio (or video with sound) -> its (n_frames, 50, 384) float32 Whisper windows, n = floor(s * fps),
        made per batch from the hidden states (23 MB a minute instead of 140); ``.materialize()`` makes them all."""
        return self.speech(audio, fps)[1]

    def speech(self, audio: str | os.PathLike[str] | MediaInfo,
               fps: Rate = FPS) -> tuple[np.ndarray, FrameWindows]:
        """(the 16 kHz samples, their Whisper windows): what the silence handling and the UNet each need."""
        with stage("audio_load"):
            wav = load_audio(audio)
        with stage("whisper", max(frame_count(len(wav), fps), 1), self.models.device):
            return wav, lazy_audio_features(self.models.whisper, self.models.feature_extractor, wav, fps)

    def generate(self, video: str | os.PathLike[str], audio: str | os.PathLike[str], out: str | os.PathLike[str],
                 cfg: InferenceConfig | None = None, progress: Progress = no_progress,
                 checked: CheckedInputs | None = None) -> Path:
        """Lip-sync ``video`` (or a still image) to ``audio`` into ``out`` (H.264 + AAC, at ``cfg.fps``: by default
        the video's own rate, 25 for a still).

        checked: the result of ``check_generate_inputs`` for these paths when the caller ran it already (the CLI
        checks every task before the models load). The output is written atomically: on any failure no ``out``
        file is left behind.
        """
        cfg = cfg or InferenceConfig()
        if checked is None:
            with stage("checks", 0):  # paths, streams, sizes and a sampled face scan, before Whisper runs
                checked = check_generate_inputs(video, audio, out, cfg)
        fps = job_rate(checked.video, cfg)
        progress("audio", 0, 1)
        wav, windows = self.speech(checked.audio, fps)
        progress("audio", 1, 1)
        frames = self.frames(checked.video, windows, cfg, progress, wav)
        return write_frames(frames, out, checked.video, checked.audio, progress, fps=fps, crf=cfg.crf)

    def frames(self, video: str | os.PathLike[str] | MediaInfo, windows: Windows,
               cfg: InferenceConfig | None = None, progress: Progress = no_progress,
               wav: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """Yield the lip-synced frames of ``video`` (a path or its probe) for the audio windows, one per window.

        wav: the samples the windows were made from; with ``cfg.silence.mode == "close"`` their silent stretches
        show the source's closed mouth (without ``wav``, frames are the model's, as with "keep").
        """
        cfg = cfg or InferenceConfig()
        info = video if isinstance(video, MediaInfo) else probe(video)
        fps = job_rate(info, cfg)
        closer = None if wav is None else video_closer(info, wav, int(windows.shape[0]), cfg, fps)
        with video_source(info, cfg.face, int(windows.shape[0]), fps) as (items, cache):
            yield from RenderLoop(self.renderer, items, windows, cfg, cache, progress, closer)


def job_rate(video: MediaInfo, cfg: InferenceConfig) -> Rate:
    """The output frame rate of a job on ``video``: ``cfg.fps``, else the source's own (25 for a still)."""
    return output_rate(video.fps, video.is_image, cfg.fps)


def stream_to_file(frames: Iterable[np.ndarray], out: str | os.PathLike[str], size: MediaInfo | tuple[int, int],
                   audio: str | os.PathLike[str] | MediaInfo, progress: Progress = no_progress,
                   sar: tuple[int, int] | None = None, fps: Rate = FPS, crf: int = CRF,
                   color: ColorTags | None = None) -> Iterator[np.ndarray]:
    """Write each frame to ``out`` (H.264 at ``fps``, with ``audio``'s track) as it passes, and yield it on.

    size: (width, height) and ``sar`` (sample aspect ratio), or the probed source video, whose shape the output
    keeps. The file is finished after the last frame; if the iteration fails or is stopped early, nothing
    appears at ``out``.
    """
    if isinstance(size, MediaInfo):
        size, sar, color = (size.width, size.height), size.sar, size.color
    width, height = size
    with VideoWriter(out, width, height, fps=fps, audio_path=audio, sar=sar, crf=crf, color=color) as writer:
        for frame in frames:
            with stage("write"):
                writer.write(frame)
            yield frame
        progress("encode", 1, 1)
        with stage("mux", 0):  # ffmpeg finishes encoding and muxes the audio
            writer.close()


def write_frames(frames: Iterable[np.ndarray], out: str | os.PathLike[str], size: MediaInfo | tuple[int, int],
                 audio: str | os.PathLike[str] | MediaInfo, progress: Progress = no_progress,
                 sar: tuple[int, int] | None = None, fps: Rate = FPS, crf: int = CRF,
                 color: ColorTags | None = None) -> Path:
    """``stream_to_file`` run to the end; returns ``out``."""
    for _ in stream_to_file(frames, out, size, audio, progress, sar, fps, crf, color):
        pass
    return Path(out)
