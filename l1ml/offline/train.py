"""`l1ml offline train`: fit the weighted MLP (and the LightGBM baseline), evaluate, write the report."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from rich.progress import Progress

from l1ml.atomic import atomic_dir, check_output_dir
from l1ml.offline import plots
from l1ml.offline.baseline import fit_lightgbm
from l1ml.offline.config import Config
from l1ml.offline.dataset import Prepared, prepare
from l1ml.offline.evaluate import describe_data, evaluate, write_section
from l1ml.offline.fit import fit_mlp
from l1ml.offline.model import count_parameters, save_model
from l1ml.offline.progress import epoch_bar
from l1ml.offline.report import Markdown, config_inputs, write_json


def model_extra(prepared: Prepared, columns: list[int] | None = None) -> dict[str, Any]:
    """Metadata saved with a model so it can be applied to a new table."""
    prep = prepared.prep if columns is None else prepared.prep.subset(columns)
    return {
        "features": list(prep.features),
        "class_names": list(prepared.class_names),
        "preprocessor": prep.to_dict(),
    }


def run_train(config: Config, out: Path, progress: Progress | None = None, force: bool = False) -> dict[str, Any]:
    """Train, evaluate and report into `out` (replaced atomically); returns the metrics written."""
    check_output_dir(out, config_inputs(config), force)  # before reading and training
    prepared = prepare(config)
    train, val, test = prepared.labeled()
    splits = {"train": train, "validation": val, "test": test}
    with atomic_dir(out, "offline train", config_inputs(config), force) as stage:
        doc = Markdown("l1ml offline train")
        counts = describe_data(
            doc,
            str(config.data.path),
            prepared.features,
            prepared.prep.log_columns,
            prepared.class_names,
            splits,
            prepared.negative_fraction(),
            prepared.mode.value,
        )
        bar, on_epoch = epoch_bar(progress, "network", config.train.epochs)
        result = fit_mlp(train, val, config.model, config.train, on_epoch=on_epoch)
        bar.done()
        n_params = count_parameters(result.model)
        save_model(
            stage / "model.pt",
            result.model,
            config.model,
            len(prepared.features),
            train.n_classes,
            model_extra(prepared),
        )
        m = config.model
        doc.heading("Network")
        doc.bullets(
            [
                f"{m.layers} hidden layers x {m.width}, {m.activation.value}, dropout {m.dropout:g}, "
                f"L2 {config.train.l2:g}, learning rate {config.train.learning_rate:g}; "
                f"{n_params} parameters",
                f"early stopping: best validation loss at epoch {result.best_epoch} of "
                f"{len(result.history)} run (patience {config.train.patience})",
            ]
        )
        plots.loss_history(stage / "loss.png", result.history, result.best_epoch, "Network training")
        doc.image("loss.png", "weighted loss per epoch")
        net = evaluate("Neural network", result.predict, splits)
        write_section(doc, stage, "network", net, prepared.class_names)
        metrics: dict[str, Any] = {
            "events": counts,
            "features": prepared.features,
            "log_columns": prepared.prep.log_columns,
            "network": {
                **net.as_dict(prepared.class_names),
                "parameters": n_params,
                "best_epoch": result.best_epoch,
                "epochs_run": len(result.history),
            },
        }
        evaluations = [net]
        if config.baseline.enabled:
            predict, trees = fit_lightgbm(
                train, val, config.baseline, config.train.seed, config.train.threads
            )
            gbm = evaluate("LightGBM baseline", predict, splits)
            write_section(doc, stage, "lightgbm", gbm, prepared.class_names)
            metrics["lightgbm"] = {**gbm.as_dict(prepared.class_names), "trees": trees}
            evaluations.append(gbm)
            doc.heading("Network vs LightGBM (test split)")
            doc.table(
                ["classifier", "weighted AUC", "weighted loss", "weighted accuracy"],
                [
                    [e.name, e.scores["test"].auc, e.scores["test"].loss, e.scores["test"].accuracy]
                    for e in evaluations
                ],
            )
        if len(prepared.class_names) == 2:
            curves = [
                (f"{e.name} (AUC {e.scores['test'].auc:.3f})", o.prob[:, 1], o.y == 1, o.w)
                for e in evaluations
                for o in [e.outputs["test"]]
            ]
            plots.roc_curves(stage / "roc.png", curves, "ROC on the test split")
            doc.image("roc.png", "weighted ROC curves on the test split")
        write_json(stage / "metrics.json", metrics)
        shutil.copyfile(config.source, stage / "config.yaml")
        doc.write(stage / "report.md")
    return metrics
