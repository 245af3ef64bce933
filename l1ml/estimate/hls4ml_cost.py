"""Cost model of the hls4ml project l1ml writes (io_parallel, Latency, Resource or distributed_arithmetic
strategy, reuse factor).

A walk over the IR like the lowering in ``l1ml.backends.hls4ml``: one rule per op, priced with the
rules hls4ml's documentation and papers state and, for the Latency-strategy Dense at reuse 1 and the
activations after it, with what Vitis HLS 2022.2 did with the vendor fixture (docs/estimation.md):

* Dense, Latency strategy, reuse 1 (hls4ml's dense_latency): the weights are constants; every distinct
  (input, weight) product is made once, a DSP multiply when the weight has three or more canonical
  signed digits (and the input 10 or more bits), else shift-adds; per neuron an adder tree over its
  non-zero products and bias at the accumulator width; HLS schedules against the clock less hls4ml's
  27 % uncertainty and registers every partial sum of the tree level where a stage ends; the layer's
  latency is its stage count, its output is held under ap_ce and registered after it;
* ReLU and casts (hls4ml's relu/linear) have no latency of their own: chained into the last stage of
  the layer before them when their delay fits, else one cycle;
* otherwise a Dense layer has ceil(n_mult / R) multipliers and accepts a new input every R cycles (II = R);
  with the Latency strategy HLS folds the zero weights of the constant matrix away, with the
  Resource strategy every weight is a ROM word and is multiplied;
* a product goes to a DSP only when both operands are wide (Vivado HLS keeps narrow products in LUTs;
  Duarte et al. 2018 see DSP use vanish below about 10 bits), otherwise it is a LUT multiplier: a
  constant's shift-add with the Latency strategy, a generic multiplier with the Resource strategy;
* every other layer is its own pipelined function: a Dense layer takes a multiply stage, its adder tree
  at the target clock and an output register;
* an io_parallel Conv2D is hls4ml's im2col loop over Ho x Wo / ParallelizationFactor partitions
  (l1ml leaves the factor at 1), pipelined at II = R: the layer's II is Ho * Wo * R, and the model's
  II the largest layer II; pooling is fully unrolled;
* a GNN (l1ml's extension layers, ``l1ml.backends.hls4ml_gnn``): a Dense on (rows, F) is P = ceil(rows / R)
  lanes of the fully parallel Dense, walking the rows in ceil(rows / P) <= R steps (its II), with a
  steps:1 multiplexer on every lane input bit; a segment sum is one adder per extra term of each segment
  (sum over segments of degree - 1, times features); a 1-bit mask product is an AND per bit (two per
  LUT6_2); gathers and concatenations are wiring (a gather read only by a concatenation is folded into
  it, so no gathered copy exists). With R > 1 the project is a DATAFLOW of processes:
  every layer output is a ping-pong channel (two register copies, UG1399), each process takes at least
  a cycle, a tensor with k readers is copied k times, and the latency is the longest path.
* elementwise layers (``l1ml.backends.hls4ml_elementwise`` and hls4ml's Merge) are unrolled over every
  element and register their output (one cycle): an adder per element for Add/Sub/Neg/Abs, a
  compare-select (two LUTs a bit, as a max pool's) for Max/Min and per biting Clip bound, one multiplier
  per element for a product (the Dense rule: DSP when both operands are wide, a constant's shift-adds,
  else a LUT multiplier, half of one for a square), an adder tree per output for ReduceSum; slices are
  wiring.

* the distributed_arithmetic strategy (``l1ml.backends.hls4ml_da``): a Dense or Conv2D is the adder graph
  da4ml computes for it, solved here as hls4ml solves it; its LUTs are da4ml's own cost of that solution
  (adder bits), no DSP; its latency is da4ml's adder depth at ``adder_ns`` a level, registered where a
  stage ends; only its output register is counted as FF. A Conv2D has one copy of the graph per output
  pixel (hls4ml's unrolled pixel loop; l1ml sets ParallelizationFactor to every pixel), II 1. Nothing of
  this is checked against Vitis HLS, which l1ml does not run.

On the fixture (16-64-32-32-5, ap_fixed<16,6>, Latency, reuse 1, 5 ns) the estimate matches csynth's DSP,
latency and II exactly, LUT within 1.3 % per layer and FF within 16 % (docs/estimation.md). The other
rules (reuse > 1, Resource, Conv2D, GNN, elementwise) are not checked against Vivado/Vitis HLS: treat
them as planning figures with a factor-of-two uncertainty on LUT and FF.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from l1ml.backends.hls4ml_gnn import epilogue, fused_gather, lanes, readers, row_wise, time_multiplexed
from l1ml.backends.verilog.arith import clog2, csd
from l1ml.errors import NodeError
from l1ml.estimate.parts import DSP_A_BITS, DSP_B_BITS
from l1ml.estimate.result import LayerCost, Resources, Strategy
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.interpreter import Interpreter, rule
from l1ml.ir.ops import Op
from l1ml.ir.semantics import clip_codes, reduce_count
from l1ml.ir.types import FixedType, aligned_range

ASSUMPTIONS = [
    "hls4ml backend (io_parallel), Dense with the Latency strategy at reuse 1: calibrated on the Vitis HLS "
    "2022.2 csynth reports of one hls4ml project (16-64-32-32-5 jet tagger, ap_fixed<16,6>, 5 ns): DSP, latency "
    "and II matched exactly, LUT within 1.3 % and FF within 16 % per layer (csynth's own estimates, not "
    "post-implementation); a DSP per distinct product whose weight has >= 3 signed digits, clock uncertainty 27 %.",
    "hls4ml backend (io_parallel): analytical model from the rules in hls4ml's documentation and papers "
    "(multipliers = n_mult / reuse, II = reuse, DSP only for products of two operands of >= 10 bits; "
    "a Conv2D walks its Ho x Wo partitions, II = Ho * Wo * reuse).",
    "GNN extension layers: row-wise Dense = ceil(rows / R) lanes of the parallel Dense, II = ceil(rows / lanes) "
    "<= R; segment sum = adders over degree terms; 1-bit masks = AND gates; gathers and concats = wiring; "
    "with R > 1 DATAFLOW channels are ping-pong register buffers.",
    "Elementwise layers: one adder, compare-select or multiplier per output element (DSP only when both operands "
    "have >= 10 bits; a constant multiplier as its shift-adds); ReduceSum = an adder tree per output; one cycle.",
    "Reuse > 1, the Resource strategy, Conv2D, GNN and elementwise layers are NOT checked against Vivado/Vitis "
    "HLS. Expect up to a factor two on LUT/FF there; run the vendor synthesis before committing a design.",
]


DA_ASSUMPTIONS = [
    "hls4ml backend (io_parallel), distributed_arithmetic strategy (Sun et al., arXiv:2507.04535): every Dense "
    "and Conv2D is the adder graph da4ml computes for its weights and input type (the problem hls4ml's pass "
    "solves, solved again here). LUT = da4ml's own cost of that solution (adder bits; a Conv2D once per output "
    "pixel), DSP = 0; latency = da4ml's adder depth at 0.7 ns a level (the adder delay fitted for the Latency "
    "strategy's trees) against the clock less 27 % uncertainty; FF = the layer's output register only, the "
    "pipeline registers Vitis places inside the adder graph are NOT priced.",
    "Vitis HLS was not run: none of the distributed_arithmetic figures is checked against csynth or Vivado; the "
    "other layers (activations, casts, pooling, elementwise) keep hls4ml's Latency implementations and are "
    "priced by the rules below.",
]


def assumptions_for(strategy: Strategy) -> list[str]:
    """The assumptions printed under an hls4ml estimate: the distributed_arithmetic ones first when it is used."""
    return (DA_ASSUMPTIONS if strategy is Strategy.DISTRIBUTED_ARITHMETIC else []) + list(ASSUMPTIONS)


@dataclass(frozen=True)
class HLSCoefficients:
    """The model's constants. "csynth" marks those read off or fitted to the Vitis HLS 2022.2 csynth reports
    of the vendor fixture (16-64-32-32-5 jet tagger, ap_fixed<16,6>, Latency, reuse 1, 5 ns; four Dense
    and three ReLU layers), see docs/estimation.md; the others are not checked against HLS synthesis."""

    dsp_min_bits: int = 10  # both operands at least this wide -> DSP (Duarte et al. 2018)
    # csynth: a constant weight with at least this many canonical signed digits is a DSP multiply, fewer
    # are shift-adds; one product per distinct (input, weight) pair (exact on all four fixture layers)
    dsp_min_digits: int = 3
    # hls4ml's Vitis default (Vivado: 12.5 %): HLS schedules against clock x (1 - uncertainty)
    clock_uncertainty: float = 0.27
    # csynth, fitted to the fixture's pipeline (module latency 1, register after 2 adder levels, ReLU
    # chained after fc1 only): any adder_ns in (0.67, 0.73] and mult_ns_dsp in (1.55, 2.25] reproduce it
    adder_ns: float = 0.7  # one adder level, including routing, as HLS schedules it
    mult_ns_lut: float = 2.0  # a LUT multiplier (not checked)
    mult_ns_dsp: float = 2.0  # an unregistered DSP multiply
    act_ns: float = 0.97  # csynth: a ReLU's compare-select (relu modules: 3.65 ns target - 2.68 ns slack)
    add_lut_per_bit: float = 1.0  # adders of the rules not checked against csynth
    # csynth, fitted (one least-squares parameter on the four Dense layers' adders): csynth prices an N-bit
    # adder at N or N + 7 LUTs
    const_add_lut_per_bit: float = 1.14
    dsp_side_lut: float = 5.0  # csynth: every DSP multiplier instance also has 5 LUTs
    ce_mux_lut_per_bit: float = 0.875  # csynth: a pipelined layer function's ap_ce output hold mux, 14 LUT/16 bits
    relu_lut_per_bit: float = 1.75  # csynth: compare (13 LUT) + select (15 LUT) per 16-bit element
    soft_mult_lut_per_bit2: float = 0.55  # generic LUT multiplier: ~w_a * w_b / 2 LUTs
    ff_per_product_bit: float = 1.0  # products registered before the adder tree
    io_cycles: int = 1  # the layer function's output register
    compare_select_lut_per_bit: float = 2.0  # a comparator and a 2:1 mux (max pool, Max, Min, Clip); not checked
    mask_lut_per_bit: float = 0.5  # AND with a mask bit: two ANDs per LUT6_2
    square_mult_share: float = 0.5  # a LUT squarer: half a multiplier's partial products are equal pairs


COEFFS = HLSCoefficients()


@dataclass(frozen=True)
class HVal:
    type: FixedType
    n: int
    const: bool = False


class HLSCost(Interpreter[HVal]):
    """Prices each layer the hls4ml lowering would emit."""

    what = "the hls4ml cost model"

    def __init__(self, graph: Graph, clock_ns: float, reuse: int, strategy: Strategy,
                 k: HLSCoefficients = COEFFS):
        super().__init__(graph)
        self.check_supported()
        self.clock_ns, self.reuse, self.strategy, self.k = clock_ns, reuse, strategy, k
        self.period = clock_ns * (1.0 - k.clock_uncertainty)  # what HLS schedules against
        # a tensor still combinational at the end of its producer's last stage: (row index, bits of the register
        # booked after it, ns left in that stage); an activation that fits there is chained (no cycle of its own)
        self.open: dict[str, tuple[int, float, float]] = {}
        self.rows: list[LayerCost] = []
        self.ii = reuse  # the largest layer II: a Conv2D walks its partitions
        # a GNN with R > 1 is a DATAFLOW of processes; with R = 1 it runs at II = 1
        self.gnn = row_wise(graph)
        self.tmux = time_multiplexed(graph, reuse)
        if self.gnn:
            self.ii = 1  # raised to the most steps of a row-wise layer (<= R)
        self.ready: dict[str, int] = {}  # cycle at which each tensor is available (longest path)
        self.fused: set[str] = set()  # ReLU/Quantize nodes priced with the row-wise Dense before them
        for name in graph.inputs:
            self.ready[name] = self._clone(name, name)

    def const(self, t: Tensor) -> HVal:
        return HVal(t.type, t.size, True)

    def row(self, node: Node, latency: int, res: Resources, detail: str = "") -> None:
        self.rows.append(LayerCost(node.name, node.meta.get("onnx_name", ""), node.op.value, latency, res, detail))
        start = max((self.ready.get(i, 0) for i in node.inputs), default=0)
        for o in node.outputs:
            self.ready[o] = start + latency + self._clone(o, node.name)

    def _clone(self, tensor: str, producer: str) -> int:
        """DATAFLOW: a tensor read by k > 1 layers is copied into k channels by a process (one cycle)."""
        k = readers(self.graph, tensor)
        if not self.tmux or k < 2:
            return 0
        t = self.graph.t(tensor)
        self.rows.append(LayerCost(f"{producer}_clone", "", "Clone", 1,
                                   Resources(ff=2 * k * t.size * t.type.width), f"{k} copies"))
        return 1

    def _channel(self, t: Tensor, copies: int) -> Resources:
        """Registers a DATAFLOW process adds for its output: ``copies`` of it (a ping-pong channel is two)."""
        return Resources(ff=copies * t.size * t.type.width) if self.tmux else Resources()

    def _process_cycles(self) -> int:
        """Wiring is free inside a pipelined top function, but a DATAFLOW process registers its output."""
        return 1 if self.tmux else 0

    @rule(Op.DENSE)
    def dense(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        x, w, out = ins[0], ins[1], outs[0]
        if self.gnn and len(x.shape) == 2:
            return self._row_dense(node, ins, outs)
        if self.strategy is Strategy.DISTRIBUTED_ARITHMETIC:
            return self._da_layer(node, ins, outs, w.data.reshape(w.shape[0], w.shape[1]), pixels=1)
        if self.strategy is Strategy.LATENCY and self.reuse == 1 and len(x.shape) == 1:
            return self._latency_dense(node, ins, outs)
        rows = int(np.prod(x.shape[:-1], dtype=np.int64))
        n_in, n_out = w.shape
        res, n_units, dsp, depth = self._mac(x.type, w.type, w.data.reshape(n_in, n_out), len(ins) > 2, out.type)
        res = res.scaled(rows)
        r = self.reuse
        latency = self._tree_cycles(dsp, depth) + self.k.io_cycles
        if r > 1:
            latency += r - 1 + (2 if self.strategy is not Strategy.LATENCY else 0)
        detail = f"{n_units * rows} multipliers ({'DSP' if dsp else 'LUT'}), reuse {r}"
        self.row(node, latency, res, detail)
        return [HVal(out.type, out.size)]

    def _tree_cycles(self, dsp: bool, depth: int) -> int:
        mult_ns = self.k.mult_ns_dsp if dsp else self.k.mult_ns_lut
        return math.ceil((mult_ns + depth * self.k.adder_ns) / self.period)

    def _latency_dense(self, node: Node, ins: list[Tensor], outs: list[Tensor]) -> list[HVal]:
        """hls4ml's dense_latency at reuse 1 as Vitis HLS builds it (checked on the fixture, docs/estimation.md):
        the weights are constants, each distinct (input, weight) product is made once, as a DSP multiply when
        the weight has >= dsp_min_digits signed digits (and the input >= dsp_min_bits), else as shift-adds;
        per neuron an adder tree over its non-zero products and bias at the accumulator width; registers
        where the tree crosses a clock edge (every partial sum of that level), the ap_ce output hold register,
        and the register after the layer. Its latency is its stage count; the last stage's slack is kept for
        an activation that chains into it."""
        w, out = ins[1], outs[0]
        k, xw, acc = self.k, ins[0].type.width, outs[0].type.width
        n_in, n_out = w.shape
        codes = np.asarray(w.data, np.int64).reshape(n_in, n_out)
        bias = np.asarray(ins[2].data, np.int64) if len(ins) > 2 else np.zeros(n_out, np.int64)
        terms = np.count_nonzero(codes, axis=0) + (bias != 0)
        res, n_dsp, n_lut = Resources(), 0, 0
        for i in range(n_in):
            for c in {int(v) for v in codes[i] if v != 0}:
                digits, cbits = csd(c), abs(c).bit_length() + 1
                if xw >= k.dsp_min_bits and len(digits) >= k.dsp_min_digits:
                    n_dsp += 1
                    res.dsp += math.ceil((xw + 1) / DSP_A_BITS) * math.ceil(cbits / DSP_B_BITS)
                    res.lut += k.dsp_side_lut
                else:  # a negative constant whose digits are all negative also needs 0 - x
                    n_lut += 1
                    adds = len(digits) - 1 + all(neg for _, neg in digits)
                    res.adder(adds * (xw + cbits), k.const_add_lut_per_bit)
        res.adder(int(np.maximum(terms - 1, 0).sum()) * acc, k.const_add_lut_per_bit)
        # the schedule: products, then tree levels; a level that would pass the clock edge starts a new stage
        t = k.mult_ns_dsp if n_dsp else k.mult_ns_lut
        stages = 1 + int(t // self.period)
        t -= (stages - 1) * self.period
        for level in range(1, clog2(int(terms.max(initial=1))) + 1):
            if t + k.adder_ns > self.period:  # every partial sum of the previous level is registered
                stages += 1
                res.ff += sum(math.ceil(int(n) / 2 ** (level - 1)) for n in terms) * acc
                t = 0.0
            t += k.adder_ns
        if stages > 1:  # a pipelined function called in the pipelined top holds its outputs under ap_ce
            res.ff += n_out * acc
            res.lut += n_out * acc * k.ce_mux_lut_per_bit
        reg = n_out * out.type.width
        res.ff += reg
        self.row(node, stages, res, f"{n_dsp} DSP and {n_lut} shift-add products (distinct), {stages} stages")
        self.open[out.name] = (len(self.rows) - 1, reg, self.period - t)
        return [HVal(out.type, out.size)]

    def _da_layer(self, node: Node, ins: list[Tensor], outs: list[Tensor], codes: np.ndarray,
                  pixels: int) -> list[HVal]:
        """A Dense (``pixels`` 1) or Conv2D under the distributed_arithmetic strategy: the adder graph da4ml
        computes for ``codes`` (the (n_in, n_out) weight codes) and the input type, priced by da4ml's own cost,
        once per output pixel; its depth scheduled like the Latency strategy's adder trees."""
        from l1ml.backends.hls4ml_da import da_solution
        from l1ml.ir.quantize import to_real

        x, w, out = ins[0], ins[1], outs[0]
        b = ins[2] if len(ins) > 2 else None
        sol = da_solution(x.type, to_real(codes, w.type), to_real(b.data, b.type) if b is not None else None)
        t = sol.depth * self.k.adder_ns
        stages = max(1, math.ceil(t / self.period))
        reg = out.size * out.type.width
        res = Resources(lut=sol.cost * pixels, ff=reg, carry8=sol.carry8 * pixels, carry4=sol.carry4 * pixels)
        self.row(node, stages, res, f"da4ml adder graph: {sol.adders} adders, depth {sol.depth}, cost {sol.cost:g}"
                 + (f" x {pixels} pixels" if pixels > 1 else "") + f", {stages} stage{'s' if stages > 1 else ''}")
        self.open[out.name] = (len(self.rows) - 1, reg, self.period * stages - t)
        return [HVal(out.type, out.size)]

    def _row_dense(self, node: Node, ins: list[Tensor], outs: list[Tensor]) -> list[HVal]:
        """l1ml_row_dense(_tmux): P lanes of the fully parallel Dense walk the rows in S <= R steps."""
        x, w, out = ins[0], ins[1], outs[0]
        if self.strategy is Strategy.DISTRIBUTED_ARITHMETIC:
            raise NodeError(node, f"a Dense on the rows of a {x.shape} tensor is l1ml's own hls4ml layer, which "
                            "hls4ml's distributed_arithmetic strategy does not implement; use --strategy Latency")
        rows, (n_in, n_out) = x.shape[0], w.shape
        n_lanes, n_steps = lanes(rows, self.reuse)
        lane, n_units, dsp, depth = self._mac(x.type, w.type, w.data, len(ins) > 2, out.type, reuse=1,
                                              latency_strategy=True)
        chain = epilogue(self.graph, node)  # ReLU/Quantize computed in the lanes: one LUT a bit each
        self.fused.update(n.name for n in chain)
        for n in chain:
            lane.lut += n_out * self.graph.t(n.outputs[0]).type.width
        final = self.graph.t(chain[-1].outputs[0]) if chain else out
        res = lane.scaled(n_lanes)
        if n_steps > 1:
            # a steps:1 multiplexer on every lane input bit (a LUT6 selects among 4), the full output held
            res.lut += n_lanes * n_in * x.type.width * math.ceil((n_steps - 1) / 3)
            res.ff += (rows - n_lanes) * n_out * final.type.width
        res += self._channel(final, 1)
        latency = n_steps - 1 + self._tree_cycles(dsp, depth) + self.k.io_cycles + (1 if chain else 0)
        self.ii = max(self.ii, n_steps)
        self.row(node, latency, res, f"{n_lanes} lanes x {n_units} multipliers ({'DSP' if dsp else 'LUT'}), "
                 f"{n_steps} steps")
        return [HVal(out.type, out.size)]

    def _mac(self, xt: FixedType, wt: FixedType, weights: np.ndarray, has_bias: bool,
             yt: FixedType, reuse: int | None = None,
             latency_strategy: bool | None = None) -> tuple[Resources, int, bool, int]:
        """One matrix-vector product (n_in, n_out) at the reuse factor: resources, physical multipliers,
        whether they are DSPs, and the adder-tree depth. Dense and Conv2D (one partition) share it."""
        n_in, n_out = weights.shape
        r, k = self.reuse if reuse is None else reuse, self.k
        if latency_strategy is None:
            latency_strategy = self.strategy is Strategy.LATENCY
        n_mult = int(np.count_nonzero(weights)) if latency_strategy else n_in * n_out
        n_units = math.ceil(n_mult / r)  # physical multipliers
        dsp = xt.width >= k.dsp_min_bits and wt.width >= k.dsp_min_bits
        prod_bits = xt.width + wt.width
        res = Resources()
        if dsp:
            res.dsp = n_units * math.ceil((xt.width + 1) / DSP_A_BITS) * math.ceil(wt.width / DSP_B_BITS)
        elif latency_strategy and r == 1:
            # constant multipliers: HLS folds each into its shift-add form
            adds = sum(max(len(csd(int(c))) - 1, 0) for c in weights[weights != 0].ravel())
            res.lut += adds * prod_bits * k.add_lut_per_bit
        else:
            res.lut += n_units * k.soft_mult_lut_per_bit2 * xt.width * wt.width
        per_neuron_terms = max(math.ceil(n_mult / max(n_out, 1) / r), 1)
        adds = max(per_neuron_terms - 1, 0) * n_out + (n_out if has_bias else 0)
        res.adder(adds * yt.width, k.add_lut_per_bit)
        res.ff += n_units * prod_bits * k.ff_per_product_bit + n_out * yt.width
        if r > 1:  # accumulators, the weight ROM and the input multiplexers of a reused layer
            res.adder(n_out * yt.width, k.add_lut_per_bit)
            res.ff += n_out * yt.width
            rom_bits = n_in * n_out * wt.width
            if not latency_strategy and rom_bits >= 18 * 1024 and r >= 32:
                # deep weight banks go to block RAM: one weight per multiplier per cycle, 72 bits a BRAM36
                res.bram += math.ceil(n_units * wt.width / 72)
            else:
                res.lut += rom_bits / 64  # distributed ROM: 64 bits per LUT
            res.lut += n_units * xt.width * math.ceil((r - 1) / 3)
        return res, n_units, dsp, clog2(per_neuron_terms + (1 if has_bias else 0))

    @rule(Op.CONV2D)
    def conv2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        """hls4ml's io_parallel conv2d_latency: im2col partitions of ParallelizationFactor pixels (l1ml
        leaves it at hls4ml's default, 1) walked by a loop pipelined at II = reuse."""
        x, w, out = ins[0], ins[1], outs[0]
        kh, kw, cin, cout = w.shape
        pixels = out.shape[0] * out.shape[1]
        if self.strategy is Strategy.DISTRIBUTED_ARITHMETIC:
            return self._da_layer(node, ins, outs, w.data.reshape(kh * kw * cin, cout), pixels)
        res, n_units, dsp, depth = self._mac(x.type, w.type, w.data.reshape(kh * kw * cin, cout), len(ins) > 2,
                                             out.type)
        window_bits = kh * kw * cin * x.type.width
        res.ff += window_bits + out.size * out.type.width  # the partition's window buffer, the layer output
        res.lut += window_bits * math.ceil((pixels - 1) / 3)  # filling the buffer: a pixels:1 mux per bit
        ii = pixels * self.reuse
        latency = ii + self._tree_cycles(dsp, depth) + self.k.io_cycles
        self.ii = max(self.ii, ii)
        self.row(node, latency, res, f"{n_units} multipliers ({'DSP' if dsp else 'LUT'}) x {pixels} partitions, "
                 f"II {ii}")
        return [HVal(out.type, out.size)]

    @rule(Op.MAXPOOL2D)
    def maxpool2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        return self._pool(node, ins, outs, self.k.compare_select_lut_per_bit)

    @rule(Op.AVGPOOL2D)
    def avgpool2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        return self._pool(node, ins, outs, self.k.add_lut_per_bit)

    def _pool(self, node: Node, ins: list[Tensor], outs: list[Tensor], lut_per_bit: float) -> list[HVal]:
        """io_parallel pooling is fully unrolled: window - 1 compare-selects (2 LUTs a bit) or adders per
        output, in one pipelined function."""
        out = outs[0]
        kh, kw = node.attrs.kernel
        res = Resources(lut=lut_per_bit * out.size * (kh * kw - 1) * out.type.width, ff=out.size * out.type.width)
        latency = math.ceil(clog2(kh * kw) * self.k.adder_ns / self.period) + self.k.io_cycles
        self.row(node, latency, res, f"{kh}x{kw} window")
        return [HVal(out.type, out.size)]

    @rule(Op.TRANSPOSE)
    def transpose(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        # the lowering keeps channels-last throughout; a Transpose left in the IR is an array copy
        self.row(node, 1, Resources(ff=outs[0].size * outs[0].type.width), "array copy")
        return [HVal(outs[0].type, v[0].n, v[0].const)]

    @rule(Op.MUL)
    def mul(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        """A per-row mask bit is an AND per output bit. Any other product is one multiplier per output
        element, as the lowering's unrolled loop has: a DSP when both operands are wide (the Dense rule),
        else a constant's shift-add or a LUT multiplier (a square: half its partial products are equal)."""
        x, m, out = ins[0], ins[1], outs[0]
        if not x.is_const and not m.is_const and m.type.width == 1 and len(x.shape) == 2 \
                and m.shape == (x.shape[0], 1):
            res = Resources(lut=self.k.mask_lut_per_bit * out.size * out.type.width)
            self.row(node, self._process_cycles(), res + self._channel(out, 2), "AND with the mask bit")
            return [HVal(out.type, out.size)]
        k = self.k
        dsp = x.type.width >= k.dsp_min_bits and m.type.width >= k.dsp_min_bits
        res = Resources(ff=out.size * out.type.width) + self._channel(out, 1)
        if dsp:
            res.dsp = out.size * math.ceil((max(x.type.width, m.type.width) + 1) / DSP_A_BITS) * \
                math.ceil(min(x.type.width, m.type.width) / DSP_B_BITS)
            detail = f"{out.size} DSP multipliers"
        elif x.is_const or m.is_const:
            c = x if x.is_const else m
            # each output element multiplies by the constant element broadcasting gives it
            adds = sum(max(len(csd(int(code))) - 1, 0) for code in np.broadcast_to(c.data, out.shape).ravel())
            res.adder(adds * out.type.width, k.add_lut_per_bit)
            detail = f"constant multipliers: {adds} shift-adds"
        else:
            square = k.square_mult_share if node.inputs[0] == node.inputs[1] else 1.0
            res.lut += square * out.size * k.soft_mult_lut_per_bit2 * x.type.width * m.type.width
            detail = f"{out.size} LUT {'squarers' if square < 1 else 'multipliers'}"
        latency = self._tree_cycles(dsp, 0) + k.io_cycles
        self.row(node, latency, res, detail)
        return [HVal(out.type, out.size)]

    def _lanes(self, node: Node, out: Tensor, lut_per_bit: float | None, detail: str) -> list[HVal]:
        """One pipelined function over every element at once: an adder (carry chain) per element when
        ``lut_per_bit`` is None, else that many LUTs per output bit; the output registered: one cycle."""
        res = Resources(ff=out.size * out.type.width) + self._channel(out, 1)
        if lut_per_bit is None:
            res.adder(out.size * out.type.width, self.k.add_lut_per_bit)
        else:
            res.lut += lut_per_bit * out.size * out.type.width
        self.row(node, self.k.io_cycles, res, detail)
        return [HVal(out.type, out.size)]

    @rule(Op.SUB)
    def sub(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        return self._lanes(node, outs[0], None, "a subtractor per element")

    @rule(Op.NEG)
    def neg(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        return self._lanes(node, outs[0], None, "0 - x per element")

    @rule(Op.ABS)
    def abs_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        if not ins[0].type.signed:
            return self._lanes(node, outs[0], 0.0, "|x| of an unsigned value: wiring")
        # a conditional negation: x XOR sign, plus sign, in one carry chain
        return self._lanes(node, outs[0], None, "a conditional negation per element")

    @rule(Op.MAX)
    def max_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        # a compare-select as in a max pool: a comparator and a 2:1 mux, two LUTs a bit
        return self._lanes(node, outs[0], self.k.compare_select_lut_per_bit, "a compare-select per element")

    @rule(Op.MIN)
    def min_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        return self._lanes(node, outs[0], self.k.compare_select_lut_per_bit, "a compare-select per element")

    @rule(Op.CLIP)
    def clip(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        """A compare-select against each bound that some input value passes (the lowering drops the others)."""
        frac, lo, hi = clip_codes(node, ins[0].type)
        xlo, xhi = aligned_range(ins[0].type, frac)
        bounds = int(lo is not None and lo > xlo) + int(hi is not None and hi < xhi)
        return self._lanes(node, outs[0], self.k.compare_select_lut_per_bit * bounds,
                           f"{bounds} compare-selects per element")

    @rule(Op.REDUCE_SUM)
    def reduce_sum(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        """An adder tree per output over its n terms (a mean's division by 2**k is wiring)."""
        out = outs[0]
        n, _ = reduce_count(node, ins[0])
        adders = out.size * max(n - 1, 0)
        res = Resources(ff=out.size * out.type.width) + self._channel(out, 1)
        one = Resources()
        one.adder(out.type.width, self.k.add_lut_per_bit)
        res += one.scaled(adders)
        latency = math.ceil(clog2(n) * self.k.adder_ns / self.period) + self.k.io_cycles
        self.row(node, latency, res, f"{adders} adders, {n} terms per output")
        return [HVal(out.type, out.size)]

    @rule(Op.SLICE)
    def slice_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        self.row(node, self._process_cycles(), self._channel(outs[0], 2), "wiring only")
        return [HVal(outs[0].type, outs[0].size)]

    @rule(Op.GATHER)
    def gather(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        if fused_gather(self.graph, node):  # the Concat after it reads the rows: no copy, no channel
            self.row(node, 0, Resources(), "wiring, read by the Concat after it")
        else:
            self.row(node, self._process_cycles(), self._channel(outs[0], 2), "wiring only")
        return [HVal(outs[0].type, outs[0].size)]

    @rule(Op.CONCAT)
    def concat(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        self.row(node, self._process_cycles(), self._channel(outs[0], 2), "wiring only")
        return [HVal(outs[0].type, outs[0].size)]

    @rule(Op.SEGMENT_SUM)
    def segment_sum(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        """A fully parallel adder tree per segment and feature over that segment's rows."""
        out = outs[0]
        feats = out.size // node.attrs.n_segments
        counts = np.bincount([s for s in node.attrs.segments if s >= 0], minlength=node.attrs.n_segments)
        adders = int(np.maximum(counts - 1, 0).sum()) * feats
        res = Resources(ff=out.size * out.type.width) + self._channel(out, 1)
        one = Resources()
        one.adder(out.type.width, self.k.add_lut_per_bit)
        res += one.scaled(adders)
        depth = clog2(node.attrs.degree())
        latency = math.ceil(depth * self.k.adder_ns / self.period) + self.k.io_cycles
        self.row(node, latency, res, f"{adders} adders, degree {node.attrs.degree()}")
        return [HVal(out.type, out.size)]

    @rule(Op.RELU)
    def relu(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        return self._activation(node, v[0].n, outs[0].type, self.k.relu_lut_per_bit)

    @rule(Op.QUANTIZE)
    def quantize(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        return self._activation(node, v[0].n, outs[0].type, 1.0)

    def _activation(self, node: Node, n: int, out: FixedType, per_bit: float) -> list[HVal]:
        """hls4ml's relu/linear: a function with no latency of its own. Chained into the last stage of the
        layer before it when its delay fits there (the register after that layer moves behind it: csynth
        chains the fixture's relu1, not relu2 and relu3), else a cycle of its own with its output register."""
        if node.name in self.fused:
            return self._fused(node)
        src, bits = node.inputs[0], n * out.width
        res = Resources(lut=per_bit * bits, ff=bits) + self._channel(self.graph.t(node.outputs[0]), 1)
        before = self.open.get(src)
        if before and not self.tmux and readers(self.graph, src) == 1 and before[2] >= self.k.act_ns:
            row, reg, slack = before
            self.rows[row].res.ff -= reg
            latency, slack = 0, slack - self.k.act_ns
        else:
            latency, slack = 1, self.period - self.k.act_ns
        self.row(node, latency, res)
        self.open[node.outputs[0]] = (len(self.rows) - 1, bits, slack)
        return [HVal(out, n)]

    def _fused(self, node: Node) -> list[HVal]:
        self.row(node, 0, Resources(), "computed in the lanes of the Dense before it")
        t = self.graph.t(node.outputs[0])
        return [HVal(t.type, t.size)]

    @rule(Op.ADD)
    def add(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        return self._lanes(node, outs[0], None, "")

    @rule(Op.RESHAPE)
    def reshape(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        self.row(node, 0, Resources(), "wiring only")
        return [HVal(outs[0].type, v[0].n, v[0].const)]

    @rule(Op.REQUANT)
    def requant(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[HVal]) -> list[HVal]:
        """The L1MLRequant layer: constant comparisons and a count, or a multiply-add-shift-clip per element,
        in one pipelined function with an output register."""
        from l1ml.backends.requant_plan import requant_problem
        from l1ml.estimate.requant_cost import hls_requant

        p = requant_problem(node, ins[0], outs[0])
        k = self.k
        res, cycles, detail = hls_requant(p, self.period, k.dsp_min_bits, k.adder_ns, k.mult_ns_lut,
                                          k.mult_ns_dsp, k.add_lut_per_bit)
        res.ff += p.n * p.out.width
        self.row(node, cycles + k.io_cycles, res + self._channel(outs[0], 1), detail)
        return [HVal(p.out, p.n)]


def estimate_hls4ml(g: Graph, *, clock_ns: float, reuse_factor: int, strategy: Strategy,
                    coeffs: HLSCoefficients = COEFFS) -> tuple[list[LayerCost], Resources, int, int]:
    """Per-node rows, the total, the latency in cycles and the II in cycles of the hls4ml project."""
    model = HLSCost(g, clock_ns, reuse_factor, strategy, coeffs)
    model.run({name: HVal(g.t(name).type, g.t(name).size) for name in g.inputs})
    total = Resources()
    for r in model.rows:
        total += r.res
    # the longest path through the layers (a chain's sum), up to the register after the last layer (csynth:
    # the pipelined top reads its input port in the first layer's first stage); a DATAFLOW design also
    # registers its input (not checked against csynth)
    latency = max(model.ready[o] for o in g.outputs) + (1 if model.tmux else 0)
    return model.rows, total, latency, model.ii


def uniform_precision(g: Graph, t: FixedType) -> Graph:
    """``g`` as hls4ml types a model configured with one ``Precision: default`` and nothing else: every
    tensor of type ``t`` (constants moved onto its grid with its rounding and overflow, as hls4ml converts
    the float weights), accumulators as wide as ``t``, and no cast layers (a Quantize from ``t`` to ``t``
    is no layer). For estimating a project hls4ml built that way (the vendor fixture of docs/estimation.md);
    the graph only prices, it does not compute what ``g`` computes."""
    from l1ml.ir.quantize import requantize

    g = g.copy()
    for tensor in g.tensors.values():
        if tensor.is_const:
            tensor.data = requantize(np.asarray(tensor.data, np.int64), tensor.type.frac, t).astype(np.int64)
        tensor.type = t
    for node in [n for n in g.nodes if n.op is Op.QUANTIZE]:
        g.replace_all_uses_with(node.outputs[0], node.inputs[0])
        g.remove_node(node)
    g.prune_tensors()
    g.verify(typed=True)
    return g
