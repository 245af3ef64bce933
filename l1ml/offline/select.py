"""`l1ml offline select`: permutation importance, correlation clustering and a scan of cluster cuts.

Steps: train on all features; weighted permutation importance on the validation split; cluster the
features by |correlation| on the training split; keep the most important member of each cluster;
retrain on the reduced set and rank again; retrain at every cut of `selection.scan` and report the
test AUC and accuracy against the number of features kept.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.progress import Progress

from l1ml.atomic import atomic_dir, check_output_dir
from l1ml.offline import plots
from l1ml.offline.clustering import Clustering, cluster_features, representatives
from l1ml.offline.config import Config
from l1ml.offline.dataset import Labeled, prepare
from l1ml.offline.evaluate import describe_data
from l1ml.offline.fit import FitResult, fit_mlp
from l1ml.offline.importance import Importance, permutation_importance, ranked, single_groups
from l1ml.offline.metrics import Scores, score_split
from l1ml.offline.progress import Bar, epoch_bar
from l1ml.offline.report import Markdown, config_inputs, write_json


@dataclass(frozen=True)
class CutResult:
    """One point of the scan: the cut, the features kept and the retrained network's scores."""

    threshold: float
    features: tuple[str, ...]
    validation: Scores
    test: Scores


class _Fits:
    """Trains one network per distinct feature subset and remembers it (scan cuts often coincide)."""

    def __init__(
        self,
        config: Config,
        features: list[str],
        splits: tuple[Labeled, Labeled, Labeled],
        progress: Progress | None,
    ):
        self.config, self.features, self.splits, self.progress = config, features, splits, progress
        self.cache: dict[tuple[str, ...], FitResult] = {}

    def get(self, subset: tuple[str, ...], label: str) -> FitResult:
        if subset not in self.cache:
            idx = [self.features.index(f) for f in subset]
            bar, on_epoch = epoch_bar(self.progress, label, self.config.train.epochs)
            train, val, _ = self.splits
            self.cache[subset] = fit_mlp(
                train.columns(idx), val.columns(idx), self.config.model, self.config.train, on_epoch=on_epoch
            )
            bar.done()
        return self.cache[subset]

    def scores(self, subset: tuple[str, ...], which: int) -> Scores:
        """Scores of the network trained on `subset`, on split 0 (train), 1 (validation) or 2 (test)."""
        idx = [self.features.index(f) for f in subset]
        data = self.splits[which].columns(idx)
        return score_split(self.cache[subset].predict(data.x), data.y, data.w_eval)


def _importance_rows(items: list[Importance]) -> list[list[Any]]:
    return [[i.name, i.mean, i.std, "yes" if i.consistent_with_zero else ""] for i in ranked(items)]


def _ordered(subset: list[str], features: list[str]) -> tuple[str, ...]:
    return tuple(sorted(subset, key=features.index))


def run_select(config: Config, out: Path, progress: Progress | None = None, force: bool = False) -> dict[str, Any]:
    """Run the whole selection study and write report, plots and the selected feature list into `out`."""
    check_output_dir(out, config_inputs(config), force)  # before reading and training
    prepared = prepare(config)
    sel = config.selection
    features = prepared.features
    train, val, test = prepared.labeled()
    fits = _Fits(config, features, (train, val, test), progress)
    with atomic_dir(out, "offline select", config_inputs(config), force) as stage:
        doc = Markdown("l1ml offline select")
        describe_data(
            doc,
            str(config.data.path),
            features,
            prepared.prep.log_columns,
            prepared.class_names,
            {"train": train, "validation": val, "test": test},
            prepared.negative_fraction(),
            prepared.mode.value,
        )
        everything = tuple(features)
        full = fits.get(everything, "network, all features")

        bar = Bar(progress, "importance, all features", len(features))
        base_auc, full_imp = permutation_importance(
            full.predict,
            val,
            single_groups(features),
            sel.repeats,
            sel.seed,
            on_group=lambda _: bar.advance(),
        )
        importance = {i.name: i.mean for i in full_imp}
        clustering = cluster_features(train.x, features, sel.correlation, sel.linkage)
        clusters = clustering.clusters(sel.threshold)
        cluster_groups = [("+".join(c), [features.index(f) for f in c]) for c in clusters]
        bar = Bar(progress, "importance, clusters", len(clusters))
        _, cluster_imp = permutation_importance(
            full.predict, val, cluster_groups, sel.repeats, sel.seed, on_group=lambda _: bar.advance()
        )
        chosen = _ordered(representatives(clusters, importance), features)
        reduced = fits.get(chosen, f"network, {len(chosen)} representatives")
        idx = [features.index(f) for f in chosen]
        bar = Bar(progress, "importance, representatives", len(chosen))
        reduced_auc, reduced_imp = permutation_importance(
            reduced.predict,
            val.columns(idx),
            single_groups(chosen),
            sel.repeats,
            sel.seed,
            on_group=lambda _: bar.advance(),
        )
        scan = []
        for t in sorted(set(sel.scan) | {sel.threshold}):
            subset = _ordered(representatives(clustering.clusters(t), importance), features)
            fits.get(subset, f"scan, cut {t:g} ({len(subset)} features)")
            scan.append(CutResult(t, subset, fits.scores(subset, 1), fits.scores(subset, 2)))

        _write_plots(stage, clustering, sel.threshold, full_imp, cluster_imp, reduced_imp, scan)
        _write_report(
            doc,
            sel.threshold,
            base_auc,
            reduced_auc,
            full_imp,
            clusters,
            chosen,
            cluster_imp,
            reduced_imp,
            scan,
            sel.correlation.value,
            sel.linkage.value,
        )
        metrics = {
            "validation_auc_all": base_auc,
            "validation_auc_selected": reduced_auc,
            "importance_all": [_imp_dict(i) for i in ranked(full_imp)],
            "importance_clusters": [_imp_dict(i) for i in ranked(cluster_imp)],
            "importance_selected": [_imp_dict(i) for i in ranked(reduced_imp)],
            "clusters": clusters,
            "selected": list(chosen),
            "threshold": sel.threshold,
            "scan": [
                {
                    "threshold": r.threshold,
                    "n_features": len(r.features),
                    "features": list(r.features),
                    "validation": r.validation.as_dict(),
                    "test": r.test.as_dict(),
                }
                for r in scan
            ],
        }
        write_json(stage / "metrics.json", metrics)
        (stage / "selected_features.yaml").write_text(
            yaml.safe_dump({"threshold": sel.threshold, "features": list(chosen)}, sort_keys=False)
        )
        shutil.copyfile(config.source, stage / "config.yaml")
        doc.write(stage / "report.md")
    return metrics


def _imp_dict(i: Importance) -> dict[str, Any]:
    return {"name": i.name, "mean": i.mean, "std": i.std}


def _write_plots(
    stage: Path,
    clustering: Clustering,
    threshold: float,
    full_imp: list[Importance],
    cluster_imp: list[Importance],
    reduced_imp: list[Importance],
    scan: list[CutResult],
) -> None:
    plots.importances(stage / "importance_all.png", ranked(full_imp), "Permutation importance, all features")
    plots.importances(
        stage / "importance_clusters.png",
        ranked(cluster_imp),
        "Permutation importance, clusters permuted jointly",
    )
    plots.importances(
        stage / "importance_selected.png",
        ranked(reduced_imp),
        "Permutation importance, one feature per cluster",
    )
    plots.dendrogram(stage / "dendrogram.png", clustering, threshold, "Feature clustering")
    plots.correlation(stage / "correlation.png", clustering, "Feature correlation (dendrogram order)")
    plots.cut_scan(
        stage / "scan.png",
        [r.threshold for r in scan],
        [len(r.features) for r in scan],
        [r.test.auc for r in scan],
        [r.test.accuracy for r in scan],
    )


def _write_report(
    doc: Markdown,
    threshold: float,
    base_auc: float,
    reduced_auc: float,
    full_imp: list[Importance],
    clusters: list[list[str]],
    chosen: tuple[str, ...],
    cluster_imp: list[Importance],
    reduced_imp: list[Importance],
    scan: list[CutResult],
    correlation: str,
    linkage: str,
) -> None:
    header = ["feature", "AUC drop (mean)", "std", "consistent with 0"]
    doc.heading("Permutation importance, all features")
    doc.text(
        f"Validation weighted AUC {base_auc:.4f}. Correlated features share their information, so "
        "each member of a cluster of near-copies can look unimportant on its own."
    )
    doc.table(header, _importance_rows(full_imp))
    doc.image("importance_all.png", "AUC drop per permuted feature (mean +- std over repeats)")
    doc.heading("Correlation clustering")
    doc.text(
        f"{correlation.capitalize()} correlation on the training split, distance 1 - |rho|, {linkage} "
        f"linkage, cut at {threshold:g}: {len(clusters)} clusters from "
        f"{sum(len(c) for c in clusters)} features."
    )
    doc.table(["cluster", "kept"], [[", ".join(c), next(f for f in chosen if f in c)] for c in clusters])
    doc.image("dendrogram.png", "dendrogram with the cut")
    doc.image("correlation.png", "correlation matrix in dendrogram order")
    doc.heading("Importance of whole clusters")
    doc.table(["cluster", "AUC drop (mean)", "std", "consistent with 0"], _importance_rows(cluster_imp))
    doc.image("importance_clusters.png", "AUC drop when a whole cluster is permuted")
    doc.heading("Importance on the reduced set")
    doc.text(f"Retrained on {len(chosen)} representatives: validation weighted AUC {reduced_auc:.4f}.")
    doc.table(header, _importance_rows(reduced_imp))
    doc.image("importance_selected.png", "AUC drop per feature of the reduced set")
    doc.heading("Performance at several cuts")
    doc.table(
        ["cut on 1-abs(rho)", "features", "val AUC", "test AUC", "test unweighted AUC", "test accuracy"],
        [
            [
                r.threshold,
                len(r.features),
                r.validation.auc,
                r.test.auc,
                r.test.auc_unweighted,
                r.test.accuracy,
            ]
            for r in scan
        ],
    )
    doc.image("scan.png", "test metrics against the clustering cut")
