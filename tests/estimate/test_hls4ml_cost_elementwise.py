"""The hls4ml cost model of the elementwise ops: multipliers (DSP above the threshold, shift-adds for a
constant, squarers), one adder or compare-select per element, adder trees for a ReduceSum, wiring."""

from __future__ import annotations

import numpy as np
import pytest

from l1ml.backends.verilog.arith import csd
from l1ml.estimate import estimate
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import ClipAttrs, NoAttrs, Op, ReduceAttrs, SliceAttrs
from l1ml.ir.types import FixedType
from l1ml.passes.infer_types import infer_types


def graph(x_type: FixedType, shape: tuple[int, ...], op: Op, attrs=None, second: str | None = None,
          const: np.ndarray | None = None, const_type: FixedType | None = None, out_shape=None) -> Graph:
    """x [op second] -> y, where second is another input "z" of x's shape and type, "x" itself, or the
    constant ``const``."""
    tensors = {"x": Tensor("x", shape, x_type)}
    inputs, ins = ["x"], ["x"]
    if second == "z":
        tensors["z"] = Tensor("z", shape, x_type)
        inputs.append("z")
        ins.append("z")
    elif second == "x":
        ins.append("x")
    elif const is not None:
        tensors["c"] = Tensor("c", const.shape, const_type, np.asarray(const, np.int64))
        ins.append("c")
    tensors["y"] = Tensor("y", out_shape or shape)
    g = Graph("g", tensors, [Node("n", op, ins, ["y"], attrs or NoAttrs())], inputs, ["y"])
    infer_types(g)
    return g


def row(g: Graph, **kw):
    est = estimate(g, backend="hls4ml", **kw)
    [r] = est.layers
    return est, r


def test_wide_products_take_dsps_narrow_ones_luts():
    est, r = row(graph(FixedType(True, 12, 6), (5,), Op.MUL, second="z"))
    assert r.res.dsp == 5 and "DSP" in r.detail
    est, r = row(graph(FixedType(True, 8, 6), (5,), Op.MUL, second="z"))
    assert r.res.dsp == 0 and r.res.lut > 0


def test_a_square_is_half_a_multiplier():
    _, square = row(graph(FixedType(True, 8, 6), (5,), Op.MUL, second="x"))
    _, product = row(graph(FixedType(True, 8, 6), (5,), Op.MUL, second="z"))
    assert square.res.dsp == product.res.dsp == 0
    assert square.res.lut == pytest.approx(product.res.lut / 2)
    _, wide = row(graph(FixedType(True, 16, 6), (5,), Op.MUL, second="x"))
    assert wide.res.dsp == 5


def test_a_constant_product_is_its_shift_adds():
    c = np.array([1, 4, 7, -6, 0, 5], np.int64)  # 7 = 8 - 1, -6 = -8 + 2, 5 = 4 + 1: three adders
    g = graph(FixedType(True, 8, 6), (6,), Op.MUL, const=c, const_type=FixedType(True, 5, 2))
    _, r = row(g)
    adds = sum(max(len(csd(int(v))) - 1, 0) for v in c)
    assert adds == 3 and r.res.dsp == 0
    assert r.res.lut == adds * g.t("y").type.width
    # a broadcast constant multiplies every element it reaches
    _, r2 = row(graph(FixedType(True, 8, 6), (4, 6), Op.MUL, const=c, const_type=FixedType(True, 5, 2)))
    assert r2.res.lut == 4 * r.res.lut
    # powers of two are wiring
    _, r3 = row(graph(FixedType(True, 8, 6), (3,), Op.MUL, const=np.array([1, 2, -4]),
                      const_type=FixedType(True, 4, 0)))
    assert r3.res.lut == 0 and r3.res.ff > 0


@pytest.mark.parametrize("op,per_bit", [(Op.SUB, 1), (Op.ADD, 1), (Op.MAX, 2), (Op.MIN, 2)])
def test_binary_ops_cost_per_output_bit(op, per_bit):
    g = graph(FixedType(True, 8, 3), (2, 5), op, second="z")
    _, r = row(g)
    bits = 10 * g.t("y").type.width
    assert r.res.lut == per_bit * bits and r.res.ff == bits and r.latency_cycles == 1


def test_unary_ops():
    s, u = FixedType(True, 7, 3), FixedType(False, 7, 3)
    _, neg = row(graph(s, (4,), Op.NEG))
    _, abs_s = row(graph(s, (4,), Op.ABS))
    _, abs_u = row(graph(u, (4,), Op.ABS))
    assert neg.res.lut == 4 * 8 and abs_s.res.lut == 4 * 7 and abs_u.res.lut == 0


def test_clip_pays_only_for_bounds_that_bite():
    t = FixedType(True, 6, 2)  # -8 .. 7.75
    bits = lambda g: 3 * g.t("y").type.width  # noqa: E731
    g = graph(t, (3,), Op.CLIP, ClipAttrs(-100.0, 100.0))
    assert row(g)[1].res.lut == 0
    g = graph(t, (3,), Op.CLIP, ClipAttrs(-1.0, 100.0))
    assert row(g)[1].res.lut == 2 * bits(g)
    g = graph(t, (3,), Op.CLIP, ClipAttrs(-1.0, 2.5))
    assert row(g)[1].res.lut == 4 * bits(g)


def test_reduce_sum_is_an_adder_tree():
    t = FixedType(True, 8, 3)
    g = graph(t, (4, 16), Op.REDUCE_SUM, ReduceAttrs((1,), False), out_shape=(4,))
    _, r = row(g, clock_ns=1.0)
    assert r.detail.startswith(f"{4 * 15} adders") and r.res.lut == 60 * g.t("y").type.width
    _, shallow = row(graph(t, (4, 2), Op.REDUCE_SUM, ReduceAttrs((1,), False), out_shape=(4,)), clock_ns=1.0)
    assert r.latency_cycles > shallow.latency_cycles  # four adder levels against one, at 1 ns
    # a mean over 16 is the same adders
    g = graph(t, (4, 16), Op.REDUCE_SUM, ReduceAttrs((1,), False, mean=True), out_shape=(4,))
    assert row(g, clock_ns=1.0)[1].res.lut == r.res.lut


def test_slice_is_wiring():
    est, r = row(graph(FixedType(True, 8, 3), (6,), Op.SLICE, SliceAttrs(0, 1, 6, 2), out_shape=(3,)))
    assert r.res.lut == r.res.ff == r.res.dsp == 0 and r.latency_cycles == 0
