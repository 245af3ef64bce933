"""The top level of a graph with row tensors (a GNN): regions time-multiplexed over lanes.

The schedule is ``rows_plan``'s. Per region this emits: a lane module (the region's nodes on P rows,
rendered by the ordinary ``VerilogRenderer`` with constant multipliers), a phase counter
(``l1ml_reuse_ctrl``), per lane and input an R-way ``l1ml_mux`` that picks the step's row from the
input's hold stages (a Gather is only a different row in that mux: wiring), and a free-running shift
register that collects the R steps. A hold stage is an ``l1ml_hold`` loaded when its predecessor holds
the graph's value. SegmentSum nodes are modules of adder trees (``segsum``); Reshape is free.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from l1ml.backends.verilog.arith import clog2
from l1ml.backends.verilog.dense import ModuleText
from l1ml.backends.verilog.emitter import Emitter, Names, literal
from l1ml.backends.verilog.pipeline import PipelineConfig, register_outputs
from l1ml.backends.verilog.primitives import Primitive
from l1ml.backends.verilog.render import Bus, VerilogRenderer
from l1ml.backends.verilog.rows_plan import (
    Region,
    gather_indices,
    hold_stage,
    lane_graph,
    region_start,
    region_valid,
    stage_load,
    step_cycle,
    walk_units,
)
from l1ml.backends.verilog.segsum import render_segment_sum
from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.interpreter import rule
from l1ml.ir.ops import Op
from l1ml.names import comment_text


@dataclass(frozen=True)
class View:
    """A region input: rows of a top-level value, through a Gather's indices (None: the same rows)."""

    source: str
    index: tuple[int, ...] | None


class RowsRenderer(VerilogRenderer):
    """The top module of a row graph; ``reuse`` is R, the rows each lane computes per graph (II = R)."""

    what = "the Verilog backend (row regions)"

    def __init__(self, graph: Graph, top: str, cfg: PipelineConfig, reuse: int):
        super().__init__(graph, top, cfg, 1)  # inside a lane every layer is fully parallel (reuse 1)
        self.lane_reuse = reuse  # R: the rows each lane computes per graph
        self.env: dict[str, Bus] = {}
        self.views: dict[str, View] = {}
        self.chains: dict[str, list[str]] = {}
        self.unread: list[str] = []  # wires some of whose bits nothing reads (idle lanes, ungathered rows)

    def run(self, inputs: dict[str, Bus]) -> dict[str, Bus]:
        self.env = walk_units(self, inputs)
        self.unread += [chain[-1] for chain in self.chains.values()]  # rows no Gather reads
        if self.unread:
            self.e.line("/* verilator lint_off UNUSEDSIGNAL */")
            self.e.line("wire unused_rows = ^{  // rows of idle lanes and rows no Gather reads")
            for k, wire in enumerate(self.unread):
                self.e.line(f"    {wire}" + ("," if k < len(self.unread) - 1 else ""))
            self.e.line("};")
            self.e.line("/* verilator lint_on UNUSEDSIGNAL */")
        return self.env

    # ---- cross-row nodes -----------------------------------------------------------------------------
    @rule(Op.GATHER)
    def gather(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        idx = gather_indices(node)
        src = self.view(ins[0].name)
        if src.index is not None:
            idx = tuple(src.index[i] for i in idx)
        self.views[outs[0].name] = View(src.source, idx)
        self.e.comment(f"node: {comment_text(node.name)}: Gather of {len(idx)} rows, wired into the readers' multiplexers")
        return [replace(v[0], expr="", n=outs[0].size)]

    @rule(Op.SEGMENT_SUM)
    def segment_sum(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Bus]) -> list[Bus]:
        x = v[0]
        if x.const is not None or ins[0].name in self.views:
            raise NodeError(node, "SegmentSum must read a region's output")
        module = self.module_names.fresh(f"{self.top}_{node.name}")
        m = render_segment_sum(node, ins[0], outs[0], module, self.cfg, x.delay_ns)
        return [self.instantiate(node, m, x, outs[0], "SegmentSum, an adder tree per segment and feature")]

    def view(self, tensor: str) -> View:
        return self.views.get(tensor, View(tensor, None))

    # ---- hold stages ---------------------------------------------------------------------------------
    def stage(self, source: str, j: int) -> str:
        """Hold stage ``j`` of a top-level value (stage 0 is the value itself)."""
        b = self.materialise(self.env[source], source)
        chain = self.chains.setdefault(source, [b.expr])
        while len(chain) <= j:
            k = len(chain)
            q = self.wire(f"h_{source}_{k}", b.bits)
            load = stage_load(b.latency, k, self.lane_reuse)
            self.e.instance(Primitive.HOLD, self.names.fresh(f"u_{q}"), {"W": b.bits},
                            {"clk": "clk", "en": self.valid_at(load), "d": chain[-1], "q": q},
                            f"hold stage {k} of '{source}': loaded in cycle {load}, read until cycle "
                            f"{load + self.lane_reuse}")
            chain.append(q)
        return chain[j]

    # ---- regions -------------------------------------------------------------------------------------
    def region(self, region: Region) -> None:
        g, reuse = self.graph, self.lane_reuse
        lanes = region.lanes(reuse)
        views = {t: self.view(t) for t in region.inputs}
        start = region_start([self.env[vw.source].latency for vw in views.values()])
        lane = self.lane_module(region, lanes)
        sel = self.phase_counter(region, start)
        e = self.e
        e.comment(f"{region.name}: nodes {', '.join(map(comment_text, region.nodes))} on {region.rows} rows, {lanes} lane(s) x "
                  f"{reuse} step(s); inputs captured in cycle {start}, output valid in cycle "
                  f"{region_valid(start, reuse, lane.latency)}")
        ports = {"clk": "clk"}
        for t in region.inputs:
            vw, src = views[t], self.env[views[t].source]
            feats = g.t(t).shape[1]
            w = src.type.width
            row_bits = feats * w
            lin = self.wire(f"l_{region.name}_{t}", lanes * row_bits)
            for p in range(lanes):
                words = []
                for step in range(reuse):
                    r = step * lanes + p
                    if r >= region.rows:
                        words.append(literal(0, row_bits))
                        continue
                    sr = r if vw.index is None else vw.index[r]
                    j = hold_stage(src.latency, step_cycle(start, step), reuse)
                    words.append(f"{self.stage(vw.source, j)}[{sr * row_bits} +: {row_bits}]")
                y = f"{lin}[{p * row_bits} +: {row_bits}]"
                if reuse == 1:
                    e.line(f"assign {y} = {words[0]};  // {region.name}: {comment_text(t)} row {p}")
                else:
                    e.inline(Primitive.MUX, self.names.fresh(f"u_{lin}_{p}"),
                             {"N": reuse, "W": row_bits, "SEL_W": max(1, clog2(reuse))},
                             {"words": f"{{{', '.join(reversed(words))}}}", "sel": sel, "y": y},
                             f"{region.name}: lane {p} reads {comment_text(t)} row step * {lanes} + {p}"
                             + ("" if vw.index is None else " through a Gather"))
            ports[lane.in_ports[t]] = lin
        outs = {}
        for o in region.outputs:
            t = g.t(o)
            outs[o] = self.wire(f"y_{region.name}_{o}", lanes * t.shape[1] * t.type.width)
            ports[lane.out_ports[o]] = outs[o]
        e.submodule(lane.name, self.names.fresh(f"u_{region.name}"), {}, ports,
                    f"{region.name}: the lanes, latency {lane.latency} cycle(s)")
        valid = region_valid(start, reuse, lane.latency)
        for o in region.outputs:
            self.env[o] = self.collect(region, o, outs[o], lanes, valid, lane.delay_out_ns)

    def phase_counter(self, region: Region, start: int) -> str:
        """The step of the region's lanes (a mux select); none needed when R is 1."""
        reuse = self.lane_reuse
        if reuse == 1:
            return ""
        sel_w = max(1, clog2(reuse))
        phase = self.wire(f"phase_{region.name}", sel_w)
        flags = self.wire(f"flags_{region.name}", 2)
        self.e.instance(Primitive.REUSE_CTRL, self.names.fresh(f"u_ctrl_{region.name}"), {"R": reuse, "SEL_W": sel_w},
                        {"clk": "clk", "rst": "rst", "start": self.valid_at(start), "phase": phase,
                         "first": f"{flags}[0]", "last": f"{flags}[1]"},
                        f"{region.name}: steps 0 .. {reuse - 1} in cycles {start + 1} .. {start + reuse}")
        self.unread.append(flags)
        return phase

    def collect(self, region: Region, o: str, lane_y: str, lanes: int, valid: int, delay_ns: float) -> Bus:
        """The R steps of a lane output as one tensor: step t delayed by R - 1 - t cycles."""
        t = self.graph.t(o)
        reuse = self.lane_reuse
        block = lanes * t.shape[1] * t.type.width
        full = lane_y
        if reuse > 1:
            q = self.wire(f"c_{region.name}_{o}", (reuse - 1) * block)
            d = lane_y if reuse == 2 else f"{{{lane_y}, {q}[{(reuse - 1) * block - 1}:{block}]}}"
            self.e.instance(Primitive.DELAY, self.names.fresh(f"u_{q}"), {"W": (reuse - 1) * block, "DEPTH": 1},
                            {"clk": "clk", "d": d, "q": q},
                            f"{region.name}: collects {comment_text(o)}, one lane block per step (shift register)")
            full = self.wire(f"f_{region.name}_{o}", reuse * block)
            self.e.line(f"assign {full} = {{{lane_y}, {q}}};")
        bits = t.size * t.type.width
        if reuse * block > bits:
            self.unread.append(f"{full}[{reuse * block - 1}:{bits}]")
        y = self.wire(f"t_{o}", bits)
        self.e.line(f"assign {y} = {full}[{bits - 1}:0];  // {region.name}: {comment_text(o)} valid in cycle {valid}")
        return Bus(y, t.type, t.size, valid, delay_ns)

    def lane_module(self, region: Region, lanes: int) -> LaneModule:
        """Render the region's nodes on ``lanes`` rows as a module of its own."""
        name = self.module_names.fresh(f"{self.top}_{region.name}")
        sub = lane_graph(self.graph, region, lanes, name)
        r = VerilogRenderer(sub, name, self.cfg, 1)
        r.module_names = self.module_names
        ports = Names(["clk"])
        in_ports = {t: ports.fresh(f"in_{t}") for t in region.inputs}
        out_ports = {t: ports.fresh(f"out_{t}") for t in region.outputs}
        for p in [*in_ports.values(), *out_ports.values()]:
            r.names.reserve(p)
        env = r.run({t: Bus(p, sub.t(t).type, sub.t(t).size, 0) for t, p in in_ports.items()})
        live = [env[o] for o in region.outputs]
        d = max((b.delay_ns for b in live), default=0.0)
        delay_out = 0.0 if register_outputs(d, self.cfg) else d
        latency = r.connect_outputs(env, out_ports, valid=False)
        e = Emitter()
        e.comment(f"{region.name}: nodes {', '.join(map(comment_text, region.nodes))} on {lanes} row(s) at once "
                  f"(one step of {region.rows} rows); latency {latency} cycle(s)")
        e.line(f"module {name} (")
        with e.indent():
            decl = ["input  wire clk"]
            decl += [f"input  wire [{sub.t(t).size * sub.t(t).type.width - 1}:0] {p}" for t, p in in_ports.items()]
            decl += [f"output wire [{sub.t(t).size * sub.t(t).type.width - 1}:0] {p}" for t, p in out_ports.items()]
            for k, line in enumerate(decl):
                e.line(line + ("," if k < len(decl) - 1 else ""))
        e.line(");")
        body = list(r.e.lines)
        if not any(".clk(clk)" in ln or "(.clk(clk)" in ln for ln in body):
            body += ["/* verilator lint_off UNUSEDSIGNAL */",
                     "wire unused_clk = clk;  // a combinational lane has nothing to clock",
                     "/* verilator lint_on UNUSEDSIGNAL */"]
        e.lines.extend(("    " + ln) if ln else "" for ln in body)
        e.line("endmodule")
        self.modules.extend(r.modules)
        # the lane's body is its renderer's emitter's text, so its primitives are that emitter's
        m = LaneModule(name, e.text(), latency, delay_out, False, r.e.used, in_ports, out_ports)
        self.modules.append(m)
        return m


@dataclass
class LaneModule(ModuleText):
    """A region's lane module with its port names."""

    in_ports: dict[str, str] | None = None
    out_ports: dict[str, str] | None = None


__all__ = ["LaneModule", "RowsRenderer", "View"]
