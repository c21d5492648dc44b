"""Real-time avatars: prepare a video once (frames, faces, 8-channel latents on disk), then speak any audio.

An avatar folder holds ``frames.u8`` (raw frames at the avatar's rate: the video's own, or ``fps``), ``faces.npz`` (landmarks and boxes),
``latents.safetensors`` and ``meta.json`` (format version and the parameters it was built with). meta.json is
written last, so a folder without it is an unfinished preparation and is rebuilt, never used.
"""
from __future__ import annotations

import collections
import concurrent.futures
import contextvars
import logging
import os
import shutil
from collections.abc import Iterator
from fractions import Fraction
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from .atomic import exclusive
from .avatar_folders import (  # noqa: F401 - re-exported: the folder helpers are part of this module's API
    busy_message,
    delete_avatar,
    list_avatars,
    lock_path,
    require_avatar_folder,
    resolve_avatars_dir,
    validate_name,
)
from .checks import check_avatar_video, check_speech
from .config import FPS, FaceConfig, InferenceConfig, Progress, no_progress
from .errors import InputError, NoFaceError
from .face import FaceTracker
from .frame_store import FrameStore, load_meta, write_meta
from .media import MediaInfo, iter_frames
from .media.color import ColorTags
from .media.rates import output_rate, rate_text
from .pipeline import LipSyncPipeline, write_frames
from .profiling import stage, timed_iter
from .render import RenderLoop, Windows
from .silence import MouthCloser, closed_mouth_from, most_closed_face, silence_weights
from .sources import from_store
from .temp_files import owner_tag
from .weights import vae_fingerprint

log = logging.getLogger(__name__)

class Avatar:
    """A prepared face video that can speak any audio, frame by frame."""

    def __init__(self, pipeline: LipSyncPipeline, root: Path, store: FrameStore, latents: torch.Tensor,
                 meta: dict) -> None:
        self.pipeline = pipeline
        self.root = root
        self.store = store
        self.latents = latents  # (n_frames, 8, 32, 32); zeros where there is no face
        self.meta = meta
        self.face_cfg = FaceConfig(**meta["face"])

    @property
    def name(self) -> str:
        return self.root.name

    @classmethod
    def prepare(
        cls,
        pipeline: LipSyncPipeline,
        video: str | os.PathLike[str],
        root: Path,
        face_cfg: FaceConfig | None = None,
        batch_size: int = 8,
        progress: Progress = no_progress,
        pipelined: bool = True,
        checked: MediaInfo | None = None,
        fps: Fraction | None = None,
    ) -> Avatar:
        """Analyse and encode every frame of ``video`` once into ``root`` (replacing what was there).

        ``pipelined``: VAE-encode each batch in a worker thread while the next one is decoded and analysed.
        ``checked``: the video's probe from ``check_avatar_video`` when the caller ran it (no second check).
        ``fps``: the avatar's frame rate (default: the video's own, 25 for a still); what it speaks comes out at it.
        """
        face_cfg = face_cfg or FaceConfig()
        validate_name(root.name)
        info = checked or check_avatar_video(video, root, batch_size, face_cfg.face)
        with exclusive(lock_path(root), busy_message(root)):
            # Under the lock no other process prepares this name: any work folder of it is a killed run's.
            for pattern in (f".{root.name}.preparing*", f".{root.name}.old-*"):
                for stale in root.parent.glob(pattern):
                    shutil.rmtree(stale, ignore_errors=True)
            work = root.with_name(f".{root.name}.preparing-{owner_tag()}")
            try:
                n = _build(pipeline, info, work, face_cfg, batch_size, progress, pipelined,
                           output_rate(info.fps, info.is_image, fps))
                _swap_in(work, root)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        progress("prepare", n, n)
        return cls.load(pipeline, root)

    @classmethod
    def load(cls, pipeline: LipSyncPipeline, root: Path) -> Avatar:
        """Open a prepared avatar; an unfinished, stale or damaged one raises InputError (prepare it again)."""
        from safetensors.torch import load_file

        again = "Prepare the avatar again from its video."
        require_avatar_folder(root)
        try:
            meta = load_meta(root)
        except ValueError as exc:
            raise InputError(f"The avatar {root.name!r} cannot be used: {exc}.", again) from exc
        vae = vae_fingerprint(pipeline.models.weights_dir)
        if vae is not None and meta.get("vae") != vae:
            raise InputError(f"The avatar {root.name!r} was prepared with other VAE weights than the ones loaded "
                             f"from {pipeline.models.weights_dir}, so its cached latents do not fit.", again)
        try:
            store = FrameStore.open(root, meta["width"], meta["height"])
            latents = load_file(str(root / "latents.safetensors"))["latents"]
            if len(store) != meta["n_frames"] or latents.shape != (len(store), 8, 32, 32):
                raise ValueError(f"{len(store)} frames and latents of shape {tuple(latents.shape)} where "
                                 f"meta.json says {meta['n_frames']} frames")
            avatar = cls(pipeline, root, store, latents, meta)
        except Exception as exc:  # zip, safetensors, numpy and type errors all mean the same: a damaged cache
            raise InputError(f"The avatar {root.name!r} is damaged ({type(exc).__name__}: {exc}).", again) from exc
        return avatar

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of its frames."""
        return self.store.width, self.store.height

    @property
    def sar(self) -> tuple[int, int] | None:
        """The source video's sample aspect ratio when it is not square, kept in what the avatar speaks."""
        sar = self.meta.get("sar")
        return (int(sar[0]), int(sar[1])) if sar else None

    def speak(self, audio: str | os.PathLike[str] | MediaInfo, cfg: InferenceConfig | None = None,
              progress: Progress = no_progress) -> Iterator[np.ndarray]:
        """Yield lip-synced frames as they are made; the face parameters are the ones prepared with (the other
        settings of ``cfg``, batch size, pipelining and silence handling, are the caller's)."""
        cfg = replace(cfg or InferenceConfig(), face=self.face_cfg)
        wav, windows = self.pipeline.speech(audio, self.fps)
        return self.speak_windows(windows, cfg, progress, self.closer(wav, int(windows.shape[0]), cfg))

    @property
    def fps(self) -> Fraction:
        """The avatar's frame rate (25 for one prepared before rates were kept)."""
        return Fraction(self.meta.get("fps", FPS))

    def closer(self, wav: np.ndarray, n_frames: int, cfg: InferenceConfig) -> MouthCloser | None:
        """The silence handling for ``wav``: the closed mouth of the frame chosen at prepare time (or
        ``cfg.silence.closed_frame``) where ``wav`` is silent; None for "keep" or when there is no silence."""
        weights = silence_weights(wav, n_frames, cfg.silence, self.fps)
        if not weights.any():
            return None
        index = cfg.silence.closed_frame
        if index is None:
            index = self.meta.get("closed_frame")
            if index is None:  # an avatar prepared before the choice was cached
                index = most_closed_face(self.store.faces)
        if index is None:
            return None
        face = self.store.faces[index] if 0 <= index < len(self.store) else None
        if face is None:
            raise InputError(f"Frame {index} of the avatar {self.name!r} cannot give the closed mouth: it is past "
                             f"its {len(self.store)} frames or shows no face.",
                             "Name a frame where the face shows with its mouth closed.")
        return MouthCloser(closed_mouth_from(self.store.frame(index), face.landmarks, index), weights)

    def speak_windows(self, windows: Windows, cfg: InferenceConfig, progress: Progress = no_progress,
                      closer: MouthCloser | None = None) -> Iterator[np.ndarray]:
        m = self.pipeline.models
        # Latents go to the model device once per speak, not once per batch (a per-batch copy would sync a GPU).
        latents = self.latents.to(device=m.device, dtype=m.dtype)
        cache = {i: latents[i] for i, face in enumerate(self.store.faces) if face is not None}
        items = from_store(self.store, int(windows.shape[0]))
        return iter(RenderLoop(self.pipeline.renderer, items, windows, cfg, cache, progress, closer))

    def speak_to_file(self, audio: str | os.PathLike[str], out: str | os.PathLike[str],
                      cfg: InferenceConfig | None = None, progress: Progress = no_progress,
                      checked: MediaInfo | None = None) -> Path:
        """Speak ``audio`` into the video file ``out``. checked: the audio's probe from ``check_speech``."""
        info = checked or check_speech(audio, out)
        crf = (cfg or InferenceConfig()).crf
        return write_frames(self.speak(info, cfg, progress), out, self.size, info, progress, self.sar, self.fps, crf,
                            self.color)

    @property
    def color(self) -> ColorTags | None:
        """The source video's colour tags, kept in what the avatar speaks."""
        tags = self.meta.get("color")
        return ColorTags(*tags) if tags else None


def _build(pipeline: LipSyncPipeline, info: MediaInfo, work: Path, face_cfg: FaceConfig, batch_size: int,
           progress: Progress, pipelined: bool, fps: Fraction) -> int:
    """Frames, faces, latents and (last) meta.json of the probed video into the folder ``work``; frame count."""
    from safetensors.torch import save_file

    store = FrameStore(work, info.width, info.height)
    pending: list[np.ndarray | None] = []  # the batch's crops (None: no face), cut while the frame is in memory
    encoder = _BatchEncoder(pipeline, pipelined)
    try:
        with FaceTracker(face_cfg, fps=float(fps), static_image_mode=info.is_image) as tracker:
            for i, frame in enumerate(timed_iter("decode", iter_frames(info, fps))):
                with stage("landmarks"):
                    face = tracker(frame)
                store.append(frame, face)
                pending.append(None if face is None else face.crop(frame))
                if len(pending) == batch_size:
                    encoder.submit(pending)
                    pending = []
                    progress("prepare", i + 1, max(info.n_frames, i + 1))
        encoder.submit(pending)
        latents = encoder.results()
    finally:
        encoder.close()  # before the work folder goes: no encode may still be running
        store.finish()
    if not any(f is not None for f in store.faces):
        raise NoFaceError(f"any frame of {info.path.name}")
    store.save_faces()
    save_file({"latents": torch.stack(latents).float().contiguous()}, str(work / "latents.safetensors"))
    write_meta(work, {"face": asdict(face_cfg), "n_frames": len(store), "width": info.width, "height": info.height,
                      "sar": info.sar, "source": info.path.name, "vae": vae_fingerprint(pipeline.models.weights_dir),
                      "closed_frame": most_closed_face(store.faces), "fps": rate_text(fps),
                      "color": info.color.as_list() if info.color else None})
    return len(store)


def _swap_in(work: Path, root: Path) -> None:
    """Put the finished ``work`` folder in place of ``root``: the old avatar is moved aside first, so ``root`` is
    always one whole avatar (or briefly absent), never a mix of two."""
    old = root.with_name(f".{root.name}.old-{owner_tag()}")
    if root.exists():
        os.replace(root, old)
    os.replace(work, root)
    shutil.rmtree(old, ignore_errors=True)


class _BatchEncoder:
    """Latents of submitted crop batches, in order; with ``pipelined`` one batch encodes in a worker thread while
    the caller prepares the next (the models release the GIL), and at most two batches wait in memory."""

    def __init__(self, pipeline: LipSyncPipeline, pipelined: bool) -> None:
        self.pipeline = pipeline
        self._done: list[torch.Tensor] = []
        self._in_flight: collections.deque[concurrent.futures.Future[list[torch.Tensor]]] = collections.deque()
        self._pool = (concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="avatar-encode")
                      if pipelined else None)

    def submit(self, crops: list[np.ndarray | None]) -> None:
        if not crops:
            return
        if self._pool is None:
            self._done += _encode(self.pipeline, crops)
            return
        # copy_context: the worker records into the caller's bench timers
        self._in_flight.append(self._pool.submit(contextvars.copy_context().run, _encode, self.pipeline, crops))
        while len(self._in_flight) > 1:
            self._done += self._in_flight.popleft().result()

    def results(self) -> list[torch.Tensor]:
        while self._in_flight:
            self._done += self._in_flight.popleft().result()
        return self._done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _encode(pipeline: LipSyncPipeline, crops: list[np.ndarray | None]) -> list[torch.Tensor]:
    """(8, 32, 32) latents for a batch of face crops, zeros where there is no face (None)."""
    out = [torch.zeros(8, 32, 32) for _ in crops]
    with_face = [k for k, c in enumerate(crops) if c is not None]
    if with_face:
        batch = np.stack([crops[k] for k in with_face])
        for k, lat in zip(with_face, pipeline.renderer.encode(batch)):
            out[k] = lat.float().cpu()
    return out
