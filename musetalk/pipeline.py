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

from .config import FPS, FaceConfig, InferenceConfig
from .errors import InputError, NoFaceError
from .face import bbox_shift_range, draw_preview, paste_back
from .media import VideoWriter, iter_frames, load_audio, probe
from .models import MuseTalkModels
from .models.audio import audio_features
from .prep import FacePreparer, FrameFace, pingpong
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
    """
    n = windows.shape[0]
    done = 0
    batch: list[tuple[int, SourceItem]] = []
    for out_index, item in enumerate(items):
        batch.append((out_index, item))
        if len(batch) == cfg.batch_size:
            yield from _render_batch(renderer, batch, windows, cfg, latent_cache)
            done += len(batch)
            progress("lip-sync", done, n)
            batch = []
    if batch:
        yield from _render_batch(renderer, batch, windows, cfg, latent_cache)
        progress("lip-sync", done + len(batch), n)


def _render_batch(renderer, batch, windows, cfg, latent_cache) -> Iterator[np.ndarray]:
    with_face = [(o, it) for o, it in batch if it[2] is not None]
    faces: dict[int, np.ndarray] = {}
    if with_face:
        latents = _latents_for(renderer, [it for _, it in with_face], latent_cache)
        win = windows[[o for o, _ in with_face]]
        for (o, _), face in zip(with_face, renderer.render(latents, win)):
            faces[o] = face
    for o, (_, frame, face) in batch:
        if face is None:
            yield frame
        else:
            yield paste_back(frame, faces[o], face.box, face.mask(cfg.face))


def _latents_for(renderer, items: list[SourceItem], cache: dict[int, torch.Tensor] | None) -> torch.Tensor:
    """Stack (B, 8, 32, 32) latents, encoding only the source frames the cache does not hold (once each)."""
    cache = {} if cache is None else cache
    todo: dict[int, np.ndarray] = {}
    for src, frame, face in items:
        if src not in cache and src not in todo:
            todo[src] = face.crop(frame)
    if todo:
        encoded = renderer.encode(np.stack(list(todo.values())))
        for src, lat in zip(todo, encoded):
            cache[src] = lat
    return torch.stack([cache[src] for src, _, _ in items])


class LipSyncPipeline:
    """Built models in; videos out. Used by the CLI, the app and the trainer's validation."""

    def __init__(self, models: MuseTalkModels) -> None:
        self.models = models
        self.renderer = FaceRenderer(models)

    # ---------------------------------------------------------------- audio

    def audio_windows(self, audio: str | os.PathLike[str]) -> torch.Tensor:
        """Any audio (or video with sound) -> (n_frames, 50, 384) float32 Whisper windows, n = floor(s * 25)."""
        wav = load_audio(audio)
        return audio_features(self.models.whisper, self.models.feature_extractor, wav, FPS)

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
        if out.resolve() in (video.resolve(), audio.resolve()):
            raise InputError(f"The output path {out} is the same as an input.", "Choose another output file.")
        info = probe(video)
        if not info.has_video:
            raise InputError(f"{video} has no video stream.", "Give a video file or an image of a face.")
        progress("audio", 0, 1)
        windows = self.audio_windows(audio)
        progress("audio", 1, 1)
        with VideoWriter(out, info.width, info.height, fps=FPS, audio_path=audio) as writer:
            for frame in self.frames(video, windows, cfg, progress):
                writer.write(frame)
            progress("encode", 1, 1)
        return out

    def frames(
        self,
        video: str | os.PathLike[str],
        windows: torch.Tensor,
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
        """Analyse the first frame only: box, blend mask and usable bbox_shift range, drawn over the frame."""
        face_cfg = face_cfg or FaceConfig()
        frame = next(iter_frames(video), None)
        if frame is None:
            raise InputError(f"No frame could be read from {video}.")
        with FacePreparer(replace(face_cfg, smooth=False), static_image_mode=True) as prep:
            face = prep(frame)
        if face is None:
            raise NoFaceError(
                "No face was found in the first frame.",
                _FACE_HINT,
            )
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
    for i, frame in enumerate(iter_frames(video, FPS)):
        if i >= n_out:
            return
        item = (i, frame, prep(frame))
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
    for i, frame in enumerate(iter_frames(video, FPS)):
        if i >= n_out:
            return
        face = prep(frame)
        store.append(frame, face)
        yield (i, frame, face)
    n_src = len(store)
    if n_src == 0:
        raise InputError(f"No frame could be read from {video}.")
    store.finish()
    for j in range(n_src, n_out):
        src = pingpong(j, n_src)
        yield (src, store.frame(src), store.faces[src])
