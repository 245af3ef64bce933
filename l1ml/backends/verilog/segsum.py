"""Render a SegmentSum of a region's output as its own module: one ``l1ml_stream_sum`` per (segment,
feature), fed by the region's lanes as the steps stream out.

The topology is static: row r passes lane r div S at step r mod S (``rows_plan.lane_row``), so a
segment's accumulator reads the lanes that hold its rows, gated per step by a constant mask
(``rows_plan.stream_lanes``); an empty segment is the constant 0. Unsigned codes get a zero sign bit.
The ports are clk, the step counter's ``first`` and ``sel``, the lanes' output ``x`` (P rows) and ``y``.
Each sum's gated terms go through an adder tree into the accumulator; when the clock asks for it
(``rows_plan.stream_plan``) the trees are registered and ``first`` is delayed to match. The sum is
registered, valid that many cycles plus one after the last step.
"""

from __future__ import annotations

from l1ml.backends.verilog.dense import ModuleText
from l1ml.backends.verilog.emitter import Emitter, literal, packed, tag
from l1ml.backends.verilog.pipeline import split_tree_mask
from l1ml.backends.verilog.primitives import REG_MASK_W, Primitive
from l1ml.backends.verilog.rows_plan import segment_members, stream_lanes
from l1ml.errors import NodeError
from l1ml.ir.graph import Node, Tensor


def stream_mask(masks: list[list[int]], steps: int, n: int) -> str:
    """The MASK parameter: ``steps`` entries of ``n`` bits, entry 0 in the low bits (steps past the
    segment's last row add nothing)."""
    words = [sum(b << i for i, b in enumerate(m)) for m in masks]
    return packed(words + [0] * (steps - len(words)), n)


def render_stream_sum(node: Node, x: Tensor, out: Tensor, module: str, lanes: int, steps: int,
                      sel_w: int, reg_mask: int) -> ModuleText:
    """The module text; ``reg_mask`` is ``rows_plan.stream_plan``'s for the largest sum (each sum takes its
    part, ``split_tree_mask``), and the latency after the last step is its set bits plus 1 (the
    accumulator)."""
    if out.type.frac != x.type.frac:
        raise NodeError(node, f"SegmentSum output frac {out.type.frac} differs from its input's {x.type.frac}; "
                        "re-run the l1ml passes on this graph")
    members = segment_members(node)
    feats = x.shape[1]
    xw, yw = x.type.width, out.type.width
    in_w = xw + (0 if x.type.signed else 1)
    row_bits = feats * xw
    provenance = tag(node)
    lat = bin(reg_mask).count("1")
    e = Emitter()
    e.comment(f"{provenance}: SegmentSum of {x.shape[0]} rows into {len(members)} segments of {feats} features, "
              f"streamed from {lanes} lane(s) over {steps} step(s)")
    e.comment(f"x: {lanes} lane rows x {feats} x {x.type}; y: {out.size} x {out.type}; valid {lat + 1} cycle(s) "
              f"after the last step ({lat} register(s) in the gated sums, REG_MASK {reg_mask:#x}, then the "
              "accumulator)")
    e.line(f"module {module} (")
    with e.indent():
        e.line("input  wire clk,")
        e.line("input  wire first,")
        e.line(f"input  wire [{sel_w - 1}:0] sel,")
        e.line(f"input  wire [{lanes * row_bits - 1}:0] x,")
        e.line(f"output wire [{out.size * yw - 1}:0] y")
    e.line(");")
    with e.indent():
        read = {r // steps for rows in members for r in rows}
        unread = [f"x[{p * row_bits} +: {row_bits}]" for p in range(lanes) if p not in read]
        if not any(members):
            unread += ["clk", "first", "sel"]
        first = "first"
        if lat and any(members):
            first = "first_d"
            e.line(f"wire {first};  // the step counter's first flag, at the accumulators")
            e.inline(Primitive.DELAY, "u_first", {"W": 1, "DEPTH": lat}, {"clk": "clk", "d": "first", "q": first},
                     f"{provenance}: the first flag delayed by the {lat} register(s) of the gated sums")
        if unread:
            e.line("/* verilator lint_off UNUSEDSIGNAL */")
            e.line("wire unused_x = ^{  // lanes that hold no segment's row")
            for k, part in enumerate(unread):
                e.line(f"    {part}" + ("," if k < len(unread) - 1 else ""))
            e.line("};")
            e.line("/* verilator lint_on UNUSEDSIGNAL */")
        for s, rows in enumerate(members):
            used, masks = stream_lanes(rows, steps)
            for f in range(feats):
                y = f"y[{(s * feats + f) * yw} +: {yw}]"
                if not rows:
                    e.line(f"assign {y} = {literal(0, yw)};  // {provenance}: segment {s} is empty")
                    continue
                terms = [f"x[{p * row_bits + f * xw} +: {xw}]" for p in used]
                if not x.type.signed:
                    terms = [f"{{1'b0, {t}}}" for t in terms]
                params = {"N": len(used), "IN_W": in_w, "OUT_W": yw, "STEPS": steps, "SEL_W": sel_w,
                          "MASK": stream_mask(masks, steps, len(used))}
                if reg_mask:
                    own, extra = split_tree_mask(reg_mask, len(used))
                    params |= {"TREE_MASK": literal(own, REG_MASK_W), "EXTRA": extra}
                e.inline(Primitive.STREAM_SUM, f"u_s_{s}_{f}", params,
                         {"clk": "clk", "first": first, "sel": "sel", "terms": f"{{{', '.join(reversed(terms))}}}",
                          "sum": y},
                         f"{provenance}: segment {s}, feature {f}: rows {rows} from lanes {used}")
    e.line("endmodule")
    return ModuleText(module, e.text(), lat + 1, 0.0, False, e.used)
