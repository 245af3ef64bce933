"""The quality report of one reweighting: before/after KS per variable, hold-out AUC, effective size."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from l1ml.reweighting.base import ArrayLike, as_matrix, as_weights
from l1ml.reweighting.metrics import effective_sample_size, holdout_auc, ks_distances

#: Hold-out AUC above which the report calls the reweighted original still distinguishable.
AUC_GOOD = 0.55


@dataclass(frozen=True)
class QualityReport:
    """Numbers that show whether the reweighted original matches the target."""

    columns: list[str]
    n_original: int
    n_target: int
    ks_before: list[float]
    ks_after: list[float]
    auc_before: float
    auc_after: float
    ess_before: float
    ess_after: float
    weight_quantiles: dict[str, float]

    @property
    def passed(self) -> bool:
        """Whether a classifier can barely tell the samples apart after reweighting."""
        return self.auc_after <= AUC_GOOD

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "passed": self.passed}, indent=2, sort_keys=True) + "\n"

    def to_markdown(self, plots: list[str] | None = None) -> str:
        """A human-readable summary, with links to the plots written beside it."""
        verdict = ("indistinguishable (AUC <= {:.2f})" if self.passed else "still distinguishable (AUC > {:.2f})")
        lines = [
            "# Reweighting quality report",
            "",
            f"Original: {self.n_original} events; target: {self.n_target} events.",
            "",
            "| measure | before | after |",
            "|---|---|---|",
            f"| hold-out classifier ROC AUC (0.5 = indistinguishable) | {self.auc_before:.4f} | "
            f"{self.auc_after:.4f} |",
            f"| effective sample size of the original (Kish) | {self.ess_before:.1f} | {self.ess_after:.1f} |",
        ]
        lines += [f"| KS distance `{c}` | {b:.4f} | {a:.4f} |"
                  for c, b, a in zip(self.columns, self.ks_before, self.ks_after, strict=True)]
        q = self.weight_quantiles
        lines += [
            "",
            f"Verdict: after reweighting the samples are {verdict.format(AUC_GOOD)}.",
            "",
            "Weights after reweighting (normalised to mean 1): "
            + ", ".join(f"{k} {v:.3g}" for k, v in q.items()) + ".",
            "",
            "The AUC is measured by a LightGBM classifier trained on half of the events and scored on the "
            "other half. It is honest only if the weights were not fitted on these target events, or were "
            "predicted out-of-fold (`--folds`).",
        ]
        if plots:
            lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
        return "\n".join(lines) + "\n"


def quality_report(original: ArrayLike, target: ArrayLike, columns: list[str],
                   weight_before: ArrayLike | None, weight_after: ArrayLike,
                   target_weight: ArrayLike | None = None, seed: int = 0) -> QualityReport:
    """Compare the original, before and after reweighting, with the target."""
    x_o = as_matrix(original, "original sample")
    x_t = as_matrix(target, "target sample", x_o.shape[1])
    w_before = as_weights(weight_before, len(x_o), "original weights before reweighting")
    w_after = as_weights(weight_after, len(x_o), "original weights after reweighting")
    w_t = as_weights(target_weight, len(x_t), "target weights")
    normalised = w_after / w_after.mean()
    levels = {"min": 0.0, "1%": 0.01, "median": 0.5, "99%": 0.99, "max": 1.0}
    return QualityReport(
        columns=list(columns),
        n_original=len(x_o),
        n_target=len(x_t),
        ks_before=ks_distances(x_o, x_t, w_before, w_t).tolist(),
        ks_after=ks_distances(x_o, x_t, w_after, w_t).tolist(),
        auc_before=holdout_auc(x_o, x_t, w_before, w_t, seed=seed),
        auc_after=holdout_auc(x_o, x_t, w_after, w_t, seed=seed),
        ess_before=effective_sample_size(w_before),
        ess_after=effective_sample_size(w_after),
        weight_quantiles={k: float(np.quantile(normalised, v)) for k, v in levels.items()},
    )


def write_report(report: QualityReport, directory: Path, plots: list[str]) -> None:
    """Write ``report.json`` and ``report.md`` into an existing directory."""
    (directory / "report.json").write_text(report.to_json())
    (directory / "report.md").write_text(report.to_markdown(plots))
