"""The emulator's elementwise rules (Sub, Neg, Abs, Max, Min, Clip, ReduceSum, Slice) on hand-built typed
graphs: every code dtype (float32 up to 24 bits, float64 up to 53, int64 beyond), the extreme codes of
each type, constants that broadcast, keepdims; compared with Python-integer arithmetic on the exact
values (Fractions)."""

from fractions import Fraction

import numpy as np
import pytest

from l1ml.backends.emulate import Emulator
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import ClipAttrs, NoAttrs, Op, ReduceAttrs, SliceAttrs
from l1ml.ir.types import FixedType
from l1ml.passes.infer_types import infer_types
from l1ml.passes.type_constants import type_constants

# (signed, width, frac): one per code dtype, and one at the 62-bit limit
TYPES = [(True, 8, 3), (False, 20, -2), (True, 40, 10), (True, 60, 5), (False, 58, 0)]


def extreme_codes(t: FixedType, shape: tuple[int, ...], n: int = 64, seed: int = 0) -> np.ndarray:
    """Events whose codes are the type's min, max, 0, +-1 and random codes, mixed per element."""
    rng = np.random.default_rng(seed)
    special = np.array(sorted({t.min_code, t.max_code, 0, 1, t.max_code - 1, max(t.min_code, -1)}), dtype=object)
    codes = rng.integers(t.min_code, t.max_code, size=(n, *shape), endpoint=True, dtype=np.int64).astype(object)
    pick = rng.random((n, *shape)) < 0.5
    codes[pick] = rng.choice(special, size=int(pick.sum()))
    codes[0], codes[1] = t.min_code, t.max_code
    return codes


def run(g: Graph, codes: dict[str, np.ndarray]) -> np.ndarray:
    type_constants(g)
    infer_types(g)
    g.verify(typed=True)
    return Emulator(g).run_codes({k: v.astype(np.int64) for k, v in codes.items()})[g.outputs[0]]


def values(codes: np.ndarray, frac: int) -> np.ndarray:
    return np.vectorize(lambda c: Fraction(int(c)) / Fraction(2) ** frac, otypes=[object])(codes)


def as_codes(vals: np.ndarray, frac: int) -> np.ndarray:
    def code(v):
        c = v * Fraction(2) ** frac
        assert c.denominator == 1, "the result is not on the output grid"
        return int(c)
    return np.vectorize(code, otypes=[object])(vals)


def unary_graph(op: Op, t: FixedType, shape, attrs=None, out_shape=None) -> Graph:
    tensors = {"x": Tensor("x", shape, t), "y": Tensor("y", shape if out_shape is None else out_shape)}
    return Graph("g", tensors, [Node("n", op, ["x"], ["y"], attrs or NoAttrs())], ["x"], ["y"])


def binary_graph(op: Op, ta: FixedType, tb: FixedType | None, shape, const=None) -> Graph:
    """a (op) b with b a second input of type tb, or the float constant ``const`` (typed by type_constants)."""
    tensors = {"a": Tensor("a", shape, ta), "y": Tensor("y", shape)}
    if const is None:
        tensors["b"] = Tensor("b", shape, tb)
        inputs = ["a", "b"]
    else:
        tensors["b"] = Tensor("b", np.shape(const), None, np.asarray(const, dtype=np.float64))
        inputs = ["a"]
    return Graph("g", tensors, [Node("n", op, ["a", "b"], ["y"], NoAttrs())], inputs, ["y"])


@pytest.mark.parametrize("ty", TYPES)
@pytest.mark.parametrize("op,fn", [(Op.NEG, lambda v: -v), (Op.ABS, abs)])
def test_unary(ty, op, fn):
    t = FixedType(*ty)
    if op is Op.NEG and t.width == 62:
        pytest.skip("negating a 62-bit minimum needs 63 bits: refused by type inference")
    g = unary_graph(op, t, (3,))
    x = extreme_codes(t, (3,))
    got = run(g, {"x": x})
    out = g.t("y").type
    want = as_codes(np.vectorize(fn, otypes=[object])(values(x, t.frac)), out.frac)
    assert got.astype(object).tolist() == want.tolist()


@pytest.mark.parametrize("ta", TYPES)
@pytest.mark.parametrize("tb", [(True, 6, 7), (False, 30, 2), (True, 50, -3), (True, 61, 6)])
@pytest.mark.parametrize("op", [Op.SUB, Op.MAX, Op.MIN])
def test_binary_tensors(ta, tb, op):
    a_t, b_t = FixedType(*ta), FixedType(*tb)
    g = binary_graph(op, a_t, b_t, (4,))
    try:
        type_constants(g)
        infer_types(g)
    except Exception as e:  # noqa: BLE001 - only the documented refusal of a too wide result is acceptable
        assert "more than 62" in str(e)
        return
    a, b = extreme_codes(a_t, (4,), seed=1), extreme_codes(b_t, (4,), seed=2)
    got = run(g, {"a": a, "b": b})
    fn = {Op.SUB: lambda x, y: x - y, Op.MAX: max, Op.MIN: min}[op]
    want = np.vectorize(fn, otypes=[object])(values(a, a_t.frac), values(b, b_t.frac))
    assert got.astype(object).tolist() == as_codes(want, g.t("y").type.frac).tolist()


@pytest.mark.parametrize("ta", TYPES)
@pytest.mark.parametrize("const", [[0.375, -1.5, 6.0, 0.0], [[2.0**-20], [3.0], [-(2.0**30)]], 0.1, -(2.0**40)])
@pytest.mark.parametrize("op", [Op.SUB, Op.MAX, Op.MIN, Op.ADD, Op.MUL])
def test_binary_with_broadcast_constant(ta, const, op):
    a_t = FixedType(*ta)
    c = np.asarray(const, dtype=np.float64)
    shape = (3, 4) if c.ndim == 2 else (4,)
    g = binary_graph(op, a_t, None, shape, const=c)
    try:
        type_constants(g)
        infer_types(g)
    except Exception as e:  # noqa: BLE001
        assert "more than 62" in str(e)
        return
    a = extreme_codes(a_t, shape, seed=3)
    got = run(g, {"a": a})
    fn = {Op.SUB: lambda x, y: x - y, Op.MAX: max, Op.MIN: min, Op.ADD: lambda x, y: x + y,
          Op.MUL: lambda x, y: x * y}[op]
    cv = np.broadcast_to(np.vectorize(lambda v: Fraction(float(v)), otypes=[object])(c), (len(a), *shape))
    want = np.vectorize(fn, otypes=[object])(values(a, a_t.frac), cv)
    assert got.astype(object).tolist() == as_codes(want, g.t("y").type.frac).tolist()


@pytest.mark.parametrize("ty", TYPES)
@pytest.mark.parametrize("lo,hi", [(-1.25, 3.0), (None, 0.0), (0.1, None), (-(2.0**70), 2.0**70), (2.0**-30, 2.0**-29),
                                   (1e6, 1e6 + 2), (-(2.0**40), 2.0**-20), (2.0**-126, 2.0**-125)])
def test_clip(ty, lo, hi):
    t = FixedType(*ty)
    g = unary_graph(Op.CLIP, t, (5,), ClipAttrs(lo, hi))
    try:
        infer_types(g)
    except Exception as e:  # noqa: BLE001
        assert "more than 62" in str(e)
        return
    x = extreme_codes(t, (5,), seed=4)
    got = run(g, {"x": x})

    def clip(v):
        if lo is not None:
            v = max(v, Fraction(lo))
        if hi is not None:
            v = min(v, Fraction(hi))
        return v

    want = np.vectorize(clip, otypes=[object])(values(x, t.frac))
    assert got.astype(object).tolist() == as_codes(want, g.t("y").type.frac).tolist()


@pytest.mark.parametrize("ty", TYPES[:4])
@pytest.mark.parametrize("axes,keepdims,mean", [((0,), False, False), ((1,), True, False), ((0, 1), False, True),
                                                ((1,), False, True), ((0, 1), True, False)])
def test_reduce_sum(ty, axes, keepdims, mean):
    t = FixedType(*ty)
    shape = (4, 2)
    out_shape = tuple(1 if i in axes else d for i, d in enumerate(shape)) if keepdims else \
        tuple(d for i, d in enumerate(shape) if i not in axes)
    g = unary_graph(Op.REDUCE_SUM, t, shape, ReduceAttrs(axes, keepdims, mean), out_shape)
    try:
        infer_types(g)
    except Exception as e:  # noqa: BLE001
        assert "more than 62" in str(e)
        return
    x = extreme_codes(t, shape, seed=5)
    got = run(g, {"x": x})
    n = int(np.prod([shape[a] for a in axes]))
    v = values(x, t.frac).sum(axis=tuple(a + 1 for a in axes), keepdims=keepdims)
    want = v / n if mean else v
    assert got.shape == (len(x), *out_shape)
    assert got.astype(object).tolist() == as_codes(want, g.t("y").type.frac).tolist()


@pytest.mark.parametrize("ty", TYPES[:3])
def test_slice(ty):
    t = FixedType(*ty)
    g = unary_graph(Op.SLICE, t, (3, 7), SliceAttrs(1, 1, 6, 2), (3, 3))
    x = extreme_codes(t, (3, 7), seed=6)
    got = run(g, {"x": x})
    assert got.astype(object).tolist() == x[:, :, 1:6:2].tolist()
