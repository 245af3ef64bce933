"""A table prepared for training: splits, transformed inputs, and the two kinds of event weights.

Fit weights enter the loss: the chosen negative-weight treatment, then normalised so every class
carries the same total (N/k each, mean weight 1). Evaluation weights are the signed physics weights,
normalised per class the same way; metrics and plots use them because they describe the physics sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ml.errors import L1MLError
from l1ml.offline.config import Config, NegativeWeights
from l1ml.offline.data import Target, Task, make_target, read_table, stratified_split
from l1ml.offline.prep import Preprocessor, fit_preprocessor


@dataclass(frozen=True)
class Events:
    """One split of prepared events before class labels are attached."""

    x: np.ndarray  # float32, transformed
    process: np.ndarray
    weight: np.ndarray  # signed physics weight


@dataclass(frozen=True)
class Labeled:
    """Events with class labels and weights, ready for a classifier."""

    x: np.ndarray
    y: np.ndarray
    w_fit: np.ndarray
    w_eval: np.ndarray
    n_classes: int
    process: np.ndarray

    def columns(self, idx: list[int]) -> Labeled:
        return Labeled(self.x[:, idx], self.y, self.w_fit, self.w_eval, self.n_classes, self.process)

    def with_x(self, x: np.ndarray) -> Labeled:
        return Labeled(
            np.ascontiguousarray(x, dtype=np.float32),
            self.y,
            self.w_fit,
            self.w_eval,
            self.n_classes,
            self.process,
        )


def normalise_per_class(w: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Scale weights so that each class sums to N/k: classes count equally, the mean weight is 1."""
    out = np.array(w, dtype=np.float64, copy=True)
    target = len(y) / n_classes
    for c in range(n_classes):
        mask = y == c
        total = out[mask].sum()
        if not mask.any() or total <= 0:
            raise L1MLError(
                f"class {c} has total weight {total:g} over {int(mask.sum())} events; every class "
                "needs a positive sum of weights (check the weight column and the negative-weight "
                "treatment data.negative_weights)"
            )
        out[mask] *= target / total
    return out


def fit_weights(w: np.ndarray, y: np.ndarray, n_classes: int, mode: NegativeWeights) -> np.ndarray:
    """Loss weights: negative weights treated as configured, then class-normalised."""
    if mode is NegativeWeights.ABS:
        treated = np.abs(w)
    elif mode is NegativeWeights.DROP:
        treated = np.where(w < 0, 0.0, w)
    else:
        treated = w
    return normalise_per_class(treated, y, n_classes).astype(np.float32)


def label_events(
    events: Events, class_of_process: np.ndarray, n_classes: int, mode: NegativeWeights
) -> Labeled:
    """Attach class labels (processes mapped to -1 are left out) and both kinds of weights."""
    y_all = class_of_process[events.process]
    keep = y_all >= 0
    y = y_all[keep]
    w = events.weight[keep]
    return Labeled(
        events.x[keep],
        y,
        fit_weights(w, y, n_classes, mode),
        normalise_per_class(w, y, n_classes),
        n_classes,
        events.process[keep],
    )


@dataclass(frozen=True)
class Prepared:
    """Everything a command needs: the three splits, the class target and the fitted preprocessor."""

    train: Events
    validation: Events
    test: Events
    features: list[str]
    process_names: list[str]
    target: Target
    prep: Preprocessor
    mode: NegativeWeights

    @property
    def class_names(self) -> list[str]:
        return self.target.class_names

    @property
    def task(self) -> Task:
        return self.target.task

    def labeled(
        self, class_of_process: np.ndarray | None = None, n_classes: int | None = None
    ) -> tuple[Labeled, Labeled, Labeled]:
        """Label the three splits with the config's target or with a custom process->class mapping."""
        mapping = self.target.class_of_process if class_of_process is None else class_of_process
        k = len(self.class_names) if n_classes is None else n_classes
        return tuple(
            label_events(e, mapping, k, self.mode)  # type: ignore[return-value]
            for e in (self.train, self.validation, self.test)
        )

    def negative_fraction(self) -> float:
        w = np.concatenate([self.train.weight, self.validation.weight, self.test.weight])
        return float(np.mean(w < 0))


def prepare(config: Config) -> Prepared:
    """Read, split (stratified by process), fit the preprocessing on train and transform every split."""
    table = read_table(config.data)
    target = make_target(table, config.data)
    split = stratified_split(table.process, config.data.split)
    prep = fit_preprocessor(table.x[split.train], table.features, config.prep)

    def events(rows: np.ndarray) -> Events:
        return Events(prep.transform(table.x[rows]), table.process[rows], table.weight[rows])

    return Prepared(
        events(split.train),
        events(split.validation),
        events(split.test),
        table.features,
        table.process_names,
        target,
        prep,
        config.data.negative_weights,
    )
