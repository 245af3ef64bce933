"""Shared API and input checks for all reweighters.

Every reweighter follows one scikit-learn-like contract: ``fit(original, target, original_weight,
target_weight)`` learns the density ratio target/original, and ``predict_weights(original,
original_weight)`` returns new per-event weights for the original sample. Returned weights are scaled so
that the reweighted training original has the same total weight as the target.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Self

import numpy as np
import numpy.typing as npt

from l1ml.errors import L1MLError

ArrayLike = npt.ArrayLike
#: Called as ``progress(done, total, label)`` while a reweighter fits, e.g. to drive a progress bar.
ProgressHook = Callable[[int, int, str], None]


def as_matrix(data: ArrayLike, name: str, n_features: int | None = None) -> np.ndarray:
    """Convert events to a finite 2-D float64 array, naming the sample in any error."""
    x = np.asarray(data, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise L1MLError(f"{name}: expected a table of events x variables, got an array of shape {x.shape}")
    if x.shape[0] == 0:
        raise L1MLError(f"{name}: the sample is empty; reweighting needs events on both sides")
    if n_features is not None and x.shape[1] != n_features:
        raise L1MLError(
            f"{name}: has {x.shape[1]} variables but the reweighter was fitted on {n_features}; "
            "pass the same columns, in the same order, as at fit time"
        )
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise L1MLError(
            f"{name}: {int(bad.sum())} non-finite values (first at event {row}, variable {col}); "
            "drop or fill NaN/inf values before reweighting"
        )
    return x


def as_weights(weights: ArrayLike | None, n: int, name: str) -> np.ndarray:
    """Return per-event weights (ones when ``None``), rejecting negative or non-finite values."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise L1MLError(f"{name}: has {w.shape[0]} weights for {n} events")
    if not np.isfinite(w).all():
        raise L1MLError(f"{name}: contains NaN or infinite weights; fix or drop those events")
    if (w < 0).any():
        raise L1MLError(
            f"{name}: {int((w < 0).sum())} negative weights; the reweighters need non-negative weights, "
            "so drop negative-weight events or absorb them into positive ones first"
        )
    if w.sum() <= 0:
        raise L1MLError(f"{name}: the weights sum to zero")
    return w


class Reweighter(ABC):
    """Learns target/original density ratios; subclasses implement ``_fit`` and ``_log_ratio``."""

    n_features_: int
    normalisation_: float

    def fit(
        self,
        original: ArrayLike,
        target: ArrayLike,
        original_weight: ArrayLike | None = None,
        target_weight: ArrayLike | None = None,
        *,
        progress: ProgressHook | None = None,
    ) -> Self:
        """Learn the ratio target/original from two weighted samples of the same variables."""
        x_o = as_matrix(original, "original sample")
        x_t = as_matrix(target, "target sample", x_o.shape[1])
        w_o = as_weights(original_weight, len(x_o), "original weights")
        w_t = as_weights(target_weight, len(x_t), "target weights")
        self.n_features_ = x_o.shape[1]
        self._fit(x_o, x_t, w_o, w_t, progress)
        self.normalisation_ = 1.0
        self.normalisation_ = float(w_t.sum() / self._raw_weights(x_o, w_o).sum())
        return self

    def predict_weights(self, original: ArrayLike, original_weight: ArrayLike | None = None) -> np.ndarray:
        """New weights for original-like events: old weight x learned ratio x fit-time normalisation."""
        if not hasattr(self, "n_features_"):
            raise L1MLError(f"{type(self).__name__} is not fitted; call fit() before predict_weights()")
        x = as_matrix(original, "events to reweight", self.n_features_)
        w = as_weights(original_weight, len(x), "weights of the events to reweight")
        return self._raw_weights(x, w) * self.normalisation_

    def clone(self) -> Self:
        """An unfitted copy with the same settings (used by the folding wrapper)."""
        fresh = copy.deepcopy(self)
        for name in [k for k in vars(fresh) if k.endswith("_")]:
            delattr(fresh, name)
        return fresh

    def _raw_weights(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        return w * np.exp(self._log_ratio(x))

    @abstractmethod
    def _fit(self, x_o: np.ndarray, x_t: np.ndarray, w_o: np.ndarray, w_t: np.ndarray,
             progress: ProgressHook | None) -> None:
        """Learn from checked inputs."""

    @abstractmethod
    def _log_ratio(self, x: np.ndarray) -> np.ndarray:
        """Log of the learned (unnormalised) density ratio target/original at each event."""


def balanced(w_o: np.ndarray, w_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale both weight vectors so each sums to the mean sample size (weights of order one)."""
    scale = 0.5 * (len(w_o) + len(w_t))
    return w_o * (scale / w_o.sum()), w_t * (scale / w_t.sum())
