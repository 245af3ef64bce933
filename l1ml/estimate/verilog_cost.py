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
from dataclasses import replace

import l1ml.estimate.verilog_elem_cost as elem
from l1ml.backends.requant_plan import requant_problem
from l1ml.backends.verilog.arith import clog2
from l1ml.backends.verilog.conv import conv_problem
from l1ml.backends.verilog.dense import DenseProblem, dense_problem
from l1ml.backends.verilog.pipeline import (
    PipelineConfig,
    plan_dense,
    plan_graph,
    register_outputs,
    split_tree_mask,
)
from l1ml.backends.verilog.pool import POOL_KIND, PoolKind, pool_levels, pool_window
from l1ml.backends.verilog.render import check_concat
from l1ml.backends.verilog.requant import plan_requant, requant_levels
from l1ml.errors import NodeError
from l1ml.estimate.bits import Word, carry_cells
from l1ml.estimate.requant_cost import verilog_requant
from l1ml.estimate.result import LayerCost, Resources
from l1ml.estimate.verilog_prims import (
    COEFFS,
    Coefficients,
    Val,
    adder,
    adder_graph_cost,
    adder_tree,
    delay_line,
    max_tree,
    requant_cost,
    rom_patterns,
    rom_product,
    word_of,
)
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.interpreter import Interpreter, rule
from l1ml.ir.ops import Op, TransposeAttrs


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
        """``dense._render_parallel``: the layer's shared adder graph (``cmm``) and its pipeline registers,
        once per row."""
        g = d.graph()
        plan = plan_graph(g, self.cfg, xv.delay_ns)
        res = Resources()
        adder_graph_cost(g, plan, res, self.k)
        rows = f" per row x {d.rows} rows" if d.rows > 1 else ""
        detail = f"adder graph: {g.summary(d.graph(0))}{rows}, {plan.latency} register level(s)"
        return res.scaled(d.rows), plan.latency, plan.delay_out_ns, detail

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
        """``conv.render_conv``: the layer's one shared adder graph (``cmm``) and its pipeline registers."""
        if v[0].const:
            raise NodeError(node, "Conv2D of a constant input should have been folded; it has no hardware")
        p = conv_problem(node, ins[0], ins[1], ins[2] if len(ins) > 2 else None, outs[0])
        g = p.graph()
        plan = plan_graph(g, self.cfg, v[0].delay_ns)
        res = Resources()
        adder_graph_cost(g, plan, res, self.k)
        ho, wo = p.win.out_hw
        detail = (f"adder graph over {ho * wo} pixels x {p.c_out} channels: {g.summary(p.graph(0))}, "
                  f"{plan.latency} register level(s)")
        self.row(node, plan.latency, res, detail)
        return [Val(p.out, outs[0].size, v[0].latency + plan.latency, plan.delay_out_ns)]

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
        out = outs[0]
        res = Resources()
        lat, delay = elem.aligned(self, ins, v, res)  # a delayed operand starts a new path, as in render.add
        per = Resources()
        a, bb = (word_of(t, out.type.frac) for t in ins)
        adder(per, a, bb, out.type.width, self.k)
        res += per.scaled(out.size)
        self.row(node, 0, res, "")
        return [Val(out.type, out.size, lat, delay + self.cfg.delays.adder_ns, all(b.const for b in v))]

    @rule(Op.MUL)
    def mul(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        """``render.mul``: by a mask, by constants or of two tensors (``verilog_elem_cost.mul``)."""
        return elem.mul(self, node, ins, outs, v)

    # the elementwise integer ops and reductions: priced in verilog_elem_cost as render.py builds them
    @rule(Op.SUB)
    def sub(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return elem.two_operand(self, node, ins, outs, v)

    @rule(Op.MAX)
    def max_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return self.sub(node, ins, outs, v)

    @rule(Op.MIN)
    def min_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return self.sub(node, ins, outs, v)

    @rule(Op.NEG)
    def neg(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return elem.one_operand(self, node, ins, outs, v)

    @rule(Op.ABS)
    def abs_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return self.neg(node, ins, outs, v)

    @rule(Op.CLIP)
    def clip(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return self.neg(node, ins, outs, v)

    @rule(Op.REDUCE_SUM)
    def reduce_sum(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return elem.reduce_sum(self, node, ins, outs, v)

    @rule(Op.SLICE)
    def slice_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        return elem.slice_(self, node, ins, outs, v)

    @rule(Op.CONCAT)
    def concat(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        """``render.concat``: wiring, plus the delay lines that align inputs of different cycles."""
        check_concat(node, ins, outs[0])
        res = Resources()
        lat, delay = elem.aligned(self, ins, v, res)
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
        p = requant_problem(node, ins[0], outs[0])
        x = v[0]
        plan = plan_requant(requant_levels(p, self.cfg), 0.0 if x.const else x.delay_ns, self.cfg)
        res, detail = verilog_requant(p, plan, self.k)
        self.row(node, plan.latency, res, detail)
        lat = 0 if x.const else x.latency
        return [Val(p.out, p.n, lat + plan.latency, plan.delay_out_ns)]


def priced(model: VerilogCost) -> tuple[list[LayerCost], Resources, int]:
    """Run a cost model over its graph: per-node rows (with the output alignment), the total, the latency."""
    g = model.graph
    env = model.run({name: Val(g.t(name).type, g.t(name).size, 0) for name in g.inputs})
    latency, io = model.finish(env)
    total = Resources()
    for r in model.rows:
        total += r.res
    if io.lut or io.ff:
        model.rows.append(LayerCost("(outputs)", "", "Output", 0, io, "output alignment and valid bits"))
        total += io
    return model.rows, total, latency
