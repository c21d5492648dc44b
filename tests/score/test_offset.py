"""The offline offset finder (score/offset.py) on signals whose offset is known."""
from __future__ import annotations

import numpy as np
import pytest

from musetalk.score.mouth import MouthTrack
from musetalk.score.offset import SyncConfig, estimate_sync, lag_curve
from musetalk.score.speech import SpeechTrack


def _smooth_noise(rng: np.random.Generator, n: int, width: int = 5) -> np.ndarray:
    return np.convolve(rng.standard_normal(n + width), np.ones(width) / width, mode="valid")[:n]


def _pair(n: int, lag: int, seed: int = 0, noise: float = 0.5, related: bool = True, width: int = 5):
    """Mouth measures and audio features where audio[t + lag] follows mouth[t] (lag > 0: audio late)."""
    rng = np.random.default_rng(seed)
    opening = _smooth_noise(rng, n + 40, width)
    speed = np.abs(np.diff(opening, prepend=opening[0]))
    if not related:
        opening, speed = _smooth_noise(rng, n + 40), np.abs(_smooth_noise(rng, n + 40))

    def audio(x: np.ndarray) -> np.ndarray:
        return np.roll(x, lag)[20:20 + n] + noise * rng.standard_normal(n)

    mouth = MouthTrack(opening=opening[20:20 + n].copy(), speed=speed[20:20 + n].copy())
    if not related:
        opening, speed = _smooth_noise(rng, n + 40), np.abs(_smooth_noise(rng, n + 40))
    speech = SpeechTrack(level_db=np.zeros(n), mid_db=audio(opening), high_db=audio(opening), flux=audio(speed),
                         fps=25.0)
    return mouth, speech


def test_lag_curve_peaks_at_the_lag():
    x = np.sin(np.arange(200) / 3.0) + np.random.default_rng(1).standard_normal(200) * 0.1
    curve = lag_curve(x, np.roll(x, 4), 10)
    assert int(np.argmax(curve)) - 10 == 4


@pytest.mark.parametrize("lag", [-10, -5, -3, 0, 3, 5, 10])
def test_a_known_offset_is_found_and_confident(lag: int):
    est = estimate_sync(*_pair(250, lag, seed=lag + 20))
    assert est.confident, est.reason
    assert abs(est.offset_ms - lag * 40) <= 20
    assert est.offset_frames == lag
    assert est.sync_score > 0.3 and est.confidence >= 4.0


def test_unrelated_signals_are_not_confident():
    results = [estimate_sync(*_pair(250, 0, seed=s, related=False)) for s in range(10)]
    assert not any(r.confident for r in results)
    assert all(r.reason for r in results)


def test_a_short_clip_is_never_confident():
    est = estimate_sync(*_pair(50, 2, seed=3, noise=0.01))
    assert not est.confident and "needed" in est.reason


def test_a_peak_at_the_edge_of_the_range_is_not_an_offset():
    est = estimate_sync(*_pair(250, 10, seed=4, noise=0.05, width=9), SyncConfig(max_shift=8))
    assert not est.confident and "edge" in est.reason


def test_frames_without_a_face_count_against_the_length():
    mouth, speech = _pair(250, 2, seed=5)
    mouth.opening[:200] = np.nan
    est = estimate_sync(mouth, speech)
    assert not est.confident and "2.0 s with a face" in est.reason
