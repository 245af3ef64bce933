"""The GNN schedule (``rows_plan``): steps per region, the row assignment (lane p takes rows p S .. p S + S - 1),
the distinct words of a lane's table multiplexer and the lanes and step masks of a streamed segment sum."""

from __future__ import annotations

import math

import pytest

from l1ml.backends.verilog.pipeline import PipelineConfig, plan_stream_sum
from l1ml.backends.verilog.rows_plan import (
    Region,
    lane_row,
    lane_words,
    region_steps,
    region_valid,
    row_slot,
    segment_members,
    stream_lanes,
    stream_plan,
    stream_valid,
)
from l1ml.ir.graph import Node
from l1ml.ir.ops import Op, SegmentSumAttrs


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
def test_rows_are_assigned_once_in_consecutive_runs_per_lane(rows, lanes, steps):
    seen = [lane_row(t, p, steps) for p in range(lanes) for t in range(steps)]
    assert seen == list(range(lanes * steps))  # lane p takes rows p S .. p S + S - 1
    assert lanes == -(-rows // steps)
    for r in range(rows):
        lane, step = row_slot(r, steps)
        assert lane_row(step, lane, steps) == r and lane < lanes and step < steps


def test_lane_words_are_distinct_and_the_table_reads_them():
    # a gather: lane 1 of 4-step lanes reads source rows idx[4 + step]; steps 0 and 2 read the same row
    idx = [0, 4, 1, 2, 9, 3, 9, 5, 7, 8]
    words, table = lane_words(len(idx), 3, 4, 1, lambda step, r: (1, idx[r]))
    assert words == [(1, 9), (1, 3), (1, 5)] and table == [0, 1, 0, 2]
    for step, k in enumerate(table):
        assert words[k] == (1, idx[lane_row(step, 1, 4)])
    words, table = lane_words(len(idx), 3, 4, 2, lambda step, r: (1, idx[r]))
    assert words == [(1, 7), (1, 8)] and table == [0, 1, 0, 0]  # steps 2, 3: rows 10, 11 are idle


def test_lane_words_tell_hold_stages_apart():
    words, table = lane_words(6, 2, 3, 0, lambda step, r: (step // 2, r % 2))
    assert words == [(0, 0), (0, 1), (1, 0)] and table == [0, 1, 2]


def test_stream_lanes_and_masks():
    # segment rows 1, 4, 5, 9 through 4-step lanes: lane 0 step 1, lane 1 steps 0 and 1, lane 2 step 1
    used, masks = stream_lanes([1, 4, 5, 9], 4)
    assert used == [0, 1, 2]
    assert masks == [[0, 1, 0], [1, 1, 1], [0, 0, 0], [0, 0, 0]]
    assert sum(map(sum, masks)) == 4  # every row added exactly once
    assert stream_lanes([8, 9, 10], 4) == ([2], [[1], [1], [1], [0]])  # consecutive rows: one lane


def test_stream_sum_is_valid_one_cycle_after_the_collected_output_plus_its_tree_registers():
    assert region_valid(10, 26, 3) == 39 and stream_valid(10, 26, 3, 0) == 40 and stream_valid(10, 26, 3, 2) == 42


@pytest.mark.parametrize("clock", [0.6, 1.0, 1.6, 2.0, 3.0, 4.4, 5.0, 10.0])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 9, 16, 17, 64])
def test_stream_sum_plan_keeps_every_stage_within_the_clock(n, clock):
    """Levels: the gate, clog2(n) adders, the accumulator's adder (which ends at the sum's register)."""
    cfg = PipelineConfig(clock_ns=clock)
    d = cfg.delays
    depth = (n - 1).bit_length()
    mask = plan_stream_sum(n, cfg)
    assert mask < 1 << (depth + 1)  # bits 0 .. depth: after the gate, after each tree level
    levels = [d.gate_ns] + [d.adder_ns] * (depth + 1)
    t, worst = 0.0, 0.0
    for lv, ns in enumerate(levels):
        t += ns
        worst = max(worst, t)
        if mask >> lv & 1:
            t = 0.0
    assert worst <= max(clock, max(levels)) + 1e-9  # a level longer than the clock stands alone
    if clock >= sum(levels):
        assert mask == 0  # no register where none is needed
    assert plan_stream_sum(n, PipelineConfig(clock_ns=None, stages=2)) == 0


def test_stream_plan_follows_the_widest_segment():
    # 4-step lanes; segment 0 rows 0..3 (one lane), segment 1 rows 4, 8, 12, .., 36 (nine lanes)
    segs = [0] * 4 + [-1] * 36
    for r in range(4, 40, 4):
        segs[r] = 1
    node = Node("ss", Op.SEGMENT_SUM, ["x"], ["y"], SegmentSumAttrs(tuple(segs), 2))
    assert [len(stream_lanes(m, 4)[0]) for m in segment_members(node)] == [1, 9]
    assert stream_plan(node, 4, PipelineConfig(clock_ns=5.0)) == (plan_stream_sum(9, PipelineConfig(clock_ns=5.0)), 1)
    assert stream_plan(node, 40, PipelineConfig(clock_ns=5.0)) == (0, 0)  # one lane holds every row
