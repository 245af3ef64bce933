"""The report of a hyperparameter search: history, pruning, parameter importance, 1-D and 2-D slices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
import yaml  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from l1ml.atomic import atomic_dir  # noqa: E402
from l1ml.offline.config import Config  # noqa: E402
from l1ml.offline.report import Markdown, config_inputs, write_json  # noqa: E402
from l1ml.offline.search import silence_experimental  # noqa: E402


def _save(axes: Any, path: Path, width: float | None = None, xlabel: str | None = None) -> None:
    figure = np.ravel(axes)[0].figure
    if width is not None:
        figure.set_size_inches(width, figure.get_size_inches()[1])
    if xlabel is not None:
        np.ravel(axes)[0].set_xlabel(xlabel)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def best_config(config: Config, params: dict[str, Any]) -> dict[str, Any]:
    """The original YAML with the best trial's model and optimiser settings filled in."""
    raw = yaml.safe_load(config.source.read_text()) or {}
    raw.setdefault("data", {})["path"] = str(config.data.path)
    raw.pop("output", None)
    model = raw.setdefault("model", {}) or {}
    train = raw.setdefault("train", {}) or {}
    for key in ("layers", "width", "dropout", "activation"):
        if key in params:
            model[key] = params[key]
    for key in ("learning_rate", "l2"):
        if key in params:
            train[key] = float(params[key])
    raw["model"], raw["train"] = model, train
    return raw


def _plots(study: optuna.Study, stage: Path, doc: Markdown) -> dict[str, float]:
    """Write the search plots; returns the parameter importances (empty if too few trials)."""
    from optuna.visualization import matplotlib as ovm

    silence_experimental()
    _save(ovm.plot_optimization_history(study), stage / "history.png")
    doc.image("history.png", "objective per trial and best so far")
    _save(ovm.plot_intermediate_values(study), stage / "intermediate.png", xlabel="epoch")
    doc.image("intermediate.png", "objective per epoch for every trial; pruned trials stop early")
    complete = [t for t in study.get_trials(deepcopy=False) if t.state is TrialState.COMPLETE]
    importances: dict[str, float] = {}
    varied = [
        p
        for p in (complete[0].params if complete else {})
        if len({repr(t.params.get(p)) for t in complete}) > 1
    ]
    if len(complete) >= 3 and varied:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        importances = optuna.importance.get_param_importances(study, evaluator=evaluator, params=varied)
        _save(ovm.plot_param_importances(study, evaluator=evaluator, params=varied), stage / "importance.png")
        doc.image("importance.png", "hyperparameter importance (fANOVA over completed trials)")
    else:
        doc.text("Too few completed trials for hyperparameter importances (need 3 with varying parameters).")
    if complete:
        params = sorted(complete[0].params)
        _save(ovm.plot_slice(study, params=params), stage / "slices.png", width=3.6 * len(params))
        doc.image("slices.png", "1-D slices: objective against each hyperparameter")
    top = [p for p in importances][:2] if len(importances) >= 2 else varied[:2]
    if len(complete) >= 3 and len(top) == 2:
        _save(ovm.plot_contour(study, params=top), stage / "contour.png")
        doc.image("contour.png", f"2-D slice over the two most important parameters ({top[0]}, {top[1]})")
    return importances


def write_search_report(study: optuna.Study, config: Config, dest: Path, summary: dict[str, Any],
                        force: bool = False) -> None:
    """Rebuild <out>/report from everything in the study (all workers' trials)."""
    trials = study.get_trials(deepcopy=False)
    with atomic_dir(dest, "offline search", config_inputs(config), force) as stage:
        doc = Markdown("l1ml offline search")
        cfg = config.search
        doc.bullets(
            [
                f"storage `{summary['storage']}`, study `{study.study_name}`, metric `{cfg.metric.value}` "
                f"({study.direction.name.lower()}), sampler `{cfg.sampler.value}`, "
                f"pruner `{cfg.pruner.value}`",
                f"{summary['trials']} trials: "
                + ", ".join(f"{n} {s}" for s, n in summary["states"].items() if n),
                "workers: " + ", ".join(f"`{w}` ({n})" for w, n in summary["workers"].items()),
            ]
        )
        if "best" in summary:
            best = summary["best"]
            doc.heading("Best trial")
            doc.text(
                f"Trial {best['number']}: {cfg.metric.value} = {best['value']:.5f}. "
                "`best_config.yaml` is the input config with these settings, ready for "
                "`l1ml offline train`."
            )
            doc.table(["parameter", "value"], [[k, v] for k, v in sorted(best["params"].items())], digits=6)
            (stage / "best_config.yaml").write_text(
                yaml.safe_dump(best_config(config, best["params"]), sort_keys=False)
            )
        done = sorted(
            (t for t in trials if t.state is TrialState.COMPLETE),
            key=lambda t: t.value,
            reverse=study.direction.name.lower() == "maximize",
        )
        if done:
            doc.heading("Top trials")
            names = sorted(done[0].params)
            doc.table(
                ["trial", cfg.metric.value, "epochs", *names, "worker"],
                [
                    [
                        t.number,
                        t.value,
                        t.user_attrs.get("epochs_run", ""),
                        *(t.params.get(n, "") for n in names),
                        t.user_attrs.get("worker", ""),
                    ]
                    for t in done[:10]
                ],
                digits=5,
            )
        doc.heading("Plots")
        importances = _plots(study, stage, doc) if trials else {}
        if importances:
            doc.table(["parameter", "importance"], [[k, v] for k, v in importances.items()], digits=3)
        write_json(stage / "summary.json", {**summary, "param_importances": importances})
        doc.write(stage / "report.md")
