"""Render one Conv2D node as its own Verilog module: a fully parallel convolution for small images.

The layer is one constant matrix from the flattened image to the flattened output (``ConvProblem.matrix``:
each output pixel and channel reads its window's taps; positions in the zero padding have no
entry), built as one shared adder graph (``cmm``) as a Dense layer is: a partial sum of signed input
digits is built once and read by every output channel and every overlapping window that needs it.
Pipelining follows the Dense rule (``pipeline.plan_graph``), so the layer accepts one image per clock
(II = 1) whatever the reuse factor of the Dense layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ml.backends.verilog.cmm import MAX_SHARED_DEPTH, AdderGraph, adder_graph
from l1ml.backends.verilog.dense import ModuleText, emit_graph, layer_ports
from l1ml.backends.verilog.emitter import Emitter, tag
from l1ml.backends.verilog.pipeline import PipelineConfig, plan_graph
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

    def matrix(self) -> np.ndarray:
        """The layer as one constant matrix from the flattened image to the flattened output (n_in, n_out):
        column (oy, ox, o) holds the kernel of channel o at its window's taps."""
        h, w, cin = self.win.in_shape
        ho, wo = self.win.out_hw
        m = np.zeros((h * w * cin, ho * wo * self.c_out), dtype=np.int64)
        for oy in range(ho):
            for ox in range(wo):
                for o in range(self.c_out):
                    for k, code in self.terms(oy, ox, o):
                        m[k, (oy * wo + ox) * self.c_out + o] = code
        return m

    def graph(self, max_depth: int = MAX_SHARED_DEPTH) -> AdderGraph:
        """The whole layer's shared adder graph (``cmm``): partial sums shared across output channels and
        across the pixels whose windows overlap; what the renderer emits and the cost model prices
        (``max_depth=0``: without shared pairs, for comparison)."""
        ho, wo = self.win.out_hw
        return adder_graph(self.matrix(), np.tile(self.bias, ho * wo), self.x.min_code, self.x.max_code,
                           max_depth)


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
    g = p.graph()
    plan = plan_graph(g, cfg, delay_in_ns)
    n_in, n_out = x.size, out.size
    e = Emitter()
    e.comment(f"{p.tag()}: Conv2D {x.shape} -> {out.shape}, kernel {p.win.kernel}, stride {p.win.stride}, "
              f"pads {p.win.pads}")
    e.comment(f"x: {n_in} x {p.x} channels-last (element k at [{xw}*k +: {xw}]); y: {n_out} x {p.out}")
    layer_ports(e, module, n_in * xw, n_out * yw)
    with e.indent():
        e.comment(f"{p.tag()}: adder graph shared by the {n_out} outputs (cmm): {g.summary()}, "
                  f"{plan.latency} register level(s)")
        used = g.used_inputs()
        zero = [k for k in range(n_in) if k not in used]
        if zero:  # image elements no window reads with a non-zero weight
            e.line("/* verilator lint_off UNUSEDSIGNAL */")
            e.line(f"wire unused_x = ^{{{', '.join(f'x[{k * xw} +: {xw}]' for k in zero)}}};  "
                   f"// elements {zero} meet only zero weights")
            e.line("/* verilator lint_on UNUSEDSIGNAL */")
        emit_graph(e, g, plan, [f"x[{k * xw} +: {xw}]" for k in range(n_in)], p.x, "",
                   [f"y[{j * yw} +: {yw}]" for j in range(n_out)], yw, p.tag())
    e.line("endmodule")
    return ModuleText(module, e.text(), plan.latency, plan.delay_out_ns, False, e.used)
