"""Weighted permutation importance: the drop of the weighted AUC when one feature (or group) is shuffled."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from l1ml.offline.dataset import Labeled
from l1ml.offline.metrics import class_auc


@dataclass(frozen=True)
class Importance:
    """Mean and standard deviation of the AUC drop over the repeats."""

    name: str
    mean: float
    std: float
    drops: tuple[float, ...]

    @property
    def consistent_with_zero(self) -> bool:
        """Within two standard deviations of zero (or negative): the model does not need it."""
        return self.mean <= 2.0 * self.std


def permutation_importance(
    predict: Callable[[np.ndarray], np.ndarray],
    data: Labeled,
    groups: Sequence[tuple[str, Sequence[int]]],
    repeats: int,
    seed: int = 0,
    on_group: Callable[[str], None] | None = None,
) -> tuple[float, list[Importance]]:
    """Baseline weighted AUC and, per group of columns, the AUC drop when the group is shuffled.

    Shuffling a group permutes its rows jointly, so correlations inside the group are kept while its
    link to the label is broken. Weights and labels stay attached to their events.
    """
    baseline = class_auc(predict(data.x), data.y, data.w_eval)
    rng = np.random.default_rng(seed)
    results = []
    for name, columns in groups:
        cols = list(columns)
        drops = []
        for _ in range(repeats):
            x = data.x.copy()
            x[:, cols] = x[rng.permutation(len(x))][:, cols]
            drops.append(baseline - class_auc(predict(x), data.y, data.w_eval))
        arr = np.asarray(drops)
        results.append(
            Importance(
                name,
                float(arr.mean()),
                float(arr.std(ddof=1)) if repeats > 1 else 0.0,
                tuple(float(d) for d in arr),
            )
        )
        if on_group is not None:
            on_group(name)
    return baseline, results


def single_groups(features: Sequence[str]) -> list[tuple[str, list[int]]]:
    """One group per feature."""
    return [(name, [j]) for j, name in enumerate(features)]


def ranked(importances: Sequence[Importance]) -> list[Importance]:
    """Most important first; ties broken by name so reports are deterministic."""
    return sorted(importances, key=lambda imp: (-imp.mean, imp.name))
