"""``l1ml reweight``: fit a reweighter on two tables, apply it as a weight column, check the result."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from l1ml.atomic import Force, atomic_dir, check_output_dir
from l1ml.console import console as console_for
from l1ml.errors import L1MLError
from l1ml.reweighting.methods import Method

app = typer.Typer(
    help="Reweight simulated events to match a target (data) sample, and prove it worked.\n\n"
    "Typical flow: `fit` learns weights from an original and a target table, `apply` writes them as a "
    "column, `check` measures KS distances, a hold-out classifier AUC and the effective sample size, "
    "and draws plots. Tables are Parquet, CSV or ROOT (file.root:tree).",
    no_args_is_help=True,
)

ColumnsOption = Annotated[list[str], typer.Option(
    "--columns", "-c", help="Variables (table columns), comma-separated or repeated: -c pt,eta -c mass.")]


def _columns(values: list[str]) -> list[str]:
    names = [c.strip() for v in values for c in v.split(",") if c.strip()]
    if not names:
        raise L1MLError("no variables given; name them with --columns, e.g. --columns pt,eta,mass")
    if len(set(names)) != len(names):
        raise L1MLError(f"a variable is listed twice in --columns: {', '.join(names)}")
    return names


def _weights(path: Path, column: str | None):
    """A weight column from a table, or None when no column is named."""
    if column is None:
        return None
    from l1ml.reweighting.io import feature_matrix, read_table

    return feature_matrix(read_table(path, [column]), [column], path)[:, 0]


@app.command()
def fit(
    original: Annotated[Path, typer.Argument(help="Table of events to reweight (e.g. simulation).")],
    target: Annotated[Path, typer.Argument(help="Table whose distribution to match (e.g. data).")],
    columns: ColumnsOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Model directory to write (an output directory: "
                                                          "replaced only if l1ml wrote it).")],
    method: Annotated[Method, typer.Option(help="bins: n-D histogram ratio (1-3 variables); gb: gradient-"
                                                "boosted reweighter; classifier: LightGBM density ratio.")]
    = Method.GB,
    folds: Annotated[int, typer.Option(help="k >= 2 fits k models so every training event is weighted by "
                                            "a model that did not see it; 0 disables folding.")] = 2,
    original_weight: Annotated[str | None, typer.Option(help="Column of prior weights in ORIGINAL.")] = None,
    target_weight: Annotated[str | None, typer.Option(help="Column of weights in TARGET.")] = None,
    setting: Annotated[list[str] | None, typer.Option(
        "--set", help="Method setting NAME=VALUE, repeatable, e.g. --set n_estimators=200.")] = None,
    force: Force = False,
) -> None:
    """Learn weights that make ORIGINAL look like TARGET in the chosen variables.

    Defaults: gradient-boosted reweighter with 2 folds. Writes OUT/model.pkl and OUT/model.json.
    Settings (--set NAME=VALUE): gb n_estimators=100 learning_rate=0.2 max_depth=3 min_samples_leaf=100
    regularization=5; classifier n_estimators=300 learning_rate=0.05 num_leaves=15 min_child_samples=100
    max_ratio=50; bins n_bins=10 smoothing=0.5 pseudocount=1. With a few thousand events, use fewer
    trees and larger leaves (e.g. --set n_estimators=30 --set min_samples_leaf=200) and trust the folded
    check, not an unfolded one.

    Example: l1ml reweight fit mc.parquet data.parquet -c pt,eta,ntracks -o rw_model
    """

    from l1ml.reweighting import io
    from l1ml.reweighting.methods import make_reweighter, parse_settings, settings
    from l1ml.reweighting.metrics import effective_sample_size

    names = _columns(columns)
    check_output_dir(out, io.input_files(original, target), force)
    options = parse_settings(method, setting or [])
    reweighter = make_reweighter(method, options, folds)
    x_o = io.feature_matrix(io.read_table(original, names), names, original)
    x_t = io.feature_matrix(io.read_table(target, names), names, target)
    w_o = _weights(original, original_weight)
    w_t = _weights(target, target_weight)
    start = time.perf_counter()
    with _progress_bar() as progress:
        task = progress.add_task("fitting", total=None)

        def hook(done: int, total: int, label: str) -> None:
            progress.update(task, completed=done, total=total, description=label)

        reweighter.fit(x_o, x_t, w_o, w_t, progress=hook)
    new = reweighter.predict_weights(x_o, w_o)
    meta = {
        "method": method.value, "folds": folds, "settings": {**settings(method), **options},
        "columns": names, "original_weight": original_weight, "target_weight": target_weight,
        "n_original": len(x_o), "n_target": len(x_t),
        "training_ess": effective_sample_size(new), "fit_seconds": round(time.perf_counter() - start, 2),
        "original_file": str(original), "target_file": str(target),
    }
    io.save_model(reweighter, meta, out, force, (original, target))
    kind = "out-of-fold " if folds >= 2 else "in-sample (optimistic: no folding) "
    console_for().print(f"wrote {out}: {method.value} reweighter on {len(names)} variables; {kind}effective "
                    f"sample size {meta['training_ess']:.0f} of {len(x_o)} events")


@app.command()
def apply(
    table: Annotated[Path, typer.Argument(help="Table of original-like events to weight.")],
    model: Annotated[Path, typer.Option("--model", "-m", help="Model directory written by `fit`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output table (format from its suffix).")],
    weight_column: Annotated[str, typer.Option(help="Name of the new weight column.")] = "weight",
    input_weight: Annotated[str | None, typer.Option(
        help="Column of prior weights to multiply; default: the --original-weight column used at fit.")]
    = None,
    no_input_weight: Annotated[bool, typer.Option(help="Ignore prior weights even if the model used them.")]
    = False,
) -> None:
    """Write TABLE with one more column holding the learned weights.

    Each weight is prior weight x learned ratio, normalised so that the training original sums to the
    training target. With a folded model, training events get out-of-fold weights.

    Example: l1ml reweight apply mc.parquet -m rw_model -o mc_weighted.parquet
    """

    from l1ml.reweighting import io
    from l1ml.reweighting.metrics import effective_sample_size

    reweighter, meta = io.load_model(model)
    io.ensure_replaceable(out)
    frame = io.read_table(table)
    if weight_column in frame.columns:
        raise L1MLError(f"{table}: already has a column '{weight_column}'; pick another name with "
                        "--weight-column")
    prior_column = None if no_input_weight else (input_weight or meta.get("original_weight"))
    missing = [c for c in meta["columns"] + ([prior_column] if prior_column else []) if c not in frame.columns]
    if missing:
        raise L1MLError(f"{table}: no column(s) {', '.join(missing)} needed by the model in {model}; "
                        + ("pass --input-weight or --no-input-weight" if prior_column in missing else
                           f"the model was fitted on {', '.join(meta['columns'])}"))
    x = io.feature_matrix(frame, meta["columns"], table)
    prior = io.feature_matrix(frame, [prior_column], table)[:, 0] if prior_column else None
    weights = reweighter.predict_weights(x, prior)
    frame[weight_column] = weights
    io.write_table(frame, out)
    console_for().print(f"wrote {out}: {len(frame)} events, column '{weight_column}', effective sample size "
                    f"{effective_sample_size(weights):.0f}")


@app.command()
def check(
    original: Annotated[Path, typer.Argument(help="Reweighted original table (output of `apply`).")],
    target: Annotated[Path, typer.Argument(help="Target table the weights should match.")],
    columns: ColumnsOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Report directory to write (an output directory: "
                                                          "replaced only if l1ml wrote it).")],
    weight_column: Annotated[str, typer.Option(help="Column in ORIGINAL with the new weights.")] = "weight",
    original_weight: Annotated[str | None, typer.Option(
        help="Column in ORIGINAL with the weights before reweighting (default: all 1).")] = None,
    target_weight: Annotated[str | None, typer.Option(help="Column of weights in TARGET.")] = None,
    unit: Annotated[list[str] | None, typer.Option(
        help="Unit for a variable's plot axis, NAME=UNIT, repeatable: --unit pt=GeV.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the hold-out split and classifier.")] = 0,
    force: Force = False,
) -> None:
    """Measure how well the weighted ORIGINAL matches TARGET and write a report with plots.

    Writes OUT/report.md, OUT/report.json, OUT/weights.png and OUT/compare_<variable>.png. Reports
    weighted KS distance per variable, hold-out classifier ROC AUC (0.5 = indistinguishable; <= 0.55
    counts as a pass) and Kish effective sample size, each before and after.

    Example: l1ml reweight check mc_weighted.parquet data.parquet -c pt,eta,ntracks -o rw_report
    """
    from rich.table import Table

    from l1ml.reweighting import io
    from l1ml.reweighting.plots import plot_comparison, plot_weights
    from l1ml.reweighting.report import quality_report, write_report

    names = _columns(columns)
    check_output_dir(out, io.input_files(original, target), force)
    units = dict(_unit(u, names) for u in unit or [])
    x_o = io.feature_matrix(io.read_table(original, names), names, original)
    x_t = io.feature_matrix(io.read_table(target, names), names, target)
    w_after = _weights(original, weight_column)
    w_before = _weights(original, original_weight)
    w_t = _weights(target, target_weight)
    with _progress_bar() as progress:
        task = progress.add_task("quality measures", total=len(names) + 2)
        report = quality_report(x_o, x_t, names, w_before, w_after, w_t, seed=seed)
        progress.advance(task)
        with atomic_dir(out, "reweight check", io.input_files(original, target), force) as staged:
            before_o = w_before if w_before is not None else _ones(len(x_o))
            weights_t = w_t if w_t is not None else _ones(len(x_t))
            plot_weights(w_after, staged / "weights.png")
            progress.advance(task)
            plots = ["weights.png"]
            for j, name in enumerate(names):
                file = f"compare_{_safe(name)}.png"
                plot_comparison(x_o[:, j], x_t[:, j], before_o, w_after, weights_t, name, staged / file,
                                unit=units.get(name, ""))
                plots.append(file)
                progress.advance(task)
            write_report(report, staged, plots)
    table = Table(title=f"reweighting quality ({out})")
    for header in ("measure", "before", "after"):
        table.add_column(header)
    table.add_row("hold-out AUC", f"{report.auc_before:.4f}", f"{report.auc_after:.4f}")
    table.add_row("effective size", f"{report.ess_before:.0f}", f"{report.ess_after:.0f}")
    for name, before, after in zip(names, report.ks_before, report.ks_after, strict=True):
        table.add_row(f"KS {name}", f"{before:.4f}", f"{after:.4f}")
    console = console_for()
    console.print(table)
    console.print("PASS: indistinguishable after reweighting" if report.passed
                  else "FAIL: a classifier still separates the samples (AUC > 0.55)")


def _ones(n: int):
    import numpy as np

    return np.ones(n)


def _unit(pair: str, names: list[str]) -> tuple[str, str]:
    name, sep, unit = pair.partition("=")
    if not sep or name not in names:
        raise L1MLError(f"bad --unit '{pair}'; expected NAME=UNIT with NAME one of {', '.join(names)}")
    return name, unit


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def _progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=True)
