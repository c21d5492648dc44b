"""Stand-ins and helpers for the live engine's tests: instant windows, a slow stub renderer, a fast clock, and
the offset of recorded frames against the offline frames of the same avatar and audio."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from odd_media import StubRenderer

from musetalk.models.audio import frame_count


class InstantWindows:
    """StreamingWindows' interface with zero windows and no Whisper: frame i is available once the audio
    reaches the end of frame i + 2 (all of them after finish)."""

    def __init__(self) -> None:
        self.n_samples, self.finished, self.asked = 0, False, []

    def push(self, pcm: np.ndarray) -> None:
        self.n_samples += len(pcm)

    def finish(self) -> None:
        self.finished = True

    @property
    def available(self) -> int:
        n = frame_count(self.n_samples)
        return n if self.finished else max(n - 2, 0)

    def windows(self, frames) -> torch.Tensor:
        frames = list(frames)
        assert all(0 <= f < self.available for f in frames), (frames, self.available)
        self.asked += frames
        return torch.zeros(len(frames), 50, 384)


class SlowStub(StubRenderer):
    """The stub renderer taking ``seconds`` per call (a model slower than real time)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def render(self, latents, windows):
        time.sleep(self.seconds)
        return super().render(latents, windows)


def nearest_offline(recorded: list[np.ndarray], offline: list[np.ndarray], search: int = 40) -> list[int]:
    """For each recorded frame i, the offline frame index (within +-search of i) it equals or is nearest to
    (mean absolute difference): offset[i] = that index - i is the A/V offset in frames, measured from the output."""
    offsets = []
    for i, frame in enumerate(recorded):
        lo, hi = max(0, i - search), min(len(offline), i + search + 1)
        diffs = [np.abs(frame.astype(np.int16) - offline[j].astype(np.int16)).mean() for j in range(lo, hi)]
        offsets.append(lo + int(np.argmin(diffs)) - i)
    return offsets


def avatar_with(renderer, tiny_models, root: Path):
    """The avatar at ``root`` on a pipeline whose renderer is ``renderer`` (a stub: no model work)."""
    from musetalk.avatar import Avatar
    from musetalk.pipeline import LipSyncPipeline

    pipe = LipSyncPipeline(tiny_models)
    pipe.renderer = renderer
    return Avatar.load(pipe, root)
