"""The estimate as Markdown (a section of report.md) and as a short console summary."""

from __future__ import annotations

from l1ml.estimate.budget import RESOURCES, Verdict
from l1ml.estimate.result import Estimate


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1 or x == 0 else f"{x:.2g}"


def _value(name: str, x: float) -> str:
    return f"{x:,.1f} ns" if name.endswith("_ns") else _num(x)


LABELS = {"latency_ns": "latency", "ii_ns": "initiation interval"}


def verdict_line(est: Estimate) -> str:
    """One line: fits or not, and why."""
    if est.fits:
        return (f"FITS: {est.latency_ns:,.1f} ns of {est.budget.algorithm_ns:,.0f} ns, a new event every "
                f"{est.ii_ns:g} ns (allowed {est.budget.ii_ns:g} ns), on {est.part.device}")
    parts = []
    over = est.check.overflows
    if over:
        parts.append("needs more " + ", ".join(over) + f" than {est.part.device} offers")
    if "latency_ns" in est.check.failed:
        parts.append(f"latency {est.latency_ns:,.1f} ns exceeds {est.budget.algorithm_ns:,.0f} ns")
    if "ii_ns" in est.check.failed:
        parts.append(f"II {est.ii_ns:g} ns exceeds {est.budget.ii_ns:g} ns (tmux {est.budget.tmux})")
    return "DOES NOT FIT: " + "; ".join(parts)


def markdown(est: Estimate) -> str:
    """A readable section: verdict, budget table, per-layer table, assumptions."""
    b = est.budget
    strat = f", {est.strategy.value} strategy" if est.strategy else ""
    lines = [
        f"## Latency and resources ({est.backend.value} backend)",
        "",
        f"Part `{est.part_name}` ({est.part.family}) · clock {est.clock_ns:g} ns · reuse factor "
        f"{est.reuse_factor}{strat} · budget {b.algorithm_ns:,.0f} ns of {b.total_ns:,.0f} ns, "
        f"tmux {b.tmux} ({b.ii_ns:g} ns per event)",
        "",
        f"**{verdict_line(est)}**",
        "",
        "| criterion | estimate | limit | margin | utilisation | verdict |",
        "|---|---:|---:|---:|---:|---|",
    ]
    util = est.utilisation()
    for c in est.check.criteria:
        u = f"{util[c.name]:.2%}" if c.name in RESOURCES else f"{c.value / c.limit:.0%} of budget"
        name = LABELS.get(c.name, c.name)
        extra = f" ({est.latency_cycles} cycle(s))" if c.name == "latency_ns" else (
            f" ({est.ii_cycles} cycle(s))" if c.name == "ii_ns" else "")
        mark = "PASS" if c.verdict is Verdict.PASS else "**FAIL**"
        lines.append(f"| {name} | {_value(c.name, c.value)}{extra} | {_value(c.name, c.limit)} | "
                     f"{_value(c.name, c.margin)} | {u} | {mark} |")
    lines += ["", "| node | onnx | op | latency (cycles) | LUT | FF | DSP | BRAM | detail |",
              "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for row in est.layers:
        r = row.res.to_json()
        lines.append(f"| {row.node} | {row.onnx} | {row.op} | {row.latency_cycles} | {r['LUT']:,} | {r['FF']:,} | "
                     f"{r['DSP']:,} | {r['BRAM']:g} | {row.detail} |")
    if est.synth:
        lines += ["", synth_table(est)]
    lines += ["", "Assumptions:", ""] + [f"- {a}" for a in est.assumptions]
    return "\n".join(lines) + "\n"


def synth_table(est: Estimate) -> str:
    s = est.synth or {}
    res = est.resources()
    meas = s.get("resources", {})
    out = [f"Measured by Yosys ({s.get('yosys', '?')}, synth_xilinx -family xcup, {s.get('seconds', 0):.0f} s):", "",
           "| resource | estimate | Yosys | error |", "|---|---:|---:|---:|"]
    for k in ("LUT", "FF", "DSP"):
        m = meas.get(k, 0)
        err = f"{(res[k] - m) / m:+.1%}" if m else "-"
        out.append(f"| {k} | {res[k]:,} | {m:,} | {err} |")
    out.append(f"| CARRY4 | {round(est.total.carry4):,} | {meas.get('CARRY4', 0):,} | (Yosys builds carry-save "
               "trees with one carry chain per sum; not comparable) |")
    mods = s.get("modules", {})
    rows = [(r, m) for r in est.layers for name, m in mods.items() if name.endswith("_" + r.node)]
    if rows:
        out += ["", "| layer | LUT est | LUT Yosys | FF est | FF Yosys | DSP est | DSP Yosys |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for r, m in rows:
            e = r.res.to_json()
            out.append(f"| {r.node} | {e['LUT']:,} | {m['LUT']:,} | {e['FF']:,} | {m['FF']:,} | {e['DSP']:,} | "
                       f"{m['DSP']:,} |")
    return "\n".join(out)
