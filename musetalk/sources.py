"""Where the source frames come from, one per output frame, each with its tracked face.

- ``streamed``: the video decoded once, in order, when it is long enough for the audio.
- ``spooled``: the video decoded once and spooled to a ``FrameStore``, then looped from the spool.
- ``from_store``: an avatar's cache, looped.

Looping is MuseTalk's ping-pong (0..n-1, n-1..0, ...), so any audio length works. ``video_source`` picks the
first or second by the ``must_loop`` rule and cleans up the spool.
"""
from __future__ import annotations

import collections
import contextlib
import shutil
from collections.abc import Iterable, Iterator

import numpy as np
import torch

from .config import FPS, FaceConfig
from .errors import InputError, NoFaceError
from .face import FaceTracker, TrackedFace
from .frame_store import FrameStore
from .media import MediaInfo, iter_frames
from .models.audio import Rate
from .profiling import stage, timed_iter
from .temp_files import make_temp_dir

SourceItem = tuple[int, np.ndarray, TrackedFace | None]  # (source index, frame BGR, face)
LatentCache = dict[int, torch.Tensor]  # source index -> (8, 32, 32) latent on the model device

STREAM_MARGIN = 2  # frames of slack on the container's duration estimate before we spool instead
TAIL_FRAMES = 25  # frames kept to mirror from if a stream ends earlier than its header said


def must_loop(info: MediaInfo, n_out: int, fps: Rate = FPS) -> bool:
    """The one looping rule: an image, or a video (by its header, at ``fps``) not ``STREAM_MARGIN`` frames longer
    than the ``n_out`` output frames, is spooled and looped instead of streamed."""
    n_src = info.n_frames if fps == FPS else round(info.duration * float(fps))
    return info.is_image or n_src < n_out + STREAM_MARGIN


def pingpong(i: int, n: int) -> int:
    """Source frame for output frame i when n source frames loop forward then backward (0..n-1, n-1..0, ...)."""
    k = i % (2 * n)
    return k if k < n else 2 * n - 1 - k


@contextlib.contextmanager
def video_source(info: MediaInfo, face_cfg: FaceConfig, n_out: int,
                 fps: Rate = FPS) -> Iterator[tuple[Iterator[SourceItem], LatentCache | None]]:
    """(items, latent cache) for ``n_out`` output frames of the probed video ``info``.

    A streamed source needs no cache (every source frame is used once); a looping one gets an empty cache, so
    each source frame is encoded once. The spool folder is removed on exit, whatever happened.
    """
    with FaceTracker(face_cfg, fps=float(fps), static_image_mode=info.is_image) as tracker:
        if not must_loop(info, n_out, fps):
            yield require_face(streamed(info, tracker, n_out, fps), info.path.name), None
            return
        spool_dir = make_temp_dir("spool")  # named for its process: a killed run's spool is reclaimed later
        store = FrameStore(spool_dir, info.width, info.height)
        try:
            yield require_face(spooled(info, tracker, store, n_out, fps), info.path.name), {}
        finally:
            store.finish()
            shutil.rmtree(spool_dir, ignore_errors=True)


def require_face(items: Iterable[SourceItem], name: str) -> Iterator[SourceItem]:
    """Pass items through; a video in which no frame has a face is an input error, not a silent copy."""
    found = False
    for item in items:
        found = found or item[2] is not None
        yield item
    if not found:
        raise NoFaceError(f"any frame of {name}")


def _tracked(info: MediaInfo, tracker: FaceTracker,
             fps: Rate = FPS) -> Iterator[tuple[np.ndarray, TrackedFace | None]]:
    """Decoded frames of ``info`` at ``fps`` with their faces (one ffmpeg run; the probe is not repeated)."""
    for frame in timed_iter("decode", iter_frames(info, fps)):
        with stage("landmarks"):
            face = tracker(frame)
        yield frame, face


def streamed(info: MediaInfo, tracker: FaceTracker, n_out: int, fps: Rate = FPS) -> Iterator[SourceItem]:
    """Frames read once, in order. A stream that ends before its header promised (a container longer than its
    video) goes on by the ping-pong rule: from the last frames it kept, or, past those, from a spool of a second
    decode. Never a frozen frame."""
    tail: collections.deque[SourceItem] = collections.deque(maxlen=TAIL_FRAMES)
    faces: list[TrackedFace | None] = []  # every frame's face (small), for a spool should the stream end early
    frames = _tracked(info, tracker, fps)
    try:
        for i, (frame, face) in enumerate(frames):
            if i >= n_out:
                return
            tail.append((i, frame, face))
            faces.append(face)
            yield tail[-1]
    finally:
        frames.close()
    n_src = len(faces)
    if n_src == 0:
        raise InputError(f"No frame could be read from {info.path}.")
    if n_out - n_src <= len(tail):  # the way back fits in the tail: it is the ping-pong rule
        for j in range(n_src, n_out):
            yield tail[-1 - (j - n_src)]
        return
    yield from _respooled(info, faces, n_out, fps)


def _respooled(info: MediaInfo, faces: list[TrackedFace | None], n_out: int,
               fps: Rate = FPS) -> Iterator[SourceItem]:
    """Output frames len(faces)..n_out - 1 by ping-pong over the video's frames, decoded again into a spool."""
    spool_dir = make_temp_dir("spool")
    store = FrameStore(spool_dir, info.width, info.height)
    try:
        frames = timed_iter("decode", iter_frames(info, fps))
        try:
            for k, frame in enumerate(frames):
                if k >= len(faces):
                    break
                store.append(frame, faces[k])
        finally:
            frames.close()
        store.finish()
        if len(store) < len(faces):
            raise InputError(f"{info.path} gave fewer frames on a second read; it may be damaged.",
                             "Re-export the file.")
        yield from from_store(store, n_out, start=len(faces))
    finally:
        store.finish()
        shutil.rmtree(spool_dir, ignore_errors=True)


def spooled(info: MediaInfo, tracker: FaceTracker, store: FrameStore, n_out: int,
            fps: Rate = FPS) -> Iterator[SourceItem]:
    """Forward pass from the decoder (spooling each frame to disk), then loop back and forth from the spool."""
    frames = _tracked(info, tracker, fps)
    try:
        for i, (frame, face) in enumerate(frames):
            if i >= n_out:
                return
            store.append(frame, face)
            yield (i, frame, face)
    finally:
        frames.close()
    if len(store) == 0:
        raise InputError(f"No frame could be read from {info.path}.")
    store.finish()
    yield from from_store(store, n_out, start=len(store))


def from_store(store: FrameStore, n_out: int, start: int = 0) -> Iterator[SourceItem]:
    """Output frames ``start``..``n_out - 1`` from a filled store, looping it (an avatar's cache, a spool)."""
    n_src = len(store)
    for j in range(start, n_out):
        src = pingpong(j, n_src)
        with stage("frame_read"):
            frame = store.frame(src)
        yield (src, frame, store.faces[src])
