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
from l1ml.backends.verilog.arith import MultKind, csd, multiplier_kind
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

    def shift_add_ns(self, terms: int) -> float:
        """A shift-add multiplier: a chain of terms - 1 adders."""
        return max(terms - 1, 0) * self.adder_ns

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


def register_outputs(delay_ns: float, cfg: PipelineConfig) -> bool:
    """Whether the model outputs get a register: in clock mode, when logic follows the last register."""
    return cfg.stages is None and delay_ns > 0


def split_tree_mask(reg_mask: int, n_terms: int) -> tuple[int, int]:
    """A layer's register plan applied to one tree of ``n_terms`` inputs: the REG_MASK of the tree's own
    levels, and how many registers a shorter tree lacks (added after it, so all outputs line up).

    >>> split_tree_mask(0b1010, 3)  # a 3-input tree has levels 0..2; the register at level 3 follows it
    (2, 1)
    """
    depth = max(0, (n_terms - 1).bit_length())  # clog2
    return reg_mask & ((1 << (depth + 1)) - 1), bin(reg_mask >> (depth + 1)).count("1")


def worst_const_mult_ns(codes, cfg: PipelineConfig) -> float:
    """The slowest constant multiplier among ``codes`` (any iterable or integer array; zeros need none): the
    multiply level of a Dense, Conv2D or Mul-by-constant node."""
    return max((cfg.delays.const_mult_ns(int(c)) for c in np.unique(np.asarray(codes, dtype=np.int64))), default=0.0)
