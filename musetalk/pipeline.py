"""The one core: one-shot lip-sync (``LipSyncPipeline``) and real-time avatars (``Avatar``).

Both feed the same renderer loop (``render_frames``): source frames with their faces in, finished frames out,
in output order, one batch at a time. Memory holds a batch, not the video.
"""
from __future__ import annotations

import collections
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .checks import check_generate_inputs
from .config import AUDIO_SAMPLE_RATE, FPS, FaceConfig, InferenceConfig
from .errors import InputError, NoFaceError
from .face import bbox_shift_range, draw_preview
from .loop import RenderLoop
from .media import VideoWriter, iter_frames, load_audio, probe
from .models import MuseTalkModels
from .models.audio import FrameWindows, lazy_audio_features
from .prep import FacePreparer, FrameFace, pingpong
from .profiling import stage, timed_iter
from .store import FrameStore
from .synth import FaceRenderer

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
SourceItem = tuple[int, np.ndarray, FrameFace | None]  # (source index, frame BGR, face)

STREAM_MARGIN = 2  # frames of slack on the container's duration estimate before we spool instead
TAIL_FRAMES = 25  # frames kept to mirror from if a stream ends earlier than its header said


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass
class Preview:
    """First-frame parameter check: the frame with box and mask drawn, and the usable bbox_shift range."""

    image: np.ndarray  # (H, W, 3) uint8 BGR
    box: tuple[int, int, int, int]
    bbox_shift_range: tuple[int, int]


def render_frames(
    renderer: FaceRenderer,
    items: Iterable[SourceItem],
    windows: torch.Tensor,
    cfg: InferenceConfig,
    latent_cache: dict[int, torch.Tensor] | None = None,
    progress: Progress = _no_progress,
) -> Iterator[np.ndarray]:
    """Yield one finished frame per audio window, in order.

    items: one per output frame. windows: (n, 50, 384). latent_cache: source index -> (8, 32, 32) latent,
    read and filled here so looping sources encode each source frame once. Frames without a face pass through.
    Prep, models and blending run in three threads with bounded queues (``loop.RenderLoop``);
    ``cfg.pipelined=False`` runs them in this thread instead, with the same output.
    """
    return iter(RenderLoop(renderer, items, windows, cfg, latent_cache, progress))


class LipSyncPipeline:
    """Built models in; videos out. Used by the CLI, the app and the trainer's validation."""

    def __init__(self, models: MuseTalkModels) -> None:
        self.models = models
        self.renderer = FaceRenderer(models)

    # ---------------------------------------------------------------- audio

    def audio_windows(self, audio: str | os.PathLike[str], lazy: bool = False) -> torch.Tensor | FrameWindows:
        """Any audio (or video with sound) -> (n_frames, 50, 384) float32 Whisper windows, n = floor(s * 25).

        lazy=True returns them as ``FrameWindows``, made per batch from the hidden states, so that long audio
        costs 23 MB a minute instead of 140 (what ``generate`` and avatars use).
        """
        with stage("audio_load"):
            wav = load_audio(audio)
        n = max(len(wav) * FPS // AUDIO_SAMPLE_RATE, 1)
        with stage("whisper", n, self.models.device):
            windows = lazy_audio_features(self.models.whisper, self.models.feature_extractor, wav, FPS)
        return windows if lazy else windows.materialize()

    # ---------------------------------------------------------------- one-shot

    def generate(
        self,
        video: str | os.PathLike[str],
        audio: str | os.PathLike[str],
        out: str | os.PathLike[str],
        cfg: InferenceConfig | None = None,
        progress: Progress = _no_progress,
    ) -> Path:
        """Lip-sync ``video`` (or a still image) to ``audio`` into ``out`` (H.264 + AAC, 25 fps).

        The output is written atomically: on any failure no ``out`` file is left behind.
        """
        cfg = cfg or InferenceConfig()
        video, audio, out = Path(video), Path(audio), Path(out)
        # Paths, streams, sizes and a sampled face scan, before Whisper and the models run (see checks.py).
        with stage("checks", 0):
            info, _ = check_generate_inputs(video, audio, out, cfg)
        progress("audio", 0, 1)
        windows = self.audio_windows(audio, True)
        progress("audio", 1, 1)
        with VideoWriter(out, info.width, info.height, fps=FPS, audio_path=audio) as writer:
            for frame in self.frames(video, windows, cfg, progress):
                with stage("write"):
                    writer.write(frame)
            progress("encode", 1, 1)
            with stage("mux", 0):  # ffmpeg finishes encoding and muxes the audio
                writer.close()
        return out

    def frames(
        self,
        video: str | os.PathLike[str],
        windows: torch.Tensor | FrameWindows,
        cfg: InferenceConfig | None = None,
        progress: Progress = _no_progress,
    ) -> Iterator[np.ndarray]:
        """Yield the lip-synced frames of ``video`` for the given audio windows, one per window."""
        cfg = cfg or InferenceConfig()
        info = probe(video)
        n_out = windows.shape[0]
        must_loop = info.is_image or info.n_frames < n_out + STREAM_MARGIN
        with FacePreparer(cfg.face, fps=FPS, static_image_mode=info.is_image) as prep:
            if not must_loop:
                items = _require_face(_streamed(video, prep, n_out), video)
                yield from render_frames(self.renderer, items, windows, cfg, None, progress)
                return
            spool_dir = Path(tempfile.mkdtemp(prefix="musetalk-spool-"))
            store = FrameStore(spool_dir, info.width, info.height)
            try:
                items = _require_face(_spooled(video, prep, store, n_out), video)
                yield from render_frames(self.renderer, items, windows, cfg, {}, progress)
            finally:
                store.finish()
                shutil.rmtree(spool_dir, ignore_errors=True)

    # ---------------------------------------------------------------- parameter check

    def preview(self, video: str | os.PathLike[str], face_cfg: FaceConfig | None = None) -> Preview:
        """See :func:`preview`; kept on the pipeline so callers holding one need no other import."""
        return preview(video, face_cfg)


def preview(video: str | os.PathLike[str], face_cfg: FaceConfig | None = None) -> Preview:
    """Analyse the first frame only: box, blend mask and usable bbox_shift range, drawn over the frame.

    Needs no models, so it answers in a second even before the weights are loaded (or downloaded).
    """
    face_cfg = face_cfg or FaceConfig()
    frame = next(iter_frames(video), None)
    if frame is None:
        raise InputError(f"No frame could be read from {video}.")
    with FacePreparer(replace(face_cfg, smooth=False), static_image_mode=True) as prep:
        face = prep(frame)
    if face is None:
        raise NoFaceError("No face was found in the first frame.", _FACE_HINT)
    image = draw_preview(frame, face.box, face.mask(face_cfg))
    return Preview(image, face.box, bbox_shift_range(face.landmarks, frame.shape))


def _require_face(items: Iterable[SourceItem], video: Path) -> Iterator[SourceItem]:
    """Pass items through; a video in which no frame has a face is an input error, not a silent copy."""
    found = False
    for item in items:
        found = found or item[2] is not None
        yield item
    if not found:
        raise NoFaceError(f"No face was found in any frame of {video.name}.", _FACE_HINT)


_FACE_HINT = "Use a video where one face is clearly visible, roughly facing the camera."


def _streamed(video: Path, prep: FacePreparer, n_out: int) -> Iterator[SourceItem]:
    """Frames read once, in order. If the stream ends before its header promised, mirror the last frames."""
    tail: collections.deque[SourceItem] = collections.deque(maxlen=TAIL_FRAMES)
    i = 0
    for i, frame in enumerate(timed_iter("decode", iter_frames(video, FPS))):
        if i >= n_out:
            return
        with stage("landmarks"):
            face = prep(frame)
        item = (i, frame, face)
        tail.append(item)
        yield item
    else:
        i = len(tail) and tail[-1][0] + 1
    if not tail:
        raise InputError(f"No frame could be read from {video}.")
    for j in range(i, n_out):
        back = min(j - i, len(tail) - 1)
        yield tail[-1 - back]


def _spooled(video: Path, prep: FacePreparer, store: FrameStore, n_out: int) -> Iterator[SourceItem]:
    """Forward pass from the decoder (spooling each frame to disk), then loop back and forth from the spool."""
    for i, frame in enumerate(timed_iter("decode", iter_frames(video, FPS))):
        if i >= n_out:
            return
        with stage("landmarks"):
            face = prep(frame)
        store.append(frame, face)
        yield (i, frame, face)
    n_src = len(store)
    if n_src == 0:
        raise InputError(f"No frame could be read from {video}.")
    store.finish()
    for j in range(n_src, n_out):
        src = pingpong(j, n_src)
        with stage("frame_read"):
            frame = store.frame(src)
        yield (src, frame, store.faces[src])
