"""Cost model of the Verilog for a graph with row tensors (a GNN), following ``backends.verilog.rows``.

The schedule functions are the generator's (``rows_plan``), so latency and II are exact. Each region's
lane is priced by the ordinary ``VerilogCost`` on the region's P-row sub-graph; around it come the
input multiplexers (R-way per lane and input bit, at a per-word cost fitted to Yosys,
``Coefficients.row_mux_lut_per_word``), the phase counter, the
hold stages (an enabled register per bit and stage) and the collect shift register ((R - 1) blocks of
lane outputs). A SegmentSum is its adder trees, priced bit by bit like a Dense layer's.
"""

from __future__ import annotations

from l1ml.backends.verilog.arith import clog2
from l1ml.backends.verilog.pipeline import PipelineConfig, register_outputs, split_tree_mask
from l1ml.backends.verilog.rows_plan import (
    Region,
    gather_indices,
    lane_graph,
    region_stages,
    region_start,
    region_valid,
    segment_members,
    segment_plan,
    stage_load,
    walk_units,
)
from l1ml.estimate.bits import Word
from l1ml.estimate.result import LayerCost, Resources
from l1ml.estimate.verilog_cost import VerilogCost
from l1ml.estimate.verilog_prims import COEFFS, Coefficients, Val, adder_tree, delay_line
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
        plan = segment_plan(node, self.cfg, v[0].delay_ns)
        in_w = x.type.width + (0 if x.type.signed else 1)
        term = Word(x.type.min_code, x.type.max_code)
        res = Resources()
        if plan.input_reg:
            res.ff += x.size * x.type.width
        per_feature = Resources()
        for rows in segment_members(node):
            if not rows:
                continue
            mask, extra = split_tree_mask(plan.reg_mask, len(rows))
            adder_tree([term] * len(rows), in_w, out.type.width, mask, per_feature, self.k)
            per_feature += delay_line(out.type.width, extra)
        res += per_feature.scaled(x.shape[1])
        self.row(node, plan.latency, res, f"adder trees of up to {node.attrs.degree()} rows")
        return [Val(out.type, out.size, v[0].latency + plan.latency, plan.delay_out_ns)]

    def region(self, region: Region) -> None:
        g, reuse, k = self.graph, self.lane_reuse, self.k
        lanes = region.lanes(reuse)
        views = {t: self.views.get(t, (t, None)) for t in region.inputs}
        start = region_start([self.env[src].latency for src, _ in views.values()])
        # the lanes: the ordinary cost model on the P-row sub-graph
        sub = lane_graph(g, region, lanes, region.name)
        lane = VerilogCost(sub, self.cfg, 1, k)
        env = lane.run({t: Val(sub.t(t).type, sub.t(t).size, 0) for t in region.inputs})
        latency, io = lane.finish(env, valid=False)
        d = max((env[o].delay_ns for o in region.outputs), default=0.0)
        delay_out = 0.0 if register_outputs(d, self.cfg) else d
        lane_res = io
        for r in lane.rows:
            lane_res += r.res
        self.rows.append(LayerCost(f"{region.name} lanes", "", "Lanes", latency, lane_res,
                                   f"{lanes} lane(s) x {reuse} step(s): {', '.join(region.nodes)}"))
        # input multiplexers and the phase counter
        mux = Resources()
        if reuse > 1:
            sel_w = max(1, clog2(reuse))
            mux.ff += sel_w + 1
            mux.lut += sel_w + 2
            self.valid_depths.add(start)
        for t, (src, _) in views.items():
            b = self.env[src]
            self.stages[src] = max(self.stages.get(src, 0), region_stages(region, b.latency, start, reuse))
            row_bits = g.t(t).shape[1] * b.type.width
            for p in range(lanes):
                live = sum(1 for s in range(reuse) if s * lanes + p < region.rows)
                words = live + (1 if live < reuse else 0)  # idle steps read one shared zero word
                if words > 1:
                    mux.lut += row_bits * (words - 1) * k.row_mux_lut_per_word
        self.rows.append(LayerCost(f"{region.name} inputs", "", "Mux", 0, mux,
                                   f"{reuse}-way row multiplexers for {len(views)} input(s), phase counter"))
        # the collect shift registers
        valid = region_valid(start, reuse, latency)
        collect = Resources()
        for o in region.outputs:
            t = g.t(o)
            collect.ff += (reuse - 1) * lanes * t.shape[1] * t.type.width
            self.env[o] = Val(t.type, t.size, valid, delay_out)
        self.rows.append(LayerCost(f"{region.name} collect", "", "Collect", 0, collect,
                                   f"output valid in cycle {valid}"))
