"""Render a MaxPool2D or AvgPool2D node as its own Verilog module: one tree per output element.

Max pooling is an ``l1ml_max_tree`` over the in-image elements of each window (padded positions are
ignored, as the IR defines it); the type does not change. Average pooling is an ``l1ml_adder_tree``
over the window: the IR reads the window sum on a grid log2(kh * kw) bits finer, so no division is
needed, and padded positions count as zeros, which an adder tree gets by leaving them out. Both trees
are pipelined by the Dense rule (``pipeline.plan_dense``) with a free level 0 in place of a multiply.
"""

from __future__ import annotations

from enum import Enum

from l1ml.backends.verilog.arith import clog2
from l1ml.backends.verilog.conv import Window
from l1ml.backends.verilog.dense import ModuleText, adder_tree, balance_tree, input_register, layer_ports
from l1ml.backends.verilog.emitter import Emitter, literal, tag
from l1ml.backends.verilog.pipeline import PipelineConfig, plan_dense, split_tree_mask
from l1ml.backends.verilog.primitives import REG_MASK_W, Primitive
from l1ml.errors import NodeError
from l1ml.ir.graph import Node, Tensor
from l1ml.ir.ops import Op, Pool2DAttrs


class PoolKind(Enum):
    MAX = "max"
    AVG = "avg"


POOL_KIND: dict[Op, PoolKind] = {Op.MAXPOOL2D: PoolKind.MAX, Op.AVGPOOL2D: PoolKind.AVG}


def pool_window(node: Node, x: Tensor, out: Tensor) -> Window:
    """The node's window, after checking the shapes and (for AvgPool2D) the output grid."""
    a: Pool2DAttrs = node.attrs
    if len(x.shape) != 3:
        raise NodeError(node, f"pooling expects a channels-last (H, W, C) input, got shape {x.shape}")
    win = Window(tuple(x.shape), tuple(a.kernel), tuple(a.stride), tuple(a.pads))
    if (*win.out_hw, x.shape[2]) != tuple(out.shape):
        raise NodeError(node, f"output shape {out.shape} does not follow from input {x.shape}, kernel "
                        f"{a.kernel}, stride {a.stride} and pads {a.pads}")
    if POOL_KIND[node.op] is PoolKind.AVG:
        size = a.kernel[0] * a.kernel[1]
        if size & (size - 1) or out.type.frac != x.type.frac + size.bit_length() - 1:
            raise NodeError(node, f"AvgPool2D over {size} elements must read the window sum on a grid "
                            f"log2({size}) bits finer than its input; the window size must be a power of two "
                            "and the output type must come from the l1ml passes")
    elif out.type.plain() != x.type.plain():
        raise NodeError(node, f"MaxPool2D keeps its input type, but {x.type} becomes {out.type}")
    return win


def pool_levels(kind: PoolKind, win: Window, cfg: PipelineConfig) -> list[float]:
    """Delays of the levels of the deepest tree: a free level 0, then compare-select or adder levels."""
    depth = clog2(win.kernel[0] * win.kernel[1])
    return [0.0] + [cfg.delays.max_ns if kind is PoolKind.MAX else cfg.delays.adder_ns] * depth


def render_pool(node: Node, x: Tensor, out: Tensor, module: str, cfg: PipelineConfig,
                delay_in_ns: float) -> ModuleText:
    """The module text for one pooling node and its latency under the pipeline rule."""
    kind = POOL_KIND[node.op]
    win = pool_window(node, x, out)
    plan = plan_dense(pool_levels(kind, win, cfg), delay_in_ns, cfg)
    xt, yt = x.type, out.type
    xw, yw = xt.width, yt.width
    provenance = tag(node)
    e = Emitter()
    e.comment(f"{provenance}: {node.op.value} {x.shape} -> {out.shape}, kernel {win.kernel}, stride {win.stride}, "
              f"pads {win.pads}")
    e.comment(f"x: {x.size} x {xt} channels-last; y: {out.size} x {yt}")
    layer_ports(e, module, x.size * xw, out.size * yw)
    with e.indent():
        xin = input_register(e, x.size * xw, plan.input_reg, provenance)
        ho, wo = win.out_hw
        channels = x.shape[2]
        # an adder tree sums signed terms: unsigned codes get a zero sign bit
        tw = xw + (0 if xt.signed or kind is PoolKind.MAX else 1)
        for oy in range(ho):
            for ox in range(wo):
                taps = win.taps(oy, ox)
                for ch in range(channels):
                    j = (oy * wo + ox) * channels + ch
                    out_bits = f"y[{j * yw} +: {yw}]"
                    words = [f"{xin}[{(k0 + ch) * xw} +: {xw}]" for _, _, k0 in taps]
                    if tw > xw:
                        words = [f"{{1'b0, {w}}}" for w in words]
                    where = f"y[{oy}][{ox}][{ch}]"
                    if not words:
                        e.line(f"assign {out_bits} = {literal(0, yw)};  // {provenance}: {where} sees only padding")
                        continue
                    mask, extra = split_tree_mask(plan.reg_mask, len(words))
                    s = f"s_{j}"
                    e.line(f"wire [{yw - 1}:0] {s};")
                    if kind is PoolKind.MAX:
                        e.inline(Primitive.MAX_TREE, f"u_{s}",
                                 {"N": len(words), "W": xw, "SIGNED": int(xt.signed),
                                  "REG_MASK": literal(mask, REG_MASK_W)},
                                 {"clk": "clk", "x": f"{{{', '.join(reversed(words))}}}", "y": s},
                                 f"{provenance}: {where} = max of {len(words)}")
                    else:
                        adder_tree(e, f"u_{s}", len(words), tw, yw, mask, words, s,
                                   f"{provenance}: {where} = sum of {len(words)}")
                    balance_tree(e, s, out_bits, yw, extra, f"{provenance}: balances {where}'s shorter tree")
    e.line("endmodule")
    return ModuleText(module, e.text(), plan.latency, plan.delay_out_ns, False, e.used)
