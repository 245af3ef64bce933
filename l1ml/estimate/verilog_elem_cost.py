"""Cost of the elementwise and reduction nodes of l1ml's Verilog (``render.py``'s Sub, Neg, Abs, Max, Min,
Clip, Mul, ReduceSum, Slice), priced as the renderer builds them: the same operand alignment, the same
multiplier choice per element (``elementwise.mul_kind``, ``arith.multiplier_kind``) and the same adder-tree
register plan (``elementwise.reduce_plan``), so the latency is exact. ``VerilogCost``'s rules call these.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from l1ml.backends.verilog.arith import MultKind, multiplier_kind, signed_width
from l1ml.backends.verilog.elementwise import (
    MulKind,
    broadcast_index,
    clip_bound_width,
    clip_bounds,
    const_codes,
    const_mult_ns,
    mul_kind,
    node_delay_ns,
    reduce_groups,
    reduce_plan,
    reduce_term_width,
    slice_index,
)
from l1ml.backends.verilog.pipeline import split_tree_mask
from l1ml.backends.verilog.render import mask_operand
from l1ml.estimate.bits import Word, carry_cells, needed_bits
from l1ml.estimate.parts import DSP_A_BITS, DSP_B_BITS
from l1ml.estimate.result import Resources
from l1ml.estimate.verilog_prims import (
    DSP_MIN_PRODUCT_BITS,
    Coefficients,
    Val,
    adder,
    adder_tree,
    delay_line,
    dsp_product,
    shift_add,
    word_of,
)
from l1ml.ir.graph import Node, Tensor
from l1ml.ir.ops import Op
from l1ml.ir.semantics import reduce_count
from l1ml.ir.types import FixedType, aligned_range

if TYPE_CHECKING:
    from l1ml.estimate.verilog_cost import VerilogCost


def aligned(model: VerilogCost, ins: list[Tensor], v: list[Val], res: Resources) -> tuple[int, float]:
    """``render.operands``: every computed input delayed to the latest one's cycle (a delay line registers
    it, so its delay restarts at 0); returns that cycle and the largest delay of the aligned inputs."""
    lat = max((b.latency for b in v if not b.const), default=0)
    delay = 0.0
    for t, b in zip(ins, v, strict=True):
        if b.const:
            continue
        res += delay_line(b.n * t.type.width, lat - b.latency)
        delay = max(delay, 0.0 if lat > b.latency else b.delay_ns)
    return lat, delay


def compare_select(res: Resources, compare_w: int, select_w: int, model: VerilogCost) -> None:
    """One compare (a carry chain of ``compare_w`` bits) and a ``select_w``-bit 2:1 select."""
    k = model.k
    res.lut += k.adder_lut * compare_w + k.max_select_lut_per_bit * select_w
    res.carry4 += carry_cells(compare_w, 4)
    res.carry8 += carry_cells(compare_w, 8)


def two_operand(model: VerilogCost, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
    """Sub, Max, Min and the products of two computed tensors (or a square), per output element."""
    out = outs[0]
    res = Resources()
    lat, delay = aligned(model, ins, v, res)
    per = Resources()
    if node.op is Op.MUL:
        detail = tensor_product(ins[0].type, ins[1].type, out.type, per, model.k)
    else:
        a, b = (word_of(t, out.type.frac) for t in ins)
        if node.op is Op.SUB:
            adder(per, a, b, out.type.width, model.k, subtract=True)
            detail = "a subtractor per element"
        else:
            ranges = [aligned_range(t.type, out.type.frac) for t in ins]
            cw = signed_width(min(r[0] for r in ranges), max(r[1] for r in ranges))
            compare_select(per, cw, out.type.width, model)
            detail = "a compare and select per element"
    res += per.scaled(out.size)
    model.row(node, 0, res, detail)
    return [Val(out.type, out.size, lat, delay + node_delay_ns(node.op, model.cfg, node))]


def tensor_product(a: FixedType, b: FixedType, out: FixedType, res: Resources, k: Coefficients) -> str:
    """``l1ml_mult``: a DSP when the product is wide enough (the ``dsp_product`` rule), else LUTs."""
    a_bits, b_bits = a.width + 1, b.width + 1
    if min(out.width, needed_bits(out.min_code, out.max_code) + 1) >= DSP_MIN_PRODUCT_BITS:
        res.dsp += min(math.ceil(a_bits / DSP_A_BITS) * math.ceil(b_bits / DSP_B_BITS),
                       math.ceil(b_bits / DSP_A_BITS) * math.ceil(a_bits / DSP_B_BITS))
        return "a DSP multiplier per element"
    # the extension bits are zeros or sign copies that synthesis folds (Yosys: 120 LUTs for eight 4 x 3 bits)
    res.lut += k.soft_mult_lut * a.width * b.width / 2
    return "a LUT multiplier per element"


def mul(model: VerilogCost, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
    """``render.mul``: a mask product, constant multipliers, or ``l1ml_mult`` per element."""
    kind = mul_kind(node, ins, mask_operand(node, ins))
    if kind == MulKind.CONST:
        return mul_const(model, node, ins, outs, v)
    if kind != MulKind.MASK:
        return two_operand(model, node, ins, outs, v)
    out = outs[0]
    res = Resources()
    lat = max(b.latency for b in v)
    delay = 0.0
    for t, b in zip(ins, v, strict=True):
        res += delay_line(b.n * t.type.width, lat - b.latency)
        delay = max(delay, 0.0 if lat > b.latency and not b.const else b.delay_ns)
    res.lut += model.k.relu_lut_per_bit * out.size * out.type.width
    model.row(node, 0, res, "x * mask: an AND per bit")
    return [Val(out.type, out.size, lat, delay + model.cfg.delays.relu_ns)]


def mul_const(model: VerilogCost, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
    """``render.mul_const``: one shift-add or DSP constant multiplier per output element with a non-zero code."""
    k = 0 if ins[0].is_const else 1
    xt, x, out = ins[1 - k], v[1 - k], outs[0]
    codes = const_codes(ins[k])
    per = [int(codes[i]) for i in broadcast_index(ins[k], len(codes), out.shape, node)]
    res = Resources()
    n_shift = n_dsp = 0
    for c in per:
        if c == 0:
            continue
        if multiplier_kind(c) is MultKind.SHIFT_ADD:
            shift_add(xt.type, c, out.type.width, res, model.k)
            n_shift += 1
        else:
            dsp_product(xt.type, c, out.type.width, res, model.k)
            n_dsp += 1
    model.row(node, 0, res, f"{n_shift} shift-add, {n_dsp} DSP constant multipliers")
    return [Val(out.type, out.size, x.latency, x.delay_ns + const_mult_ns(per, model.cfg))]


def one_operand(model: VerilogCost, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
    """Neg (a negation), Abs (a negation and a select) and Clip (a compare and select per bound)."""
    x, xt, out = v[0], ins[0].type, outs[0].type
    per = Resources()
    if node.op is Op.CLIP:
        frac, lo, hi = clip_bounds(node, xt)
        xlo, xhi = aligned_range(xt, frac)
        bounds = [b for b in (lo, hi) if b is not None]
        cw = max(signed_width(xlo, xhi), clip_bound_width(lo, hi))
        for _ in bounds:  # a compare with a constant is a LUT tree, no carry chain
            per.lut += math.ceil(cw / model.k.detect_inputs) + model.k.max_select_lut_per_bit * out.width
        detail = f"{len(bounds)} compare(s) and select(s) per element"
    else:
        if node.op is Op.NEG or xt.signed:  # |x| of unsigned codes is x itself: wiring
            # a negation: an inverter per input bit into a carry chain (Yosys synth_xilinx: 8 LUTs for 8 bits)
            per.lut += model.k.adder_lut * xt.width
            per.carry4 += carry_cells(out.width, 4)
            per.carry8 += carry_cells(out.width, 8)
        if node.op is Op.ABS and xt.signed:  # and the select (Yosys: 15 LUTs for an 8-bit |x|)
            per.lut += model.k.relu_lut_per_bit * out.width
        detail = "a negation" + (" and a select" if node.op is Op.ABS else "") + " per element"
    model.row(node, 0, per.scaled(x.n), detail)
    return [Val(out, x.n, x.latency, x.delay_ns + node_delay_ns(node.op, model.cfg, node))]


def reduce_sum(model: VerilogCost, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
    """``reduce.render_reduce_sum``: an adder tree per output element, pipelined like a Dense layer's sums."""
    x, out = ins[0], outs[0]
    n, _ = reduce_count(node, x)
    plan = reduce_plan(n, model.cfg, v[0].delay_ns)
    res = Resources()
    if plan.input_reg:
        res.ff += x.size * x.type.width
    mask, extra = split_tree_mask(plan.reg_mask, n)
    per = Resources()
    adder_tree([Word(x.type.min_code, x.type.max_code)] * n, reduce_term_width(x.type), out.type.width, mask, per,
               model.k)
    per += delay_line(out.type.width, extra)
    groups = len(reduce_groups(node, x))
    res += per.scaled(groups)
    model.row(node, plan.latency, res, f"{groups} adder tree(s) of {n} terms")
    return [Val(out.type, out.size, v[0].latency + plan.latency, plan.delay_out_ns)]


def slice_(model: VerilogCost, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
    """Wiring."""
    model.row(node, 0, Resources(), "wiring only")
    return [Val(outs[0].type, len(slice_index(node, ins[0].shape)), v[0].latency, v[0].delay_ns, v[0].const)]


__all__ = ["aligned", "mul", "one_operand", "reduce_sum", "slice_", "two_operand"]
