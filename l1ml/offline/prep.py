"""Input preparation: log transform of positive heavy-tailed columns, then standardisation.

Both steps are fitted on the training split only and stored with the model so that the same
transformation is applied to any later table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import skew

from l1ml.errors import L1MLError
from l1ml.offline.config import LogMode, PrepConfig


@dataclass(frozen=True)
class Preprocessor:
    """Per-column log flags, log floors (smallest positive training value), means and widths."""

    features: tuple[str, ...]
    log: tuple[bool, ...]
    floor: tuple[float, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def log_columns(self) -> list[str]:
        return [f for f, lg in zip(self.features, self.log, strict=True) if lg]

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Apply the fitted transformation; values below a log column's floor are clipped to it."""
        out = np.array(x, dtype=np.float64, copy=True)
        for j, (is_log, floor) in enumerate(zip(self.log, self.floor, strict=True)):
            if is_log:
                out[:, j] = np.log(np.maximum(out[:, j], floor))
        out = (out - np.asarray(self.mean)) / np.asarray(self.std)
        return out.astype(np.float32)

    def subset(self, columns: list[int]) -> Preprocessor:
        """The preprocessor of a column subset (feature selection keeps per-column fits)."""

        def pick(values: tuple) -> tuple:
            return tuple(values[j] for j in columns)

        return Preprocessor(
            pick(self.features), pick(self.log), pick(self.floor), pick(self.mean), pick(self.std)
        )

    def to_dict(self) -> dict[str, list]:
        return {
            "features": list(self.features),
            "log": list(self.log),
            "floor": list(self.floor),
            "mean": list(self.mean),
            "std": list(self.std),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, list]) -> Preprocessor:
        return cls(
            tuple(raw["features"]),
            tuple(raw["log"]),
            tuple(raw["floor"]),
            tuple(raw["mean"]),
            tuple(raw["std"]),
        )


def wants_log(column: np.ndarray, threshold: float) -> bool:
    """A column is logged automatically when strictly positive, skewed and less skewed after the log."""
    if column.size < 3 or np.min(column) <= 0 or np.ptp(column) == 0:
        return False
    before = float(skew(column))
    return before > threshold and abs(float(skew(np.log(column)))) < before


def fit_preprocessor(x: np.ndarray, features: list[str], cfg: PrepConfig) -> Preprocessor:
    """Choose log columns (automatic or listed, minus prep.no_log) and fit the standardisation."""
    for key, names in (("prep.log", cfg.log_columns), ("prep.no_log", cfg.no_log)):
        unknown = [n for n in names if n not in features]
        if unknown:
            raise L1MLError(f"{key} names {unknown}, which are not features; features are {features}")
    log = []
    for j, name in enumerate(features):
        column = x[:, j]
        if name in cfg.no_log:
            chosen = False
        elif cfg.log_mode is LogMode.LIST:
            chosen = name in cfg.log_columns
            if chosen and np.min(column) <= 0:
                raise L1MLError(
                    f"prep.log lists '{name}', but it has values <= 0 (min {np.min(column):g}); "
                    "only strictly positive columns can be logged"
                )
        elif cfg.log_mode is LogMode.AUTO:
            chosen = wants_log(column, cfg.skew_threshold)
        else:
            chosen = False
        log.append(chosen)
    floor = [float(np.min(x[:, j])) if lg else 0.0 for j, lg in enumerate(log)]
    logged = np.array(x, dtype=np.float64, copy=True)
    for j, lg in enumerate(log):
        if lg:
            logged[:, j] = np.log(logged[:, j])
    mean = logged.mean(axis=0)
    std = logged.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # constant columns stay constant (zero) instead of dividing by zero
    return Preprocessor(
        tuple(features), tuple(log), tuple(floor), tuple(float(m) for m in mean), tuple(float(s) for s in std)
    )
