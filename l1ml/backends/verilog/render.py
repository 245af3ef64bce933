"""The Verilog renderer: a walk over the typed IR that turns each node into wires and primitive instances.

Values of the walk are ``Bus`` objects: a packed vector of codes in the top module (element k at
bits [W*k +: W], k the row-major index of the tensor), with the clock cycle it is valid in and the
estimated logic delay since its last register. Dense, Conv2D and pooling nodes become modules of their
own (``dense``, ``conv``, ``pool``); elementwise nodes are one vector primitive each; Reshape is free
(same bits, new shape) and Transpose is wiring (the same words in a new order).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from l1ml.backends.verilog.conv import render_conv
from l1ml.backends.verilog.dense import ModuleText, constant_product, render_dense
from l1ml.backends.verilog.elementwise import (
    MulKind,
    broadcast_index,
    clip_bound_width,
    clip_bounds,
    concat_axis,
    concat_index,
    const_codes,
    const_mult_ns,
    mul_kind,
    node_delay_ns,
    slice_index,
)
from l1ml.backends.verilog.emitter import Emitter, Names, literal, packed, tag
from l1ml.backends.verilog.pipeline import PipelineConfig, register_outputs
from l1ml.backends.verilog.pool import render_pool
from l1ml.backends.verilog.primitives import ROUNDING_CODE, Primitive
from l1ml.backends.verilog.reduce import render_reduce_sum
from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.interpreter import Interpreter, rule
from l1ml.ir.ops import Op, TransposeAttrs
from l1ml.ir.types import FixedType, Overflow
from l1ml.names import comment_text


@dataclass(frozen=True)
class Bus:
    """A tensor in the generated top module."""

    expr: str  # wire or port name ('' for a constant not yet written out)
    type: FixedType
    n: int
    latency: int  # the clock cycle after the input in which the value is valid
    delay_ns: float = 0.0
    const: tuple[int, ...] | None = None

    @property
    def bits(self) -> int:
        return self.n * self.type.width


_tag = tag


class VerilogRenderer(Interpreter[Bus]):
    """Emits the body of the top module; Dense nodes add modules to ``self.modules``."""

    what = "the Verilog backend"

    def __init__(self, graph: Graph, top: str, cfg: PipelineConfig, reuse: int):
        super().__init__(graph)
        self.check_supported()
        self.top, self.cfg, self.reuse = top, cfg, reuse
        self.e = Emitter()
        self.modules: list[ModuleText] = []
        self.names = Names(["clk", "rst", "in_valid", "out_valid"])
        self.module_names = Names([top, *(p.value for p in Primitive)])
        self._valid_at: dict[int, str] = {0: "in_valid"}

    @property
    def used(self) -> set[Primitive]:
        """The primitives of the design: those this module instantiates (its emitter's) and those of the
        modules it has rendered."""
        return self.e.used.union(*(m.used for m in self.modules))

    # ---- helpers -------------------------------------------------------------------------------------
    def wire(self, base: str, bits: int) -> str:
        name = self.names.fresh(base)
        self.e.line(f"wire [{bits - 1}:0] {name};")
        return name

    def materialise(self, b: Bus, base: str) -> Bus:
        """Give a constant a wire so that a primitive can read it."""
        if b.const is None or b.expr:
            return b
        name = self.names.fresh(f"c_{base}")
        self.e.line(f"wire [{b.bits - 1}:0] {name} = {packed(b.const, b.type.width)};")
        return replace(b, expr=name)

    def delayed(self, b: Bus, cycles: int, why: str) -> Bus:
        """``b`` delayed by a number of cycles (constants need no delay)."""
        if cycles == 0 or b.const is not None:
            return b
        out = self.wire(f"{b.expr}_d{cycles}", b.bits)
        self.e.instance(Primitive.DELAY, self.names.fresh(f"u_{out}"), {"W": b.bits, "DEPTH": cycles},
                        {"clk": "clk", "d": b.expr, "q": out}, why)
        return replace(b, expr=out, latency=b.latency + cycles, delay_ns=0.0)

    def valid_at(self, cycle: int) -> str:
        """The input valid bit delayed to ``cycle`` (shared between users of the same cycle)."""
        if cycle not in self._valid_at:
            name = self.names.fresh(f"valid_{cycle}")
            self.e.line(f"wire {name};")
            self.e.instance(Primitive.VALID_DELAY, self.names.fresh(f"u_{name}"), {"DEPTH": cycle},
                            {"clk": "clk", "rst": "rst", "d": "in_valid", "q": name},
                            f"pipeline: valid bit at cycle {cycle}, starts a reuse layer's phases")
            self._valid_at[cycle] = name
        return self._valid_at[cycle]

    def const(self, t: Tensor) -> Bus:
        if t.type is None or t.data is None:
            raise NodeError(t.name, "constant has no fixed-point type; run the l1ml passes first")
        codes = tuple(int(v) for v in np.asarray(t.data, dtype=np.int64).reshape(-1))
        return Bus("", t.type, len(codes), 0, 0.0, codes)

    # ---- rules ---------------------------------------------------------------------------------------
    @rule(Op.DENSE)
    def dense(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        x = v[0]
        if x.const is not None:
            raise NodeError(node, "Dense of a constant input should have been folded; it has no hardware")
        b = ins[2] if len(ins) > 2 else None
        module = self.module_names.fresh(f"{self.top}_{node.name}")
        m = render_dense(node, ins[0], ins[1], b, outs[0], module, self.cfg, x.delay_ns, self.reuse)
        self.modules.append(m)
        out = Bus(self.wire(f"t_{outs[0].name}", outs[0].size * outs[0].type.width), outs[0].type,
                  outs[0].size, x.latency + m.latency, m.delay_out_ns)
        ports = {"clk": "clk"}
        if m.reuse:
            ports |= {"rst": "rst", "x_valid": self.valid_at(x.latency)}
        ports |= {"x": x.expr, "y": out.expr}
        self.e.submodule(module, self.names.fresh(f"u_{node.name}"), {}, ports,
                         f"{_tag(node)}: Dense, latency {m.latency} cycle(s)")
        return [out]

    def instantiate(self, node: Node, m: ModuleText, x: Bus, out: Tensor, what: str) -> Bus:
        """Instantiate a fully parallel layer module (clk, x, y) and return its output bus."""
        self.modules.append(m)
        y = Bus(self.wire(f"t_{out.name}", out.size * out.type.width), out.type, out.size,
                x.latency + m.latency, m.delay_out_ns)
        self.e.submodule(m.name, self.names.fresh(f"u_{node.name}"), {}, {"clk": "clk", "x": x.expr, "y": y.expr},
                         f"{_tag(node)}: {what}, latency {m.latency} cycle(s)")
        return y

    @rule(Op.CONV2D)
    def conv2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        x = v[0]
        if x.const is not None:
            raise NodeError(node, "Conv2D of a constant input should have been folded; it has no hardware")
        b = ins[2] if len(ins) > 2 else None
        module = self.module_names.fresh(f"{self.top}_{node.name}")
        m = render_conv(node, ins[0], ins[1], b, outs[0], module, self.cfg, x.delay_ns)
        return [self.instantiate(node, m, x, outs[0], "Conv2D, fully parallel")]

    @rule(Op.MAXPOOL2D)
    def maxpool2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        return self.pool(node, ins, outs, v)

    @rule(Op.AVGPOOL2D)
    def avgpool2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        return self.pool(node, ins, outs, v)

    def pool(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        x = self.materialise(v[0], node.name)
        module = self.module_names.fresh(f"{self.top}_{node.name}")
        m = render_pool(node, ins[0], outs[0], module, self.cfg, x.delay_ns)
        return [self.instantiate(node, m, x, outs[0], node.op.value)]

    @rule(Op.TRANSPOSE)
    def transpose(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        a: TransposeAttrs = node.attrs
        x = v[0]
        idx = np.transpose(np.arange(x.n).reshape(ins[0].shape), a.perm).reshape(-1)
        if x.const is not None:
            return [replace(x, type=outs[0].type, const=tuple(x.const[int(k)] for k in idx))]
        w = x.type.width
        name = self.wire(f"t_{outs[0].name}", x.bits)
        parts = [f"{x.expr}[{int(k) * w} +: {w}]" for k in reversed(idx)]
        self.e.line(f"assign {name} = {{{', '.join(parts)}}};  // {_tag(node)}: Transpose {a.perm}")
        return [replace(x, expr=name, type=outs[0].type)]

    @rule(Op.QUANTIZE)
    def quantize(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        src, dst = ins[0].type, outs[0].type
        if dst.narrow and dst.overflow is Overflow.WRAP:
            raise NodeError(node, "narrow range with wrap-around overflow is not a type the QONNX frontend "
                            "produces and has no Verilog requantiser; use saturation")
        x = self.materialise(v[0], node.name)
        out = Bus(self.wire(f"t_{outs[0].name}", x.n * dst.width), dst, x.n, x.latency,
                  x.delay_ns + self.cfg.delays.requant_ns)
        params = {"N": x.n, "IN_W": src.width, "IN_SIGNED": int(src.signed), "OUT_W": dst.width,
                  "OUT_SIGNED": int(dst.signed), "SHIFT": src.frac - dst.frac,
                  "ROUNDING": ROUNDING_CODE[dst.rounding], "SAT": int(dst.overflow is Overflow.SAT),
                  "NARROW": int(dst.narrow)}
        self.e.instance(Primitive.REQUANT, self.names.fresh(f"u_{node.name}"), params,
                        {"x": x.expr, "y": out.expr}, f"{_tag(node)}: {src} -> {dst}")
        return [out]

    @rule(Op.RELU)
    def relu(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        src, dst = ins[0].type, outs[0].type
        x = self.materialise(v[0], node.name)
        out = Bus(self.wire(f"t_{outs[0].name}", x.n * dst.width), dst, x.n, x.latency,
                  x.delay_ns + self.cfg.delays.relu_ns)
        self.e.instance(Primitive.RELU, self.names.fresh(f"u_{node.name}"),
                        {"N": x.n, "IN_W": src.width, "IN_SIGNED": int(src.signed), "OUT_W": dst.width},
                        {"x": x.expr, "y": out.expr}, f"{_tag(node)}: ReLU {src} -> {dst}")
        return [out]

    @rule(Op.ADD)
    def add(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        out_t = outs[0]
        lat = max(b.latency for b in v if b.const is None) if any(b.const is None for b in v) else 0
        ops = []
        for t, b in zip(ins, v, strict=True):
            b = self.materialise(b, node.name)
            b = self.delayed(b, lat - b.latency, f"{_tag(node)}: aligns {comment_text(t.name)}")
            ops.append(self.broadcast(b, t, out_t, node))
        a, b = ops
        out = Bus(self.wire(f"t_{out_t.name}", out_t.size * out_t.type.width), out_t.type, out_t.size, lat,
                  max(a.delay_ns, b.delay_ns) + self.cfg.delays.adder_ns)
        params = {"N": out.n, "A_W": a.type.width, "A_SIGNED": int(a.type.signed),
                  "A_SHIFT": out.type.frac - a.type.frac, "B_W": b.type.width, "B_SIGNED": int(b.type.signed),
                  "B_SHIFT": out.type.frac - b.type.frac, "OUT_W": out.type.width}
        self.e.instance(Primitive.ADD, self.names.fresh(f"u_{node.name}"), params,
                        {"a": a.expr, "b": b.expr, "y": out.expr},
                        f"{_tag(node)}: {a.type} + {b.type} -> {out.type}")
        return [out]

    def broadcast(self, b: Bus, t: Tensor, out: Tensor, node: Node) -> Bus:
        """``b`` repeated to the output's shape by numpy broadcasting (a concatenation of its elements)."""
        if t.shape == out.shape:
            return b
        try:
            idx = np.broadcast_to(np.arange(b.n).reshape(t.shape), out.shape).reshape(-1)
        except ValueError as err:
            raise NodeError(node, f"cannot broadcast {t.shape} to {out.shape}") from err
        w = b.type.width
        parts = [f"{b.expr}[{int(k) * w} +: {w}]" for k in reversed(idx)]
        name = self.wire(f"{b.expr}_bc", len(idx) * w)
        self.e.line(f"assign {name} = {{{', '.join(parts)}}};  "
                    f"// {_tag(node)}: broadcast {t.shape} -> {out.shape}")
        return replace(b, expr=name, n=len(idx))

    @rule(Op.MUL)
    def mul(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        """A product (``elementwise.mul_kind``): by a 1-bit validity mask, each run of elements sharing a mask
        bit is a 2-way mux between zero and the value (the IR's exact product type keeps the value's range);
        by constant codes, one constant multiplier per element, shift-add or DSP by the Dense rule; of two
        computed tensors or a square, one ``l1ml_mult`` per element."""
        k = mask_operand(node, ins)
        kind = mul_kind(node, ins, k)
        if kind == MulKind.CONST:
            return [self.mul_const(node, ins, outs[0], v)]
        if kind != MulKind.MASK:
            (a, b), lat = self.operands(node, ins, outs[0], v)
            what = f"{a.type} squared" if kind == MulKind.SQUARE else f"{a.type} * {b.type}"
            return [self.binary(Primitive.MULT, node, outs[0], (a, b), lat, False, {}, what)]
        assert k is not None
        out_t = outs[0]
        lat = max(b.latency for b in v)
        xb, mb = (self.delayed(self.materialise(b, node.name), lat - b.latency, f"{_tag(node)}: aligns {comment_text(t.name)}")
                  for t, b in ((ins[1 - k], v[1 - k]), (ins[k], v[k])))
        xb = self.convert(xb, out_t.type, node)
        midx = np.broadcast_to(np.arange(mb.n).reshape(ins[k].shape), out_t.shape).reshape(-1)
        xidx = np.broadcast_to(np.arange(xb.n).reshape(ins[1 - k].shape), out_t.shape).reshape(-1)
        w = out_t.type.width
        out = Bus(self.wire(f"t_{out_t.name}", out_t.size * w), out_t.type, out_t.size, lat,
                  max(xb.delay_ns, mb.delay_ns) + self.cfg.delays.relu_ns)
        start = 0
        for end in range(1, out_t.size + 1):
            if end < out_t.size and midx[end] == midx[start]:
                continue
            n = end - start
            word = "{" + ", ".join(f"{xb.expr}[{int(i) * w} +: {w}]" for i in reversed(xidx[start:end])) + "}"
            self.e.inline(Primitive.MUX, self.names.fresh(f"u_{node.name}"), {"N": 2, "W": n * w, "SEL_W": 1},
                          {"words": f"{{{word}, {literal(0, n * w)}}}", "sel": f"{mb.expr}[{int(midx[start])}]",
                           "y": f"{out.expr}[{start * w} +: {n * w}]"}, f"{_tag(node)}: x * mask")
            start = end
        return [out]

    def mul_const(self, node: Node, ins: list[Tensor], out_t: Tensor, v: list[Bus]) -> Bus:
        """x times constant codes: each output element one ``dense.constant_product`` (0 for a zero code)."""
        k = 0 if ins[0].is_const else 1
        xt, x = ins[1 - k], v[1 - k]
        codes = const_codes(ins[k])
        cidx = broadcast_index(ins[k], len(codes), out_t.shape, node)
        xidx = broadcast_index(xt, x.n, out_t.shape, node)
        per = [int(codes[i]) for i in cidx]
        xw, w = xt.type.width, out_t.type.width
        out = Bus(self.wire(f"t_{out_t.name}", out_t.size * w), out_t.type, out_t.size, x.latency,
                  x.delay_ns + const_mult_ns(per, self.cfg))
        self.e.comment(f"{_tag(node)}: {xt.type} * constant codes, one constant multiplier per element")
        for j, c in enumerate(per):
            dst = f"{out.expr}[{j * w} +: {w}]"
            if c == 0:
                self.e.line(f"assign {dst} = {literal(0, w)};  // {_tag(node)}: y[{j}] = x[{int(xidx[j])}] * 0")
                continue
            wire = self.names.fresh(f"p_{node.name}_{j}")
            while f"u_{wire}" in self.names:  # constant_product names its instance u_<wire>
                wire = self.names.fresh(f"p_{node.name}_{j}")
            self.names.reserve(f"u_{wire}")
            constant_product(self.e, xt.type, c, f"{x.expr}[{int(xidx[j]) * xw} +: {xw}]", wire, w,
                             f"{_tag(node)}: y[{j}] = x[{int(xidx[j])}] * c")
            self.e.line(f"assign {dst} = {wire};")
        self.unused(x, set(range(x.n)) - {int(xidx[j]) for j, c in enumerate(per) if c}, node, "multiplied by 0")
        return out

    def operands(self, node: Node, ins: list[Tensor], out_t: Tensor, v: list[Bus]) -> tuple[list[Bus], int]:
        """The inputs of a two-operand elementwise node: constants as wires, aligned to the cycle of the
        latest computed input and broadcast to the output's shape; and that cycle."""
        lat = max((b.latency for b in v if b.const is None), default=0)
        ops = []
        for t, b in zip(ins, v, strict=True):
            b = self.materialise(b, node.name)
            b = self.delayed(b, lat - b.latency, f"{_tag(node)}: aligns {comment_text(t.name)}")
            ops.append(self.broadcast(b, t, out_t, node))
        return ops, lat

    def binary(self, prim: Primitive, node: Node, out_t: Tensor, ab: tuple[Bus, Bus], lat: int,
               shifts: bool, extra: dict[str, object], what: str) -> Bus:
        """One two-operand vector primitive (ports a, b, y) over the output's elements."""
        a, b = ab
        out = Bus(self.wire(f"t_{out_t.name}", out_t.size * out_t.type.width), out_t.type, out_t.size, lat,
                  max(a.delay_ns, b.delay_ns) + node_delay_ns(node.op, self.cfg, node))
        params: dict[str, object] = {"N": out.n}
        for p, x in (("A", a), ("B", b)):
            params |= {f"{p}_W": x.type.width, f"{p}_SIGNED": int(x.type.signed)}
            if shifts:
                params[f"{p}_SHIFT"] = out.type.frac - x.type.frac
        params |= {"OUT_W": out.type.width, **extra}
        self.e.instance(prim, self.names.fresh(f"u_{node.name}"), params, {"a": a.expr, "b": b.expr, "y": out.expr},
                        f"{_tag(node)}: {what} -> {out.type}")
        return out

    def unary(self, prim: Primitive, node: Node, x: Bus, out_t: Tensor, extra: dict[str, object],
              what: str) -> Bus:
        """One one-operand vector primitive (ports x, y) over the elements of ``x``."""
        x = self.materialise(x, node.name)
        out = Bus(self.wire(f"t_{out_t.name}", x.n * out_t.type.width), out_t.type, x.n, x.latency,
                  x.delay_ns + node_delay_ns(node.op, self.cfg, node))
        params = {"N": x.n, "IN_W": x.type.width, "IN_SIGNED": int(x.type.signed), **extra,
                  "OUT_W": out_t.type.width}
        self.e.instance(prim, self.names.fresh(f"u_{node.name}"), params, {"x": x.expr, "y": out.expr},
                        f"{_tag(node)}: {what} -> {out.type}")
        return out

    def unused(self, x: Bus, elements: set[int], node: Node, why: str) -> None:
        """Mark the elements of ``x`` a node does not read (a lint waiver on one named wire)."""
        if not elements or x.const is not None:
            return
        w = x.type.width
        parts = [f"{x.expr}[{k * w} +: {w}]" for k in sorted(elements)]
        self.e.line("/* verilator lint_off UNUSEDSIGNAL */")
        self.e.line(f"wire {self.names.fresh(f'unused_{node.name}')} = ^{{{', '.join(parts)}}};  "
                    f"// {_tag(node)}: {why}")
        self.e.line("/* verilator lint_on UNUSEDSIGNAL */")

    @rule(Op.SUB)
    def sub(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        (a, b), lat = self.operands(node, ins, outs[0], v)
        return [self.binary(Primitive.SUB, node, outs[0], (a, b), lat, True, {}, f"{a.type} - {b.type}")]

    @rule(Op.MAX)
    def max_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        (a, b), lat = self.operands(node, ins, outs[0], v)
        return [self.binary(Primitive.MINMAX, node, outs[0], (a, b), lat, True, {"MIN": 0},
                            f"max({a.type}, {b.type})")]

    @rule(Op.MIN)
    def min_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        (a, b), lat = self.operands(node, ins, outs[0], v)
        return [self.binary(Primitive.MINMAX, node, outs[0], (a, b), lat, True, {"MIN": 1},
                            f"min({a.type}, {b.type})")]

    @rule(Op.NEG)
    def neg(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        return [self.unary(Primitive.NEGATE, node, v[0], outs[0], {"ABS": 0}, f"-{ins[0].type}")]

    @rule(Op.ABS)
    def abs_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        return [self.unary(Primitive.NEGATE, node, v[0], outs[0], {"ABS": 1}, f"|{ins[0].type}|")]

    @rule(Op.CLIP)
    def clip(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        frac, lo, hi = clip_bounds(node, ins[0].type)
        cw = clip_bound_width(lo, hi)
        params = {"SHIFT": frac - ins[0].type.frac, "C_W": cw, "HAS_LO": int(lo is not None),
                  "LO": literal(lo or 0, cw), "HAS_HI": int(hi is not None), "HI": literal(hi or 0, cw)}
        return [self.unary(Primitive.CLIP, node, v[0], outs[0], params,
                           f"clip({ins[0].type}, {node.attrs.lo}, {node.attrs.hi})")]

    @rule(Op.REDUCE_SUM)
    def reduce_sum(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        x = self.materialise(v[0], node.name)
        module = self.module_names.fresh(f"{self.top}_{node.name}")
        m = render_reduce_sum(node, ins[0], outs[0], module, self.cfg, x.delay_ns)
        return [self.instantiate(node, m, x, outs[0], "ReduceSum")]

    @rule(Op.SLICE)
    def slice_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        x = v[0]
        idx = slice_index(node, ins[0].shape)
        if x.const is not None:
            return [replace(x, type=outs[0].type, n=len(idx), const=tuple(x.const[int(k)] for k in idx))]
        w = x.type.width
        name = self.wire(f"t_{outs[0].name}", len(idx) * w)
        parts = [f"{x.expr}[{int(k) * w} +: {w}]" for k in reversed(idx)]
        a = node.attrs
        self.e.line(f"assign {name} = {{{', '.join(parts)}}};  "
                    f"// {_tag(node)}: Slice axis {a.axis} [{a.start}:{a.stop}:{a.step}]")
        self.unused(x, set(range(x.n)) - {int(k) for k in idx}, node, "elements outside the slice")
        return [Bus(name, outs[0].type, len(idx), x.latency, x.delay_ns)]

    def convert(self, b: Bus, dst: FixedType, node: Node) -> Bus:
        """``b`` on the grid and width of ``dst`` (a left shift and an extension, never a rounding)."""
        if b.type.plain() == dst.plain():
            return replace(b, type=dst)
        if b.type.frac > dst.frac:
            raise NodeError(node, f"{b.type} does not fit {dst} without rounding")
        out = Bus(self.wire(f"{b.expr}_as", b.n * dst.width), dst, b.n, b.latency, b.delay_ns)
        params = {"N": b.n, "IN_W": b.type.width, "IN_SIGNED": int(b.type.signed), "OUT_W": dst.width,
                  "OUT_SIGNED": int(dst.signed), "SHIFT": b.type.frac - dst.frac, "ROUNDING": 0, "SAT": 0,
                  "NARROW": 0}
        self.e.instance(Primitive.REQUANT, self.names.fresh(f"u_{node.name}_as"), params,
                        {"x": b.expr, "y": out.expr}, f"{_tag(node)}: {b.type} on the grid of {dst} (wiring)")
        return out

    @rule(Op.CONCAT)
    def concat(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        """Concatenation on any axis: each input brought to the output grid (constants in Python), then
        the words placed in the output's row-major order."""
        out_t = outs[0]
        axis = check_concat(node, ins, out_t)
        src, elem = concat_index(node, ins, out_t)
        if all(b.const is not None for b in v):
            raise NodeError(node, "Concat of constants only should have been folded; it has no hardware")
        lat = max(b.latency for b in v if b.const is None)
        parts = []
        for t, b in zip(ins, v, strict=True):
            if b.const is not None:
                s = out_t.type.frac - t.type.frac
                b = self.materialise(Bus("", out_t.type, b.n, lat, 0.0, tuple(c << s for c in b.const)), node.name)
            else:
                b = self.delayed(b, lat - b.latency, f"{_tag(node)}: aligns {comment_text(t.name)}")
                b = self.convert(b, out_t.type, node)
            parts.append(b)
        w = out_t.type.width
        row = out_t.shape[-1] if out_t.shape else 1
        name = self.wire(f"t_{out_t.name}", out_t.size * w)
        self.e.comment(f"{_tag(node)}: Concat on axis {axis}, one row per line")
        for r in range(0, out_t.size, row):
            words = [f"{parts[int(src[k])].expr}[{int(elem[k]) * w} +: {w}]" for k in range(r, min(r + row, out_t.size))]
            self.e.line(f"assign {name}[{r * w} +: {len(words) * w}] = {{{', '.join(reversed(words))}}};")
        return [Bus(name, out_t.type, out_t.size, lat, max(b.delay_ns for b in parts))]

    @rule(Op.RESHAPE)
    def reshape(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        self.e.comment(f"{_tag(node)}: Reshape {ins[0].shape} -> {outs[0].shape} keeps the row-major bits")
        return [replace(v[0], type=outs[0].type)]

    # ---- outputs -------------------------------------------------------------------------------------
    def connect_outputs(self, values: dict[str, Bus], ports: dict[str, str], valid: bool = True) -> int:
        """Drive the output ports, all valid in the same cycle; returns the design latency.
        ``valid`` False leaves out the valid chain (a GNN lane, whose caller tracks validity)."""
        live = [values[o] for o in self.graph.outputs if values[o].const is None]
        lat = max((b.latency for b in live), default=0)
        if register_outputs(max((b.delay_ns for b in live), default=0.0), self.cfg):
            lat += 1
        for o in self.graph.outputs:
            b = values[o]
            if b.const is not None:
                self.e.line(f"assign {ports[o]} = {packed(b.const, b.type.width)};  "
                            f"// output {comment_text(o)} is a constant")
                continue
            b = self.delayed(b, lat - b.latency,
                             f"pipeline: output {comment_text(o)} registered and aligned to cycle {lat}")
            self.e.line(f"assign {ports[o]} = {b.expr};")
        if not valid:
            return lat
        self.e.instance(Primitive.VALID_DELAY, self.names.fresh("u_out_valid"), {"DEPTH": lat},
                        {"clk": "clk", "rst": "rst", "d": "in_valid", "q": "out_valid"},
                        f"pipeline: valid bit, outputs appear {lat} cycle(s) after their input")
        return lat

    @rule(Op.REQUANT)
    def requant(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        """Exact integer requantisation: comparators and a count, or multiply-add-shift-clip (``requant``)."""
        from l1ml.backends.verilog.requant import render_requant

        return [render_requant(self, node, ins[0], outs[0], v[0])]


def mask_operand(node: Node, ins: list[Tensor]) -> int | None:
    """Which input of a Mul is a 1-bit 0/1 mask that broadcasts over the other, if one is."""
    for k in (1, 0):
        t = ins[k]
        if t.type is not None and not t.is_const and t.type.width == 1 and not t.type.signed \
                and t.type.frac == 0 and len(t.shape) == len(ins[1 - k].shape):
            return k
    return None


def check_concat(node: Node, ins: list[Tensor], out: Tensor) -> int:
    """The Concat axis the backends build (any axis of the non-batch shape), as a non-negative index."""
    return concat_axis(node, out)
