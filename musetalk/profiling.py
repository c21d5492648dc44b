"""Per-stage wall time, accumulated from any thread; off (one ContextVar read per stage) unless activated.

``python -m musetalk bench`` activates a ``StageTimes`` around a run; the pipeline's threads record into it.
Timers never synchronise a GPU on their own: with ``sync`` set (bench asks for it) a stage ends with
``torch.cuda.synchronize()`` so that its time is the GPU's, at the price of stalling the pipeline there.
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_ACTIVE: contextvars.ContextVar[StageTimes | None] = contextvars.ContextVar("musetalk_stage_times", default=None)


class StageTimes:
    """stage name -> (seconds, items). Threads add with a lock; reading is for after the run."""

    def __init__(self, sync_cuda: bool = False) -> None:
        self.sync_cuda = sync_cuda
        self.seconds: dict[str, float] = {}
        self.items: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float, items: int = 1) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
            self.items[stage] = self.items.get(stage, 0) + items

    @contextlib.contextmanager
    def activate(self) -> Iterator[StageTimes]:
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)


def current() -> StageTimes | None:
    """The active StageTimes of this context (threads get it passed in: see ``bind``)."""
    return _ACTIVE.get()


def bind(times: StageTimes | None) -> None:
    """Make ``times`` active in the calling (worker) thread, whose context starts empty."""
    _ACTIVE.set(times)


@contextlib.contextmanager
def stage(name: str, items: int = 1, device: object = None) -> Iterator[None]:
    """Time the block as ``items`` units of ``name``. device: a torch.device to sync when the timer asks."""
    times = _ACTIVE.get()
    if times is None:
        yield
        return
    t0 = time.perf_counter()
    yield
    if times.sync_cuda and getattr(device, "type", None) == "cuda":
        import torch

        torch.cuda.synchronize(device)
    times.add(name, time.perf_counter() - t0, items)


def timed_iter(name: str, iterable: Iterable[T]) -> Iterator[T]:
    """Yield from ``iterable``, timing each ``next()`` as one unit of ``name`` (e.g. video decode)."""
    times = _ACTIVE.get()
    if times is None:
        yield from iterable
        return
    it = iter(iterable)
    try:
        while True:
            t0 = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                return
            times.add(name, time.perf_counter() - t0)
            yield item
    finally:  # closing early must close the source too (an ffmpeg reader stops its process)
        close = getattr(it, "close", None)
        if close is not None:
            close()
