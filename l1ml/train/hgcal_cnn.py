"""Train the HGCal cluster CNN: float twin first, then Brevitas QAT from its weights; export QONNX.

The images are preprocessed outside the model (``preprocess``), so the exported network sees the same
numbers the firmware will: the preprocessing is part of the digitisation in front of the trigger, and its
constants are stored in ``training.json``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
from rich.console import Console

from l1ml.atomic import Force, atomic_dir, check_output_dir
from l1ml.console import console as console_for
from l1ml.errors import InputFileError, L1MLError
from l1ml.models.hgcal_cnn import Downsample

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

CLASS_NAMES = ("EM", "hadronic", "pileup")


class Preprocessing(Enum):
    """How trigger-cell energies (GeV) become network inputs."""

    LINEAR = "linear"  # x = E / e0
    LOG1P = "log1p"  # x = ln(1 + E / e0): compresses the heavy tail, keeps cells near threshold resolved


@dataclass(frozen=True)
class HGCalCNNConfig:
    """Everything that determines a training run; stored in training.json."""

    conv_channels: tuple[int, ...] = (8,)
    downsample: Downsample = Downsample.STRIDE
    dense: tuple[int, ...] = (16,)
    weight_bits: int = 6
    act_bits: int = 8
    input_bits: int = 8
    bias_bits: int = 8
    # linear in 1 GeV units measured 4 % more accurate than log1p (2026-12-05) (docs/zoo.md)
    preprocessing: Preprocessing = Preprocessing.LINEAR
    e0_gev: float = 1.0  # energy unit of the preprocessing
    pileup: float = 200.0  # mean pileup when simulating: the pileup class needs pileup > 0
    max_epochs: int = 40
    qat_epochs: int = 15  # QAT starts from the float twin, so it converges in fewer epochs
    patience: int = 5
    batch_size: int = 128
    lr: float = 3e-3
    seed: int = 1
    class_names: tuple[str, ...] = field(default=CLASS_NAMES)


def preprocess(images: np.ndarray, cfg: HGCalCNNConfig) -> np.ndarray:
    """Trigger-cell energies in GeV (N, C, H, W) -> float32 network inputs, as stored in training.json."""
    e = np.clip(np.asarray(images, dtype=np.float64), 0.0, None) / cfg.e0_gev
    x = np.log1p(e) if cfg.preprocessing is Preprocessing.LOG1P else e
    return x.astype(np.float32)


def load_data(n_events: int, data: Path | None, cfg: HGCalCNNConfig) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels from a `l1ml simulate hgcal` dataset, or simulated now with ``cfg.pileup``."""
    from l1ml.simulation.hgcal import simulate_hgcal
    from l1ml.simulation.hgcal_io import load_hgcal, load_hgcal_table

    if data is not None:
        if not Path(data).exists():
            raise InputFileError(f"{data}: no such HGCal dataset; make one with "
                                 "`l1ml simulate hgcal --events 15000 --pileup 200 -o DIR`")
        images, labels, _ = load_hgcal(Path(data))
        return images, labels
    table = simulate_hgcal(n_events, seed=cfg.seed, pileup=cfg.pileup)["clusters"]
    images, labels, _ = load_hgcal_table(table, "the simulated clusters")
    return images, labels


def _as_arrays(dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    """A clusters DataFrame (from ``simulate_hgcal``) or an ``(images, labels)`` pair."""
    if isinstance(dataset, tuple):
        return np.asarray(dataset[0], dtype=np.float32), np.asarray(dataset[1], dtype=np.int64)
    from l1ml.simulation.hgcal_io import load_hgcal_table

    images, labels, _ = load_hgcal_table(dataset, "the clusters table")
    return images, labels


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def class_metrics(logits: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> dict:
    """Accuracy and one-vs-rest ROC AUC per class (scores: softmax of the logits)."""
    from sklearn.metrics import roc_auc_score

    p = _softmax(np.asarray(logits, dtype=np.float64))
    auc = {names[k]: float(roc_auc_score(y == k, p[:, k])) for k in range(p.shape[1]) if 0 < (y == k).sum() < len(y)}
    return {"accuracy": float((p.argmax(1) == y).mean()), "roc_auc": auc}


def _brevitas_vs_emulator(onnx_path: Path, x: np.ndarray, qout: np.ndarray, y: np.ndarray) -> dict:
    """Compare the exported model in the bit-exact emulator with Brevitas. A variant the compiler
    cannot read is reported as skipped (with the compiler's reason) rather than losing the training."""
    from l1ml.backends.emulate import emulate
    from l1ml.load import load_graph

    try:
        g = load_graph(onnx_path)
    except L1MLError as exc:
        return {"status": "skipped", "reason": str(exc)}

    emu = np.asarray(emulate(g, x))  # x in the exported model's NCHW layout
    mismatches = int((emu.astype(np.float32) != qout).any(axis=1).sum())
    return {"status": "ran", "mismatches": mismatches, "events": int(len(x)),
            "emulator_accuracy": float((emu.argmax(1) == y).mean())}


def _roc_plot(curves: dict[str, np.ndarray], y: np.ndarray, names: tuple[str, ...], path: Path) -> None:
    """One-vs-rest ROC curves per class, float twin and QAT model on one figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4), constrained_layout=True)
    for k, (ax, name) in enumerate(zip(np.atleast_1d(axes), names, strict=True)):
        for (label, logits), style in zip(curves.items(), ("-", "--"), strict=False):
            fpr, tpr, _ = roc_curve(y == k, _softmax(logits.astype(np.float64))[:, k])
            ax.plot(fpr, tpr, style, label=f"{label} (AUC {np.trapezoid(tpr, fpr):.3f})")
        ax.plot([0, 1], [0, 1], ":", color="grey", lw=0.8)
        ax.set(title=f"{name} vs rest", xlabel="false positive rate", ylabel="true positive rate",
               xlim=(0, 1), ylim=(0, 1.01))
        ax.legend(loc="lower right")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def train_hgcal_cnn(cfg: HGCalCNNConfig, out: Path, n_events: int = 15000, data: Path | None = None,
                    console: Console | None = None, dataset: pd.DataFrame | tuple | None = None,
                    force: bool = False) -> dict:
    """Train float twin and QAT CNN, export QONNX, check it against the emulator; ``out`` appears at once."""
    check_output_dir(out, [data], force)  # before minutes of simulation and training
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from l1ml.models.hgcal_cnn import CNNShape, export, float_cnn, init_from_float, qat_cnn
    from l1ml.train.tabular import TabularConfig, accuracy, fit, split

    t0 = time.perf_counter()
    images, y = _as_arrays(dataset) if dataset is not None else load_data(n_events, data, cfg)
    n_out = len(cfg.class_names)
    if y.min() < 0 or y.max() >= n_out:
        raise L1MLError(f"labels must lie in 0..{n_out - 1} ({', '.join(cfg.class_names)}), got "
                        f"{y.min()}..{y.max()}")
    if len(np.unique(y)) < n_out:
        raise L1MLError(f"the clusters hold only the classes {sorted(set(y.tolist()))}; the pileup class "
                        "needs pileup > 0 (simulate with --pileup 200)")
    x = preprocess(images, cfg)
    tr, va, te = split(len(x), cfg.seed)
    shape = CNNShape(in_channels=x.shape[1], size=x.shape[2], conv_channels=cfg.conv_channels,
                     downsample=cfg.downsample, dense=cfg.dense, n_out=n_out, input_bits=cfg.input_bits,
                     weight_bits=cfg.weight_bits, bias_bits=cfg.bias_bits, act_bits=cfg.act_bits)
    fit_cfg = TabularConfig(max_epochs=cfg.max_epochs, patience=cfg.patience, batch_size=cfg.batch_size,
                            lr=cfg.lr, seed=cfg.seed)
    qat_cfg = TabularConfig(max_epochs=cfg.qat_epochs, patience=cfg.patience, batch_size=cfg.batch_size,
                            lr=cfg.lr / 2, seed=cfg.seed)
    torch.manual_seed(cfg.seed)
    fmodel, qmodel = float_cnn(shape), qat_cnn(shape)
    columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        fhist = fit(fmodel, x[tr], y[tr], x[va], y[va], fit_cfg, "float twin", progress)
        init_from_float(qmodel, fmodel)
        qhist = fit(qmodel, x[tr], y[tr], x[va], y[va], qat_cfg, "QAT (Brevitas)", progress)
    _, fout = accuracy(fmodel, x[te], y[te])
    _, qout = accuracy(qmodel, x[te], y[te])
    fmet, qmet = class_metrics(fout, y[te], cfg.class_names), class_metrics(qout, y[te], cfg.class_names)
    with atomic_dir(out, "train hgcal-cnn", [data], force) as tmp:
        export(qmodel, shape, str(tmp / "model.onnx"))
        torch.save(fmodel.state_dict(), tmp / "float_model.pt")
        np.save(tmp / "test_inputs.npy", x[te])
        np.save(tmp / "all_inputs.npy", x)  # every cluster, preprocessed: vectors for `l1ml verify --data`
        np.save(tmp / "test_labels.npy", y[te])
        np.save(tmp / "brevitas_test_outputs.npy", qout.astype(np.float32))
        _roc_plot({"float twin": fout, "QAT (Brevitas)": qout}, y[te], cfg.class_names, tmp / "roc.png")
        check = _brevitas_vs_emulator(tmp / "model.onnx", x[te], qout.astype(np.float32), y[te])
        result = {
            "config": {**asdict(cfg), "downsample": cfg.downsample.value,
                       "preprocessing": cfg.preprocessing.value},
            "shape": {**asdict(shape), "downsample": shape.downsample.value},
            "n_clusters": int(len(x)),
            "class_names": list(cfg.class_names),
            "class_counts": np.bincount(y, minlength=n_out).tolist(),
            "input_layout": "NCHW (N, 4 layer groups, 8 rows, 8 cols), float32",
            "preprocessing": {"kind": cfg.preprocessing.value, "e0_gev": cfg.e0_gev,
                              "formula": ("x = ln(1 + max(E, 0) / e0)" if cfg.preprocessing is Preprocessing.LOG1P
                                          else "x = max(E, 0) / e0"),
                              "energy_unit": "GeV per trigger cell (EM scale), as in clusters.parquet"},
            "float": fmet,
            "qat": qmet,
            "float_accuracy": fmet["accuracy"],
            "qat_accuracy": qmet["accuracy"],
            "qat_minus_float_accuracy": qmet["accuracy"] - fmet["accuracy"],
            "brevitas_vs_emulator": check,
            "brevitas_vs_emulator_mismatches": check.get("mismatches"),
            "test_events": int(len(te)),
            "float_training": fhist,
            "qat_training": qhist,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        (tmp / "training.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise typer.BadParameter(f"{what} must be comma-separated integers such as 8,8, got '{text}'") from None
    if not values or min(values) <= 0:
        raise typer.BadParameter(f"{what} needs at least one positive width, got '{text}'")
    return values


def train_hgcal_cnn_cmd(
    out: Annotated[Path, typer.Option("-o", "--out", help="Output directory (replaced only if l1ml wrote it): model.onnx, "
                                      "float_model.pt, training.json, roc.png, test/all inputs.")] = Path("hgcal_cnn"),
    events: Annotated[int, typer.Option(help="Clusters to simulate (a third each EM, hadronic, pileup).")] = 15000,
    data: Annotated[Path | None, typer.Option(help="Dataset from `l1ml simulate hgcal --pileup 200` (directory "
                                              "or clusters.parquet) instead of simulating.")] = None,
    pileup: Annotated[float, typer.Option(help="Mean pileup when simulating; must be > 0 for the pileup "
                                          "class.")] = 200.0,
    conv: Annotated[str, typer.Option(help="Output channels of each 3×3 convolution; each halves the "
                                      "image.")] = "8",
    downsample: Annotated[Downsample, typer.Option(help="stride: 3×3 convolutions with stride 2; maxpool: "
                                                   "stride 1 then 2×2 max pooling.")] = Downsample.STRIDE,
    dense: Annotated[str, typer.Option(help="Hidden dense widths after the convolutions.")] = "16",
    weight_bits: Annotated[int, typer.Option(help="Weight bit width.")] = 6,
    act_bits: Annotated[int, typer.Option(help="Activation bit width (unsigned, FLOOR).")] = 8,
    input_bits: Annotated[int, typer.Option(help="Input bit width (signed, rounded).")] = 8,
    preprocessing: Annotated[Preprocessing, typer.Option(help="linear: x = E/e0; log1p: x = ln(1 + E/e0) "
                                                         "(E in GeV).")] = Preprocessing.LINEAR,
    e0: Annotated[float, typer.Option(help="Energy unit e0 of the preprocessing, GeV.")] = 1.0,
    epochs: Annotated[int, typer.Option(help="Maximum float epochs (early stopping on validation loss).")] = 40,
    qat_epochs: Annotated[int, typer.Option(help="Maximum QAT epochs, starting from the float twin.")] = 15,
    seed: Annotated[int, typer.Option(help="Seed for simulation, split and initialisation.")] = 1,
    force: Force = False,
) -> None:
    """Train the HGCal cluster CNN (EM / hadronic / pileup; default 4×8×8 → Conv 3×3 stride 2 (8 ch) →
    Dense 16 → 3) with Brevitas QAT and its float twin, report accuracy and ROC AUC per class for both,
    and export the QAT model to QONNX. Inputs are cell energies / 1 GeV (see --preprocessing). Simulating
    15,000 clusters with pileup 200 takes ~4 minutes, training 2-6 minutes on 2 shared cores.

    Example: l1ml train hgcal-cnn --events 15000 -o hgcal_cnn
    (or simulate once with `l1ml simulate hgcal --events 15000 --pileup 200 -o data/hgcal15k`, then
    `l1ml train hgcal-cnn --data data/hgcal15k -o hgcal_cnn`)
    """

    if e0 <= 0:
        raise typer.BadParameter(f"--e0 must be a positive energy in GeV, got {e0}")
    cfg = HGCalCNNConfig(conv_channels=_ints(conv, "--conv"), downsample=downsample, dense=_ints(dense, "--dense"),
                         weight_bits=weight_bits, act_bits=act_bits, input_bits=input_bits,
                         preprocessing=preprocessing, e0_gev=e0, pileup=pileup, max_epochs=epochs,
                         qat_epochs=qat_epochs, seed=seed)
    console = console_for()
    res = train_hgcal_cnn(cfg, out, n_events=events, data=data, console=console, force=force)
    for label, key in (("float twin", "float"), ("QAT", "qat")):
        aucs = ", ".join(f"{k} {v:.4f}" for k, v in res[key]["roc_auc"].items())
        console.print(f"{label}: accuracy {res[key]['accuracy']:.4f}; ROC AUC {aucs}")
    check = res["brevitas_vs_emulator"]
    if check["status"] == "ran":
        console.print(f"Brevitas vs emulator: {check['mismatches']} mismatches on {check['events']} clusters")
    else:
        console.print(f"Brevitas vs emulator: skipped ({check['reason']})")
    console.print(f"→ {out}/model.onnx")
