"""Trigger metrics of an anomaly score: threshold at a background rate, signal efficiency, ROC AUC, plots.

The background rate of a trigger is the fraction of zero-bias bunch crossings it accepts times the LHC
bunch-crossing rate, 40 MHz: a 1 kHz trigger accepts 2.5e-5 of the crossings. Measuring a rate needs
background events above the threshold; a rate whose threshold has fewer than ``MIN_EVENTS_ABOVE``
test events above it is reported but flagged as not measured with these statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from l1ml.errors import L1MLError

BUNCH_CROSSING_KHZ = 40_000.0  # LHC bunch-crossing rate, 40 MHz
#: The rates every report lists, kHz (1 kHz is the CMS anomaly-detection trigger's order of magnitude).
REPORT_RATES_KHZ: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0)
#: Background events above a threshold needed to call its rate measured (+-30 % statistical).
MIN_EVENTS_ABOVE = 10


def threshold_at_rate(background: np.ndarray, rate_khz: float) -> float:
    """The lowest threshold ``t`` with at most ``rate_khz / 40 MHz`` of ``background`` scores ``> t``.

    Scores of a quantized model tie; accepting ``score > t`` with ``t`` one of the background scores keeps
    the accepted fraction at or below the target however many events share a value.
    """
    b = np.sort(np.asarray(background, np.float64))[::-1]
    if not len(b):
        raise L1MLError("no background events to set a threshold on; simulate zero-bias crossings")
    if not 0 < rate_khz <= BUNCH_CROSSING_KHZ:
        raise L1MLError(f"rate {rate_khz} kHz must be in (0, {BUNCH_CROSSING_KHZ:g}] kHz")
    allowed = int(np.floor(rate_khz / BUNCH_CROSSING_KHZ * len(b) + 1e-9))
    return float(b[min(allowed, len(b) - 1)])


def efficiency_at_rate(background: np.ndarray, signal: np.ndarray, rate_khz: float) -> dict[str, Any]:
    """Signal efficiency, the achieved rate and the counts at the threshold for ``rate_khz``."""
    t = threshold_at_rate(background, rate_khz)
    above = int((np.asarray(background) > t).sum())
    return {"rate_khz": rate_khz, "threshold": t, "signal_efficiency": float((np.asarray(signal) > t).mean()),
            "background_above": above, "achieved_rate_khz": above / len(background) * BUNCH_CROSSING_KHZ,
            "measured": above >= MIN_EVENTS_ABOVE}


def roc_auc(background: np.ndarray, signal: np.ndarray) -> float:
    """ROC AUC of signal against background (ties count one half): P(score_s > score_b) + P(=)/2."""
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.zeros(len(background)), np.ones(len(signal))]
    return float(roc_auc_score(y, np.r_[background, signal]))


def headline_rate(background_events: int) -> float:
    """The lowest of ``REPORT_RATES_KHZ`` measurable with this many background test events."""
    for r in REPORT_RATES_KHZ:
        if r / BUNCH_CROSSING_KHZ * background_events >= MIN_EVENTS_ABOVE:
            return r
    return REPORT_RATES_KHZ[-1]


def trigger_metrics(scores: Mapping[str, np.ndarray], background: str, signals: Sequence[str],
                    rates_khz: Sequence[float]) -> dict[str, Any]:
    """AUC and efficiencies at each rate for every signal against ``scores[background]``."""
    b = scores[background]
    return {name: {"auc": roc_auc(b, scores[name]), "events": int(len(scores[name])),
                   "at_rate": [efficiency_at_rate(b, scores[name], r) for r in rates_khz]}
            for name in signals}


def score_plot(scores: Mapping[str, Mapping[str, np.ndarray]], thresholds: Mapping[str, float], rate_khz: float,
               path: Path) -> Path:
    """Score distributions per sample, one panel per model (float, QAT), with the threshold at the rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(scores), figsize=(6.5 * len(scores), 4.5), squeeze=False)
    for ax, (model, per_sample) in zip(axes[0], scores.items(), strict=True):
        every = np.concatenate(list(per_sample.values()))
        hi = float(np.percentile(every, 99.5)) if len(every) else 1.0
        bins = np.linspace(0.0, max(hi, 1e-6), 60)
        for name, s in per_sample.items():
            ax.hist(np.clip(s, 0, bins[-1]), bins=bins, histtype="step", density=True, label=name)
        ax.axvline(thresholds[model], color="k", linestyle="--", label=f"{rate_khz:g} kHz threshold")
        ax.set_yscale("log")
        ax.set_xlabel("anomaly score (sum of squared reconstruction errors)")
        ax.set_ylabel("density")
        ax.set_title(model)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return path


def roc_plot(scores: Mapping[str, Mapping[str, np.ndarray]], background: str, signals: Sequence[str],
             path: Path) -> Path:
    """Signal efficiency against the background rate (kHz, log) for every signal, float and QAT."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for model, style in zip(scores, ("--", "-"), strict=False):
        b = scores[model][background]
        for i, name in enumerate(signals):
            s = scores[model][name]
            fpr, tpr, _ = roc_curve(np.r_[np.zeros(len(b)), np.ones(len(s))], np.r_[b, s])
            ax.plot(fpr[1:] * BUNCH_CROSSING_KHZ, tpr[1:], style, color=f"C{i}", label=f"{name} ({model})")
    ax.set_xscale("log")
    ax.set_xlabel("zero-bias rate [kHz]")
    ax.set_ylabel("signal efficiency")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return path
