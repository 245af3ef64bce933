"""Latency and resource estimation against the Level-1 trigger budget.

``estimate(g)`` walks the typed IR with a cost model of the chosen backend (l1ml's own Verilog, or an
hls4ml project) and answers in milliseconds: latency and II in cycles and ns, LUT/FF/DSP/BRAM in
total and per layer, utilisation of the part, and PASS/FAIL against the budget. A model too large
for the part is an answer (``fits`` False, with the resources that overflow), never an error.
"""

from __future__ import annotations

from pathlib import Path

from l1ml import defaults
from l1ml.errors import L1MLError
from l1ml.estimate.budget import Budget, BudgetCheck, Verdict, check_budget
from l1ml.estimate.parts import PARTS, Part, get_part
from l1ml.estimate.result import Backend, Estimate, LayerCost, Resources, Strategy
from l1ml.ir.graph import Graph

DEFAULT_PART = defaults.PART

VERILOG_ASSUMPTIONS = [
    "Verilog backend: the structure is the generator's own (shift-add or DSP per weight, adder trees, "
    "pipeline registers by the clock rule, reuse factor), so latency and II are exact cycle counts.",
    "LUT/FF are priced bit by bit and fitted to Yosys synth_xilinx (xcup); Vivado packs LUTs differently "
    "(typically fewer LUTs for adder trees). Timing closure at the target clock is not checked.",
    "BRAM: none (weights are constants in logic); URAM unused.",
]


def _parse_enum(kind: type, value: object, what: str):
    if isinstance(value, kind):
        return value
    for member in kind:
        if str(value).lower() == member.value.lower():
            return member
    choices = ", ".join(m.value for m in kind)
    raise L1MLError(f"unknown {what} '{value}'; choose one of: {choices}")


def estimate(g: Graph, *, backend: str | Backend = "verilog", part: str = DEFAULT_PART, clock_ns: float = defaults.CLOCK_NS,
             reuse_factor: int = 1, strategy: str | Strategy = "Latency", budget: Budget | None = None,
             pipeline_stages: int | None = None) -> Estimate:
    """Estimate latency, II and resources of ``g`` on ``part`` and check them against ``budget``."""
    be = _parse_enum(Backend, backend, "backend")
    strat = _parse_enum(Strategy, strategy, "strategy")
    p = get_part(part)
    budget = budget or Budget()
    if reuse_factor < 1:
        raise L1MLError(f"reuse factor must be 1 or more, got {reuse_factor}")
    if not clock_ns > 0:
        raise L1MLError(f"clock period must be a positive number of ns, got {clock_ns}")
    try:
        g.verify(typed=True)
    except ValueError as e:
        raise L1MLError(f"model '{g.name}' is not a typed l1ml graph ({e}); load it with "
                        "l1ml.load.load_graph, which runs the passes") from e
    if be is Backend.VERILOG:
        from l1ml.backends.verilog.pipeline import PipelineConfig
        from l1ml.backends.verilog.rows_plan import has_rows
        from l1ml.estimate.verilog_cost import VerilogCost, priced
        from l1ml.estimate.verilog_rows_cost import RowsCost

        # the design write_rtl(g, ...) generates: a GNN's row-wise regions, or one module per node
        cfg = PipelineConfig.from_options(None if pipeline_stages is not None else clock_ns, pipeline_stages)
        rows, total, latency = priced((RowsCost if has_rows(g) else VerilogCost)(g, cfg, reuse_factor))
        ii = reuse_factor
        assumptions = list(VERILOG_ASSUMPTIONS)
        strat_out = None
    else:
        from l1ml.estimate.hls4ml_cost import assumptions_for, estimate_hls4ml

        if strat is Strategy.DISTRIBUTED_ARITHMETIC:  # priced from da4ml's own solution: it must be installed
            from l1ml.backends.hls4ml_da import check_da_reuse, require_da4ml

            check_da_reuse(reuse_factor)
            require_da4ml()
        rows, total, latency, ii = estimate_hls4ml(g, clock_ns=clock_ns, reuse_factor=reuse_factor, strategy=strat)
        assumptions = assumptions_for(strat)
        strat_out = strat
    check = check_budget(budget, latency * clock_ns, ii * clock_ns, total.to_json(), p.capacity())
    return Estimate(g.name, be, p, part, clock_ns, reuse_factor, strat_out, latency, ii, total, rows, check,
                    assumptions, pipeline_stages)


def markdown(est: Estimate) -> str:
    from l1ml.estimate.report import markdown as _md

    return _md(est)


def plot_budget(est: Estimate, path: Path) -> Path:
    from l1ml.estimate.plot import plot_budget as _plot

    return _plot(est, Path(path))


__all__ = ["PARTS", "Backend", "Budget", "BudgetCheck", "DEFAULT_PART", "Estimate", "LayerCost", "Part",
           "Resources", "Strategy", "Verdict", "check_budget", "estimate", "get_part", "markdown", "plot_budget"]
