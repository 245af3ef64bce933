"""Where the pipeline registers go: a fixed count per Dense layer, or as many as a clock period needs.

A Dense layer is a chain of combinational levels: the constant multiply, then the adder-tree levels.
Registers can sit after any level (``l1ml_adder_tree``'s REG_MASK; bit 0 registers the products) or
on the layer's input. The two rules:

* ``pipeline_stages=S``: S registers per Dense layer, spread evenly over its levels, the last one
  always after the final adder (S is capped at one register per level; S = 0 is combinational).
  Elementwise nodes (requantise, ReLU, Add) stay combinational.
* ``clock_ns=T`` (the default, with T = 5 ns like hls4ml's default): walking the graph in order
  with the estimated delay since the last register, a register goes *before* any level that would
  push that delay past T (on the Dense input when the level is the multiply). Elementwise nodes add
  their delay to the running total, and the model outputs are registered if any logic follows the
  last register.

The delays are coarse per-level estimates (``DelayModel``), not timing analysis: they exist to make
the rule simple and predictable. Close timing with the vendor tool and adjust ``clock_ns`` or
``pipeline_stages``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from l1ml import defaults
from l1ml.backends.verilog.arith import MultKind, clog2, csd, multiplier_kind
from l1ml.errors import L1MLError

DEFAULT_CLOCK_NS = defaults.CLOCK_NS


@dataclass(frozen=True)
class DelayModel:
    """Rough combinational delays (ns) of one level of logic, including routing; assumptions for a
    mid-speed-grade FPGA of the kind used in Level-1 triggers, not measured figures."""

    adder_ns: float = 1.0  # one carry-chain adder (~20 bits)
    dsp_mult_ns: float = 2.5  # an unregistered DSP multiply
    requant_ns: float = 1.2  # rounding increment and saturation compare
    relu_ns: float = 0.5  # sign test and mux
    max_ns: float = 1.5  # one max-pooling stage: a compare (carry chain) and a select
    gate_ns: float = 0.5  # a constant table bit picked by a step counter, ANDed with a word
    mux_level_ns: float = 0.5  # one level of a wide multiplexer (a LUT6 as 4:1, or MUXF7/MUXF8)

    def shift_add_ns(self, terms: int) -> float:
        """A shift-add multiplier: a chain of terms - 1 adders."""
        return max(terms - 1, 0) * self.adder_ns

    def table_mux_ns(self, words: int) -> float:
        """``l1ml_table_mux`` of ``words`` distinct words: the step table read (a ``gate_ns`` level), then
        ceil(log4 words) multiplexer levels; 0 for one word (a wire).

        >>> DelayModel().table_mux_ns(1), DelayModel().table_mux_ns(4), DelayModel().table_mux_ns(37)
        (0.0, 1.0, 2.0)
        """
        if words <= 1:
            return 0.0
        levels = 1
        while 4 ** levels < words:
            levels += 1
        return self.gate_ns + levels * self.mux_level_ns

    def const_mult_ns(self, c: int) -> float:
        """The multiplier by the constant code ``c`` that ``arith.multiplier_kind`` chooses: a DSP or a
        shift-add chain over its canonical signed digits; 0 for c = 0 (no multiplier)."""
        if c == 0:
            return 0.0
        if multiplier_kind(c) is MultKind.DSP:
            return self.dsp_mult_ns
        return self.shift_add_ns(len(csd(c)))


@dataclass(frozen=True)
class PipelineConfig:
    """The user's choice: a register count per Dense layer, or a target clock period."""

    clock_ns: float | None = DEFAULT_CLOCK_NS
    stages: int | None = None
    delays: DelayModel = DelayModel()

    @classmethod
    def from_options(cls, clock_ns: float | None, pipeline_stages: int | None) -> PipelineConfig:
        if clock_ns is not None and pipeline_stages is not None:
            raise L1MLError("give either a target clock period (clock_ns) or a number of pipeline stages "
                            "(pipeline_stages), not both")
        if pipeline_stages is not None:
            if pipeline_stages < 0:
                raise L1MLError(f"pipeline_stages must be 0 or more, got {pipeline_stages}")
            return cls(clock_ns=None, stages=pipeline_stages)
        if clock_ns is not None and not (clock_ns > 0 and math.isfinite(clock_ns)):
            raise L1MLError(f"clock_ns must be a positive number of nanoseconds, got {clock_ns}")
        return cls(clock_ns=DEFAULT_CLOCK_NS if clock_ns is None else clock_ns, stages=None)

    def to_json(self) -> dict:
        return {"clock_ns": self.clock_ns, "pipeline_stages": self.stages}


@dataclass(frozen=True)
class DensePlan:
    """Registers of one Dense layer: on its input, and after which levels (bit l of ``reg_mask``)."""

    input_reg: bool
    reg_mask: int
    delay_out_ns: float  # estimated delay from the last register to the layer's output

    @property
    def latency(self) -> int:
        return int(self.input_reg) + bin(self.reg_mask).count("1")


def plan_dense(level_ns: list[float], delay_in_ns: float, cfg: PipelineConfig) -> DensePlan:
    """Apply the configured rule to a Dense layer whose levels take ``level_ns`` (multiply first)."""
    n = len(level_ns)
    if cfg.stages is not None:
        s = min(cfg.stages, n)
        mask = 0
        for k in range(1, s + 1):
            mask |= 1 << (math.ceil(k * n / s) - 1)
        return DensePlan(False, mask, 0.0 if s else delay_in_ns + sum(level_ns))
    assert cfg.clock_ns is not None
    input_reg, mask, t = False, 0, delay_in_ns
    for level, d in enumerate(level_ns):
        if t > 0 and t + d > cfg.clock_ns:
            if level == 0:
                input_reg = True
            else:
                mask |= 1 << (level - 1)
            t = 0.0
        t += d
    return DensePlan(input_reg, mask, t)


def plan_stream_sum(n_terms: int, cfg: PipelineConfig) -> int:
    """The register plan of the stream sums of one SegmentSum whose largest sums ``n_terms`` gated terms:
    bit l of the result registers level l of the gated-term tree (level 0: the gated terms, as
    ``l1ml_adder_tree``'s REG_MASK); bit clog2(n) registers the step sum before the accumulator. The
    levels are the gate, clog2(n) adders and the accumulator's adder, which ends at the sum's register.
    In clock mode a register goes before any level that would push the delay past the clock; with
    ``pipeline_stages`` there is none (the accumulator is the sum's only register, as in hls4ml's
    accumulating loops).

    >>> plan_stream_sum(5, PipelineConfig(clock_ns=5.0)), plan_stream_sum(16, PipelineConfig(clock_ns=5.0))
    (0, 16)
    """
    if cfg.stages is not None:
        return 0
    d = cfg.delays
    depth = clog2(n_terms)
    return plan_dense([d.gate_ns] + [d.adder_ns] * (depth + 1), 0.0, cfg).reg_mask


def register_outputs(delay_ns: float, cfg: PipelineConfig) -> bool:
    """Whether the model outputs get a register: in clock mode, when logic follows the last register."""
    return cfg.stages is None and delay_ns > 0


def split_tree_mask(reg_mask: int, n_terms: int) -> tuple[int, int]:
    """A layer's register plan applied to one tree of ``n_terms`` inputs: the REG_MASK of the tree's own
    levels, and how many registers a shorter tree lacks (added after it, so all outputs line up).

    >>> split_tree_mask(0b1010, 3)  # a 3-input tree has levels 0..2; the register at level 3 follows it
    (2, 1)
    """
    depth = clog2(n_terms)
    return reg_mask & ((1 << (depth + 1)) - 1), bin(reg_mask >> (depth + 1)).count("1")


def worst_const_mult_ns(codes, cfg: PipelineConfig) -> float:
    """The slowest constant multiplier among ``codes`` (any iterable or integer array; zeros need none): the
    multiply level of a Dense, Conv2D or Mul-by-constant node."""
    return max((cfg.delays.const_mult_ns(int(c)) for c in np.unique(np.asarray(codes, dtype=np.int64))), default=0.0)


@dataclass(frozen=True)
class GraphPlan:
    """Registers of an adder graph (``cmm.AdderGraph``): the stage each signal is computed in (0 before
    the layer's first register), the layer's register levels, and the delay after its last register."""

    stage: tuple[int, ...]
    latency: int
    delay_out_ns: float
    lags: tuple[int, ...] = ()  # per signal: the registers it passes through to reach its latest reader

    @classmethod
    def of(cls, graph, stage: tuple[int, ...], latency: int, delay_out_ns: float) -> GraphPlan:
        """The plan with ``lags``: adders read their operands in their own stage, outputs at ``latency``;
        constants are never registered, and a signal nobody reads has lag -1."""
        last = [-1] * len(stage)
        for k, x in enumerate(graph.signals):
            if x.adder is not None:
                for o in (x.adder.a, x.adder.b):
                    last[o] = max(last[o], stage[k])
        for o in graph.outputs:
            if o.signal is not None:
                last[o.signal] = max(last[o.signal], latency)
        lags = tuple(-1 if last[k] < 0 else 0 if x.const is not None else last[k] - stage[k]
                     for k, x in enumerate(graph.signals))
        return cls(stage, latency, delay_out_ns, lags)


def plan_graph(graph, cfg: PipelineConfig, delay_in_ns: float) -> GraphPlan:
    """Apply the configured rule to an adder graph, each adder one ``adder_ns`` level.

    Clock rule: in graph order, an adder is computed in the latest stage of its operands, after the
    slowest of those computed in that stage (inputs arrive ``delay_in_ns`` after the register before
    the layer); if that would pass the clock period, its operands are registered first and it starts
    the next stage. An operand read in several later stages is delayed once per stage, the copies
    shared by its readers. Stage-count rule: ``S`` registers after
    levels ceil(k * D / S) of the D adder levels, the last after the final level (as ``plan_dense``)."""
    sig = graph.signals
    outs = [o.signal for o in graph.outputs if o.signal is not None and sig[o.signal].const is None]
    if cfg.stages is not None:
        depth = max(graph.depth(), 1)
        s = min(cfg.stages, depth)
        cuts = [math.ceil(k * depth / s) for k in range(1, s + 1)]
        stage = tuple(sum(1 for c in cuts if c < x.level) for x in sig)
        return GraphPlan.of(graph, stage, s, 0.0 if s else delay_in_ns + graph.depth() * cfg.delays.adder_ns)
    assert cfg.clock_ns is not None
    clock, step = cfg.clock_ns, cfg.delays.adder_ns
    arrive: list[float] = []  # logic delay since the last register, in the signal's own stage
    stage_l: list[int] = []
    for x in sig:
        if x.adder is None:
            arrive.append(delay_in_ns if x.const is None else 0.0)
            stage_l.append(0)
            continue
        ops = [o for o in (x.adder.a, x.adder.b) if sig[o].const is None]
        st = max((stage_l[o] for o in ops), default=0)
        t = max((arrive[o] for o in ops if stage_l[o] == st), default=0.0) + step
        if t > clock and t > step:  # a register before this adder: its operands start the next stage
            st, t = st + 1, step
        arrive.append(t)
        stage_l.append(st)
    latency = max((stage_l[k] for k in outs), default=0)
    delay_out = max((arrive[k] for k in outs if stage_l[k] == latency), default=delay_in_ns)
    return GraphPlan.of(graph, tuple(stage_l), latency, max(delay_out, 0.0))
