"""Render a ReduceSum node as its own module: one ``l1ml_adder_tree`` per output element.

The summed elements of each output are wires into its tree (``elementwise.reduce_groups``); unsigned
codes get a zero sign bit before the (signed) tree. A mean over 2**k values is the same sum on a grid
2**k finer, so its codes are the plain sums. The trees are pipelined like a Dense layer's sums
(``elementwise.reduce_plan``): long sums get registers under ``clock_ns`` or ``pipeline_stages``.
"""

from __future__ import annotations

from l1ml.backends.verilog.dense import ModuleText, adder_tree, balance_tree, input_register, layer_ports
from l1ml.backends.verilog.elementwise import reduce_groups, reduce_plan, reduce_term_width
from l1ml.backends.verilog.emitter import Emitter, tag
from l1ml.backends.verilog.pipeline import PipelineConfig, split_tree_mask
from l1ml.errors import NodeError
from l1ml.ir.graph import Node, Tensor
from l1ml.ir.semantics import reduce_count


def render_reduce_sum(node: Node, x: Tensor, out: Tensor, module: str, cfg: PipelineConfig,
                      delay_in_ns: float) -> ModuleText:
    """The module text (ports clk, x, y) and its latency."""
    n, shift = reduce_count(node, x)
    if out.type.frac != x.type.frac + shift:
        raise NodeError(node, f"ReduceSum output frac {out.type.frac} is not its input's {x.type.frac} + {shift}; "
                        "re-run the l1ml passes on this graph")
    groups = reduce_groups(node, x)
    xw, yw, in_w = x.type.width, out.type.width, reduce_term_width(x.type)
    plan = reduce_plan(n, cfg, delay_in_ns)
    provenance = tag(node)
    e = Emitter()
    e.comment(f"{provenance}: ReduceSum over axes {tuple(node.attrs.axes)} of {x.shape}: {len(groups)} sums of "
              f"{n} values")
    e.comment(f"x: {x.size} x {x.type}; y: {out.size} x {out.type}; latency {plan.latency} cycle(s)")
    layer_ports(e, module, x.size * xw, out.size * yw)
    with e.indent():
        xin = input_register(e, x.size * xw, plan.input_reg, provenance)
        mask, extra = split_tree_mask(plan.reg_mask, n)
        for k, members in enumerate(groups):
            terms = [f"{xin}[{int(i) * xw} +: {xw}]" for i in members]
            if not x.type.signed:
                terms = [f"{{1'b0, {t}}}" for t in terms]
            s_wire = f"s_{k}"
            e.line(f"wire [{yw - 1}:0] {s_wire};")
            adder_tree(e, f"u_{s_wire}", n, in_w, yw, mask, terms, s_wire,
                       f"{provenance}: y[{k}] = sum of x{_members(members)}")
            balance_tree(e, s_wire, f"y[{k * yw} +: {yw}]", yw, extra, f"{provenance}: y[{k}]")
    e.line("endmodule")
    return ModuleText(module, e.text(), plan.latency, plan.delay_out_ns, False, e.used)


def _members(members) -> str:
    idx = [int(i) for i in members]
    return str(idx) if len(idx) <= 8 else f"[{idx[0]}, {idx[1]}, ..., {idx[-1]}] ({len(idx)} elements)"
