"""The Verilog cost model on the track-finding GNN: latency and II are the generator's (rtl.json); the
registers it counts for hold stages and collect shift registers, and the table multiplexers and stream sums
it prices (with their words and terms), are the ones the generated RTL declares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from l1ml.backends.verilog import write_rtl
from l1ml.backends.verilog.pipeline import DelayModel
from l1ml.estimate import estimate, markdown
from l1ml.ir.graph import Graph
from l1ml.load import load_graph


@pytest.fixture(scope="module")
def small_gnn(tmp_path_factory) -> Graph:
    """A small trained track GNN (72 nodes, 416 edges, hidden 8, one step)."""
    import torch

    from l1ml.simulation.track_graphs import SectorGeometry, build_graphs
    from l1ml.simulation.tracker import TrackerConfig, TrackSample, simulate_tracks
    from l1ml.train.track_gnn import TrackGNNConfig, train_track_gnn

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("gnn") / "small"
    sample = TrackSample(pileup=100.0, tracker=TrackerConfig(stub_pt_min=2.0))
    hits = simulate_tracks(12, seed=3, sample=sample, workers=1, progress=False)["hits"]
    graphs = build_graphs(hits, SectorGeometry(depth=2))[0]
    cfg = TrackGNNConfig(hidden=8, max_epochs=40, qat_epochs=10, lr=1e-2, weight_bits=6, act_bits=8)
    train_track_gnn(cfg, out, graphs=graphs, qonnx_graphs=20)
    return load_graph(out / "model.onnx")


def _declared(top: str, module: str, name_prefix: str) -> int:
    """Total W of the instances of ``module`` whose instance name starts with ``name_prefix``."""
    pat = rf"{module} #\(\s*\.W\((\d+)\)(?:,\s*\.DEPTH\(\d+\))?\s*\)\s*{name_prefix}"
    return sum(int(w) for w in re.findall(pat, top))


@pytest.mark.parametrize("reuse", [1, 3, 26, 104, 416])
def test_latency_and_ii_are_the_generators(small_gnn, tmp_path, reuse):
    d = write_rtl(small_gnn, tmp_path / "rtl", reuse_factor=reuse)
    est = estimate(small_gnn, backend="verilog", reuse_factor=reuse, clock_ns=5.0)
    assert (est.latency_cycles, est.ii_cycles) == (d.latency_cycles, d.ii) == (d.latency_cycles, reuse)


@pytest.mark.parametrize("reuse", [1, 26, 416])
def test_hold_and_collect_registers_are_the_rtls(small_gnn, tmp_path: Path, reuse):
    d = write_rtl(small_gnn, tmp_path / "rtl", reuse_factor=reuse)
    top = (tmp_path / "rtl" / f"{d.top}.v").read_text()
    est = estimate(small_gnn, backend="verilog", reuse_factor=reuse)
    hold = sum(r.res.ff for r in est.layers if r.op == "Hold")
    collect = sum(r.res.ff for r in est.layers if r.op == "Collect")
    assert hold == _declared(top, "l1ml_hold", "u_h_") > 0
    assert collect == _declared(top, "l1ml_delay", "u_c_")
    assert (collect == 0) == (reuse == 1)


def test_more_steps_shrink_lanes_and_segment_sums(small_gnn):
    rows = {r: estimate(small_gnn, backend="verilog", reuse_factor=r).layers for r in (1, 8, 104)}

    def lut(layers, op: str) -> float:
        return sum(x.res.lut for x in layers if x.op == op)

    assert lut(rows[1], "Mux") == 0  # one step: every lane reads its own row, no multiplexer
    assert lut(rows[1], "Lanes") > lut(rows[8], "Lanes") > lut(rows[104], "Lanes")
    assert 0 < lut(rows[8], "Mux") < lut(rows[104], "Mux") * 2
    # streamed segment sums: an accumulator per segment and feature over the lanes that hold its rows
    # (fewer terms once a segment's rows share lanes)
    assert lut(rows[1], "SegmentSum") >= lut(rows[8], "SegmentSum") > lut(rows[104], "SegmentSum") > 0
    total = {r: sum(x.res.lut for x in v) for r, v in rows.items()}
    assert total[1] > total[8] > total[104]


def _detail_counts(layers, op: str, pattern: str) -> tuple[int, int]:
    got = [re.match(pattern, x.detail) for x in layers if x.op == op]
    return sum(int(m.group(1)) for m in got if m), sum(int(m.group(2)) for m in got if m)


@pytest.mark.parametrize("reuse", [5, 26, 104])
def test_priced_primitives_are_the_rtls(small_gnn, tmp_path: Path, reuse):
    d = write_rtl(small_gnn, tmp_path / "rtl", reuse_factor=reuse)
    text = "".join((tmp_path / "rtl" / f).read_text() for f in d.files if f.startswith(d.top))
    est = estimate(small_gnn, backend="verilog", reuse_factor=reuse)
    mux_words = [int(n) for n in re.findall(r"l1ml_table_mux #\(\.N\((\d+)\)", text)]
    assert _detail_counts(est.layers, "Mux", r"(\d+) table multiplexers of (\d+) words") == (len(mux_words),
                                                                                              sum(mux_words))
    sum_terms = [int(n) for n in re.findall(r"l1ml_stream_sum #\(\.N\((\d+)\)", text)]
    assert _detail_counts(est.layers, "SegmentSum", r"(\d+) stream sums of (\d+) terms") == (len(sum_terms),
                                                                                              sum(sum_terms))
    assert len(sum_terms) > 0
    top = (tmp_path / "rtl" / f"{d.top}.v").read_text()
    assert "l1ml_mux " not in top and "l1ml_adder_tree" not in text  # no priority-chain row muxes, no trees


def test_report_lists_the_regions(small_gnn):
    text = markdown(estimate(small_gnn, backend="verilog", reuse_factor=26))
    for name in ("region0 lanes", "region1 inputs", "region3 collect", "segmentsum_0", "hold edges"):
        assert name in text


def test_registered_stream_sums_are_priced(small_gnn):
    """At 1.5 ns the stream sums get registers in their gated-term trees (``stream_plan``): the SegmentSum
    rows count them and say so, and their latency grows by as many cycles."""
    slow, fast = (estimate(small_gnn, backend="verilog", reuse_factor=26, clock_ns=c) for c in (5.0, 1.5))

    def sums(e):
        return [x for x in e.layers if x.op == "SegmentSum"]

    for a, b in zip(sums(slow), sums(fast), strict=True):
        assert "register(s) in the gated sums" not in a.detail and "register(s) in the gated sums" in b.detail
        assert b.res.ff > a.res.ff and b.latency_cycles > a.latency_cycles == 1


def test_lane_inputs_arrive_through_their_table_multiplexers(small_gnn, tmp_path, monkeypatch):
    """A lane's inputs count the delay of their widest table multiplexer (``DelayModel.table_mux_ns``): at
    R = 26 and 5 ns it moves registers in the lanes and adds cycles, in the estimate and the RTL alike."""
    with_mux = estimate(small_gnn, backend="verilog", reuse_factor=26)
    assert with_mux.latency_cycles == write_rtl(small_gnn, tmp_path / "a", reuse_factor=26).latency_cycles
    monkeypatch.setattr(DelayModel, "table_mux_ns", lambda self, words: 0.0)
    without = estimate(small_gnn, backend="verilog", reuse_factor=26)
    assert without.latency_cycles == write_rtl(small_gnn, tmp_path / "b", reuse_factor=26).latency_cycles
    assert with_mux.latency_cycles > without.latency_cycles and with_mux.total.ff > without.total.ff
