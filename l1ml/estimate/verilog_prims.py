"""The primitives of the Verilog cost model, priced bit by bit as the templates build them: constant
multipliers (shift-add or DSP), adder trees, delay lines, weight ROMs, max trees and the requantiser
element, with the fitted ``Coefficients``. ``verilog_cost`` (the walk over the IR), ``verilog_elem_cost``,
``requant_cost`` and ``verilog_rows_cost`` all price through these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from l1ml.backends.verilog.arith import clog2, csd, product_range, signed_width
from l1ml.backends.verilog.cmm import AdderGraph, AddOp
from l1ml.backends.verilog.pipeline import GraphPlan
from l1ml.errors import NodeError
from l1ml.estimate.bits import Word, add_words, carry_cells, needed_bits, trailing_zeros
from l1ml.estimate.parts import DSP_A_BITS, DSP_B_BITS
from l1ml.estimate.result import Resources
from l1ml.ir.graph import Tensor
from l1ml.ir.types import FixedType, Overflow, Rounding

#: Yosys and Vivado put a product in a DSP only from this output width on; narrower ones stay in LUTs.
DSP_MIN_PRODUCT_BITS = 9
#: SRL16E/SRLC32E depth: a delay line of 3 or more cycles without reset becomes shift-register LUTs.
SRL_MIN_DEPTH, SRL_DEPTH = 3, 32


@dataclass(frozen=True)
class Coefficients:
    """The fitted part of the model: LUTs that logic synthesis adds around (or removes from) adders."""

    adder_lut: float = 1.0  # LUTs per information bit of a carry-chain adder
    requant_lut_per_bit: float = 1.0  # the output multiplexer of a saturating or rounding requantiser
    relu_lut_per_bit: float = 1.0  # a ReLU not merged into a following requantiser
    detect_inputs: int = 5  # overflow-detect inputs one LUT absorbs beside the data bit
    mux_lut_inputs: int = 4  # R:1 multiplexer inputs per LUT (a LUT6 is a 4:1 mux)
    soft_mult_lut: float = 2.8  # LUTs per two partial-product bits of a multiplier kept out of DSPs
    # Yosys sums the DSP outputs of a reuse layer in one carry-save tree; beyond four products it costs
    # more than a tree of ripple adders: this many LUTs per product bit for each product past the fourth
    # (fitted on reuse layers with 2 to 16 products per neuron)
    dsp_sum_extra: float = 0.7
    # the select of a max-pooling stage beyond its comparator: fitted on the two max pools of the tiny CNN
    # in tests/backends/test_verilog_conv.py (16-bit and 7-bit words; docs/estimation.md), not validated
    max_select_lut_per_bit: float = 0.6
    # a GNN lane's input multiplexer (l1ml_table_mux, N distinct words of a lane input row, indexed by a step
    # table): LUTs per bit for each word past the first. Fitted to Yosys synth_xilinx on the top module of
    # the default track GNN at R = 64 (benchmarks/gnn_yosys_modules.py, docs/verilog.md): its 230 table
    # multiplexers of 6,912 words and its step counters took 75,806 LUT, 0.92 of the 0.45 first taken from
    # indexed multiplexers of 26 and 104 words
    row_mux_lut_per_word: float = 0.41
    # a streamed SegmentSum (l1ml_stream_sum): LUTs per gated term bit (the AND with the step's mask bit,
    # mostly absorbed into the first adder's LUTs); its adder tree and accumulator are priced as adders.
    # Least-squares fit to Yosys synth_xilinx on four SegmentSum modules (benchmarks/gnn_yosys_modules.py:
    # the default track GNN at R = 64 and the small test GNN at R = 26): 0.32, 0.39, 0.34 and 0.40 alone
    stream_gate_lut: float = 0.34


COEFFS = Coefficients()


@dataclass(frozen=True)
class Val:
    """A tensor in the modelled design: its type and size, the cycle it is valid in and the logic
    delay since its last register (as ``render.Bus`` keeps them)."""

    type: FixedType
    n: int
    latency: int
    delay_ns: float = 0.0
    const: bool = False


def delay_line(bits: int, depth: int) -> Resources:
    """``l1ml_delay``: registers, or shift-register LUTs from ``SRL_MIN_DEPTH`` cycles on."""
    r = Resources()
    if depth <= 0 or bits <= 0:
        return r
    if depth >= SRL_MIN_DEPTH:
        r.lut = bits * math.ceil(depth / SRL_DEPTH)
    else:
        r.ff = bits * depth
    return r


def adder(res: Resources, a: Word, b: Word, width: int, k: Coefficients, subtract: bool = False) -> Word:
    out, cost = add_words(a, b, width, subtract)
    res.lut += k.adder_lut * cost.luts
    res.carry4 += carry_cells(cost.chain, 4)
    res.carry8 += carry_cells(cost.chain, 8)
    return out


def shift_add(x: FixedType, c: int, width: int, res: Resources, k: Coefficients) -> Word:
    """``l1ml_shift_add``: one adder per extra signed digit of the constant, at the product's width;
    a lone negative digit is a negation (an inverter per bit into a carry chain)."""
    terms = [(Word.shifted(x.min_code, x.max_code, 1 << s), neg) for s, neg in csd(c)]
    lo, hi = product_range(x, c)
    t0, neg0 = terms[0]
    if len(terms) == 1:
        if not neg0:
            return replace(t0, lo=lo, hi=hi)
        bits = min(t0.top, width) - t0.tz + 1
        res.lut += k.adder_lut * bits
        res.carry4 += carry_cells(bits, 4)
        res.carry8 += carry_cells(bits, 8)
        return Word(lo, hi, t0.tz, False, width)
    t1, neg1 = terms[1]
    # synthesis merges the chain into add/subtract steps; a leading negative digit becomes a subtrahend
    acc = adder(res, t1, t0, width, k, subtract=neg0) if not neg1 else adder(res, t0, t1, width, k, subtract=True)
    for t, neg in terms[2:]:
        acc = adder(res, acc, t, width, k, subtract=neg)
    return replace(acc, lo=lo, hi=hi)


def wire_bits(x: FixedType, c: int, width: int) -> set[int]:
    """Which bits of x (by index) a shift-add product passes through unchanged at its low end: below the
    second signed digit a positive leading digit is the shifted input itself (a lone positive digit
    passes every bit, its sign copies included); a negative one passes only bit 0."""
    digits = csd(c)
    s0, neg0 = digits[0]
    if neg0:
        return {0}
    if len(digits) == 1:
        return set(range(min(x.width, width - s0)))
    return set(range(min(x.width, digits[1][0] - s0, width - s0)))


def dsp_product(x: FixedType, c: int, width: int, res: Resources, k: Coefficients) -> Word:
    """``l1ml_mult_const`` / ``l1ml_rom_mult``: a DSP when the product is wide enough, else LUTs."""
    lo, hi = product_range(x, c)
    a_bits, b_bits = x.width + 1, signed_width(c, c)
    if min(width, needed_bits(lo, hi) + 1) >= DSP_MIN_PRODUCT_BITS:
        res.dsp += math.ceil(a_bits / DSP_A_BITS) * math.ceil(b_bits / DSP_B_BITS)
    else:
        res.lut += k.soft_mult_lut * a_bits * b_bits / 2
    return Word(lo, hi, 0, False, width)


def rom_product(x: FixedType, consts: list[int], width: int, res: Resources, k: Coefficients) -> None:
    """``l1ml_rom_mult``: x times one of R constants. Synthesis folds a ROM whose entries are all equal
    into a constant multiply; otherwise the product takes a DSP when it is wide enough."""
    nz = [c for c in consts if c]
    if len(set(consts)) == 1:
        c = consts[0]
        if c & (c - 1) == 0 or (-c) & (-c - 1) == 0:  # +-2**k: a shift (negated when negative)
            if c < 0:
                res.lut += k.adder_lut * width
            return
        dsp_product(x, c, width, res, k)
        return
    tz = min(trailing_zeros(c) for c in nz)
    b_bits = signed_width(min(consts) >> tz, max(consts) >> tz)  # the ROM word without its zero low bits
    if width >= DSP_MIN_PRODUCT_BITS:
        res.dsp += math.ceil((x.width + 1) / DSP_A_BITS) * math.ceil(b_bits / DSP_B_BITS)
    else:
        res.lut += k.soft_mult_lut * (x.width + 1) * b_bits / 2


def adder_tree(terms: list[Word], in_w: int, out_w: int, reg_mask: int, res: Resources, k: Coefficients,
               count_level0: bool = True) -> None:
    """``l1ml_adder_tree``: pairwise levels at width min(IN_W + level, OUT_W), registers by REG_MASK
    (``count_level0`` False: the caller prices the registered products itself)."""
    depth = clog2(len(terms))
    level = list(terms)
    for lv in range(depth + 1):
        w = min(in_w + lv, out_w)
        if lv > 0:
            nxt = []
            for i in range(0, len(level) - 1, 2):
                nxt.append(adder(res, level[i], level[i + 1], w, k))
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        if reg_mask >> lv & 1:
            if lv > 0 or count_level0:
                res.ff += sum(t.register_bits(w) for t in level)
            # a registered word's bits are all distinct cells now
            level = [t if t.const else replace(t, chain_top=max(t.chain_top, min(t.top, w))) for t in level]


def max_tree(n: int, width: int, reg_mask: int, k: Coefficients) -> Resources:
    """``l1ml_max_tree`` over n words: each stage a comparator (a carry chain) and a W-bit select,
    registers by REG_MASK."""
    res = Resources()
    count = n
    for lv in range(clog2(n) + 1):
        if lv > 0:
            pairs = count // 2
            res.lut += pairs * (k.adder_lut * width + k.max_select_lut_per_bit * width)
            res.carry4 += pairs * carry_cells(width, 4)
            res.carry8 += pairs * carry_cells(width, 8)
            count -= pairs
        if reg_mask >> lv & 1:
            res.ff += count * width
    return res


def rom_patterns(consts: list[int], width: int) -> set[tuple[int, ...]]:
    """The bit functions of the phase a weight ROM needs LUTs for: neither constant nor a phase bit."""
    r = len(consts)
    sel_bits = {tuple((p >> b) & 1 for p in range(r)) for b in range(max(1, clog2(r)))}
    out = set()
    for b in range(width):
        f = tuple((cv >> b) & 1 for cv in consts)
        if len(set(f)) > 1 and f not in sel_bits:
            out.add(f)
    return out


def word_of(t: Tensor, frac: int) -> Word:
    """A tensor's codes aligned to ``frac`` as an adder operand."""
    if t.type is None:
        raise NodeError(t.name, "tensor has no fixed-point type; run the l1ml passes first")
    s = frac - t.type.frac
    if t.is_const:
        vals = np.asarray(t.data, np.int64).reshape(-1) << s
        return Word.constant(int(vals[0])) if len(set(vals.tolist())) == 1 else Word(int(vals.min()), int(vals.max()))
    return Word.shifted(t.type.min_code, t.type.max_code, 1 << s)


def requant_cost(src: FixedType, dst: FixedType, k: Coefficients) -> Resources:
    """One element of ``l1ml_requant``: rounding increment, saturation detect and output multiplexer."""
    res = Resources()
    shift = src.frac - dst.frac
    kept = src.width - max(shift, 0)  # bits left after dropping the low ones
    rounds = shift > 0 and dst.rounding is not Rounding.TRUNC
    if rounds:
        res.lut += 2  # the round-up decision
        res.carry4 += carry_cells(kept + 1, 4)
        res.carry8 += carry_cells(kept + 1, 8)
        kept += 1
    # high bits that decide saturation: what the source holds beyond the destination's range
    excess = max(0, kept + max(-shift, 0) - dst.width + (1 if src.signed and not dst.signed else 0))
    if dst.overflow is Overflow.SAT and excess > 0:
        res.lut += k.requant_lut_per_bit * dst.width
        extra_inputs = excess + 1
        if extra_inputs > k.detect_inputs:
            res.lut += math.ceil((extra_inputs - k.detect_inputs) / (k.detect_inputs))
    if rounds:
        res.lut += k.adder_lut * kept
    return res


def adder_graph_cost(g: AdderGraph, plan: GraphPlan, res: Resources, k: Coefficients) -> None:
    """``dense.emit_graph``: every adder of the ``cmm.AdderGraph`` (an ``l1ml_addsub``: its carry chain
    starts at the shift, the bits below pass from ``a``) and the pipeline registers of ``plan.lags``."""
    words: list[Word] = []
    for n, s in enumerate(g.signals):
        if s.const is not None:
            words.append(Word.constant(s.const))
            continue
        if s.adder is None:
            words.append(Word(s.lo, s.hi))
        else:
            ad = s.adder
            a, b = words[ad.a], words[ad.b]
            sh = 1 << ad.shift
            bs = Word(b.lo * sh, b.hi * sh, b.tz + ad.shift, b.const, b.chain_top + ad.shift if b.chain_top else 0)
            w = s.width
            if ad.op is AddOp.RSUB:
                _, cost = add_words(bs, a, w, subtract=True)
                chain = w
            else:
                _, cost = add_words(a, bs, w, subtract=ad.op is AddOp.SUB)
                chain = w - ad.shift
            res.lut += k.adder_lut * cost.luts
            res.carry4 += carry_cells(chain, 4)
            res.carry8 += carry_cells(chain, 8)
            words.append(Word(s.lo, s.hi, 0, False, w))
        lag = plan.lags[n]
        if lag > 0:
            res.ff += words[-1].register_bits(s.width) * lag
