"""Both cost models price a Requant node as its generator builds it: the Verilog latency is the RTL's,
comparators and multipliers are counted from the folded problem (``requant_plan``)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from l1ml.backends.verilog import write_rtl
from l1ml.backends.verilog.arith import signed_width
from l1ml.estimate import estimate
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import NoAttrs, Op, RequantAttrs
from l1ml.ir.types import FixedType, covering
from l1ml.models.random_requant import RequantInput, random_attrs, requant_graph
from l1ml.passes.infer_types import infer_types

INPUTS = [
    RequantInput("a", FixedType(True, 10, 3), (3,), (("thresholds", True, FixedType(False, 4, 0)),
                                                       ("multiply", True, FixedType(True, 8, 2)))),
    RequantInput("d", FixedType(True, 36, 10), (2,), (("thresholds", False, FixedType(True, 12, 0)),
                                                        ("multiply", True, FixedType(False, 9, 0)))),
]


def dense_then_requant(seed: int, form: str) -> Graph:
    """x -> Dense -> Requant -> Requant: the Requant's input arrives with the Dense's logic delay."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-100, 100, size=(6, 4))
    t = {"x": Tensor("x", (6,), FixedType(True, 8, 4)),
         "w": Tensor("w", w.shape, covering(int(w.min()), int(w.max()), 6), w),
         "h": Tensor("h", (4,)), "q": Tensor("q", (4,), FixedType(True, 6, 1)),
         "y": Tensor("y", (4,), FixedType(False, 3, 0))}
    nodes = [Node("fc", Op.DENSE, ["x", "w"], ["h"], NoAttrs(), {"onnx_name": "/fc/MatMul"})]
    g = Graph("dq", t, nodes, ["x"], ["h"])
    infer_types(g)
    nodes += [Node("rq1", Op.REQUANT, ["h"], ["q"], random_attrs(rng, g.t("h").type, t["q"].type, 4, form), {}),
              Node("rq2", Op.REQUANT, ["q"], ["y"], random_attrs(rng, t["q"].type, t["y"].type, 1, "thresholds"), {})]
    g = Graph("dq", t, nodes, ["x"], ["y"])
    g.verify(typed=True)
    return g


GRAPHS = {"random": lambda: requant_graph(INPUTS, seed=3), "dense_thr": lambda: dense_then_requant(1, "thresholds"),
          "dense_mul": lambda: dense_then_requant(2, "multiply")}


@pytest.mark.parametrize("graph", sorted(GRAPHS))
@pytest.mark.parametrize("kw", [{"clock_ns": 5.0}, {"clock_ns": 2.0}, {"clock_ns": 0.8}, {"clock_ns": 0.3},
                                {"pipeline_stages": 0}, {"pipeline_stages": 3}])
def test_verilog_latency_is_the_generators(tmp_path, graph, kw):
    g = GRAPHS[graph]()
    rtl = write_rtl(g, tmp_path / "rtl", **kw)
    est = estimate(g, backend="verilog", clock_ns=kw.get("clock_ns", 5.0), pipeline_stages=kw.get("pipeline_stages"))
    assert est.latency_cycles == rtl.latency_cycles


def _thresholds_graph(ts: tuple[int, ...], width: int = 12, n: int = 4, base: int = 0) -> Graph:
    x, out = FixedType(True, width, 0), FixedType(False, 5, 0)
    t = {"x": Tensor("x", (n,), x), "y": Tensor("y", (n,), out)}
    a = RequantAttrs("thresholds", thresholds=(ts,), base=(base,), step=(1,))
    return Graph("t", t, [Node("rq", Op.REQUANT, ["x"], ["y"], a, {})], ["x"], ["y"])


def _row(g: Graph, backend: str = "verilog"):
    [row] = [r for r in estimate(g, backend=backend).layers if r.op == "Requant"]
    return row


def test_comparators_scale_with_kept_thresholds_and_input_width():
    few, many = _row(_thresholds_graph((-40, 7))), _row(_thresholds_graph((-40, -3, 7, 9, 100, 1000)))
    assert many.res.lut > few.res.lut and many.res.carry8 > few.res.carry8
    assert "24 comparators of 12 bits" in many.detail and "8 comparators" in few.detail
    wide = _row(_thresholds_graph((-40, 7), width=24))
    assert wide.res.lut > few.res.lut
    # thresholds outside the input range fold away: the same hardware as without them
    folded = _row(_thresholds_graph((-5000, -2048, -40, 7, 2048, 9000)))
    assert folded.res == _row(_thresholds_graph((-40, 7), base=2)).res


def _multiply_graph(mult: int, x: FixedType, n: int = 3, add: int = 0, shift: int = 0,
                    out: FixedType = FixedType(True, 8, 0)) -> Graph:
    t = {"x": Tensor("x", (n,), x), "y": Tensor("y", (n,), out)}
    a = RequantAttrs("multiply", mult=(mult,), add=(add,), shift=shift)
    return Graph("m", t, [Node("rq", Op.REQUANT, ["x"], ["y"], a, {})], ["x"], ["y"])


def test_multipliers_are_dsps_or_shift_adds_as_generated(tmp_path):
    x = FixedType(True, 40, 0)
    g = _multiply_graph(0x2AAAAAA5, x, add=7, shift=40)  # many signed digits: a DSP multiply per element
    write_rtl(g, tmp_path / "dsp")
    text = (tmp_path / "dsp/l1ml_top.v").read_text()
    assert len(re.findall(r"^\s*l1ml_mult_const #", text, flags=re.M)) == 3
    per = math.ceil((x.width + 1) / 27) * math.ceil(signed_width(0x2AAAAAA5, 0x2AAAAAA5) / 18)
    assert estimate(g).resources()["DSP"] == 3 * per
    shift = _row(_multiply_graph(1 << 12, x, shift=44))  # a power of two: wiring, the clip compares remain
    assert shift.res.dsp == 0 and "3 shift-add, 0 DSP" in shift.detail
    three = _row(_multiply_graph(0b1001001, x, shift=34))  # three digits: two adders per element
    assert three.res.dsp == 0 and three.res.lut > shift.res.lut
    constant = _row(_multiply_graph(0, x, add=5, shift=1))  # mult 0: the output is a constant
    assert constant.res.lut == constant.res.ff == constant.res.dsp == 0


def test_hls_rows_price_the_requant_layer():
    wide = _row(_multiply_graph(0x2AAAAAA5, FixedType(True, 40, 0), shift=40), "hls4ml")
    assert wide.op == "Requant" and wide.res.dsp > 0 and wide.latency_cycles >= 1
    thr = _row(_thresholds_graph((-40, -3, 7)), "hls4ml")
    assert thr.res.dsp == 0 and thr.res.lut >= 3 * 4 * 12 and "12 comparators of 12 bits" in thr.detail
    est = estimate(requant_graph(INPUTS, seed=3), backend="hls4ml")
    assert est.latency_cycles >= 2 and est.resources()["FF"] > 0
