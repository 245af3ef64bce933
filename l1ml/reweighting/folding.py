"""k-fold wrapper: every event is reweighted by a model that never saw it.

A reweighter evaluated on its own training events has partly memorised them: it lowers the weight of
each original event it was fitted on and follows the statistical fluctuations of the training target,
so checks on the same events look better than the truth. The wrapper splits both samples into k folds,
fits one copy of the base reweighter per fold on the other k-1 folds, and weights each event with the
copy that left its fold out.

The fold of an event is a hash of its variable values (and the seed), not of its row number, so
``predict_weights`` on the training file in any order, or on a subset of it, still uses out-of-fold
models; events never seen in training are weighted by one model, chosen the same way.
"""

from __future__ import annotations

import numpy as np

from l1ml.errors import L1MLError
from l1ml.reweighting.base import ProgressHook, Reweighter


def _mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads every input bit over the 64-bit output."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def fold_of(x: np.ndarray, n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold index in ``[0, n_folds)`` of every event, a deterministic function of its values."""
    # +0.0 maps -0.0 to 0.0 so equal values always share a fold.
    bits = np.ascontiguousarray(np.asarray(x, dtype=np.float64) + 0.0).view(np.uint64)
    h = np.full(len(bits), np.uint64(seed) ^ np.uint64(0x9E3779B97F4A7C15), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(bits.shape[1]):
            h = _mix64(h ^ bits[:, j])
    return (h % np.uint64(n_folds)).astype(np.int64)


class FoldingReweighter(Reweighter):
    """Fits ``n_folds`` copies of a base reweighter, each on all folds but one."""

    def __init__(self, base: Reweighter, n_folds: int = 2, seed: int = 0):
        if n_folds < 2:
            raise L1MLError(f"folding needs at least 2 folds, got {n_folds}")
        self.base = base
        self.n_folds = n_folds
        self.seed = seed

    def _fit(self, x_o: np.ndarray, x_t: np.ndarray, w_o: np.ndarray, w_t: np.ndarray,
             progress: ProgressHook | None) -> None:
        fold_o = fold_of(x_o, self.n_folds, self.seed)
        fold_t = fold_of(x_t, self.n_folds, self.seed)
        self.models_: list[Reweighter] = []
        for k in range(self.n_folds):
            keep_o, keep_t = fold_o != k, fold_t != k
            if not keep_o.any() or not keep_t.any():
                raise L1MLError(f"fold {k} would train on an empty sample; use fewer folds or more events")
            hook = None
            if progress is not None:
                def hook(done: int, total: int, label: str, k: int = k) -> None:
                    progress(done, total, f"fold {k + 1}/{self.n_folds}: {label}")
            model = self.base.clone()
            model.fit(x_o[keep_o], x_t[keep_t], w_o[keep_o], w_t[keep_t], progress=hook)
            self.models_.append(model)

    def _log_ratio(self, x: np.ndarray) -> np.ndarray:
        fold = fold_of(x, self.n_folds, self.seed)
        out = np.zeros(len(x))
        for k, model in enumerate(self.models_):
            rows = fold == k
            if rows.any():
                out[rows] = model._log_ratio(x[rows]) + np.log(model.normalisation_)
        return out
