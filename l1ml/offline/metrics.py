"""Weighted classifier metrics that accept negative event weights.

The ROC AUC is computed from its pair definition, sum over (s, b) pairs of w_s w_b [score_s > score_b]
(ties count one half) divided by W_s W_b, which stays well defined when some weights are negative,
unlike trapezoid integration of a non-monotone ROC curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import kolmogorov


def _grouped(
    score: np.ndarray, positive: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort by score and sum positive/negative weights per distinct score value."""
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    pos = positive[order]
    w = weight[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    wp = np.add.reduceat(np.where(pos, w, 0.0), starts)
    wn = np.add.reduceat(np.where(pos, 0.0, w), starts)
    return s[starts], wp, wn


def weighted_auc(score: np.ndarray, positive: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Probability that a positive event scores above a negative one, weighted (nan if undefined)."""
    score = np.asarray(score, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    weight = np.ones(len(score)) if weight is None else np.asarray(weight, dtype=np.float64)
    if len(score) == 0:
        return float("nan")
    _, wp, wn = _grouped(score, positive, weight)
    total_p, total_n = wp.sum(), wn.sum()
    if total_p <= 0 or total_n <= 0:
        return float("nan")
    below = np.cumsum(wn) - wn
    return float(np.sum(wp * (below + 0.5 * wn)) / (total_p * total_n))


def roc_curve(score: np.ndarray, positive: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signal and background efficiencies for thresholds from high to low score (weighted)."""
    _, wp, wn = _grouped(
        np.asarray(score, np.float64), np.asarray(positive, bool), np.asarray(weight, np.float64)
    )
    sig = np.r_[0.0, np.cumsum(wp[::-1])] / wp.sum()
    bkg = np.r_[0.0, np.cumsum(wn[::-1])] / wn.sum()
    return sig, bkg


def background_efficiency_at(
    score: np.ndarray, positive: np.ndarray, weight: np.ndarray, signal_efficiency: float
) -> float:
    """Weighted background efficiency at the first threshold where signal efficiency reaches the target."""
    sig, bkg = roc_curve(score, positive, weight)
    idx = int(np.argmax(sig >= signal_efficiency))
    return float(bkg[idx])


@dataclass(frozen=True)
class KSResult:
    """Weighted two-sample Kolmogorov-Smirnov statistic with an asymptotic p-value."""

    statistic: float
    pvalue: float
    n_eff_a: float
    n_eff_b: float


def effective_size(w: np.ndarray) -> float:
    """Kish effective sample size (sum w)^2 / sum w^2."""
    w = np.asarray(w, dtype=np.float64)
    sq = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / sq if sq > 0 else 0.0


def weighted_ks(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray) -> KSResult:
    """Largest distance between the weighted CDFs of a and b; the p-value uses Kish effective sizes."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    wa, wb = np.asarray(wa, np.float64), np.asarray(wb, np.float64)
    values = np.concatenate([a, b])
    from_a = np.r_[np.ones(len(a), bool), np.zeros(len(b), bool)]
    weights = np.concatenate([wa / wa.sum(), wb / wb.sum()])
    _, in_a, in_b = _grouped(values, from_a, weights)
    distance = float(np.max(np.abs(np.cumsum(in_a) - np.cumsum(in_b))))
    na, nb = effective_size(wa), effective_size(wb)
    scale = np.sqrt(na * nb / (na + nb)) if na + nb > 0 else 0.0
    return KSResult(distance, float(kolmogorov(scale * distance)), na, nb)


def weighted_log_loss(prob: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Mean cross-entropy -sum w log p(true class) / sum w; prob has one column per class."""
    p = np.clip(prob[np.arange(len(y)), y], 1e-7, 1.0)
    return float(-np.sum(w * np.log(p)) / np.sum(w))


def weighted_accuracy(prob: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted fraction of events whose most probable class is the true one."""
    return float(np.sum(w * (np.argmax(prob, axis=1) == y)) / np.sum(w))


def class_auc(prob: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> float:
    """Binary: AUC of the signal column. Multi-class: mean one-vs-rest AUC over classes."""
    k = prob.shape[1]
    if k == 2:
        return weighted_auc(prob[:, 1], y == 1, w)
    return float(np.mean([weighted_auc(prob[:, c], y == c, w) for c in range(k)]))


@dataclass(frozen=True)
class Scores:
    """The headline metrics of one classifier on one split."""

    auc: float
    auc_unweighted: float
    loss: float
    accuracy: float

    def as_dict(self) -> dict[str, float]:
        return {
            "auc": self.auc,
            "auc_unweighted": self.auc_unweighted,
            "loss": self.loss,
            "accuracy": self.accuracy,
        }


def score_split(prob: np.ndarray, y: np.ndarray, w_eval: np.ndarray) -> Scores:
    """Weighted AUC (plus the unweighted one for comparison), weighted loss and accuracy."""
    return Scores(
        auc=class_auc(prob, y, w_eval),
        auc_unweighted=class_auc(prob, y, None),
        loss=weighted_log_loss(prob, y, w_eval),
        accuracy=weighted_accuracy(prob, y, w_eval),
    )
