"""`l1ml offline ...`: train, select, search, cascade and toy commands (heavy imports inside bodies)."""

from __future__ import annotations

from pathlib import Path

import typer

from l1ml.atomic import Force
from l1ml.console import console as console_for
from l1ml.errors import L1MLError
from l1ml.offline.config import ToyKind

app = typer.Typer(
    help="Offline classification companion: weighted DNN classifiers for analysis tables, feature selection, "
    "Optuna hyperparameter searches, network cascades and LightGBM baselines. Every command reads one "
    "YAML config (keys in docs/offline.md, templates in examples/offline/) and writes a Markdown report "
    "with plots.\n\nStart with: l1ml offline toy -o /tmp/toy/features.parquet",
    no_args_is_help=True,
)

CONFIG = typer.Argument(
    ..., help="YAML config; relative paths inside it are relative to the file.", exists=False, dir_okay=False
)
OUTPUT = typer.Option(
    None,
    "-o",
    "--output",
    help="Output directory (default: the config's `output` key). Written beside it and renamed into place; "
    "replaced only if l1ml wrote it (see --force).",
)
DATA = typer.Option(None, "--data", help="Read this table instead of data.path from the config.")
PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show progress bars.")


def _load(config: Path, data: Path | None, output: Path | None):
    from l1ml.offline.config import load_config

    cfg = load_config(config)
    if data is not None:
        cfg = cfg.with_data_path(data.resolve())
    out = output if output is not None else cfg.output
    if out is None:
        raise L1MLError(f"{config}: no output directory; pass -o DIR or set `output:` in the config")
    return cfg, Path(out)


def _print_scores(title: str, rows: list[tuple[str, dict]]) -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in ("classifier", "split", "weighted AUC", "unweighted AUC", "loss", "accuracy"):
        table.add_column(column)
    for name, scores in rows:
        for split, s in scores.items():
            table.add_row(
                name,
                split,
                f"{s['auc']:.4f}",
                f"{s['auc_unweighted']:.4f}",
                f"{s['loss']:.4f}",
                f"{s['accuracy']:.4f}",
            )
    console_for().print(table)


_TOY_HELP = (
    "Write a toy table with a known answer, and its truth as <name>.truth.yaml beside it.\n\nThe "
    "`features` toy (label column `label`, weights `weight`) runs with "
    "examples/offline/features.yaml; the `multibackground` toy (label column `process`) runs with "
    "examples/offline/cascade.yaml.\n\nExample: l1ml offline toy --kind multibackground --events "
    "30000 -o /tmp/toy/multibackground.parquet"
)


@app.command(help=_TOY_HELP)
def toy(
    output: Path = typer.Option(..., "-o", "--output", help="Table to write (.parquet or .csv)."),
    kind: ToyKind = typer.Option(
        ToyKind.FEATURES,
        "--kind",
        help="features: planted informative / noise / "
        "duplicated features with weights; multibackground: signal, wjets, ttbar.",
    ),
    events: int = typer.Option(20000, "--events", help="Number of events."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Write a toy table with a known answer, and its truth as <name>.truth.yaml beside it."""
    from l1ml.offline.toy import write_toy

    table, truth = write_toy(kind, output, events, seed)
    typer.echo(f"wrote {table} and {truth}")


_TRAIN_HELP = (
    "Train the weighted MLP and the LightGBM baseline; report metrics, output shapes and KS "
    "checks.\n\nUses the data, prep, model, train and baseline sections. Writes report.md, "
    "metrics.json, model.pt (weights + preprocessing) and the plots.\n\nExample: l1ml offline train "
    "examples/offline/features.yaml --data /tmp/toy/features.parquet -o /tmp/toy/train"
)


@app.command(help=_TRAIN_HELP)
def train(
    config: Path = CONFIG,
    output: Path | None = OUTPUT,
    data: Path | None = DATA,
    progress: bool = PROGRESS,
    force: Force = False,
) -> None:
    """Train the weighted MLP and the LightGBM baseline; report metrics, output shapes and KS checks."""
    from l1ml.offline.progress import progress_bars
    from l1ml.offline.train import run_train

    cfg, out = _load(config, data, output)
    with progress_bars(progress) as bars:
        metrics = run_train(cfg, out, bars, force=force)
    rows = [("network", metrics["network"]["scores"])]
    if "lightgbm" in metrics:
        rows.append(("LightGBM", metrics["lightgbm"]["scores"]))
    _print_scores("l1ml offline train", rows)
    typer.echo(f"report: {out / 'report.md'}")


_SELECT_HELP = (
    "Rank features by weighted permutation importance and cluster correlated ones.\n\nTrains on all "
    "features, ranks them (selection.repeats shuffles each, mean +- std of the AUC drop), clusters "
    "them by |correlation| (selection.correlation, .linkage), keeps the most important feature of "
    "each cluster at selection.threshold, retrains and ranks again, and scans selection.scan cuts. "
    "Writes report.md, metrics.json, selected_features.yaml (paste into data.features) and "
    "plots.\n\nExample: l1ml offline select examples/offline/features.yaml --data "
    "/tmp/toy/features.parquet -o /tmp/toy/select"
)


@app.command(help=_SELECT_HELP)
def select(
    config: Path = CONFIG,
    output: Path | None = OUTPUT,
    data: Path | None = DATA,
    progress: bool = PROGRESS,
    force: Force = False,
) -> None:
    """Rank features by weighted permutation importance and cluster correlated ones."""
    from l1ml.offline.progress import progress_bars
    from l1ml.offline.select import run_select

    cfg, out = _load(config, data, output)
    with progress_bars(progress) as bars:
        metrics = run_select(cfg, out, bars, force=force)
    typer.echo(f"kept {len(metrics['selected'])} features: {', '.join(metrics['selected'])}")
    typer.echo(
        f"validation AUC all {metrics['validation_auc_all']:.4f}, "
        f"selected {metrics['validation_auc_selected']:.4f}"
    )
    typer.echo(f"report: {out / 'report.md'}")


_SEARCH_HELP = (
    "Optuna search over layers, width, dropout, activation, learning rate and L2 (search "
    "section).\n\nTPE or random sampling, Hyperband pruning on the per-epoch validation metric by "
    "default. The study is stored in <output>/optuna.db unless --storage/search.storage names "
    "another database; start more workers with the same config and storage (on this or other "
    "machines) to share the work. The report has the best trial, best_config.yaml, history, "
    "hyperparameter importances and 1-D/2-D slices.\n\nExample (two workers): l1ml offline search "
    "examples/offline/features.yaml --data /tmp/toy/features.parquet -o /tmp/toy/search --worker-id "
    "0 & l1ml offline search ... --worker-id 1"
)


@app.command(help=_SEARCH_HELP)
def search(
    config: Path = CONFIG,
    output: Path | None = OUTPUT,
    data: Path | None = DATA,
    n_trials: int | None = typer.Option(
        None,
        "--n-trials",
        help="Trials for this worker (default search.n_trials); 0 only rebuilds the report.",
    ),
    storage: str | None = typer.Option(
        None,
        "--storage",
        help="Optuna RDB URL shared by all workers (default "
        "search.storage, else sqlite:///<output>/optuna.db).",
    ),
    worker_id: int = typer.Option(0, "--worker-id", help="Distinct number per worker; offsets search.seed."),
    report: bool = typer.Option(True, "--report/--no-report", help="Rebuild <output>/report afterwards."),
    progress: bool = PROGRESS,
    force: Force = False,
) -> None:
    """Optuna search over layers, width, dropout, activation, learning rate and L2 (search section)."""
    from l1ml.offline.progress import progress_bars
    from l1ml.offline.search import run_search

    cfg, out = _load(config, data, output)
    with progress_bars(progress) as bars:
        summary = run_search(
            cfg, out, n_trials=n_trials, worker_id=worker_id, storage=storage, report=report, progress=bars,
            force=force,
        )
    states = ", ".join(f"{n} {s}" for s, n in summary["states"].items() if n)
    typer.echo(f"study '{summary['study']}' in {summary['storage']}: {summary['trials']} trials ({states})")
    if "best" in summary:
        typer.echo(
            f"best trial {summary['best']['number']}: {summary['best']['value']:.5f} "
            f"{summary['best']['params']}"
        )
    if report:
        typer.echo(f"report: {out / 'report' / 'report.md'}")


_CASCADE_HELP = (
    "Train one sub-network per background and a super-network on their outputs; compare with one "
    "network.\n\nNeeds data.signal and two or more background label values (data.backgrounds, "
    "default all others). Sub-networks use the model section, the super-network cascade.super_model; "
    "cascade.use_inputs also feeds the inputs to the super-network. The report compares AUC and "
    "background efficiency at 50% signal efficiency against all backgrounds and each "
    "one.\n\nExample: l1ml offline cascade examples/offline/cascade.yaml --data "
    "/tmp/toy/multibackground.parquet -o /tmp/toy/cascade"
)


@app.command(help=_CASCADE_HELP)
def cascade(
    config: Path = CONFIG,
    output: Path | None = OUTPUT,
    data: Path | None = DATA,
    progress: bool = PROGRESS,
    force: Force = False,
) -> None:
    """Train one sub-network per background and a super-network on their outputs; compare with one network."""
    from l1ml.offline.cascade import run_cascade
    from l1ml.offline.progress import progress_bars

    cfg, out = _load(config, data, output)
    with progress_bars(progress) as bars:
        metrics = run_cascade(cfg, out, bars, force=force)
    for name, m in metrics.items():
        pb = ", ".join(f"vs {k} {v['auc']:.4f}" for k, v in m["per_background"].items())
        typer.echo(f"{name}: test AUC {pb} ({m['parameters']} parameters)")
    typer.echo(f"report: {out / 'report.md'}")
