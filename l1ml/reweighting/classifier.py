"""Classifier-based density-ratio reweighter.

A probabilistic classifier trained to tell target (label 1) from original (label 0), with both classes at
equal total weight, outputs ``p(x) = q(x) / (q(x) + o(x))``; its log-odds is therefore the log density
ratio ``log q(x)/o(x)`` (Cranmer, Pavez, Louppe, arXiv:1506.02169). We use a LightGBM classifier and read
the raw log-odds directly. Ratios from a finite classifier can be extreme where one sample is sparse, so
they are clipped to ``[1/max_ratio, max_ratio]``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from l1ml.errors import L1MLError
from l1ml.reweighting.base import ProgressHook, Reweighter, balanced


class ClassifierReweighter(Reweighter):
    """Weights from the log-odds of a LightGBM classifier trained on original versus target."""

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.05, num_leaves: int = 15,
                 min_child_samples: int = 100, max_ratio: float = 50.0, seed: int = 0, n_jobs: int = 1):
        if n_estimators < 1 or num_leaves < 2 or min_child_samples < 1:
            raise L1MLError("n_estimators and min_child_samples must be at least 1, num_leaves at least 2")
        if not 0 < learning_rate <= 1:
            raise L1MLError(f"learning_rate must be in (0, 1], got {learning_rate}")
        if max_ratio <= 1:
            raise L1MLError(f"max_ratio must be above 1 (it clips ratios to [1/max_ratio, max_ratio]), "
                            f"got {max_ratio}")
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_ratio = max_ratio
        self.seed = seed
        self.n_jobs = n_jobs

    def _fit(self, x_o: np.ndarray, x_t: np.ndarray, w_o: np.ndarray, w_t: np.ndarray,
             progress: ProgressHook | None) -> None:
        import lightgbm

        w_o, w_t = balanced(w_o, w_t)
        x = np.concatenate([x_o, x_t])
        label = np.concatenate([np.zeros(len(x_o)), np.ones(len(x_t))])
        callbacks = []
        if progress is not None:
            def report(env: Any) -> None:
                progress(env.iteration + 1, env.end_iteration, "boosting")
            callbacks.append(report)
        self.classifier_ = lightgbm.LGBMClassifier(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples, random_state=self.seed, n_jobs=self.n_jobs,
            deterministic=True, force_row_wise=True, verbose=-1,
        )
        self.classifier_.fit(x, label, sample_weight=np.concatenate([w_o, w_t]), callbacks=callbacks)

    def _log_ratio(self, x: np.ndarray) -> np.ndarray:
        log_odds = self.classifier_.predict(x, raw_score=True)
        limit = math.log(self.max_ratio)
        return np.clip(log_odds, -limit, limit)
