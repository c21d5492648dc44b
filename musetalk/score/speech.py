"""What the audio does at each video frame: speech-band energies, spectral change, and where it is silent.

All features are computed from a 25 ms STFT every 10 ms and averaged into video frames (frame i covers
[i / fps, (i + 1) / fps) s), so they line up with the mouth measures frame for frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musetalk.config import AUDIO_SAMPLE_RATE, FPS, VadConfig

_WIN, _HOP = 400, 160  # 25 ms and 10 ms at 16 kHz
_FLOOR_DB = 50.0  # energies are clipped this far below their loudest frame, so digital silence does not dominate


@dataclass
class SpeechTrack:
    """Per-frame audio features at ``fps``; each (N,) float64.

    level_db: 100 Hz-4 kHz level in dBFS (what the detector reads).
    mid_db, high_db: 1-4 kHz and 4-8 kHz log energies, clipped 50 dB below their peaks (what tracks the mouth:
        formant and frication energy rise as the mouth opens; voicing alone, below 1 kHz, does not need it open).
    flux: positive spectral change 300 Hz-4 kHz (articulation: it rises when the lips move).
    """

    level_db: np.ndarray
    mid_db: np.ndarray
    high_db: np.ndarray
    flux: np.ndarray
    fps: float

    def __len__(self) -> int:
        return int(self.level_db.size)

    def to_array(self) -> np.ndarray:
        """(N, 4) float32: level_db, mid_db, high_db, flux (how the trainer's dataset cache keeps it)."""
        return np.stack([self.level_db, self.mid_db, self.high_db, self.flux], axis=1).astype(np.float32)

    @classmethod
    def from_array(cls, rows: np.ndarray, fps: float = FPS) -> SpeechTrack:
        rows = np.asarray(rows, dtype=np.float64)
        return cls(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], fps)


def _per_frame(values: np.ndarray, frame_of: np.ndarray, n: int) -> np.ndarray:
    keep = frame_of < n
    total = np.zeros(n)
    count = np.zeros(n)
    np.add.at(total, frame_of[keep], values[keep])
    np.add.at(count, frame_of[keep], 1)
    return total / np.maximum(count, 1)


def _clipped_db(power: np.ndarray) -> np.ndarray:
    db = 10.0 * np.log10(power + 1e-12)
    return np.maximum(db, db.max() - _FLOOR_DB)


def speech_track(audio: np.ndarray, n_frames: int | None = None, fps: float = FPS,
                 sample_rate: int = AUDIO_SAMPLE_RATE) -> SpeechTrack:
    """(samples,) float32 mono in [-1, 1] -> SpeechTrack of ``n_frames`` (default: the audio's length) frames."""
    from scipy.signal import stft

    audio = np.asarray(audio, dtype=np.float64)
    if n_frames is None:
        n_frames = int(audio.size * fps // sample_rate)
    if audio.size < _WIN:
        audio = np.pad(audio, (0, _WIN - audio.size))
    freqs, times, spec = stft(audio, sample_rate, window="hann", nperseg=_WIN, noverlap=_WIN - _HOP,
                              boundary=None, padded=False)
    power = np.abs(spec) ** 2
    frame_of = np.floor(times * fps).astype(np.int64)

    def band(lo: float, hi: float) -> np.ndarray:
        return _per_frame(power[(freqs >= lo) & (freqs < hi)].sum(axis=0), frame_of, n_frames)

    # scipy's STFT gives a sine of amplitude A peak bins of A/2, spread over 1.5 bins by the Hann window:
    # x 8/3 makes a full-scale sine read 0 dBFS.
    level = 10.0 * np.log10(band(100, 4000) * 8.0 / 3.0 + 1e-12)
    log_spec = np.log(power[(freqs >= 300) & (freqs < 4000)] + 1e-10)
    log_spec = np.maximum(log_spec, log_spec.max() - 12.0)
    flux = np.concatenate([[0.0], np.maximum(np.diff(log_spec, axis=1), 0.0).sum(axis=0)])
    return SpeechTrack(level_db=level, mid_db=_clipped_db(band(1000, 4000)), high_db=_clipped_db(band(4000, 8001)),
                       flux=_per_frame(flux, frame_of, n_frames), fps=fps)


def silent_frames(track: SpeechTrack, cfg: VadConfig | None = None) -> np.ndarray:
    """(N,) bool: frames inside a silent stretch at least ``cfg.min_silence_s`` long."""
    cfg = cfg or VadConfig()
    level = track.level_db
    if level.size == 0:
        return np.zeros(0, dtype=bool)
    quiet = (level < np.percentile(level, 95) - cfg.threshold_db) | (level < -60.0)
    min_len = max(1, int(round(cfg.min_silence_s * track.fps)))
    out = np.zeros_like(quiet)
    for start, stop in _runs(quiet):
        if stop - start >= min_len:
            out[start:stop] = True
    return out


def silent_stretches(silent: np.ndarray, fps: float) -> list[tuple[float, float]]:
    """(N,) bool per frame -> [(start s, end s)] of each silent run."""
    return [(start / fps, stop / fps) for start, stop in _runs(silent)]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(start, stop)] index ranges where ``mask`` is True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))
