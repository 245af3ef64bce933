"""Render a Requant node: constant comparators and a count, or a constant multiply, add, floor shift and clip.

Per element, with its channel's constants from ``requant_plan``:

* ``thresholds``: ``l1ml_thresholds`` (one comparator against a constant per kept threshold, each giving
  its weight or 0) and an ``l1ml_adder_tree`` summing the terms and the constant offset. Levels: the
  comparators (a carry chain each), then the tree levels.
* ``multiply``: the constant product of ``dense.constant_product`` (shift-add or DSP by ``arith``'s rule),
  then ``l1ml_add_shift_clip``. Levels: the multiply, then the add and the clip compare.

Registers follow ``pipeline.plan_dense`` over those levels in clock mode (on the input, after the
comparators/products, after tree levels), so ``--clock-ns`` bounds the logic between registers as it does
for a Dense layer. Under ``pipeline_stages`` a Requant is an elementwise node and stays combinational,
like a requantiser. ``requant_levels`` and ``plan_requant`` are what the Verilog cost model prices, so
its latency is the generated RTL's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from l1ml.backends.requant_plan import MultiplyChannel, RequantProblem, ThresholdChannel, requant_problem
from l1ml.backends.verilog.arith import clog2
from l1ml.backends.verilog.dense import adder_tree, balance_tree, constant_product
from l1ml.backends.verilog.emitter import literal, packed, tag
from l1ml.backends.verilog.pipeline import DensePlan, PipelineConfig, plan_dense, split_tree_mask
from l1ml.backends.verilog.primitives import Primitive
from l1ml.ir.graph import Node, Tensor

if TYPE_CHECKING:  # pragma: no cover - render.py imports this module inside its Requant rule
    from l1ml.backends.verilog.render import Bus, VerilogRenderer


def tree_terms(c: ThresholdChannel) -> int:
    """Terms of a channel's adder tree: one per comparator, plus the offset unless it is 0."""
    return len(c.thresholds) + (1 if c.offset else 0)


def live(p: RequantProblem) -> list:
    """The channels that are not constant (they have logic)."""
    return [c for c in p.channels if c.const is None]


def mult_ns(c: MultiplyChannel, cfg: PipelineConfig) -> float:
    return cfg.delays.const_mult_ns(c.mult)


def requant_levels(p: RequantProblem, cfg: PipelineConfig) -> list[float]:
    """The combinational levels of the node (first level first), as ``plan_dense`` reads them."""
    chans = live(p)
    if not chans:
        return []
    if p.form == "thresholds":
        depth = clog2(max(tree_terms(c) for c in chans))
        return [cfg.delays.adder_ns] + [cfg.delays.adder_ns] * depth  # comparators (carry chains), tree
    post = (cfg.delays.adder_ns if any(c.add for c in chans) else 0.0) + \
        (cfg.delays.requant_ns if any(c.clip_lo or c.clip_hi for c in chans) else 0.0)
    return [max(mult_ns(c, cfg) for c in chans)] + ([post] if post else [])


def plan_requant(levels: list[float], delay_in_ns: float, cfg: PipelineConfig) -> DensePlan:
    """Registers of a Requant node: the clock rule over its levels; none under ``pipeline_stages``."""
    if cfg.stages is not None:
        return DensePlan(False, 0, delay_in_ns + sum(levels))
    return plan_dense(levels, delay_in_ns, cfg)


def render_requant(r: VerilogRenderer, node: Node, x_t: Tensor, out_t: Tensor, xb: Bus) -> Bus:
    """Emit the node into renderer ``r`` (a ``VerilogRenderer``) for input bus ``xb``; returns the output bus."""
    p = requant_problem(node, x_t, out_t)
    levels = requant_levels(p, r.cfg)
    x = r.materialise(xb, node.name)
    plan = plan_requant(levels, x.delay_ns, r.cfg)
    start = x.latency  # plan.latency counts the input register
    if plan.input_reg:
        x = r.delayed(x, 1, f"{tag(node)}: input register (clock rule)")
    iw, ow = p.x.width, p.out.width
    out = r.wire(f"t_{out_t.name}", p.n * ow)
    r.e.comment(f"{tag(node)}: Requant ({p.form}) {p.x} -> {p.out}, {len(p.channels)} channel(s), "
                f"latency {plan.latency} cycle(s)")
    for i in range(p.n):
        c = p.channels[p.channel(i)]
        xi, yi = f"{x.expr}[{i * iw} +: {iw}]", f"{out}[{i * ow} +: {ow}]"
        if c.const is not None:
            r.e.line(f"assign {yi} = {literal(c.const, ow)};  // {tag(node)}: element {i} is constant")
            _unused_x(r, node, xi)
        elif p.form == "thresholds":
            _thresholds(r, p, c, plan, i, xi, yi)
        else:
            _multiply(r, p, c, plan, i, xi, yi)
    return replace(x, expr=out, type=p.out, n=p.n, latency=start + plan.latency, delay_ns=plan.delay_out_ns)


def _unused_x(r: VerilogRenderer, node: Node, xi: str) -> None:
    r.e.line("/* verilator lint_off UNUSEDSIGNAL */")
    r.e.line(f"wire {r.names.fresh('unused_x')} = ^{xi};  // {tag(node)}: a constant element reads nothing")
    r.e.line("/* verilator lint_on UNUSEDSIGNAL */")


def _thresholds(r: VerilogRenderer, p: RequantProblem, c: ThresholdChannel, plan: DensePlan, i: int, xi: str, yi: str) -> None:
    tw, n = p.term_width(), len(c.thresholds)
    cmp = r.wire(f"cmp_{p.node.name}_{i}", n * tw)
    r.e.instance(Primitive.THRESHOLDS, r.names.fresh(f"u_{cmp}"),
                 {"IN_W": p.x.width, "IN_SIGNED": int(p.x.signed), "N": n, "T": packed(c.thresholds, p.x.width),
                  "TERM_W": tw, "WEIGHTS": packed(c.weights, tw)},
                 {"x": xi, "terms": cmp}, f"{tag(p.node)}: element {i}, {n} comparator(s)")
    terms = [f"{cmp}[{k * tw} +: {tw}]" for k in range(n)] + ([literal(c.offset, tw)] if c.offset else [])
    mask, extra = split_tree_mask(plan.reg_mask, len(terms))
    s = r.wire(f"s_{p.node.name}_{i}", p.out.width)
    adder_tree(r.e, r.names.fresh(f"u_{s}"), len(terms), tw, p.out.width, mask, terms, s,
               f"{tag(p.node)}: element {i} = offset {c.offset} + reached weights")
    balance_tree(r.e, s, yi, p.out.width, extra, f"{tag(p.node)}: balances element {i}'s shorter tree")


def _multiply(r: VerilogRenderer, p: RequantProblem, c: MultiplyChannel, plan: DensePlan, i: int, xi: str, yi: str) -> None:
    pw, sw, qw = p.product_width(c), p.sum_width(c), p.z_width(c)
    prod = r.names.fresh(f"p_{p.node.name}_{i}")
    while f"u_{prod}" in r.names:  # constant_product names its instance u_<wire>
        prod = r.names.fresh(f"p_{p.node.name}_{i}")
    r.names.reserve(f"u_{prod}")
    constant_product(r.e, p.x, c.mult, xi, prod, pw, f"{tag(p.node)}: element {i} * mult")
    if plan.reg_mask & 1:
        reg = r.wire(f"{prod}_r", pw)
        r.e.instance(Primitive.DELAY, r.names.fresh(f"u_{reg}"), {"W": pw, "DEPTH": 1},
                     {"clk": "clk", "d": prod, "q": reg}, f"{tag(p.node)}: product register (clock rule)")
        prod = reg
    r.e.instance(Primitive.ADD_SHIFT_CLIP, r.names.fresh(f"u_{p.node.name}_{i}"),
                 {"IN_W": pw, "SUM_W": sw, "ADD": literal(c.add, sw), "SHIFT": p.shift, "Q_W": qw,
                  "CLIP_LO": int(c.clip_lo), "LO": literal(p.out.min_code if c.clip_lo else 0, qw),
                  "CLIP_HI": int(c.clip_hi), "HI": literal(p.out.max_code if c.clip_hi else 0, qw),
                  "OUT_W": p.out.width},
                 {"p": prod, "y": yi}, f"{tag(p.node)}: element {i}: (p + {c.add}) >>> {p.shift}, clipped")
