"""The RTL check end to end: generated Verilog simulated by Verilator under cocotb against the emulator.

Graphs are built directly in the IR so that every op, rounding mode and multiplier kind the Verilog
backend renders appears in a model small enough to compile in seconds.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from l1ml.backends.emulate import Emulator, input_codes
from l1ml.backends.verilog import RTLDesign, write_rtl
from l1ml.errors import L1MLError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import NoAttrs, Op, ReshapeAttrs
from l1ml.ir.types import FixedType, Overflow, Rounding, covering
from l1ml.load import load_graph
from l1ml.models.random_mlp import random_spec, write_random_mlp
from l1ml.passes.infer_types import infer_types
from l1ml.verify.rtl import check_rtl
from l1ml.verify.runner import lint
from l1ml.verify.vectors import make_vectors

ROOT = Path(__file__).resolve().parents[2]


def feature_graph(seed: int = 0) -> Graph:
    """6 -> Dense(5) -> ReLU -> Quantize -> Dense(4) -> Reshape(2, 2) + const(2,) -> Dense(3) on each of
    the 2 rows -> Quantize, and a second output taken after the first Quantize. Weights mix zeros,
    shift-add and DSP constants."""
    rng = np.random.default_rng(seed)
    t: dict[str, Tensor] = {}

    def tensor(name: str, shape: tuple[int, ...], ty: FixedType | None = None, data=None) -> str:
        t[name] = Tensor(name, shape, ty, None if data is None else np.asarray(data, dtype=np.int64))
        return name

    def const(name: str, data: np.ndarray, frac: int) -> str:
        return tensor(name, data.shape, covering(int(data.min()), int(data.max()), frac), data)

    w0 = rng.integers(-120, 121, size=(6, 5))
    w0[0, 0], w0[:, 4] = 0, 0  # a zero weight and a neuron with none (its output is the bias)
    w1 = rng.integers(-9, 10, size=(5, 4))
    w1[2, 3] = 683  # six signed digits: the longest digit chain of the adder graph
    tensor("x", (6,), FixedType(True, 8, 4, Rounding.HALF_EVEN, Overflow.SAT))
    nodes = [
        Node("fc1", Op.DENSE, ["x", const("w0", w0, 6), const("b0", rng.integers(-300, 300, 5), 8)], ["h0"],
             NoAttrs(), {"onnx_name": "/fc1/Gemm"}),
        Node("act1", Op.RELU, ["h0"], ["r0"], NoAttrs(), {"onnx_name": "/act1/Relu"}),
        Node("q1", Op.QUANTIZE, ["r0"], ["q0"], NoAttrs(), {"onnx_name": "/act1/Quant"}),
        Node("fc2", Op.DENSE, ["q0", const("w1", w1, 3)], ["h1"], NoAttrs(), {"onnx_name": "/fc2/MatMul"}),
        Node("flat", Op.RESHAPE, ["h1"], ["h1r"], ReshapeAttrs((2, 2)), {"onnx_name": "/Reshape"}),
        Node("shift", Op.ADD, ["h1r", const("c", np.array([7, -5]), 2)], ["s"], NoAttrs(),
             {"onnx_name": "/Add"}),
        Node("fc3", Op.DENSE, ["s", const("w2", rng.integers(-60, 61, size=(2, 3)), 4), const("b2", np.array(
            [1, -2, 3]), 1)], ["h3"], NoAttrs(), {"onnx_name": "/fc3/MatMul"}),
        Node("qout", Op.QUANTIZE, ["h3"], ["y"], NoAttrs(), {"onnx_name": "/out/Quant"}),
    ]
    shapes = {"h0": (5,), "r0": (5,), "h1": (4,), "h1r": (2, 2), "s": (2, 2), "h3": (2, 3)}
    for name, shape in shapes.items():
        tensor(name, shape)
    tensor("q0", (5,), FixedType(False, 6, 2, Rounding.HALF_AWAY, Overflow.SAT, narrow=True))
    tensor("y", (2, 3), FixedType(True, 9, 1, Rounding.TRUNC_ZERO, Overflow.WRAP))
    g = Graph("features", t, nodes, ["x"], ["y", "q0"])
    infer_types(g)
    g.verify(typed=True)
    return g


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("rtl-builds")


@pytest.fixture(scope="module")
def graph() -> Graph:
    return feature_graph()


@pytest.fixture(scope="module")
def vectors(graph) -> np.ndarray:
    return make_vectors(graph, 400, seed=3)


@pytest.fixture(scope="module")
def pipelined(graph, tmp_path_factory) -> tuple[Path, RTLDesign]:
    d = tmp_path_factory.mktemp("rtl") / "rtl"
    return d, write_rtl(graph, d, clock_ns=2.0)


def test_feature_model_is_bit_exact_and_lint_clean(graph, pipelined, vectors, build_dir):
    rtl_dir, design = pipelined
    assert lint([rtl_dir / f for f in design.files], design.top) == []
    r = check_rtl(graph, rtl_dir, vectors, build_dir)
    assert r.ok, r.first_mismatches
    assert (r.n_vectors, r.mismatches, r.mismatched_words) == (len(vectors), 0, 0)
    assert r.latency_cycles == design.latency_cycles > 0
    assert r.ii == 1
    # the DUT's codes are the emulator's, for both outputs
    expected = Emulator(graph).run_codes(input_codes(graph, vectors))
    for name in graph.outputs:
        np.testing.assert_array_equal(r.outputs[name], expected[name])


def test_second_check_of_the_same_design_reuses_the_build(graph, pipelined, vectors, build_dir):
    rtl_dir, _ = pipelined
    t0 = time.monotonic()
    r = check_rtl(graph, rtl_dir, vectors[:50], build_dir)
    assert r.ok and r.build_seconds == 0.0
    assert time.monotonic() - t0 < 60


def _change_one_weight(rtl_dir: Path) -> str:
    """Turn one adder of fc2's shared adder graph (cmm) from a + (b << s) into a - (b << s): the
    generated Verilog's equivalent of a wrong weight digit."""
    f = rtl_dir / "l1ml_top_fc2.v"
    text = f.read_text()
    line = next(ln for ln in text.splitlines() if "l1ml_addsub" in ln and ".OP(0)" in ln)
    new = line.replace(".OP(0)", ".OP(1)")
    f.write_text(text.replace(line, new))
    return new


def test_a_changed_weight_constant_is_reported_as_mismatches(graph, pipelined, vectors, build_dir, tmp_path):
    rtl_dir = tmp_path / "edited"
    shutil.copytree(pipelined[0], rtl_dir)
    _change_one_weight(rtl_dir)
    r = check_rtl(graph, rtl_dir, vectors, build_dir)
    assert not r.ok and r.mismatches > 0 and r.build_seconds > 0  # a new design: a new build
    # the report names vector, output port and element, expected and actual words
    first = r.first_mismatches[0]
    m = re.fullmatch(r"vector (\d+): out_y\[(\d)\] \(y\[\d\]\) expected (-?\d+), got (-?\d+)", first)
    assert m, first
    k, elem, want, got = (int(v) for v in m.groups())
    expected = Emulator(graph).run_codes(input_codes(graph, vectors[k:k + 1]))["y"].reshape(-1)
    assert want == expected[elem] != got
    # only fc2's outputs can change; the other output (q0) is still exact
    assert all("out_q0" not in line for line in r.first_mismatches)


def test_reuse_factor_design_is_bit_exact_with_ii_equal_to_the_reuse(graph, vectors, build_dir, tmp_path):
    design = write_rtl(graph, tmp_path / "rtl", reuse_factor=3)
    assert design.ii == 3
    r = check_rtl(graph, tmp_path / "rtl", vectors[:150], build_dir)
    assert r.ok, r.first_mismatches
    assert r.ii == 3
    # three reuse layers of R + 1 cycles, and the output register behind the last requantiser
    assert r.latency_cycles == design.latency_cycles == 3 * (3 + 1) + 1


def test_rtl_of_another_model_is_refused(graph, pipelined, vectors, build_dir):
    other = feature_graph(seed=1)
    other.t("x").type = FixedType(True, 7, 4, Rounding.HALF_EVEN, Overflow.SAT)
    with pytest.raises(L1MLError, match="different model"):
        check_rtl(other, pipelined[0], vectors, build_dir)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(16))
def test_random_qonnx_models_are_bit_exact(seed, tmp_path, build_dir):
    """Random QONNX MLPs (widths up to 16 bits, narrow range, every rounding mode, MatMul + Add and
    Gemm) through the real frontend, under a rotating choice of reuse and pipeline options."""
    rng = np.random.default_rng(seed)
    g = load_graph(write_random_mlp(tmp_path / "m.onnx", random_spec(rng, max_bits=16, max_width=10), seed))
    options = [{}, {"reuse_factor": 2 + seed % 3}, {"pipeline_stages": seed % 4}, {"clock_ns": 1.0 + seed % 5}]
    design = write_rtl(g, tmp_path / "rtl", **options[seed % 4])
    assert lint([tmp_path / "rtl" / f for f in design.files], design.top) == []
    r = check_rtl(g, tmp_path / "rtl", make_vectors(g, 300, seed=seed), build_dir)
    assert r.ok, (options[seed % 4], r.first_mismatches)
    assert (r.ii, r.latency_cycles) == (design.ii, design.latency_cycles)


@pytest.mark.slow
def test_jet_model_10000_vectors_within_three_minutes(tmp_path):
    """The issue's target: the example jet model, 10,000 vectors, 0 mismatches, II = 1, <= 3 min
    including the Verilator build (a fresh build directory, so nothing is cached)."""
    model = ROOT / "examples" / "jet_mlp.onnx"
    t0 = time.monotonic()
    g = load_graph(model)
    design = write_rtl(g, tmp_path / "rtl")
    r = check_rtl(g, tmp_path / "rtl", make_vectors(g, 10_000, seed=0), tmp_path / "build")
    seconds = time.monotonic() - t0
    assert r.ok and r.mismatches == 0 and r.n_vectors == 10_000
    assert r.ii == 1 and r.latency_cycles == design.latency_cycles
    assert seconds <= 180, f"took {seconds:.0f} s"
