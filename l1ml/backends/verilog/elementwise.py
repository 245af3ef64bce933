"""Structure of the elementwise and reduction nodes in the Verilog design, shared by the renderer and the
cost model so that both see the same wiring, the same multipliers and the same register plan.

Elementwise nodes (Sub, Neg, Abs, Max, Min, Clip, Mul) are combinational like Add: each adds its
delay (``node_delay_ns``) to the running total of the pipeline's clock rule. A ReduceSum is a module of
adder trees pipelined like a Dense layer's sums (``reduce_plan``). Slice and Concat are wiring.
"""

from __future__ import annotations

import numpy as np

from l1ml.backends.verilog.arith import clog2, signed_width
from l1ml.backends.verilog.pipeline import DensePlan, PipelineConfig, plan_dense, worst_const_mult_ns
from l1ml.errors import NodeError
from l1ml.ir.graph import Node, Tensor
from l1ml.ir.ops import ConcatAttrs, Op, SliceAttrs
from l1ml.ir.semantics import clip_codes
from l1ml.ir.types import FixedType, aligned_range


class MulKind:
    """How a Mul node is built (``mul_kind``)."""

    MASK = "mask"  # a 1-bit 0/1 validity mask: a mux per run of elements
    CONST = "const"  # by constant codes: one shift-add or DSP constant multiplier per element
    SQUARE = "square"  # x * x: one l1ml_mult per element, both ports on x
    TENSOR = "tensor"  # two computed tensors: one l1ml_mult per element


def mul_kind(node: Node, ins: list[Tensor], mask: int | None) -> str:
    """The Mul structure: a mask product if ``mask`` (``render.mask_operand``) names one, else by constant
    (exactly one operand constant), a square (the same tensor twice) or a general product."""
    if mask is not None:
        return MulKind.MASK
    if ins[0].is_const != ins[1].is_const:
        return MulKind.CONST
    if node.inputs[0] == node.inputs[1]:
        return MulKind.SQUARE
    return MulKind.TENSOR


def broadcast_index(t: Tensor, n: int, out_shape: tuple[int, ...], node: Node) -> np.ndarray:
    """For each output element (row-major), the index of the element of ``t`` it reads (numpy broadcasting)."""
    try:
        return np.broadcast_to(np.arange(n).reshape(t.shape), out_shape).reshape(-1)
    except ValueError as err:
        raise NodeError(node, f"cannot broadcast {t.shape} to {out_shape}") from err


def const_codes(t: Tensor) -> np.ndarray:
    """A constant tensor's codes, flat and row-major."""
    if t.type is None or t.data is None:
        raise NodeError(t.name, "constant has no fixed-point type; run the l1ml passes first")
    return np.asarray(t.data, dtype=np.int64).reshape(-1)


def const_mult_ns(codes: list[int], cfg: PipelineConfig) -> float:
    """The slowest constant multiplier among ``codes`` (zeros need none), as a Dense layer's multiply level."""
    return worst_const_mult_ns(codes, cfg)


def node_delay_ns(op: Op, cfg: PipelineConfig, node: Node | None = None) -> float:
    """Logic delay an elementwise node adds (Mul by constants: ``const_mult_ns``; a mask: ``relu_ns``)."""
    d = cfg.delays
    if op in (Op.SUB, Op.NEG):
        return d.adder_ns
    if op is Op.ABS:
        return d.adder_ns + d.relu_ns  # a negation, then the select
    if op in (Op.MAX, Op.MIN):
        return d.max_ns
    if op is Op.CLIP:  # the compares run in parallel, the selects in a row
        return d.max_ns + (d.relu_ns if node is not None and node.attrs.lo is not None and node.attrs.hi is not None
                           else 0.0)
    if op is Op.MUL:
        return d.dsp_mult_ns
    raise ValueError(f"{op} is not an elementwise node")


def clip_bounds(node: Node, x: FixedType) -> tuple[int, int | None, int | None]:
    """Clip's grid and the bounds (codes on it) that can act on ``x``: a bound beyond x's range never does
    and is left out, so that a huge bound costs no comparator (the emulator drops it too)."""
    frac, lo, hi = clip_codes(node, x)
    xlo, xhi = aligned_range(x, frac)
    return frac, None if lo is None or lo <= xlo else lo, None if hi is None or hi >= xhi else hi


def clip_bound_width(lo: int | None, hi: int | None) -> int:
    """The C_W parameter of ``l1ml_clip``: a signed word holding both bounds."""
    vals = [b for b in (lo, hi) if b is not None] or [0]
    return signed_width(min(vals), max(vals))


def slice_index(node: Node, shape: tuple[int, ...]) -> np.ndarray:
    """The input element of each output element of a Slice."""
    a: SliceAttrs = node.attrs
    index = [slice(None)] * a.axis + [slice(a.start, a.stop, a.step)]
    return np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)[tuple(index)].reshape(-1)


def concat_axis(node: Node, out: Tensor) -> int:
    """The Concat axis as a non-negative index into the non-batch shape."""
    a: ConcatAttrs = node.attrs
    rank = len(out.shape)
    if not -rank <= a.axis < rank:
        raise NodeError(node, f"Concat on axis {a.axis} of shape {out.shape}: no such axis")
    return a.axis % rank


def concat_index(node: Node, ins: list[Tensor], out: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """For each output element of a Concat: which input it comes from and that input's element index."""
    axis = concat_axis(node, out)
    src = np.concatenate([np.full(t.shape, k, dtype=np.int64) for k, t in enumerate(ins)], axis=axis)
    elem = np.concatenate([np.arange(t.size, dtype=np.int64).reshape(t.shape) for t in ins], axis=axis)
    return src.reshape(-1), elem.reshape(-1)


def reduce_groups(node: Node, x: Tensor) -> np.ndarray:
    """(outputs, count) input element indices: row k lists the elements summed into output element k."""
    axes = tuple(sorted(a % len(x.shape) for a in node.attrs.axes))
    kept = [a for a in range(len(x.shape)) if a not in axes]
    idx = np.arange(x.size).reshape(x.shape).transpose(kept + list(axes))
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    return idx.reshape(-1, count)


def reduce_plan(count: int, cfg: PipelineConfig, delay_in_ns: float) -> DensePlan:
    """Registers of a ReduceSum's trees: the Dense rule with a free level 0 (the terms), then adder levels."""
    return plan_dense([0.0] + [cfg.delays.adder_ns] * clog2(max(count, 1)), delay_in_ns, cfg)


def reduce_term_width(x: FixedType) -> int:
    """The signed width of one tree term (an unsigned code gets a zero sign bit)."""
    return x.width + (0 if x.signed else 1)


__all__ = ["MulKind", "broadcast_index", "clip_bound_width", "clip_bounds", "concat_axis", "concat_index", "const_codes",
           "const_mult_ns", "mul_kind", "node_delay_ns", "reduce_groups", "reduce_plan", "reduce_term_width",
           "slice_index"]
