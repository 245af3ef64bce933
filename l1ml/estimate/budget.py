"""The Level-1 trigger budget: how long an algorithm may take, how often it must accept an event, and
how much of the FPGA it may use; and the check of an estimate against it.

LHC bunches cross every 25 ns. A board that sees every crossing must accept a new event every 25 ns;
with time multiplexing over ``tmux`` boards each one gets a new event every ``tmux * 25`` ns, which is
the initiation interval (II) an algorithm may have. The whole Level-1 decision has 12.5 us (the HL-LHC
Phase-2 figure); one algorithm gets a share of it (``algorithm_ns``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from l1ml import defaults
from l1ml.errors import L1MLError

RESOURCES = ("LUT", "FF", "DSP", "BRAM")


class Verdict(Enum):
    PASS = "PASS"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Budget:
    """Latency, II and resource limits for one algorithm."""

    total_ns: float = defaults.TOTAL_BUDGET_NS  # the whole Level-1 latency (Phase-2: 12.5 us)
    algorithm_ns: float = defaults.ALGORITHM_BUDGET_NS  # the share given to this algorithm
    bx_ns: float = defaults.BX_NS  # bunch-crossing period
    tmux: int = defaults.TMUX  # time-multiplexing period in bunch crossings
    resource_fraction: float = 1.0  # share of each FPGA resource the algorithm may use

    def __post_init__(self) -> None:
        if not (self.total_ns > 0 and self.algorithm_ns > 0 and self.bx_ns > 0):
            raise L1MLError("latency budgets and the bunch-crossing period must be positive numbers of ns")
        if self.algorithm_ns > self.total_ns:
            raise L1MLError(f"the algorithm's latency budget ({self.algorithm_ns:g} ns) exceeds the total "
                            f"Level-1 budget ({self.total_ns:g} ns); lower --latency-budget-ns")
        if int(self.tmux) != self.tmux or self.tmux < 1:
            raise L1MLError(f"tmux must be a whole number of bunch crossings (1 or more), got {self.tmux}")
        if not 0 < self.resource_fraction <= 1:
            raise L1MLError(f"resource_fraction must be in (0, 1], got {self.resource_fraction}")

    @property
    def ii_ns(self) -> float:
        """The longest allowed initiation interval: a new event every ``tmux`` crossings."""
        return self.tmux * self.bx_ns

    def limits(self, capacity: dict[str, int]) -> dict[str, float]:
        out: dict[str, float] = {"latency_ns": self.algorithm_ns, "ii_ns": self.ii_ns}
        for r in RESOURCES:
            out[r] = capacity[r] * self.resource_fraction
        return out

    def to_json(self) -> dict:
        return {"total_ns": self.total_ns, "algorithm_ns": self.algorithm_ns, "bx_ns": self.bx_ns,
                "tmux": self.tmux, "ii_ns": self.ii_ns, "resource_fraction": self.resource_fraction}


@dataclass(frozen=True)
class Criterion:
    """One limit: the value, the limit and what is left (negative when over)."""

    name: str  # latency_ns, ii_ns, LUT, FF, DSP, BRAM
    value: float
    limit: float

    @property
    def margin(self) -> float:
        return self.limit - self.value

    @property
    def verdict(self) -> Verdict:
        return Verdict.PASS if self.value <= self.limit else Verdict.FAIL


@dataclass(frozen=True)
class BudgetCheck:
    budget: Budget
    criteria: tuple[Criterion, ...]

    @property
    def fits(self) -> bool:
        return all(c.verdict is Verdict.PASS for c in self.criteria)

    @property
    def overflows(self) -> list[str]:
        """The resources the design needs more of than the part (or its share) has."""
        return [c.name for c in self.criteria if c.name in RESOURCES and c.verdict is Verdict.FAIL]

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.criteria if c.verdict is Verdict.FAIL]

    def to_json(self) -> dict:
        return {
            "budget": self.budget.to_json(),
            "limits": {c.name: c.limit for c in self.criteria},
            "values": {c.name: c.value for c in self.criteria},
            "margins": {c.name: c.margin for c in self.criteria},
            "criteria": {c.name: c.verdict.value for c in self.criteria},
            "fits": self.fits,
            "overflows": self.overflows,
            "failed": self.failed,
        }


def check_budget(budget: Budget, latency_ns: float, ii_ns: float, resources: dict[str, float],
                 capacity: dict[str, int]) -> BudgetCheck:
    """Compare an estimate with every limit; a design too large for the part fails, it is not an error."""
    limits = budget.limits(capacity)
    crit = [Criterion("latency_ns", latency_ns, limits["latency_ns"]), Criterion("ii_ns", ii_ns, limits["ii_ns"])]
    crit += [Criterion(r, float(resources.get(r, 0)), limits[r]) for r in RESOURCES]
    return BudgetCheck(budget, tuple(crit))
