"""The Verilog cost model on the elementwise ops and reductions follows the generator: for every op, behind
a Dense layer (so delays and latencies differ between operands) and under every pipeline rule, the
estimated latency is the generated RTL's; multipliers are priced as the RTL builds them."""

from __future__ import annotations

import re

import numpy as np
import pytest

from l1ml.backends.verilog import write_rtl
from l1ml.estimate import estimate
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import ClipAttrs, ConcatAttrs, NoAttrs, Op, ReduceAttrs, SliceAttrs
from l1ml.ir.types import FixedType, Overflow, Rounding
from tests.backends.elementwise_graphs import GraphBuilder, arith_graph, autoencoder_graph, tensor_graph

CONFIGS = [{}, {"clock_ns": 1.0}, {"clock_ns": 1.5}, {"clock_ns": 2.5}, {"clock_ns": 3.5}, {"pipeline_stages": 0}, {"pipeline_stages": 1},
           {"pipeline_stages": 3}, {"reuse_factor": 2}]


def behind_dense(op: Op, seed: int = 0) -> Graph:
    """q = Quantize(Dense(x)) (latency and delay of a layer) and z = -input**2, then ``op`` on them, then
    a Sub and a ReduceSum so that the op's delay reaches later pipeline decisions."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder()
    x = b.input("x", (6,), FixedType(True, 8, 4, Rounding.HALF_EVEN, Overflow.SAT))
    z = b.input("z", (4,), FixedType(False, 6, 2, Rounding.TRUNC, Overflow.SAT))
    z = b.node(Op.NEG, [b.node(Op.MUL, [z, z])])  # more logic delay than the layer's output has
    h = b.node(Op.DENSE, [x, b.const("w", rng.integers(-90, 91, (6, 4)), 6)], name="fc", shape=(4,))
    b.t["q"] = Tensor("q", (4,), FixedType(True, 8, 3, Rounding.HALF_EVEN, Overflow.SAT))
    b.nodes.append(Node("fc_q", Op.QUANTIZE, [h], ["q"], NoAttrs(), {"onnx_name": "/fc/Quant"}))
    q = "q"
    if op in (Op.SUB, Op.ADD, Op.MAX, Op.MIN):
        y = b.node(op, [q, z])
    elif op is Op.MUL:
        y = b.node(op, [b.node(op, [q, z]), b.node(op, [q, q])])
        y = b.node(op, [y, b.const("c", [3, -7, 683, 0], 2)])
    elif op is Op.CLIP:
        y = b.node(op, [q], ClipAttrs(-2.5, 1.125))
    elif op is Op.REDUCE_SUM:
        y = b.node(op, [q], ReduceAttrs((0,), True), shape=(1,))
    elif op is Op.SLICE:
        y = b.node(op, [q], SliceAttrs(0, 0, 4, 1))
    elif op is Op.CONCAT:
        y = b.node(Op.SLICE, [b.node(op, [z, q], ConcatAttrs(0), shape=(8,))], SliceAttrs(0, 2, 6, 1), shape=(4,))
    else:
        y = b.node(op, [q])
    d = b.node(Op.SUB, [y, z])
    return b.graph(f"{op.value}_graph", [b.node(Op.REDUCE_SUM, [d], ReduceAttrs((0,), False), shape=()), y])


def _latencies(g: Graph, tmp_path, kw: dict) -> tuple[int, int]:
    rtl = write_rtl(g, tmp_path / "rtl", force=True, reuse_factor=kw.get("reuse_factor", 1),
                    clock_ns=kw.get("clock_ns"), pipeline_stages=kw.get("pipeline_stages"))
    est = estimate(g, backend="verilog", reuse_factor=kw.get("reuse_factor", 1), clock_ns=kw.get("clock_ns", 5.0),
                   pipeline_stages=kw.get("pipeline_stages"))
    assert est.ii_cycles == rtl.ii
    return est.latency_cycles, rtl.latency_cycles


@pytest.mark.parametrize("op", [Op.SUB, Op.ADD, Op.NEG, Op.ABS, Op.MAX, Op.MIN, Op.CLIP, Op.MUL, Op.REDUCE_SUM,
                                Op.SLICE, Op.CONCAT])
def test_latency_of_each_op_is_the_generators(tmp_path, op):
    g = behind_dense(op)
    seen = set()
    for kw in CONFIGS:
        est, rtl = _latencies(g, tmp_path, kw)
        assert est == rtl, kw
        seen.add(rtl)
    assert len(seen) > 2  # the configurations do move registers


@pytest.mark.parametrize("make", [arith_graph, tensor_graph, autoencoder_graph])
def test_latency_of_mixed_graphs_is_the_generators(tmp_path, make):
    g = make()
    for kw in CONFIGS:
        est, rtl = _latencies(g, tmp_path, kw)
        assert est == rtl, kw


def _product_graph(a_w: int, b_w: int, n: int) -> Graph:
    b = GraphBuilder()
    x = b.input("x", (n,), FixedType(True, a_w, 0))
    y = b.input("y", (n,), FixedType(False, b_w, 0))
    return b.graph("products", [b.node(Op.MUL, [x, y]), b.node(Op.MUL, [x, x])])


def test_wide_products_take_a_dsp_each_and_narrow_ones_none(tmp_path):
    wide = estimate(_product_graph(8, 8, 5), backend="verilog").resources()
    assert wide["DSP"] == 10  # five products and five squares of 9 and more bits
    narrow = estimate(_product_graph(3, 2, 5), backend="verilog").resources()
    assert narrow["DSP"] == 0 and narrow["LUT"] > 0
    # the RTL has one l1ml_mult instance per node, over its 5 elements
    d = write_rtl(_product_graph(8, 8, 5), tmp_path / "rtl")
    text = (tmp_path / "rtl" / f"{d.top}.v").read_text()
    assert [int(n) for n in re.findall(r"l1ml_mult #\(\s*\.N\((\d+)\)", text)] == [5, 5]


def test_constant_products_are_priced_per_non_zero_code():
    b = GraphBuilder()
    x = b.input("x", (4,), FixedType(True, 10, 0))
    g = b.graph("const", [b.node(Op.MUL, [x, b.const("c", [683, 0, -683, 0], 0)])])
    r = estimate(g, backend="verilog").resources()
    assert r["DSP"] == 2  # 683 has six signed digits: a DSP for each non-zero code
    g2 = GraphBuilder()
    x2 = g2.input("x", (4,), FixedType(True, 10, 0))
    shift = estimate(g2.graph("shift", [g2.node(Op.MUL, [x2, g2.const("c", [3, 0, 5, 0], 0)])]),
                     backend="verilog").resources()
    assert shift["DSP"] == 0 and 0 < shift["LUT"]


def test_resources_grow_with_the_elements():
    def graph(n: int) -> Graph:
        b = GraphBuilder()
        x = b.input("x", (n,), FixedType(True, 8, 2))
        y = b.input("y", (n,), FixedType(True, 8, 2))
        d = b.node(Op.SUB, [x, y])
        m = b.node(Op.MAX, [b.node(Op.ABS, [d]), b.const("c", [1], 0)])
        return b.graph("g", [b.node(Op.REDUCE_SUM, [b.node(Op.CLIP, [m], ClipAttrs(None, 8.0))],
                                    ReduceAttrs((0,), False), shape=())])

    small, big = (estimate(graph(n), backend="verilog").resources() for n in (4, 16))
    assert 3 * small["LUT"] < big["LUT"] < 5 * small["LUT"]
