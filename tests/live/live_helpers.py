"""Stand-ins and helpers for the live engine's tests: instant windows, a slow stub renderer, an avatar on a stub
pipeline, and the A/V offset of recorded frames measured against the offline frames of the same avatar and audio."""
from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from pathlib import Path

import cv2
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


def nearest_offline(recorded: Iterable[np.ndarray], offline: Iterable[np.ndarray], search: int = 40,
                    scale: int = 4, ignore: tuple[int, int, int, int] | None = None) -> list[int]:
    """For each recorded frame i, the offline frame index (within +-search of i) it equals or is nearest to (mean
    absolute difference of the frames shrunk ``scale`` times, which keeps the loop position and the mouth):
    offset[i] = that index - i is the A/V offset in frames, measured from the output. Streams both (a minute of
    full frames need not fit in memory).

    ignore: an (x1, y1, x2, y2) box left out of the comparison (the face): then the match is by loop position,
    i.e. which slot's frame is shown, even where the rendered mouths differ from offline (streamed windows, idle).
    """
    def small(frame: np.ndarray) -> np.ndarray:
        if ignore is not None:
            frame = frame.copy()
            frame[ignore[1] : ignore[3], ignore[0] : ignore[2]] = 0
        h, w = frame.shape[:2]
        return cv2.resize(frame, (max(w // scale, 1), max(h // scale, 1)), interpolation=cv2.INTER_AREA).astype(np.int16)

    source, window, loaded, offsets = iter(offline), {}, 0, []
    for i, frame in enumerate(recorded):
        for got in itertools.islice(source, max(i + search + 1 - loaded, 0)):
            window[loaded] = small(got)
            loaded += 1
        for j in [j for j in window if j < i - search]:
            del window[j]
        if not window:
            break
        probe = small(frame)
        offsets.append(min(window, key=lambda j: (np.abs(probe - window[j]).mean(), abs(j - i))) - i)
    return offsets


def avatar_with(renderer, tiny_models, root: Path):
    """The avatar at ``root`` on a pipeline whose renderer is ``renderer`` (a stub: no model work)."""
    from musetalk.avatar import Avatar
    from musetalk.pipeline import LipSyncPipeline

    pipe = LipSyncPipeline(tiny_models)
    pipe.renderer = renderer
    return Avatar.load(pipe, root)
