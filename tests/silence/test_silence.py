"""Silence handling (musetalk/silence.py): which frames close, the ramps, the closed frame, and the result."""
from __future__ import annotations

import numpy as np
import pytest
from silence_helpers import identity_generate, speech_with_gaps

from musetalk.config import FPS, SilenceConfig, VadConfig
from musetalk.face.landmarks import FaceLandmarks
from musetalk.face.track import TrackedFace
from musetalk.score.report import score_video
from musetalk.silence import FADE_FRAMES, ClosedMouth, align, most_closed, silence_weights


def _tone_with_gap(gap_s: float) -> np.ndarray:
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 1500 * t)).astype(np.float32)
    return np.concatenate([tone, np.zeros(int(gap_s * 16000), np.float32), tone])


def test_weights_ramp_into_and_out_of_each_silence():
    w = silence_weights(_tone_with_gap(1.0), 75, SilenceConfig())
    (on,) = np.nonzero(w)
    assert on[0] in (25, 26) and on[-1] in (48, 49) and np.all(np.diff(on) == 1)  # the second 1..2, +-1 frame
    inside = w[on[0]:on[-1] + 1]
    ramp = [(k + 1) / (FADE_FRAMES + 1) for k in range(FADE_FRAMES)]
    assert np.allclose(inside[:FADE_FRAMES], ramp, atol=1e-6)
    assert np.allclose(inside[FADE_FRAMES:-FADE_FRAMES], 1.0)
    assert np.allclose(inside[-FADE_FRAMES:], ramp[::-1], atol=1e-6)


def test_keep_and_short_pauses_close_nothing():
    audio = _tone_with_gap(1.0)
    assert not silence_weights(audio, 75, SilenceConfig(mode="keep")).any()
    assert not silence_weights(_tone_with_gap(0.12), 53, SilenceConfig()).any()  # a pause between words
    assert not silence_weights(audio, 75, SilenceConfig(vad=VadConfig(min_silence_s=1.5))).any()


def test_most_closed_skips_frames_without_a_face():
    assert most_closed([0.03, np.nan, 0.004, 0.01]) == 2
    assert most_closed([np.nan, np.nan]) is None


def test_align_with_the_same_landmarks_is_the_frame_itself():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    points = (rng.random((468, 2)) * 120 + 40).astype(np.float32)
    lm = FaceLandmarks(points, (0, 0, 200, 200))
    box = (50, 60, 150, 170)
    patch = align(ClosedMouth(frame, lm, 0.0, 0), TrackedFace(lm, box), box)
    assert patch.shape == (110, 100, 3)
    assert np.abs(patch.astype(int) - frame[60:170, 50:150]).max() <= 1
    # the same face moved 7 px right and 3 down: the patch follows it
    moved = TrackedFace(FaceLandmarks(points + (7, 3), (0, 0, 200, 200)), box)
    shifted = align(ClosedMouth(frame, lm, 0.0, 0), moved, box)
    assert np.abs(shifted[10:, 10:].astype(int) - frame[57:167, 43:143][10:, 10:]).max() <= 1


@pytest.mark.slow
def test_silence_closes_the_mouth_the_source_opens(tiny_models, shared_data, tmp_path):
    """The identity model returns each frame's own face, so with "keep" the silent stretches show the speaker's
    real, moving mouth; with "close" they must show a mouth as closed as the chosen frame's."""
    clip = shared_data / "retalking_face3.mp4"
    audio = speech_with_gaps(shared_data / "retalking_audio1.wav", tmp_path / "gaps.wav")
    reports = {mode: score_video(identity_generate(tiny_models, clip, audio, tmp_path / f"{mode}.mp4", mode))
               for mode in ("close", "keep")}
    from musetalk.media import probe
    from musetalk.silence import CLOSED_MARGIN, scan_closed_mouth

    closed = scan_closed_mouth(probe(clip), shown=round(7.0 * FPS))  # the frames the 7 s output shows
    close, keep = reports["close"].silence, reports["keep"].silence
    assert close["silent_s"] >= 1.5
    assert close["opening_silent"] <= closed.opening + CLOSED_MARGIN
    assert close["opening_silent"] < keep["opening_silent"]
    assert close["opening_speech"] == pytest.approx(keep["opening_speech"], rel=0.15)  # speech is untouched
    assert reports["close"].frames == round(7.0 * FPS)


def test_the_scan_looks_only_at_the_frames_the_output_shows(shared_data):
    from musetalk.media import probe
    from musetalk.silence import scan_closed_mouth

    info = probe(shared_data / "retalking_face3.mp4")
    whole = scan_closed_mouth(info)
    assert whole is not None and whole.index > 3  # else the limit below would be no test
    short = scan_closed_mouth(info, shown=whole.index)  # the frames before the most closed one
    assert short is not None and short.index < whole.index
    assert short.opening >= whole.opening
