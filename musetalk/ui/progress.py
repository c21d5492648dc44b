"""Bridge the library's ``progress(stage, done, total)`` callbacks to ``gr.Progress``, with a remaining-time guess
and the Cancel check."""
from __future__ import annotations

import threading
import time

import gradio as gr

from ..config import Progress
from .estimate import SpeedLog
from .jobs import checked

STAGES = {
    "audio": ("Reading the audio", "steps"),
    "lip-sync": ("Lip-syncing", "frames"),
    "encode": ("Writing the video", "steps"),
    "prepare": ("Preparing the avatar", "frames"),
}
ETA_AFTER_S = 1.0  # a rate measured over less than this is noise (the first batch includes warm-up)


def remaining_text(seconds: float) -> str:
    """'about 40 s left', 'about 3 min left'."""
    if seconds < 90:
        return f"about {max(round(seconds), 1)} s left"
    return f"about {round(seconds / 60)} min left"


def bridge(progress: gr.Progress, cancel: threading.Event | None = None,
           speed: SpeedLog | None = None) -> Progress:
    """A library progress callback that shows e.g. "Lip-syncing: 24/100 frames · about 40 s left" in the page;
    with ``cancel``, it raises JobCancelled at the first report after the event is set; with ``speed``, a finished
    lip-sync stage records its frames per second there (for the estimates before the next run)."""
    started: dict[str, tuple[float, int]] = {}  # stage -> (time and count of its first report)

    def report(stage: str, done: int, total: int) -> None:
        label, unit = STAGES.get(stage, (stage.capitalize(), "steps"))
        total = max(total, 1)
        now = time.monotonic()
        t0, d0 = started.setdefault(stage, (now, done))
        left = ""
        if now - t0 >= ETA_AFTER_S and done > d0:
            left = " · " + remaining_text((now - t0) / (done - d0) * (total - done))
        if speed is not None and stage == "lip-sync" and done >= total:
            speed.record(done - d0, now - t0)
        progress((min(done, total), total), desc=f"{label}: {done}/{total} {unit}{left}", unit=unit)

    return report if cancel is None else checked(report, cancel)
