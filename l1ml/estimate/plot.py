"""The budget picture: the latency budget as a bar with this model's latency inside it (split by layer),
the II against the bunch-crossing period, and per-layer resource bars as a share of the part."""

from __future__ import annotations

from pathlib import Path

from l1ml.estimate.budget import RESOURCES
from l1ml.estimate.report import verdict_line
from l1ml.estimate.result import Estimate

COLORS = {"LUT": "#4c72b0", "FF": "#55a868", "DSP": "#c44e52", "BRAM": "#8172b2"}


def plot_budget(est: Estimate, path: Path) -> Path:
    """Write the PNG to ``path`` (written beside it, then renamed) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    layers = [r for r in est.layers if r.res.lut or r.res.ff or r.res.dsp or r.res.bram or r.latency_cycles]
    fig = plt.figure(figsize=(11, 3.2 + 0.32 * max(len(layers), 3)), dpi=110)
    grid = fig.add_gridspec(3, 1, height_ratios=[1.0, 0.7, max(len(layers), 3) * 0.45], hspace=0.9)
    _latency_bar(fig.add_subplot(grid[0]), est)
    _ii_bar(fig.add_subplot(grid[1]), est)
    _resource_bars(fig.add_subplot(grid[2]), est, layers)
    fig.suptitle(f"{est.model} · {est.backend.value} backend · {est.part.device} · clock {est.clock_ns:g} ns · "
                 f"reuse {est.reuse_factor}\n{verdict_line(est)}", fontsize=10,
                 color="black" if est.fits else "#b00000")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path


def _latency_bar(ax, est: Estimate) -> None:
    """The algorithm's latency budget, with the model's latency stacked layer by layer inside it."""
    budget = est.budget.algorithm_ns
    span = max(budget, est.latency_ns) * 1.05
    ax.barh([0], [budget], color="#eeeeee", edgecolor="black", height=0.6)
    start = 0.0
    cmap = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c"]
    rows = [r for r in est.layers if r.latency_cycles]
    if sum(r.latency_cycles for r in rows) > est.latency_cycles:
        # parallel branches (a GNN's two segment sums, copies of a tensor): layers overlap in time, so
        # stacking them would overstate the latency; draw the critical path as one bar
        rows = []
        ax.barh([0], [est.latency_ns], color=cmap[0], height=0.6, edgecolor="white",
                label=f"critical path: {est.latency_cycles} cycles (layers run in parallel branches)")
        start = est.latency_ns
    for k, row in enumerate(rows):
        w = row.latency_cycles * est.clock_ns
        ax.barh([0], [w], left=start, color=cmap[k % len(cmap)], height=0.6, edgecolor="white",
                label=f"{row.node}: {row.latency_cycles} cycle(s)")
        if w > span * 0.04:
            ax.text(start + w / 2, 0, row.node, ha="center", va="center", fontsize=7, color="white")
        start += w
    if est.latency_ns > start:  # cycles no layer row accounts for: output registers, a GNN's lane steps
        rest = round((est.latency_ns - start) / est.clock_ns)
        ax.barh([0], [est.latency_ns - start], left=start, color="#444444", height=0.6,
                label=f"other: {rest} cycle(s) (registers; time-multiplexed steps at reuse {est.reuse_factor})")
    ax.axvline(budget, color="#b00000" if est.latency_ns > budget else "black", lw=1.5)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
              ncol=1 + len(ax.containers) // 6)
    ax.set_xlim(0, span)
    ax.set_yticks([])
    ax.set_xlabel("latency [ns]")
    share = est.latency_ns / budget
    ax.set_title(f"latency {est.latency_ns:,.1f} ns ({est.latency_cycles} cycles) = {share:.1%} of the "
                 f"{budget:,.0f} ns algorithm budget (total L1 budget {est.budget.total_ns:,.0f} ns)",
                 fontsize=9, loc="left")


def _ii_bar(ax, est: Estimate) -> None:
    allowed = est.budget.ii_ns
    span = max(allowed, est.ii_ns) * 1.1
    ax.barh([0], [allowed], color="#eeeeee", edgecolor="black", height=0.6)
    ax.barh([0], [est.ii_ns], color="#55a868" if est.ii_ns <= allowed else "#c44e52", height=0.6)
    ax.axvline(allowed, color="black", lw=1.5)
    ax.set_xlim(0, span)
    ax.set_yticks([])
    ax.set_xlabel("initiation interval [ns]")
    ax.set_title(f"a new event every {est.ii_ns:g} ns ({est.ii_cycles} cycle(s)); allowed {allowed:g} ns "
                 f"(tmux {est.budget.tmux} x {est.budget.bx_ns:g} ns)", fontsize=9, loc="left")


def _resource_bars(ax, est: Estimate, layers) -> None:
    """Per-layer share of the part for each resource, with the totals in the legend."""
    import numpy as np

    cap = est.part.capacity()
    names = [f"{r.node} ({r.op})" for r in layers]
    y = np.arange(len(layers))
    h = 0.8 / len(RESOURCES)
    util = est.utilisation()
    for k, res in enumerate(RESOURCES):
        vals = [100.0 * r.res.to_json()[res] / cap[res] for r in layers]
        ax.barh(y + (k - 1.5) * h, vals, height=h, color=COLORS[res],
                label=f"{res}: {est.resources()[res]:,} ({util[res]:.2%} of part)")
        for yy, v, r in zip(y, vals, layers, strict=True):
            count = r.res.to_json()[res]
            if count:
                ax.text(v, yy + (k - 1.5) * h, f" {count:,}", va="center", fontsize=6)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"share of {est.part.device} per layer [%]")
    top = max([100.0 * r.res.to_json()[res] / cap[res] for r in layers for res in RESOURCES] + [1e-3])
    ax.set_xlim(0, top * 1.25)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
