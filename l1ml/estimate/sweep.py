"""Design-space helper: estimate a model over a grid of reuse factors (and clocks) and tabulate the
latency / II / resource trade-off, so that a user picks the cheapest point that meets the budget."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import Enum

from l1ml.errors import L1MLError
from l1ml.estimate.budget import Budget
from l1ml.estimate.result import Estimate
from l1ml.ir.graph import Graph
from l1ml.limits import check_clock_ns, check_reuse_factor


class SweepKey(Enum):
    REUSE = "reuse"
    CLOCK = "clock_ns"


ALIASES = {"reuse": SweepKey.REUSE, "reuse_factor": SweepKey.REUSE, "rf": SweepKey.REUSE,
           "clock": SweepKey.CLOCK, "clock_ns": SweepKey.CLOCK}


def parse_sweep(text: str) -> dict[SweepKey, list[float]]:
    """``"reuse=1,2,4,8"`` or ``"reuse=1,2;clock=2.5,5"`` -> the values per key.

    >>> parse_sweep("reuse=1,2,4")
    {<SweepKey.REUSE: 'reuse'>: [1, 2, 4]}
    """
    out: dict[SweepKey, list[float]] = {}
    for part in filter(None, (p.strip() for p in text.replace(" ", "").split(";"))):
        name, _, values = part.partition("=")
        key = ALIASES.get(name.lower())
        if key is None or not values:
            raise L1MLError(f"cannot read sweep '{part}': write e.g. reuse=1,2,4,8 or clock=2.5,5 "
                            f"(keys: {', '.join(sorted(ALIASES))})")
        try:
            vals = [int(v) if key is SweepKey.REUSE else float(v) for v in values.split(",") if v]
        except ValueError:
            raise L1MLError(f"sweep '{part}': values must be numbers separated by commas"
                            f"{' (whole numbers for reuse)' if key is SweepKey.REUSE else ''}") from None
        if any(v <= 0 for v in vals):
            raise L1MLError(f"sweep '{part}': values must be positive")
        for v in vals:
            (check_reuse_factor if key is SweepKey.REUSE else check_clock_ns)(v, f"sweep {name}")
        out[key] = vals
    if not out:
        raise L1MLError("empty sweep: write e.g. --sweep reuse=1,2,4,8")
    return out


@dataclass(frozen=True)
class SweepPoint:
    reuse: int
    clock_ns: float
    est: Estimate

    def to_json(self) -> dict:
        e = self.est
        return {"reuse_factor": self.reuse, "clock_ns": self.clock_ns,
                "latency": {"cycles": e.latency_cycles, "ns": e.latency_ns},
                "ii": {"cycles": e.ii_cycles, "ns": e.ii_ns}, "resources": e.resources(),
                "utilisation": e.utilisation(), "fits": e.fits, "failed": e.check.failed}


def run_sweep(g: Graph, grid: dict[SweepKey, list[float]], *, backend: str, part: str, clock_ns: float,
              reuse_factor: int, strategy: str, budget: Budget, pipeline_stages: int | None = None,
              ) -> list[SweepPoint]:
    """One estimate per grid point (the other options fixed)."""
    from l1ml.estimate import estimate

    reuses = [int(r) for r in grid.get(SweepKey.REUSE, [reuse_factor])]
    clocks = grid.get(SweepKey.CLOCK, [clock_ns])
    points = []
    for r, clk in itertools.product(reuses, clocks):
        est = estimate(g, backend=backend, part=part, clock_ns=clk, reuse_factor=r, strategy=strategy,
                       budget=budget, pipeline_stages=pipeline_stages)
        points.append(SweepPoint(r, clk, est))
    return points


def best_point(points: list[SweepPoint]) -> SweepPoint | None:
    """The fitting point with the fewest LUT-equivalents (a DSP counted as 100 LUTs), if any fits."""
    fitting = [p for p in points if p.est.fits]
    if not fitting:
        return None
    return min(fitting, key=lambda p: p.est.total.lut + 100 * p.est.total.dsp + p.est.latency_ns * 1e-3)


def sweep_table(points: list[SweepPoint]):
    """A rich Table of the trade-off."""
    from rich.table import Table

    best = best_point(points)
    t = Table(title="design space (estimates)")
    for col in ("reuse", "clock ns", "latency", "II", "LUT", "FF", "DSP", "BRAM", "fits"):
        t.add_column(col, justify="right" if col != "fits" else "left")
    for p in points:
        e, r = p.est, p.est.resources()
        verdict = "[green]yes[/]" if e.fits else f"[red]no[/] ({', '.join(e.check.failed)})"
        mark = " ←" if p is best else ""
        t.add_row(str(p.reuse), f"{p.clock_ns:g}", f"{e.latency_cycles} cyc / {e.latency_ns:g} ns",
                  f"{e.ii_cycles} cyc / {e.ii_ns:g} ns", f"{r['LUT']:,}", f"{r['FF']:,}", f"{r['DSP']:,}",
                  f"{r['BRAM']:g}", verdict + mark)
    return t


def sweep_markdown(points: list[SweepPoint], backend: str) -> str:
    """The trade-off as a Markdown table for report.md; the chosen (cheapest fitting) point is marked."""
    best = best_point(points)
    lines = [f"## Design space ({backend} estimates)", "",
             "| reuse | clock ns | latency | II | LUT | FF | DSP | BRAM | fits |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for p in points:
        e, r = p.est, p.est.resources()
        verdict = "yes" if e.fits else f"no ({', '.join(e.check.failed)})"
        lines.append(f"| {p.reuse}{' ←' if p is best else ''} | {p.clock_ns:g} | {e.latency_cycles} cyc / "
                     f"{e.latency_ns:g} ns | {e.ii_cycles} cyc / {e.ii_ns:g} ns | {r['LUT']:,} | {r['FF']:,} | "
                     f"{r['DSP']:,} | {r['BRAM']:g} | {verdict} |")
    return "\n".join(lines) + "\n"
