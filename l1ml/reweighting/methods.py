"""The reweighting methods by name, and construction from user-given settings.

Kept free of heavy imports (scikit-learn, LightGBM) so the command line can list the methods quickly.
"""

from __future__ import annotations

import inspect
from enum import StrEnum
from typing import TYPE_CHECKING

from l1ml.errors import L1MLError

if TYPE_CHECKING:  # pragma: no cover
    from l1ml.reweighting.base import Reweighter


class Method(StrEnum):
    """A reweighting algorithm; the value is the name used on the command line."""

    BINS = "bins"
    GB = "gb"
    CLASSIFIER = "classifier"


def reweighter_class(method: Method) -> type[Reweighter]:
    """The class implementing a method."""
    if method is Method.BINS:
        from l1ml.reweighting.binned import BinsReweighter

        return BinsReweighter
    if method is Method.GB:
        from l1ml.reweighting.gradient_boosted import GBReweighter

        return GBReweighter
    from l1ml.reweighting.classifier import ClassifierReweighter

    return ClassifierReweighter


def settings(method: Method) -> dict[str, int | float]:
    """Constructor settings of a method and their defaults."""
    signature = inspect.signature(reweighter_class(method))
    return {name: p.default for name, p in signature.parameters.items()}


def parse_settings(method: Method, pairs: list[str]) -> dict[str, int | float]:
    """Turn ``["n_estimators=200", "learning_rate=0.1"]`` into typed constructor arguments."""
    known = settings(method)
    parsed: dict[str, int | float] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in known:
            raise L1MLError(
                f"bad setting '{pair}' for method '{method.value}'; expected NAME=VALUE with NAME one of "
                + ", ".join(f"{k} (default {v})" for k, v in known.items())
            )
        try:
            parsed[name] = float(text) if isinstance(known[name], float) else int(text)
        except ValueError:
            kind = type(known[name]).__name__
            raise L1MLError(f"setting '{name}' of method '{method.value}' needs a {kind}, got '{text}'") from None
    return parsed


def make_reweighter(method: Method, options: dict[str, int | float] | None = None,
                    folds: int = 0) -> Reweighter:
    """A reweighter of the given method; ``folds >= 2`` wraps it in k-fold folding."""
    if folds == 1 or folds < 0:
        raise L1MLError(f"folds must be 0 (no folding) or at least 2, got {folds}")
    reweighter = reweighter_class(method)(**(options or {}))
    if folds >= 2:
        from l1ml.reweighting.folding import FoldingReweighter

        return FoldingReweighter(reweighter, n_folds=folds, seed=int((options or {}).get("seed", 0)))
    return reweighter
