"""Time estimates: the lip-sync speed measured on this server, and what it means for a given speech.

``SpeedLog`` is fed by the progress bridge at the end of each lip-sync stage; the tabs turn it into a sentence
when speech is uploaded, before anything runs. No gradio here.
"""
from __future__ import annotations

import math
import threading

from ..config import FPS


def duration_text(seconds: float) -> str:
    """'40 s', '3 min'."""
    return f"{max(round(seconds), 1)} s" if seconds < 90 else f"{round(seconds / 60)} min"


class SpeedLog:
    """Frames per second of the recent lip-sync runs (a running mean that follows the newest run)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fps: float | None = None

    def record(self, frames: int, seconds: float) -> None:
        if frames <= 0 or seconds <= 0:
            return
        fps = frames / seconds
        with self._lock:
            self._fps = fps if self._fps is None else 0.5 * self._fps + 0.5 * fps

    @property
    def fps(self) -> float | None:
        return self._fps


def estimate_text(speech_seconds: float, fps: float | None) -> str:
    """What a run on ``speech_seconds`` of speech will take at the measured speed, as one sentence."""
    frames = math.floor(speech_seconds * FPS)
    if fps is None:
        return (f"{speech_seconds:.1f} s of speech: {frames} frames to make. The first run measures how fast this "
                "server is; later runs get a time estimate here.")
    return (f"{speech_seconds:.1f} s of speech: {frames} frames, about {duration_text(frames / fps)} here "
            f"(measured {fps:.1f} frames/s; the first run also loads the model).")
