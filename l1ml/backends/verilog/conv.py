"""Render one Conv2D node as its own Verilog module: a fully parallel convolution for small images.

Every output pixel and channel is its own adder tree over the products of its window, as a Dense
neuron is; the weights are constants shared by all pixels. A product is one constant multiplier per
distinct (input element, weight code) pair: an input element that falls in several windows at
kernel positions holding the same weight code (or that meets the same code in several output
channels) is multiplied once and the product (registered once, when the plan registers products) is
wired to every tree that needs it. Positions in the
zero padding contribute nothing and have no hardware. Pipelining follows the Dense rule
(``pipeline.plan_dense`` over the multiply and the deepest tree), so the layer accepts one image per
clock (II = 1) whatever the reuse factor of the Dense layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ml.backends.verilog.arith import clog2, product_range, signed_width
from l1ml.backends.verilog.dense import (
    ModuleText,
    adder_tree,
    balance_tree,
    constant_product,
    input_register,
    layer_ports,
)
from l1ml.backends.verilog.emitter import Emitter, literal, tag
from l1ml.backends.verilog.pipeline import PipelineConfig, plan_dense, worst_const_mult_ns
from l1ml.backends.verilog.primitives import Primitive
from l1ml.errors import NodeError
from l1ml.ir.graph import Node, Tensor
from l1ml.ir.ops import Conv2DAttrs
from l1ml.ir.semantics import aligned_terms
from l1ml.ir.types import FixedType


@dataclass(frozen=True)
class Window:
    """Where an output pixel reads: a channels-last image, a kernel, a stride and zero padding."""

    in_shape: tuple[int, int, int]  # (H, W, C)
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]  # (top, left, bottom, right)

    @property
    def out_hw(self) -> tuple[int, int]:
        h, w, _ = self.in_shape
        top, left, bottom, right = self.pads
        return ((h + top + bottom - self.kernel[0]) // self.stride[0] + 1,
                (w + left + right - self.kernel[1]) // self.stride[1] + 1)

    def taps(self, oy: int, ox: int) -> list[tuple[int, int, int]]:
        """The in-image kernel positions of output pixel (oy, ox): (ky, kx, flat index of channel 0)."""
        h, w, c = self.in_shape
        out = []
        for ky in range(self.kernel[0]):
            iy = oy * self.stride[0] + ky - self.pads[0]
            for kx in range(self.kernel[1]):
                ix = ox * self.stride[1] + kx - self.pads[1]
                if 0 <= iy < h and 0 <= ix < w:
                    out.append((ky, kx, (iy * w + ix) * c))
        return out


@dataclass(frozen=True)
class ConvProblem:
    """A Conv2D node's integer problem on the output grid: y[p, o] = sum over taps x[k] * c[ky, kx, i, o] + bias[o]."""

    node: Node
    x: FixedType
    out: FixedType
    c: np.ndarray  # (kh, kw, Cin, Cout) int64 constants aligned to the output grid
    bias: np.ndarray  # (Cout,) int64
    win: Window

    @property
    def c_out(self) -> int:
        return int(self.c.shape[3])

    def tag(self) -> str:
        return tag(self.node)

    def terms(self, oy: int, ox: int, o: int) -> list[tuple[int, int]]:
        """The non-zero products of one output element as (input element index, weight code)."""
        cin = self.c.shape[2]
        return [(k0 + i, int(self.c[ky, kx, i, o])) for ky, kx, k0 in self.win.taps(oy, ox)
                for i in range(cin) if self.c[ky, kx, i, o] != 0]

    def products(self) -> dict[tuple[int, int], int]:
        """Every distinct (input element, weight code) product and how many trees read it."""
        used: dict[tuple[int, int], int] = {}
        ho, wo = self.win.out_hw
        for oy in range(ho):
            for ox in range(wo):
                for o in range(self.c_out):
                    for key in self.terms(oy, ox, o):
                        used[key] = used.get(key, 0) + 1
        return used

    def max_terms(self) -> int:
        ho, wo = self.win.out_hw
        n = [len(self.terms(oy, ox, o)) + int(self.bias[o] != 0)
             for oy in range(ho) for ox in range(wo) for o in range(self.c_out)]
        return max(n, default=1)

    def mult_ns(self, cfg: PipelineConfig) -> float:
        return worst_const_mult_ns(self.c, cfg)


def conv_problem(node: Node, x: Tensor, w: Tensor, b: Tensor | None, out: Tensor) -> ConvProblem:
    """Check the node's shapes and grids and align its constants to the output grid."""
    a: Conv2DAttrs = node.attrs
    if len(x.shape) != 3 or w.data is None or w.data.ndim != 4 or w.data.shape[2] != x.shape[2]:
        raise NodeError(node, f"Conv2D expects a channels-last (H, W, C) input and a (kh, kw, C, Cout) constant "
                        f"weight; got input {x.shape} and weight {w.shape}")
    t = aligned_terms(x.type, w, b)
    if out.type.frac != t.frac:
        raise NodeError(node, f"output frac {out.type.frac} differs from the accumulator grid {t.frac}; "
                        "re-run the l1ml passes on this graph")
    c, bias = t.weights, t.bias_or_zeros()
    win = Window(tuple(x.shape), (int(c.shape[0]), int(c.shape[1])), tuple(a.stride), tuple(a.pads))
    if (*win.out_hw, c.shape[3]) != tuple(out.shape):
        raise NodeError(node, f"output shape {out.shape} does not follow from input {x.shape}, kernel "
                        f"{c.shape[:2]}, stride {a.stride} and pads {a.pads}")
    return ConvProblem(node, x.type, out.type, c, bias, win)


def render_conv(node: Node, x: Tensor, w: Tensor, b: Tensor | None, out: Tensor, module: str,
                cfg: PipelineConfig, delay_in_ns: float) -> ModuleText:
    """The module text for one Conv2D node and its latency under the pipeline rule."""
    p = conv_problem(node, x, w, b, out)
    xw, yw = p.x.width, p.out.width
    depth = clog2(p.max_terms())
    plan = plan_dense([p.mult_ns(cfg)] + [cfg.delays.adder_ns] * depth, delay_in_ns, cfg)
    n_in, n_out = x.size, out.size
    e = Emitter()
    ho, wo = p.win.out_hw
    e.comment(f"{p.tag()}: Conv2D {x.shape} -> {out.shape}, kernel {p.win.kernel}, stride {p.win.stride}, "
              f"pads {p.win.pads}")
    e.comment(f"x: {n_in} x {p.x} channels-last (element k at [{xw}*k +: {xw}]); y: {n_out} x {p.out}")
    layer_ports(e, module, n_in * xw, n_out * yw)
    with e.indent():
        xin = input_register(e, n_in * xw, plan.input_reg, p.tag())
        e.comment("products: one per distinct (input element, weight code), shared by the trees that read it")
        reg_products = bool(plan.reg_mask & 1)
        wires: dict[tuple[int, int], tuple[str, int]] = {}
        for k, c in sorted(p.products()):
            pw = signed_width(*product_range(p.x, c))
            wire = f"p_{k}_{'m' if c < 0 else ''}{abs(c)}"
            constant_product(e, p.x, c, f"{xin}[{k * xw} +: {xw}]", wire, pw, f"{p.tag()}: x[{k}] * {c}")
            if reg_products:  # registered once here rather than in each tree that reads it
                e.line(f"wire [{pw - 1}:0] {wire}_r;")
                e.instance(Primitive.DELAY, f"u_{wire}_r", {"W": pw, "DEPTH": 1},
                           {"clk": "clk", "d": wire, "q": f"{wire}_r"}, f"{p.tag()}: product register")
                wire += "_r"
            wires[k, c] = (wire, pw)
        for oy in range(ho):
            for ox in range(wo):
                for o in range(p.c_out):
                    _output(e, p, plan.reg_mask, wires, oy, ox, o)
    e.line("endmodule")
    return ModuleText(module, e.text(), plan.latency, plan.delay_out_ns, False, e.used)


def _output(e: Emitter, p: ConvProblem, reg_mask: int, wires: dict[tuple[int, int], tuple[str, int]],
            oy: int, ox: int, o: int) -> None:
    """The adder tree of output element (oy, ox, o) over its shared products and bias."""
    yw = p.out.width
    ho, wo = p.win.out_hw
    j = (oy * wo + ox) * p.c_out + o
    out = f"y[{j * yw} +: {yw}]"
    bias = int(p.bias[o])
    where = f"y[{oy}][{ox}][{o}]"
    e.line()
    terms = [wires[key] for key in p.terms(oy, ox, o)]
    if not terms:
        e.line(f"assign {out} = {literal(bias, yw)};  // {p.tag()}: {where} has no non-zero product")
        return
    width = max([pw for _, pw in terms] + ([signed_width(bias, bias)] if bias else []))
    ext = [w if pw == width else f"{{{{{width - pw}{{{w}[{pw - 1}]}}}}, {w}}}" for w, pw in terms]
    if bias:
        ext.append(literal(bias, width))
    depth = clog2(len(ext))
    mask = reg_mask & ((1 << (depth + 1)) - 2)  # bit 0, the product register, sits before the trees
    extra = bin(reg_mask >> (depth + 1)).count("1")  # registers this shorter tree lacks, added after it
    s = f"s_{j}"
    e.line(f"wire [{yw - 1}:0] {s};")
    adder_tree(e, f"u_{s}", len(ext), width, yw, mask, ext, s,
               f"{p.tag()}: {where} = sum of {len(terms)} products" + (" + bias" if bias else ""))
    balance_tree(e, s, out, yw, extra, f"{p.tag()}: balances {where}'s shorter tree")
