"""The schedule of a graph with row tensors (a GNN): row regions, lanes, steps, hold stages and cycle counts.

In a graph with Gather or SegmentSum, every tensor is (rows, features) and the row-wise ops (Dense,
ReLU, Quantize, Mul by a mask, Concat, Add) act on each row alone. Connected row-wise ops with the
same row count and the same number of cross-row ops behind them form a *region*; Gather and
SegmentSum sit between regions. With a reuse factor R (the design's II), the largest region runs
R *steps* and a smaller one ceil(R sqrt(rows / largest)) (``region_steps``: a small region would
otherwise idle in most lanes while its multiplexers stay as wide); a region of ``rows`` rows in S
steps gets P = ceil(rows / S) *lanes*, one copy of the region's datapath for P rows. Each lane takes
consecutive rows: row r is lane r div S at step r mod S (``lane_row``), so a lane's multiplexer sees
its own rows only (``lane_words``) and a segment's rows pass few lanes.

Timing, in cycles after the graph's input (the generator and the estimator both use these functions,
so the estimator's latency is the RTL's):

* a region starts at cycle s, the cycle its last input is valid; the inputs are captured (hold stage
  1) at s and lane p reads row p * S + t at step t = 0 .. S-1, in cycle s + 1 + t;
* a value valid in cycle v is read in cycle c > v from hold stage ceil((c - v) / R); stage j is loaded
  in cycle v + (j - 1) R from stage j - 1 and keeps the graph's value until a new graph (at least R
  cycles later) reaches it;
* with lane latency L, step t's result leaves the lane in cycle s + 1 + t + L; a free-running shift
  register collects the S steps: the region's output is valid in cycle s + S + L;
* a SegmentSum of a region's output is streamed (``l1ml_stream_sum``): an accumulator per (segment,
  feature) adds, at each step, the lanes that hold one of the segment's rows; the sum is valid one
  cycle after the last step, in cycle s + S + L + 1 (``stream_valid``), plus the registers the clock
  asks for inside its gated sum (``stream_plan``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum

from l1ml.backends.verilog.pipeline import PipelineConfig, plan_stream_sum
from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import GatherAttrs, Op, SegmentSumAttrs

ROW_OPS = frozenset({Op.DENSE, Op.RELU, Op.QUANTIZE, Op.MUL, Op.CONCAT, Op.ADD})
CROSS_OPS = frozenset({Op.GATHER, Op.SEGMENT_SUM})


def has_rows(g: Graph) -> bool:
    """Whether the graph is rendered region by region (it moves data between rows)."""
    return any(n.op in CROSS_OPS for n in g.nodes)


class UnitKind(Enum):
    REGION = "region"
    GATHER = "gather"
    SEGMENT_SUM = "segment_sum"
    RESHAPE = "reshape"


@dataclass(frozen=True)
class Region:
    """Row-wise nodes computed together by one set of lanes."""

    index: int
    rows: int
    nodes: tuple[str, ...]
    inputs: tuple[str, ...]  # tensors read but produced elsewhere (graph inputs, gathers, other regions)
    outputs: tuple[str, ...]  # tensors read elsewhere or graph outputs
    largest: int = 0  # rows of the graph's largest region (0: this one)

    def steps(self, reuse: int) -> int:
        """S, the steps of the region per graph (``region_steps``)."""
        return region_steps(self.rows, self.largest or self.rows, reuse)

    def lanes(self, reuse: int) -> int:
        return -(-self.rows // self.steps(reuse))

    def last_step(self, reuse: int) -> int:
        """The last step in which some lane has a row (lane 0 is always full)."""
        return self.steps(reuse) - 1

    @property
    def name(self) -> str:
        return f"region{self.index}"


@dataclass(frozen=True)
class Unit:
    """One step of the top-level walk: a region, or a single cross-row or wiring node."""

    kind: UnitKind
    region: Region | None = None
    node: str = ""


def region_steps(rows: int, largest: int, reuse: int) -> int:
    """Steps of a region of ``rows`` rows when the largest has ``largest`` and runs ``reuse`` steps:
    ceil(R sqrt(rows / largest)), at most R and at most one row per lane and step.

    Lanes cost about rows / S and a lane's multiplexer about S words, so a region of fewer rows takes
    fewer steps: it keeps its lanes busy instead of idling while the largest region finishes.

    >>> region_steps(416, 416, 26), region_steps(72, 416, 26), region_steps(72, 416, 1), region_steps(3, 416, 64)
    (26, 11, 1, 3)
    """
    if reuse < 1 or rows < 1 or largest < rows:
        raise ValueError(f"region_steps needs 1 <= rows <= largest and reuse >= 1, got {rows}, {largest}, {reuse}")
    q = -(-(reuse * reuse * rows) // largest)  # the least integer >= R^2 rows / largest
    s = math.isqrt(q)
    s += s * s < q
    return max(1, min(s, reuse, rows))


def lane_row(step: int, lane: int, steps: int) -> int:
    """The row lane ``lane`` works on at step ``step``: lane p takes the consecutive rows p S .. p S + S - 1
    (row r is lane r div S at step r mod S). The track graphs list a node's edges close together, so a
    lane's gathers read few distinct nodes and a segment's rows pass few lanes."""
    return lane * steps + step


def row_slot(row: int, steps: int) -> tuple[int, int]:
    """(lane, step) of a row: the inverse of ``lane_row``."""
    return divmod(row, steps)


def lane_words(rows: int, lanes: int, steps: int, lane: int,
               word: Callable[[int, int], Hashable]) -> tuple[list[Hashable], list[int]]:
    """The distinct words a lane's input multiplexer needs and its table (step -> word index).

    ``word(step, row)`` names what the lane reads at a step (a hold stage and a source row); steps whose
    row is past ``rows`` are idle and read word 0.
    """
    words: list[Hashable] = []
    index: dict[Hashable, int] = {}
    table = []
    for step in range(steps):
        r = lane_row(step, lane, steps)
        if r >= rows:
            table.append(0)
            continue
        w = word(step, r)
        if w not in index:
            index[w] = len(words)
            words.append(w)
        table.append(index[w])
    return words, table


def input_tables(region: Region, reuse: int, start: int, valid: int,
                 index: tuple[int, ...] | None) -> list[tuple[list[Hashable], list[int]]]:
    """Per lane, the distinct (hold stage, source row) words its multiplexer for one region input needs and
    its step table (``lane_words``): the source is valid in cycle ``valid``, read through a Gather's rows
    ``index`` (None: the same rows), by a region that starts in cycle ``start``."""
    steps, lanes = region.steps(reuse), region.lanes(reuse)

    def word(step: int, r: int) -> tuple[int, int]:
        return (hold_stage(valid, step_cycle(start, step), reuse), r if index is None else index[r])

    return [lane_words(region.rows, lanes, steps, p, word) for p in range(lanes)]


def stream_lanes(members: list[int], steps: int) -> tuple[list[int], list[list[int]]]:
    """For a segment's rows streamed through lanes of ``steps`` steps: the lanes that hold some of them (in
    lane order) and, per step, the bit mask over those lanes of the rows added at that step."""
    used = sorted({row_slot(r, steps)[0] for r in members})
    pos = {p: k for k, p in enumerate(used)}
    masks = [[0] * len(used) for _ in range(steps)]
    for r in members:
        lane, step = row_slot(r, steps)
        masks[step][pos[lane]] = 1
    return used, masks


def _rows_of(g: Graph, node: Node) -> int:
    for name in [*node.inputs, *node.outputs]:
        t = g.t(name)
        if not t.is_const and len(t.shape) != 2:
            raise NodeError(node, f"tensor '{name}' has shape {t.shape}; in a graph with Gather or SegmentSum "
                            "the Verilog backend expects (rows, features) tensors")
    return g.t(node.outputs[0]).shape[0]


def walk_units(walker, inputs: dict) -> dict:
    """Run a region-aware walk (the renderer or the estimator): ``walker.region(region)`` for each region,
    ``walker.step`` for each single node, in ``plan_units`` order; returns the values by tensor name.
    ``walker.env`` is the live environment during the walk (regions read and extend it)."""
    g = walker.graph
    walker.env = dict(inputs)
    for unit in plan_units(g):
        if unit.region is not None:
            walker.region(unit.region)
        else:
            node = g.node(unit.node)
            walker.env.update(walker.step(node, [g.t(i) for i in node.inputs], [g.t(o) for o in node.outputs],
                                          walker.env))
    return walker.env


def plan_units(g: Graph) -> list[Unit]:
    """The graph as regions and single nodes, in an order in which every unit's inputs come first."""
    level: dict[str, int] = dict.fromkeys(g.inputs, 0)
    groups: dict[tuple[int, int], list[Node]] = {}
    singles: list[Node] = []
    for node in g.nodes:
        lv = max((level[i] for i in node.inputs if not g.t(i).is_const), default=0)
        if node.op in CROSS_OPS:
            lv += 1
            singles.append(node)
        elif node.op in ROW_OPS:
            groups.setdefault((lv, _rows_of(g, node)), []).append(node)
        elif node.op is Op.RESHAPE:
            singles.append(node)
        else:
            raise NodeError(node, f"{node.op.value} has no Verilog rule in a graph with Gather or SegmentSum; "
                            f"supported: {', '.join(sorted(o.value for o in ROW_OPS | CROSS_OPS))}, Reshape")
        for o in node.outputs:
            level[o] = lv
    units: list[Unit] = []
    produced_by: dict[str, int] = {}
    largest = max((rows for _, rows in groups), default=0)
    for k, ((_, rows), nodes) in enumerate(sorted(groups.items(), key=lambda kv: g.nodes.index(kv[1][0]))):
        inside = {o for n in nodes for o in n.outputs}
        ins = [i for n in nodes for i in n.inputs if i not in inside and not g.t(i).is_const]
        outs = [o for n in nodes for o in n.outputs
                if o in g.outputs or any(u not in nodes for u in g.users(o))]
        region = Region(k, rows, tuple(n.name for n in nodes), tuple(dict.fromkeys(ins)), tuple(outs), largest)
        units.append(Unit(UnitKind.REGION, region))
    for node in singles:
        kind = {Op.GATHER: UnitKind.GATHER, Op.SEGMENT_SUM: UnitKind.SEGMENT_SUM}.get(node.op, UnitKind.RESHAPE)
        units.append(Unit(kind, None, node.name))
    for u, unit in enumerate(units):
        for o in _unit_outputs(g, unit):
            produced_by[o] = u
    return _toposort(g, units, produced_by)


def _unit_outputs(g: Graph, unit: Unit) -> list[str]:
    if unit.region is not None:
        return [o for n in unit.region.nodes for o in g.node(n).outputs]
    return list(g.node(unit.node).outputs)


def _unit_inputs(g: Graph, unit: Unit) -> list[str]:
    if unit.region is not None:
        return list(unit.region.inputs)
    return [i for i in g.node(unit.node).inputs if not g.t(i).is_const]


def _toposort(g: Graph, units: list[Unit], produced_by: dict[str, int]) -> list[Unit]:
    done: set[int] = set()
    order: list[Unit] = []
    while len(order) < len(units):
        for u, unit in enumerate(units):
            if u not in done and all(produced_by.get(i) in done or i in g.inputs for i in _unit_inputs(g, unit)):
                done.add(u)
                order.append(unit)
                break
        else:
            raise NodeError(units[0].node or "graph", "the row regions depend on each other in a cycle")
    for unit in order:  # a gather is an input multiplexer of the regions that read it, nothing else
        if unit.kind is UnitKind.GATHER:
            node = g.node(unit.node)
            for user in g.users(node.outputs[0]):
                if user.op not in ROW_OPS:
                    raise NodeError(node, f"Gather feeds {user.op.value} node '{user.name}'; the Verilog backend "
                                    "folds a Gather into the row-wise nodes that read it, so it must feed those only")
    return order


def gather_indices(node: Node) -> tuple[int, ...]:
    a: GatherAttrs = node.attrs
    return tuple(int(i) for i in a.indices)


def lane_graph(g: Graph, region: Region, lanes: int, top: str) -> Graph:
    """The region's nodes on ``lanes`` rows: the datapath of one step, rendered by the ordinary walk."""
    tensors: dict[str, Tensor] = {}
    nodes = []
    for name in region.nodes:
        n = g.node(name)
        for t_name in [*n.inputs, *n.outputs]:
            t = g.t(t_name)
            tensors[t_name] = t if t.is_const else Tensor(t_name, (lanes, *t.shape[1:]), t.type)
        nodes.append(Node(n.name, n.op, list(n.inputs), list(n.outputs), n.attrs, dict(n.meta)))
    return Graph(top, tensors, nodes, list(region.inputs), list(region.outputs), dict(g.meta))


def region_start(input_cycles: list[int]) -> int:
    """The cycle a region captures its inputs: when the last of them is valid."""
    return max(input_cycles, default=0)


def step_cycle(start: int, step: int) -> int:
    """The cycle in which the lanes work on step ``step`` of the graph that started at ``start``."""
    return start + 1 + step


def region_valid(start: int, steps: int, lane_latency: int) -> int:
    """The cycle in which a region's collected output is valid (S steps, lane latency L)."""
    return start + steps + lane_latency


def stream_start(start: int, lane_latency: int) -> int:
    """The cycle that starts the step counter of a region's streamed output (step t leaves the lanes in
    cycle s + 1 + t + L)."""
    return start + lane_latency


def stream_valid(start: int, steps: int, lane_latency: int, tree_latency: int) -> int:
    """The cycle in which a streamed SegmentSum of a region's output is valid (its accumulator register),
    with ``tree_latency`` registers between the gate and the accumulator (``stream_plan``)."""
    return region_valid(start, steps, lane_latency) + tree_latency + 1


def stream_plan(node: Node, steps: int, cfg: PipelineConfig) -> tuple[int, int]:
    """A streamed SegmentSum's register plan: ``pipeline.plan_stream_sum`` for its largest sum (the most
    lanes one segment's rows pass), and the registers between the gate and the accumulator it puts."""
    n_max = max((len(stream_lanes(rows, steps)[0]) for rows in segment_members(node) if rows), default=1)
    mask = plan_stream_sum(n_max, cfg)
    return mask, bin(mask).count("1")


def streamed(g: Graph, tensor: str) -> bool:
    """Whether a region output is only summed by SegmentSums (streamed, never collected)."""
    users = g.users(tensor)
    return tensor not in g.outputs and bool(users) and all(u.op is Op.SEGMENT_SUM for u in users)


def hold_stage(valid: int, cycle: int, reuse: int) -> int:
    """The hold stage that has a value valid in cycle ``valid`` in cycle ``cycle`` (0: the value itself)."""
    return 0 if cycle <= valid else math.ceil((cycle - valid) / reuse)


def stage_load(valid: int, stage: int, reuse: int) -> int:
    """The cycle in which hold stage ``stage`` (>= 1) of a value valid in cycle ``valid`` is loaded."""
    return valid + (stage - 1) * reuse


def region_stages(region: Region, valid: int, start: int, reuse: int) -> int:
    """Hold stages a region input valid in cycle ``valid`` needs for a region starting at ``start``."""
    return hold_stage(valid, step_cycle(start, region.last_step(reuse)), reuse)


def segment_members(node: Node) -> list[list[int]]:
    """The rows of each segment, in row order."""
    a: SegmentSumAttrs = node.attrs
    members: list[list[int]] = [[] for _ in range(a.n_segments)]
    for r, s in enumerate(a.segments):
        if s >= 0:
            members[s].append(r)
    return members


__all__ = ["CROSS_OPS", "ROW_OPS", "Region", "Unit", "UnitKind", "gather_indices", "has_rows", "hold_stage",
           "input_tables",
           "lane_graph", "lane_row", "lane_words", "row_slot", "plan_units", "region_stages", "region_start", "region_steps",
           "region_valid", "segment_members", "stage_load", "step_cycle", "stream_lanes", "stream_plan",
           "stream_start", "stream_valid", "streamed"]
