"""The renderer (crops -> 8-channel latents; latents + audio -> faces) and the threaded render loop around it.

``FaceRenderer`` runs the VAE and UNet on batches. ``RenderLoop`` feeds it: three worker threads joined by
bounded queues, so the end-to-end rate is that of the slowest stage, not the sum::

    prep  : source items (video decode, landmarks, box) + crop + blend mask  -> batches
    model : VAE encode of uncached crops, UNet, VAE decode, one download     -> generated faces
    blend : paste back                                                       -> finished frames, in order

The caller's thread only takes finished frames (``generate`` writes them to ffmpeg, which encodes in its own
process). torch, OpenCV, MediaPipe and pipe writes release the GIL, so the stages really overlap. Each queue holds
at most one batch (the output queue one batch of frames), so memory does not grow with the video. An error in
any thread stops the others and is raised in the caller; closing the iterator early stops and joins every thread
(the model thread first finishes the batch it is on).
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import torch

from . import profiling
from .config import InferenceConfig, Progress, no_progress
from .face import TrackedFace, paste_back
from .models import MuseTalkModels
from .models.audio import FrameWindows, add_positional_encoding, positional_encoding
from .models.device import to_device
from .models.unet import predict_latents
from .models.vae import decode, encode_masked_and_reference, images_to_bgr
from .priority import lower_this_thread
from .profiling import stage
from .silence import MouthCloser
from .sources import LatentCache, SourceItem

Windows = Union[torch.Tensor, FrameWindows]  # (n, 50, 384) audio windows without PE, made at once or per batch


class FaceRenderer:
    """Runs the VAE and UNet on batches. Every call is under ``torch.inference_mode``.

    Nothing here waits for the device except the final download of the faces (``render``'s return), so on a
    GPU the host runs ahead and queues the next batch while the current one computes.
    """

    def __init__(self, models: MuseTalkModels) -> None:
        self.models = models
        self._pe: torch.Tensor | None = None  # (50, 384) float32 on the model device, made once

    @torch.inference_mode()
    def encode(self, crops_bgr: np.ndarray) -> torch.Tensor:
        """(B, 256, 256, 3) uint8 BGR -> (B, 8, 32, 32) = cat[masked latent, reference latent], model dtype.

        In inference the reference is the same crop, unmasked, as in MuseTalk v1.5.
        """
        m = self.models
        with stage("vae_encode", crops_bgr.shape[0], m.device):
            masked, ref = encode_masked_and_reference(m.vae, crops_bgr, m.device, m.dtype, m.channels_last)
            return torch.cat([masked, ref], dim=1)

    @torch.inference_mode()
    def render(self, latents: torch.Tensor, windows: torch.Tensor) -> np.ndarray:
        """latents (B, 8, 32, 32), windows (B, 50, 384) without PE -> faces (B, 256, 256, 3) uint8 BGR."""
        m = self.models
        n = latents.shape[0]
        with stage("unet", n, m.device):
            audio = add_positional_encoding(windows.to(m.device), self._positional_encoding(windows)).to(m.dtype)
            pred = predict_latents(m.unet, latents.to(device=m.device, dtype=m.dtype), audio)
        with stage("vae_decode", n, m.device):
            images = decode(m.vae, pred)
        with stage("download", n):  # the loop's one device->host copy (and on a GPU, its one wait)
            return images_to_bgr(images)

    def _positional_encoding(self, windows: torch.Tensor) -> torch.Tensor:
        """The PE on the model device, built once: a per-batch host->device copy would sync a GPU."""
        shape = tuple(windows.shape[1:])
        if self._pe is None or tuple(self._pe.shape) != shape:
            self._pe = positional_encoding(*shape).to(self.models.device)
        return self._pe


_END = object()
_POLL_S = 0.1  # how often a blocked thread looks at the stop flag


class _Stopped(Exception):
    """Another thread failed or the consumer went away: leave quietly."""


@dataclass
class _Item:
    out_index: int
    src: int
    frame: np.ndarray  # (H, W, 3) uint8 BGR
    face: TrackedFace | None
    crop: np.ndarray | None = None  # (256, 256, 3) uint8 BGR, only when the latent is not cached yet
    mask: np.ndarray | None = None  # (box_h, box_w) float32


class RenderLoop:
    """One run of the loop over ``items`` (one per output frame) and ``windows`` ((n, 50, 384), any device).

    latent_cache: source index -> (8, 32, 32) latent on the model device, read and filled here (None: encode
    every batch's crops and keep nothing). Iterate it once; ``pipelined=False`` runs every stage in the
    caller's thread, in the same batches (same output, for checking and measuring).
    """

    def __init__(self, renderer: FaceRenderer, items: Iterable[SourceItem], windows: Windows,
                 cfg: InferenceConfig, latent_cache: LatentCache | None, progress: Progress = no_progress,
                 closer: MouthCloser | None = None) -> None:
        self.renderer = renderer
        self.closer = closer  # --silence close: the closed mouth mixed in where nobody speaks
        self.items = items
        self.windows = windows
        self.cfg = cfg
        self.batch_size = max(int(cfg.batch_size), 1)
        self.cache = latent_cache
        self.progress = progress
        self.n = int(windows.shape[0])
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._times = profiling.current()

    # ------------------------------------------------------------------ iteration

    def __iter__(self) -> Iterator[np.ndarray]:
        frames = self._threaded() if self.cfg.pipelined else self._serial()
        try:
            for done, frame in enumerate(frames, 1):
                yield frame
                if done % self.batch_size == 0 or done == self.n:
                    self.progress("lip-sync", done, self.n)
        finally:
            if self.closer is not None:
                self.closer.close()

    def _serial(self) -> Iterator[np.ndarray]:
        for batch in self._batches():
            yield from self._blend_batch(batch, self._render(batch))

    def _threaded(self) -> Iterator[np.ndarray]:
        to_model: queue.Queue = queue.Queue(maxsize=1)
        to_blend: queue.Queue = queue.Queue(maxsize=1)
        out: queue.Queue = queue.Queue(maxsize=self.batch_size)

        def prep() -> None:
            batches = self._batches()
            try:
                for batch in batches:
                    self._put(to_model, batch)
            finally:  # close the source here, in the thread that ran it
                batches.close()

        def model() -> None:
            while (batch := self._get(to_model)) is not _END:
                self._put(to_blend, (batch, self._render(batch)))

        def blend() -> None:
            while (got := self._get(to_blend)) is not _END:
                for frame in self._blend_batch(*got):
                    self._put(out, frame)

        # prep and blend run beside the models at a lower priority (priority.py): the models keep the cores
        threads = [threading.Thread(target=self._guard, args=(fn, q, low), name=f"musetalk-{fn.__name__}",
                                    daemon=True)
                   for fn, q, low in ((prep, to_model, True), (model, to_blend, False), (blend, out, True))]
        for t in threads:
            t.start()
        try:
            while True:
                try:
                    frame = self._get(out)
                except _Stopped:
                    break
                if frame is _END:
                    break
                yield frame
        finally:
            self._stop.set()
            for t in threads:
                t.join()
        if self._error is not None:
            raise self._error

    def _guard(self, fn: Callable[[], None], out: queue.Queue, background: bool = False) -> None:
        profiling.bind(self._times)
        if background:
            lower_this_thread()
        try:
            fn()
            self._put(out, _END)
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
            if self._error is None:
                self._error = exc
            self._stop.set()

    def _put(self, q: queue.Queue, item: object) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                q.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def _get(self, q: queue.Queue) -> Any:  # an item, a batch or _END: what the queue carries
        while True:
            try:
                return q.get(timeout=_POLL_S)
            except queue.Empty:
                if self._stop.is_set():
                    raise _Stopped from None

    # ------------------------------------------------------------------ stages

    def _batches(self) -> Iterator[list[_Item]]:
        """Source items -> batches of _Item with crops (uncached latents only) and masks."""
        batch: list[_Item] = []
        items = iter(self.items)
        try:
            for out_index, (src, frame, face) in enumerate(items):
                if out_index >= self.n or self._stop.is_set():
                    break
                it = _Item(out_index, src, frame, face)
                if face is not None:
                    # The cache only grows, so a source seen cached here is still cached when the model needs it.
                    if self.cache is None or src not in self.cache:
                        with stage("crop"):
                            it.crop = face.crop(frame)
                    with stage("mask"):
                        it.mask = face.mask(self.cfg.face)
                batch.append(it)
                if len(batch) == self.batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch
        finally:  # runs in this thread: a generator source (ffmpeg reader, spool) is closed where it ran
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def _render(self, batch: list[_Item]) -> np.ndarray | None:
        """Generated faces (k, 256, 256, 3) uint8 BGR for the k items of the batch that have a face."""
        with_face = [it for it in batch if it.face is not None]
        if not with_face:
            return None
        cache = {} if self.cache is None else self.cache
        todo: dict[int, np.ndarray] = {}
        for it in with_face:
            if it.src not in cache and it.src not in todo:
                todo[it.src] = it.crop if it.crop is not None else it.face.crop(it.frame)
        if todo:
            encoded = self.renderer.encode(np.stack(list(todo.values())))
            for src, lat in zip(todo, encoded):
                cache[src] = lat
        latents = torch.stack([cache[it.src] for it in with_face])
        return self.renderer.render(latents, _rows(self.windows, [it.out_index for it in with_face]))

    def _blend_batch(self, batch: list[_Item], faces: np.ndarray | None) -> Iterator[np.ndarray]:
        k = 0
        for it in batch:
            if it.face is None:
                yield it.frame
                continue
            with stage("blend"):
                frame = paste_back(it.frame, faces[k], it.face.box, it.mask)
            if self.closer is not None:
                with stage("silence"):
                    frame = self.closer.apply(it.out_index, frame, it.face, it.mask)
            k += 1
            yield frame


def _rows(windows: Windows, rows: list[int]) -> torch.Tensor:
    """windows[rows] without a host->device sync: a slice when rows are consecutive (the usual case)."""
    if rows == list(range(rows[0], rows[0] + len(rows))):
        return windows[rows[0] : rows[0] + len(rows)]
    return windows[to_device(torch.tensor(rows), windows.device)]
