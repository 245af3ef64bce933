"""The GNN schedule (``rows_plan``): steps per region, lane-major row assignment, the distinct words of a
lane's table multiplexer and the lanes and step masks of a streamed segment sum."""

from __future__ import annotations

import math

import pytest

from l1ml.backends.verilog.rows_plan import (
    Region,
    lane_row,
    lane_words,
    region_steps,
    region_valid,
    stream_lanes,
    stream_valid,
)


@pytest.mark.parametrize("reuse", [1, 2, 7, 26, 32, 64, 104])
@pytest.mark.parametrize("rows", [1, 3, 72, 144, 416, 1664])
def test_steps_are_ceil_r_sqrt_rows_over_largest(rows, reuse):
    largest = 1664
    s = region_steps(rows, largest, reuse)
    want = min(math.ceil(reuse * math.sqrt(rows / largest) - 1e-12), reuse, rows)
    assert s == max(1, want)
    assert region_steps(largest, largest, reuse) == min(reuse, largest)  # the largest region runs R steps


def test_steps_reject_nonsense():
    with pytest.raises(ValueError):
        region_steps(10, 5, 4)
    with pytest.raises(ValueError):
        region_steps(10, 20, 0)


def test_small_region_gets_fewer_steps_and_more_lanes():
    edges = Region(1, 416, ("e",), (), (), 416)
    nodes = Region(0, 72, ("n",), (), (), 416)
    assert (edges.steps(26), edges.lanes(26)) == (26, 16)
    assert (nodes.steps(26), nodes.lanes(26), nodes.last_step(26)) == (11, 7, 10)
    assert Region(0, 72, ("n",), (), ()).steps(26) == 26  # alone, a region is its own largest


@pytest.mark.parametrize(("rows", "lanes", "steps"), [(72, 7, 11), (416, 16, 26), (10, 3, 4), (5, 5, 1)])
def test_lane_major_assignment_covers_every_row_once(rows, lanes, steps):
    seen = [lane_row(t, p, lanes) for t in range(steps) for p in range(lanes)]
    seen = [r for r in seen if r < rows]
    assert sorted(seen) == list(range(rows))
    for r in range(rows):  # row r is lane r mod P at step r div P
        assert lane_row(r // lanes, r % lanes, lanes) == r


def test_lane_words_are_distinct_and_the_table_reads_them():
    # a gather: lane 1 of 3 reads source rows idx[step * 3 + 1]; steps 0 and 2 read the same row
    idx = [0, 4, 1, 2, 9, 3, 5, 4, 7, 8]
    words, table = lane_words(len(idx), 3, 4, 1, lambda step, r: (1, idx[r]))
    assert words == [(1, 4), (1, 9)] and table == [0, 1, 0, 0]  # step 3: row 10 is past the rows, idle
    for step, k in enumerate(table[:3]):
        assert words[k] == (1, idx[lane_row(step, 1, 3)])


def test_lane_words_tell_hold_stages_apart():
    words, table = lane_words(6, 2, 3, 0, lambda step, r: (step // 2, r % 2))
    assert words == [(0, 0), (1, 0)] and table == [0, 0, 1]


def test_stream_lanes_and_masks():
    # segment rows 1, 4, 5, 9 through 4 lanes: lanes 1, 0, 1, 1 at steps 0, 1, 1, 2
    used, masks = stream_lanes([1, 4, 5, 9], 4)
    assert used == [0, 1]
    assert masks == [[0, 1], [1, 1], [0, 1]]
    assert sum(map(sum, masks)) == 4  # every row added exactly once


def test_stream_sum_is_valid_one_cycle_after_the_collected_output():
    assert region_valid(10, 26, 3) == 39 and stream_valid(10, 26, 3) == 40
