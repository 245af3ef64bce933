"""``l1ml demo``: simulate → train → export → compile → verify → report, on a built-in default model."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markdown import Markdown

from l1ml.console import console as console_for


class DemoModel(StrEnum):
    JET_MLP = "jet-mlp"  # 25,000 Pythia8 jets -> 16-64-32-32-5 MLP
    HGCAL_CNN = "hgcal-cnn"  # simulated HGCal trigger-cell clusters at pileup 200 -> small CNN
    TRACK_GNN = "track-gnn"  # ttbar + pileup 200 tracker stubs in phi-sector graphs -> interaction network
    ANOMALY = "anomaly"  # L1 objects of zero-bias, QCD and signal crossings at pileup 200 -> autoencoder score

    @property
    def default_events(self) -> int:
        return {DemoModel.JET_MLP: 25000, DemoModel.HGCAL_CNN: 12000, DemoModel.TRACK_GNN: 50,
                DemoModel.ANOMALY: ANOMALY_ZEROBIAS}[self]

    @property
    def default_vectors(self) -> tuple[int, int]:
        """(hls and rtl, qonnx) vectors of the verify stage."""
        return {DemoModel.TRACK_GNN: (1200, 1200), DemoModel.ANOMALY: (5000, 1000)}.get(self, (12000, 2000))


# the track GNN's demo budget: 1 us of the 12.5 us and a new event every 18 crossings (the TMUX period of
# the CMS Phase-2 track finder); the reuse factor (rows per lane) is swept to meet it
GNN_TMUX = 18
# the anomaly demo's zero-bias crossings (QCD: a quarter as many; each signal: a tenth); small enough for a
# few minutes on 2 cores, and 40 % of them (4,000) measure rates down to 100 kHz (10 events above threshold)
ANOMALY_ZEROBIAS = 10000


def _train(model: DemoModel, model_dir: Path, events: int, seed: int, console: Console, stage,
           force: bool) -> dict:
    """Simulate and train; returns the training summary (accuracies, Brevitas-vs-emulator check)."""
    if model is DemoModel.JET_MLP:
        from l1ml.simulation.jets import jets_dataset
        from l1ml.train.tabular import TabularConfig, train_tabular

        stage(f"1/5 simulate {events} jets (Pythia8 + fastjet anti-kT R=0.8; cached)")
        ds = jets_dataset(events, seed=seed)
        console.print(f"{len(ds.labels)} jets, classes {np.bincount(ds.labels).tolist()}, "
                      f"{ds.features.shape[1]} features")
        stage("2/5 train the QAT MLP and its float twin, export QONNX")
        return train_tabular(TabularConfig(seed=seed), model_dir, dataset=ds, console=console, force=force)
    if model is DemoModel.HGCAL_CNN:
        from l1ml.train.hgcal_cnn import HGCalCNNConfig, train_hgcal_cnn

        stage(f"1-2/5 simulate {events} HGCal clusters at pileup 200, train the QAT CNN and its float twin")
        return train_hgcal_cnn(HGCalCNNConfig(seed=seed), model_dir, n_events=events, console=console,
                               force=force)
    if model is DemoModel.ANOMALY:
        return _train_anomaly(model_dir, events, seed, console, stage, force)
    from l1ml.train.track_gnn import TrackGNNConfig, train_track_gnn

    stage(f"1-2/5 simulate {events} ttbar events at pileup 200 (Pythia8, 2 GeV stubs), build 32 phi-sector "
          "graphs each, train the QAT interaction network and its float twin")
    res = train_track_gnn(TrackGNNConfig(seed=seed), model_dir, events=events, pileup=200.0, console=console,
                          force=force)
    for kind in ("float", "qat"):
        m = res[kind]
        console.print(f"{kind:5s}: edge AUC [bold]{m['auc']:.4f}[/], efficiency {m['efficiency']:.3f}, purity "
                      f"{m['purity']:.3f} at score > {res['config']['threshold']}")
    return res


def _train_anomaly(model_dir: Path, events: int, seed: int, console: Console, stage, force: bool) -> dict:
    """Simulate L1 objects (cached) and train the autoencoder; print efficiencies and AUCs."""
    from l1ml.simulation.l1objects import l1objects_dataset
    from l1ml.train.anomaly import AnomalyConfig, default_sizes, efficiency_lines, train_anomaly

    sizes = default_sizes(events, max(events // 10, 1))
    stage(f"1/5 simulate L1 objects at pileup 200: {sizes['zerobias']} zero-bias, {sizes['qcd']} QCD and "
          f"{sizes['zprime_ttbar']} crossings per signal (Pythia8 + fastjet anti-kT R=0.4; cached)")
    ds = l1objects_dataset(sizes, seed=seed)
    console.print(f"{len(ds)} crossings: {ds.counts()}")
    stage("2/5 train the QAT autoencoder and its float twin on background, export QONNX (output = score)")
    res = train_anomaly(AnomalyConfig(seed=seed), model_dir, dataset=ds, console=console, force=force)
    for line in efficiency_lines(res):
        console.print(line)
    return res


def _summary(model: DemoModel, res: dict) -> tuple[str, int | None]:
    """One line on the trained model, and the Brevitas-vs-export mismatch count it reports."""
    if model is DemoModel.ANOMALY:
        emu = res["brevitas_vs_emulator"]
        if emu["mismatches"] is None:
            return f"[red]the emulator refused the model: {emu['error']}[/]", None
        return (f"Brevitas vs emulator: {emu['mismatches']} scores differ by more than float32 rounding "
                f"({emu['exactly_equal']} of {emu['events']} exactly equal)", emu["mismatches"])
    if model is DemoModel.TRACK_GNN:
        return (f"{res['graphs']['test']} test graphs; Brevitas vs qonnx: {res['qonnx_vs_brevitas_mismatches']} "
                f"mismatching graphs of {res['qonnx_graphs_checked']}", res["qonnx_vs_brevitas_mismatches"])
    return (f"float accuracy [bold]{res['float_accuracy']:.4f}[/], QAT accuracy [bold]{res['qat_accuracy']:.4f}[/] "
            f"on {res['test_events']} test events; Brevitas vs emulator: "
            f"{res['brevitas_vs_emulator_mismatches']} mismatches", res["brevitas_vs_emulator_mismatches"])


def _options(model: DemoModel):
    """Compile options; the GNN's reuse factor (rows per lane) is chosen by a sweep against the budget."""
    from l1ml.compile import AUTO_REUSE, CompileOptions

    if model is DemoModel.TRACK_GNN:
        return CompileOptions(tmux=GNN_TMUX, reuse_factor=AUTO_REUSE)
    return CompileOptions()


def _verify_data(model: DemoModel, model_dir: Path, g):
    from l1ml.backends.emulate import to_ir_layout

    if model is DemoModel.TRACK_GNN:
        from l1ml.verify.levels import load_vectors

        return load_vectors(model_dir / "test_graphs.npz", g)
    return to_ir_layout(g, np.load(model_dir / "all_inputs.npy"))


def run_demo(workdir: Path, jets: int = 25000, vectors: int = 12000, qonnx_vectors: int = 2000,
             console: Console | None = None, seed: int = 1, model: DemoModel = DemoModel.JET_MLP,
             force: bool = False) -> int:
    """Run the chain in ``workdir``, which holds two outputs, ``<model>/`` (training) and ``out/``
    (compile); all three follow ``l1ml.atomic`` and are checked before any work. ``workdir`` itself is
    never deleted. Returns the exit code (1 on any mismatch)."""
    from l1ml.atomic import check_output_dir, output_container
    from l1ml.compile import compile_model
    from l1ml.ir.graph import Graph
    from l1ml.verify.levels import Level, run_levels, write_verify_json

    console = console or console_for()
    check_output_dir(workdir, force=force, what="work directory")
    model_dir, out = Path(workdir) / model.value, Path(workdir) / "out"
    check_output_dir(model_dir, force=force)
    check_output_dir(out, [model_dir / "model.onnx"], force)
    workdir = output_container(workdir, "demo", force=force, what="work directory")
    model_dir, out = workdir / model.value, workdir / "out"
    t0 = time.perf_counter()

    def stage(msg: str) -> None:
        console.rule(f"[bold]{msg}[/]  [dim]{time.perf_counter() - t0:.0f} s[/]")

    res = _train(model, model_dir, jets, seed, console, stage, force)
    line, brevitas = _summary(model, res)
    console.print(line)

    stage("3/5 compile")
    rep = compile_model(model_dir / "model.onnx", out, _options(model), force=force)
    if "sweep" in rep:
        console.print(f"reuse factor {rep['sweep']['chosen_reuse_factor']} chosen by the sweep in report.md: "
                      f"latency {rep['latency']['cycles']} cycles, II {rep['ii']['cycles']}")
    console.print(f"wrote {out}/ (hls/, rtl/, model.l1ml.json, report.md, budget.png)")

    stage("4/5 verify")
    g = Graph.load(out / "model.l1ml.json")
    events = _verify_data(model, model_dir, g)
    results = []

    def show(r) -> None:
        colour = "green" if r.mismatches == 0 else "red"
        console.print(f"[{colour}]{r.line()}[/]  [dim]{r.seconds:.1f} s[/]")

    results += run_levels(out, [Level.QONNX], qonnx_vectors, data=events, progress=show)
    results += run_levels(out, [Level.HLS, Level.RTL], vectors, data=events, progress=show)
    write_verify_json(out, results)

    stage("5/5 report")
    console.print(Markdown((out / "report.md").read_text()))
    bad = sum(r.mismatches for r in results) + (1 if brevitas is None else brevitas)
    console.print(f"demo finished in {time.perf_counter() - t0:.0f} s; "
                  + ("[green]bit-exact at every level[/]" if not bad else f"[red]{bad} mismatching vectors[/]"))
    return 1 if bad else 0
