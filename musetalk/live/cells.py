"""Which frames of an utterance a renderer slower than real time renders: one per stride cell.

At stride k the utterance's frames are cut into cells of k, each centred on a grid frame; the frames of a cell show
its one render (the engine holds the nearest render), so a frame's picture is at most about k/2 frames from its own.
The grid continues from the last cell planned, at the stride of now: numbered from the utterance's start, a stride
that changed from 108 to 111 moved the whole grid and left gaps of 141 frames between renders (full-size weights).
A cell whose centre is quiet renders its nearest wanted frame instead: skipped, the voiced frames round it held a
render a whole stride or more away.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class CellPlan:
    frames: list[int]  # utterance frames to render, one per cell, in order
    next_grid: int  # the centre of the first cell not planned yet
    decided: bool  # False: planning stopped at a cell whose render depends on audio still to come


def plan_cells(next_grid: int, stride: int, lo: int, hi: int, count: int, wanted: Callable[[int], bool],
               end: int | None = None) -> CellPlan:
    """Up to ``count`` frames to render, from the cell centred on ``next_grid`` on.

    lo: the first frame whose render can still be ready in time (cells wholly before it are passed over);
    hi: one past the last frame whose audio has arrived (and that the renderer may go to);
    wanted(f): frame f is to be rendered (a face, not quiet, not rendered yet);
    end: the utterance's frame count once it is complete, else None."""
    k = max(int(stride), 1)
    frames: list[int] = []
    g = next_grid
    while len(frames) < count:
        first = g - k // 2
        if end is not None and first >= end:
            break
        if first + k <= lo:
            g += k
            continue
        target = _cell_target(g, first, k, lo, hi, wanted, end)
        if target is _UNDECIDED:
            return CellPlan(frames, g, False)
        if target is not None:
            frames.append(target)
        g += k
    return CellPlan(frames, g, True)


_UNDECIDED = object()


def _cell_target(g: int, first: int, k: int, lo: int, hi: int, wanted: Callable[[int], bool],
                 end: int | None) -> int | None | object:
    """g, else the wanted frame of the cell nearest to it (the earlier one on a tie: it is ready sooner)."""
    start = max(first, lo, 0)
    stop = first + k if end is None else min(first + k, end)
    for d in range(k):
        for f in (g - d, g + d) if d else (g,):
            if not start <= f < stop:
                continue
            if f >= hi:
                return _UNDECIDED
            if wanted(f):
                return f
    return None
