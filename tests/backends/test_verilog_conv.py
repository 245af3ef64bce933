"""Conv2D, pooling and Transpose in the Verilog backend: structure of the generated RTL and a bit-exact
cocotb/Verilator check of a tiny CNN against the emulator.

The CNN is built directly in the IR so that every case the renderer distinguishes appears in a model
that compiles in seconds: zero padding, stride 2, shared products, zero weights, shift-add and DSP
constants, signed and unsigned max pooling, average pooling, a Transpose and a Dense head.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from l1ml.backends.emulate import input_codes
from l1ml.backends.verilog import RTLDesign, write_rtl
from l1ml.backends.verilog.arith import csd
from l1ml.backends.verilog.conv import conv_problem
from l1ml.errors import L1MLError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import Conv2DAttrs, NoAttrs, Op, Pool2DAttrs, ReshapeAttrs, TransposeAttrs
from l1ml.ir.types import FixedType, Overflow, Rounding, covering
from l1ml.load import load_graph
from l1ml.models.random_cnn import random_cnn_spec, write_random_cnn
from l1ml.passes.infer_types import infer_types
from l1ml.verify.rtl import check_rtl
from l1ml.verify.runner import lint
from l1ml.verify.vectors import make_vectors


def tiny_cnn(seed: int = 0) -> Graph:
    """(6, 6, 2) -> Conv 3x3 pad 1 (3 ch) -> MaxPool 2x2 (signed) -> ReLU -> Quantize -> Transpose (H <-> W)
    -> Conv 3x3 stride 2 pad 1 (2 ch) -> Quantize (unsigned) -> MaxPool 2x2 pad 1 -> AvgPool 2x2
    -> Reshape -> Dense(3)."""
    rng = np.random.default_rng(seed)
    t: dict[str, Tensor] = {}

    def tensor(name: str, shape: tuple[int, ...], ty: FixedType | None = None, data=None) -> str:
        t[name] = Tensor(name, shape, ty, None if data is None else np.asarray(data, dtype=np.int64))
        return name

    def const(name: str, data: np.ndarray, frac: int) -> str:
        return tensor(name, data.shape, covering(int(data.min()), int(data.max()), frac), data)

    w1 = rng.integers(-6, 7, size=(3, 3, 2, 3))
    w1[1, 1, 0, 0] = 0
    w1[0, 0, 1, 2] = 91  # five signed digits: a DSP multiply
    w1[2, 2, 1, 2] = 91  # the same input meets 91 at two kernel positions: shared across pixels
    w2 = rng.integers(-20, 21, size=(3, 3, 3, 2))
    wd = rng.integers(-40, 41, size=(2, 3))
    tensor("x", (6, 6, 2), FixedType(True, 8, 4, Rounding.HALF_EVEN, Overflow.SAT))
    nodes = [
        Node("conv1", Op.CONV2D, ["x", const("w1", w1, 4), const("b1", rng.integers(-50, 50, 3), 6)], ["c1"],
             Conv2DAttrs((1, 1), (1, 1, 1, 1)), {"onnx_name": "/conv1/Conv"}),
        Node("pool1", Op.MAXPOOL2D, ["c1"], ["p1"], Pool2DAttrs((2, 2), (2, 2), (0, 0, 0, 0)),
             {"onnx_name": "/pool1/MaxPool"}),
        Node("act1", Op.RELU, ["p1"], ["r1"], NoAttrs(), {"onnx_name": "/act1/Relu"}),
        Node("q1", Op.QUANTIZE, ["r1"], ["a1"], NoAttrs(), {"onnx_name": "/act1/Quant"}),
        Node("swap", Op.TRANSPOSE, ["a1"], ["a1t"], TransposeAttrs((1, 0, 2)), {"onnx_name": "/Transpose"}),
        Node("conv2", Op.CONV2D, ["a1t", const("w2", w2, 5)], ["c2"], Conv2DAttrs((2, 2), (1, 1, 1, 1)),
             {"onnx_name": "/conv2/Conv"}),
        Node("q2", Op.QUANTIZE, ["c2"], ["a2"], NoAttrs(), {"onnx_name": "/act2/Quant"}),
        Node("pool2", Op.MAXPOOL2D, ["a2"], ["p2"], Pool2DAttrs((2, 2), (1, 1), (1, 1, 0, 0)),
             {"onnx_name": "/pool2/MaxPool"}),
        Node("pool3", Op.AVGPOOL2D, ["p2"], ["p3"], Pool2DAttrs((2, 2), (2, 2), (0, 0, 0, 0)),
             {"onnx_name": "/pool3/AveragePool"}),
        Node("flat", Op.RESHAPE, ["p3"], ["f"], ReshapeAttrs((2,)), {"onnx_name": "/Flatten"}),
        Node("fc", Op.DENSE, ["f", const("wd", wd, 5)], ["y"], NoAttrs(), {"onnx_name": "/fc/MatMul"}),
    ]
    shapes = {"c1": (6, 6, 3), "p1": (3, 3, 3), "r1": (3, 3, 3), "a1t": (3, 3, 3), "c2": (2, 2, 2),
              "p2": (2, 2, 2), "p3": (1, 1, 2), "f": (2,), "y": (3,)}
    for name, shape in shapes.items():
        tensor(name, shape)
    tensor("a1", (3, 3, 3), FixedType(False, 6, 2, Rounding.TRUNC, Overflow.SAT))
    tensor("a2", (2, 2, 2), FixedType(False, 7, 3, Rounding.HALF_EVEN, Overflow.SAT))
    g = Graph("tiny_cnn", t, nodes, ["x"], ["y"])
    infer_types(g)
    g.verify(typed=True)
    return g


@pytest.fixture(scope="module")
def graph() -> Graph:
    return tiny_cnn()


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cnn-builds")


@pytest.fixture(scope="module")
def rtl(graph, tmp_path_factory) -> tuple[Path, RTLDesign]:
    d = tmp_path_factory.mktemp("cnn") / "rtl"
    return d, write_rtl(graph, d, clock_ns=3.0)


def test_tiny_cnn_is_bit_exact_on_1000_vectors_and_lint_clean(graph, rtl, build_dir):
    rtl_dir, design = rtl
    assert lint([rtl_dir / f for f in design.files], design.top) == []
    r = check_rtl(graph, rtl_dir, make_vectors(graph, 1000, seed=1), build_dir)
    assert r.ok, r.first_mismatches
    assert r.n_vectors == 1000
    assert r.ii == 1 and r.latency_cycles == design.latency_cycles


def test_rtl_convolution_matches_an_independent_loop(graph, build_dir, tmp_path):
    """conv1 alone in RTL, its outputs recomputed with explicit loops over the padded window."""
    g = graph.copy()
    g.nodes = [g.node("conv1")]
    g.outputs = ["c1"]
    g.prune_tensors()
    design = write_rtl(g, tmp_path / "rtl", pipeline_stages=2)  # two levels of each tree
    x = make_vectors(g, 50, seed=4)
    r = check_rtl(g, tmp_path / "rtl", x, build_dir)
    assert r.ok, r.first_mismatches
    assert r.latency_cycles == design.latency_cycles == 2 and r.ii == 1
    codes = input_codes(g, x)["x"].astype(np.int64)
    w = g.t("w1").data  # on the x * w grid; the bias is on a coarser one (frac 6 vs 8)
    b = g.t("b1").data << (8 - 6)
    want = np.zeros((len(codes), 6, 6, 3), np.int64)
    for oy in range(6):
        for ox in range(6):
            for o in range(3):
                acc = np.full(len(codes), b[o])
                for ky in range(3):
                    for kx in range(3):
                        iy, ix = oy + ky - 1, ox + kx - 1
                        if 0 <= iy < 6 and 0 <= ix < 6:
                            acc += codes[:, iy, ix, :] @ w[ky, kx, :, o]
                want[:, oy, ox, o] = acc
    assert np.array_equal(r.outputs["c1"].astype(np.int64), want)


def test_conv_is_one_adder_graph_shared_across_channels_and_pixels(graph, rtl):
    rtl_dir, _ = rtl
    text = next(rtl_dir.glob("*conv1.v")).read_text()
    p = conv_problem(graph.node("conv1"), graph.t("x"), graph.t("w1"), graph.t("b1"), graph.t("c1"))
    g = p.graph()
    assert len(re.findall(r"^\s*l1ml_addsub ", text, re.M)) == len(g.adders)
    assert not re.search(r"l1ml_(shift_add|mult_const|adder_tree) ", text)
    # which output elements each adder feeds, through the adders above it
    feeds: dict[int, set[int]] = {k: set() for k in range(len(g.signals))}
    for j, o in enumerate(g.outputs):
        if o.signal is not None:
            feeds[o.signal].add(j)
    for k in range(len(g.signals) - 1, -1, -1):
        ad = g.signals[k].adder
        if ad is not None:
            feeds[ad.a] |= feeds[k]
            feeds[ad.b] |= feeds[k]
    pixels = [{j // p.c_out for j in feeds[k]} for k in g.adders]
    channels = [{j % p.c_out for j in feeds[k]} for k in g.adders]
    assert any(len(px) > 1 for px in pixels)  # a partial sum read by overlapping windows
    assert any(len(ch) > 1 for ch in channels)  # and by several output channels
    # the digits alone would need one adder per digit past the first of each output
    m = p.matrix()
    digits = sum(len(csd(int(v))) for v in m.ravel()) + int((p.bias != 0).sum()) * 36
    assert len(g.adders) < 0.8 * (digits - m.shape[1])


def test_pool_modules_use_the_tree_primitives(rtl):
    rtl_dir, design = rtl
    assert "l1ml_max_tree.v" in design.files
    assert len(re.findall(r"^\s*l1ml_max_tree ", next(rtl_dir.glob("*pool1.v")).read_text(), re.M)) == 27
    avg = next(rtl_dir.glob("*pool3.v")).read_text()
    assert len(re.findall(r"^\s*l1ml_adder_tree #\(\.N\(4\)", avg, re.M)) == 2


def test_inconsistent_shapes_are_reported_with_the_node(graph, tmp_path):
    g = graph.copy()
    g.node("conv2").attrs = Conv2DAttrs((1, 1), (1, 1, 1, 1))  # would give (3, 3, 2), the IR says (2, 2, 2)
    with pytest.raises(L1MLError, match="conv2"):
        write_rtl(g, tmp_path / "rtl")
    assert not (tmp_path / "rtl").exists()


@pytest.mark.parametrize("seed", [1, pytest.param(7, marks=pytest.mark.slow), pytest.param(9, marks=pytest.mark.slow)])
def test_random_qonnx_cnns_are_bit_exact(seed, tmp_path, build_dir):
    """Random QONNX CNNs through the frontend and passes (Conv, pooling, Flatten/Reshape, Dense head)."""
    spec = random_cnn_spec(np.random.default_rng(seed), max_bits=8)
    g = load_graph(write_random_cnn(tmp_path / "m.onnx", spec, seed=seed))
    assert any(n.op is Op.CONV2D for n in g.nodes)
    design = write_rtl(g, tmp_path / "rtl", clock_ns=2.5)
    r = check_rtl(g, tmp_path / "rtl", make_vectors(g, 300, seed=seed), build_dir)
    assert r.ok, r.first_mismatches
    assert r.ii == 1 and r.latency_cycles == design.latency_cycles


@pytest.mark.slow
def test_tiny_cnn_10000_vectors(graph, rtl, build_dir):
    r = check_rtl(graph, rtl[0], make_vectors(graph, 10_000, seed=5), build_dir)
    assert r.ok and r.n_vectors == 10_000, r.first_mismatches
