"""Gradient-boosted reweighter (Rogozhnikov, arXiv:1608.05806).

Each boosting step grows a shallow tree that splits where the current reweighted original and the
target disagree most, by the symmetrised chi-square ``sum_leaves (W_t - W_o)^2 / (W_t + W_o)``, then
multiplies the original weights in each leaf by ``exp(learning_rate * log(W_t / W_o))``.

We grow the trees with scikit-learn's squared-error regression tree on labels +1 (target) and -1
(original) weighted by the current weights: in a leaf the weighted mean label is
``m = (W_t - W_o) / (W_t + W_o)`` and its squared error is ``(W_t + W_o) - (W_t - W_o)^2 / (W_t + W_o)``,
so minimising the total squared error is exactly maximising the symmetrised chi-square.
"""

from __future__ import annotations

import numpy as np
from sklearn.tree import DecisionTreeRegressor

from l1ml.errors import L1MLError
from l1ml.reweighting.base import ProgressHook, Reweighter, balanced


class GBReweighter(Reweighter):
    """Boosted shallow trees that move original weights towards the target, leaf by leaf."""

    def __init__(self, n_estimators: int = 100, learning_rate: float = 0.2, max_depth: int = 3,
                 min_samples_leaf: int = 100, regularization: float = 5.0, seed: int = 0):
        if n_estimators < 1:
            raise L1MLError(f"n_estimators must be at least 1, got {n_estimators}")
        if not 0 < learning_rate <= 1:
            raise L1MLError(f"learning_rate must be in (0, 1], got {learning_rate}")
        if max_depth < 1 or min_samples_leaf < 1:
            raise L1MLError("max_depth and min_samples_leaf must be at least 1")
        if regularization < 0:
            raise L1MLError(f"regularization must be non-negative, got {regularization}")
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        #: Pseudo-weight (in events) added to both sides of every leaf ratio, taming near-empty leaves.
        self.regularization = regularization
        self.seed = seed

    def _fit(self, x_o: np.ndarray, x_t: np.ndarray, w_o: np.ndarray, w_t: np.ndarray,
             progress: ProgressHook | None) -> None:
        w_o, w_t = balanced(w_o, w_t)
        x = np.concatenate([x_o, x_t])
        label = np.concatenate([-np.ones(len(x_o)), np.ones(len(x_t))])
        n_o = len(x_o)
        log_w = np.zeros(n_o)
        self.trees_: list[DecisionTreeRegressor] = []
        self.leaf_values_: list[np.ndarray] = []
        for step in range(self.n_estimators):
            current = w_o * np.exp(log_w - log_w.max())
            current *= w_t.sum() / current.sum()
            tree = DecisionTreeRegressor(max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
                                         random_state=self.seed + step)
            tree.fit(x, label, sample_weight=np.concatenate([current, w_t]))
            leaf = tree.apply(x)
            n_nodes = tree.tree_.node_count
            w_leaf_o = np.bincount(leaf[:n_o], weights=current, minlength=n_nodes)
            w_leaf_t = np.bincount(leaf[n_o:], weights=w_t, minlength=n_nodes)
            values = self.learning_rate * np.log((w_leaf_t + self.regularization)
                                                 / (w_leaf_o + self.regularization))
            log_w += values[leaf[:n_o]]
            self.trees_.append(tree)
            self.leaf_values_.append(values)
            if progress is not None:
                progress(step + 1, self.n_estimators, "boosting")

    def _log_ratio(self, x: np.ndarray) -> np.ndarray:
        log_w = np.zeros(len(x))
        for tree, values in zip(self.trees_, self.leaf_values_, strict=True):
            log_w += values[tree.apply(x)]
        return log_w
