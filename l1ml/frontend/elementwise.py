"""QONNX -> IR handlers for the elementwise, reduction and slicing ops (issue 14), one per ONNX op type.

They register into ``l1ml.frontend.qonnx.HANDLERS`` like the handlers there; this module only keeps
that file below its size. Every axis is mapped to the IR layout (an NCHW image is channels-last in
the IR) and every constant operand of a broadcasting op is stored in the IR layout without its batch
axis (``ir_layout_constants``), so that numpy broadcasting in the emulator and each backend sees the
same shapes. What cannot be exact (a general power, a reversed slice, a sum over the batch axis, a
computed clip bound) is refused here with the node and the remedy.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from l1ml.errors import NodeError
from l1ml.frontend.qonnx import TO_IR, _attr, _Builder, handles
from l1ml.ir.ops import (
    AffineAttrs,
    ClipAttrs,
    HardSigmoidAttrs,
    NoAttrs,
    Op,
    ReduceAttrs,
    SliceAttrs,
    TransposeAttrs,
)

#: ONNX ops whose operands broadcast (numpy rules) or are joined: their constants take the IR layout
BROADCAST_OPS = ("Add", "Sub", "Mul", "Max", "Min", "Concat")
#: ONNX's "to the end" for Slice: torch exports INT64_MAX
FLT_MAX = float(np.finfo(np.float32).max)


# ---- constants in the IR layout -----------------------------------------------------------------------

def _ir_constant(v: np.ndarray, rank: int) -> np.ndarray | None:
    """An ONNX constant broadcast against rank-``rank`` tensors, in the IR layout without the batch axis
    (None when its leading axis is not a broadcast batch axis of size 1)."""
    v = np.asarray(v)
    if v.ndim > rank:
        return None
    v = v.reshape((1,) * (rank - v.ndim) + v.shape)
    if rank == 0 or v.shape[0] != 1:
        return None
    if rank == 4:
        v = v.transpose(TO_IR)
    return np.ascontiguousarray(v[0])


def ir_layout_constants(model) -> None:
    """Rewrite every constant operand (or quantized constant operand) of a broadcasting op into the IR
    layout: full rank, channels-last for images, no batch axis. A constant that other ops also read is
    copied under a new name for the broadcasting op."""
    from onnx import numpy_helper

    def out_rank(node) -> int | None:
        s = model.get_tensor_shape(node.output[0])
        return None if s is None else len(s)

    def refuse(node, what: str, shape, rank: int):
        return NodeError(node.name, f"{what} of shape {list(shape)} does not broadcast against this op's {rank}-D "
                         "result with a batch axis of 1; export a constant of the per-event shape", node.name)

    taken = {t.name for t in model.graph.initializer} | {v.name for v in model.graph.value_info}
    done: set[str] = set()  # tensors already in the IR layout
    for node in model.graph.node:
        rank = out_rank(node) if node.op_type in BROADCAST_OPS else None
        if rank is None:
            continue
        for i, name in enumerate(node.input):
            if name in done:
                continue
            consumers = model.find_consumers(name)
            mine = all(c.op_type in BROADCAST_OPS and out_rank(c) == rank for c in consumers)
            init = model.get_initializer(name)
            if init is not None:
                v = _ir_constant(init, rank)
                if v is None:
                    raise refuse(node, f"constant '{name}'", np.shape(init), rank)
                if mine:
                    model.set_initializer(name, v.astype(init.dtype))
                    done.add(name)
                else:
                    target = f"{name}_ir"
                    while target in taken:
                        target += "_"
                    taken.add(target)
                    model.graph.initializer.append(numpy_helper.from_array(v.astype(init.dtype), target))
                    node.input[i] = target
                    done.add(target)
                continue
            prod = model.find_producer(name)
            if prod is None or prod.op_type != "Quant" or model.get_initializer(prod.input[0]) is None:
                continue
            if not mine or len(model.find_consumers(prod.input[0])) != 1:
                continue  # shared with other ops: left as it is (absorb_quant checks its shape)
            data = model.get_initializer(prod.input[0])
            v = _ir_constant(data, rank)
            if v is None:
                raise refuse(node, f"quantized constant '{name}'", np.shape(data), rank)
            scale = model.get_initializer(prod.input[1])
            if scale is not None and np.size(scale) > 1:
                s = _ir_constant(scale, rank)
                if s is None:
                    raise refuse(prod, "the per-channel scale", np.shape(scale), rank)
                model.set_initializer(prod.input[1], s.astype(scale.dtype))
            model.set_initializer(prod.input[0], v.astype(data.dtype))
            model.set_tensor_shape(name, list(v.shape))
            done.add(name)


# ---- helpers ------------------------------------------------------------------------------------------

def _rank(b: _Builder, name: str) -> int:
    return len(b.model.get_tensor_shape(name))


def _ir_axis(n, axis: int, rank: int) -> int:
    """An ONNX axis of a rank-``rank`` tensor as an axis of the IR's per-event array; the batch axis refused."""
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise NodeError(n.name, f"axis {axis} is out of range for a {rank}-D tensor; re-export the model", n.name)
    if a == 0:
        raise NodeError(n.name, f"{n.op_type} over the batch axis (axis {axis}); l1ml processes one event at a time: "
                        "use the per-event axes (dim=1 and up in torch)", n.name)
    return TO_IR.index(a) - 1 if rank == 4 else a - 1


def _const_ints(b: _Builder, n, idx: int, what: str) -> list[int] | None:
    """The constant integer vector input ``idx`` (None when the input is absent)."""
    if len(n.input) <= idx or not n.input[idx]:
        return None
    v = b.model.get_initializer(n.input[idx])
    if v is None:
        raise NodeError(n.name, f"the {what} ('{n.input[idx]}') are computed, not constants; l1ml builds fixed "
                        f"wiring: export constant {what} (Python integers in the model's forward)", n.name)
    return [int(i) for i in np.asarray(v).reshape(-1).astype(np.int64)]


def _chain(b: _Builder, n, op: Op, inputs: list[str]) -> None:
    """A binary op over several inputs as a chain of two-input nodes (ONNX Max/Min are variadic)."""
    if len(inputs) == 1:
        b.alias[n.output[0]] = b.tensor(inputs[0])
        return
    acc = inputs[0]
    for k, nxt in enumerate(inputs[1:], 1):
        if k == len(inputs) - 1:
            out = n.output[0]
        else:
            shape = np.broadcast_shapes(b.tensors[b.tensor(acc)].shape, b.tensors[b.tensor(nxt)].shape)
            out = b.fresh(f"{n.output[0]}_{op.value.lower()}{k}", tuple(int(d) for d in shape))
        b.add(op, n, [acc, nxt], [out], NoAttrs())
        acc = out


# ---- elementwise arithmetic -------------------------------------------------------------------------

@handles("Sub")
def _sub(b: _Builder, n) -> None:
    b.add(Op.SUB, n, [n.input[0], n.input[1]], [n.output[0]], NoAttrs())


@handles("Neg")
def _neg(b: _Builder, n) -> None:
    b.add(Op.NEG, n, [n.input[0]], [n.output[0]], NoAttrs())


@handles("Abs")
def _abs(b: _Builder, n) -> None:
    b.add(Op.ABS, n, [n.input[0]], [n.output[0]], NoAttrs())


@handles("Max", "Min")
def _max_min(b: _Builder, n) -> None:
    _chain(b, n, Op.MAX if n.op_type == "Max" else Op.MIN, [i for i in n.input if i])


@handles("Pow")
def _pow(b: _Builder, n) -> None:
    e = b.model.get_initializer(n.input[1])
    value = None if e is None or np.size(e) != 1 else float(np.asarray(e, dtype=np.float64).reshape(-1)[0])
    if value != 2.0:
        what = "a computed exponent" if e is None else f"exponent {np.asarray(e).reshape(-1).tolist()}"
        raise NodeError(n.name, f"Pow with {what}: only squaring (exponent 2) is an exact product; write the "
                        "power as products in the model (x * x, x * x * x) or use exponent 2", n.name)
    b.add(Op.MUL, n, [n.input[0], n.input[0]], [n.output[0]], NoAttrs())


def _clip_bound(b: _Builder, n, idx: int, attr: str) -> float | None:
    side = "min" if idx == 1 else "max"
    if len(n.input) > idx and n.input[idx]:
        v = b.model.get_initializer(n.input[idx])
        if v is None:
            raise NodeError(n.name, f"the Clip {side} bound ('{n.input[idx]}') is computed, not a constant; l1ml "
                            "clips at fixed bounds: export constant bounds (torch.clamp(x, min=-1.0, max=1.0) with "
                            "Python numbers, or nn.Hardtanh)", n.name)
        if np.size(v) != 1:
            raise NodeError(n.name, f"the Clip {side} bound has {np.size(v)} values; ONNX Clip takes one number "
                            "per bound: re-export the model", n.name)
        value = float(np.asarray(v, dtype=np.float64).reshape(-1)[0])
    else:
        a = _attr(n, attr)  # opset < 11: attributes, absent = unbounded (ONNX's default is +-FLT_MAX)
        if a is None:
            return None
        value = float(a)
    if math.isnan(value):
        raise NodeError(n.name, f"the Clip {side} bound is NaN; export a number", n.name)
    if math.isinf(value) or abs(value) >= FLT_MAX:
        return None  # no float32 value lies beyond it: that side is unbounded
    return value


@handles("Clip")
def _clip(b: _Builder, n) -> None:
    lo, hi = _clip_bound(b, n, 1, "min"), _clip_bound(b, n, 2, "max")
    if lo is not None and hi is not None and lo > hi:
        raise NodeError(n.name, f"Clip min {lo:g} is above max {hi:g}; export min <= max", n.name)
    if lo is None and hi is None:
        b.alias[n.output[0]] = b.tensor(n.input[0])
        return
    b.add(Op.CLIP, n, [n.input[0]], [n.output[0]], ClipAttrs(lo, hi))


# ---- reductions -------------------------------------------------------------------------------------

@handles("ReduceSum", "ReduceMean")
def _reduce(b: _Builder, n) -> None:
    rank = _rank(b, n.input[0])
    axes = _const_ints(b, n, 1, "reduction axes")
    if axes is None:
        a = _attr(n, "axes")
        axes = None if a is None else [int(i) for i in a]
    keepdims = bool(int(_attr(n, "keepdims", 1)))
    if not axes:
        if int(_attr(n, "noop_with_empty_axes", 0)):
            b.alias[n.output[0]] = b.tensor(n.input[0])
            return
        if not keepdims:
            raise NodeError(n.name, f"{n.op_type} without axes sums the batch axis away; l1ml processes one event at "
                            "a time: give the per-event axes (torch.sum(x, dim=1))", n.name)
        axes = list(range(1, rank))  # the batch axis (size 1) is kept: the same sums
    ir_axes = tuple(sorted({_ir_axis(n, a, rank) for a in axes}))
    in_shape = b.tensors[b.tensor(n.input[0])].shape
    count = math.prod(in_shape[a] for a in ir_axes)
    mean = n.op_type == "ReduceMean"
    exact_mean = mean and count & (count - 1) == 0
    dst = n.output[0]
    # a reduced image without keepdims is no longer an image: its axes are in ONNX order, the IR's sum
    # leaves them in channels-last order, so a Transpose puts them back
    perm = None
    if rank == 4 and not keepdims:
        onnx_left = [a for a in (1, 2, 3) if TO_IR.index(a) - 1 not in ir_axes]
        ir_left = [a for a in (2, 3, 1) if TO_IR.index(a) - 1 not in ir_axes]
        if onnx_left != ir_left:
            perm = tuple(ir_left.index(a) for a in onnx_left)
    steps = int(perm is not None) + int(mean and not exact_mean)
    if keepdims:
        summed = tuple(1 if i in ir_axes else d for i, d in enumerate(in_shape))
    else:
        summed = tuple(d for i, d in enumerate(in_shape) if i not in ir_axes)
    out = b.fresh(f"{dst}_sum", summed) if steps else dst
    b.add(Op.REDUCE_SUM, n, [n.input[0]], [out], ReduceAttrs(ir_axes, keepdims, exact_mean))
    if mean and not exact_mean:
        # a float stage: fuse_requant absorbs it into the quantizer that follows, or the mean is refused
        nxt = b.fresh(f"{dst}_mean", summed) if perm is not None else dst
        b.add(Op.AFFINE, n, [out], [nxt], AffineAttrs((str(Fraction(1, count)),), ("0",)))
        out = nxt
    if perm is not None:
        b.add(Op.TRANSPOSE, n, [out], [dst], TransposeAttrs(perm))


# ---- slicing ----------------------------------------------------------------------------------------

def _clamped(start: int, end: int, dim: int) -> tuple[int, int]:
    """ONNX Slice's index rules for a positive step: negative indices count from the end, then both are
    clamped to [0, dim]."""
    start, end = start + dim if start < 0 else start, end + dim if end < 0 else end
    return min(max(start, 0), dim), min(max(end, 0), dim)


def _slices(b: _Builder, n, src: str, dst: str, cuts: list[tuple[int, int, int, int]]) -> None:
    """SLICE nodes for (ir_axis, start, stop, step) cuts, chained; none at all: ``dst`` is ``src``."""
    cuts = [c for c in cuts if (c[1], c[2], c[3]) != (0, b.tensors[b.tensor(src)].shape[c[0]], 1)]
    if not cuts:
        b.alias[dst] = b.tensor(src)
        return
    shape = list(b.tensors[b.tensor(src)].shape)
    for k, (axis, start, stop, step) in enumerate(cuts):
        shape[axis] = len(range(start, stop, step))
        if shape[axis] == 0:
            raise NodeError(n.name, f"the slice {start}:{stop}:{step} of axis {axis} is empty; a tensor needs at "
                            "least one value per axis: fix the indices", n.name)
        out = dst if k == len(cuts) - 1 else b.fresh(f"{dst}_slice{k}", tuple(shape))
        b.add(Op.SLICE, n, [src], [out], SliceAttrs(axis, start, stop, step))
        src = out


@handles("Slice")
def _slice(b: _Builder, n) -> None:
    shape = [int(d) for d in b.model.get_tensor_shape(n.input[0])]
    rank = len(shape)
    if len(n.input) >= 3:  # opset 10+: starts, ends, axes, steps as inputs
        starts, ends = _const_ints(b, n, 1, "slice starts"), _const_ints(b, n, 2, "slice ends")
        axes, steps = _const_ints(b, n, 3, "slice axes"), _const_ints(b, n, 4, "slice steps")
    else:  # opset 1-9: attributes
        starts, ends = [int(i) for i in _attr(n, "starts", [])], [int(i) for i in _attr(n, "ends", [])]
        a = _attr(n, "axes")
        axes, steps = None if a is None else [int(i) for i in a], None
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise NodeError(n.name, "Slice starts, ends, axes and steps differ in length; re-export the model", n.name)
    cuts = []
    for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
        if step <= 0:
            raise NodeError(n.name, f"Slice with step {step}: l1ml slices forward only (step >= 1); reverse the order "
                            "in the weights of the layer that reads it (or of the one before) instead of flipping "
                            "the tensor", n.name)
        ir = _ir_axis(n, axis, rank)
        a = axis + rank if axis < 0 else axis
        start, end = _clamped(start, end, shape[a])
        cuts.append((ir, start, end, step))
    if len({c[0] for c in cuts}) != len(cuts):
        raise NodeError(n.name, "Slice names an axis twice; re-export the model", n.name)
    _slices(b, n, n.input[0], n.output[0], cuts)


@handles("Split")
def _split(b: _Builder, n) -> None:
    shape = [int(d) for d in b.model.get_tensor_shape(n.input[0])]
    rank = len(shape)
    axis = int(_attr(n, "axis", 0))
    ir = _ir_axis(n, axis, rank)
    dim = shape[axis + rank if axis < 0 else axis]
    parts = len(n.output)
    sizes = _const_ints(b, n, 1, "split sizes")
    if sizes is None and _attr(n, "split") is not None:
        sizes = [int(s) for s in _attr(n, "split")]
    if sizes is None:
        k = int(_attr(n, "num_outputs", 0)) or parts
        if k != parts:
            raise NodeError(n.name, f"num_outputs is {k} but the node has {parts} outputs; re-export the model", n.name)
        chunk = -(-dim // k) if _attr(n, "num_outputs") is not None else dim // k
        if _attr(n, "num_outputs") is None and dim % k:
            raise NodeError(n.name, f"splitting {dim} values into {k} equal parts; give the split sizes", n.name)
        sizes = [chunk] * (k - 1) + [dim - chunk * (k - 1)]
    if len(sizes) != parts or sum(sizes) != dim or any(s <= 0 for s in sizes):
        raise NodeError(n.name, f"split sizes {sizes} do not cut {dim} values into {parts} non-empty parts; "
                        "re-export the model", n.name)
    start = 0
    for out, size in zip(n.output, sizes, strict=True):
        if out:
            _slices(b, n, n.input[0], out, [(ir, start, start + size, 1)])
        start += size


# ---- float stages: monotone activations, decided exactly inside the quantizer that follows -------------

@handles("Sigmoid", "Tanh")
def _sigmoid_tanh(b: _Builder, n) -> None:
    b.add(Op.SIGMOID if n.op_type == "Sigmoid" else Op.TANH, n, [n.input[0]], [n.output[0]], NoAttrs())


@handles("HardSigmoid")
def _hardsigmoid(b: _Builder, n) -> None:
    attrs = HardSigmoidAttrs(float(_attr(n, "alpha", 0.2)), float(_attr(n, "beta", 0.5)))
    b.add(Op.HARDSIGMOID, n, [n.input[0]], [n.output[0]], attrs)
