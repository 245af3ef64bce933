"""Train the track-finding interaction network: float twin first, Brevitas QAT from its weights, QONNX export."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from l1ml.atomic import Force, atomic_dir, check_output_dir
from l1ml.console import console as console_for
from l1ml.errors import InputFileError, L1MLError
from l1ml.train.early_stopping import EarlyStopping

if TYPE_CHECKING:  # pragma: no cover
    from l1ml.simulation.track_graphs import SectorGraphs


@dataclass(frozen=True)
class TrackGNNConfig:
    hidden: int = 8
    steps: int = 1
    weight_bits: int = 6
    act_bits: int = 8
    input_bits: int = 8
    bias_bits: int = 8
    max_epochs: int = 30
    qat_epochs: int = 15
    patience: int = 4
    batch_size: int = 32
    lr: float = 3e-3
    threshold: float = 0.5  # working point on the edge score
    seed: int = 1

    def __post_init__(self) -> None:
        if self.steps not in (1, 2):
            raise L1MLError(f"steps={self.steps}: the interaction network does one or two message-passing steps")
        if not 0 < self.threshold < 1:
            raise L1MLError(f"threshold {self.threshold} must be a score in (0, 1)")


def split_events(event_id: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """60/20/20 train/validation/test graph indices, split by event so no event's hits are shared."""
    events = np.random.default_rng(seed).permutation(np.unique(event_id))
    a, b = int(round(0.6 * len(events))), int(round(0.8 * len(events)))
    parts = (events[:a], events[a:b], events[b:])
    if any(len(p) == 0 for p in parts):
        raise L1MLError(f"{len(events)} events are too few to split 60/20/20; simulate at least 5")
    return tuple(np.flatnonzero(np.isin(event_id, p)) for p in parts)  # type: ignore[return-value]


def _tensors(g: SectorGraphs):
    import torch

    return (torch.from_numpy(g.nodes), torch.from_numpy(g.edges),
            torch.from_numpy(g.node_valid[..., None].astype(np.float32)),
            torch.from_numpy(g.edge_valid[..., None].astype(np.float32)),
            torch.from_numpy(g.edge_label.astype(np.float32)), torch.from_numpy(g.edge_valid))


def _masked_loss(model, batch) -> tuple:
    import torch

    nodes, edges, nmask, emask, label, valid = batch
    logits = model(nodes, edges, nmask, emask)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[valid], label[valid])
    return loss, logits


def predict(model, g: SectorGraphs, batch_size: int = 64) -> np.ndarray:
    """Edge scores in [0, 1], (G, E)."""
    import torch

    model.eval()
    t = _tensors(g)
    out = []
    with torch.no_grad():
        for s in range(0, len(g), batch_size):
            out.append(torch.sigmoid(model(*(x[s:s + batch_size] for x in t[:4]))).numpy())
    return np.concatenate(out) if out else np.zeros(g.edge_valid.shape, np.float32)


def edge_metrics(score: np.ndarray, g: SectorGraphs, threshold: float) -> dict[str, float]:
    """ROC AUC over valid candidate edges; efficiency and purity of edges with score > threshold."""
    from sklearn.metrics import roc_auc_score

    s, y = score[g.edge_valid], g.edge_label[g.edge_valid]
    sel = s > threshold
    return {"auc": float(roc_auc_score(y, s)), "efficiency": float((sel & y).sum() / max(y.sum(), 1)),
            "purity": float((sel & y).sum() / max(sel.sum(), 1)), "valid_edges": int(len(y)),
            "true_edges": int(y.sum())}


def fit(model, train: SectorGraphs, val: SectorGraphs, cfg: TrackGNNConfig, epochs: int, lr: float, label: str,
        progress=None) -> dict:
    """Adam on the masked edge BCE, early stopping on validation loss; restores the best epoch."""
    import torch

    torch.manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    tr, va = _tensors(train), _tensors(val)
    gen = torch.Generator().manual_seed(cfg.seed)
    stopper, history = EarlyStopping(cfg.patience), []
    task = progress.add_task(label, total=epochs) if progress else None
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(train), generator=gen)
        for s in range(0, len(train), cfg.batch_size):
            i = perm[s:s + cfg.batch_size]
            opt.zero_grad()
            loss, _ = _masked_loss(model, [x[i] for x in tr])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            vloss = float(_masked_loss(model, va)[0])
        sched.step(vloss)
        history.append({"epoch": epoch, "val_loss": vloss})
        if progress:
            progress.update(task, advance=1, description=f"{label}: val loss {vloss:.4f}")
        if stopper.step(model, vloss):
            break
    if progress:
        progress.update(task, completed=epochs)
    stopper.restore(model)
    return {"epochs": len(history), "best_val_loss": stopper.best, "history": history}


def qonnx_check(path: Path, model, g: SectorGraphs) -> int:
    """Graphs whose qonnx ``execute_onnx`` logits differ from Brevitas's in any edge."""
    import torch
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    wrapper = ModelWrapper(str(path))
    t = _tensors(g)
    names = ("nodes", "edges", "node_mask", "edge_mask")
    model.eval()
    bad = 0
    with torch.no_grad():
        for i in range(len(g)):
            inputs = [x[i:i + 1] for x in t[:4]]
            ref = model(*inputs).numpy()
            out = execute_onnx(wrapper, {n: x.numpy() for n, x in zip(names, inputs, strict=True)})["edge_logits"]
            bad += int(not np.array_equal(out, ref))
    return bad


def load_hits(data: Path | None, events: int, pileup: float, seed: int):
    """Hits from a ``l1ml simulate tracks`` directory, or simulate ttbar with 2 GeV stubs."""
    import pandas as pd

    if data is not None:
        f = Path(data) / "hits.parquet" if Path(data).is_dir() else Path(data)
        if not f.exists():
            raise InputFileError(f"{f}: no hits table; make one with `l1ml simulate tracks --stub-pt 2 -o DIR`")
        return pd.read_parquet(f)
    from l1ml.simulation.pythia import Process
    from l1ml.simulation.tracker import TrackerConfig, TrackSample, simulate_tracks

    sample = TrackSample(process=Process.TTBAR, pileup=pileup, tracker=TrackerConfig(stub_pt_min=2.0))
    return simulate_tracks(events, seed, sample, workers=None, progress=False)["hits"]


def train_track_gnn(cfg: TrackGNNConfig, out: Path, events: int = 50, pileup: float = 200.0,
                    data: Path | None = None, console=None, graphs: SectorGraphs | None = None,
                    qonnx_graphs: int = 100, force: bool = False) -> dict:
    """Train float twin and QAT interaction network, export QONNX; everything lands in ``out`` at once."""
    check_output_dir(out, [data], force)  # before minutes of simulation and training
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from l1ml.models.track_gnn import GNNShape, InteractionNetwork, export, init_from_float
    from l1ml.simulation.track_graphs import build_graphs, static_edges

    t0 = time.perf_counter()
    loss_info = None
    if graphs is None:
        graphs, loss_info = build_graphs(load_hits(data, events, pileup, cfg.seed))
    geom = graphs.geometry
    senders, receivers = static_edges(geom)
    tr, va, te = split_events(graphs.event_id, cfg.seed)
    shape = GNNShape(hidden=cfg.hidden, steps=cfg.steps, input_bits=cfg.input_bits, weight_bits=cfg.weight_bits,
                     bias_bits=cfg.bias_bits, act_bits=cfg.act_bits)
    torch.manual_seed(cfg.seed)
    fmodel = InteractionNetwork(shape, senders, receivers, geom.n_nodes, quant=False)
    qmodel = InteractionNetwork(shape, senders, receivers, geom.n_nodes, quant=True)
    columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        fhist = fit(fmodel, graphs.select(tr), graphs.select(va), cfg, cfg.max_epochs, cfg.lr, "float twin",
                    progress)
        init_from_float(qmodel, fmodel)
        qhist = fit(qmodel, graphs.select(tr), graphs.select(va), cfg, cfg.qat_epochs, cfg.lr / 3,
                    "QAT (Brevitas)", progress)
    test = graphs.select(te)
    fmet = edge_metrics(predict(fmodel, test), test, cfg.threshold)
    qscore = predict(qmodel, test)
    qmet = edge_metrics(qscore, test, cfg.threshold)
    with atomic_dir(out, "train track-gnn", [data], force) as tmp:
        export(qmodel, geom.n_nodes, len(senders), str(tmp / "model.onnx"))
        torch.save(fmodel.state_dict(), tmp / "float_model.pt")
        np.savez_compressed(tmp / "test_graphs.npz", nodes=test.nodes, edges=test.edges,
                            node_mask=test.node_valid, edge_mask=test.edge_valid, edge_label=test.edge_label,
                            event_id=test.event_id, sector=test.sector)
        np.savez_compressed(tmp / "topology.npz", senders=senders, receivers=receivers)
        check = test.select(np.arange(min(qonnx_graphs, len(test))))
        result = {
            "config": asdict(cfg),
            "shape": asdict(shape),
            "geometry": {**asdict(geom), "slots_per_layer": geom.slots_per_layer, "n_nodes": geom.n_nodes,
                         "n_edges": int(len(senders)), "dphi_window": geom.dphi_window().tolist()},
            "graphs": {"train": int(len(tr)), "validation": int(len(va)), "test": int(len(te))},
            "segments": None if loss_info is None else {"total": loss_info.total, **loss_info.fractions()},
            "float": fmet,
            "qat": qmet,
            "qat_vs_float_auc": qmet["auc"] / fmet["auc"] - 1.0,
            "qonnx_graphs_checked": int(len(check)),
            "qonnx_vs_brevitas_mismatches": qonnx_check(tmp / "model.onnx", qmodel, check),
            "float_training": fhist,
            "qat_training": qhist,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        (tmp / "training.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def train_track_gnn_cmd(
    out: Annotated[Path, typer.Option("-o", "--out", help="Output directory: model.onnx, float_model.pt, "
                                      "training.json, test_graphs.npz, topology.npz.")] = Path("track_gnn"),
    events: Annotated[int, typer.Option(help="Simulated ttbar events (32 sector graphs each).")] = 50,
    pileup: Annotated[float, typer.Option(help="Mean pileup of the simulated events.")] = 200.0,
    data: Annotated[Path | None, typer.Option(help="Directory (or hits.parquet) from `l1ml simulate tracks "
                                              "--stub-pt 2` instead of simulating.")] = None,
    hidden: Annotated[int, typer.Option(help=(
        "Width of every MLP layer. 8 takes about 15 % of a xcvu13p's LUTs within 1 us at TMUX 18; 16 gains "
        "about 1 % AUC for 2.5x the LUTs (about 37 %, estimate)."))] = 8,
    steps: Annotated[int, typer.Option(help="Message-passing steps (1 or 2).")] = 1,
    weight_bits: Annotated[int, typer.Option(help="Weight bit width.")] = 6,
    act_bits: Annotated[int, typer.Option(help="Activation bit width.")] = 8,
    epochs: Annotated[int, typer.Option(help="Maximum float epochs (early stopping on validation loss).")] = 30,
    qat_epochs: Annotated[int, typer.Option(help="Maximum QAT epochs, starting from the float twin.")] = 15,
    seed: Annotated[int, typer.Option(help="Seed for simulation, split and initialisation.")] = 1,
    force: Force = False,
) -> None:
    """Train the track-finding interaction network (edge classifier on fixed-slot φ-sector hit graphs)
    with Brevitas QAT and its float twin; report edge ROC AUC, efficiency and purity for both and export
    the QAT model to QONNX. Defaults: 50 ttbar events at pileup 200 with 2 GeV stubs, hidden 8, 1 step.

    Example: l1ml train track-gnn --events 50 --pileup 200 -o track_gnn
    """

    console = console_for()
    cfg = TrackGNNConfig(hidden=hidden, steps=steps, weight_bits=weight_bits, act_bits=act_bits,
                         max_epochs=epochs, qat_epochs=qat_epochs, seed=seed)
    res = train_track_gnn(cfg, out, events=events, pileup=pileup, data=data, console=console, force=force)
    for kind in ("float", "qat"):
        m = res[kind]
        console.print(f"{kind:5s}: edge AUC {m['auc']:.4f}, efficiency {m['efficiency']:.3f}, purity "
                      f"{m['purity']:.3f} at score > {cfg.threshold}")
    console.print(f"qonnx vs Brevitas: {res['qonnx_vs_brevitas_mismatches']} mismatching graphs of "
                  f"{res['qonnx_graphs_checked']} → {out}/model.onnx")
