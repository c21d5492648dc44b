"""Which frames a strided renderer renders: cells of k frames one after the other, each rendering the middle one of
the slots that will show it (its centre when voiced), continuing from the last cell at the stride of now."""
from __future__ import annotations

from musetalk.live.cells import Cell, plan_cells


def voiced(*ranges: tuple[int, int]):
    return lambda f: any(a <= f < b for a, b in ranges)


def test_every_voiced_cell_renders_its_centre() -> None:
    plan = plan_cells(0, 10, lo=0, hi=100, count=4, wanted=voiced((0, 100)))
    assert plan.cells == [Cell(0, 10, 5), Cell(10, 20, 15), Cell(20, 30, 25), Cell(30, 40, 35)]
    assert plan.frames == [5, 15, 25, 35] and plan.next_first == 40 and plan.decided


def test_a_cell_with_quiet_slots_renders_the_middle_of_its_voiced_ones() -> None:
    # The cell 15..24 has its centre at 20. Speech stops at 18 and restarts at 23: 15..18 and 23..24 show it.
    plan = plan_cells(15, 10, lo=0, hi=100, count=1, wanted=voiced((0, 19), (23, 100)))
    assert plan.cells == [Cell(15, 25, 18)]
    # 15..17 and 23..24: the middle one is 17. A wholly quiet cell renders nothing and is passed.
    assert plan_cells(15, 10, 0, 100, 1, voiced((0, 18), (23, 100))).frames == [17]
    plan = plan_cells(15, 10, 0, 100, 2, voiced((0, 15), (25, 100)))
    assert plan.frames == [30, 40] and plan.next_first == 45


def test_speech_that_starts_after_the_centre_renders_the_middle_of_its_part() -> None:
    # Cell 0..19, centre 10; speech from 12 on: 0..11 show idle frames, 12..19 this render, so 16 is the middle.
    assert plan_cells(0, 20, 0, 100, 1, voiced((12, 100))).frames == [16]
    assert plan_cells(0, 20, 0, 100, 1, voiced((12, 14))).frames == [13]  # a short word
    assert plan_cells(0, 20, 0, 100, 1, voiced((3, 4), (12, 100))).frames == [15]  # a blip before: 3, 12..19
    assert not plan_cells(0, 20, 0, hi=16, count=1, wanted=voiced((12, 100))).decided  # waits for 16's audio


def test_cells_continue_edge_to_edge_at_a_new_stride() -> None:
    first = plan_cells(0, 10, 0, 1000, 2, voiced((0, 1000)))
    later = plan_cells(first.next_first, 13, 0, 1000, 2, voiced((0, 1000)))
    cells = first.cells + later.cells
    assert [c.frame for c in cells] == [5, 15, 26, 39]  # not 33 or 39: multiples of 13 from the start
    assert all(a.stop == b.first for a, b in zip(cells, cells[1:]))  # every frame in exactly one cell


def test_cells_wait_for_audio_that_decides_them() -> None:
    # 15..20 are quiet; 21..24 have not arrived and count as voiced: their middle one, 23, has no audio yet.
    plan = plan_cells(15, 10, 0, hi=21, count=2, wanted=voiced((0, 15), (21, 100)))
    assert plan.frames == [] and plan.next_first == 15 and not plan.decided
    # 15..19 voiced, 20 quiet, 21..24 to come: the middle one, 19, has arrived.
    plan = plan_cells(15, 10, 0, hi=21, count=2, wanted=voiced((0, 20)))
    assert plan.frames == [19] and plan.next_first == 25 and not plan.decided


def test_cells_that_can_no_longer_be_ready_are_passed_and_the_end_stops_planning() -> None:
    plan = plan_cells(0, 10, lo=37, hi=100, count=3, wanted=voiced((0, 100)))
    # Cells 0..29 are past; of cell 30..39 only 37..39 can still show a render in time, and 38 is their middle.
    assert plan.frames == [38, 45, 55]
    # The last cell is cut by the end (30..32 of 33 frames): it renders the centre of what is left.
    plan = plan_cells(0, 10, 0, hi=33, count=9, wanted=voiced((0, 33)), end=33)
    assert plan.frames == [5, 15, 25, 31] and plan.decided and plan.next_first == 40
