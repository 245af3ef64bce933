"""The Verilog backend's output: files, rtl.json, determinism, provenance comments, pipeline rules, lint.

Bit-exactness of the generated designs is proven by simulation in tests/verify/test_rtl.py; here the
generator is checked without a simulator (lint runs Verilator's front end only).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l1ml.backends.verilog import RTLDesign, write_rtl
from l1ml.backends.verilog.arith import csd
from l1ml.backends.verilog.dense import dense_problem
from l1ml.backends.verilog.pipeline import PipelineConfig, plan_dense
from l1ml.backends.verilog.primitives import Primitive
from l1ml.errors import L1MLError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import NoAttrs, Op
from l1ml.ir.types import FixedType, Overflow, Rounding, covering
from l1ml.load import load_graph
from l1ml.names import comment_text
from l1ml.passes.infer_types import infer_types
from l1ml.verify.runner import lint


def mlp(sizes: tuple[int, ...] = (8, 6, 3), seed: int = 0, out: FixedType | None = None) -> Graph:
    """Dense/ReLU/Quantize layers with random 7-bit weights (so both multiplier kinds appear)."""
    rng = np.random.default_rng(seed)
    t = {"x": Tensor("x", (sizes[0],), FixedType(True, 8, 4, Rounding.HALF_EVEN, Overflow.SAT))}
    nodes, cur = [], "x"
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        w = rng.integers(-64, 64, size=(n_in, n_out))
        t[f"w{k}"] = Tensor(f"w{k}", w.shape, covering(int(w.min()), int(w.max()), 6), w)
        t[f"h{k}"] = Tensor(f"h{k}", (n_out,))
        nodes.append(Node(f"fc{k}", Op.DENSE, [cur, f"w{k}"], [f"h{k}"], NoAttrs(),
                          {"onnx_name": f"/fc{k}/MatMul"}))
        cur = f"h{k}"
        if k < len(sizes) - 2:
            t[f"r{k}"] = Tensor(f"r{k}", (n_out,))
            t[f"q{k}"] = Tensor(f"q{k}", (n_out,), FixedType(False, 6, 2, Rounding.TRUNC, Overflow.SAT))
            nodes.append(Node(f"relu{k}", Op.RELU, [cur], [f"r{k}"], NoAttrs(),
                              {"onnx_name": f"/relu{k}/Relu"}))
            nodes.append(Node(f"quant{k}", Op.QUANTIZE, [f"r{k}"], [f"q{k}"], NoAttrs(),
                              {"onnx_name": f"/relu{k}/Quant"}))
            cur = f"q{k}"
    if out is not None:
        t["y"] = Tensor("y", (sizes[-1],), out)
        nodes.append(Node("qout", Op.QUANTIZE, [cur], ["y"], NoAttrs(), {"onnx_name": "/out/Quant"}))
        cur = "y"
    g = Graph("mlp", t, nodes, ["x"], [cur])
    infer_types(g)
    g.verify(typed=True)
    return g


def test_write_rtl_files_filelist_and_json(tmp_path):
    g = mlp()
    d = write_rtl(g, tmp_path / "rtl")
    files = (tmp_path / "rtl" / "filelist.f").read_text().split()
    assert files == list(d.files) and files[-1] == "l1ml_top.v"
    assert all((tmp_path / "rtl" / f).exists() for f in files)
    assert sorted(p.name for p in (tmp_path / "rtl").iterdir()) == sorted([*files, "filelist.f", "rtl.json", ".l1ml-output"])
    doc = json.loads((tmp_path / "rtl" / "rtl.json").read_text())
    assert RTLDesign.from_json(doc) == d == RTLDesign.load(tmp_path / "rtl")
    (x,), (y,) = d.inputs, d.outputs
    assert (x.port, x.tensor, x.elements, x.element_width) == ("in_x", "x", 8, 8)
    assert FixedType.from_json(x.type) == g.t("x").type
    assert (y.tensor, y.elements) == ("h1", 3) and y.element_width == g.t("h1").type.width
    top = (tmp_path / "rtl" / "l1ml_top.v").read_text()
    assert f"input  wire [{8 * 8 - 1}:0] in_x" in top
    assert f"output wire [{3 * y.element_width - 1}:0] out_h1" in top


def test_output_is_byte_identical_for_the_same_graph(tmp_path):
    a, b = write_rtl(mlp(), tmp_path / "a", reuse_factor=2), write_rtl(mlp(), tmp_path / "b", reuse_factor=2)
    assert a == b
    for f in [*a.files, "filelist.f", "rtl.json"]:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    # and a different weight gives a different design
    write_rtl(mlp(seed=1), tmp_path / "c", reuse_factor=2)
    fc0 = "l1ml_top_fc0.v"
    assert (tmp_path / "a" / fc0).read_bytes() != (tmp_path / "c" / fc0).read_bytes()


INSTANCE = re.compile(r"^\s*(l1ml_\w+)\s*(#\(|\w+ \()")


@pytest.mark.parametrize("reuse", [1, 3])
def test_every_instance_names_its_ir_and_onnx_node(tmp_path, reuse):
    g = mlp(out=FixedType(True, 8, 3, Rounding.HALF_EVEN, Overflow.SAT))
    d = write_rtl(g, tmp_path / "rtl", reuse_factor=reuse)
    onnx = {n.name: n.meta["onnx_name"] for n in g.nodes}
    tagged: set[str] = set()
    generated = [f for f in d.files if f.removesuffix(".v") not in {p.value for p in Primitive}]
    for f in generated:
        lines = (tmp_path / "rtl" / f).read_text().splitlines()
        for k, line in enumerate(lines):
            m = INSTANCE.match(line)
            if not m or line.lstrip().startswith("module"):
                continue
            where = line if "//" in line else lines[k - 1]
            tag = re.search(r"// node: '(\w+)' \(onnx: ('(?:[^'\\]|\\.)*')\)", where)
            if tag is None:
                assert "// pipeline:" in where, f"{f}:{k + 1}: instance without provenance: {line.strip()}"
                continue
            assert comment_text(onnx[tag[1]]) == tag[2]
            tagged.add(tag[1])
    assert tagged == set(onnx)


def test_pipeline_options_set_latency_and_ii(tmp_path):
    g = mlp((8, 6, 3))
    assert write_rtl(g, tmp_path / "a", pipeline_stages=0).latency_cycles == 0
    # each Dense is an adder graph (cmm) of several levels: 2 registers each, or one per level
    depths = [_dense_depth(g, n) for n in g.nodes if n.op is Op.DENSE]
    assert min(depths) >= 2
    assert write_rtl(g, tmp_path / "b", pipeline_stages=2).latency_cycles == 4
    assert write_rtl(g, tmp_path / "c", pipeline_stages=99).latency_cycles == sum(depths)
    slow, fast = write_rtl(g, tmp_path / "d", clock_ns=50.0), write_rtl(g, tmp_path / "e", clock_ns=1.0)
    assert slow.latency_cycles < fast.latency_cycles and slow.ii == fast.ii == 1
    r = write_rtl(g, tmp_path / "f", reuse_factor=4)
    assert (r.ii, r.reuse_factor, r.latency_cycles) == (4, 4, 2 * (4 + 1))


def _dense_depth(g: Graph, n: Node) -> int:
    x, w, out = (g.t(name) for name in (*n.inputs[:2], n.outputs[0]))
    return dense_problem(n, x, w, None, out).graph().depth()


def test_bad_options_and_unsupported_types_are_user_errors(tmp_path):
    g = mlp()
    for kw in ({"reuse_factor": 0}, {"clock_ns": 2.0, "pipeline_stages": 1}, {"pipeline_stages": -1},
               {"clock_ns": 0.0}, {"top": "my top"}):
        with pytest.raises(L1MLError):
            write_rtl(g, tmp_path / "x", **kw)
    bad = mlp(out=FixedType(True, 8, 3, Rounding.TRUNC, Overflow.WRAP, narrow=True))
    with pytest.raises(L1MLError, match="narrow range with wrap-around"):
        write_rtl(bad, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_failed_write_leaves_the_previous_output_alone(tmp_path):
    write_rtl(mlp(), tmp_path / "rtl")
    before = {p.name: p.read_bytes() for p in (tmp_path / "rtl").iterdir()}
    with pytest.raises(L1MLError):
        write_rtl(mlp(out=FixedType(True, 8, 3, Rounding.TRUNC, Overflow.WRAP, narrow=True)),
                  tmp_path / "rtl")
    assert {p.name: p.read_bytes() for p in (tmp_path / "rtl").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["rtl"]  # no temporary directory left behind


@given(st.integers(-(2**40), 2**40))
def test_csd_digits_rebuild_the_constant_and_are_never_adjacent(c):
    digits = csd(c)
    assert sum((-1 if neg else 1) << s for s, neg in digits) == c
    shifts = [s for s, _ in digits]
    assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:], strict=False))
    assert len(digits) <= bin(abs(c)).count("1")


@settings(max_examples=200)
@given(st.lists(st.floats(0.1, 3.0), min_size=1, max_size=12), st.floats(0.0, 4.0), st.floats(0.5, 8.0))
def test_clock_rule_keeps_every_stage_within_the_period(levels, delay_in, clock):
    plan = plan_dense(levels, delay_in, PipelineConfig(clock_ns=clock))
    t = 0.0 if plan.input_reg else delay_in
    for k, d in enumerate(levels):
        t += d
        assert t <= clock + 1e-9 or t == d, (levels, plan)  # only a level longer than the period stands alone
        if plan.reg_mask >> k & 1:
            t = 0.0
    assert t == pytest.approx(plan.delay_out_ns)


@given(st.integers(1, 12), st.integers(0, 20))
def test_stage_rule_places_min_of_stages_and_levels_registers_ending_at_the_output(n, stages):
    plan = plan_dense([1.0] * n, 0.0, PipelineConfig(clock_ns=None, stages=stages))
    assert plan.latency == min(stages, n) and not plan.input_reg
    if stages:
        assert plan.reg_mask >> (n - 1) & 1  # the last level is registered


def test_example_jet_model_rtl_is_lint_clean(tmp_path, example_model):
    g = load_graph(example_model)
    for kw in ({}, {"reuse_factor": 4}):
        d = write_rtl(g, tmp_path / "rtl", **kw)
        assert lint([tmp_path / "rtl" / f for f in d.files], d.top) == [], kw
        dense = [n for n in g.nodes if n.op is Op.DENSE]
        if not kw:
            assert d.ii == 1 and d.latency_cycles >= len(dense)
        else:
            assert d.ii == 4 and d.latency_cycles == len(dense) * 5
