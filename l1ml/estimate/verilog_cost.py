"""Cost model of l1ml's own Verilog: a walk over the IR that follows ``l1ml.backends.verilog`` decision by
decision and prices what it would instantiate.

The structural choices are the generator's own functions (``arith.multiplier_kind`` for shift-add
versus DSP, ``pipeline.plan_dense`` for register placement), so the latency and II are exact, not
estimated. Resources price each primitive bit by bit (``bits``): a shift-add multiplier is its
adders, an adder tree its additions at the widths the template gives them, registers count the bits
that are not constant. A handful of coefficients (``Coefficients``) cover what logic synthesis packs
into LUTs around the adders; they were fitted to Yosys ``synth_xilinx`` on small single-layer designs
(docs/estimation.md) and are validated by ``benchmarks/estimate_vs_synth.py`` on others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from l1ml.backends.verilog.arith import MultKind, clog2, csd, multiplier_kind, product_range, signed_width
from l1ml.backends.verilog.conv import conv_problem
from l1ml.backends.verilog.dense import DenseProblem, dense_problem
from l1ml.backends.verilog.pipeline import PipelineConfig, plan_dense, register_outputs, split_tree_mask
from l1ml.backends.verilog.pool import POOL_KIND, PoolKind, pool_levels, pool_window
from l1ml.backends.verilog.render import check_concat
from l1ml.backends.verilog.rows_plan import has_rows
from l1ml.errors import NodeError
from l1ml.estimate.bits import Word, add_words, carry_cells, needed_bits, trailing_zeros
from l1ml.estimate.result import LayerCost, Resources
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.interpreter import Interpreter, rule
from l1ml.ir.ops import Op, TransposeAttrs
from l1ml.ir.types import FixedType, Overflow, Rounding

#: DSP48E2 multiplier port widths (signed): A:B = 27 x 18 (UG579).
DSP_A_BITS, DSP_B_BITS = 27, 18
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
    # a GNN region's row multiplexer (l1ml_mux, N words of a lane input row): LUTs per bit for each word past
    # the first. Yosys synth_xilinx maps the primitive's priority chain at 0.6 to 1.2 of them (N = 8, 16, 26,
    # 52, 104 words: 0.86, 0.89, 0.77, 0.63, 1.23), not as 4:1 muxes per LUT6; fitted there, not validated
    row_mux_lut_per_word: float = 0.85


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


def _add(res: Resources, a: Word, b: Word, width: int, k: Coefficients, subtract: bool = False) -> Word:
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
    acc = _add(res, t1, t0, width, k, subtract=neg0) if not neg1 else _add(res, t0, t1, width, k, subtract=True)
    for t, neg in terms[2:]:
        acc = _add(res, acc, t, width, k, subtract=neg)
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
                nxt.append(_add(res, level[i], level[i + 1], w, k))
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


class VerilogCost(Interpreter[Val]):
    """Prices the design ``write_rtl`` would generate for the graph, node by node."""

    what = "the Verilog cost model"

    def __init__(self, graph: Graph, cfg: PipelineConfig, reuse: int, coeffs: Coefficients = COEFFS):
        super().__init__(graph)
        self.check_supported()
        self.cfg, self.reuse, self.k = cfg, reuse, coeffs
        self.rows: list[LayerCost] = []
        self.valid_depths: set[int] = set()

    def const(self, t: Tensor) -> Val:
        return Val(t.type, t.size, 0, 0.0, True)

    def row(self, node: Node, latency: int, res: Resources, detail: str) -> None:
        self.rows.append(LayerCost(node.name, node.meta.get("onnx_name", ""), node.op.value, latency, res, detail))

    # ---- Dense ---------------------------------------------------------------------------------------
    @rule(Op.DENSE)
    def dense(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        x, w, out = ins[0], ins[1], outs[0]
        b = ins[2] if len(ins) > 2 else None
        if v[0].const:
            raise NodeError(node, "Dense of a constant input should have been folded; it has no hardware")
        d = dense_problem(node, x, w, b, out)
        if self.reuse > 1:
            res, latency, delay_out, detail = self._dense_reuse(d, v[0])
        else:
            res, latency, delay_out, detail = self._dense_parallel(d, v[0])
        self.row(node, latency, res, detail)
        return [Val(out.type, out.size, v[0].latency + latency, delay_out)]

    def _dense_parallel(self, d: DenseProblem, xv: Val) -> tuple[Resources, int, float, str]:
        """``dense._render_parallel``: per neuron its products (shift-add or DSP) and one adder tree."""
        xt, yt, c, bias, rows = d.x, d.out, d.c, d.bias, d.rows
        n_in, n_out = d.n_in, d.n_out
        depth = d.tree_depth()
        plan = d.plan(self.cfg, xv.delay_ns)
        res = Resources()
        if plan.input_reg:
            res.ff += rows * n_in * xt.width
        neuron = Resources()
        n_shift, n_dsp = 0, 0
        shared: list[set[int]] = [set() for _ in range(n_in)]
        for j in range(n_out):
            idx = d.products(j)
            bj = int(bias[j])
            if not idx:
                continue
            width = d.term_width(j)
            terms = []
            for i in idx:
                cv = int(c[i, j])
                if multiplier_kind(cv) is MultKind.SHIFT_ADD:
                    p = shift_add(xt, cv, width, neuron, self.k)
                    n_shift += 1
                    if plan.reg_mask & 1:  # registered products: bits that are plain input bits are shared
                        wires = wire_bits(xt, cv, width)
                        shared[i] |= wires
                        neuron.ff += p.register_bits(width) - len(wires)
                else:
                    p = dsp_product(xt, cv, width, neuron, self.k)  # a registered one uses the DSP's register
                    n_dsp += 1
                terms.append(p)
            if bj:
                terms.append(Word.constant(bj))
            mask, extra = split_tree_mask(plan.reg_mask, len(terms))
            adder_tree(terms, width, yt.width, mask, neuron, self.k, count_level0=False)
            neuron += delay_line(yt.width, extra)
        neuron.ff += sum(len(b) for b in shared)
        res += neuron.scaled(rows)
        regs = bin(plan.reg_mask).count("1") + int(plan.input_reg)
        detail = f"{n_shift * rows} shift-add, {n_dsp * rows} DSP mult, tree depth {depth}, {regs} register level(s)"
        return res, plan.latency, plan.delay_out_ns, detail

    def _dense_reuse(self, d: DenseProblem, xv: Val) -> tuple[Resources, int, float, str]:
        """``dense._render_reuse``: shared multipliers per neuron over R phases, an accumulator each."""
        r = self.reuse
        xt, yt, rows, n_in = d.x, d.out, d.rows, d.n_in
        sel_w = max(1, clog2(r))
        slots = d.slots(r)
        self.valid_depths.add(xv.latency)
        res = Resources()
        res.ff += sel_w + 1  # phase counter and busy flag
        res.lut += sel_w + 2
        res.ff += rows * n_in * xt.width  # the held input
        mux_luts = xt.width * math.ceil((r - 1) / (self.k.mux_lut_inputs - 1)) if r > 1 else 0
        res.lut += rows * slots * mux_luts
        n_mult = 0
        per_row = Resources()
        patterns: set[tuple[int, ...]] = set()
        for j in range(d.n_out):
            terms, widths = [], []
            for t in d.slot_terms(j, r):
                patterns |= rom_patterns(list(t.consts), t.const_w)
                rom_product(xt, list(t.consts), t.width, per_row, self.k)
                terms.append(Word(t.lo, t.hi, 0, False, t.width))
                widths.append(t.width)
                n_mult += 1
            if not terms:
                continue
            adder_tree(terms, max(widths), yt.width, 0, per_row, self.k)
            per_row.lut += self.k.dsp_sum_extra * max(len(terms) - 4, 0) * max(widths)
            # the accumulator: an adder with the bias multiplexed in, its register and the output register
            per_row.lut += self.k.adder_lut * yt.width
            per_row.carry4 += carry_cells(yt.width, 4)
            per_row.carry8 += carry_cells(yt.width, 8)
            per_row.ff += 2 * yt.width
        # the weight ROMs: each distinct bit pattern over the phases is one small LUT, shared by all
        per_row.lut += len(patterns)
        res += per_row.scaled(rows)
        detail = f"{n_mult * rows} shared multipliers x {r} phases, accumulators"
        return res, r + 1, 0.0, detail

    # ---- Conv2D and pooling ---------------------------------------------------------------------------
    @rule(Op.CONV2D)
    def conv2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        """``conv.render_conv``: each distinct (input element, weight code) product once, a tree per output."""
        if v[0].const:
            raise NodeError(node, "Conv2D of a constant input should have been folded; it has no hardware")
        p = conv_problem(node, ins[0], ins[1], ins[2] if len(ins) > 2 else None, outs[0])
        xt, yt = p.x, p.out
        depth = clog2(p.max_terms())
        plan = plan_dense([p.mult_ns(self.cfg)] + [self.cfg.delays.adder_ns] * depth, v[0].delay_ns, self.cfg)
        res = Resources()
        if plan.input_reg:
            res.ff += ins[0].size * xt.width
        words: dict[tuple[int, int], tuple[Word, int]] = {}
        n_shift = n_dsp = 0
        passed: dict[int, set[int]] = {}  # registered bits that are plain input bits, merged per input element
        for key in sorted(p.products()):
            k, c = key
            pw = signed_width(*product_range(xt, c))
            if multiplier_kind(c) is MultKind.SHIFT_ADD:
                words[key] = (shift_add(xt, c, pw, res, self.k), pw)
                n_shift += 1
                if plan.reg_mask & 1:  # one register per shared product
                    wires = wire_bits(xt, c, pw)
                    passed.setdefault(k, set()).update(wires)
                    res.ff += words[key][0].register_bits(pw) - len(wires)
            else:
                words[key] = (dsp_product(xt, c, pw, res, self.k), pw)  # registered in the DSP
                n_dsp += 1
        res.ff += sum(len(b) for b in passed.values())
        ho, wo = p.win.out_hw
        for oy in range(ho):
            for ox in range(wo):
                for o in range(p.c_out):
                    terms = [words[key] for key in p.terms(oy, ox, o)]
                    if not terms:
                        continue
                    bias = int(p.bias[o])
                    width = max([pw for _, pw in terms] + ([signed_width(bias, bias)] if bias else []))
                    tw = [t for t, _ in terms] + ([Word.constant(bias)] if bias else [])
                    mask, extra = split_tree_mask(plan.reg_mask, len(tw))
                    adder_tree(tw, width, yt.width, mask, res, self.k, count_level0=False)
                    res += delay_line(yt.width, extra)
        regs = bin(plan.reg_mask).count("1") + int(plan.input_reg)
        detail = (f"{n_shift} shift-add, {n_dsp} DSP mult shared by {ho * wo} pixels, tree depth {depth}, "
                  f"{regs} register level(s)")
        self.row(node, plan.latency, res, detail)
        return [Val(yt, outs[0].size, v[0].latency + plan.latency, plan.delay_out_ns)]

    @rule(Op.MAXPOOL2D)
    def maxpool2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return self._pool(node, ins, outs, v)

    @rule(Op.AVGPOOL2D)
    def avgpool2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return self._pool(node, ins, outs, v)

    def _pool(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        """``pool.render_pool``: a compare-select or adder tree per output element."""
        kind = POOL_KIND[node.op]
        win = pool_window(node, ins[0], outs[0])
        plan = plan_dense(pool_levels(kind, win, self.cfg), v[0].delay_ns, self.cfg)
        xt, yt = ins[0].type, outs[0].type
        res = Resources()
        if plan.input_reg:
            res.ff += ins[0].size * xt.width
        ho, wo = win.out_hw
        x = Word(xt.min_code, xt.max_code)
        for oy in range(ho):
            for ox in range(wo):
                n = len(win.taps(oy, ox))
                if not n:
                    continue
                mask, extra = split_tree_mask(plan.reg_mask, n)
                per = Resources()
                if kind is PoolKind.MAX:
                    per += max_tree(n, xt.width, mask, self.k)
                else:
                    adder_tree([x] * n, xt.width + (0 if xt.signed else 1), yt.width, mask, per, self.k)
                per += delay_line(yt.width, extra)
                res += per.scaled(ins[0].shape[2])
        self.row(node, plan.latency, res, f"{kind.value} over {win.kernel[0]}x{win.kernel[1]}")
        return [Val(yt, outs[0].size, v[0].latency + plan.latency, plan.delay_out_ns)]

    @rule(Op.TRANSPOSE)
    def transpose(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        a: TransposeAttrs = node.attrs
        self.row(node, 0, Resources(), f"wiring only, perm {a.perm}")
        return [replace(v[0], type=outs[0].type)]

    # ---- elementwise ---------------------------------------------------------------------------------
    @rule(Op.QUANTIZE)
    def quantize(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        src, dst = ins[0].type, outs[0].type
        x = v[0]
        res = Resources()
        if not x.const:
            res = requant_cost(src, dst, self.k).scaled(x.n)
        self.row(node, 0, res, f"{src} -> {dst}")
        return [Val(dst, x.n, x.latency, x.delay_ns + self.cfg.delays.requant_ns, x.const)]

    @rule(Op.RELU)
    def relu(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        x, dst = v[0], outs[0].type
        users = self.graph.users(outs[0].name)
        merged = len(users) == 1 and users[0].op is Op.QUANTIZE and outs[0].name not in self.graph.outputs
        res = Resources()
        if not x.const and not merged and ins[0].type.signed:
            res.lut = self.k.relu_lut_per_bit * x.n * dst.width
        self.row(node, 0, res, "merged into the requantiser" if merged else "")
        return [Val(dst, x.n, x.latency, x.delay_ns + self.cfg.delays.relu_ns, x.const)]

    @rule(Op.ADD)
    def add(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        from l1ml.estimate.verilog_elem_cost import aligned

        out = outs[0]
        res = Resources()
        lat, delay = aligned(self, ins, v, res)  # a delayed operand starts a new path, as in render.add
        per = Resources()
        a, bb = (_word_of(t, out.type.frac) for t in ins)
        _add(per, a, bb, out.type.width, self.k)
        res += per.scaled(out.size)
        self.row(node, 0, res, "")
        return [Val(out.type, out.size, lat, delay + self.cfg.delays.adder_ns, all(b.const for b in v))]

    @rule(Op.MUL)
    def mul(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        """``render.mul``: by a mask, by constants or of two tensors (``verilog_elem_cost.mul``)."""
        from l1ml.estimate import verilog_elem_cost as elem

        return elem.mul(self, node, ins, outs, v)

    # the elementwise integer ops and reductions: priced in verilog_elem_cost as render.py builds them
    @rule(Op.SUB)
    def sub(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        from l1ml.estimate import verilog_elem_cost as elem

        return elem.two_operand(self, node, ins, outs, v)

    @rule(Op.MAX)
    def max_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return self.sub(node, ins, outs, v)

    @rule(Op.MIN)
    def min_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return self.sub(node, ins, outs, v)

    @rule(Op.NEG)
    def neg(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        from l1ml.estimate import verilog_elem_cost as elem

        return elem.one_operand(self, node, ins, outs, v)

    @rule(Op.ABS)
    def abs_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return self.neg(node, ins, outs, v)

    @rule(Op.CLIP)
    def clip(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return self.neg(node, ins, outs, v)

    @rule(Op.REDUCE_SUM)
    def reduce_sum(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        from l1ml.estimate import verilog_elem_cost as elem

        return elem.reduce_sum(self, node, ins, outs, v)

    @rule(Op.SLICE)
    def slice_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        from l1ml.estimate import verilog_elem_cost as elem

        return elem.slice_(self, node, ins, outs, v)

    @rule(Op.CONCAT)
    def concat(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        """``render.concat``: wiring, plus the delay lines that align inputs of different cycles."""
        check_concat(node, ins, outs[0])
        from l1ml.estimate.verilog_elem_cost import aligned

        res = Resources()
        lat, delay = aligned(self, ins, v, res)
        self.row(node, 0, res, "wiring only")
        return [Val(outs[0].type, outs[0].size, lat, delay)]

    @rule(Op.RESHAPE)
    def reshape(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        self.row(node, 0, Resources(), "wiring only")
        return [replace(v[0], type=outs[0].type)]

    # ---- outputs -------------------------------------------------------------------------------------
    def finish(self, env: dict[str, Val], valid: bool = True) -> tuple[int, Resources]:
        """The design latency and the cost of output alignment and valid chains (``connect_outputs``;
        ``valid`` False: a GNN lane, which has no valid chain)."""
        live = [env[o] for o in self.graph.outputs if not env[o].const]
        lat = max((b.latency for b in live), default=0)
        if register_outputs(max((b.delay_ns for b in live), default=0.0), self.cfg):
            lat += 1
        res = Resources()
        for o in self.graph.outputs:
            b = env[o]
            if not b.const:
                res += delay_line(b.n * b.type.width, lat - b.latency)
        # valid bits: reset chains share their common prefix after synthesis, so the longest counts
        if valid:
            res.ff += max([lat, *self.valid_depths])
        return lat, res

    @rule(Op.REQUANT)
    def requant(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        """``verilog.requant.render_requant``: comparators and count trees, or product, add, shift and clip."""
        from l1ml.backends.requant_plan import requant_problem
        from l1ml.backends.verilog.requant import plan_requant, requant_levels
        from l1ml.estimate.requant_cost import verilog_requant

        p = requant_problem(node, ins[0], outs[0])
        x = v[0]
        plan = plan_requant(requant_levels(p, self.cfg), 0.0 if x.const else x.delay_ns, self.cfg)
        res, detail = verilog_requant(p, plan, self.k)
        self.row(node, plan.latency, res, detail)
        lat = 0 if x.const else x.latency
        return [Val(p.out, p.n, lat + plan.latency, plan.delay_out_ns)]


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


def _word_of(t: Tensor, frac: int) -> Word:
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


def estimate_verilog(g: Graph, *, clock_ns: float | None, pipeline_stages: int | None, reuse_factor: int,
                     coeffs: Coefficients = COEFFS) -> tuple[list[LayerCost], Resources, int, int]:
    """Per-node rows, the total, the latency in cycles and the II in cycles of ``write_rtl(g, ...)``."""
    cfg = PipelineConfig.from_options(None if pipeline_stages is not None else clock_ns, pipeline_stages)
    if has_rows(g):
        from l1ml.estimate.verilog_rows_cost import estimate_rows

        return estimate_rows(g, cfg, reuse_factor, coeffs)
    model = VerilogCost(g, cfg, reuse_factor, coeffs)
    inputs = {name: Val(g.t(name).type, g.t(name).size, 0) for name in g.inputs}
    env = model.run(inputs)
    latency, io = model.finish(env)
    total = Resources()
    for r in model.rows:
        total += r.res
    if io.lut or io.ff:
        model.rows.append(LayerCost("(outputs)", "", "Output", 0, io, "output alignment and valid bits"))
        total += io
    return model.rows, total, latency, reuse_factor
