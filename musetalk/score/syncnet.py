"""LSE-C / LSE-D lip-sync scores with SyncNet v2, following syncnet_python's protocol (as Wav2Lip and LatentSync).

Protocol (``SyncNetInstance.evaluate`` and ``run_pipeline.crop_video`` of joonson/syncnet_python):

1. Video at 25 fps; one face followed through the clip. Its box (here: the MediaPipe mesh bounds, in place of
   the S3FD detection) gives centre (x, y) and half-size s = max(w, h) / 2, each median-filtered over 13 frames;
   the crop is rows [y - s, y + 2.6 s), columns [x - 1.4 s, x + 1.4 s) (crop_scale 0.4; grey 110 outside the
   frame), resized to 224 x 224, BGR 0-255. Frames without a face between two with one get interpolated boxes.
2. Audio 16 kHz mono as int16-scaled samples -> ``python_speech_features.mfcc`` -> (13, T), 100 steps/s.
3. ``min_length = min(face frames, floor(samples / 640))``; windows i = 0 .. min_length - 6 (syncnet_python's
   count, one short of what fits): video frames i..i+4 against MFCC steps 4i..4i+20.
4. For every window, the distance to the audio windows shifted by -vshift..+vshift (zero embeddings past the ends),
   averaged over windows: LSE-D = the minimum, LSE-C = median - minimum, offset = vshift - argmin.

The weights: see ``musetalk.score.syncnet_model`` (download URL and licence).
"""
from __future__ import annotations

import logging
import math
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from musetalk.config import AUDIO_SAMPLE_RATE, FPS, Progress, no_progress
from musetalk.errors import InputError, NoFaceError
from musetalk.face.landmarks import FaceAnalyzer
from musetalk.media.audio import load_audio
from musetalk.media.probe import MediaInfo, probe
from musetalk.media.video import iter_frames
from musetalk.score.syncnet_model import SyncNet, load_syncnet

logger = logging.getLogger(__name__)

CROP = 224
CROP_SCALE = 0.4  # run_pipeline.py --crop_scale
SMOOTH_KERNEL = 13  # run_pipeline.py: signal.medfilt(kernel_size=13) on box centre and size
PAD_VALUE = 110  # grey that syncnet_python pads frames with
WINDOW = 5  # video frames per SyncNet window (0.2 s)
MFCC_PER_FRAME = 4  # 100 MFCC steps/s over 25 fps
MFCC_WINDOW = WINDOW * MFCC_PER_FRAME
SAMPLES_PER_FRAME = AUDIO_SAMPLE_RATE // FPS  # 640
BATCH = 20  # run_syncnet.py --batch_size
VSHIFT = 15  # LatentSync's and run_syncnet.py's default; Wav2Lip's tables use 10


@dataclass(frozen=True)
class SyncNetResult:
    """SyncNet scores of one clip.

    lse_c: confidence, median - min of the mean distance over shifts (higher is better synced).
    lse_d: the minimum mean distance (lower is better).
    offset_frames: shift of the best match; positive when the lips lag the sound (the video is late).
    offset_ms: the same in milliseconds (40 ms per frame).
    frames: the number of 5-frame windows scored.
    """

    lse_c: float
    lse_d: float
    offset_frames: int
    offset_ms: float
    frames: int


# ----------------------------------------------------------------------------------------------- the maths


def sync_distances(video_emb: torch.Tensor | np.ndarray, audio_emb: torch.Tensor | np.ndarray,
                   vshift: int = VSHIFT) -> np.ndarray:
    """(N, 2 * vshift + 1) float32: [i, k] = |video_i - audio_(i + k - vshift)| (audio past its ends is zero).

    video_emb: (N, D), audio_emb: (M, D). This is syncnet_python's ``calc_pdist`` (zero padding, and torch's
    ``pairwise_distance``, which adds eps = 1e-6 to the difference), for all windows at once.
    """
    if vshift < 0:
        raise ValueError(f"vshift must be >= 0, got {vshift}")
    v = torch.as_tensor(video_emb, dtype=torch.float32)
    a = torch.as_tensor(audio_emb, dtype=torch.float32)
    if v.ndim != 2 or a.ndim != 2 or v.shape[1] != a.shape[1] or len(v) == 0:
        raise ValueError(f"expected (N, D) and (M, D) embeddings, got {tuple(v.shape)} and {tuple(a.shape)}")
    n, m, win = len(v), len(a), 2 * vshift + 1
    padded = torch.nn.functional.pad(a, (0, 0, vshift, max(0, n + vshift - m)))
    shifted = padded.unfold(0, win, 1)[:n].transpose(1, 2)  # (N, win, D): row i holds audio i-vshift..i+vshift
    return torch.nn.functional.pairwise_distance(v[:, None, :], shifted).numpy()


def lse_from_distances(dists: np.ndarray, vshift: int = VSHIFT) -> SyncNetResult:
    """Scores from ``sync_distances`` output (N, 2 * vshift + 1): mean over windows, then min / median."""
    dists = np.asarray(dists, dtype=np.float64)
    if dists.ndim != 2 or dists.shape[1] != 2 * vshift + 1 or len(dists) == 0:
        raise ValueError(f"expected (N, {2 * vshift + 1}) distances, got {dists.shape}")
    mean = dists.mean(axis=0)
    best = int(np.argmin(mean))  # the first minimum, as torch.min
    offset = vshift - best
    # The window count is odd, so the median is the middle value (torch.median's choice too).
    return SyncNetResult(lse_c=float(np.median(mean) - mean[best]), lse_d=float(mean[best]), offset_frames=offset,
                         offset_ms=offset * 1000.0 / FPS, frames=len(dists))


# ----------------------------------------------------------------------------------------------- the crop


def _medfilt(x: np.ndarray, kernel: int) -> np.ndarray:
    """Median filter with zero padding at the ends, as ``scipy.signal.medfilt`` (which syncnet_python uses)."""
    half = kernel // 2
    padded = np.pad(x, half)
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, kernel), axis=-1)


def syncnet_boxes(bounds: np.ndarray) -> np.ndarray:
    """(T, 4) face boxes (x1, y1, x2, y2; NaN rows where no face) -> (T, 3) smoothed (cx, cy, half size).

    NaN rows are filled by linear interpolation (syncnet_python's ``interp1d`` over missed detections); the
    caller keeps frames from the first to the last face only, so there is never anything to extrapolate.
    """
    found = ~np.isnan(bounds).any(axis=1)
    t = np.arange(len(bounds))
    filled = np.stack([np.interp(t, t[found], bounds[found, j]) for j in range(4)], axis=1)
    x1, y1, x2, y2 = filled.T
    raw = np.stack([(x1 + x2) / 2, (y1 + y2) / 2, np.maximum(x2 - x1, y2 - y1) / 2], axis=1)
    return np.stack([_medfilt(raw[:, j], SMOOTH_KERNEL) for j in range(3)], axis=1)


def crop_syncnet_face(frame_bgr: np.ndarray, cx: float, cy: float, half: float) -> np.ndarray:
    """(224, 224, 3) uint8 BGR crop of ``frame_bgr`` by syncnet_python's rule, grey 110 outside the frame."""
    pad = int(half * (1 + 2 * CROP_SCALE))
    # Integer edges computed in the padded frame's coordinates (int() truncation as there), then shifted back,
    # so that no padded copy of the whole frame is needed.
    top = int(cy + pad - half) - pad
    bottom = int(cy + pad + half * (1 + 2 * CROP_SCALE)) - pad
    left = int(cx + pad - half * (1 + CROP_SCALE)) - pad
    right = int(cx + pad + half * (1 + CROP_SCALE)) - pad
    h, w = frame_bgr.shape[:2]
    y0, y1, x0, x1 = max(top, 0), min(bottom, h), max(left, 0), min(right, w)
    if y1 <= y0 or x1 <= x0 or bottom <= top or right <= left:
        return np.full((CROP, CROP, 3), PAD_VALUE, np.uint8)
    region = cv2.copyMakeBorder(frame_bgr[y0:y1, x0:x1], y0 - top, bottom - y1, x0 - left, right - x1,
                                cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return cv2.resize(region, (CROP, CROP))  # bilinear, cv2's default, as there


def _face_bounds(info: MediaInfo, progress: Progress) -> np.ndarray:
    """(T, 4) float64 mesh bounds per 25 fps frame of the video, NaN rows where no face was found."""
    rows = []
    with FaceAnalyzer(static_image_mode=False) as analyzer:
        for i, frame in enumerate(iter_frames(info)):
            lm = analyzer.analyze(frame)
            rows.append(lm.bounds() if lm is not None else (math.nan,) * 4)
            progress("syncnet faces", i + 1, max(info.n_frames, i + 1))
    return np.asarray(rows, dtype=np.float64)


# ----------------------------------------------------------------------------------------------- embeddings


def audio_mfcc(audio: np.ndarray) -> np.ndarray:
    """(n,) float32 16 kHz mono in [-1, 1] -> (13, T) float32 MFCC, T ~ n / 160.

    syncnet_python feeds the int16 samples of a wav, and the MFCC's energy term depends on the scale.
    """
    import python_speech_features  # lazy: only scoring needs it

    pcm = np.clip(np.round(audio.astype(np.float64) * 32768.0), -32768, 32767)
    return python_speech_features.mfcc(pcm, AUDIO_SAMPLE_RATE).T.astype(np.float32)


def _audio_embeddings(model: SyncNet, mfcc: np.ndarray, n: int, device: torch.device) -> torch.Tensor:
    """(n, 1024) float32 CPU: window i is MFCC steps 4i..4i+20, as (1, 13, 20)."""
    windows = np.stack([mfcc[:, MFCC_PER_FRAME * i: MFCC_PER_FRAME * i + MFCC_WINDOW] for i in range(n)])
    x = torch.from_numpy(windows)[:, None]
    return torch.cat([model.forward_aud(x[i: i + BATCH].to(device)).float().cpu() for i in range(0, n, BATCH)])


def _lip_windows(crops: Iterator[np.ndarray], n: int) -> Iterator[np.ndarray]:
    """(5, 224, 224, 3) uint8 windows 0..n-1 of consecutive crops, keeping only five crops in memory."""
    recent: deque[np.ndarray] = deque(maxlen=WINDOW)
    produced = 0
    for crop in crops:
        recent.append(crop)
        if len(recent) == WINDOW:
            yield np.stack(recent)
            produced += 1
            if produced == n:
                return


def _lip_embeddings(model: SyncNet, crops: Iterator[np.ndarray], n: int, device: torch.device,
                    progress: Progress) -> torch.Tensor:
    """(n, 1024) float32 CPU from batches of (B, 3, 5, 224, 224) BGR 0-255 windows."""
    out: list[torch.Tensor] = []
    batch: list[np.ndarray] = []
    done = 0
    for window in _lip_windows(crops, n):
        batch.append(window)
        if len(batch) == BATCH or done + len(batch) == n:
            x = torch.from_numpy(np.stack(batch)).permute(0, 4, 1, 2, 3).float()  # (B, 5, H, W, 3) -> (B, 3, 5, H, W)
            out.append(model.forward_lip(x.to(device)).float().cpu())
            done += len(batch)
            batch = []
            progress("syncnet", done, n)
    if done < n:
        raise InputError(f"The video ended after {done + WINDOW - 1} frames while {n + WINDOW - 1} were expected.",
                         "The file may be truncated; re-export it.")
    return torch.cat(out)


# ----------------------------------------------------------------------------------------------- one clip


def syncnet_score(video_path: str | os.PathLike[str], audio_path: str | os.PathLike[str] | None,
                  syncnet_path: str | os.PathLike[str] | SyncNet, vshift: int = VSHIFT,
                  device: str | torch.device = "cpu", progress: Progress = no_progress) -> SyncNetResult:
    """LSE-C / LSE-D of ``video_path`` against ``audio_path`` (None: the video's own sound track).

    ``syncnet_path``: the ``syncnet_v2.model`` file (see ``find_syncnet_weights``) or an already loaded SyncNet.
    The face is tracked through the clip; frames before its first and after its last appearance are not scored,
    and the audio is cut to the same span. fp32 on ``device``, under ``torch.inference_mode``.
    Raises NoFaceError when no frame has a face, InputError for unreadable media or a clip shorter than
    6 frames (0.24 s) of face and sound, SyncNetWeightsError for bad weights.
    """
    info = probe(video_path)
    audio = load_audio(info if audio_path is None else audio_path)
    model = syncnet_path if isinstance(syncnet_path, SyncNet) else load_syncnet(syncnet_path, device)
    dev = next(model.parameters()).device
    bounds = _face_bounds(info, progress)
    found = np.flatnonzero(~np.isnan(bounds).any(axis=1))
    if found.size == 0:
        raise NoFaceError(f"any frame of {info.path}")
    first, last = int(found[0]), int(found[-1])
    boxes = syncnet_boxes(bounds[first: last + 1])
    audio = audio[first * SAMPLES_PER_FRAME: (last + 1) * SAMPLES_PER_FRAME]
    min_length = min(len(boxes), len(audio) // SAMPLES_PER_FRAME)
    n = min_length - WINDOW  # syncnet_python's window count
    if n < 1:
        raise InputError(f"{info.path} has {min_length} frames of face with sound; SyncNet needs at least "
                         f"{WINDOW + 1} (0.24 s).", "Score a longer clip.")
    logger.info("SyncNet: %d windows, frames %d..%d, vshift %d", n, first, last, vshift)
    frames = iter_frames(info, start=first)
    crops = (crop_syncnet_face(frame, *box) for box, frame in zip(boxes, frames))
    try:
        with torch.inference_mode():
            audio_emb = _audio_embeddings(model, audio_mfcc(audio), n, dev)
            video_emb = _lip_embeddings(model, crops, n, dev, progress)
    finally:
        getattr(frames, "close", lambda: None)()  # stop ffmpeg now, not at garbage collection
    return lse_from_distances(sync_distances(video_emb, audio_emb, vshift), vshift)
