"""hls4ml's ``distributed_arithmetic`` strategy: Dense and Conv2D as da4ml adder graphs (docs/hls4ml-strategies.md).

hls4ml 1.3 hands each Dense and Conv2D weight matrix to da4ml (Sun et al., "da4ml: Distributed Arithmetic for
Real-time Neural Networks on FPGAs", arXiv:2507.04535), which traces ``x @ W + b`` exactly for the input's
fixed-point type and writes it as a fully unrolled adder graph with shared subexpressions; the accumulator
type is not used and the exact sum is assigned to the layer's result type. l1ml's result type is the exact
output type, so the assignment is exact and the C-simulation equals the emulator (tests/backends/test_hls4ml_da.py).

da4ml is an optional extra (``pip install 'l1ml[da4ml]'``): only this strategy imports it. The same CMVM problem
that hls4ml's pass solves is built here from the IR (``da_solution``) so that the estimator prices the adder
graph da4ml actually computes instead of reusing the Latency strategy's multiplier model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from l1ml.errors import L1MLError
from l1ml.ir.types import FixedType

DA_STRATEGY = "distributed_arithmetic"
#: the hls4ml layer classes hls4ml 1.3 implements with da4ml (it refuses any other layer given the strategy)
DA_CLASSES = ("Dense", "Conv2D")
#: da4ml's solver options as hls4ml 1.3 sets them (it reads DA_HARD_DC from the environment, default 2; the
#: estimate prices that default)
SOLVER_OPTIONS = {"hard_dc": 2, "search_all_decompose_dc": True}
INSTALL_HINT = "pip install 'l1ml[da4ml]'"


def is_da(strategy: object) -> bool:
    """Whether ``strategy`` (a string or an estimate ``Strategy``) is distributed arithmetic."""
    return getattr(strategy, "value", strategy) == DA_STRATEGY


def require_da4ml() -> None:
    """Refuse, with the remedy, when da4ml is not importable: it is an optional extra, never a requirement
    of the Latency and Resource strategies."""
    try:
        import da4ml  # noqa: F401
    except ImportError:
        raise L1MLError(f"the hls4ml strategy {DA_STRATEGY} needs da4ml, which is not installed; install it with "
                        f"{INSTALL_HINT}, or choose --strategy Latency or Resource") from None


def check_da_reuse(reuse_factor: int) -> None:
    """da4ml's adder graph is fully unrolled: hls4ml refuses any reuse factor but 1 (and so does l1ml,
    before anything is written; 'auto' included)."""
    if reuse_factor != 1:
        shown = "auto" if reuse_factor == 0 else str(reuse_factor)
        raise L1MLError(f"--reuse-factor {shown} with --strategy {DA_STRATEGY}: da4ml's adder graphs are fully "
                        "unrolled, so the reuse factor must be 1; use --strategy Latency or Resource to reuse "
                        "multipliers")


def layer_strategy(class_name: str | None, strategy: str) -> str:
    """The hls4ml Strategy of one layer (``None``: the model default). With distributed arithmetic only
    hls4ml's Dense and Conv2D take it; every other layer keeps hls4ml's Latency implementation, because hls4ml
    stops with an exception on any other layer configured for it."""
    if strategy != DA_STRATEGY:
        return strategy
    return DA_STRATEGY if class_name in DA_CLASSES else "Latency"


@dataclass(frozen=True)
class DASolution:
    """What da4ml reports for one CMVM: its cost (the adder bits of the graph, da4ml's LUT measure), the
    adder depth of the slowest output, the number of additions and subtractions, and the carry-chain
    blocks those adders fill (8-bit CARRY8, 4-bit CARRY4: one chain per adder, rounded up)."""

    cost: float
    depth: int
    adders: int
    carry8: int
    carry4: int


def kif(t: FixedType) -> tuple[int, int, int]:
    """(sign bits, integer bits without the sign, fraction bits): da4ml's description of a fixed-point type,
    as hls4ml derives it from an ap_fixed<W, I> (k = signed, i = I - k, f = W - I)."""
    return int(t.signed), t.width - t.frac - int(t.signed), t.frac


def da_solution(x_type: FixedType, weights: np.ndarray, bias: np.ndarray | None) -> DASolution:
    """da4ml's solution of ``x @ weights + bias`` for inputs of type ``x_type``: the problem hls4ml's
    DistributedArithmeticCodegen pass solves for a Dense (``weights`` (n_in, n_out), real values) or a
    Conv2D (its im2col matrix; a padded border only adds zeros, which the input type already covers)."""
    require_da4ml()
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    n_in = weights.shape[0]
    k, i, f = (np.full(n_in, v, dtype=np.int16) for v in kif(x_type))
    inp = FixedVariableArray.from_kif(k, i, f, HWConfig(1, -1, -1), solver_options=dict(SOLVER_OPTIONS))
    out = inp @ np.asarray(weights, dtype=np.float64)
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float64).ravel()
    sol = comb_trace(inp, out)
    # da4ml's opcodes 0, 1 and 4: a + b * 2^s, a - b * 2^s and a + constant (the bias); an op's cost is its bits
    bits = [max(float(op.cost), 0.0) for op in sol.ops if op.opcode in (0, 1, 4)]
    return DASolution(float(sol.cost), int(sol.latency[1]), len(bits), sum(math.ceil(b / 8) for b in bits),
                      sum(math.ceil(b / 4) for b in bits))
