"""Reweighting companion: make simulated events match a target sample, and prove it worked.

Reweighters share one API, ``fit(original, target, original_weight, target_weight)`` then
``predict_weights(original, original_weight)``; the quality checks compare the reweighted original with
the target. See docs/reweighting.md. Names are imported on first use, so that ``l1ml --help`` does not
pay for scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from l1ml.reweighting.base import Reweighter
    from l1ml.reweighting.binned import BinsReweighter
    from l1ml.reweighting.classifier import ClassifierReweighter
    from l1ml.reweighting.folding import FoldingReweighter, fold_of
    from l1ml.reweighting.gradient_boosted import GBReweighter
    from l1ml.reweighting.methods import Method, make_reweighter
    from l1ml.reweighting.metrics import effective_sample_size, holdout_auc, ks_distances, weighted_ks
    from l1ml.reweighting.report import QualityReport, quality_report
    from l1ml.reweighting.toys import GaussianMixture, ToyProblem, mixture_problem

_HOME = {
    "Reweighter": "base",
    "BinsReweighter": "binned",
    "ClassifierReweighter": "classifier",
    "FoldingReweighter": "folding",
    "fold_of": "folding",
    "GBReweighter": "gradient_boosted",
    "Method": "methods",
    "make_reweighter": "methods",
    "effective_sample_size": "metrics",
    "holdout_auc": "metrics",
    "ks_distances": "metrics",
    "weighted_ks": "metrics",
    "QualityReport": "report",
    "quality_report": "report",
    "GaussianMixture": "toys",
    "ToyProblem": "toys",
    "mixture_problem": "toys",
}

__all__ = [
    "BinsReweighter",
    "ClassifierReweighter",
    "FoldingReweighter",
    "GBReweighter",
    "GaussianMixture",
    "Method",
    "QualityReport",
    "Reweighter",
    "ToyProblem",
    "effective_sample_size",
    "fold_of",
    "holdout_auc",
    "ks_distances",
    "make_reweighter",
    "mixture_problem",
    "quality_report",
    "weighted_ks",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'l1ml.reweighting' has no attribute '{name}'")
    return getattr(importlib.import_module(f"l1ml.reweighting.{_HOME[name]}"), name)
