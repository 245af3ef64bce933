"""Train the jet-tagging MLP: float twin first, then Brevitas QAT from its weights; export QONNX."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from l1ml.atomic import atomic_dir, check_output_dir
from l1ml.errors import InputFileError
from l1ml.train.early_stopping import EarlyStopping


@dataclass(frozen=True)
class TabularConfig:
    hidden: tuple[int, ...] = (64, 32, 32)
    weight_bits: int = 6
    act_bits: int = 8
    input_bits: int = 8
    bias_bits: int = 8
    max_epochs: int = 60
    qat_epochs: int = 20  # QAT starts from the float twin, so it converges in fewer epochs
    patience: int = 5
    batch_size: int = 256
    lr: float = 2e-3
    seed: int = 1


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """60/20/20 train/validation/test indices."""
    idx = np.random.default_rng(seed).permutation(n)
    a, b = int(0.6 * n), int(0.8 * n)
    return idx[:a], idx[a:b], idx[b:]


def fit(model, x_tr, y_tr, x_va, y_va, cfg: TabularConfig, label: str, progress=None) -> dict:
    """Adam with early stopping on validation loss; restores the best epoch's weights."""
    import torch

    torch.manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    xv, yv = torch.from_numpy(x_va), torch.from_numpy(y_va)
    gen = torch.Generator().manual_seed(cfg.seed)
    stopper, history = EarlyStopping(cfg.patience), []
    task = progress.add_task(label, total=cfg.max_epochs) if progress else None
    for epoch in range(cfg.max_epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for s in range(0, len(xt), cfg.batch_size):
            i = perm[s:s + cfg.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xt[i]), yt[i])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            out = model(xv)
            vloss = float(loss_fn(out, yv))
            vacc = float((out.argmax(1) == yv).float().mean())
        sched.step(vloss)
        history.append({"epoch": epoch, "val_loss": vloss, "val_accuracy": vacc})
        if progress:
            progress.update(task, advance=1, description=f"{label}: val loss {vloss:.4f} acc {vacc:.3f}")
        if stopper.step(model, vloss):
            break
    if progress:
        progress.update(task, completed=cfg.max_epochs)
    stopper.restore(model)
    return {"epochs": len(history), "best_val_loss": stopper.best, "history": history}


def accuracy(model, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    import torch

    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(x)).numpy()
    return float((out.argmax(1) == y).mean()), out


def load_data(n_jets: int, data: Path | None, seed: int):
    from l1ml.simulation.jets import jets_dataset, load_jets

    if data is not None:
        if not Path(data).exists():
            raise InputFileError(f"{data}: no such jet table; make one with `l1ml simulate jets -o DIR`")
        return load_jets(data)
    return jets_dataset(n_jets, seed=seed)


def train_tabular(cfg: TabularConfig, out: Path, n_jets: int = 25000, data: Path | None = None,
                  console=None, dataset=None, force: bool = False) -> dict:
    """Train float twin and QAT model, export QONNX; everything lands in ``out`` at once."""
    check_output_dir(out, [data], force)  # before minutes of simulation and training
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from l1ml.backends.emulate import emulate
    from l1ml.models.tabular import MLPShape, export, float_mlp, init_from_float, qat_mlp

    t0 = time.perf_counter()
    ds = dataset if dataset is not None else load_data(n_jets, data, cfg.seed)
    x = ds.features.astype(np.float32)
    y = ds.labels.astype(np.int64)
    tr, va, te = split(len(x), cfg.seed)
    mean, std = x[tr].mean(0), x[tr].std(0) + 1e-6
    xs = ((x - mean) / std).astype(np.float32)
    shape = MLPShape(n_in=x.shape[1], hidden=cfg.hidden, n_out=int(y.max()) + 1, input_bits=cfg.input_bits,
                     weight_bits=cfg.weight_bits, bias_bits=cfg.bias_bits, act_bits=cfg.act_bits)
    torch.manual_seed(cfg.seed)
    fmodel, qmodel = float_mlp(shape), qat_mlp(shape)
    columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        fhist = fit(fmodel, xs[tr], y[tr], xs[va], y[va], cfg, "float twin", progress)
        init_from_float(qmodel, fmodel)
        qcfg = TabularConfig(**{**asdict(cfg), "max_epochs": cfg.qat_epochs, "lr": cfg.lr / 2})
        qhist = fit(qmodel, xs[tr], y[tr], xs[va], y[va], qcfg, "QAT (Brevitas)", progress)
    facc, _ = accuracy(fmodel, xs[te], y[te])
    qacc, qout = accuracy(qmodel, xs[te], y[te])
    with atomic_dir(out, "train tabular", [data], force) as tmp:
        export(qmodel, shape.n_in, str(tmp / "model.onnx"))
        torch.save(fmodel.state_dict(), tmp / "float_model.pt")
        np.save(tmp / "test_inputs.npy", xs[te])
        np.save(tmp / "all_inputs.npy", xs)  # every event, standardised: vectors for `l1ml verify --data`
        np.save(tmp / "test_labels.npy", y[te])
        np.save(tmp / "brevitas_test_outputs.npy", qout.astype(np.float32))
        # Brevitas <-> emulator on the test set: the first link of the bit-exact chain
        emu = emulate(tmp / "model.onnx", xs[te])
        brevitas_mismatches = int((emu.astype(np.float32) != qout).any(axis=1).sum())
        result = {
            "config": asdict(cfg),
            "shape": asdict(shape),
            "n_jets": int(len(x)),
            "feature_names": list(ds.feature_names),
            "class_names": ["q", "g", "W", "Z", "t"][: shape.n_out],
            "standardisation": {"mean": mean.tolist(), "std": std.tolist()},
            "float_accuracy": facc,
            "qat_accuracy": qacc,
            "emulator_accuracy": float((emu.argmax(1) == y[te]).mean()),
            "brevitas_vs_emulator_mismatches": brevitas_mismatches,
            "test_events": int(len(te)),
            "float_training": fhist,
            "qat_training": qhist,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        (tmp / "training.json").write_text(json.dumps(result, indent=1) + "\n")
    return result
