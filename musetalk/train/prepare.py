"""Preparing one source video: 25 fps frames -> face crops -> frozen-VAE latents, and Whisper windows per frame.

A source becomes one clip, or several when ``split_seconds`` cuts a long video into pieces. Frames stream through
the face tracker and each piece is encoded and written as soon as it is complete, so a long video never sits
in memory whole. A video that cannot be trained on (not readable, no audio, no face, too short) raises
``BadClip`` with a one-line reason; the dataset preparation reports it and goes on with the others.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import FPS, FaceConfig, Progress, no_progress
from ..errors import InputError, MuseTalkError, NoFaceError
from ..face import FaceTracker
from ..media import iter_frames, load_audio
from ..models import MuseTalkModels
from ..models.audio import lazy_audio_features
from ..score.speech import speech_track
from .cache import CACHE_VERSION, clip_is_ready, read_json, write_clip
from .clip_features import ClipFeatures, check_clip, encode_crops, file_id, weights_id
from .clip_list import ClipSource

log = logging.getLogger(__name__)


class BadClip(InputError):
    """A source video that cannot be trained on; the message is the reason, in one line."""


@dataclass
class PrepareConfig:
    """How sources become clips. Part of every clip's cache key: a change means those clips are prepared again."""

    face: FaceConfig = field(default_factory=FaceConfig)
    split_seconds: float = 0.0  # cut each video into pieces this long (0 = keep it whole)
    min_face: int = 0  # frames whose face box is narrower or lower than this many pixels are left out
    min_frames: int = 10  # a clip (or piece) with fewer frames with a face is skipped as too short

    def validate(self) -> PrepareConfig:
        if self.split_seconds < 0:
            raise InputError("--split-seconds must be 0 (no split) or positive.")
        if self.min_face < 0 or self.min_frames < 1:
            raise InputError("--min-face must be >= 0 and --min-frames at least 1.")
        return self


@dataclass
class PreparedSource:
    """What became of one source: its clips ({name, rows, n_frames}), or the reason it was skipped."""

    source: str
    clips: list[dict[str, Any]]
    skipped: str | None = None
    cached: bool = False


def source_key(src: ClipSource, cfg: PrepareConfig, weights: Path) -> str:
    """Hash of everything a source's clips depend on: cache version, files, settings and VAE/Whisper weights."""
    try:
        files = [file_id(src.video), file_id(src.audio) if src.audio else "own sound"]
    except OSError:
        files = [str(src.video), "missing"]
    meta = {"version": CACHE_VERSION, "files": files, "prepare": asdict(cfg), "weights": weights_id(weights),
            "fps": FPS}
    return hashlib.sha1(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]


def prepare_source(models: MuseTalkModels, src: ClipSource, cache: Path, cfg: PrepareConfig,
                   progress: Progress = no_progress) -> PreparedSource:
    """Prepare ``src`` into ``cache`` unless its clips are already there with the same key (resumable)."""
    key = source_key(src, cfg, models.weights_dir)
    record_path = Path(cache) / "sources" / f"{src.name}.json"
    record = read_json(record_path)
    if (isinstance(record, dict) and record.get("key") == key
            and all(clip_is_ready(cache, c["name"], key) for c in record["clips"])):
        return PreparedSource(str(src.video), record["clips"], cached=True)
    try:
        clips = _prepare(models, src, cache, cfg, key, progress)
    except MuseTalkError as exc:
        return PreparedSource(str(src.video), [], skipped=str(exc))
    from ..atomic import write_json_atomic

    record_path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(record_path, {"key": key, "source": str(src.video), "clips": clips})
    return PreparedSource(str(src.video), clips)


def _prepare(models: MuseTalkModels, src: ClipSource, cache: Path, cfg: PrepareConfig, key: str,
             progress: Progress) -> list[dict[str, Any]]:
    if not src.video.is_file():
        raise BadClip(f"{src.video} does not exist.")
    info = check_clip(src.video, src.audio)
    wav = load_audio(src.audio if src.audio is not None else src.video)
    windows = lazy_audio_features(models.whisper, models.feature_extractor, wav, FPS)
    n_audio = len(windows)
    speech = speech_track(wav, n_audio, FPS).to_array()
    piece = round(cfg.split_seconds * FPS) or None
    pieces = _Pieces(models, src, cache, cfg, key, windows, speech, piece)
    n_read, any_face = 0, False
    with FaceTracker(cfg.face, fps=FPS) as tracker:
        for i, frame in enumerate(iter_frames(info, FPS)):
            if i >= n_audio:  # the clip may run a frame or two past its audio
                break
            pieces.reach(i)
            face = tracker(frame)
            if face is not None:
                any_face = True
                x1, y1, x2, y2 = face.box
                if min(x2 - x1, y2 - y1) >= cfg.min_face:
                    pieces.add(i, face.crop(frame))
            n_read = i + 1
            progress("faces", n_read, max(info.n_frames, n_read))
    if n_read == 0:
        raise BadClip(f"{src.video.name}: no frame could be read.")
    pieces.flush(n_read)
    if not pieces.written:
        if not any_face:
            raise NoFaceError(f"any frame of {src.video.name}")
        raise BadClip(f"{src.video.name}: too short, at most {pieces.best} frames with a face "
                      f"(of at least {cfg.min_face} px) where {cfg.min_frames} are needed.")
    return pieces.written


class _Pieces:
    """Collects face crops frame by frame and writes each piece of the source as soon as it is complete."""

    def __init__(self, models: MuseTalkModels, src: ClipSource, cache: Path, cfg: PrepareConfig, key: str,
                 windows, speech: np.ndarray, piece: int | None) -> None:
        self.models, self.src, self.cache, self.cfg, self.key = models, src, cache, cfg, key
        self.windows, self.speech, self.piece = windows, speech, piece
        self.number, self.index, self.crops = 0, [], []
        self.written: list[dict[str, Any]] = []
        self.best = 0  # the most frames with a face of any piece (for the too-short message)

    def reach(self, frame: int) -> None:
        if self.piece and frame // self.piece != self.number:
            self.flush(frame)
            self.number = frame // self.piece

    def add(self, frame: int, crop: np.ndarray) -> None:
        self.index.append(frame)
        self.crops.append(crop)

    def flush(self, end: int) -> None:
        """Write the piece collected so far (frames up to ``end``, exclusive) when it is long enough."""
        index, crops = self.index, self.crops
        self.index, self.crops = [], []
        self.best = max(self.best, len(index))
        if len(index) < self.cfg.min_frames:
            return
        start = self.number * self.piece if self.piece else 0
        name = f"{self.src.name}~{self.number:03d}" if self.piece else self.src.name
        crops_arr = np.stack(crops)
        latents, masked = encode_crops(self.models, crops_arr)
        windows = self.windows[torch.as_tensor(index)].float().cpu().numpy()
        clip = ClipFeatures(name, np.asarray(index, np.int64) - start, end - start, crops_arr, latents, masked,
                            windows, self.speech[start:end])
        write_clip(self.cache, clip, {"key": self.key, "source": str(self.src.video), "start_frame": start})
        self.written.append({"name": name, "rows": len(clip), "n_frames": clip.n_frames})
        log.info("prepared %s: %d frames with a face", name, len(clip))
