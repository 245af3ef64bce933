"""``l1ml demo``: simulate → train → export → compile → verify → report, on the built-in default."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markdown import Markdown


def run_demo(workdir: Path, jets: int = 25000, vectors: int = 10000, qonnx_vectors: int = 2000,
             console: Console | None = None, seed: int = 1) -> int:
    from l1ml.compile import CompileOptions, compile_model
    from l1ml.simulation.jets import jets_dataset
    from l1ml.train.tabular import TabularConfig, train_tabular
    from l1ml.verify.levels import Level, run_levels, write_verify_json

    console = console or Console()
    workdir = Path(workdir)
    t0 = time.perf_counter()

    def stage(msg: str) -> None:
        console.rule(f"[bold]{msg}[/]  [dim]{time.perf_counter() - t0:.0f} s[/]")

    stage(f"1/5 simulate {jets} jets (Pythia8 + fastjet anti-kT R=0.8; cached)")
    ds = jets_dataset(jets, seed=seed)
    console.print(f"{len(ds.labels)} jets, classes {np.bincount(ds.labels).tolist()}, {ds.features.shape[1]} features")

    stage("2/5 train the QAT MLP and its float twin, export QONNX")
    model_dir = workdir / "jet_model"
    res = train_tabular(TabularConfig(seed=seed), model_dir, dataset=ds, console=console)
    console.print(f"float accuracy [bold]{res['float_accuracy']:.4f}[/], QAT accuracy [bold]{res['qat_accuracy']:.4f}[/] "
                  f"on {res['test_events']} test jets; Brevitas vs emulator: "
                  f"{res['brevitas_vs_emulator_mismatches']} mismatches")

    stage("3/5 compile")
    out = workdir / "out"
    rep = compile_model(model_dir / "model.onnx", out, CompileOptions())
    console.print(f"wrote {out}/ (hls/, rtl/, model.l1ml.json, report.md, budget.png)")

    stage("4/5 verify")
    events = np.load(model_dir / "all_inputs.npy")
    results = []

    def show(r) -> None:
        colour = "green" if r.mismatches == 0 else "red"
        console.print(f"[{colour}]{r.line()}[/]  [dim]{r.seconds:.1f} s[/]")

    results += run_levels(out, [Level.QONNX], qonnx_vectors, data=events, progress=show)
    results += run_levels(out, [Level.HLS, Level.RTL], vectors, data=events, progress=show)
    write_verify_json(out, results)

    stage("5/5 report")
    console.print(Markdown((out / "report.md").read_text()))
    bad = sum(r.mismatches for r in results) + res["brevitas_vs_emulator_mismatches"]
    console.print(f"demo finished in {time.perf_counter() - t0:.0f} s; "
                  + ("[green]bit-exact at every level[/]" if not bad else f"[red]{bad} mismatching vectors[/]"))
    del rep
    return 1 if bad else 0
