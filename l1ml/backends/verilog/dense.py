"""Render one Dense node as its own Verilog module: constant multipliers feeding adder trees.

Fully parallel (reuse 1): every non-zero weight is a constant multiplier (``arith.multiplier_kind``)
and every output neuron an ``l1ml_adder_tree`` over its products and bias, registered where the
pipeline plan says. With a reuse factor R each neuron has ceil(n_in / R) shared multipliers whose
weights come from per-phase ROMs; a phase counter walks the R phases while an accumulator sums them,
so the layer takes one input every R cycles and answers R + 1 cycles later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from l1ml.backends.verilog.arith import MultKind, clog2, csd, multiplier_kind, product_range, signed_width
from l1ml.backends.verilog.cmm import MAX_SHARED_DEPTH, AdderGraph, AddOp, adder_graph
from l1ml.backends.verilog.emitter import Emitter, literal, packed, tag
from l1ml.backends.verilog.pipeline import (
    GraphPlan,
    PipelineConfig,
    plan_graph,
)
from l1ml.backends.verilog.primitives import REG_MASK_W, SHIFT_FIELD_W, Primitive
from l1ml.errors import NodeError
from l1ml.ir.graph import Node, Tensor
from l1ml.ir.semantics import aligned_terms
from l1ml.ir.types import FixedType


@dataclass
class ModuleText:
    """A rendered layer module (Dense, Conv2D, pooling, reduction, segment sum, GNN lane): its text and the
    facts the top level needs to connect it."""

    name: str
    text: str
    latency: int
    delay_out_ns: float
    reuse: bool  # has rst and x_valid ports
    used: set[Primitive] = field(default_factory=set)  # the primitives the module instantiates (its ``Emitter.used``)


@dataclass(frozen=True)
class SlotTerm:
    """One shared multiplier of a neuron at reuse factor R: slot m multiplies x[m*R + phase] by the
    phase's weight code (``consts``, 0 past n_in); ``const_w`` and ``width`` are its constant and product
    widths, ``lo``/``hi`` the product's range over all phases."""

    m: int
    consts: tuple[int, ...]
    const_w: int
    width: int
    lo: int
    hi: int


@dataclass(frozen=True)
class DenseProblem:
    """A Dense node's integer problem: y[r, j] = sum_i x[r, i] * c[i, j] + bias[j], all on one grid. The
    one description of the layer that the renderer and ``l1ml.estimate.verilog_cost`` both walk: which
    products each neuron has and at what width, the pipeline plan, the shared multipliers of a reuse
    factor."""

    node: Node
    x: FixedType
    out: FixedType
    c: np.ndarray  # (n_in, n_out) int64 constants aligned to the output grid
    bias: np.ndarray  # (n_out,) int64
    rows: int

    @property
    def n_in(self) -> int:
        return int(self.c.shape[0])

    @property
    def n_out(self) -> int:
        return int(self.c.shape[1])

    def tag(self) -> str:
        return tag(self.node)

    def graph(self, max_depth: int = MAX_SHARED_DEPTH) -> AdderGraph:
        """The fully parallel layer's shared adder graph (``cmm``): what the renderer emits and the cost
        model prices (``max_depth=0``: the same sums without shared pairs, for comparison)."""
        return adder_graph(self.c, self.bias, self.x.min_code, self.x.max_code, max_depth)

    # ---- reuse factor ----
    def slots(self, reuse: int) -> int:
        """Shared multipliers per neuron at reuse factor ``reuse``."""
        return -(-self.n_in // reuse)

    def slot_terms(self, j: int, reuse: int) -> list[SlotTerm]:
        """Neuron j's shared multipliers that have a non-zero weight in some phase."""
        out = []
        for m in range(self.slots(reuse)):
            consts = tuple(int(self.c[m * reuse + k, j]) if m * reuse + k < self.n_in else 0 for k in range(reuse))
            if not any(consts):
                continue
            ranges = [product_range(self.x, c) for c in consts]
            out.append(SlotTerm(m, consts, max(signed_width(c, c) for c in consts),
                                max(signed_width(lo, hi) for lo, hi in ranges),
                                min(lo for lo, _ in ranges), max(hi for _, hi in ranges)))
        return out


def dense_problem(node: Node, x: Tensor, w: Tensor, b: Tensor | None, out: Tensor) -> DenseProblem:
    """Check the node's grid and align its constants to the output grid (``l1ml.ir.semantics``)."""
    t = aligned_terms(x.type, w, b)
    if out.type.frac != t.frac:
        raise NodeError(node, f"output frac {out.type.frac} differs from the accumulator grid {t.frac}; "
                        "re-run the l1ml passes on this graph")
    rows = int(np.prod(x.shape[:-1], dtype=np.int64))
    return DenseProblem(node, x.type, out.type, t.weights, t.bias_or_zeros(), rows)


def render_dense(node: Node, x: Tensor, w: Tensor, b: Tensor | None, out: Tensor, module: str,
                 cfg: PipelineConfig, delay_in_ns: float, reuse: int) -> ModuleText:
    """The module text for one Dense node and its latency under the pipeline rule."""
    d = dense_problem(node, x, w, b, out)
    if reuse > 1:
        return _render_reuse(d, module, reuse)
    return _render_parallel(d, module, cfg, delay_in_ns)


# ---- fully parallel ----------------------------------------------------------------------------------


def _header(e: Emitter, d: DenseProblem, module: str, extra_ports: list[str]) -> None:
    xw = d.x.width
    e.comment(f"{d.tag()}: Dense {d.n_in} -> {d.n_out}" + (f" on {d.rows} rows" if d.rows > 1 else ""))
    e.comment(f"x: {d.rows * d.n_in} x {d.x} (element k at [{xw}*k +: {xw}]); "
              f"y: {d.rows * d.n_out} x {d.out}")
    layer_ports(e, module, d.rows * d.n_in * xw, d.rows * d.n_out * d.out.width, extra_ports)


def layer_ports(e: Emitter, module: str, x_bits: int, y_bits: int, extra_ports: list[str] | tuple[str, ...] = ()) -> None:
    """The port list every layer module has: clk, any extra ports, the packed input x and output y."""
    e.line(f"module {module} (")
    with e.indent():
        e.line("input  wire clk,")
        for p in extra_ports:
            e.line(p + ",")
        e.line(f"input  wire [{x_bits - 1}:0] x,")
        e.line(f"output wire [{y_bits - 1}:0] y")
    e.line(");")


def input_register(e: Emitter, x_bits: int, registered: bool, provenance: str) -> str:
    """The name the module's logic reads its input by: ``x``, or ``x_r`` after the input register the
    clock rule placed (``DensePlan.input_reg``)."""
    if not registered:
        return "x"
    e.line(f"wire [{x_bits - 1}:0] x_r;")
    e.instance(Primitive.DELAY, "u_x_reg", {"W": x_bits, "DEPTH": 1}, {"clk": "clk", "d": "x", "q": "x_r"},
               f"{provenance}: input register (clock rule)")
    return "x_r"


def constant_product(e: Emitter, x: FixedType, c: int, x_expr: str, wire: str, width: int,
                     where: str) -> None:
    """One constant multiplier instance: shift-add or DSP by the rule in ``arith`` (Mul by a constant and
    the Requant multiply; Dense and Conv2D share digits across outputs in ``cmm`` instead)."""
    xw, xs = x.width, int(x.signed)
    e.line(f"wire [{width - 1}:0] {wire};")
    comment = f"{where} (weight code {c})"
    ports = {"x": x_expr, "p": wire}
    if multiplier_kind(c) is MultKind.SHIFT_ADD:
        digits = csd(c)
        shifts = packed([s for s, _ in digits], SHIFT_FIELD_W)
        negate = literal(sum(1 << k for k, (_, neg) in enumerate(digits) if neg), len(digits))
        e.inline(Primitive.SHIFT_ADD, f"u_{wire}",
                 {"IN_W": xw, "IN_SIGNED": xs, "OUT_W": width, "N_TERMS": len(digits), "SHIFTS": shifts,
                  "NEGATE": negate}, ports, comment)
        return
    cw = signed_width(c, c)
    e.inline(Primitive.MULT_CONST, f"u_{wire}",
             {"IN_W": xw, "IN_SIGNED": xs, "C_W": cw, "C": literal(c, cw), "OUT_W": width}, ports, comment)


def _render_parallel(d: DenseProblem, module: str, cfg: PipelineConfig, delay_in_ns: float) -> ModuleText:
    xw = d.x.width
    g = d.graph()
    plan = plan_graph(g, cfg, delay_in_ns)
    e = Emitter()
    _header(e, d, module, [])
    with e.indent():
        e.comment(f"{d.tag()}: adder graph shared by the {d.n_out} outputs (cmm): {g.summary()}, "
                  f"{plan.latency} register level(s)")
        used = g.used_inputs()
        zero = [i for i in range(d.n_in) if i not in used]
        if zero:  # an input whose weights are all zero feeds nothing
            parts = [f"x[{(r * d.n_in + i) * xw} +: {xw}]" for r in range(d.rows) for i in zero]
            e.line("/* verilator lint_off UNUSEDSIGNAL */")
            e.line(f"wire unused_x = ^{{{', '.join(parts)}}};  // inputs {zero} have only zero weights")
            e.line("/* verilator lint_on UNUSEDSIGNAL */")
        yw = d.out.width
        for r in range(d.rows):
            words = [f"x[{(r * d.n_in + i) * xw} +: {xw}]" for i in range(d.n_in)]
            outs = [f"y[{(r * d.n_out + j) * yw} +: {yw}]" for j in range(d.n_out)]
            emit_graph(e, g, plan, words, d.x, f"r{r}_" if d.rows > 1 else "", outs, yw, d.tag())
    e.line("endmodule")
    return ModuleText(module, e.text(), plan.latency, plan.delay_out_ns, False, e.used)


def emit_graph(e: Emitter, g: AdderGraph, plan: GraphPlan, x_words: list[str], x: FixedType, prefix: str,
               outs: list[str], out_w: int, provenance: str) -> None:
    """The adders of ``g`` on the input words ``x_words`` (codes of type ``x``), their pipeline registers
    after ``plan``, and each output (shifted into place, sign-extended) assigned to ``outs``, all
    outputs ``plan.latency`` cycles after the inputs. Wires are named ``<prefix>v<k>``."""
    sig, stage = g.signals, plan.stage
    if max(plan.lags, default=0) <= 0:  # no pipeline register: the module's clock is not used
        e.line("/* verilator lint_off UNUSEDSIGNAL */")
        e.line(f"wire {prefix}unused_clk = clk;  // {provenance}: a combinational layer has nothing to clock")
        e.line("/* verilator lint_on UNUSEDSIGNAL */")

    def name(k: int, at: int) -> str:
        """Signal k as read in stage ``at``: a constant literal, the wire, or its delayed copy."""
        s = sig[k]
        if s.const is not None:
            return literal(s.const, s.width)
        lag = at - stage[k]
        return f"{prefix}v{k}" + (f"_q{lag}" if lag else "")

    for k, s in enumerate(sig):
        if plan.lags[k] < 0 or s.const is not None:
            continue
        w = s.width
        if s.adder is None:  # an input word, as a signed word
            src = x_words[k] if x.signed else f"{{1'b0, {x_words[k]}}}"
            e.line(f"wire [{w - 1}:0] {prefix}v{k} = {src};")
        else:
            ad = s.adder
            a, b = sig[ad.a], sig[ad.b]
            e.line(f"wire [{w - 1}:0] {prefix}v{k};")
            params = {"A_W": a.width, "B_W": b.width, "SHIFT": ad.shift, "OP": int(ad.op), "OUT_W": w}
            konst = _konst(a, b)
            if konst:  # the constant as a parameter, visible to synthesis that keeps the hierarchy
                params |= {"KONST": konst, "K": (a if konst == 1 else b).const}
            e.inline(Primitive.ADDSUB, f"u_{prefix}v{k}", params,
                     {"a": name(ad.a, stage[k]), "b": name(ad.b, stage[k]), "y": f"{prefix}v{k}"},
                     f"{provenance}: {_OP_TEXT[ad.op].format(a=f'v{ad.a}', b=f'v{ad.b}', s=ad.shift)}")
        for lag in range(1, plan.lags[k] + 1):
            prev = name(k, stage[k] + lag - 1)
            e.line(f"wire [{w - 1}:0] {prefix}v{k}_q{lag};")
            e.inline(Primitive.DELAY, f"u_{prefix}v{k}_q{lag}", {"W": w, "DEPTH": 1},
                     {"clk": "clk", "d": prev, "q": f"{prefix}v{k}_q{lag}"}, f"{provenance}: pipeline register")
    for j, o in enumerate(g.outputs):
        if o.signal is None:
            e.line(f"assign {outs[j]} = {literal(0, out_w)};  // {provenance}: y[{j}] has no non-zero weight")
            continue
        s = sig[o.signal]
        v = name(o.signal, plan.latency)
        e.line(f"assign {outs[j]} = {_placed(v, s.width, o.shift, out_w)};  // {provenance}: y[{j}]")


def _konst(a, b) -> int:
    """``l1ml_addsub``'s KONST: 1 when operand a is a constant that fits its 32-bit K, 2 for b, else 0."""
    for side, s in ((1, a), (2, b)):
        if s.const is not None and -(1 << 31) <= s.const < (1 << 31) and s.width <= 32:
            return side
    return 0


_OP_TEXT = {AddOp.ADD: "{a} + ({b} << {s})", AddOp.SUB: "{a} - ({b} << {s})", AddOp.RSUB: "({b} << {s}) - {a}"}


def _placed(v: str, w: int, shift: int, out_w: int) -> str:
    """The expression of ``v`` (a signed ``w``-bit word or literal) shifted left by ``shift`` and cut or
    sign-extended to ``out_w`` bits (the value fits ``out_w``)."""
    if v[0].isdigit():  # a literal: recompute it at the output width
        width, _, hexval = v.partition("'h")
        value = int(hexval, 16)
        value -= (value >> (int(width) - 1)) << int(width)
        return literal(value << shift, out_w)
    body = w + shift
    parts = [v if body - shift <= out_w - shift else f"{v}[{out_w - shift - 1}:0]"]
    if shift:
        parts.append(f"{shift}'h0")
    if body < out_w:
        parts.insert(0, f"{{{out_w - body}{{{v}[{w - 1}]}}}}")
    return parts[0] if len(parts) == 1 else "{" + ", ".join(parts) + "}"


def adder_tree(e: Emitter, name: str, n: int, in_w: int, out_w: int, mask: int, terms: list[str], out: str,
               comment: str) -> None:
    """One ``l1ml_adder_tree`` on one line: ``terms`` (term 0 first, in the low bits) summed into ``out``,
    registered after the levels set in ``mask``."""
    e.inline(Primitive.ADDER_TREE, name,
             {"N": n, "IN_W": in_w, "OUT_W": out_w, "REG_MASK": literal(mask, REG_MASK_W)},
             {"clk": "clk", "terms": f"{{{', '.join(reversed(terms))}}}", "sum": out}, comment)


def balance_tree(e: Emitter, tree: str, out: str, width: int, extra: int, comment: str) -> None:
    """Drive ``out`` from a tree's sum, through ``extra`` registers when the tree is shorter than the
    layer's deepest (``split_tree_mask``)."""
    if extra:
        e.inline(Primitive.DELAY, f"u_{tree}_bal", {"W": width, "DEPTH": extra},
                 {"clk": "clk", "d": tree, "q": out}, comment)
    else:
        e.line(f"assign {out} = {tree};")


# ---- reuse factor ------------------------------------------------------------------------------------


def _render_reuse(d: DenseProblem, module: str, reuse: int) -> ModuleText:
    xw = d.x.width
    sel_w = max(1, clog2(reuse))
    slots = d.slots(reuse)
    e = Emitter()
    _header(e, d, module, ["input  wire rst", "input  wire x_valid"])
    with e.indent():
        nx = d.rows * d.n_in * xw
        e.line(f"wire [{sel_w - 1}:0] phase;")
        e.line("wire first, last;")
        e.instance(Primitive.REUSE_CTRL, "u_ctrl", {"R": reuse, "SEL_W": sel_w},
                   {"clk": "clk", "rst": "rst", "start": "x_valid", "phase": "phase", "first": "first",
                    "last": "last"}, f"{d.tag()}: {reuse} phases per input (reuse factor)")
        e.line(f"wire [{nx - 1}:0] xh;")
        e.instance(Primitive.HOLD, "u_x_hold", {"W": nx}, {"clk": "clk", "en": "x_valid", "d": "x", "q": "xh"},
                   f"{d.tag()}: input held for the {reuse} phases")
        for r in range(d.rows):
            rowtag = f"r{r}_" if d.rows > 1 else ""
            for m in range(slots):
                words = []
                for k in range(reuse):
                    i = m * reuse + k
                    words.append(f"xh[{(r * d.n_in + i) * xw} +: {xw}]" if i < d.n_in else literal(0, xw))
                e.line(f"wire [{xw - 1}:0] xs_{rowtag}{m};")
                e.inline(Primitive.MUX, f"u_xs_{rowtag}{m}", {"N": reuse, "W": xw, "SEL_W": sel_w},
                         {"words": f"{{{', '.join(reversed(words))}}}", "sel": "phase", "y": f"xs_{rowtag}{m}"},
                         f"{d.tag()}: x[{m * reuse} + phase]")
            for j in range(d.n_out):
                _reuse_neuron(e, d, reuse, sel_w, r, j)
    e.line("endmodule")
    return ModuleText(module, e.text(), reuse + 1, 0.0, True, e.used)


def _reuse_neuron(e: Emitter, d: DenseProblem, reuse: int, sel_w: int, r: int, j: int) -> None:
    xw, yw = d.x.width, d.out.width
    rowtag = f"r{r}_" if d.rows > 1 else ""
    out = f"y[{(r * d.n_out + j) * yw} +: {yw}]"
    bias = int(d.bias[j])
    e.line()
    terms = []
    for t in d.slot_terms(j, reuse):
        m, cw, pw = t.m, t.const_w, t.width
        wire = f"p_{rowtag}{j}_{m}"
        e.line(f"wire [{pw - 1}:0] {wire};")
        e.inline(Primitive.ROM_MULT, f"u_{wire}",
                 {"R": reuse, "SEL_W": sel_w, "IN_W": xw, "IN_SIGNED": int(d.x.signed), "C_W": cw,
                  "CONSTS": packed(list(t.consts), cw), "OUT_W": pw},
                 {"x": f"xs_{rowtag}{m}", "sel": "phase", "p": wire},
                 f"{d.tag()}: x[{m * reuse} + phase] * w[{m * reuse} + phase][{j}]")
        terms.append((wire, pw))
    if not terms:
        e.line(f"assign {out} = {literal(bias, yw)};  // {d.tag()}: y[{j}] has no non-zero weight")
        return
    width = max(pw for _, pw in terms)
    ext = []
    for wire, pw in terms:  # sign-extend every product to the tree's term width
        ext.append(wire if pw == width else f"{{{{{width - pw}{{{wire}[{pw - 1}]}}}}, {wire}}}")
    s = f"s_{rowtag}{j}"
    e.line(f"wire [{yw - 1}:0] {s};")
    adder_tree(e, f"u_{s}", len(ext), width, yw, 0, ext, s, f"{d.tag()}: y[{j}] partial sum of one phase")
    e.inline(Primitive.ACCUM, f"u_acc_{rowtag}{j}", {"W": yw, "BIAS": literal(bias, yw)},
             {"clk": "clk", "first": "first", "last": "last", "s": s, "y": out},
             f"{d.tag()}: y[{j}] over {reuse} phases + bias")
