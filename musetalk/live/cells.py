"""Which frames of an utterance a renderer slower than real time renders, and which slots show each: stride cells.

At stride k the utterance's frames are cut into cells of k slots, one after the other from frame 0; each cell is
rendered once, at its centre (in a voiced cell), and all its voiced slots show that render. A picture is then shown
for exactly the slots of its cell, centred on its own slot, at any stride.
- The cells continue from the last cell planned, at the stride of now. Numbered from the utterance's start, a
  stride that changed from 108 to 111 moved the whole grid and left gaps of 141 frames between renders (full-size
  weights).
- A slot shows its own cell's render, not the nearest one: while the stride grew (94 -> 125 in 20 s, full size)
  the switch to the next picture came at the midpoint between two renders, which lies past the cell boundary by a
  quarter of the stride change, and the pictures ran 2.5 frames behind their audio.
- A cell with quiet slots renders the middle one of the slots that will show it (``_cell_target``): skipped when
  its centre was quiet, the voiced frames round it held a render a whole stride or more away.
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
    """The middle one of the slots that will show the cell's render: its wanted frames, counting those whose audio
    has not arrived as wanted (speech goes on), from the first that can still be ready (lo) to the cell's end.

    In a voiced cell that is its centre. Where speech starts late in the cell (the slots before show idle frames)
    it is the middle of the part from the onset: the onset's own frame was shown for the rest of the cell, 25
    frames behind its audio (full size, stride 107). Where speech stops before the centre it is the middle of what
    is known then: whether speech starts again later in the cell is known only from audio that arrives after the
    render must be ready."""
    stop = first + k if end is None else min(first + k, end)
    start, known = max(first, lo, 0), min(hi, stop)
    shown = [f for f in range(start, known) if wanted(f)] + list(range(max(known, start), stop))
    if not shown:
        return None
    f = shown[len(shown) // 2]
    return _UNDECIDED if f >= hi else f
