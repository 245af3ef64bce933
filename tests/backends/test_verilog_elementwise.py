"""The Verilog backend on elementwise arithmetic and reductions: Sub, Neg, Abs, Max, Min, Clip, Mul (by a
tensor, a constant, itself), ReduceSum, Slice and Concat on any axis, with constants and broadcasting.

Hand-built typed graphs batch many nodes into one design per Verilator build; Verilator + cocotb must give
the emulator's codes bit for bit on the extreme codes of every input (all combinations of min, max, 0, -1
and +1) and thousands of random ones, at reuse 1, under the clock rule and with pipeline stages, and the
generated RTL must be lint clean.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest

from l1ml.backends.emulate import Emulator
from l1ml.backends.verilog import write_rtl
from l1ml.errors import L1MLError
from l1ml.ir.graph import Graph
from l1ml.ir.ops import ConcatAttrs, Op
from l1ml.ir.types import FixedType
from l1ml.verify.rtl import port_spec, run_stream
from l1ml.verify.runner import lint
from tests.backends.elementwise_graphs import (
    GraphBuilder,
    arith_graph,
    autoencoder_graph,
    corner_codes,
    tensor_graph,
)
from tests.onnx_build import Builder


def simulate(g: Graph, tmp_path, codes: dict[str, np.ndarray], **kw) -> tuple[dict[str, np.ndarray], dict, int]:
    """Write the RTL, lint it, stream ``codes`` through Verilator; returns DUT codes, the emulator's and the
    measured latency (which must be rtl.json's)."""
    d = write_rtl(g, tmp_path / "rtl", **kw)
    sources = [tmp_path / "rtl" / f for f in d.files]
    assert lint(sources, d.top) == []
    want = Emulator(g).run_codes(codes)
    res = run_stream(sources, d.top, tmp_path / "build", {port_spec(p): codes[p.tensor] for p in d.inputs},
                     [port_spec(p) for p in d.outputs], ii=d.ii, timeout_cycles=d.latency_cycles + 1000)
    assert not res.report.error and res.report.n_vectors == len(next(iter(codes.values())))
    assert res.report.latency_cycles == d.latency_cycles
    got = {p.tensor: res.outputs[p.port].reshape(-1, *p.shape) for p in d.outputs}
    return got, want, d.latency_cycles


def assert_equal(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    for name, w in want.items():
        bad = np.argwhere(got[name].reshape(len(w), -1) != w.reshape(len(w), -1))
        assert not len(bad), f"{name}: {len(bad)} words differ, first at vector {bad[0][0]} word {bad[0][1]}"


def test_elementwise_ops_equal_the_emulator(tmp_path):
    g = arith_graph()
    codes = corner_codes(g, 2000)
    got, want, latency = simulate(g, tmp_path, codes)
    assert_equal(got, want)
    assert latency >= 1  # the adder tree of the reduce and the output register under the 5 ns rule
    # the design holds what the IR says: a DSP-sized constant, a general and a square multiplier, every primitive
    text = (tmp_path / "rtl" / "l1ml_top.v").read_text()
    for prim in ("l1ml_sub", "l1ml_negate", "l1ml_minmax", "l1ml_clip", "l1ml_mult #", "l1ml_mult_const",
                 "l1ml_shift_add"):
        assert prim in text, prim


def test_reductions_slices_and_concats_equal_the_emulator(tmp_path):
    g = tensor_graph()
    got, want, _ = simulate(g, tmp_path, corner_codes(g, 2000), pipeline_stages=2)
    assert_equal(got, want)


@pytest.mark.parametrize("kw", [{}, pytest.param({"pipeline_stages": 3}, marks=pytest.mark.slow),
                                pytest.param({"clock_ns": 1.5}, marks=pytest.mark.slow),
                                pytest.param({"reuse_factor": 2}, marks=pytest.mark.slow)])
def test_autoencoder_score_equals_the_emulator(tmp_path, kw):
    g = autoencoder_graph()
    got, want, latency = simulate(g, tmp_path, corner_codes(g, 3000), **kw)
    assert_equal(got, want)
    if "pipeline_stages" in kw:  # 3 registers in each Dense, and in the score's 8-term tree
        assert latency == 9


def test_a_concat_on_a_missing_axis_is_a_user_error(tmp_path):
    b = GraphBuilder()
    x = b.input("x", (2,), FixedType(True, 4, 0))
    y = b.node(Op.ADD, [x, x])
    g = b.graph("bad", [b.node(Op.CONCAT, [y, y], ConcatAttrs(0), shape=(4,))])
    g.node(g.nodes[-1].name).attrs = ConcatAttrs(3)
    with pytest.raises(L1MLError, match="no such axis"):
        write_rtl(g, tmp_path / "rtl")
    assert not (tmp_path / "rtl").exists()


def anomaly_onnx(path) -> None:
    """A QONNX autoencoder score: x -> Dense -> ReLU -> Dense = y, score = sum of w * (x - y)**2 (Sub, Mul of
    two tensors, Mul by a float constant, ReduceSum), power-of-two Quant nodes as Brevitas exports them."""
    rng = np.random.default_rng(0)
    b = Builder([1, 8])
    xq = b.quant("x", 8, 5)
    w1 = b.quant(b.const(rng.integers(-31, 32, (8, 4)) / 16), 6, 4)
    h = b.quant(b.op("Relu", [b.quant(b.op("MatMul", [xq, w1]), 8, 4)]), 6, 3, signed=False)
    w2 = b.quant(b.const(rng.integers(-31, 32, (4, 8)) / 16), 6, 4)
    d = b.op("Sub", [xq, b.quant(b.op("MatMul", [h, w2]), 8, 5)])
    sq = b.op("Mul", [d, d])
    weighted = b.op("Mul", [sq, b.const(np.array([1, 2, 0.5, 0, 3, 1, 0.25, 4], np.float32))])
    score = b.op("ReduceSum", [weighted, b.const(np.array([1], np.int64), dtype=np.int64)], keepdims=0)
    onnx.save(b.model(score), path)


def l1ml_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True, check=False)


def test_qonnx_anomaly_score_compiles_and_verifies_at_the_rtl_level(tmp_path):
    anomaly_onnx(tmp_path / "ae.onnx")
    r = l1ml_cli("compile", tmp_path / "ae.onnx", "-o", tmp_path / "out")
    assert r.returncode == 0, r.stdout + r.stderr
    r = l1ml_cli("verify", tmp_path / "out", "--levels", "rtl", "--vectors", "2000")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rtl: 2000 vectors, 0 mismatches" in r.stdout
    doc = json.loads((tmp_path / "out" / "verify.json").read_text())
    assert doc["passed"] and doc["levels"]["rtl"]["vectors"] == 2000
    ops = {n["op"] for n in json.loads((tmp_path / "out" / "model.l1ml.json").read_text())["nodes"]}
    assert {"Sub", "Mul", "ReduceSum", "Dense"} <= ops


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_types_equal_the_emulator(tmp_path, seed):
    """elem-hls's random graphs: every op on operands of random types (negative and beyond-width integer
    bits, signed and unsigned), random constants and clip bounds; odd seeds with pipeline stages."""
    from tests.backends.test_hls4ml_elementwise import random_graph

    g = random_graph(seed)
    got, want, _ = simulate(g, tmp_path, corner_codes(g, 1000, seed), **({"pipeline_stages": 2} if seed % 2 else {}))
    assert_equal(got, want)
