"""The hls4ml cost model of the track GNN: rows per lane, adders per segment, wiring, the longest path."""

from __future__ import annotations

import math

import numpy as np
import pytest

from l1ml.backends.hls4ml import build_hls_model
from l1ml.estimate import estimate
from l1ml.ir.ops import Op
from l1ml.load import load_graph


@pytest.fixture(scope="module")
def gnn(small_track_gnn):
    return load_graph(small_track_gnn / "model.onnx"), small_track_gnn


def _rows(est, op: str):
    return [r for r in est.layers if r.op == op]


def test_ii_is_the_steps_of_the_row_wise_layers(gnn):
    g, _ = gnn
    edges = g.t("edge_logits").shape[0]
    assert estimate(g, backend="hls4ml", reuse_factor=1).ii_cycles == 1
    for r in (4, 32, 100, 1000):
        est = estimate(g, backend="hls4ml", reuse_factor=r)
        lanes = math.ceil(edges / r)
        assert est.ii_cycles <= r
        assert est.ii_cycles * lanes >= edges > (est.ii_cycles - 1) * lanes  # every edge, no idle step


def test_time_multiplexing_trades_luts_for_cycles(gnn):
    g, _ = gnn
    points = [estimate(g, backend="hls4ml", reuse_factor=r) for r in (1, 8, 32, 128)]
    luts = [p.resources()["LUT"] for p in points]
    lat = [p.latency_cycles for p in points]
    assert luts == sorted(luts, reverse=True) and luts[0] > 4 * luts[-1]
    assert lat == sorted(lat) and lat[-1] > 128
    assert all(p.resources()["DSP"] == 0 for p in points)  # 6-bit weights: LUT products


def test_segment_sum_is_one_adder_per_extra_term(gnn):
    g, d = gnn
    receivers = np.load(d / "topology.npz")["receivers"]
    hidden = g.t(next(n for n in g.nodes if n.op is Op.SEGMENT_SUM).outputs[0]).shape[1]
    extra_terms = len(receivers) - len(np.unique(receivers))
    est = estimate(g, backend="hls4ml", reuse_factor=1)
    sums = _rows(est, "SegmentSum")
    assert len(sums) == 2
    assert sums[0].detail.startswith(f"{extra_terms * hidden} adders")
    assert sums[0].res.lut > 0 and sums[0].res.dsp == 0


def test_gathers_and_concats_are_wiring_unless_they_are_dataflow_channels(gnn, tmp_path):
    g, _ = gnn
    par = estimate(g, backend="hls4ml", reuse_factor=1)
    for r in _rows(par, "Gather") + _rows(par, "Concat"):
        assert (r.res.lut, r.res.ff, r.latency_cycles) == (0, 0, 0)
    assert not _rows(par, "Clone")
    tmux = estimate(g, backend="hls4ml", reuse_factor=32)
    for r in _rows(tmux, "Concat"):
        out = g.t(g.node(r.node).outputs[0])
        assert r.res.lut == 0 and r.res.ff == 2 * out.size * out.type.width  # a ping-pong channel
    for r in _rows(tmux, "Gather"):  # read through its table by the Concat after it: no copy at all
        assert (r.res.lut, r.res.ff) == (0, 0)
    # the copies priced are the ones the written project makes (DATAFLOW: one reader per array)
    build_hls_model(g, tmp_path / "prj", reuse_factor=32).write()
    top = (tmp_path / "prj/firmware/myproject.cpp").read_text()
    assert len(_rows(tmux, "Clone")) == top.count("nnet::l1ml_clone") > 0
    assert "l1ml_gather" not in top


def test_mask_products_are_and_gates(gnn):
    g, _ = gnn
    est = estimate(g, backend="hls4ml", reuse_factor=1)
    for r in _rows(est, "Mul"):
        out = g.t(g.node(r.node).outputs[0])
        assert 0 < r.res.lut < out.size * out.type.width and r.res.dsp == 0


def test_latency_is_the_longest_path(gnn):
    g, _ = gnn
    est = estimate(g, backend="hls4ml", reuse_factor=32)
    dense = sum(r.latency_cycles for r in _rows(est, "Dense"))  # every Dense is on the one path
    assert est.latency_cycles > dense
    # the two segment sums (and the two node-mask branches) run side by side: less than one after another
    assert est.latency_cycles < sum(r.latency_cycles for r in est.layers) + 1
