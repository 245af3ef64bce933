"""An exact rational evaluator of QONNX graphs (Python ``fractions``): the real-number semantics the
emulator must equal, written independently of l1ml.

Every tensor is a numpy object array of ``Fraction`` with the batch axis first, in the ONNX layout.
One function per ONNX op type in ``OPS`` (extend it with ``@op("Name")``). Quant is QONNX's
``q = clip(round_mode(x / s + z), lo, hi) - z) * s`` for any positive float scale ``s``, computed exactly.
A float32 input is its exact value; +-inf (which has none) becomes +-2**400, beyond every scale, so
the input quantizer saturates it as qonnx does. NaN is refused (l1ml refuses it too).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

INF = Fraction(2) ** 400

OPS: dict[str, Callable] = {}


def op(*names: str) -> Callable:
    def reg(fn: Callable) -> Callable:
        for n in names:
            OPS[n] = fn
        return fn

    return reg


def exact(a) -> np.ndarray:
    """Floats (or ints) -> an object array of their exact Fraction values."""
    a = np.asarray(a)

    def one(v):
        v = float(v) if a.dtype.kind == "f" else int(v)
        if isinstance(v, float) and math.isinf(v):
            return INF if v > 0 else -INF
        if isinstance(v, float) and math.isnan(v):
            raise ValueError("NaN has no exact value")
        return Fraction(v)

    return np.vectorize(one, otypes=[object])(a) if a.size else a.astype(object)


def round_mode(v: Fraction, mode: str) -> int:
    """QONNX rounding modes on an exact value."""
    fl = math.floor(v)
    rem = v - fl
    if mode == "FLOOR":
        return fl
    if mode == "CEIL":
        return math.ceil(v)
    if mode == "DOWN":  # toward zero
        return math.trunc(v)
    if mode == "UP":  # away from zero
        return fl if rem == 0 else (fl + 1 if v > 0 else fl)
    if rem != Fraction(1, 2):
        return fl + (rem > Fraction(1, 2))
    if mode in ("ROUND", "HALF_EVEN"):
        return fl + (fl % 2)
    if mode == "HALF_UP":  # ties away from zero
        return fl + 1 if v > 0 else fl
    if mode == "HALF_DOWN":  # ties toward zero
        return fl if v > 0 else fl + 1
    raise ValueError(f"rounding mode {mode}")


# ---- the evaluator ---------------------------------------------------------------------------------

class Ctx:
    """The graph's constants (initializers and Constant outputs) and the node being evaluated."""

    def __init__(self, graph):
        from onnx import numpy_helper

        self.consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        for n in graph.node:
            if n.op_type == "Constant":
                self.consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)

    def raw(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)


def attr(node, name: str, default=None):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            v = helper.get_attribute_value(a)
            return v.decode() if isinstance(v, bytes) else v
    return default


def evaluate(model, x: dict[str, np.ndarray] | np.ndarray) -> np.ndarray:
    """The exact value (object array of Fraction) of the model's first output for float inputs ``x``
    (ONNX layout, events first)."""
    g = model.graph
    ctx = Ctx(g)
    if not isinstance(x, dict):
        x = {next(i.name for i in g.input if i.name not in ctx.consts): x}
    env: dict[str, np.ndarray] = {k: exact(v) for k, v in x.items()}
    for name, v in ctx.consts.items():
        env[name] = exact(v)
    for node in g.node:
        if node.op_type == "Constant":
            continue
        fn = OPS.get(node.op_type)
        if fn is None:
            raise NotImplementedError(f"the reference has no rule for {node.op_type}")
        ins = [env[i] if i else None for i in node.input]
        outs = fn(node, ctx, ins)
        outs = outs if isinstance(outs, list) else [outs]
        for name, v in zip(node.output, outs, strict=True):
            env[name] = v
    return env[g.output[0].name]


def _ints(ctx: Ctx, node, idx: int, attr_name: str | None = None) -> list[int] | None:
    if len(node.input) > idx and node.input[idx]:
        return [int(i) for i in np.asarray(ctx.raw(node.input[idx])).reshape(-1)]
    if attr_name is not None and attr(node, attr_name) is not None:
        return [int(i) for i in attr(node, attr_name)]
    return None


# ---- ops -------------------------------------------------------------------------------------------

@op("Quant")
def _quant(node, ctx, ins):
    x, scale, zp, bits = ins
    bits = int(bits.reshape(-1)[0])
    signed, narrow = int(attr(node, "signed", 1)), int(attr(node, "narrow", 0))
    mode = str(attr(node, "rounding_mode", "ROUND")).upper()
    lo = -(2 ** (bits - 1)) + narrow if signed else 0
    hi = 2 ** (bits - 1) - 1 if signed else 2**bits - 1 - narrow
    s, z = np.broadcast_arrays(scale, zp)

    def q(v, s, z):
        return (min(max(round_mode(v / s + z, mode), lo), hi) - z) * s

    return np.vectorize(q, otypes=[object])(x, s, z)


@op("Identity", "Dropout")
def _identity(node, ctx, ins):
    return ins[0]


@op("Relu")
def _relu(node, ctx, ins):
    return np.vectorize(lambda v: max(v, Fraction(0)), otypes=[object])(ins[0])


@op("Gemm")
def _gemm(node, ctx, ins):
    a, b = ins[0], ins[1]
    if attr(node, "transA", 0):
        a = a.T
    if attr(node, "transB", 0):
        b = b.T
    y = np.matmul(a, b) * Fraction(attr(node, "alpha", 1.0))
    if len(ins) > 2 and ins[2] is not None:
        y = y + ins[2] * Fraction(attr(node, "beta", 1.0))
    return y


@op("MatMul")
def _matmul(node, ctx, ins):
    return np.matmul(ins[0], ins[1])


@op("Add")
def _add(node, ctx, ins):
    return ins[0] + ins[1]


@op("Sub")
def _sub(node, ctx, ins):
    return ins[0] - ins[1]


@op("Mul")
def _mul(node, ctx, ins):
    return ins[0] * ins[1]


@op("Pow")
def _pow(node, ctx, ins):
    e = ins[1].reshape(-1)
    assert e.size == 1 and e[0].denominator == 1 and e[0] >= 0, "the reference takes whole exponents"
    return np.vectorize(lambda v: v ** int(e[0]), otypes=[object])(ins[0])


@op("Neg")
def _neg(node, ctx, ins):
    return -ins[0]


@op("Abs")
def _abs(node, ctx, ins):
    return np.vectorize(abs, otypes=[object])(ins[0])


@op("Max", "Min")
def _max_min(node, ctx, ins):
    fn = max if node.op_type == "Max" else min
    arrs = np.broadcast_arrays(*[i for i in ins if i is not None])
    out = arrs[0]
    for a in arrs[1:]:
        out = np.vectorize(fn, otypes=[object])(out, a)
    return out


@op("Clip")
def _clip(node, ctx, ins):
    lo = ins[1] if len(ins) > 1 and ins[1] is not None else None
    hi = ins[2] if len(ins) > 2 and ins[2] is not None else None
    if len(ins) == 1:  # opset < 11: attributes; ONNX's defaults are -+FLT_MAX
        fmax = float(np.finfo(np.float32).max)
        lo, hi = exact(np.float32(attr(node, "min", -fmax))), exact(np.float32(attr(node, "max", fmax)))
    x = ins[0]
    if lo is not None:
        x = np.vectorize(max, otypes=[object])(x, lo.reshape(()))
    if hi is not None:
        x = np.vectorize(min, otypes=[object])(x, hi.reshape(()))
    return x


@op("ReduceSum", "ReduceMean")
def _reduce(node, ctx, ins):
    x = ins[0]
    axes = _ints(ctx, node, 1, "axes")
    keep = bool(attr(node, "keepdims", 1))
    if not axes:
        if attr(node, "noop_with_empty_axes", 0):
            return x
        axes = list(range(x.ndim))
    axes = tuple(sorted(a % x.ndim for a in axes))
    y = x.sum(axis=axes, keepdims=keep)
    if node.op_type == "ReduceMean":
        y = y / Fraction(math.prod(x.shape[a] for a in axes))
    return np.asarray(y, dtype=object)


@op("Slice")
def _slice(node, ctx, ins):
    x = ins[0]
    starts, ends = _ints(ctx, node, 1, "starts"), _ints(ctx, node, 2, "ends")
    axes = _ints(ctx, node, 3, "axes") or list(range(len(starts)))
    steps = _ints(ctx, node, 4) or [1] * len(starts)
    idx = [slice(None)] * x.ndim
    for a, s, e, st in zip(axes, starts, ends, steps, strict=True):
        d = x.shape[a % x.ndim]
        s, e = s + d if s < 0 else s, e + d if e < 0 else e  # ONNX: negative counts from the end, then clamp
        if st > 0:
            s, e = min(max(s, 0), d), min(max(e, 0), d)
        else:
            s, e = min(max(s, 0), d - 1), min(max(e, -1), d - 1)
            e = None if e < 0 else e
        idx[a % x.ndim] = slice(s, e, st)
    return x[tuple(idx)]


@op("Split")
def _split(node, ctx, ins):
    x = ins[0]
    axis = int(attr(node, "axis", 0)) % x.ndim
    d = x.shape[axis]
    sizes = _ints(ctx, node, 1, "split")
    if sizes is None:
        k = int(attr(node, "num_outputs", 0)) or len(node.output)
        c = -(-d // k)
        sizes = [c] * (k - 1) + [d - c * (k - 1)]
    cuts = np.cumsum(sizes)[:-1]
    return list(np.split(x, cuts, axis=axis))


@op("Concat")
def _concat(node, ctx, ins):
    # the whole batch is evaluated at once: a constant's batch axis of 1 stands for every event
    n = max(i.shape[0] for i in ins)
    ins = [np.broadcast_to(i, (n, *i.shape[1:])) if i.shape[0] == 1 else i for i in ins]
    return np.concatenate(ins, axis=int(attr(node, "axis")))


@op("Reshape")
def _reshape(node, ctx, ins):
    shape = [int(s) for s in np.asarray(ctx.raw(node.input[1])).reshape(-1)]
    shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return ins[0].reshape(shape)


@op("Flatten")
def _flatten(node, ctx, ins):
    a = int(attr(node, "axis", 1))
    return ins[0].reshape(math.prod(ins[0].shape[:a]), -1)
