"""The offline sync score and A/V offset finder: lip motion against speech, with no model weights.

Three pairings of a mouth measure with an audio feature are each high-passed (a 13-frame moving average is
removed, so slow drifts of pose and loudness do not count) and cross-correlated (Pearson) over offsets of
-max_shift..+max_shift frames:

- mouth opening  vs 1-4 kHz energy (formant energy rises as the mouth opens),
- mouth opening  vs 4-8 kHz energy (frication),
- lip speed      vs spectral flux (the sound changes when the lips move).

The mean of the three curves is the sync curve. Its peak is the offset (refined between frames with a parabola)
and the peak's height is the sync score. The confidence is how far that peak stands above what the same two
signals give when they are unrelated: the correlations at circular shifts of at least 1.5 s, whose mean and spread
form the null. A peak below ``min_confidence`` of those spreads, at the edge of the range, or in too short a clip
is reported as "not confident" instead of as an offset. The thresholds were set on the shared clips; the numbers
behind them are in the README.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from musetalk.score.mouth import MouthTrack, fill_gaps
from musetalk.score.speech import SpeechTrack

HIGHPASS_FRAMES = 13
NULL_MIN_SHIFT_S = 1.5


@dataclass
class SyncConfig:
    """max_shift: the offset range in frames either way (15 = +-600 ms at 25 fps).
    min_confidence: peak height over the null, in null standard deviations, to call the offset confident.
    min_seconds: shorter clips (with a face) are never confident.
    """

    max_shift: int = 15
    min_confidence: float = 4.0
    min_seconds: float = 3.0


@dataclass
class SyncEstimate:
    """offset_ms > 0: the audio comes late (sound after the lips); move it earlier by that much to fix it.

    sync_score: peak mean correlation, in [-1, 1] (higher is better synced lips, at the best offset).
    sync_at_zero: the mean correlation at offset 0, as the file plays.
    confidence: peak height over the null, in null standard deviations.
    confident: whether ``offset_ms`` is trustworthy; ``reason`` says why not when it is not.
    curve: (2 * max_shift + 1,) the sync curve, offsets -max_shift..+max_shift frames.
    """

    offset_ms: float
    offset_frames: int
    sync_score: float
    sync_at_zero: float
    confidence: float
    confident: bool
    reason: str
    fps: float
    curve: list[float] = field(repr=False, default_factory=list)

    def summary(self) -> str:
        if self.confident:
            where = "in sync" if abs(self.offset_ms) < 1000 / self.fps / 2 else (
                f"audio {abs(self.offset_ms):.0f} ms {'late' if self.offset_ms > 0 else 'early'}")
            return f"sync {self.sync_score:.3f}, offset {self.offset_ms:+.0f} ms ({where}), " \
                   f"confidence {self.confidence:.1f}"
        return f"sync {self.sync_score:.3f}, offset not confident ({self.reason})"


def _highpass(x: np.ndarray, k: int = HIGHPASS_FRAMES) -> np.ndarray:
    if x.size <= k:
        return x - x.mean()
    padded = np.pad(x, (k // 2, k // 2), mode="reflect")
    return x - np.convolve(padded, np.ones(k) / k, mode="valid")


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean()
    y = y - y.mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 0 else 0.0


def lag_curve(video: np.ndarray, audio: np.ndarray, max_shift: int) -> np.ndarray:
    """(N,), (N,) -> (2 * max_shift + 1,) Pearson r of video[t] with audio[t + lag], lag = -max_shift..max_shift."""
    n = min(video.size, audio.size)
    out = np.zeros(2 * max_shift + 1)
    for i, lag in enumerate(range(-max_shift, max_shift + 1)):
        if n - abs(lag) < 3:
            continue
        out[i] = _pearson(video[:n - lag], audio[lag:n]) if lag >= 0 else _pearson(video[-lag:n], audio[:n + lag])
    return out


def null_correlations(video: np.ndarray, audio: np.ndarray, min_shift: int) -> np.ndarray:
    """Pearson r at every circular shift of at least ``min_shift`` frames either way: unrelated alignments."""
    n = min(video.size, audio.size)
    return np.array([_pearson(video[:n], np.roll(audio[:n], s)) for s in range(min_shift, n - min_shift + 1)])


def _pairs(mouth: MouthTrack, speech: SpeechTrack) -> list[tuple[np.ndarray, np.ndarray]]:
    opening = _highpass(fill_gaps(mouth.opening))
    speed = _highpass(fill_gaps(mouth.speed))
    return [(opening, _highpass(speech.mid_db)), (opening, _highpass(speech.high_db)),
            (speed, _highpass(speech.flux))]


def _refine(curve: np.ndarray, k: int) -> float:
    """Sub-frame peak position by a parabola through the peak and its neighbours."""
    if 0 < k < curve.size - 1:
        a, b, c = curve[k - 1], curve[k], curve[k + 1]
        den = a - 2 * b + c
        if den < 0:
            return k + float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    return float(k)


def estimate_sync(mouth: MouthTrack, speech: SpeechTrack, cfg: SyncConfig | None = None) -> SyncEstimate:
    """Mouth measures and audio features of the same clip (same fps) -> SyncEstimate."""
    cfg = cfg or SyncConfig()
    fps = speech.fps
    n = min(len(mouth), len(speech))
    faces = int(mouth.found[:n].sum())
    empty = SyncEstimate(0.0, 0, 0.0, 0.0, 0.0, False, "", fps, [0.0] * (2 * cfg.max_shift + 1))
    if faces < 2 * HIGHPASS_FRAMES:
        empty.reason = f"only {faces / fps:.1f} s with a face"
        return empty
    mouth = MouthTrack(mouth.opening[:n], mouth.speed[:n])
    speech = SpeechTrack(speech.level_db[:n], speech.mid_db[:n], speech.high_db[:n], speech.flux[:n], fps)
    pairs = _pairs(mouth, speech)
    curve = np.mean([lag_curve(v, a, cfg.max_shift) for v, a in pairs], axis=0)
    min_shift = int(round(NULL_MIN_SHIFT_S * fps))
    null = np.mean([null_correlations(v, a, min_shift) for v, a in pairs], axis=0) if n > 2 * min_shift + 10 else None
    k = int(np.argmax(curve))
    peak = float(curve[k])
    confidence = float((peak - null.mean()) / max(null.std(), 1e-6)) if null is not None else 0.0
    offset = (_refine(curve, k) - cfg.max_shift) * 1000.0 / fps
    reason = ""
    if faces / fps < cfg.min_seconds:
        reason = f"only {faces / fps:.1f} s with a face, {cfg.min_seconds:.0f} s needed"
    elif k in (0, curve.size - 1):
        reason = f"the best match is at the edge of the +-{cfg.max_shift * 1000 / fps:.0f} ms range"
    elif confidence < cfg.min_confidence:
        reason = f"confidence {confidence:.1f} < {cfg.min_confidence:.1f}"
    return SyncEstimate(offset_ms=round(offset, 1), offset_frames=k - cfg.max_shift, sync_score=round(peak, 4),
                        sync_at_zero=round(float(curve[cfg.max_shift]), 4), confidence=round(confidence, 2),
                        confident=not reason, reason=reason, fps=fps, curve=[round(float(c), 4) for c in curve])
