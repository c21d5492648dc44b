"""Which frames of an utterance a renderer slower than real time renders, and which slots show each: stride cells.

At stride k the utterance's frames are cut into cells of k slots, one after the other from frame 0; each cell is
rendered once, at its centre, and all its slots show that render. A picture is then shown for exactly the slots of
its cell, centred on its own slot, at any stride.
- The cells continue from the last cell planned, at the stride of now. Numbered from the utterance's start, a
  stride that changed from 108 to 111 moved the whole grid and left gaps of 141 frames between renders (full-size
  weights).
- A slot shows its own cell's render, not the nearest one: while the stride grew (94 -> 125 in 20 s, full size)
  the switch to the next picture came at the midpoint between two renders, which lies past the cell boundary by a
  quarter of the stride change, and the pictures ran 2.5 frames behind their audio.
- A cell whose centre is quiet renders its nearest wanted frame instead (skipped, the voiced frames round it held
  a render a whole stride or more away), or the middle of the speech that starts after its centre.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    first: int  # the cell is utterance frames first..stop-1
    stop: int
    frame: int  # the one frame rendered, which all of them show


@dataclass
class CellPlan:
    cells: list[Cell]  # up to count cells with a frame to render, in order
    next_first: int  # the first frame of the first cell not planned yet
    decided: bool  # False: planning stopped at a cell whose render depends on audio still to come

    @property
    def frames(self) -> list[int]:
        return [c.frame for c in self.cells]


def plan_cells(next_first: int, stride: int, lo: int, hi: int, count: int, wanted: Callable[[int], bool],
               end: int | None = None) -> CellPlan:
    """Up to ``count`` cells to render, from the cell starting at ``next_first`` on.

    lo: the first frame whose render can still be ready in time (cells wholly before it are passed over);
    hi: one past the last frame whose audio has arrived (and that the renderer may go to);
    wanted(f): frame f is to be rendered (a face, not quiet, not rendered yet);
    end: the utterance's frame count once it is complete, else None."""
    k = max(int(stride), 1)
    cells: list[Cell] = []
    first = next_first
    while len(cells) < count:
        if end is not None and first >= end:
            break
        if first + k <= lo:
            first += k
            continue
        target = _cell_target(first, k, lo, hi, wanted, end)
        if target is _UNDECIDED:
            return CellPlan(cells, first, False)
        if target is not None:
            cells.append(Cell(first, first + k, target))
        first += k
    return CellPlan(cells, first, True)


_UNDECIDED = object()


def _cell_target(first: int, k: int, lo: int, hi: int, wanted: Callable[[int], bool],
                 end: int | None) -> int | None | object:
    """The frame in the middle of the slots that will show the cell's render.

    That is the cell's centre (of the part before the end, once the end is known), else its wanted frame nearest
    to the centre (the earlier one on a tie: it is ready sooner). Where that frame is after the centre and the
    slots before it show something else (idle frames before an onset of speech, or the last render where a render
    can no longer be ready in time), the render is the middle of the part from it on, if that is voiced: the
    onset's own frame was shown for the rest of the cell, 25 frames behind its audio (full size, stride 107).
    Where speech stops before the centre the nearest frame stays: whether it starts again later in the cell is
    known only from audio that arrives after the render must be ready."""
    stop = first + k if end is None else min(first + k, end)
    start = max(first, lo, 0)
    g = first + (stop - first) // 2
    f = _nearest_wanted(g, start, stop, hi, wanted)
    if f is None or f is _UNDECIDED or f <= g or any(wanted(x) for x in range(start, f)):
        return f
    m = f + (stop - f) // 2
    if m >= hi:
        return _UNDECIDED
    return m if wanted(m) else f


def _nearest_wanted(g: int, start: int, stop: int, hi: int, wanted: Callable[[int], bool]) -> int | None | object:
    for d in range(stop - min(start, g) + 1):
        for f in (g - d, g + d) if d else (g,):
            if not start <= f < stop:
                continue
            if f >= hi:
                return _UNDECIDED
            if wanted(f):
                return f
    return None
