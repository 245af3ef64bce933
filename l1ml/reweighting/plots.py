"""Plots of a reweighting: the weight distribution and, per variable, original before/after vs target."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from l1ml.reweighting.metrics import weighted_ks


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_weights(weights: np.ndarray, path: Path, title: str = "Reweighting weights") -> None:
    """Histogram of the weights (normalised to mean 1) on a log scale, with the effective sample size."""
    plt = _pyplot()
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.mean()
    ess = w.sum() ** 2 / np.square(w).sum()
    positive = w[w > 0]
    low, high = (positive.min(), positive.max()) if len(positive) else (1e-3, 1.0)
    bins = np.geomspace(min(low, 0.5), max(high, 2.0) * 1.01, 60)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.hist(positive, bins=bins, color="tab:blue", alpha=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("event weight / mean weight")
    ax.set_ylabel("events per bin")
    ax.set_title(title)
    zero = int((w == 0).sum())
    ax.text(0.02, 0.95, f"events: {len(w)}\nzero weights: {zero}\nmax: {w.max():.3g}\n"
            f"effective size: {ess:.0f} ({ess / len(w):.1%})",
            transform=ax.transAxes, ha="left", va="top", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_comparison(original: np.ndarray, target: np.ndarray, weight_before: np.ndarray,
                    weight_after: np.ndarray, target_weight: np.ndarray, label: str, path: Path,
                    unit: str = "", n_bins: int = 40) -> None:
    """One variable: normalised histograms of target and original before/after, and their ratio to target."""
    plt = _pyplot()
    edges = np.unique(np.quantile(np.concatenate([original, target]), np.linspace(0.005, 0.995, n_bins + 1)))
    centres = 0.5 * (edges[1:] + edges[:-1])
    widths = np.diff(edges)

    def density(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inside = (x >= edges[0]) & (x <= edges[-1])
        total = w.sum()
        h, _ = np.histogram(x[inside], edges, weights=w[inside])
        h2, _ = np.histogram(x[inside], edges, weights=np.square(w[inside]))
        return h / total / widths, np.sqrt(h2) / total / widths

    t, t_err = density(target, target_weight)
    series = [("original", weight_before, "tab:red"), ("original reweighted", weight_after, "tab:blue")]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 5.6), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    top.errorbar(centres, t, t_err, fmt="o", ms=3, color="black", label="target")
    for name, w, colour in series:
        h, err = density(original, w)
        ks = weighted_ks(original, target, w, target_weight)
        top.stairs(h, edges, color=colour, label=f"{name} (KS {ks:.3f})")
        ratio = np.divide(h, t, out=np.full_like(h, np.nan), where=t > 0)
        ratio_err = np.divide(err, t, out=np.full_like(h, np.nan), where=t > 0)
        bottom.errorbar(centres, ratio, ratio_err, fmt="o", ms=2.5, color=colour)
    axis = f"{label} [{unit}]" if unit else f"{label} (unit not given)"
    top.set_ylabel(f"fraction of events / {unit}" if unit else "fraction of events per unit")
    top.legend(fontsize=8)
    bottom.axhline(1.0, color="black", lw=0.8)
    bottom.set_ylim(0.5, 1.5)
    bottom.set_ylabel("original / target")
    bottom.set_xlabel(axis)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
