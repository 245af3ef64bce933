"""The Verilog backend on the track-finding GNN: row regions over lanes, gathers as table multiplexers,
segment sums streamed from the lanes. Verilator + cocotb must reproduce the emulator bit for bit on test graphs,
empty and full sectors and random ones; the measured latency and II must be rtl.json's and the
estimator's; the RTL must be lint clean."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from l1ml.backends.verilog import write_rtl
from l1ml.backends.verilog.pipeline import PipelineConfig
from l1ml.backends.verilog.rows_plan import UnitKind, plan_units, stream_plan
from l1ml.estimate import estimate
from l1ml.ir.graph import Graph
from l1ml.load import load_graph
from l1ml.verify.rtl import check_rtl
from l1ml.verify.runner import lint


def train_small_gnn(out: Path) -> Path:
    """A small trained track GNN: depth-2 sector (72 nodes, 416 edges), hidden 8, one step."""
    import torch

    from l1ml.simulation.track_graphs import SectorGeometry, build_graphs
    from l1ml.simulation.tracker import TrackerConfig, TrackSample, simulate_tracks
    from l1ml.train.track_gnn import TrackGNNConfig, train_track_gnn

    torch.set_num_threads(1)
    sample = TrackSample(pileup=100.0, tracker=TrackerConfig(stub_pt_min=2.0))
    hits = simulate_tracks(12, seed=3, sample=sample, workers=1, progress=False)["hits"]
    graphs = build_graphs(hits, SectorGeometry(depth=2))[0]
    cfg = TrackGNNConfig(hidden=8, max_epochs=40, qat_epochs=10, lr=1e-2, weight_bits=6, act_bits=8)
    train_track_gnn(cfg, out, graphs=graphs, qonnx_graphs=20)
    return out


def gnn_vectors(g: Graph, test_graphs: Path, n_random: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The exported test graphs, then 5 empty sectors, 5 full ones (features at -1, +0.99 and random over the
    whole input range) and ``n_random`` random sectors with half the nodes and edges valid."""
    d = np.load(test_graphs)
    x = {"nodes": d["nodes"], "edges": d["edges"], "node_mask": d["node_mask"][..., None],
         "edge_mask": d["edge_mask"][..., None]}
    rng = np.random.default_rng(seed)
    n_nodes, n_edges = g.t("nodes").shape[0], g.t("edges").shape[0]

    def sectors(n: int, valid: float) -> dict[str, np.ndarray]:
        return {"nodes": rng.uniform(-1, 0.99, (n, n_nodes, 4)), "edges": rng.uniform(-1, 0.99, (n, n_edges, 3)),
                "node_mask": rng.random((n, n_nodes, 1)) < valid, "edge_mask": rng.random((n, n_edges, 1)) < valid}

    empty, full = sectors(5, 0.0), sectors(5, 1.01)
    for k, value in ((0, -1.0), (1, 0.99)):
        full["nodes"][k], full["edges"][k] = value, value
    parts = [x, empty, full, sectors(n_random, 0.5)]
    return {k: np.concatenate([p[k] for p in parts]).astype(np.float32) for k in x}


@pytest.fixture(scope="module")
def small_gnn(tmp_path_factory) -> tuple[Graph, Path]:
    out = train_small_gnn(tmp_path_factory.mktemp("gnn") / "small")
    return load_graph(out / "model.onnx"), out / "test_graphs.npz"


def test_regions_of_the_gnn(small_gnn):
    g, _ = small_gnn
    units = plan_units(g)
    regions = [u.region for u in units if u.kind is UnitKind.REGION]
    n, e = g.t("nodes").shape[0], g.t("edges").shape[0]
    assert [r.rows for r in regions] == [n, e, n, e]  # embedding, edge MLP, node MLP, classifier
    assert [u.kind for u in units].count(UnitKind.GATHER) == 4
    assert [u.kind for u in units].count(UnitKind.SEGMENT_SUM) == 2
    # every region reads only what earlier units produced
    seen = set(g.inputs)
    for u in units:
        ins = u.region.inputs if u.region else [i for i in g.node(u.node).inputs if not g.t(i).is_const]
        assert set(ins) <= seen
        seen |= {o for name in (u.region.nodes if u.region else [u.node]) for o in g.node(name).outputs}
    assert regions[1].lanes(26) == 16 and regions[1].steps(26) == 26  # the largest region runs R steps
    assert (regions[0].steps(26), regions[0].lanes(26), regions[0].last_step(26)) == (11, 7, 10)


@pytest.mark.parametrize(("reuse", "stages"), [(1, None), (5, None), (26, None), (416, None), (26, 1), (8, 0)])
def test_rtl_json_latency_is_the_estimate(small_gnn, tmp_path, reuse, stages):
    g, _ = small_gnn
    d = write_rtl(g, tmp_path / "rtl", reuse_factor=reuse, pipeline_stages=stages)
    est = estimate(g, backend="verilog", reuse_factor=reuse, pipeline_stages=stages)
    assert (est.latency_cycles, est.ii_cycles) == (d.latency_cycles, d.ii) and d.ii == reuse
    assert est.latency_cycles > reuse  # the largest regions take R steps each


def _check(g: Graph, test_graphs: Path, tmp_path: Path, reuse: int, n_random: int,
           clock_ns: float | None = None) -> None:
    d = write_rtl(g, tmp_path / "rtl", reuse_factor=reuse, clock_ns=clock_ns)
    x = gnn_vectors(g, test_graphs, n_random)
    res = check_rtl(g, tmp_path / "rtl", x, tmp_path / "build")
    assert res.ok, res.first_mismatches
    assert res.n_vectors == len(x["nodes"]) >= 300
    assert res.latency_cycles == d.latency_cycles
    assert res.ii == d.ii == reuse


@pytest.mark.parametrize("reuse", [26, 104])  # both leave idle lane slots in the node regions (N = 72)
def test_rtl_equals_emulator(small_gnn, tmp_path, reuse):
    g, test_graphs = small_gnn
    _check(g, test_graphs, tmp_path, reuse, 240)


def test_registered_stream_sums_equal_the_emulator(small_gnn, tmp_path):
    """At 1.5 ns the stream sums' gated-term trees get registers (both SegmentSums, different depths; the
    smaller trees of a SegmentSum get registers after them to line up), and the first flag follows."""
    g, test_graphs = small_gnn
    plans = [stream_plan(g.node(u.node), 26, PipelineConfig(clock_ns=1.5)) for u in plan_units(g)
             if u.kind is UnitKind.SEGMENT_SUM]
    assert plans == [(0b110, 2), (0b10, 1)]  # the edge regions run 26 steps at R = 26
    est = estimate(g, backend="verilog", reuse_factor=26, clock_ns=1.5)
    d = write_rtl(g, tmp_path / "plan", reuse_factor=26, clock_ns=1.5)
    assert est.latency_cycles == d.latency_cycles
    assert any("TREE_MASK" in (tmp_path / "plan" / f).read_text() and "EXTRA" in (tmp_path / "plan" / f).read_text()
               for f in d.files if "segmentsum" in f)
    _check(g, test_graphs, tmp_path, 26, 240, clock_ns=1.5)


@pytest.mark.slow
@pytest.mark.parametrize("reuse", [8, 10, 416])  # many lanes; neither divides E; one lane per region
def test_rtl_equals_emulator_slow(small_gnn, tmp_path, reuse):
    g, test_graphs = small_gnn
    _check(g, test_graphs, tmp_path, reuse, 240)


def test_gnn_rtl_is_lint_clean(small_gnn, tmp_path):
    g, _ = small_gnn
    d = write_rtl(g, tmp_path / "rtl", reuse_factor=104)
    assert lint([tmp_path / "rtl" / f for f in d.files], d.top) == []
