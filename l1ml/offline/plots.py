"""PNG plots for the offline reports (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.cluster import hierarchy  # noqa: E402

from l1ml.offline.clustering import Clustering  # noqa: E402
from l1ml.offline.fit import Epoch  # noqa: E402
from l1ml.offline.importance import Importance  # noqa: E402
from l1ml.offline.metrics import KSResult, roc_curve  # noqa: E402

_COLOURS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _save(fig: plt.Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@dataclass(frozen=True)
class Outputs:
    """Classifier probabilities with true classes and evaluation weights, for one split."""

    prob: np.ndarray
    y: np.ndarray
    w: np.ndarray


def _histogram(values: np.ndarray, w: np.ndarray, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit-area weighted histogram and its statistical error sqrt(sum w^2)."""
    content, _ = np.histogram(values, bins=bins, weights=w)
    sq, _ = np.histogram(values, bins=bins, weights=w * w)
    area = content.sum() * np.diff(bins)
    area = np.where(area != 0, area, 1.0)
    return content / area, np.sqrt(sq) / area


def output_distributions(
    path: Path,
    class_names: Sequence[str],
    train: Outputs,
    test: Outputs,
    ks: dict[tuple[int, int], KSResult],
    title: str,
) -> None:
    """Per output node: train (filled) vs test (points) per true class, with the weighted KS p-values."""
    k = len(class_names)
    nodes = [1] if k == 2 else list(range(k))
    fig, axes = plt.subplots(1, len(nodes), figsize=(5.5 * len(nodes), 4.2), squeeze=False)
    bins = np.linspace(0.0, 1.0, 31)
    centres = (bins[1:] + bins[:-1]) / 2
    for ax, node in zip(axes[0], nodes, strict=True):
        for c in range(k):
            colour = _COLOURS[c % len(_COLOURS)]
            mtr, mte = train.y == c, test.y == c
            h_tr, _ = _histogram(train.prob[mtr, node], train.w[mtr], bins)
            h_te, e_te = _histogram(test.prob[mte, node], test.w[mte], bins)
            ax.stairs(h_tr, bins, fill=True, alpha=0.3, color=colour, label=f"{class_names[c]} (train)")
            result = ks.get((node, c))
            pval = f", KS p={result.pvalue:.2f}" if result else ""
            ax.errorbar(
                centres, h_te, yerr=e_te, fmt="o", ms=3, color=colour, label=f"{class_names[c]} (test{pval})"
            )
        ax.set_xlabel(f"classifier output P({class_names[node]})")
        ax.set_ylabel("normalised weighted events / unit output")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    _save(fig, path)


def roc_curves(
    path: Path, curves: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]], title: str
) -> None:
    """Background efficiency (log) vs signal efficiency; curves are (label, score, is_signal, weight)."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for label, score, positive, weight in curves:
        sig, bkg = roc_curve(score, positive, weight)
        shown = bkg > 0  # log axis; negative weights can also make the first points dip below zero
        ax.plot(sig[shown], bkg[shown], label=label)
    ax.set_xlabel("signal efficiency (weighted)")
    ax.set_ylabel("background efficiency (weighted)")
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    _save(fig, path)


def loss_history(path: Path, history: Sequence[Epoch], best_epoch: int, title: str) -> None:
    """Training and validation loss per epoch, with the restored epoch marked."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    epochs = [e.epoch for e in history]
    ax.plot(epochs, [e.train_loss for e in history], label="train")
    ax.plot(epochs, [e.val_loss for e in history], label="validation")
    ax.axvline(best_epoch, color="grey", ls="--", label=f"best epoch {best_epoch}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("weighted cross-entropy (nats / event)")
    ax.legend()
    ax.set_title(title)
    _save(fig, path)


def importances(path: Path, items: Sequence[Importance], title: str) -> None:
    """Horizontal bars of the AUC drop, mean +- std over the repeats, most important on top."""
    items = list(items)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(items) + 1.5))
    ax.barh([i.name for i in items], [i.mean for i in items], xerr=[i.std for i in items], color=_COLOURS[0])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("weighted AUC drop when the feature is permuted")
    ax.set_title(title)
    _save(fig, path)


def dendrogram(path: Path, clustering: Clustering, threshold: float, title: str) -> None:
    """The clustering tree with the cut distance drawn."""
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(clustering.features)), 4.5))
    if len(clustering.features) > 1:
        hierarchy.dendrogram(
            clustering.linkage, labels=clustering.features, ax=ax, leaf_rotation=60, color_threshold=threshold
        )
    ax.axhline(threshold, color="red", ls="--")
    ax.set_ylabel("distance 1 - |correlation|")
    ax.set_xlabel("feature")
    ax.set_title(f"{title} (red: cut at {threshold:g})")
    _save(fig, path)


def correlation(path: Path, clustering: Clustering, title: str) -> None:
    """The correlation matrix in dendrogram order."""
    order = clustering.leaf_order()
    names = [clustering.features[i] for i in order]
    corr = clustering.corr[np.ix_(order, order)]
    n = len(names)
    fig, ax = plt.subplots(figsize=(0.45 * n + 2.5, 0.45 * n + 2))
    image = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(n), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    fig.colorbar(image, ax=ax, label="correlation coefficient")
    ax.set_title(title)
    _save(fig, path)


def cut_scan(
    path: Path,
    thresholds: Sequence[float],
    n_features: Sequence[int],
    auc: Sequence[float],
    accuracy: Sequence[float],
) -> None:
    """Test AUC and accuracy against the clustering cut, annotated with the number of features kept."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.plot(thresholds, auc, "o-", label="weighted AUC (test)")
    ax.plot(thresholds, accuracy, "s--", label="weighted accuracy (test)")
    for t, n, a in zip(thresholds, n_features, auc, strict=True):
        ax.annotate(f"{n} feat.", (t, a), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.margins(y=0.12)
    ax.set_xlabel("clustering cut, distance 1 - |rho|")
    ax.set_ylabel("metric on the test split")
    ax.legend()
    ax.set_title("Performance vs clustering cut")
    _save(fig, path)
