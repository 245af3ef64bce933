"""Train the anomaly-detection autoencoder on background only: float twin first, then Brevitas QAT from
its weights; export QONNX whose single output is the score; report signal efficiency at fixed
zero-bias rates and ROC AUC per signal, float vs QAT, with score plots."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from l1ml.atomic import Force, atomic_dir, check_output_dir
from l1ml.console import console as console_for
from l1ml.errors import InputFileError, L1MLError
from l1ml.train.early_stopping import EarlyStopping

if TYPE_CHECKING:  # pragma: no cover
    from l1ml.simulation.l1objects import L1Dataset


@dataclass(frozen=True)
class AnomalyConfig:
    encoder: tuple[int, ...] = (32,)
    latent: int = 8
    decoder: int = 32
    input_bits: int = 10
    weight_bits: int = 8
    act_bits: int = 8
    max_epochs: int = 60
    qat_epochs: int = 20
    patience: int = 6
    batch_size: int = 256
    lr: float = 3e-3
    seed: int = 1

    def __post_init__(self) -> None:
        if self.latent < 1 or self.decoder < 1 or any(h < 1 for h in self.encoder):
            raise L1MLError(f"layer widths {self.encoder}, {self.latent}, {self.decoder} must all be >= 1")


def split_background(sample: np.ndarray, background: tuple[int, ...], seed: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """50/10/40 train/validation/test indices of every background sample (the large test share measures
    low rates); signal events are never trained on and are all test events."""
    rng = np.random.default_rng([seed, 0x4145])
    parts: list[list[np.ndarray]] = [[], [], []]
    for b in background:
        idx = rng.permutation(np.flatnonzero(sample == b))
        a, c = int(0.5 * len(idx)), int(0.6 * len(idx))
        for k, part in enumerate((idx[:a], idx[a:c], idx[c:])):
            parts[k].append(part)
    tr, va, te = (np.sort(np.concatenate(p)) for p in parts)
    if not len(tr) or not len(va) or not len(te):
        raise L1MLError(f"{len(sample)} events leave an empty train/validation/test background split; "
                        "simulate at least 10 zero-bias crossings")
    return tr, va, te


def fit(model, x_tr: np.ndarray, x_va: np.ndarray, cfg: AnomalyConfig, epochs: int, lr: float, label: str,
        progress=None) -> dict:
    """Adam on the mean score (the mean squared reconstruction error x 57), early stopping on validation."""
    import torch

    torch.manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
    xt, xv = torch.from_numpy(x_tr), torch.from_numpy(x_va)
    gen = torch.Generator().manual_seed(cfg.seed)
    stopper, history = EarlyStopping(cfg.patience), []
    task = progress.add_task(label, total=epochs) if progress else None
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for s in range(0, len(xt), cfg.batch_size):
            opt.zero_grad()
            loss = model(xt[perm[s:s + cfg.batch_size]]).mean()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            vloss = float(model(xv).mean())
        sched.step(vloss)
        history.append({"epoch": epoch, "val_mean_score": vloss})
        if progress:
            progress.update(task, advance=1, description=f"{label}: validation mean score {vloss:.4f}")
        if stopper.step(model, vloss):
            break
    if progress:
        progress.update(task, completed=epochs)
    stopper.restore(model)
    return {"epochs": len(history), "best_val_mean_score": stopper.best, "history": history}


def scores(model, x: np.ndarray, batch: int = 4096) -> np.ndarray:
    """The model's (N,) anomaly scores, float32 as Brevitas/torch computes them."""
    import torch

    model.eval()
    with torch.no_grad():
        out = [model(torch.from_numpy(x[s:s + batch])).numpy()[:, 0] for s in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def score_agreement(reference: np.ndarray, other: np.ndarray) -> dict[str, Any]:
    """Exactly equal scores, and scores differing by more than float32 rounding of a 57-term sum."""
    ref, oth = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    diff = np.abs(ref - oth)
    tol = 64 * np.finfo(np.float32).eps * np.maximum(np.abs(ref), 1e-30)
    return {"events": int(len(ref)), "exactly_equal": int((diff == 0).sum()),
            "mismatches": int((diff > tol).sum()),
            "max_relative_difference": float((diff / np.maximum(np.abs(ref), 1e-30)).max()) if len(ref) else 0.0}


def qonnx_scores(path: Path, x: np.ndarray) -> np.ndarray:
    """Scores from qonnx ``execute_onnx`` (float32), one event at a time as the exported batch is 1."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    w = ModelWrapper(str(path))
    iname, oname = w.graph.input[0].name, w.graph.output[0].name
    return np.array([execute_onnx(w, {iname: x[i:i + 1]})[oname].ravel()[0] for i in range(len(x))], np.float32)


def load_events(data: Path | None, sizes: dict[str, int], seed: int) -> L1Dataset:
    """An ``l1ml simulate l1-objects`` directory, or simulate (cached in ``~/.cache/l1ml/l1objects``)."""
    from l1ml.simulation.l1objects import l1objects_dataset, load_l1objects

    if data is not None:
        if not Path(data).exists():
            raise InputFileError(f"{data}: no such L1-objects dataset; make one with `l1ml simulate l1-objects -o DIR`")
        return load_l1objects(data)
    return l1objects_dataset(sizes, seed=seed)


def train_anomaly(cfg: AnomalyConfig, out: Path, sizes: dict[str, int] | None = None, data: Path | None = None,
                  console=None, dataset: L1Dataset | None = None, qonnx_events: int = 200,
                  force: bool = False) -> dict:
    """Train float twin and QAT autoencoder on background, export QONNX, measure; all lands in ``out`` at once."""
    check_output_dir(out, [data], force)  # before minutes of simulation and training
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from l1ml.models.anomaly import AEShape, autoencoder, export, init_from_float, scale_features
    from l1ml.simulation.l1objects import FEATURE_NAMES, SAMPLE_NAMES, SIGNAL_NAMES, ZEROBIAS
    from l1ml.train import anomaly_metrics as am

    t0 = time.perf_counter()
    ds = dataset if dataset is not None else load_events(data, sizes or default_sizes(20000, 2000), cfg.seed)
    x = scale_features(ds.features)
    background = tuple(i for i, n in enumerate(SAMPLE_NAMES) if n not in SIGNAL_NAMES)
    tr, va, te = split_background(ds.sample, background, cfg.seed)
    signals = [n for n in SIGNAL_NAMES if (ds.sample == SAMPLE_NAMES.index(n)).any()]
    if not signals:
        raise L1MLError("the dataset has no signal events; simulate some with --signal-events")
    shape = AEShape(n_in=x.shape[1], encoder=cfg.encoder, latent=cfg.latent, decoder=cfg.decoder,
                    input_bits=cfg.input_bits, weight_bits=cfg.weight_bits, act_bits=cfg.act_bits)
    torch.manual_seed(cfg.seed)
    fmodel, qmodel = autoencoder(shape, quant=False), autoencoder(shape, quant=True)
    columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        fhist = fit(fmodel, x[tr], x[va], cfg, cfg.max_epochs, cfg.lr, "float twin", progress)
        init_from_float(qmodel, fmodel)
        qhist = fit(qmodel, x[tr], x[va], cfg, cfg.qat_epochs, cfg.lr / 3, "QAT (Brevitas)", progress)

    test_sets = {name: np.intersect1d(te, np.flatnonzero(ds.sample == i)) if i in background
                 else np.flatnonzero(ds.sample == i) for i, name in enumerate(SAMPLE_NAMES)}
    test_sets = {n: idx for n, idx in test_sets.items() if len(idx)}
    per_model = {"float": {n: scores(fmodel, x[idx]) for n, idx in test_sets.items()},
                 "qat": {n: scores(qmodel, x[idx]) for n, idx in test_sets.items()}}
    zb = SAMPLE_NAMES[ZEROBIAS]
    if zb not in test_sets:
        raise L1MLError("the dataset has no zero-bias crossings to measure the rate on; simulate some with --events")
    rate = am.headline_rate(len(test_sets[zb]))
    others = [n for n in test_sets if n != zb]
    metrics = {m: am.trigger_metrics(s, zb, others, am.REPORT_RATES_KHZ) for m, s in per_model.items()}
    thresholds = {m: am.threshold_at_rate(s[zb], rate) for m, s in per_model.items()}
    order = np.concatenate(list(test_sets.values()))  # every test event, grouped by sample
    with atomic_dir(out, "train anomaly", [data], force) as tmp:
        export(qmodel, shape, tmp / "model.onnx")
        torch.save(fmodel.state_dict(), tmp / "float_model.pt")
        np.save(tmp / "test_inputs.npy", x[order])
        np.save(tmp / "test_samples.npy", ds.sample[order])
        np.save(tmp / "all_inputs.npy", x[order])  # scaled test events: vectors for `l1ml verify --data`
        qout = np.concatenate(list(per_model["qat"].values()))
        np.save(tmp / "brevitas_test_scores.npy", qout)
        np.save(tmp / "float_test_scores.npy", np.concatenate(list(per_model["float"].values())))
        am.score_plot(per_model, thresholds, rate, tmp / "scores.png")
        am.roc_plot(per_model, zb, signals, tmp / "roc.png")
        check = np.linspace(0, len(order) - 1, min(qonnx_events, len(order))).astype(int)
        result = {
            "config": asdict(cfg),
            "shape": asdict(shape),
            "feature_names": list(FEATURE_NAMES),
            "scaling": "pT -> log2(1 + pT/GeV) / 4, eta -> eta / 4, phi -> phi / 4 (l1ml.models.anomaly.scale_features)",
            "events": {n: int(len(ds.sample[ds.sample == i])) for i, n in enumerate(SAMPLE_NAMES)},
            "split": {"train": int(len(tr)), "validation": int(len(va)),
                      "test": {n: int(len(idx)) for n, idx in test_sets.items()}},
            "bunch_crossing_khz": am.BUNCH_CROSSING_KHZ,
            "headline_rate_khz": rate,
            "min_background_events_above": am.MIN_EVENTS_ABOVE,
            "float": metrics["float"],
            "qat": metrics["qat"],
            "thresholds_at_headline_rate": thresholds,
            "qonnx_vs_brevitas": score_agreement(qout[check], qonnx_scores(tmp / "model.onnx", x[order][check])),
            "brevitas_vs_emulator": _emulator_check(tmp / "model.onnx", x[order], qout),
            "float_training": fhist,
            "qat_training": qhist,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        (tmp / "training.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def _emulator_check(path: Path, x: np.ndarray, brevitas: np.ndarray) -> dict[str, Any]:
    """Brevitas scores against the bit-exact emulator's (exact reals): the first link of the chain."""
    from l1ml.backends.emulate import emulate

    try:
        emu = emulate(path, x)
    except L1MLError as exc:  # the compiler refuses the model: say so in training.json, the demo fails on it
        return {"events": int(len(x)), "mismatches": None, "error": str(exc)}
    return score_agreement(emu.reshape(len(x)), brevitas)


def default_sizes(events: int, signal_events: int, qcd_events: int | None = None) -> dict[str, int]:
    """Crossings per sample: ``events`` zero-bias, a quarter as many QCD, ``signal_events`` per signal."""
    from l1ml.simulation.l1objects import SIGNAL_NAMES

    return {"zerobias": events, "qcd": events // 4 if qcd_events is None else qcd_events,
            **{s: signal_events for s in SIGNAL_NAMES}}


def efficiency_lines(res: dict) -> list[str]:
    """One line per signal: AUC and efficiency at the headline rate, float and QAT."""
    rate = res["headline_rate_khz"]
    lines = []
    for name in res["qat"]:
        parts = []
        for model in ("float", "qat"):
            m = res[model][name]
            [at] = [a for a in m["at_rate"] if a["rate_khz"] == rate]
            parts.append(f"{model} AUC {m['auc']:.3f}, eff {at['signal_efficiency']:.3f}")
        lines.append(f"{name:13s} at {rate:g} kHz: " + "; ".join(parts))
    return lines


def train_anomaly_cmd(
    out: Annotated[Path, typer.Option("-o", "--out", help="Output directory: model.onnx, float_model.pt, "
                                      "training.json, scores.png, roc.png, test_inputs.npy.")] = Path("anomaly_model"),
    events: Annotated[int, typer.Option(help="Simulated zero-bias crossings at pileup 200 (QCD: a quarter "
                                        "as many).")] = 20000,
    signal_events: Annotated[int, typer.Option(help="Simulated crossings per signal process.")] = 2000,
    data: Annotated[Path | None, typer.Option(help="Directory from `l1ml simulate l1-objects` instead of "
                                              "simulating.")] = None,
    latent: Annotated[int, typer.Option(help="Latent width.")] = 8,
    weight_bits: Annotated[int, typer.Option(help="Weight bit width.")] = 8,
    act_bits: Annotated[int, typer.Option(help="Activation bit width.")] = 8,
    epochs: Annotated[int, typer.Option(help="Maximum float epochs (early stopping on validation loss).")] = 60,
    qat_epochs: Annotated[int, typer.Option(help="Maximum QAT epochs, starting from the float twin.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed for simulation, split and initialisation.")] = 1,
    force: Force = False,
) -> None:
    """Train the anomaly-detection autoencoder (57 -> 32 -> 8 -> 32 -> 32 (skip) -> 57, score = sum of
    squared reconstruction errors) on zero-bias and QCD crossings with Brevitas QAT and its float twin;
    report ROC AUC and signal efficiency at fixed zero-bias rates per signal, and export the QAT model,
    whose single output is the score, to QONNX.

    Example: l1ml train anomaly --events 20000 --signal-events 2000 -o anomaly_model
    """

    console = console_for()
    if events < 10 or signal_events < 1:
        raise L1MLError("--events must be at least 10 and --signal-events at least 1")
    cfg = AnomalyConfig(latent=latent, weight_bits=weight_bits, act_bits=act_bits, max_epochs=epochs,
                        qat_epochs=qat_epochs, seed=seed)
    res = train_anomaly(cfg, out, sizes=default_sizes(events, signal_events), data=data, console=console,
                        force=force)
    for line in efficiency_lines(res):
        console.print(line)
    console.print(f"qonnx vs Brevitas: {res['qonnx_vs_brevitas']['mismatches']} mismatching scores of "
                  f"{res['qonnx_vs_brevitas']['events']} → {out}/model.onnx")
