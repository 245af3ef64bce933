"""Property test: on random quantized MLPs the emulator equals qonnx's execute_onnx bit for bit."""

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l1ml.backends.emulate import Emulator, emulate, input_codes
from l1ml.frontend.qonnx import from_qonnx
from l1ml.models.random_mlp import build_qonnx, random_spec
from l1ml.passes import run_pipeline
from l1ml.verify.qonnx_level import classify, float32_inexact_nodes, run_qonnx
from l1ml.verify.vectors import make_vectors


def assert_equals_qonnx(g, path, x, what):
    """Equal to qonnx on every vector, except where qonnx's float32 cannot hold a value (HALF_UP just below
    a tie, a negative denormal under FLOOR with a scale above 1): there its float64 execution must equal
    the emulator (qonnx_level.classify)."""
    ref = run_qonnx(path, x).astype(np.float64)
    cmp = classify(g, path, {g.inputs[0]: x}, emulate(g, x), ref)
    assert len(cmp.mismatches) == 0 and not cmp.float64_error, f"{what}: vectors {cmp.mismatches}"


def compile_random(tmp_path, seed, **kw):
    rng = np.random.default_rng(seed)
    spec = random_spec(rng, **kw)
    path = tmp_path / f"m{seed}.onnx"
    onnx.save(build_qonnx(spec, rng), str(path))
    return spec, path, run_pipeline(from_qonnx(path))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1))
def test_emulator_equals_qonnx_on_random_mlps(tmp_path, seed):
    spec, path, g = compile_random(tmp_path, seed, max_bits=12, max_width=12)
    if float32_inexact_nodes(g):
        # qonnx computes in float32: beyond 24-bit accumulators it is the approximate side
        return
    x = make_vectors(g, 300, seed=seed)
    assert_equals_qonnx(g, path, x, f"spec={spec}")


def test_property_test_reaches_every_feature(tmp_path):
    """The generator above does produce the cases the property is about."""
    seen = set()
    for seed in range(60):
        spec = random_spec(np.random.default_rng(seed), max_bits=12, max_width=12)
        qs = [spec.inp] + [q for ls in spec.layers for q in (ls.weight, ls.bias, ls.act) if q is not None]
        seen |= {q.rounding for q in qs} | {("narrow", q.narrow) for q in qs} | {("signed", q.signed) for q in qs}
        seen |= {("bits", q.bits) for q in qs} | {("gemm", ls.gemm) for ls in spec.layers}
    for need in ["ROUND", "FLOOR", "DOWN", "HALF_UP", "HALF_DOWN", ("narrow", True), ("signed", False),
                 ("bits", 2), ("bits", 12), ("gemm", False), ("gemm", True)]:
        assert need in seen


def test_wide_accumulators_are_exact(tmp_path):
    """16-bit weights and activations overflow float32; the emulator must stay exact (int64/float64)."""
    from fractions import Fraction

    from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec

    spec = MLPSpec(24, QuantSpec(16, 8), (
        LayerSpec(20, QuantSpec(16, 12), QuantSpec(16, 4), True, None),
        LayerSpec(7, QuantSpec(16, 14), QuantSpec(16, 2), False, None),
    ))
    rng = np.random.default_rng(3)
    path = tmp_path / "wide.onnx"
    onnx.save(build_qonnx(spec, rng), str(path))
    g = run_pipeline(from_qonnx(path))
    assert float32_inexact_nodes(g), "this model is meant to need more than float32"
    x = make_vectors(g, 200, seed=1)
    codes = input_codes(g, x)[g.inputs[0]]
    got = Emulator(g).run_codes({g.inputs[0]: codes})[g.outputs[0]]
    # exact reference with Python integers, layer by layer
    d0, d1 = [n for n in g.nodes if n.op.value == "Dense"]
    xt = g.t(g.inputs[0]).type

    def dense(vals, node, xfrac):
        w, b = g.t(node.inputs[1]), g.t(node.inputs[2])
        out = []
        for row in vals:
            acc = [sum(Fraction(int(row[i])) * 2**-xfrac * int(w.data[i, j]) * Fraction(2) ** -w.type.frac
                       for i in range(w.shape[0])) + Fraction(int(b.data[j])) * Fraction(2) ** -b.type.frac
                   for j in range(w.shape[1])]
            out.append(acc)
        return out

    h = dense(codes, d0, xt.frac)
    h = [[max(v, 0) for v in row] for row in h]
    f1 = g.t(d0.outputs[0]).type.frac
    y = dense([[v * 2**f1 for v in row] for row in h], d1, f1)
    fo = g.t(g.outputs[0]).type.frac
    assert got.tolist() == [[int(v * 2**fo) for v in row] for row in y]


def test_saturating_inputs_hit_every_quantizer(tmp_path):
    """The corner vectors drive each requantiser of a deep model into saturation."""
    from l1ml.ir.ops import Op
    from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec

    spec = MLPSpec(8, QuantSpec(6, 2), tuple(
        LayerSpec(8, QuantSpec(4, 2), QuantSpec(6, 2), True, QuantSpec(4, 1, signed=False, rounding="FLOOR"))
        for _ in range(3)))
    path = tmp_path / "deep.onnx"
    onnx.save(build_qonnx(spec, np.random.default_rng(5)), str(path))
    g = run_pipeline(from_qonnx(path))
    x = make_vectors(g, 64)
    env = Emulator(g).run({g.inputs[0]: input_codes(g, x)[g.inputs[0]].astype(np.float32)})
    for n in g.nodes:
        if n.op is Op.QUANTIZE:
            t = g.t(n.outputs[0]).type
            assert (env[n.outputs[0]] == t.max_code).any(), n.name
    assert np.array_equal(emulate(g, x), run_qonnx(path, x))


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1))
def test_emulator_equals_qonnx_many(tmp_path, seed):
    spec, path, g = compile_random(tmp_path, seed, max_bits=16, max_width=24)
    if float32_inexact_nodes(g):
        return
    assert_equals_qonnx(g, path, make_vectors(g, 2000, seed=seed), f"spec={spec}")
