"""A training clip's features, cached on disk: face crops, frozen-VAE latents and Whisper windows.

Two caches per clip, each a data file plus a JSON written last (its presence marks a complete cache; a version or
parameter mismatch means rebuild; no pickle):

- ``faces.npz`` + ``faces.json``: 256x256 crops of every 25 fps frame that has a face, and their frame indices.
  Depends on the clip and the face settings only.
- ``features-<key>.safetensors`` + ``.json``: VAE latents of each crop (whole and lower-half masked) and the
  Whisper window of each frame. Depends also on the audio and on the VAE and Whisper weights.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import temp_beside, write_json_atomic
from ..config import FPS, FaceConfig, Progress, no_progress
from ..errors import InputError, NoFaceError
from ..face import FaceTracker
from ..media import MediaInfo, iter_frames, load_audio, probe
from ..models import MuseTalkModels
from ..models.audio import audio_features
from ..models.vae import encode_masked_and_reference
from ..weights import VAE_DIR, WHISPER_DIR

log = logging.getLogger(__name__)

FEATURES_VERSION = 1
ENCODE_BATCH = 16


@dataclass
class ClipFeatures:
    """One clip, ready to sample. Row i of every array is the same frame; frames without a face are left out."""

    frame_index: np.ndarray  # (n,) int64: index of the frame in the 25 fps clip
    n_frames: int  # frames in the clip (with or without a face) that have audio
    crops: np.ndarray  # (n, 256, 256, 3) uint8 BGR
    latents: torch.Tensor  # (n, 4, 32, 32) float32: VAE latent of the whole crop (target and reference)
    masked: torch.Tensor  # (n, 4, 32, 32) float32: VAE latent of the crop with its lower half black
    windows: torch.Tensor  # (n, 50, 384) float32 Whisper windows, without PE


def check_clip(clip: Path, audio: Path | None) -> MediaInfo:
    """Fail fast, before loading any model: the clip must be a video and some audio must be available.

    Returns the clip's probe."""
    info = probe(clip)
    if not info.has_video or info.is_image:
        raise InputError(f"{clip.name} is not a video.", "Fine-tuning needs a video of the face talking.")
    if audio is None and not info.has_audio:
        raise InputError(f"{clip.name} has no audio track, so there is nothing to learn lip-sync from.",
                         "Pass the speech with --audio, or use a clip recorded with sound.")
    if audio is not None:
        a = probe(audio)
        if not a.has_audio:
            raise InputError(f"{audio.name} has no audio track.", "Pass a file that contains the clip's speech.")
    return info


def load_clip_features(
    models: MuseTalkModels,
    clip: Path,
    cache_dir: Path,
    face_cfg: FaceConfig,
    audio: Path | None = None,
    progress: Progress = no_progress,
    checked: MediaInfo | None = None,
) -> ClipFeatures:
    """Crops, latents and windows of ``clip`` (its own audio unless ``audio``), from ``cache_dir`` when valid.

    checked: the clip's probe from ``check_clip`` when the caller ran it."""
    info = checked or check_clip(clip, audio)
    cache_dir.mkdir(parents=True, exist_ok=True)
    frame_index, crops = track_clip_faces(info, cache_dir, face_cfg, progress)
    latents, masked, windows = _features(models, clip, audio, cache_dir, crops, progress)
    n_audio = windows.shape[0]
    keep = frame_index < n_audio  # the clip may run a frame or two past its audio
    if not keep.any():
        raise InputError(f"The audio of {clip.name} is too short to cover any frame with a face.")
    n_frames = int(min(n_audio, frame_index.max() + 1))
    idx = torch.as_tensor(frame_index[keep])
    return ClipFeatures(frame_index[keep], n_frames, crops[keep], latents[keep], masked[keep], windows[idx])


# ----------------------------------------------------------------------------------------------- faces


def _file_id(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def track_clip_faces(info: MediaInfo, cache_dir: Path, face_cfg: FaceConfig,
                     progress: Progress = no_progress) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices, (n, 256, 256, 3) uint8 crops) of the 25 fps frames of the probed clip that have a face."""
    clip = info.path
    meta = {"version": FEATURES_VERSION, "clip": _file_id(clip), "face": asdict(face_cfg), "fps": FPS}
    json_path, data_path = cache_dir / "faces.json", cache_dir / "faces.npz"
    if _read_json(json_path) == meta and data_path.is_file():
        with np.load(data_path, allow_pickle=False) as z:
            log.info("face crops from cache %s", data_path)
            return z["frame_index"], z["crops"]
    total = info.n_frames
    indices, crops = [], []
    with FaceTracker(face_cfg, fps=FPS) as tracker:
        for i, frame in enumerate(iter_frames(info, FPS)):
            face = tracker(frame)
            if face is not None:
                indices.append(i)
                crops.append(face.crop(frame))
            progress("faces", i + 1, max(total, i + 1))
    if not crops:
        raise NoFaceError(f"any frame of {clip.name}")
    frame_index, crop_arr = np.asarray(indices, dtype=np.int64), np.stack(crops)
    tmp = temp_beside(data_path, ".npz")  # two processes caching the same clip never share a temporary file
    np.savez(tmp, frame_index=frame_index, crops=crop_arr)
    os.replace(tmp, data_path)
    write_json_atomic(json_path, meta)
    return frame_index, crop_arr


# -------------------------------------------------------------------------------------------- features


def _weights_id(weights_dir: Path) -> list[dict[str, Any]]:
    """The files the features depend on (VAE and Whisper), by path, size and mtime."""
    files = sorted(p for sub in (VAE_DIR, WHISPER_DIR) for p in (weights_dir / sub).iterdir() if p.is_file())
    return [_file_id(p) for p in files]


def _features(models: MuseTalkModels, clip: Path, audio: Path | None, cache_dir: Path, crops: np.ndarray,
              progress: Progress) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    from safetensors.torch import load_file, save_file

    meta = {
        "version": FEATURES_VERSION,
        "faces": _read_json(cache_dir / "faces.json"),
        "audio": _file_id(audio) if audio is not None else "clip",
        "weights": _weights_id(models.weights_dir),
    }
    key = hashlib.sha1(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:12]
    json_path, data_path = cache_dir / f"features-{key}.json", cache_dir / f"features-{key}.safetensors"
    if _read_json(json_path) == meta and data_path.is_file():
        log.info("latents and audio windows from cache %s", data_path)
        t = load_file(str(data_path))
        return t["latents"], t["masked"], t["windows"]
    progress("audio", 0, 1)
    wav = load_audio(audio if audio is not None else clip)
    windows = audio_features(models.whisper, models.feature_extractor, wav, FPS).float().cpu()
    progress("audio", 1, 1)
    latents, masked = encode_crops(models, crops, progress)
    tmp = temp_beside(data_path)
    save_file({"latents": latents, "masked": masked, "windows": windows.contiguous()}, str(tmp))
    os.replace(tmp, data_path)
    write_json_atomic(json_path, meta)
    return latents, masked, windows


@torch.inference_mode()
def encode_crops(models: MuseTalkModels, crops: np.ndarray,
                 progress: Progress = no_progress) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 256, 256, 3) uint8 -> latents of whole and masked crops, each (n, 4, 32, 32) float32 on the host."""
    whole, masked = [], []
    for start in range(0, len(crops), ENCODE_BATCH):
        chunk = crops[start : start + ENCODE_BATCH]
        m, w = encode_masked_and_reference(models.vae, chunk, models.device, models.dtype, models.channels_last)
        masked.append(m.float().cpu())
        whole.append(w.float().cpu())
        progress("encode", min(start + ENCODE_BATCH, len(crops)), len(crops))
    return torch.cat(whole).contiguous(), torch.cat(masked).contiguous()
