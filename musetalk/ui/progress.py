"""Bridge the library's ``progress(stage, done, total)`` callbacks to ``gr.Progress``."""
from __future__ import annotations

import gradio as gr

from ..config import Progress

STAGES = {
    "audio": ("Reading the audio", "steps"),
    "lip-sync": ("Lip-syncing", "frames"),
    "encode": ("Writing the video", "steps"),
    "prepare": ("Preparing the avatar", "frames"),
}


def bridge(progress: gr.Progress) -> Progress:
    """A library progress callback that shows e.g. "Lip-syncing: 24/100 frames" in the page."""

    def report(stage: str, done: int, total: int) -> None:
        label, unit = STAGES.get(stage, (stage.capitalize(), "steps"))
        total = max(total, 1)
        progress((min(done, total), total), desc=f"{label}: {done}/{total} {unit}", unit=unit)

    return report
