"""Two-sample statistics for validating a generative model against the simulation it replaces."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs (0 = same)."""
    return float(stats.ks_2samp(np.ravel(a), np.ravel(b)).statistic)


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """1-Wasserstein (earth mover's) distance between two 1-D samples, in the samples' units."""
    return float(stats.wasserstein_distance(np.ravel(a), np.ravel(b)))


@dataclass(frozen=True)
class C2ST:
    """Classifier two-sample test: out-of-fold ROC AUC of separating the two samples (0.5 = identical)."""

    auc: float
    auc_std: float  # spread over the folds
    n_per_sample: int


def c2st_auc(real: np.ndarray, fake: np.ndarray, seed: int = 0, folds: int = 2,
             max_iter: int = 200) -> C2ST:
    """Train a gradient-boosted classifier to tell ``real`` rows from ``fake`` rows; report held-out AUC.

    Both samples are (N, D) feature matrices of equal size. Each fold's classifier is evaluated only on
    rows it never saw, so an AUC above 0.5 means a real, learnable difference between the samples.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    n = min(len(real), len(fake))
    x = np.concatenate([np.asarray(real)[:n], np.asarray(fake)[:n]]).astype(np.float64)
    if x.ndim == 1:
        x = x[:, None]
    y = np.concatenate([np.zeros(n), np.ones(n)])
    aucs = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, y):
        clf = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=0.1, early_stopping=True,
                                             validation_fraction=0.15, n_iter_no_change=10, random_state=seed)
        clf.fit(x[train], y[train])
        aucs.append(roc_auc_score(y[test], clf.predict_proba(x[test])[:, 1]))
    return C2ST(float(np.mean(aucs)), float(np.std(aucs)), n)


@dataclass(frozen=True)
class BinnedMoments:
    """Mean and standard deviation of a quantity in bins of a condition variable."""

    edges: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray

    @property
    def centres(self) -> np.ndarray:
        """Bin centres."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])


def binned_moments(values: np.ndarray, by: np.ndarray, edges: np.ndarray) -> BinnedMoments:
    """First and second moments of ``values`` in bins of ``by`` (NaN for empty bins)."""
    values, by = np.asarray(values, np.float64), np.asarray(by, np.float64)
    which = np.digitize(by, edges) - 1
    n_bins = len(edges) - 1
    inside = (which >= 0) & (which < n_bins)
    count = np.bincount(which[inside], minlength=n_bins).astype(np.float64)
    total = np.bincount(which[inside], values[inside], n_bins)
    square = np.bincount(which[inside], values[inside] ** 2, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        var = np.maximum(square / count - mean**2, 0.0) * count / np.maximum(count - 1, 1)
    return BinnedMoments(np.asarray(edges, np.float64), mean, np.sqrt(var), count)
