"""Cost model of the Verilog for a graph with row tensors (a GNN), following ``backends.verilog.rows``.

The schedule functions are the generator's (``rows_plan``), so latency and II are exact. Each region's
lane is priced by the ordinary ``VerilogCost`` on the region's P-row sub-graph; around it come the
input multiplexers (per lane and input, the distinct words of ``rows_plan.lane_words`` at a per-word
cost fitted to Yosys, ``Coefficients.row_mux_lut_per_word``), the step counters, the hold stages (an
enabled register per bit and stage) and the collect shift register ((S - 1) blocks of lane outputs). A
SegmentSum is streamed: per segment and feature the gated terms of the lanes that hold its rows
(``Coefficients.stream_gate_lut`` per term bit), their adder tree with the registers ``stream_plan``
puts, and the accumulator's adder and register.
"""

from __future__ import annotations

from l1ml.backends.verilog.arith import clog2
from l1ml.backends.verilog.pipeline import PipelineConfig, register_outputs, split_tree_mask
from l1ml.backends.verilog.rows_plan import (
    Region,
    gather_indices,
    input_tables,
    lane_graph,
    region_stages,
    region_start,
    region_valid,
    segment_members,
    stage_load,
    stream_lanes,
    stream_plan,
    stream_start,
    stream_valid,
    streamed,
    walk_units,
)
from l1ml.estimate.bits import Word
from l1ml.estimate.result import LayerCost, Resources
from l1ml.estimate.verilog_cost import VerilogCost
from l1ml.estimate.verilog_prims import COEFFS, Coefficients, Val, adder, adder_tree, delay_line
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.interpreter import rule
from l1ml.ir.ops import Op


class RowsCost(VerilogCost):
    """Prices ``RowsRenderer``'s design unit by unit; ``reuse`` is R (rows per lane and graph)."""

    what = "the Verilog cost model (row regions)"

    def __init__(self, graph: Graph, cfg: PipelineConfig, reuse: int, coeffs: Coefficients = COEFFS):
        super().__init__(graph, cfg, 1, coeffs)  # inside a lane every layer is fully parallel (reuse 1)
        self.lane_reuse = reuse  # R: the rows each lane computes per graph
        self.env: dict[str, Val] = {}
        self.views: dict[str, tuple[str, tuple[int, ...] | None]] = {}
        self.stages: dict[str, int] = {}  # hold stages per top-level value
        self.streams: dict[str, tuple[int, int, int, int]] = {}  # streamed outputs: lanes, steps, start, lane latency

    def run(self, inputs: dict[str, Val]) -> dict[str, Val]:
        self.env = walk_units(self, inputs)
        for source, n in self.stages.items():
            b = self.env[source]
            res = Resources(ff=n * b.n * b.type.width)
            self.valid_depths |= {stage_load(b.latency, k, self.lane_reuse) for k in range(1, n + 1)}
            self.rows.append(LayerCost(f"hold {source}", "", "Hold", 0, res,
                                       f"{n} hold stage(s) of {b.n} x {b.type.width} bits"))
        return self.env

    @rule(Op.GATHER)
    def gather(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        src, idx = self.views.get(ins[0].name, (ins[0].name, None))
        own = gather_indices(node)
        self.views[outs[0].name] = (src, own if idx is None else tuple(idx[i] for i in own))
        self.row(node, 0, Resources(), "wiring into the readers' multiplexers")
        return [v[0]]

    @rule(Op.SEGMENT_SUM)
    def segment_sum(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[Val]) -> list[Val]:
        x, out = ins[0], outs[0]
        lanes, steps, start, lane_latency = self.streams[x.name]
        mask, lat = stream_plan(node, steps, self.cfg)
        in_w = x.type.width + (0 if x.type.signed else 1)
        yw = out.type.width
        term = Word(min(x.type.min_code, 0), max(x.type.max_code, 0))  # a gated term may be 0
        per_feature = Resources()
        sums = terms = 0
        for rows in segment_members(node):
            if rows:
                n = len(stream_lanes(rows, steps)[0])
                per_feature += stream_sum_cost(n, in_w, yw, term, mask, self.k)
                sums, terms = sums + x.shape[1], terms + n * x.shape[1]
        res = per_feature.scaled(x.shape[1])
        if sums:
            res += delay_line(1, lat)  # the first flag, delayed to the accumulators
        regs = f", {lat} register(s) in the gated sums" if lat else ""
        self.row(node, lat + 1, res, f"{sums} stream sums of {terms} terms in all, streamed from {lanes} lane(s), "
                 f"up to {node.attrs.degree()} rows per segment{regs}")
        return [Val(out.type, out.size, stream_valid(start, steps, lane_latency, lat), 0.0)]

    def region(self, region: Region) -> None:
        g, reuse, k = self.graph, self.lane_reuse, self.k
        steps, lanes = region.steps(reuse), region.lanes(reuse)
        views = {t: self.views.get(t, (t, None)) for t in region.inputs}
        start = region_start([self.env[src].latency for src, _ in views.values()])
        tables = {t: input_tables(region, reuse, start, self.env[src].latency, idx) for t, (src, idx) in views.items()}
        # the lanes: the ordinary cost model on the P-row sub-graph, inputs through their table multiplexers
        sub = lane_graph(g, region, lanes, region.name)
        lane = VerilogCost(sub, self.cfg, 1, k)
        env = lane.run({t: Val(sub.t(t).type, sub.t(t).size, 0,
                               self.cfg.delays.table_mux_ns(max(len(w) for w, _ in tables[t])))
                        for t in region.inputs})
        latency, io = lane.finish(env, valid=False)
        d = max((env[o].delay_ns for o in region.outputs), default=0.0)
        delay_out = 0.0 if register_outputs(d, self.cfg) else d
        lane_res = io
        for r in lane.rows:
            lane_res += r.res
        self.rows.append(LayerCost(f"{region.name} lanes", "", "Lanes", latency, lane_res,
                                   f"{lanes} lane(s) x {steps} step(s): {', '.join(region.nodes)}"))
        # input multiplexers (distinct words per lane) and the step counter
        mux = Resources()
        n_mux = n_words = 0
        if steps > 1:
            mux += step_counter_cost(steps)
            self.valid_depths.add(start)
        for t, (src, _) in views.items():
            b = self.env[src]
            self.stages[src] = max(self.stages.get(src, 0), region_stages(region, b.latency, start, reuse))
            row_bits = g.t(t).shape[1] * b.type.width
            for words, _ in tables[t]:
                mux.lut += row_bits * (len(words) - 1) * k.row_mux_lut_per_word
                if len(words) > 1:
                    n_mux, n_words = n_mux + 1, n_words + len(words)
        self.rows.append(LayerCost(f"{region.name} inputs", "", "Mux", 0, mux,
                                   f"{n_mux} table multiplexers of {n_words} words in all ({steps} steps, "
                                   f"{len(views)} input(s)), step counter"))
        # the collect shift registers, or the step counter of a streamed output
        valid = region_valid(start, steps, latency)
        collect, counters = Resources(), Resources()
        for o in region.outputs:
            t = g.t(o)
            if streamed(g, o):
                counters += step_counter_cost(steps)
                self.valid_depths.add(stream_start(start, latency))
                self.streams[o] = (lanes, steps, start, latency)
            else:
                collect.ff += (steps - 1) * lanes * t.shape[1] * t.type.width
            self.env[o] = Val(t.type, t.size, valid, delay_out)
        self.rows.append(LayerCost(f"{region.name} collect", "", "Collect", 0, collect,
                                   f"output valid in cycle {valid}"))
        if counters.ff:
            self.rows.append(LayerCost(f"{region.name} stream", "", "Counter", 0, counters,
                                       "step counter of the SegmentSums streamed from the lanes"))


def step_counter_cost(steps: int) -> Resources:
    """``l1ml_reuse_ctrl`` counting S steps: a counter of clog2(S + 1) bits and a busy bit."""
    sel_w = max(1, clog2(steps + 1))
    return Resources(lut=sel_w + 2, ff=sel_w + 1)


def stream_sum_cost(n: int, in_w: int, out_w: int, term: Word, reg_mask: int, k: Coefficients) -> Resources:
    """``l1ml_stream_sum`` over n gated terms of ``term``'s range: the gates (``stream_gate_lut`` per term
    bit), the adder tree and its registers (this sum's part of the SegmentSum's ``reg_mask``), the
    registers that line it up with the deepest tree, the accumulator's adder and its register."""
    own, extra = split_tree_mask(reg_mask, n)
    res = Resources(lut=k.stream_gate_lut * n * in_w, ff=out_w)
    adder_tree([term] * n, in_w, out_w, own, res, k)
    res += delay_line(out_w, extra)
    acc = Word(-(1 << (out_w - 1)), (1 << (out_w - 1)) - 1)  # the accumulator and the step sum, at OUT_W
    adder(res, acc, acc, out_w, k)
    return res
