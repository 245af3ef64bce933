"""Property: random small QONNX models mixing the elementwise, reduction and slicing ops compile, and the
emulator equals an exact rational reference of the ONNX graph (tests/reference_fraction.py, Python
fractions) on corner vectors (0, extremes, +-inf, the input quantizer's rounding ties) and random ones.

The models are drawn from seeded numpy Generators: every seed is one model, so a failure names its seed.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import onnx
import pytest

from l1ml.backends.emulate import Emulator, input_codes
from l1ml.frontend.qonnx import from_qonnx
from l1ml.passes import run_pipeline
from l1ml.verify.vectors import make_vectors
from tests.onnx_build import Builder
from tests.reference_fraction import evaluate

N_MODELS = 40
VECTORS = 150
I64 = np.int64
ROUNDINGS = ["ROUND", "FLOOR", "DOWN", "HALF_UP", "HALF_DOWN"]
KINDS = ["sub", "sub_const", "mul", "square", "pow", "neg", "abs", "max", "min", "clip", "reduce", "slice",
         "split", "concat", "gemm", "relu"]


class RandomModel:
    """One random model: a pool of (tensor, width) pairs of shape (1, width); each step applies an op to
    tensors of the pool and adds its result. Quantizers after the steps keep every type a few bits wide."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.b = Builder([1, int(self.rng.integers(2, 9))])
        self.used: set[str] = set()

    def quant(self, src: str, signed: bool | None = None) -> str:
        r = self.rng
        signed = bool(r.random() < 0.7) if signed is None else signed
        bits = int(r.integers(2 if signed else 1, 8))
        return self.b.quant(src, bits, int(r.integers(-1, 5)), signed=signed, rounding=str(r.choice(ROUNDINGS)),
                            narrow=bool(r.random() < 0.2) and bits > 2)

    def dyadic(self, size) -> np.ndarray:
        """Random float32 constants: short dyadic ones and arbitrary ones (exact dyadic rationals too)."""
        r = self.rng
        v = np.where(r.random(size) < 0.6, np.round(r.uniform(-3, 3, size) * 8) / 8, r.uniform(-3, 3, size))
        return v.astype(np.float32)

    def const(self, n: int) -> str:
        shape = [(), (1,), (n,), (1, n)][int(self.rng.integers(4))]
        return self.b.const(self.dyadic(shape))

    def partner(self, pool, n: int) -> str:
        """A tensor of width n from the pool (a Gemm maps another width to n), or a broadcast constant."""
        same = [t for t, w in pool if w == n]
        if same and self.rng.random() < 0.5:
            return same[int(self.rng.integers(len(same)))]
        t, w = pool[int(self.rng.integers(len(pool)))]
        if w != n or self.rng.random() < 0.3:
            return self.gemm(t, w, n)
        return t

    def gemm(self, t: str, w: int, n: int) -> str:
        weights = self.b.quant(self.b.const(self.rng.uniform(-2, 2, (w, n))), 5, 3)
        return self.quant(self.b.op("MatMul", [t, weights]))

    def step(self, pool) -> list[tuple[str, int]]:
        r, b = self.rng, self.b
        kind = str(r.choice(KINDS))
        self.used.add(kind)
        a, n = pool[int(r.integers(len(pool)))]
        if kind == "sub":
            return [(b.op("Sub", [a, self.partner(pool, n)]), n)]
        if kind == "sub_const":
            c = self.const(n)
            return [(b.op("Sub", [c, a] if r.random() < 0.5 else [a, c]), n)]
        if kind == "mul":
            other = self.partner(pool, n) if r.random() < 0.6 else self.const(n)
            return [(self.quant(b.op("Mul", [a, other])), n)]
        if kind == "square":
            return [(b.op("Mul", [a, a]), n)]
        if kind == "pow":
            return [(b.op("Pow", [a, b.const(np.float32(2))]), n)]
        if kind in ("neg", "abs", "relu"):
            return [(b.op({"neg": "Neg", "abs": "Abs", "relu": "Relu"}[kind], [a]), n)]
        if kind in ("max", "min"):
            ops = [a, self.partner(pool, n)] + ([self.const(n)] if r.random() < 0.5 else [])
            return [(b.op("Max" if kind == "max" else "Min", ops), n)]
        if kind == "clip":
            lo = None if r.random() < 0.25 else float(self.dyadic(()))
            hi = None if r.random() < 0.25 else (lo or 0.0) + abs(float(self.dyadic(())))
            args = [a, "" if lo is None else b.const(np.float32(lo)), "" if hi is None else b.const(np.float32(hi))]
            return [(b.op("Clip", args), n)]
        if kind == "reduce":
            mean = n & (n - 1) == 0 and r.random() < 0.5  # a power-of-two count: exact
            if mean:
                return [(b.op("ReduceMean", [a], axes=[1], keepdims=1), 1)]
            return [(b.op("ReduceSum", [a, b.const([-1], dtype=I64)], keepdims=1), 1)]
        if kind == "slice":
            start, stop = int(r.integers(-n - 2, n)), int(r.integers(-n, n + 3))
            step = int(r.integers(1, 3))
            width = len(range(n)[slice(start, stop, step)])
            if width == 0:
                start, stop, width = 0, n, len(range(0, n, step))
            ins = [a, b.const([start], dtype=I64), b.const([stop], dtype=I64), b.const([1], dtype=I64),
                   b.const([step], dtype=I64)]
            return [(b.op("Slice", ins), width)]
        if kind == "split":
            if n < 2:
                return []
            k = int(r.integers(1, n))
            parts = b.op("Split", [a, b.const([k, n - k], dtype=I64)], n_out=2, axis=1)
            return [(parts[0], k), (parts[1], n - k)]
        if kind == "concat":
            t, w = pool[int(r.integers(len(pool)))]
            ins, width = [a, t], n + w
            if r.random() < 0.4:
                ins.append(b.const(self.dyadic((1, 2))))
                width += 2
            order = list(r.permutation(len(ins)))
            return [(b.op("Concat", [ins[i] for i in order], axis=-1), width)]
        # gemm
        m = int(r.integers(1, 7))
        return [(self.gemm(a, n, m), m)]

    def build(self) -> onnx.ModelProto:
        pool = [(self.quant("x", signed=True), self.b.in_shape[1])]
        for _ in range(int(self.rng.integers(3, 8))):
            new = self.step(pool)
            # keep types and widths small: requantise a grown result now and then, slice a wide one
            for t, w in new:
                if self.rng.random() < 0.4:
                    t = self.quant(t)
                if w > 12:
                    t, w = self.b.op("Slice", [t, self.b.const([0], dtype=I64), self.b.const([8], dtype=I64),
                                               self.b.const([1], dtype=I64)]), 8
                pool.append((t, w))
        # the output joins the last two results, so that fewer steps end up as dead code
        (t0, w0), (t1, w1) = pool[-2:] if len(pool) > 1 else pool * 2
        out = self.b.op("Concat", [t0, t1], axis=1)
        return self.b.model(self.quant(out) if self.rng.random() < 0.3 else out)


def exact_outputs(g, x: np.ndarray) -> list[list[Fraction]]:
    codes = Emulator(g).run_codes(input_codes(g, x))[g.outputs[0]]
    frac = g.t(g.outputs[0]).type.frac
    return [[Fraction(int(c)) / Fraction(2) ** frac for c in row.reshape(-1)] for row in codes]


@pytest.mark.parametrize("seed", range(N_MODELS))
def test_emulator_equals_the_exact_rational_reference(tmp_path, seed):
    model = RandomModel(seed).build()
    path = tmp_path / f"m{seed}.onnx"
    onnx.save(model, str(path))
    g = run_pipeline(from_qonnx(path))
    x = make_vectors(g, VECTORS, seed=seed)  # the corner vectors first, then random ones
    want = evaluate(onnx.load(str(path)), x)
    got = exact_outputs(g, x)
    want = [list(row.reshape(-1)) for row in want]
    bad = [i for i, (a, w) in enumerate(zip(got, want, strict=True)) if a != w]
    assert not bad, f"seed {seed}: vectors {bad[:5]}: emulator {got[bad[0]]} != exact {want[bad[0]]}"


def test_random_models_use_every_op():
    """The generator above does draw every kind of step across the seeds the test runs."""
    used: set[str] = set()
    for seed in range(N_MODELS):
        m = RandomModel(seed)
        m.build()
        used |= m.used
    assert used == set(KINDS)
