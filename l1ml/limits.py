"""The limits on sizes and option values, named once.

Each command checks what it was given against these before any heavy work and refuses a value out of
range with exit code 2 and a message that names the limit, so that a typo such as
``--reuse-factor 99999999999`` or ``--vectors 1000000000`` is an instant error instead of a run that
never ends or dies allocating memory. Why each value:

* ``MAX_REUSE_FACTOR`` 4096: a Dense neuron shares ceil(n_in / R) multipliers, so R beyond the widest
  layer's input count buys nothing and only lengthens the multiplexers (4096 inputs is wider than any
  Level-1 layer); for a GNN, R is rows per lane and no sector graph has 4096 rows. The auto sweep stops
  at 256.
* ``MAX_VECTORS`` 10,000,000 events and ``MAX_VECTOR_VALUES`` 2**27 input values (1 GiB per float64
  copy; verification holds a few copies): more than any bit-exactness run needs, less than a workstation
  holds. A model with large inputs reaches the value limit first.
* ``MAX_PARAMETERS`` 1,000,000 constants and ``MAX_TENSOR_ELEMENTS`` 1,000,000 values per event in one
  tensor: the firmware writes every weight as a constant in logic, and a Level-1 FPGA holds at most tens
  of thousands of multipliers, so a larger model's Verilog (hundreds of MB) and emulation are absurd.
  Fixed-point widths stop at 62 bits (``FixedType``'s own check: the emulator's integers).
* ``MIN_CLOCK_NS``..``MAX_CLOCK_NS`` 0.5..1000 ns: 2 GHz is beyond any FPGA fabric, 1 MHz below any
  trigger board. ``MAX_BUDGET_NS`` 1 ms: 80 times the whole 12.5 us Level-1 latency.
* ``MAX_TMUX`` 1000 bunch crossings (a new event every 25 us); ``MAX_PIPELINE_STAGES`` 64 (a Dense layer
  gets at most one register per adder-tree level, far fewer than 64).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from l1ml.errors import L1MLError

if TYPE_CHECKING:  # pragma: no cover
    from l1ml.ir.graph import Graph

MAX_REUSE_FACTOR = 4096
MAX_VECTORS = 10_000_000
MAX_VECTOR_VALUES = 2**27
MAX_PARAMETERS = 1_000_000
MAX_TENSOR_ELEMENTS = 1_000_000
MIN_CLOCK_NS = 0.5
MAX_CLOCK_NS = 1000.0
MAX_BUDGET_NS = 1_000_000.0
MAX_TMUX = 1000
MAX_PIPELINE_STAGES = 64
MAX_SEED = 2**63 - 1

# --help text, so the documented limits are the enforced ones
REUSE_LIMIT_HELP = f"At most {MAX_REUSE_FACTOR} (l1ml.limits.MAX_REUSE_FACTOR)."
VECTORS_LIMIT_HELP = (f"At most {MAX_VECTORS:,} vectors and {MAX_VECTOR_VALUES:,} input values in all "
                      "(l1ml.limits).")
CLOCK_LIMIT_HELP = f"{MIN_CLOCK_NS:g} to {MAX_CLOCK_NS:g} ns."
STAGES_LIMIT_HELP = f"0 to {MAX_PIPELINE_STAGES}."
TMUX_LIMIT_HELP = f"1 to {MAX_TMUX}."
BUDGET_LIMIT_HELP = f"At most {MAX_BUDGET_NS:,.0f} ns."


class LimitError(L1MLError):
    """A size or option value outside the range l1ml handles; the message names the limit."""


def _whole(option: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LimitError(f"{option} {value!r}: give a whole number")
    return value


def check_reuse_factor(value: int, option: str = "--reuse-factor") -> None:
    """1 <= R <= MAX_REUSE_FACTOR."""
    if not 1 <= _whole(option, value) <= MAX_REUSE_FACTOR:
        raise LimitError(f"{option} {value}: give 1 to {MAX_REUSE_FACTOR} (the limit MAX_REUSE_FACTOR; a larger "
                         "R shares a multiplier over more weights than any layer has)")


def check_vectors(value: int, option: str = "--vectors") -> None:
    """1 <= n <= MAX_VECTORS."""
    if not 1 <= _whole(option, value) <= MAX_VECTORS:
        raise LimitError(f"{option} {value}: give 1 to {MAX_VECTORS:,} (the limit MAX_VECTORS)")


def check_vector_values(n: int, values_per_event: int) -> None:
    """n events of ``values_per_event`` input values stay within MAX_VECTOR_VALUES (and MAX_VECTORS)."""
    check_vectors(n, "vectors")
    if n * values_per_event > MAX_VECTOR_VALUES:
        most = max(1, MAX_VECTOR_VALUES // max(values_per_event, 1))
        raise LimitError(f"{n:,} vectors of {values_per_event:,} input values each exceed the limit "
                         f"MAX_VECTOR_VALUES = {MAX_VECTOR_VALUES:,} input values; use at most {most:,} vectors")


def _finite_range(option: str, value: float, lo: float, hi: float, name: str, lo_open: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and \
        (lo < value if lo_open else lo <= value) and value <= hi
    if not ok:
        span = f"above {lo:g} and at most {hi:,.10g}" if lo_open else f"from {lo:g} to {hi:,.10g}"
        raise LimitError(f"{option} {value}: give a finite number {span} ({name})")


def check_clock_ns(value: float, option: str = "--clock-ns") -> None:
    _finite_range(option, value, MIN_CLOCK_NS, MAX_CLOCK_NS, "the limits MIN_CLOCK_NS, MAX_CLOCK_NS")


def check_budget_ns(value: float, option: str) -> None:
    _finite_range(option, value, 0.0, MAX_BUDGET_NS, "the limit MAX_BUDGET_NS", lo_open=True)


def check_tmux(value: int, option: str = "--tmux") -> None:
    if not 1 <= _whole(option, value) <= MAX_TMUX:
        raise LimitError(f"{option} {value}: give 1 to {MAX_TMUX} bunch crossings (the limit MAX_TMUX)")


def check_pipeline_stages(value: int | None, option: str = "--pipeline-stages") -> None:
    if value is not None and not 0 <= _whole(option, value) <= MAX_PIPELINE_STAGES:
        raise LimitError(f"{option} {value}: give 0 to {MAX_PIPELINE_STAGES} registers per Dense layer "
                         "(the limit MAX_PIPELINE_STAGES)")


def check_resource_fraction(value: float, option: str = "--resource-fraction") -> None:
    _finite_range(option, value, 0.0, 1.0, "a share of each resource of the part", lo_open=True)


def check_seed(value: int, option: str = "--seed") -> None:
    if not 0 <= _whole(option, value) <= MAX_SEED:
        raise LimitError(f"{option} {value}: give 0 to {MAX_SEED} (the limit MAX_SEED)")


_CHECKS = {
    "reuse_factor": (check_reuse_factor, "--reuse-factor"),
    "vectors": (check_vectors, "--vectors"),
    "qonnx_vectors": (check_vectors, "--qonnx-vectors"),
    "clock_ns": (check_clock_ns, "--clock-ns"),
    "latency_budget_ns": (check_budget_ns, "--latency-budget-ns"),
    "total_budget_ns": (check_budget_ns, "--total-budget-ns"),
    "tmux": (check_tmux, "--tmux"),
    "pipeline_stages": (check_pipeline_stages, "--pipeline-stages"),
    "resource_fraction": (check_resource_fraction, "--resource-fraction"),
    "seed": (check_seed, "--seed"),
}


def check_options(**values: object) -> None:
    """Check command-line values by their parameter names (``reuse_factor=...``); None means not given
    (a default applies). One call at the top of a command, before it loads anything."""
    for name, value in values.items():
        check, option = _CHECKS[name]
        if value is not None:
            check(value, option)


def check_graph_size(g: Graph) -> None:
    """Refuse a model whose emulation or Verilog would be absurdly large, naming the tensor and the limit."""
    params = 0
    for name, t in g.tensors.items():
        if t.is_const:
            params += t.size
        elif t.size > MAX_TENSOR_ELEMENTS:
            raise LimitError(f"model '{g.name}': tensor '{name}' has {t.size:,} values per event, more than the "
                             f"limit MAX_TENSOR_ELEMENTS = {MAX_TENSOR_ELEMENTS:,}; l1ml builds firmware for "
                             "Level-1 sized models")
    if params > MAX_PARAMETERS:
        raise LimitError(f"model '{g.name}' has {params:,} constants (weights, biases), more than the limit "
                         f"MAX_PARAMETERS = {MAX_PARAMETERS:,}; every weight becomes logic in the firmware, "
                         "so a model this size cannot be Level-1 firmware")
