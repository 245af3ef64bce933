"""Property: random models with float-scale quantizers (per tensor and per channel), float biases, trained-
looking BatchNorms and every rounding mode compile to an emulator that equals an exact rational reference
(Python ``fractions``, the QONNX real-number semantics) on corner and random vectors."""

from fractions import Fraction as F

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l1ml.backends.emulate import emulate
from l1ml.frontend.qonnx import from_qonnx
from l1ml.ir.quantize import QONNX_ROUNDING, round_fraction
from l1ml.models.random_mlp import qonnx_model
from l1ml.passes import run_pipeline
from l1ml.verify.vectors import make_vectors

EPS = 2.0**-10  # var = r**2 - EPS exactly in float32: sqrt(var + eps) = r is rational, so is the reference


def _f32(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)


def build(rng: np.random.Generator, modes: list[str]):
    """x -> Quant(float s) -> Gemm(float per-channel W, float bias) -> BatchNorm -> Relu -> Quant(float s)
    -> Gemm(float W, float bias) -> Quant(signed float s). Returns (model, spec for the reference)."""
    from onnx import helper, numpy_helper

    nodes, inits, spec = [], [], {}

    def const(name, v):
        inits.append(numpy_helper.from_array(_f32(v), name))
        spec[name] = _f32(v)
        return name

    def quant(src, name, scale, bits, signed, narrow, mode):
        spec[name] = dict(scale=_f32(scale), bits=bits, signed=signed, narrow=narrow, mode=mode)
        nodes.append(helper.make_node("Quant", [src, const(f"{name}_s", scale), const(f"{name}_z", 0.0),
                                                const(f"{name}_b", bits)], [name], name=name,
                                      domain="qonnx.custom_op.general", signed=int(signed), narrow=int(narrow),
                                      rounding_mode=mode))
        return name

    n_in, n_h, n_out = 5, 6, 3
    x = quant("x", "q_in", rng.uniform(0.01, 0.2), int(rng.integers(4, 9)), True, False, modes[0])
    w0 = rng.normal(size=(n_h, n_in))  # Gemm transB layout; per-channel scales on the output axis
    quant(const("w0", w0), "q_w0", rng.uniform(0.005, 0.05, size=(n_h, 1)), 6, True, True, "ROUND")
    nodes.append(helper.make_node("Gemm", [x, "q_w0", const("b0", rng.normal(size=n_h))], ["fc0"], transB=1))
    r = rng.integers(3, 16, size=n_h) / 8
    for name, v in (("g", rng.uniform(-1.5, 1.5, n_h)), ("beta", rng.normal(size=n_h)),
                    ("mu", rng.normal(size=n_h)), ("var", r * r - EPS)):
        const(name, v)
    nodes.append(helper.make_node("BatchNormalization", ["fc0", "g", "beta", "mu", "var"], ["bn"], epsilon=EPS))
    nodes.append(helper.make_node("Relu", ["bn"], ["relu"]))
    h = quant("relu", "q_h", rng.uniform(0.02, 0.3), int(rng.integers(3, 8)), False, False, modes[1])
    quant(const("w1", rng.normal(size=(n_out, n_h))), "q_w1", rng.uniform(0.01, 0.05), 8, True, True, "ROUND")
    nodes.append(helper.make_node("Gemm", [h, "q_w1", const("b1", rng.normal(size=n_out))], ["fc1"], transB=1))
    y = quant("fc1", "q_out", rng.uniform(0.02, 0.2), 8, True, bool(rng.integers(2)), modes[2])
    nodes.append(helper.make_node("Identity", [y], ["y"]))
    return qonnx_model(nodes, inits, "float_scales", [1, n_in], [1, n_out]), spec


def ref_quant(v: F, q: dict) -> F:
    s = F(float(q["scale"].reshape(-1)[0])) if q["scale"].size == 1 else None
    assert s is not None
    lo = -(2 ** (q["bits"] - 1)) + q["narrow"] if q["signed"] else 0
    hi = 2 ** (q["bits"] - 1) - 1 if q["signed"] else 2 ** q["bits"] - 1 - q["narrow"]
    k = round_fraction(v / s, QONNX_ROUNDING[q["mode"]])
    return min(max(k, lo), hi) * s


def weights(spec: dict, w: str, q: str) -> list[list[F]]:
    """The quantized weights w[out][in] as exact rationals (per-channel scales on the out axis)."""
    qs = spec[q]
    out = []
    for o, row in enumerate(spec[w]):
        s = F(float(qs["scale"].reshape(-1)[o if qs["scale"].size > 1 else 0]))
        qq = dict(qs, scale=np.float32(s))
        out.append([ref_quant(F(float(v)), dict(qq, scale=_f32(float(s)))) for v in row])
    return out


def reference(spec: dict, x: np.ndarray) -> np.ndarray:
    """The exact real-number value of the model's output for each event."""
    w0, w1 = weights(spec, "w0", "q_w0"), weights(spec, "w1", "q_w1")
    out = []
    for ev in x:
        a = [ref_quant(F(float(v)), spec["q_in"]) if np.isfinite(v) else
             ref_quant(F(10**40 if v > 0 else -(10**40)), spec["q_in"]) for v in ev]
        h = []
        for o, row in enumerate(w0):
            z = sum(wi * ai for wi, ai in zip(row, a, strict=True)) + F(float(spec["b0"][o]))
            root = F(int(round((float(spec["var"][o]) + EPS) ** 0.5 * 8)), 8)
            assert root * root == F(float(spec["var"][o])) + F(EPS)
            z = (z - F(float(spec["mu"][o]))) * F(float(spec["g"][o])) / root + F(float(spec["beta"][o]))
            h.append(ref_quant(max(z, F(0)), spec["q_h"]))
        y = [ref_quant(sum(wi * hi for wi, hi in zip(row, h, strict=True)) + F(float(spec["b1"][o])), spec["q_out"])
             for o, row in enumerate(w1)]
        out.append([float(v) for v in y])
    return np.array(out)


MODES = st.sampled_from(["ROUND", "FLOOR", "HALF_UP", "HALF_DOWN", "DOWN"])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31), modes=st.lists(MODES, min_size=3, max_size=3))
def test_float_scale_models_equal_the_exact_rational_reference(tmp_path_factory, seed, modes):
    import onnx

    model, spec = build(np.random.default_rng(seed), modes)
    path = tmp_path_factory.mktemp("prop") / "m.onnx"
    onnx.save(model, str(path))
    g = run_pipeline(from_qonnx(path))
    x = make_vectors(g, 300, seed=seed % 1000)
    assert np.array_equal(emulate(g, x), reference(spec, x))
