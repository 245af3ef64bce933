"""Quality measures for a reweighting: weighted KS distances, hold-out classifier AUC, effective size.

A reweighting worked when the reweighted original cannot be told from the target: every 1-D KS distance
is at the level of statistical noise and a classifier trained on part of the events and scored on the
rest reaches an AUC near 0.5. The effective sample size says how much statistical power the weights cost.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from l1ml.errors import L1MLError
from l1ml.reweighting.base import ArrayLike, as_matrix, as_weights


def weighted_ks(a: ArrayLike, b: ArrayLike, weight_a: ArrayLike | None = None,
                weight_b: ArrayLike | None = None) -> float:
    """Largest distance between the weighted empirical CDFs of two 1-D samples (0 = identical)."""
    xa = np.asarray(a, dtype=np.float64).reshape(-1)
    xb = np.asarray(b, dtype=np.float64).reshape(-1)
    wa = as_weights(weight_a, len(xa), "weights of the first sample")
    wb = as_weights(weight_b, len(xb), "weights of the second sample")
    values = np.concatenate([xa, xb])
    # Signed increments: +wa for sample a, -wb for sample b, each normalised to unit total.
    steps = np.concatenate([wa / wa.sum(), -wb / wb.sum()])
    order = np.argsort(values, kind="stable")
    values, steps = values[order], steps[order]
    cdf_gap = np.cumsum(steps)
    # Only compare after the last of a run of tied values, where both CDFs are complete.
    last_of_tie = np.append(values[1:] != values[:-1], True)
    return float(np.abs(cdf_gap[last_of_tie]).max())


def ks_distances(original: ArrayLike, target: ArrayLike, original_weight: ArrayLike | None = None,
                 target_weight: ArrayLike | None = None) -> np.ndarray:
    """Weighted KS distance of each variable (column) between original and target."""
    x_o = as_matrix(original, "original sample")
    x_t = as_matrix(target, "target sample", x_o.shape[1])
    return np.array([weighted_ks(x_o[:, j], x_t[:, j], original_weight, target_weight)
                     for j in range(x_o.shape[1])])


def effective_sample_size(weights: ArrayLike) -> float:
    """Kish's effective number of events, (sum w)^2 / sum w^2; equals N for equal weights."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    return float(w.sum() ** 2 / np.square(w).sum())


def holdout_auc(original: ArrayLike, target: ArrayLike, original_weight: ArrayLike | None = None,
                target_weight: ArrayLike | None = None, *, test_fraction: float = 0.5, seed: int = 0,
                n_estimators: int = 200, n_jobs: int = 1) -> float:
    """Weighted ROC AUC of a LightGBM classifier separating original from target, on held-out events.

    The classifier trains on ``1 - test_fraction`` of each sample with both classes at equal total
    weight and is scored on the rest, weights included. 0.5 means the samples are indistinguishable.
    """
    import lightgbm

    x_o = as_matrix(original, "original sample")
    x_t = as_matrix(target, "target sample", x_o.shape[1])
    w_o = as_weights(original_weight, len(x_o), "original weights")
    w_t = as_weights(target_weight, len(x_t), "target weights")
    if min(len(x_o), len(x_t)) < 40:
        raise L1MLError(f"the hold-out AUC needs at least 40 events per sample, got {len(x_o)} original "
                        f"and {len(x_t)} target events")
    if not 0 < test_fraction < 1:
        raise L1MLError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    test_o = rng.random(len(x_o)) < test_fraction
    test_t = rng.random(len(x_t)) < test_fraction

    def split(test_o_mask: np.ndarray, test_t_mask: np.ndarray) -> tuple[np.ndarray, ...]:
        x = np.concatenate([x_o[test_o_mask], x_t[test_t_mask]])
        y = np.concatenate([np.zeros(test_o_mask.sum()), np.ones(test_t_mask.sum())])
        wo, wt = w_o[test_o_mask], w_t[test_t_mask]
        return x, y, np.concatenate([wo / wo.sum(), wt / wt.sum()])

    x_train, y_train, w_train = split(~test_o, ~test_t)
    x_test, y_test, w_test = split(test_o, test_t)
    classifier = lightgbm.LGBMClassifier(
        n_estimators=n_estimators, learning_rate=0.05, num_leaves=15, min_child_samples=50,
        subsample=0.8, subsample_freq=1, random_state=seed, n_jobs=n_jobs, verbose=-1,
    )
    classifier.fit(x_train, y_train, sample_weight=w_train * len(w_train))
    score = classifier.predict_proba(x_test)[:, 1]
    return float(roc_auc_score(y_test, score, sample_weight=w_test))
