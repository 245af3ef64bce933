"""The top level of a graph with row tensors (a GNN): regions time-multiplexed over lanes.

The schedule is ``rows_plan``'s. Per region this emits: a lane module (the region's nodes on P rows,
rendered by the ordinary ``VerilogRenderer`` with constant multipliers), a step counter
(``l1ml_reuse_ctrl``), per lane and input an ``l1ml_table_mux`` over the distinct (hold stage, row)
words the lane reads (lane p takes rows p S .. p S + S - 1), picked by a step table (a Gather is only a different row in that table: wiring),
and, for outputs read other than by SegmentSums, a free-running shift register that collects the S
steps. A hold stage is an ``l1ml_hold`` loaded when its predecessor holds the graph's value. A
SegmentSum is streamed from the lanes (``segsum``: an ``l1ml_stream_sum`` per segment and feature, with
a step counter of its own, L cycles behind the lanes'); Reshape is free.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from l1ml.backends.verilog.arith import clog2
from l1ml.backends.verilog.dense import ModuleText
from l1ml.backends.verilog.emitter import Emitter, Names, packed, tag
from l1ml.backends.verilog.pipeline import PipelineConfig, register_outputs
from l1ml.backends.verilog.primitives import Primitive
from l1ml.backends.verilog.render import Bus, VerilogRenderer
from l1ml.backends.verilog.rows_plan import (
    Region,
    gather_indices,
    input_tables,
    lane_graph,
    region_start,
    region_valid,
    stage_load,
    stream_plan,
    stream_start,
    stream_valid,
    streamed,
    walk_units,
)
from l1ml.backends.verilog.segsum import render_stream_sum
from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.interpreter import rule
from l1ml.ir.ops import Op
from l1ml.names import comment_text


@dataclass(frozen=True)
class Counter:
    """A step counter's outputs: the step (a select), the first-step flag and the select width."""

    phase: str
    first: str
    sel_w: int


@dataclass(frozen=True)
class Stream:
    """A region output summed as it leaves the lanes: the lanes' output wire, P, S and the step counter."""

    lane_y: str
    lanes: int
    steps: int
    first: str
    sel: str
    sel_w: int
    start: int  # the region's start cycle and lane latency: the SegmentSum's valid cycle is stream_valid's
    lane_latency: int


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
        self.streams: dict[str, Stream] = {}
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
        st = self.streams.get(ins[0].name)
        if st is None:
            raise NodeError(node, "SegmentSum must read a region's output that only SegmentSums read")
        module = self.module_names.fresh(f"{self.top}_{node.name}")
        mask, lat = stream_plan(node, st.steps, self.cfg)
        m = render_stream_sum(node, ins[0], outs[0], module, st.lanes, st.steps, st.sel_w, mask)
        self.modules.append(m)
        out = outs[0]
        valid = stream_valid(st.start, st.steps, st.lane_latency, lat)
        y = Bus(self.wire(f"t_{out.name}", out.size * out.type.width), out.type, out.size, valid, 0.0)
        self.e.submodule(m.name, self.names.fresh(f"u_{node.name}"), {},
                         {"clk": "clk", "first": st.first, "sel": st.sel, "x": st.lane_y, "y": y.expr},
                         f"{tag(node)}: SegmentSum streamed from {st.lanes} lane(s) over {st.steps} step(s), "
                         f"valid in cycle {valid}")
        return [y]

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
        steps, lanes = region.steps(reuse), region.lanes(reuse)
        views = {t: self.view(t) for t in region.inputs}
        start = region_start([self.env[vw.source].latency for vw in views.values()])
        tables = {t: input_tables(region, reuse, start, self.env[vw.source].latency, vw.index)
                  for t, vw in views.items()}
        # a lane input arrives through its widest table multiplexer
        lane = self.lane_module(region, lanes, {t: self.cfg.delays.table_mux_ns(max(len(w) for w, _ in tab))
                                                 for t, tab in tables.items()})
        e = self.e
        e.comment(f"{region.name}: nodes {', '.join(map(comment_text, region.nodes))} on {region.rows} rows, {lanes} lane(s) x "
                  f"{steps} step(s) (lane p, step t: row p * {steps} + t); inputs captured in cycle {start}, "
                  f"output valid in cycle {region_valid(start, steps, lane.latency)}")
        ctr = self.step_counter(region.name, start, steps, "input", need_first=False)
        sel, sel_w = ctr.phase, ctr.sel_w
        ports = {"clk": "clk"}
        for t in region.inputs:
            vw, src = views[t], self.env[views[t].source]
            row_bits = g.t(t).shape[1] * src.type.width
            lin = self.wire(f"l_{region.name}_{t}", lanes * row_bits)
            for p, (words, table) in enumerate(tables[t]):
                texts = [f"{self.stage(vw.source, j)}[{sr * row_bits} +: {row_bits}]" for j, sr in words]
                y = f"{lin}[{p * row_bits} +: {row_bits}]"
                if len(words) == 1:
                    e.line(f"assign {y} = {texts[0]};  // {region.name}: lane {p} reads {comment_text(t)} row "
                           f"{words[0][1]} at every step")
                    continue
                idx_w = max(1, clog2(len(words)))
                e.inline(Primitive.TABLE_MUX, self.names.fresh(f"u_{lin}_{p}"),
                         {"N": len(words), "W": row_bits, "STEPS": steps, "SEL_W": sel_w, "IDX_W": idx_w,
                          "TABLE": packed(table, idx_w)},
                         {"words": f"{{{', '.join(reversed(texts))}}}", "sel": sel, "y": y},
                         f"{region.name}: lane {p} reads {comment_text(t)} row {p} * {steps} + step"
                         + ("" if vw.index is None else " through a Gather") + f" ({len(words)} distinct words)")
            ports[lane.in_ports[t]] = lin
        outs = {}
        for o in region.outputs:
            t = g.t(o)
            outs[o] = self.wire(f"y_{region.name}_{o}", lanes * t.shape[1] * t.type.width)
            ports[lane.out_ports[o]] = outs[o]
        e.submodule(lane.name, self.names.fresh(f"u_{region.name}"), {}, ports,
                    f"{region.name}: the lanes, latency {lane.latency} cycle(s)")
        valid = region_valid(start, steps, lane.latency)
        for o in region.outputs:
            if streamed(g, o):
                c = self.step_counter(f"{region.name}_{o}", stream_start(start, lane.latency), steps, "stream",
                                      need_first=True)
                self.streams[o] = Stream(outs[o], lanes, steps, c.first, c.phase, c.sel_w, start, lane.latency)
                t = g.t(o)
                self.env[o] = Bus("", t.type, t.size, valid, lane.delay_out_ns)
            else:
                self.env[o] = self.collect(region, o, outs[o], lanes, steps, valid, lane.delay_out_ns)

    def step_counter(self, name: str, start: int, steps: int, what: str, need_first: bool) -> Counter:
        """A step counter started in cycle ``start``: steps 0 .. S-1 in the following cycles, then S (idle,
        hence one bit more than S - 1 needs). An input counter of one step is not needed (empty names)."""
        sel_w = max(1, clog2(steps + 1))
        if steps == 1 and not need_first:
            return Counter("", "", sel_w)
        phase = self.wire(f"phase_{name}", sel_w)
        flags = self.wire(f"flags_{name}", 2)
        self.e.instance(Primitive.REUSE_CTRL, self.names.fresh(f"u_ctrl_{name}"), {"R": steps, "SEL_W": sel_w},
                        {"clk": "clk", "rst": "rst", "start": self.valid_at(start), "phase": phase,
                         "first": f"{flags}[0]", "last": f"{flags}[1]"},
                        f"{name}: {what} steps 0 .. {steps - 1} in cycles {start + 1} .. {start + steps}")
        self.unread.append(f"{flags}[1]" if need_first else flags)
        return Counter(phase, f"{flags}[0]" if need_first else "", sel_w)

    def collect(self, region: Region, o: str, lane_y: str, lanes: int, steps: int, valid: int,
                delay_ns: float) -> Bus:
        """The S steps of a lane output as one tensor: step t delayed by S - 1 - t cycles, then the rows put
        in order (row p S + t is lane p of step t's block: wiring)."""
        t = self.graph.t(o)
        row_bits = t.shape[1] * t.type.width
        block = lanes * row_bits
        full = lane_y
        if steps > 1:
            q = self.wire(f"c_{region.name}_{o}", (steps - 1) * block)
            d = lane_y if steps == 2 else f"{{{lane_y}, {q}[{(steps - 1) * block - 1}:{block}]}}"
            self.e.instance(Primitive.DELAY, self.names.fresh(f"u_{q}"), {"W": (steps - 1) * block, "DEPTH": 1},
                            {"clk": "clk", "d": d, "q": q},
                            f"{region.name}: collects {comment_text(o)}, one lane block per step (shift register)")
            full = self.wire(f"f_{region.name}_{o}", steps * block)
            self.e.line(f"assign {full} = {{{lane_y}, {q}}};")
        # the shift register holds step t's block at t * block: lane p of it is row p * S + t
        slot = [f"{full}[{(step * lanes + lane) * row_bits} +: {row_bits}]"
                for lane in range(lanes) for step in range(steps)]  # in row order
        self.unread += slot[t.shape[0]:]
        y = self.wire(f"t_{o}", t.size * t.type.width)
        parts = list(reversed(slot[:t.shape[0]]))
        self.e.line(f"assign {y} = {{  // {region.name}: {comment_text(o)} in row order, valid in cycle {valid}")
        for k in range(0, len(parts), 8):
            self.e.line("    " + ", ".join(parts[k:k + 8]) + ("," if k + 8 < len(parts) else ""))
        self.e.line("};")
        return Bus(y, t.type, t.size, valid, delay_ns)

    def lane_module(self, region: Region, lanes: int, delay_in_ns: dict[str, float]) -> LaneModule:
        """Render the region's nodes on ``lanes`` rows as a module of its own; its inputs arrive
        ``delay_in_ns`` after a register (the table multiplexers in front of it)."""
        name = self.module_names.fresh(f"{self.top}_{region.name}")
        sub = lane_graph(self.graph, region, lanes, name)
        r = VerilogRenderer(sub, name, self.cfg, 1)
        r.module_names = self.module_names
        ports = Names(["clk"])
        in_ports = {t: ports.fresh(f"in_{t}") for t in region.inputs}
        out_ports = {t: ports.fresh(f"out_{t}") for t in region.outputs}
        for p in [*in_ports.values(), *out_ports.values()]:
            r.names.reserve(p)
        env = r.run({t: Bus(p, sub.t(t).type, sub.t(t).size, 0, delay_in_ns[t]) for t, p in in_ports.items()})
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


__all__ = ["Counter", "LaneModule", "RowsRenderer", "Stream", "View"]
