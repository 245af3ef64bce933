"""Prices of a Requant node in both backends, from the same ``requant_plan`` problem the generators read.

Verilog (``backends.verilog.requant``), per element that is not constant:
* thresholds: one comparator against a constant per kept threshold (a carry chain over the input width)
  and the ``l1ml_adder_tree`` over the weights and the offset, registers as the plan puts them;
* multiply: the constant product (``shift_add`` or ``dsp_product``, as for a Dense weight), the adder of the
  addend, a comparator per clip side that can be reached and the output multiplexer of the clip.
hls4ml (``backends.hls4ml_requant``): the same comparisons and count, or one multiplier per element (a DSP
when both operands are wide, a shift-add otherwise), in one pipelined function with an output register.
"""

from __future__ import annotations

import math

from l1ml.backends.requant_plan import MultiplyChannel, RequantProblem, ThresholdChannel
from l1ml.backends.verilog.arith import MultKind, clog2, csd, multiplier_kind
from l1ml.backends.verilog.pipeline import DensePlan, split_tree_mask
from l1ml.backends.verilog.requant import tree_terms
from l1ml.estimate.bits import Word, carry_cells
from l1ml.estimate.result import Resources
from l1ml.estimate.verilog_prims import Coefficients, adder, adder_tree, delay_line, dsp_product, shift_add


def _comparator(res: Resources, bits: int, lut_per_bit: float) -> None:
    """x >= constant (or <, >): one carry chain over the word."""
    res.lut += lut_per_bit * bits
    res.carry4 += carry_cells(bits, 4)
    res.carry8 += carry_cells(bits, 8)


def _verilog_thresholds(p: RequantProblem, c: ThresholdChannel, plan: DensePlan, k: Coefficients) -> Resources:
    res = Resources()
    for _ in c.thresholds:
        _comparator(res, p.x.width, k.adder_lut)
    terms = [Word(min(0, w), max(0, w)) for w in c.weights] + ([Word.constant(c.offset)] if c.offset else [])
    mask, extra = split_tree_mask(plan.reg_mask, len(terms))
    adder_tree(terms, p.term_width(), p.out.width, mask, res, k)
    res += delay_line(p.out.width, extra)
    return res


def _verilog_multiply(p: RequantProblem, c: MultiplyChannel, plan: DensePlan, k: Coefficients) -> Resources:
    res = Resources()
    pw = p.product_width(c)
    if multiplier_kind(c.mult) is MultKind.SHIFT_ADD:
        prod = shift_add(p.x, c.mult, pw, res, k)
        if plan.reg_mask & 1:
            res.ff += prod.register_bits(pw)
    else:
        prod = dsp_product(p.x, c.mult, pw, res, k)  # a registered product uses the DSP's register
    if c.add:
        adder(res, prod, Word.constant(c.add), p.sum_width(c), k)
    for side in (c.clip_lo, c.clip_hi):
        if side:
            _comparator(res, p.z_width(c), k.adder_lut)
    if c.clip_lo or c.clip_hi:
        res.lut += k.requant_lut_per_bit * p.out.width
    return res


def verilog_requant(p: RequantProblem, plan: DensePlan, k: Coefficients) -> tuple[Resources, str]:
    """Resources of ``render_requant`` for problem ``p`` under register plan ``plan``, and a detail line."""
    res = Resources()
    if plan.input_reg:
        res.ff += p.n * p.x.width
    per_channel: list[Resources] = []
    for c in p.channels:
        if c.const is not None:
            per_channel.append(Resources())
        elif p.form == "thresholds":
            per_channel.append(_verilog_thresholds(p, c, plan, k))
        else:
            per_channel.append(_verilog_multiply(p, c, plan, k))
    for i in range(p.n):
        res += per_channel[p.channel(i)]
    live = [p.channels[p.channel(i)] for i in range(p.n) if p.channels[p.channel(i)].const is None]
    if p.form == "thresholds":
        detail = f"{sum(len(c.thresholds) for c in live)} comparators of {p.x.width} bits, count trees"
    else:
        dsp = sum(1 for c in live if multiplier_kind(c.mult) is MultKind.DSP)
        detail = f"{len(live) - dsp} shift-add, {dsp} DSP mult, add-shift-clip"
    regs = bin(plan.reg_mask).count("1") + int(plan.input_reg)
    return res, f"{detail}, {regs} register level(s)"


def hls_requant(p: RequantProblem, clock_ns: float, dsp_min_bits: int, adder_ns: float, mult_ns_lut: float,
                mult_ns_dsp: float, add_lut_per_bit: float) -> tuple[Resources, int, str]:
    """Resources, cycles (without the output register) and a detail line of the L1MLRequant layer."""
    res = Resources()
    live = [p.channels[p.channel(i)] for i in range(p.n) if p.channels[p.channel(i)].const is None]
    if p.form == "thresholds":
        for c in live:
            for _ in c.thresholds:
                _comparator(res, p.x.width, add_lut_per_bit)
            res.adder(max(tree_terms(c) - 1, 0) * p.out.width, add_lut_per_bit)
        depth = clog2(max((tree_terms(c) for c in live), default=1))
        cycles = math.ceil((1 + depth) * adder_ns / clock_ns) if live else 0
        return res, cycles, f"{sum(len(c.thresholds) for c in live)} comparators of {p.x.width} bits"
    n_dsp = 0
    worst = 0.0
    for c in live:
        mw = max(c.mult.bit_length() + 1, 2)
        if p.x.width >= dsp_min_bits and mw >= dsp_min_bits:
            res.dsp += math.ceil((p.x.width + 1) / 27) * math.ceil(mw / 18)
            n_dsp += 1
            worst = max(worst, mult_ns_dsp)
        else:
            res.lut += max(len(csd(c.mult)) - 1, 0) * p.product_width(c) * add_lut_per_bit
            worst = max(worst, mult_ns_lut)
        if c.add:
            res.adder(p.sum_width(c), add_lut_per_bit)
        sides = int(c.clip_lo) + int(c.clip_hi)
        for _ in range(sides):
            _comparator(res, p.z_width(c), add_lut_per_bit)
        res.lut += p.out.width if sides else 0
    cycles = math.ceil((worst + 2 * adder_ns) / clock_ns) if live else 0
    return res, cycles, f"{len(live)} multipliers ({n_dsp} DSP), add-shift-clip"
