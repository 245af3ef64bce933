"""Render a SegmentSum node as its own module: one ``l1ml_adder_tree`` per (segment, feature).

The topology is static, so a segment's rows are wires into its tree; an empty segment is the constant
0. Unsigned codes get a zero sign bit before the (signed) tree. The trees are pipelined by
``rows_plan.segment_plan`` and the shorter ones delayed to the deepest one's latency.
"""

from __future__ import annotations

from l1ml.backends.verilog.dense import ModuleText, adder_tree, balance_tree, input_register, layer_ports
from l1ml.backends.verilog.emitter import Emitter, literal, tag
from l1ml.backends.verilog.pipeline import PipelineConfig, split_tree_mask
from l1ml.backends.verilog.rows_plan import segment_members, segment_plan
from l1ml.errors import NodeError
from l1ml.ir.graph import Node, Tensor


def render_segment_sum(node: Node, x: Tensor, out: Tensor, module: str, cfg: PipelineConfig,
                       delay_in_ns: float) -> ModuleText:
    """The module text (ports clk, x, y) and its latency."""
    if out.type.frac != x.type.frac:
        raise NodeError(node, f"SegmentSum output frac {out.type.frac} differs from its input's {x.type.frac}; "
                        "re-run the l1ml passes on this graph")
    members = segment_members(node)
    feats = x.shape[1]
    xw, yw = x.type.width, out.type.width
    in_w = xw + (0 if x.type.signed else 1)
    plan = segment_plan(node, cfg, delay_in_ns)
    provenance = tag(node)
    e = Emitter()
    e.comment(f"{provenance}: SegmentSum of {x.shape[0]} rows into {len(members)} segments of {feats} features")
    e.comment(f"x: {x.size} x {x.type}; y: {out.size} x {out.type}; latency {plan.latency} cycle(s)")
    layer_ports(e, module, x.size * xw, out.size * yw)
    with e.indent():
        read = {r for rows in members for r in rows}
        if len(read) < x.shape[0]:
            unread = [f"x[{r * feats * xw} +: {feats * xw}]" for r in range(x.shape[0]) if r not in read]
            e.line("/* verilator lint_off UNUSEDSIGNAL */")
            e.line("wire unused_x = ^{  // rows in no segment")
            for k, part in enumerate(unread):
                e.line(f"    {part}" + ("," if k < len(unread) - 1 else ""))
            e.line("};")
            e.line("/* verilator lint_on UNUSEDSIGNAL */")
        xin = input_register(e, x.size * xw, plan.input_reg, provenance)
        for s, rows in enumerate(members):
            for f in range(feats):
                y = f"y[{(s * feats + f) * yw} +: {yw}]"
                if not rows:
                    e.line(f"assign {y} = {literal(0, yw)};  // {provenance}: segment {s} is empty")
                    continue
                terms = [f"{xin}[{(r * feats + f) * xw} +: {xw}]" for r in rows]
                if not x.type.signed:
                    terms = [f"{{1'b0, {t}}}" for t in terms]
                mask, extra = split_tree_mask(plan.reg_mask, len(rows))
                s_wire = f"s_{s}_{f}"
                e.line(f"wire [{yw - 1}:0] {s_wire};")
                adder_tree(e, f"u_{s_wire}", len(rows), in_w, yw, mask, terms, s_wire,
                           f"{provenance}: segment {s}, feature {f}: rows {rows}")
                balance_tree(e, s_wire, y, yw, extra, f"{provenance}: balances a shorter tree")
    e.line("endmodule")
    return ModuleText(module, e.text(), plan.latency, plan.delay_out_ns, False, e.used)
