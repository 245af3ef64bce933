"""Conv2D and pooling in both cost models: the Verilog model follows the generator (latency, II, DSPs,
shared products); the hls4ml model walks a convolution's partitions (II = pixels x reuse)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from l1ml.backends.verilog import write_rtl
from l1ml.backends.verilog.conv import conv_problem
from l1ml.estimate import Strategy, estimate
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import Conv2DAttrs, NoAttrs, Op, Pool2DAttrs, ReshapeAttrs
from l1ml.ir.types import FixedType, Overflow, Rounding, covering
from l1ml.passes.infer_types import infer_types


def cnn(side: int = 6, cin: int = 2, filters: np.ndarray | None = None, stride: int = 1,
        pool: Op = Op.MAXPOOL2D, seed: int = 0) -> Graph:
    """(side, side, cin) -> Conv 3x3 pad 1 -> Quantize -> 2x2 pool -> Reshape -> Dense(2)."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-40, 41, size=(3, 3, cin, 3)) if filters is None else filters
    t: dict[str, Tensor] = {}

    def tensor(name: str, shape: tuple[int, ...], ty: FixedType | None = None, data=None) -> None:
        t[name] = Tensor(name, shape, ty, None if data is None else np.asarray(data, dtype=np.int64))

    ho = (side + 2 - 3) // stride + 1
    po = ho // 2
    cout = w.shape[3]
    wd = rng.integers(-20, 21, size=(po * po * cout, 2))
    tensor("x", (side, side, cin), FixedType(True, 8, 4, Rounding.HALF_EVEN, Overflow.SAT))
    tensor("w", w.shape, covering(int(w.min()), int(w.max()), 5), w)
    tensor("wd", wd.shape, covering(int(wd.min()), int(wd.max()), 5), wd)
    for name, shape in {"c": (ho, ho, cout), "p": (po, po, cout), "f": (po * po * cout,), "y": (2,)}.items():
        tensor(name, shape)
    tensor("a", (ho, ho, cout), FixedType(False, 6, 2, Rounding.TRUNC, Overflow.SAT))
    nodes = [
        Node("conv", Op.CONV2D, ["x", "w"], ["c"], Conv2DAttrs((stride, stride), (1, 1, 1, 1))),
        Node("q", Op.QUANTIZE, ["c"], ["a"], NoAttrs()),
        Node("pool", pool, ["a"], ["p"], Pool2DAttrs((2, 2), (2, 2), (0, 0, 0, 0))),
        Node("flat", Op.RESHAPE, ["p"], ["f"], ReshapeAttrs((po * po * cout,))),
        Node("fc", Op.DENSE, ["f", "wd"], ["y"], NoAttrs()),
    ]
    g = Graph("cnn", t, nodes, ["x"], ["y"])
    infer_types(g)
    g.verify(typed=True)
    return g


@pytest.mark.parametrize(("kw", "build"), [
    ({"clock_ns": 5.0}, {}),
    ({"clock_ns": 2.0}, {"stride": 2}),
    ({"clock_ns": 1.0}, {"pool": Op.AVGPOOL2D}),
    ({"pipeline_stages": 0}, {}),
    ({"pipeline_stages": 3}, {"pool": Op.AVGPOOL2D, "side": 8}),
])
def test_latency_and_ii_are_the_generators(tmp_path, kw, build):
    g = cnn(**build)
    rtl = write_rtl(g, tmp_path / "rtl", clock_ns=kw.get("clock_ns"), pipeline_stages=kw.get("pipeline_stages"))
    est = estimate(g, backend="verilog", clock_ns=kw.get("clock_ns", 5.0), pipeline_stages=kw.get("pipeline_stages"))
    assert (est.latency_cycles, est.ii_cycles) == (rtl.latency_cycles, rtl.ii) == (rtl.latency_cycles, 1)


def test_reuse_1_is_one_adder_graph_without_dsps(tmp_path):
    """Conv2D at reuse 1 is the layer's shared adder graph: a weight of many signed digits (91) is
    shift-adds too, no DSP is instantiated or priced, and the module holds one l1ml_addsub per adder."""
    w = np.random.default_rng(1).integers(-6, 7, size=(3, 3, 2, 3))
    w[0, 0, 0, 0] = w[2, 1, 1, 2] = 91
    g = cnn(filters=w)
    write_rtl(g, tmp_path / "rtl")
    text = (tmp_path / "rtl" / "l1ml_top_conv.v").read_text()
    assert not re.findall(r"^\s*l1ml_mult_const #", text, flags=re.M)
    node = next(n for n in g.nodes if n.op == Op.CONV2D)
    x, wt, *rest = (g.t(i) for i in node.inputs)
    problem = conv_problem(node, x, wt, rest[0] if rest else None, g.t(node.outputs[0]))
    n_addsub = len(re.findall(r"^\s*l1ml_addsub #", text, flags=re.M))
    assert n_addsub == len(problem.graph().adders) > 0
    layer = estimate(g).layers[0]
    assert layer.res.dsp == 0 and f"{n_addsub:,} adders" in layer.detail


def test_a_repeated_filter_costs_only_its_adder_trees(tmp_path):
    """Two identical filters share every product: the second costs trees, not multipliers."""
    w1 = np.random.default_rng(2).integers(-40, 41, size=(3, 3, 2, 1))
    one = estimate(cnn(filters=w1), pipeline_stages=0).layers[0].res
    two = estimate(cnn(filters=np.concatenate([w1, w1], axis=3)), pipeline_stages=0).layers[0].res
    other = np.random.default_rng(3).integers(-40, 41, size=(3, 3, 2, 1))
    fresh = estimate(cnn(filters=np.concatenate([w1, other], axis=3)), pipeline_stages=0).layers[0].res
    assert one.lut < two.lut < fresh.lut
    assert two.lut - one.lut < one.lut  # the trees alone are cheaper than products and trees


def test_pooling_cost_scales_with_channels_and_picks_its_tree():
    mx = estimate(cnn(cin=2)).layers[2]
    avg = estimate(cnn(cin=2, pool=Op.AVGPOOL2D)).layers[2]
    assert mx.op == "MaxPool2D" and avg.op == "AvgPool2D"
    assert mx.res.lut > 0 and avg.res.lut > 0
    big = estimate(cnn(side=10)).layers[2]
    assert big.res.lut == pytest.approx(mx.res.lut * (5 * 5) / (3 * 3))  # outputs 5x5x3 vs 3x3x3


@pytest.mark.parametrize("reuse", [1, 2])
def test_hls4ml_conv_walks_its_partitions(reuse):
    g = cnn(side=6)  # conv output 6x6: 36 partitions of one pixel
    est = estimate(g, backend="hls4ml", reuse_factor=reuse, strategy=Strategy.LATENCY)
    assert est.ii_cycles == 36 * reuse
    conv = est.layers[0]
    assert conv.latency_cycles > 36 * reuse
    assert est.latency_cycles >= sum(r.latency_cycles for r in est.layers)
    strided = estimate(cnn(side=6, stride=2), backend="hls4ml", reuse_factor=reuse, strategy=Strategy.LATENCY)
    assert strided.ii_cycles == 9 * reuse
