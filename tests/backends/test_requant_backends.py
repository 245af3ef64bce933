"""Requant nodes through hls4ml (g++ C-simulation) and Verilog (Verilator under cocotb): both equal the
emulator's ``requant_codes`` bit for bit.

The graphs are built in the IR with random valid RequantAttrs (``l1ml.models.random_requant``): inputs of
4 to 40 bits, signed and unsigned; outputs of 1 to 16 bits, signed, unsigned and narrow; per-tensor and
per-channel maps; thresholds below, inside and above the input range, repeated, increasing and decreasing;
multipliers of 0 to 30 bits of either sign, addends and shifts of any size (products beyond 64 bits).
Inputs of at most 12 bits are checked on every code; wider ones on their extremes, the codes around every
threshold and clip boundary, and random codes. One C-simulation and one Verilator build cover them all.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest

from l1ml.backends.emulate import Emulator
from l1ml.backends.hls4ml import build_hls_model
from l1ml.backends.verilog import write_rtl
from l1ml.errors import L1MLError, NodeError
from l1ml.estimate import estimate
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import Op, RequantAttrs
from l1ml.ir.quantize import to_real
from l1ml.ir.types import FixedType
from l1ml.models.random_requant import RequantInput, random_attrs, requant_codes_for, requant_graph
from l1ml.verify.hls_level import build_csim
from l1ml.verify.rtl import port_spec, run_stream
from l1ml.verify.runner import lint

N_VECTORS = 4096  # every code of a 12-bit input


def _out(signed: bool, width: int, frac: int = 0, narrow: bool = False) -> FixedType:
    return FixedType(signed, width, frac, narrow=narrow)


INPUTS = [
    RequantInput("a", FixedType(True, 12, 3), (3,), (
        ("thresholds", True, _out(False, 4)), ("thresholds", False, _out(True, 6, 2, narrow=True)),
        ("multiply", True, _out(True, 8, 4)), ("multiply", False, _out(False, 1)))),
    RequantInput("b", FixedType(False, 7, 0), (2,), (
        ("thresholds", True, _out(True, 3)), ("multiply", True, _out(False, 5, narrow=True)))),
    RequantInput("c", FixedType(True, 4, 1), (4,), (
        ("thresholds", True, _out(False, 2)), ("multiply", True, _out(True, 16, -1)))),
    RequantInput("d", FixedType(True, 40, 20), (3,), (
        ("thresholds", True, _out(True, 16, 8)), ("multiply", True, _out(True, 12, 3)),
        ("multiply", False, _out(False, 9, narrow=True)))),
    RequantInput("e", FixedType(False, 33, 10), (2,), (
        ("thresholds", False, _out(False, 8)), ("multiply", True, _out(True, 2)))),
]


def chained(g: Graph, seed: int) -> Graph:
    """``g`` plus a Requant of each form reading a Requant's output: an input that arrives through logic (so the
    clock rule may register it) and is read by a layer and a port at once."""
    rng = np.random.default_rng(seed)
    tensors, nodes, outputs = dict(g.tensors), list(g.nodes), list(g.outputs)
    for k, (src, form, out) in enumerate((("a_m2", "thresholds", _out(True, 5)), ("d_m1", "multiply", _out(False, 7)),
                                          ("e_t0", "multiply", _out(True, 10, 2)))):
        x = g.t(src)
        y = f"chain{k}"
        tensors[y] = Tensor(y, x.shape, out)
        attrs = random_attrs(rng, x.type, out, x.shape[-1], form)
        nodes.append(Node(f"rq_{y}", Op.REQUANT, [src], [y], attrs, {"onnx_name": f"/{y}/Requant"}))
        outputs.append(y)
    chain = Graph(g.name, tensors, nodes, list(g.inputs), outputs)
    chain.verify(typed=True)
    return chain


@pytest.fixture(scope="module")
def case() -> tuple[Graph, dict[str, np.ndarray], dict[str, np.ndarray]]:
    g = chained(requant_graph(INPUTS, seed=14), seed=15)
    codes = requant_codes_for(g, N_VECTORS, seed=5)
    return g, codes, Emulator(g).run_codes(codes)


def test_the_case_reaches_the_corners(case):
    g, codes, _ = case
    attrs = [n.attrs for n in g.nodes]
    ths = [(a, n) for n in g.nodes for a in [n.attrs] if a.form == "thresholds"]
    assert any(s == -1 for a, _ in ths for s in a.step) and any(s == 1 for a, _ in ths for s in a.step)
    assert any(len(set(t)) < len(t) for a, _ in ths for t in a.thresholds), "no repeated threshold"
    assert any(t and t[0] < g.t(n.inputs[0]).type.min_code for a, n in ths for t in a.thresholds)
    assert any(t and t[-1] > g.t(n.inputs[0]).type.max_code for a, n in ths for t in a.thresholds)
    mults = [m for a in attrs if a.form == "multiply" for m in a.mult]
    assert min(mults) < 0 and max(abs(m) for m in mults).bit_length() >= 20
    wide = [n for n in g.nodes if n.attrs.form == "multiply" and g.t(n.inputs[0]).type.width >= 33]
    assert any(max(abs(m) for m in n.attrs.mult).bit_length() + g.t(n.inputs[0]).type.width > 64 for n in wide)
    for name in ("a", "b", "c"):  # at most 12 bits: every code in every element
        t = g.t(name).type
        for col in codes[name].reshape(N_VECTORS, -1).T:
            assert set(col.tolist()) == set(range(t.min_code, t.max_code + 1))
    for name in ("d", "e"):
        t = g.t(name).type
        assert {t.min_code, t.max_code} <= set(codes[name].reshape(-1).tolist())


def _csim(prj: Path, g: Graph, codes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The C-simulation's output codes: inputs as exact doubles, one array per output."""
    lib = ctypes.CDLL(str(build_csim(prj)))
    fn = lib.myproject_double
    ptr = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
    fn.argtypes, fn.restype = [ptr] * (len(g.inputs) + len(g.outputs)), None
    n = len(codes[g.inputs[0]])
    xs = [np.ascontiguousarray(to_real(codes[i], g.t(i).type).reshape(n, -1), dtype=np.float64) for i in g.inputs]
    ys = [np.zeros((n, g.t(o).size)) for o in g.outputs]
    for k in range(n):
        fn(*(x[k] for x in xs), *(y[k] for y in ys))
    out = {}
    for o, y in zip(g.outputs, ys, strict=True):
        t = g.t(o).type
        c = y * 2.0**t.frac
        assert (c == np.round(c)).all()
        out[o] = c.astype(np.int64).reshape(n, *g.t(o).shape)
    return out


def _compare(g: Graph, got: dict[str, np.ndarray], expected: dict[str, np.ndarray], codes, where: str) -> None:
    for o in g.outputs:
        bad = np.flatnonzero((got[o] != expected[o]).reshape(len(got[o]), -1).any(axis=1))
        if len(bad):
            k = bad[0]
            node = g.producer(o)
            x = {**codes, **expected}[node.inputs[0]]  # a graph input, or an earlier Requant's output
            raise AssertionError(f"{where}: {o} ({node.attrs}) differs on {len(bad)} vectors; first: input "
                                 f"{x[k].tolist()} -> {got[o][k].tolist()}, emulator "
                                 f"{expected[o][k].tolist()}")


def test_hls_csim_equals_emulator(case, tmp_path):
    g, codes, expected = case
    build_hls_model(g, tmp_path / "prj").write()
    src = (tmp_path / "prj/firmware/parameters.h").read_text()
    forms = [n.attrs.form for n in g.nodes]
    assert src.count("nnet::l1ml_requant_thresholds_config") == forms.count("thresholds")
    assert src.count("nnet::l1ml_requant_multiply_config") == forms.count("multiply")
    _compare(g, _csim(tmp_path / "prj", g, codes), expected, codes, "hls")


def _rtl(g: Graph, codes, expected, d: Path, **options) -> tuple[int, object]:
    design = write_rtl(g, d / "rtl", **options)
    res = run_stream([d / "rtl" / f for f in design.files], design.top, d / "build",
                     {port_spec(p): codes[p.tensor] for p in design.inputs}, [port_spec(p) for p in design.outputs],
                     ii=1, timeout_cycles=design.latency_cycles + 200)
    got = {p.tensor: res.outputs[p.port].reshape(-1, *p.shape) for p in design.outputs}
    _compare(g, got, expected, codes, f"rtl {options}")
    assert res.report.n_vectors == len(codes[g.inputs[0]])
    assert res.report.latency_cycles == design.latency_cycles
    return design.latency_cycles, design


def test_rtl_equals_emulator_pipelined_and_lint_clean(case, tmp_path):
    g, codes, expected = case
    latency, design = _rtl(g, codes, expected, tmp_path, clock_ns=1.0)
    assert latency >= 2, "a 1 ns clock should register inside the Requant nodes"
    assert lint([tmp_path / "rtl" / f for f in design.files], design.top) == []
    assert estimate(g, backend="verilog", clock_ns=1.0).latency_cycles == latency


@pytest.mark.slow
@pytest.mark.parametrize("options", [{"pipeline_stages": 0}, {"clock_ns": 5.0}, {"clock_ns": 0.4}])
def test_rtl_equals_emulator_under_other_register_plans(case, tmp_path, options):
    g, codes, expected = case
    latency, _ = _rtl(g, codes, expected, tmp_path, **options)
    est = estimate(g, backend="verilog", clock_ns=options.get("clock_ns", 5.0),
                   pipeline_stages=options.get("pipeline_stages"))
    assert est.latency_cycles == latency


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_other_random_requant_graphs_at_both_levels(tmp_path, seed):
    g = chained(requant_graph(INPUTS, seed=seed), seed=seed)
    codes = requant_codes_for(g, 1500, seed=seed)
    expected = Emulator(g).run_codes(codes)
    build_hls_model(g, tmp_path / "prj").write()
    _compare(g, _csim(tmp_path / "prj", g, codes), expected, codes, "hls")
    _rtl(g, codes, expected, tmp_path, clock_ns=2.0)


def _one(attrs: RequantAttrs, x: FixedType = FixedType(True, 8, 0), out: FixedType = FixedType(False, 4, 0),
         shape: tuple[int, ...] = (2,)) -> Graph:
    t = {"x": Tensor("x", shape, x), "y": Tensor("y", shape, out)}
    return Graph("bad", t, [Node("rq", Op.REQUANT, ["x"], ["y"], attrs, {"onnx_name": "/rq/Requant"})], ["x"], ["y"])


BAD = [
    (RequantAttrs("thresholds", thresholds=((3, 1),), base=(0,), step=(1,)), "ascending"),
    (RequantAttrs("thresholds", thresholds=((1,),), base=(0,), step=(2,)), "step 2"),
    (RequantAttrs("thresholds", thresholds=((1,), (2,)), base=(0,), step=(1, 1)), "threshold lists"),
    (RequantAttrs("thresholds", thresholds=((-5, 0, 5),), base=(14,), step=(1,)), "outside the output type"),
    (RequantAttrs("thresholds", thresholds=((1,),) * 3, base=(0,) * 3, step=(1,) * 3), "3 channels"),
    (RequantAttrs("multiply", mult=(3,), add=(0,), shift=-1), "negative"),
    (RequantAttrs("multiply", mult=(3, 4), add=(0,), shift=1), "addends"),
    (RequantAttrs("lookup"), "form 'lookup'"),
]


@pytest.mark.parametrize(("attrs", "message"), BAD)
def test_an_inconsistent_requant_is_refused_by_every_backend_naming_the_node(tmp_path, attrs, message):
    g = _one(attrs)
    for make in (lambda: build_hls_model(g, tmp_path / "hls"), lambda: write_rtl(g, tmp_path / "rtl"),
                 lambda: estimate(g, backend="verilog"), lambda: estimate(g, backend="hls4ml")):
        with pytest.raises(NodeError, match=message) as err:
            make()
        assert "'rq'" in str(err.value)
    assert not (tmp_path / "rtl").exists() and not (tmp_path / "hls").exists()


def test_thresholds_outside_the_input_range_cost_no_hardware(tmp_path):
    """Thresholds at or below the smallest code fold into the offset, above the largest vanish."""
    inside = RequantAttrs("thresholds", thresholds=((-3, 4),), base=(2,), step=(1,))
    folded = RequantAttrs("thresholds", thresholds=((-900, -128, -3, 4, 128, 400),), base=(0,), step=(1,))
    a, b = write_rtl(_one(inside), tmp_path / "a"), write_rtl(_one(folded), tmp_path / "b")
    assert a == b
    for f in a.files:
        assert (tmp_path / "a" / f).read_text() == (tmp_path / "b" / f).read_text()
    assert ".T(16'h4fd)" in (tmp_path / "b/l1ml_top.v").read_text()  # -3 and 4 as 8-bit codes
    x = np.arange(-128, 128).reshape(-1, 1).repeat(2, axis=1)
    assert (Emulator(_one(inside)).run_codes({"x": x})["y"] == Emulator(_one(folded)).run_codes({"x": x})["y"]).all()


def test_a_product_too_wide_for_ap_int_is_refused(tmp_path):
    g = _one(RequantAttrs("multiply", mult=(3,), add=(0,), shift=1100), x=FixedType(True, 40, 0),
             out=FixedType(True, 8, 0))
    with pytest.raises(L1MLError, match="more than ap_int's 1024"):
        build_hls_model(g, tmp_path / "hls")


def _requant_models():
    """requant-core's Brevitas fixtures (tests/passes/requant_models.py), loaded by path."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "passes" / "requant_models.py"
    spec = importlib.util.spec_from_file_location("requant_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_brevitas_sigmoid_model_is_exact_at_hls_and_rtl(tmp_path):
    """Default float quantizers and an 8-bit Sigmoid output: multiply Requants inside, thresholds at the end."""
    from l1ml.compile import CompileOptions, compile_model
    from l1ml.verify.levels import Level, run_levels

    model = _requant_models().sigmoid_mlp(tmp_path / "sigmoid.onnx")
    compile_model(model, tmp_path / "out", CompileOptions())
    g = Graph.load(tmp_path / "out" / "model.l1ml.json")
    assert {n.attrs.form for n in g.nodes if n.op is Op.REQUANT} == {"thresholds", "multiply"}
    for r in run_levels(tmp_path / "out", [Level.HLS, Level.RTL], 3000, seed=2):
        assert r.vectors == 3000 and r.mismatches == 0, r.first_mismatches
