"""`l1ml offline search`: Optuna hyperparameter search over the MLP, shareable by many workers.

The study lives in an Optuna storage (SQLite file in the output directory by default, or any RDB URL
from search.storage / --storage). Every worker that runs the same config against the same storage
and study name joins the same study; each trial records which host and process ran it.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import Progress

from l1ml.errors import L1MLError
from l1ml.offline.config import (
    Activation,
    Config,
    ModelConfig,
    PrunerKind,
    SamplerKind,
    SearchConfig,
    SearchMetric,
    SearchSpace,
    TrainConfig,
)
from l1ml.offline.dataset import Labeled, prepare
from l1ml.offline.progress import Bar

if TYPE_CHECKING:  # pragma: no cover
    import optuna


def storage_url(config: Config, out: Path, override: str | None = None) -> str:
    """--storage, else search.storage, else a SQLite file optuna.db in the output directory."""
    if override:
        return override
    if config.search.storage:
        return config.search.storage
    return f"sqlite:///{(Path(out).resolve() / 'optuna.db').as_posix()}"


@contextmanager
def _creation_lock(url: str) -> Iterator[None]:
    """Serialise schema and study creation between workers sharing one local SQLite file."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        yield
        return
    db = Path(url[len(prefix) :])
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _storage(url: str) -> optuna.storages.BaseStorage:
    import optuna
    import sqlalchemy.exc

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Concurrent SQLite writers wait for the lock instead of failing after the 5 s default.
        kwargs = {"connect_args": {"timeout": 120}}
    attempts = 5
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError) as exc:
            # Two workers creating the schema of a fresh database at once: the loser retries and then
            # finds the tables in place. Anything that persists is a real connection problem.
            if attempt == attempts - 1:
                raise L1MLError(
                    f"cannot open Optuna storage {url}: {exc.orig}; check the URL, the database "
                    "server and its credentials"
                ) from exc
            time.sleep(0.5 + attempt)
        except (ValueError, ImportError, sqlalchemy.exc.ArgumentError) as exc:
            raise L1MLError(
                f"cannot open Optuna storage {url}: {exc}; use an SQLAlchemy URL such as "
                "sqlite:///path/optuna.db or postgresql://user@host/db (PostgreSQL needs psycopg2)"
            ) from exc
    raise AssertionError("unreachable")


def _sampler(cfg: SearchConfig, worker_id: int) -> optuna.samplers.BaseSampler:
    import optuna

    # Workers must not share a seed, or they would propose the same parameters in lock step.
    seed = None if cfg.seed is None else cfg.seed + 7919 * worker_id
    if cfg.sampler is SamplerKind.RANDOM:
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(cfg: SearchConfig, max_epochs: int) -> optuna.pruners.BasePruner:
    import optuna

    if cfg.pruner is PrunerKind.HYPERBAND:
        return optuna.pruners.HyperbandPruner(
            min_resource=cfg.min_epochs, max_resource=max_epochs, reduction_factor=3
        )
    if cfg.pruner is PrunerKind.MEDIAN:
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=cfg.min_epochs)
    return optuna.pruners.NopPruner()


def open_study(config: Config, url: str, worker_id: int = 0) -> optuna.Study:
    """Create the study or join it if another worker already did."""
    import optuna

    cfg = config.search
    direction = "minimize" if cfg.metric is SearchMetric.VAL_LOSS else "maximize"
    with _creation_lock(url):
        study = optuna.create_study(
            storage=_storage(url),
            study_name=cfg.study_name,
            direction=direction,
            sampler=_sampler(cfg, worker_id),
            pruner=_pruner(cfg, config.train.epochs),
            load_if_exists=True,
        )
    if study.direction.name.lower() != direction:
        raise L1MLError(
            f"study '{cfg.study_name}' in {url} optimises in direction "
            f"{study.direction.name.lower()}, but search.metric {cfg.metric.value} needs {direction}; "
            "use another search.study_name"
        )
    return study


def suggest(trial: optuna.Trial, space: SearchSpace, base: TrainConfig) -> tuple[ModelConfig, TrainConfig]:
    """Sample an architecture and optimiser settings; widths, rates and L2 on a log scale."""
    model = ModelConfig(
        layers=trial.suggest_int("layers", *space.layers),
        width=trial.suggest_int("width", *space.width, log=True),
        dropout=trial.suggest_float("dropout", *space.dropout),
        activation=Activation(trial.suggest_categorical("activation", [a.value for a in space.activation])),
    )
    l2 = 0.0 if space.l2 == (0.0, 0.0) else trial.suggest_float("l2", *space.l2, log=True)
    train = replace(
        base, learning_rate=trial.suggest_float("learning_rate", *space.learning_rate, log=True), l2=l2
    )
    return model, train


def make_objective(config: Config, train: Labeled, val: Labeled):
    """The trial function: train, report the metric each epoch for pruning, return the best value."""
    import optuna

    from l1ml.offline.fit import fit_mlp
    from l1ml.offline.metrics import class_auc
    from l1ml.offline.model import predict_proba

    metric = config.search.metric
    worker = f"{socket.gethostname()}:{os.getpid()}"

    def value_of(loss: float, model: Any) -> float:
        if metric is SearchMetric.VAL_LOSS:
            return loss
        return class_auc(predict_proba(model, val.x, val.n_classes), val.y, val.w_eval)

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker)
        model_cfg, train_cfg = suggest(trial, config.search.space, config.train)
        best = {"value": None}

        def on_epoch(record: Any, model: Any) -> None:
            value = value_of(record.val_loss, model)
            if best["value"] is None or (
                value < best["value"] if metric is SearchMetric.VAL_LOSS else value > best["value"]
            ):
                best["value"] = value
            trial.report(value, record.epoch)
            if trial.should_prune():
                trial.set_user_attr("epochs_run", record.epoch)
                raise optuna.TrialPruned()

        result = fit_mlp(train, val, model_cfg, train_cfg, on_epoch=on_epoch)
        trial.set_user_attr("epochs_run", len(result.history))
        trial.set_user_attr("best_epoch", result.best_epoch)
        return float(best["value"])

    return objective


def run_search(
    config: Config,
    out: Path,
    n_trials: int | None = None,
    worker_id: int = 0,
    storage: str | None = None,
    report: bool = True,
    progress: Progress | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Run this worker's share of trials, then (optionally) rewrite the report from the whole study.

    ``out`` is shared by the workers and kept between runs: l1ml writes into it (optuna.db, report/) and
    never deletes it; a directory it did not create needs ``force`` unless it holds an earlier study.
    """
    import optuna

    from l1ml.atomic import output_container
    from l1ml.offline.report import config_inputs

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = output_container(out, "offline search", config_inputs(config),
                           force or (Path(out) / "optuna.db").is_file())
    url = storage_url(config, out, storage)
    study = open_study(config, url, worker_id)
    trials = config.search.n_trials if n_trials is None else n_trials
    if trials > 0:
        prepared = prepare(config)
        train, val, _ = prepared.labeled()
        bar = Bar(progress, f"trials (worker {worker_id})", trials)

        def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            bar.advance(f"#{trial.number} {trial.state.name.lower()}")

        study.optimize(
            make_objective(config, train, val),
            n_trials=trials,
            timeout=config.search.timeout,
            callbacks=[after_trial],
            catch=(),
        )
    summary = summarise(study, url)
    if report:
        from l1ml.offline.search_report import write_search_report

        write_search_report(study, config, out / "report", summary, force)
    return summary


def summarise(study: optuna.Study, url: str) -> dict[str, Any]:
    """Trial counts by state and by worker, and the best trial."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    states = {s.name.lower(): sum(t.state is s for t in trials) for s in TrialState}
    workers: dict[str, int] = {}
    for t in trials:
        name = str(t.user_attrs.get("worker", "unknown"))
        workers[name] = workers.get(name, 0) + 1
    summary: dict[str, Any] = {
        "storage": url,
        "study": study.study_name,
        "trials": len(trials),
        "states": states,
        "workers": dict(sorted(workers.items())),
    }
    if states.get("complete", 0):
        best = study.best_trial
        summary["best"] = {"number": best.number, "value": best.value, "params": best.params}
    return summary


def silence_experimental() -> None:
    """Optuna marks its matplotlib plots experimental; the warning is noise in a report run."""
    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
