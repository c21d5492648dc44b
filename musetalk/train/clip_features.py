"""What the trainer reads of one prepared clip, and the checks and encoders that preparing a clip is built from.

A clip's arrays come from the dataset cache (see ``cache.py``) and are memory-mapped there, so a dataset of many
clips costs address space, not RAM: only the rows a batch touches are read.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import Progress, no_progress
from ..errors import InputError
from ..media import MediaInfo, probe
from ..models import MuseTalkModels
from ..models.vae import encode_masked_and_reference
from ..weights import VAE_DIR, WHISPER_DIR

ENCODE_BATCH = 16


@dataclass
class ClipFeatures:
    """One clip, ready to sample. Row i of every array is the same frame; frames without a face are left out.

    The arrays are numpy (memory-mapped when read from the cache); a batch copies out only the rows it needs."""

    name: str
    frame_index: np.ndarray  # (n,) int64, increasing: index of the frame in the 25 fps clip
    n_frames: int  # frames in the clip (with or without a face) that have audio
    crops: np.ndarray  # (n, 256, 256, 3) uint8 BGR
    latents: np.ndarray  # (n, 4, 32, 32) float32: VAE latent of the whole crop (target and reference)
    masked: np.ndarray  # (n, 4, 32, 32) float32: VAE latent of the crop with its lower half black
    windows: np.ndarray  # (n, 50, 384) float32 Whisper windows, without PE
    # (n_frames, 4) float32, one row per frame of the clip (with or without a face): its audio's per-frame
    # features for the offline sync score (``score.speech.SpeechTrack.to_array``), read by validation.
    speech: np.ndarray

    def __len__(self) -> int:
        return len(self.frame_index)


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


def file_id(path: Path) -> dict[str, Any]:
    """What identifies a file's content cheaply: path, size and mtime (a changed file means a rebuild)."""
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def weights_id(weights_dir: Path) -> list[dict[str, Any]]:
    """The files the features depend on (VAE and Whisper), by path, size and mtime."""
    files = sorted(p for sub in (VAE_DIR, WHISPER_DIR) for p in (weights_dir / sub).iterdir() if p.is_file())
    return [file_id(p) for p in files]


@torch.inference_mode()
def encode_crops(models: MuseTalkModels, crops: np.ndarray,
                 progress: Progress = no_progress) -> tuple[np.ndarray, np.ndarray]:
    """(n, 256, 256, 3) uint8 -> latents of whole and masked crops, each (n, 4, 32, 32) float32 on the host."""
    whole, masked = [], []
    for start in range(0, len(crops), ENCODE_BATCH):
        chunk = crops[start : start + ENCODE_BATCH]
        m, w = encode_masked_and_reference(models.vae, chunk, models.device, models.dtype, models.channels_last)
        masked.append(m.float().cpu().numpy())
        whole.append(w.float().cpu().numpy())
        progress("encode", min(start + ENCODE_BATCH, len(crops)), len(crops))
    return np.concatenate(whole), np.concatenate(masked)
