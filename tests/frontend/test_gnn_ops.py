"""The track GNN's static-topology ops: frontend recognition, exact types, emulator against qonnx."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from l1ml.backends.emulate import Emulator, emulate, input_codes
from l1ml.errors import L1MLError
from l1ml.ir.ops import Op
from l1ml.ir.quantize import to_real
from l1ml.load import load_graph
from l1ml.verify.qonnx_level import run_qonnx
from l1ml.verify.vectors import make_vectors, multi_corner_vectors


def _test_graphs(d) -> dict[str, np.ndarray]:
    z = np.load(d / "test_graphs.npz")
    return {"nodes": z["nodes"], "edges": z["edges"], "node_mask": z["node_mask"][..., None].astype(np.float32),
            "edge_mask": z["edge_mask"][..., None].astype(np.float32)}


def test_gnn_loads_into_static_ops(small_track_gnn):
    g = load_graph(small_track_gnn / "model.onnx")
    ops = {n.op for n in g.nodes}
    assert {Op.GATHER, Op.SEGMENT_SUM, Op.CONCAT, Op.MUL} <= ops
    assert g.meta["mask_inputs"] == ["node_mask", "edge_mask"]
    topo = np.load(small_track_gnn / "topology.npz")
    gathers = [n for n in g.nodes if n.op is Op.GATHER]
    assert [np.array_equal(n.attrs.indices, topo["senders"]) for n in gathers[:2]] == [True, False]
    sums = [n for n in g.nodes if n.op is Op.SEGMENT_SUM]
    assert np.array_equal(sums[0].attrs.segments, topo["receivers"])
    for n in sums:  # the exact sum grows by the in-degree: never wraps
        x, y = g.t(n.inputs[0]).type, g.t(n.outputs[0]).type
        d = n.attrs.degree()
        assert d == np.bincount(topo["receivers"]).max()
        assert y.max_code >= d * x.max_code and y.frac == x.frac


def test_emulator_equals_qonnx_on_graphs_empty_and_full_sectors(small_track_gnn):
    """1,000 graphs: full and empty sectors with every corner pattern, the test graphs, random masks."""
    g = load_graph(small_track_gnn / "model.onnx")
    x = make_vectors(g, 1000, seed=5, data=_test_graphs(small_track_gnn))
    kinds = multi_corner_vectors(g)[1]
    assert any(k.startswith("empty:") for k in kinds) and any(k.startswith("full:") for k in kinds)
    ours = to_real(Emulator(g).run_codes(input_codes(g, x))["edge_logits"], g.t("edge_logits").type)
    ref = run_qonnx(small_track_gnn / "model.onnx", x).astype(np.float64)
    bad = np.flatnonzero((ours != ref).any(axis=1))
    assert len(bad) == 0, f"{len(bad)} graphs differ, first {bad[:5]}"
    assert len(np.unique(ours[:, :50], axis=0)) > 100  # the vectors really differ in what they produce


def test_emulator_is_vectorised_consistently(small_track_gnn):
    """Events run in one block give the same as one at a time (the sparse segment sum's layout)."""
    g = load_graph(small_track_gnn / "model.onnx")
    x = {k: v[:6] for k, v in _test_graphs(small_track_gnn).items()}
    together = emulate(g, x)
    alone = np.concatenate([emulate(g, {k: v[i:i + 1] for k, v in x.items()}) for i in range(6)])
    assert np.array_equal(together, alone)


def test_mask_input_refuses_non_binary_values(small_track_gnn):
    g = load_graph(small_track_gnn / "model.onnx")
    x = {k: v[:2] for k, v in _test_graphs(small_track_gnn).items()}
    x["edge_mask"] = x["edge_mask"] * 0.5
    with pytest.raises(L1MLError, match="edge_mask.*validity mask.*0 or 1"):
        input_codes(g, x)


def _matmul_model(path, a: np.ndarray) -> None:
    """Quant(x) (1, E, 2) then MatMul(A, x) with a constant A: the aggregation pattern, for error tests."""
    e = a.shape[1]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, e, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, a.shape[0], 2])
    inits = [helper.make_tensor("A", TensorProto.FLOAT, a.shape, a.reshape(-1).tolist()),
             helper.make_tensor("s", TensorProto.FLOAT, [], [0.125]),
             helper.make_tensor("z", TensorProto.FLOAT, [], [0.0]),
             helper.make_tensor("b", TensorProto.FLOAT, [], [6.0])]
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["q"], name="in_quant", domain="qonnx.custom_op.general",
                              signed=1, narrow=0, rounding_mode="ROUND"),
             helper.make_node("MatMul", ["A", "q"], ["y"], name="aggregate")]
    m = helper.make_model(helper.make_graph(nodes, "agg", [x], [y], inits),
                          opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("qonnx.custom_op.general", 1)])
    m.ir_version = 8
    onnx.save(m, str(path))


def test_incidence_matmul_becomes_an_exact_segment_sum(tmp_path):
    segs = np.array([0, 2, 2, 2, -1, 0])
    a = np.zeros((3, 6), np.float32)
    a[segs[segs >= 0], np.flatnonzero(segs >= 0)] = 1
    _matmul_model(tmp_path / "agg.onnx", a)
    g = load_graph(tmp_path / "agg.onnx")
    (node,) = [n for n in g.nodes if n.op is Op.SEGMENT_SUM]
    assert node.attrs.segments == tuple(segs) and node.attrs.degree() == 3
    x = np.random.default_rng(0).uniform(-5, 5, (200, 6, 2)).astype(np.float32)
    x[0] = 3.875  # the extreme code in every row: the three-row segment reaches 3 * 31
    x[1] = -4.0
    assert np.array_equal(emulate(g, x), run_qonnx(tmp_path / "agg.onnx", x).astype(np.float64))
    assert emulate(g, x)[0, 2, 0] == 3 * 3.875 and emulate(g, x)[1, 1, 0] == 0.0


@pytest.mark.parametrize("bad", ["weights", "two_ones"])
def test_constant_left_operand_must_be_an_incidence_matrix(tmp_path, bad):
    a = np.zeros((3, 6), np.float32)
    a[0, :] = 1 if bad == "two_ones" else 0
    a[1, :] = 1 if bad == "two_ones" else 0.5
    _matmul_model(tmp_path / "bad.onnx", a)
    with pytest.raises(L1MLError, match="'aggregate'.*0/1 incidence matrix with at most one 1 per column"):
        load_graph(tmp_path / "bad.onnx")


def test_gnn_graph_survives_the_json_round_trip(small_track_gnn, tmp_path):
    from l1ml.ir.graph import Graph

    g = load_graph(small_track_gnn / "model.onnx")
    g.save(tmp_path / "g.json")
    h = Graph.load(tmp_path / "g.json")
    assert [n.attrs for n in h.nodes] == [n.attrs for n in g.nodes]
    x = {k: v[:20] for k, v in _test_graphs(small_track_gnn).items()}
    assert np.array_equal(emulate(h, x), emulate(g, x))
