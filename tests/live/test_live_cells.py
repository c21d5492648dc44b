"""Which frames a strided renderer renders: one per cell, the cell's nearest wanted frame to its centre, the grid
continuing from the last cell at the stride of now."""
from __future__ import annotations

from musetalk.live.cells import plan_cells


def voiced(*ranges: tuple[int, int]):
    return lambda f: any(a <= f < b for a, b in ranges)


def test_every_voiced_cell_renders_its_centre() -> None:
    plan = plan_cells(0, 10, lo=0, hi=100, count=4, wanted=voiced((0, 100)))
    assert plan.frames == [0, 10, 20, 30] and plan.next_grid == 40 and plan.decided


def test_a_quiet_centre_renders_the_nearest_voiced_frame_of_its_cell() -> None:
    # Cell of 20 is frames 15..24. Speech stops at 18 and restarts at 23: 18 is 2 away, 23 is 3 away.
    plan = plan_cells(20, 10, lo=0, hi=100, count=1, wanted=voiced((0, 19), (23, 100)))
    assert plan.frames == [18]
    # A tie goes to the earlier frame (ready sooner); a wholly quiet cell renders nothing and is passed.
    assert plan_cells(20, 10, 0, 100, 1, voiced((0, 18), (23, 100))).frames == [17]
    plan = plan_cells(20, 10, 0, 100, 2, voiced((0, 15), (25, 100)))
    assert plan.frames == [30, 40] and plan.next_grid == 50


def test_the_grid_continues_at_a_new_stride() -> None:
    first = plan_cells(0, 10, 0, 1000, 2, voiced((0, 1000)))
    later = plan_cells(first.next_grid, 13, 0, 1000, 2, voiced((0, 1000)))
    assert first.frames + later.frames == [0, 10, 20, 33]  # not 26 and 39: multiples of 13 from the start


def test_cells_wait_for_audio_that_decides_them() -> None:
    # Centre 20 has arrived but is quiet; 21, the nearest after it, has not: the cell cannot be chosen yet.
    plan = plan_cells(20, 10, 0, hi=21, count=2, wanted=voiced((0, 15), (21, 100)))
    assert plan.frames == [] and plan.next_grid == 20 and not plan.decided
    # ...while a voiced frame nearer than the missing audio decides it.
    plan = plan_cells(20, 10, 0, hi=21, count=2, wanted=voiced((0, 20)))
    assert plan.frames == [19] and plan.next_grid == 30 and not plan.decided


def test_cells_that_can_no_longer_be_ready_are_passed_and_the_end_stops_planning() -> None:
    plan = plan_cells(0, 10, lo=32, hi=100, count=3, wanted=voiced((0, 100)))
    assert plan.frames == [32, 40, 50]  # cells 0..20 are past; of cell 30 (25..34) only 32.. can still be ready
    # The last cell (35..44) holds only frame 35 of the 36; planning stops after it.
    plan = plan_cells(0, 10, 0, hi=36, count=9, wanted=voiced((0, 36)), end=36)
    assert plan.frames == [0, 10, 20, 30, 35] and plan.decided and plan.next_grid == 50
