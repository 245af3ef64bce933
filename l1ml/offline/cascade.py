"""`l1ml offline cascade`: one sub-network per background, a super-network on their outputs.

Each sub-network separates the signal from one background process. The super-network sees the
sub-networks' logits (standardised; optionally the inputs too) and separates the signal from all
backgrounds together. A single network with the sub-networks' architecture, trained on the same
events, is the reference.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress

from l1ml.atomic import atomic_dir, check_output_dir
from l1ml.errors import L1MLError
from l1ml.offline import plots
from l1ml.offline.config import Config
from l1ml.offline.dataset import Labeled, Prepared, prepare
from l1ml.offline.evaluate import Evaluation, describe_data, evaluate, write_section
from l1ml.offline.fit import FitResult, fit_mlp
from l1ml.offline.metrics import background_efficiency_at, weighted_auc
from l1ml.offline.model import count_parameters, save_model
from l1ml.offline.progress import epoch_bar
from l1ml.offline.report import Markdown, config_inputs, write_json

SIGNAL_EFFICIENCY = 0.5  # working point at which background efficiencies are compared


@dataclass
class Cascade:
    """Trained sub-networks (one per background), the super-network and the scaling between them."""

    backgrounds: list[str]
    subs: list[FitResult]
    top: FitResult
    mean: np.ndarray
    std: np.ndarray
    use_inputs: bool

    def features(self, x: np.ndarray) -> np.ndarray:
        """Super-network inputs: standardised sub-network logits (plus x when use_inputs)."""
        return _super_inputs(self.subs, self.mean, self.std, self.use_inputs, x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.top.predict(self.features(x))

    @property
    def parameters(self) -> int:
        return sum(count_parameters(s.model) for s in self.subs) + count_parameters(self.top.model)


def _sub_logits(subs: list[FitResult], x: np.ndarray) -> np.ndarray:
    p = np.column_stack([np.clip(sub.predict(x)[:, 1], 1e-7, 1 - 1e-7) for sub in subs])
    return np.log(p / (1 - p))


def _super_inputs(
    subs: list[FitResult], mean: np.ndarray, std: np.ndarray, use_inputs: bool, x: np.ndarray
) -> np.ndarray:
    z = (_sub_logits(subs, x) - mean) / std
    return np.ascontiguousarray(np.hstack([z, x]) if use_inputs else z, dtype=np.float32)


def _backgrounds(prepared: Prepared) -> tuple[int, list[int]]:
    target = prepared.target
    mapping = target.class_of_process
    backgrounds = [int(p) for p in np.flatnonzero(mapping == 0)]
    if target.signal_process is None or len(prepared.class_names) != 2 or len(backgrounds) < 2:
        raise L1MLError(
            "cascade needs data.signal and at least two background label values "
            "(data.backgrounds, or all other values); label values present: "
            f"{', '.join(prepared.process_names)}"
        )
    return target.signal_process, backgrounds


def train_cascade(prepared: Prepared, config: Config, progress: Progress | None = None) -> Cascade:
    """Fit the sub-networks on signal + one background each, then the super-network on all events."""
    signal, backgrounds = _backgrounds(prepared)
    subs = []
    for b in backgrounds:
        mapping = np.full(len(prepared.process_names), -1, dtype=np.int64)
        mapping[signal], mapping[b] = 1, 0
        train, val, _ = prepared.labeled(mapping, 2)
        bar, on_epoch = epoch_bar(
            progress, f"sub-network vs {prepared.process_names[b]}", config.train.epochs
        )
        subs.append(fit_mlp(train, val, config.model, config.train, on_epoch=on_epoch))
        bar.done()
    train, val, _ = prepared.labeled()
    z = _sub_logits(subs, train.x)
    mean, std = z.mean(axis=0), np.where(z.std(axis=0) > 0, z.std(axis=0), 1.0)
    use_inputs = config.cascade.use_inputs
    bar, on_epoch = epoch_bar(progress, "super-network", config.train.epochs)
    top = fit_mlp(
        train.with_x(_super_inputs(subs, mean, std, use_inputs, train.x)),
        val.with_x(_super_inputs(subs, mean, std, use_inputs, val.x)),
        config.cascade.super_model,
        config.train,
        on_epoch=on_epoch,
    )
    bar.done()
    return Cascade([prepared.process_names[b] for b in backgrounds], subs, top, mean, std, use_inputs)


def per_background(
    predict: Callable[[np.ndarray], np.ndarray], test: Labeled, prepared: Prepared, backgrounds: list[int]
) -> dict[str, dict[str, float]]:
    """Test AUC and background efficiency at the working point: vs all backgrounds and vs each one."""
    score = predict(test.x)[:, 1]
    out = {}
    for name, procs in [("all", backgrounds)] + [(prepared.process_names[b], [b]) for b in backgrounds]:
        mask = (test.y == 1) | np.isin(test.process, procs)
        s, pos, w = score[mask], test.y[mask] == 1, test.w_eval[mask]
        out[name] = {
            "auc": weighted_auc(s, pos, w),
            "bkg_eff": background_efficiency_at(s, pos, w, SIGNAL_EFFICIENCY),
        }
    return out


def run_cascade(config: Config, out: Path, progress: Progress | None = None, force: bool = False) -> dict[str, Any]:
    """Train the cascade (and the single-network reference), compare them, write the report into `out`."""
    check_output_dir(out, config_inputs(config), force)  # before reading and training
    prepared = prepare(config)
    signal, backgrounds = _backgrounds(prepared)
    train, val, test = prepared.labeled()
    splits = {"train": train, "validation": val, "test": test}
    with atomic_dir(out, "offline cascade", config_inputs(config), force) as stage:
        doc = Markdown("l1ml offline cascade")
        describe_data(
            doc,
            str(config.data.path),
            prepared.features,
            prepared.prep.log_columns,
            prepared.class_names,
            splits,
            prepared.negative_fraction(),
            prepared.mode.value,
        )
        doc.text(
            "Background processes: "
            + ", ".join(f"`{prepared.process_names[b]}`" for b in backgrounds)
            + f"; signal: `{prepared.process_names[signal]}`."
        )
        cascade = train_cascade(prepared, config, progress)
        for name, sub in zip(cascade.backgrounds, cascade.subs, strict=True):
            save_model(
                stage / f"sub_{name}.pt",
                sub.model,
                config.model,
                len(prepared.features),
                2,
                {"features": prepared.features, "background": name},
            )
        save_model(
            stage / "super.pt",
            cascade.top.model,
            config.cascade.super_model,
            cascade.top.model[0].in_features,
            2,
            {
                "inputs": [f"logit_{b}" for b in cascade.backgrounds]
                + (prepared.features if cascade.use_inputs else []),
                "logit_mean": cascade.mean.tolist(),
                "logit_std": cascade.std.tolist(),
            },
        )
        results: dict[str, tuple[Evaluation, dict, int]] = {}
        results["cascade"] = (
            evaluate("Cascade", cascade.predict, splits),
            per_background(cascade.predict, test, prepared, backgrounds),
            cascade.parameters,
        )
        if config.cascade.compare_single:
            bar, on_epoch = epoch_bar(progress, "single network", config.train.epochs)
            single = fit_mlp(train, val, config.model, config.train, on_epoch=on_epoch)
            bar.done()
            save_model(
                stage / "single.pt",
                single.model,
                config.model,
                len(prepared.features),
                2,
                {"features": prepared.features},
            )
            results["single"] = (
                evaluate("Single network", single.predict, splits),
                per_background(single.predict, test, prepared, backgrounds),
                count_parameters(single.model),
            )
        _comparison(doc, stage, results, prepared, backgrounds, test)
        for slug, (evaluation, _, _) in results.items():
            write_section(doc, stage, slug, evaluation, prepared.class_names)
        metrics = {
            slug: {**ev.as_dict(prepared.class_names), "per_background": pb, "parameters": n}
            for slug, (ev, pb, n) in results.items()
        }
        write_json(stage / "metrics.json", metrics)
        shutil.copyfile(config.source, stage / "config.yaml")
        doc.write(stage / "report.md")
    return metrics


def _comparison(
    doc: Markdown,
    stage: Path,
    results: dict[str, tuple[Evaluation, dict, int]],
    prepared: Prepared,
    backgrounds: list[int],
    test: Labeled,
) -> None:
    names = ["all"] + [prepared.process_names[b] for b in backgrounds]
    doc.heading("Cascade vs single network (test split)")
    doc.text(
        f"Weighted AUC of signal against each background set, and the weighted background efficiency "
        f"where the signal efficiency reaches {SIGNAL_EFFICIENCY:.0%} (lower is better)."
    )
    header = (
        ["classifier", "parameters"] + [f"AUC vs {n}" for n in names] + [f"bkg eff vs {n}" for n in names]
    )
    rows = [
        [ev.name, n] + [pb[x]["auc"] for x in names] + [pb[x]["bkg_eff"] for x in names]
        for ev, pb, n in results.values()
    ]
    doc.table(header, rows)
    for name, procs in [("all", backgrounds)] + [(prepared.process_names[b], [b]) for b in backgrounds]:
        mask = (test.y == 1) | np.isin(test.process, procs)
        curves = [
            (
                f"{ev.name} (AUC {pb[name]['auc']:.3f})",
                ev.outputs["test"].prob[mask, 1],
                test.y[mask] == 1,
                test.w_eval[mask],
            )
            for ev, pb, _ in results.values()
        ]
        image = f"roc_vs_{name}.png"
        plots.roc_curves(
            stage / image,
            curves,
            f"signal vs {name} backgrounds (test)" if name == "all" else f"signal vs {name} (test)",
        )
        doc.image(image, f"ROC, signal vs {name}")
