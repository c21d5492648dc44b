"""The mouth measures (score/mouth.py) and the audio features and silence detector (score/speech.py)."""
from __future__ import annotations

import numpy as np

from musetalk.score.mouth import INNER_LIP, fill_gaps, mouth_opening, mouth_track
from musetalk.config import VadConfig
from musetalk.score.speech import silent_frames, silent_stretches, speech_track


def _face(open_px: float, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    """(468, 2) landmarks: eye corners 100 px apart, the inner lip an ellipse 40 px wide and open_px tall."""
    pts = np.zeros((468, 2))
    pts[33], pts[263] = (50, 100), (150, 100)
    pts[1] = (100, 150)
    angles = np.linspace(0, 2 * np.pi, len(INNER_LIP), endpoint=False)
    for i, a in zip(INNER_LIP, angles):
        pts[i] = (100 + 20 * np.cos(a), 180 + open_px / 2 * np.sin(a))
    return pts * scale + shift


def test_opening_grows_with_the_mouth_and_ignores_face_size_and_position():
    closed, half, wide = (mouth_opening(_face(h)) for h in (0.0, 10.0, 30.0))
    assert closed < 1e-9 < half < wide
    # an ellipse of semi-axes 20 x 15 has area pi*300 (the 20-gon a little less); / 100 px eye distance squared
    assert abs(wide - np.pi * 300 / 100**2) / wide < 0.05
    assert np.isclose(mouth_opening(_face(30.0, scale=2.5, shift=40.0)), wide)


def test_speed_is_lip_motion_relative_to_the_nose():
    frames = np.stack([_face(10.0), _face(10.0, shift=30.0), _face(20.0, shift=30.0)])
    track = mouth_track(frames)
    assert track.speed[0] == 0.0 and abs(track.speed[1]) < 1e-9  # the whole head moved: the lips did not
    assert track.speed[2] > 0.0


def test_frames_without_a_face_are_nan_and_gaps_are_filled():
    frames = np.stack([_face(10.0), np.full((468, 2), np.nan), _face(30.0)])
    track = mouth_track(frames)
    assert track.found.tolist() == [True, False, True]
    filled = fill_gaps(track.opening)
    assert np.isclose(filled[1], (filled[0] + filled[2]) / 2)


def _tone(seconds: float, amp: float = 0.5, freq: float = 1500.0) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_level_reads_dbfs_and_frames_follow_the_audio_length():
    track = speech_track(_tone(1.0, amp=1.0))
    assert len(track) == 25
    assert np.allclose(track.level_db[1:-1], 0.0, atol=0.2)
    assert np.allclose(speech_track(_tone(1.0, amp=0.1)).level_db[1:-1], -20.0, atol=0.2)


def test_silence_needs_a_minimum_length():
    audio = np.concatenate([_tone(1.0), np.zeros(8000, np.float32), _tone(1.0), np.zeros(1600, np.float32),
                            _tone(1.0)])
    silent = silent_frames(speech_track(audio), VadConfig(min_silence_s=0.2))
    stretches = silent_stretches(silent, 25)
    assert len(stretches) == 1  # the 0.1 s gap is a pause between words, not silence
    start, end = stretches[0]
    assert abs(start - 1.0) <= 0.041 and abs(end - 1.5) <= 0.041  # one frame
    assert not silent_frames(speech_track(audio), VadConfig(min_silence_s=0.6)).any()
