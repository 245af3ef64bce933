"""The track GNN through hls4ml's extension layers: the g++ C-simulation equals the emulator bit for bit."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from l1ml.backends.ap_fixed import ap_type
from l1ml.backends.emulate import Emulator, input_codes
from l1ml.backends.hls4ml import build_hls_model, input_precision
from l1ml.backends.hls4ml_gnn import insert_clones, lanes, segment_table
from l1ml.errors import L1MLError
from l1ml.ir.graph import Node, Tensor
from l1ml.ir.ops import NoAttrs, Op
from l1ml.ir.quantize import to_real
from l1ml.ir.types import relu_type
from l1ml.load import load_graph
from l1ml.verify.hls_level import csim_inputs, run_csim
from l1ml.verify.vectors import make_vectors

REUSE = 32  # time-multiplexed: 416 edges in 32 steps of 13 lanes, 72 nodes in 24 steps of 3 lanes


def _test_graphs(d) -> dict[str, np.ndarray]:
    z = np.load(d / "test_graphs.npz")
    return {"nodes": z["nodes"], "edges": z["edges"], "node_mask": z["node_mask"][..., None].astype(np.float32),
            "edge_mask": z["edge_mask"][..., None].astype(np.float32)}


def _sectors(g, n: int, fill: float, seed: int) -> dict[str, np.ndarray]:
    """``n`` sectors with every mask bit ``fill`` and features drawn over the whole input range, the first
    two at its ends (all -1, all +0.99...)."""
    rng = np.random.default_rng(seed)
    x = {}
    for name in g.inputs:
        t = g.t(name)
        if name in g.meta["mask_inputs"]:
            x[name] = np.full((n, *t.shape), fill, np.float32)
            continue
        codes = rng.integers(t.type.min_code, t.type.max_code + 1, size=(n, *t.shape))
        codes[0], codes[1] = t.type.min_code, t.type.max_code
        x[name] = (codes * t.type.lsb).astype(np.float32)
    return x


def _vectors(g, d) -> dict[str, np.ndarray]:
    """Corner patterns (full and empty), the test graphs and random partly filled sectors (make_vectors),
    then full and empty sectors with random features over the whole range."""
    parts = [make_vectors(g, 700, seed=3, data=_test_graphs(d)), _sectors(g, 200, 1.0, 4), _sectors(g, 150, 0.0, 5)]
    return {name: np.concatenate([p[name] for p in parts]) for name in g.inputs}


def _write(g, prj, reuse: int):
    build_hls_model(g, prj, reuse_factor=reuse).write()
    return prj


@pytest.fixture(scope="module")
def gnn(small_track_gnn, tmp_path_factory):
    g = load_graph(small_track_gnn / "model.onnx")
    d = tmp_path_factory.mktemp("hlsgnn")
    return g, small_track_gnn, _write(g, d / "r1", 1), _write(g, d / f"r{REUSE}", REUSE)


def _csim_vs_emulator(g, prj, x):
    codes = input_codes(g, x)
    expected = to_real(Emulator(g).run_codes(codes)["edge_logits"], g.t("edge_logits").type)
    return expected, run_csim(prj, csim_inputs(g, x), expected.shape[1])  # the floats: the project quantizes


def test_time_multiplexed_csim_equals_emulator(gnn):
    g, d, _, prj = gnn
    x = _vectors(g, d)
    n = len(x["nodes"])
    assert n >= 1000
    expected, actual = _csim_vs_emulator(g, prj, x)
    bad = np.flatnonzero((expected != actual).any(axis=1))
    assert len(bad) == 0, f"{len(bad)} of {n} graphs differ, first {bad[:5]}"
    full = x["edge_mask"].reshape(n, -1).all(axis=1)
    empty = ~x["edge_mask"].reshape(n, -1).any(axis=1) & ~x["node_mask"].reshape(n, -1).any(axis=1)
    assert full.sum() >= 200 and empty.sum() >= 150
    assert len(np.unique(expected[:, :50], axis=0)) > 300  # the vectors reach many different outputs


def test_fully_parallel_csim_equals_emulator(gnn):
    g, d, prj, _ = gnn
    x = {k: np.concatenate([v, w]) for (k, v), w in
         zip(_test_graphs(d).items(), _sectors(g, 100, 1.0, 6).values(), strict=True)}
    expected, actual = _csim_vs_emulator(g, prj, x)
    assert int((expected != actual).any(axis=1).sum()) == 0


def test_every_precision_is_set_by_l1ml(gnn):
    g, _, prj, _ = gnn
    defines = (prj / "firmware/defines.h").read_text().replace(",0>", ">")
    assert "ap_fixed<16,6>" not in defines  # hls4ml's model default never reaches a layer
    typedefs = dict((name, t) for t, name in re.findall(r"typedef (.+) (\w+);", defines))
    # the inputs are the input quantizers (the masks 1-bit): a float is rounded once, as by the Quant
    assert [typedefs[k] for k in ("input_t", "input2_t", "input3_t", "input4_t")] == \
        [input_precision(g, i) for i in g.inputs]
    assert typedefs["input3_t"] == "ap_ufixed<1,1>"
    for n in g.nodes:
        if n.op is Op.DENSE:  # weights, bias and accumulator are the IR's exact types
            assert typedefs[f"{n.name}_weight_t"] == ap_type(g.t(n.inputs[1]).type)
            assert typedefs[f"{n.name}_accum_t"] == ap_type(g.t(n.outputs[0]).type)
        if n.op is Op.SEGMENT_SUM:
            assert typedefs[f"{n.name}_accum_t"] == ap_type(g.t(n.outputs[0]).type)


def test_reuse_factor_is_rows_per_lane(gnn):
    g, _, par, tmux = gnn
    top = (tmux / "firmware/myproject.cpp").read_text()
    assert "#pragma HLS DATAFLOW" in top and "l1ml_row_dense_tmux" in top and "l1ml_clone" in top
    assert "#pragma HLS PIPELINE" in (par / "firmware/myproject.cpp").read_text()
    params = (tmux / "firmware/parameters.h").read_text()
    steps = [int(s) for s in re.findall(r"n_steps = (\d+);", params)]
    lane_counts = [int(s) for s in re.findall(r"n_lanes = (\d+);", params)]
    rows = [g.t(n.inputs[0]).shape[0] for n in g.nodes if n.op is Op.DENSE]
    assert len(steps) == len(rows)
    for r, s, p in zip(rows, steps, lane_counts, strict=True):
        assert s <= REUSE and p * s >= r and p * (s - 1) < r  # every row handled, no idle step
    assert (tmux / "firmware/nnet_utils/nnet_l1ml_gnn.h").exists()


def test_a_changed_gather_index_is_caught(gnn, tmp_path):
    g, _, _, prj = gnn
    bad = tmp_path / "bad"
    shutil.copytree(prj, bad)
    params = bad / "firmware/parameters.h"
    text = params.read_text()
    m = re.search(r"static const unsigned table\d*\[\d+\] = \{([\d,]+)\}", text)  # the first gather's senders
    idx = m.group(1).split(",")
    j = next(i for i, v in enumerate(idx) if v != idx[0])
    idx[0], idx[j] = idx[j], idx[0]
    params.write_text(text[:m.start(1)] + ",".join(idx) + text[m.end(1):])
    expected, actual = _csim_vs_emulator(g, bad, _sectors(g, 20, 1.0, 7))
    assert (expected != actual).any()


def test_a_gather_read_by_another_layer_is_its_own_layer(gnn, tmp_path):
    """The GNN's gathers are all read through the Concat after them; put a ReLU (an identity on unsigned
    values) between one gather and its Concat so that l1ml_gather and a row-wise hls4ml ReLU are built."""
    g, d, _, _ = gnn
    g = g.copy()
    gather = [n for n in g.nodes if n.op is Op.GATHER][2]
    concat = g.users(gather.outputs[0])[0]
    t = g.t(gather.outputs[0])
    g.tensors["relu_probe"] = Tensor("relu_probe", t.shape, relu_type(t.type))
    g.nodes.insert(g.nodes.index(gather) + 1, Node("relu_probe", Op.RELU, [t.name], ["relu_probe"], NoAttrs()))
    concat.inputs = ["relu_probe" if i == t.name else i for i in concat.inputs]
    prj = _write(g, tmp_path / "prj", REUSE)
    assert "nnet::l1ml_gather" in (prj / "firmware/myproject.cpp").read_text()
    expected, actual = _csim_vs_emulator(g, prj, _sectors(g, 50, 1.0, 8))
    assert int((expected != actual).any(axis=1).sum()) == 0


def test_run_csim_refuses_inputs_of_different_lengths(gnn):
    g, _, prj, _ = gnn
    x = {name: np.zeros((3 if name == "nodes" else 2, *g.t(name).shape)) for name in g.inputs}
    with pytest.raises(L1MLError, match="different numbers of vectors"):
        run_csim(prj, x, 416)


def test_lowering_helpers():
    assert lanes(416, 32) == (13, 32) and lanes(72, 32) == (3, 24) and lanes(72, 1) == (72, 1)
    table, degree = segment_table((2, 0, -1, 2, 2), 4)
    assert degree == 3 and table == [1, 5, 5, 5, 5, 5, 0, 3, 4, 5, 5, 5]
    layers = [{"class_name": "InputLayer", "name": "a"}, {"name": "b", "inputs": ["a"]},
              {"name": "c", "inputs": ["a", "b"]}]
    out = insert_clones(layers)
    assert [x["name"] for x in out] == ["a", "a_clone", "b", "c"]
    assert out[2]["inputs"] == ["a_cpy0"] and out[3]["inputs"] == ["a_cpy1", "b"]
    with pytest.raises(L1MLError, match="more than 4"):
        insert_clones([{"name": "a"}] + [{"name": f"u{i}", "inputs": ["a"]} for i in range(5)])
