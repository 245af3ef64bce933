"""Evaluate one trained classifier on the three splits: metrics, shape stability, plots, report section."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from l1ml.offline import plots
from l1ml.offline.dataset import Labeled
from l1ml.offline.metrics import KSResult, Scores, score_split, weighted_ks
from l1ml.offline.report import Markdown

KS_ALARM = 0.05  # a train/test KS p-value below this is flagged as a possible overtraining sign


@dataclass(frozen=True)
class Evaluation:
    """Scores per split and the train-vs-test KS test per (output node, true class)."""

    name: str
    scores: dict[str, Scores]
    ks: dict[tuple[int, int], KSResult]
    outputs: dict[str, plots.Outputs]

    def as_dict(self, class_names: Sequence[str]) -> dict[str, Any]:
        return {
            "scores": {split: s.as_dict() for split, s in self.scores.items()},
            "ks_train_vs_test": [
                {
                    "output": class_names[node],
                    "class": class_names[c],
                    "statistic": r.statistic,
                    "pvalue": r.pvalue,
                }
                for (node, c), r in sorted(self.ks.items())
            ],
        }


def evaluate(
    name: str, predict: Callable[[np.ndarray], np.ndarray], splits: dict[str, Labeled]
) -> Evaluation:
    """Score every split and compare train and test output shapes with the weighted KS test."""
    outputs = {}
    scores = {}
    for split, data in splits.items():
        prob = predict(data.x)
        outputs[split] = plots.Outputs(prob, data.y, data.w_eval)
        scores[split] = score_split(prob, data.y, data.w_eval)
    train, test = outputs["train"], outputs["test"]
    k = train.prob.shape[1]
    nodes = [1] if k == 2 else list(range(k))
    ks = {}
    for node in nodes:
        for c in range(k):
            a, b = train.y == c, test.y == c
            ks[(node, c)] = weighted_ks(train.prob[a, node], train.w[a], test.prob[b, node], test.w[b])
    return Evaluation(name, scores, ks, outputs)


def write_section(
    doc: Markdown, out: Path, slug: str, evaluation: Evaluation, class_names: Sequence[str]
) -> None:
    """Add the metrics table, the output-distribution plot and the KS table to the report."""
    doc.heading(evaluation.name)
    rows = [[split, s.auc, s.auc_unweighted, s.loss, s.accuracy] for split, s in evaluation.scores.items()]
    doc.table(["split", "weighted AUC", "unweighted AUC", "weighted loss", "weighted accuracy"], rows)
    image = f"{slug}_outputs.png"
    plots.output_distributions(
        out / image,
        class_names,
        evaluation.outputs["train"],
        evaluation.outputs["test"],
        evaluation.ks,
        evaluation.name,
    )
    doc.image(image, f"{evaluation.name}: output per class, train (filled) vs test (points)")
    ks_rows = []
    for (node, c), r in sorted(evaluation.ks.items()):
        flag = "check" if r.pvalue < KS_ALARM else "ok"
        ks_rows.append([f"P({class_names[node]})", class_names[c], r.statistic, r.pvalue, flag])
    doc.text(
        "Shape stability: weighted two-sample KS test of the output, train vs test, per true class. "
        f"p < {KS_ALARM} suggests the output shape differs (overtraining or a split problem)."
    )
    doc.table(["output", "true class", "KS D", "p-value", "verdict"], ks_rows, digits=3)


def describe_data(
    doc: Markdown,
    source: str,
    features: Sequence[str],
    log_columns: Sequence[str],
    class_names: Sequence[str],
    splits: dict[str, Labeled],
    negative_fraction: float,
    negative_treatment: str,
) -> dict[str, Any]:
    """Report the input: events and raw weight sums per class and split, the preparation choices."""
    doc.heading("Data")
    doc.bullets(
        [
            f"table: `{source}`",
            f"{len(features)} features: {', '.join(f'`{f}`' for f in features)}",
            f"log-transformed before standardisation: {', '.join(f'`{c}`' for c in log_columns) or 'none'}",
            f"negative weights: {negative_fraction:.1%} of events; loss treatment `{negative_treatment}` "
            "(metrics and plots use the signed weights)",
            "class weights normalised per class: each class has the same total weight in loss and metrics",
        ]
    )
    rows = []
    counts: dict[str, dict[str, int]] = {}
    for split, data in splits.items():
        counts[split] = {}
        for c, name in enumerate(class_names):
            n = int(np.count_nonzero(data.y == c))
            counts[split][name] = n
            rows.append([split, name, n])
    doc.table(["split", "class", "events"], rows)
    return counts
