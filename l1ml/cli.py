"""The ``l1ml`` command line. Heavy imports happen inside commands so that ``--help`` is instant."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text
from typer._click.exceptions import ClickException

from l1ml import defaults
from l1ml.atomic import OUT_HELP, Force
from l1ml.build import build_cmd
from l1ml.cli_rtl import app as rtl_app
from l1ml.console import console as console_for
from l1ml.console import set_help_width
from l1ml.errors import L1MLError
from l1ml.estimate.cli import estimate_cmd
from l1ml.limits import (
    BUDGET_LIMIT_HELP,
    CLOCK_LIMIT_HELP,
    REUSE_LIMIT_HELP,
    STAGES_LIMIT_HELP,
    TMUX_LIMIT_HELP,
    VECTORS_LIMIT_HELP,
    check_options,
)
from l1ml.offline.cli import app as offline_app
from l1ml.reweighting.cli import app as reweight_app
from l1ml.simulation.cli import app as simulate_app
from l1ml.simulation.surrogate.cli import app as surrogate_app
from l1ml.train.anomaly import train_anomaly_cmd
from l1ml.train.hgcal_cnn import train_hgcal_cnn_cmd
from l1ml.train.track_gnn import train_track_gnn_cmd
from l1ml.verify.vendor_cli import cosim_cmd

app = typer.Typer(
    name="l1ml",
    help=(
        "Compile Brevitas-trained quantized networks into bit-exact Level-1 trigger firmware.\n\n"
        "Typical flow: `l1ml train tabular -o jet_model` → `l1ml compile jet_model/model.onnx -o out` → "
        "`l1ml verify out --vectors 10000`. `l1ml demo` runs all of it on simulated jets."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
train_app = typer.Typer(help="Train zoo models with Brevitas quantization-aware training.", no_args_is_help=True)
app.add_typer(train_app, name="train")

console = console_for()
err = console_for(stderr=True)


def _levels(value: str) -> list:
    from l1ml.verify.levels import Level

    out = []
    for part in value.split(","):
        part = part.strip().lower()
        try:
            out.append(Level(part))
        except ValueError:
            raise typer.BadParameter(f"unknown level '{part}'; choose from "
                                     f"{', '.join(lv.value for lv in Level)}") from None
    return out


@app.command("compile")
def compile_cmd(
    model: Annotated[Path, typer.Argument(help="QONNX model exported by Brevitas (export_qonnx).")],
    out: Annotated[Path, typer.Option("-o", "--out", help=OUT_HELP)] = Path("l1ml_out"),
    backend: Annotated[str, typer.Option(help="Firmware backend: hls4ml.")] = "hls4ml",
    part: Annotated[str, typer.Option(help="FPGA part, e.g. xcvu13p-flga2577-2-e, xcvu9p-flga2104-2L-e.")] = defaults.PART,
    clock_ns: Annotated[float, typer.Option("--clock-ns", help=(
        "Target clock period in ns (5 ns = 200 MHz); places the Verilog registers unless --pipeline-stages "
        "is given, and converts cycles to ns in the report. " + CLOCK_LIMIT_HELP))] = defaults.CLOCK_NS,
    hls_backend: Annotated[str, typer.Option("--hls-backend", help="Vitis (default) or Vivado HLS project.")] = "Vitis",
    reuse_factor: Annotated[str, typer.Option("--reuse-factor", help=(
        "1 = fully parallel. R > 1: each Dense multiplier serves R weights (II = R); for a GNN, R rows (edges or "
        "nodes) share one lane (II = R). 'auto': the cheapest of 1, 2, 4, ..., 256 that meets the budget, "
        "with the sweep in the report. " + REUSE_LIMIT_HELP))] = "1",
    strategy: Annotated[str, typer.Option(help=(
        "hls4ml strategy: Latency, Resource or distributed_arithmetic (hls4ml's da4ml adder graphs for Dense "
        "and Conv2D, reuse 1 only; needs `pip install 'l1ml[da4ml]'`). Applies to hls/; rtl/ is l1ml's own "
        "Verilog."))] = "Latency",
    pipeline_stages: Annotated[int | None, typer.Option("--pipeline-stages", help=(
        "Verilog: this many registers per Dense layer instead of placing them by the clock period "
        "(0 = combinational); --clock-ns then only converts cycles to ns. " + STAGES_LIMIT_HELP))] = None,
    latency_budget_ns: Annotated[float, typer.Option("--latency-budget-ns", help=(
        "Latency this algorithm may use, ns (of the 12.5 us Level-1 total). " + BUDGET_LIMIT_HELP)) ] = defaults.ALGORITHM_BUDGET_NS,
    total_budget_ns: Annotated[float, typer.Option("--total-budget-ns", help="Whole Level-1 latency, ns. "
                                                   + BUDGET_LIMIT_HELP)] = defaults.TOTAL_BUDGET_NS,
    tmux: Annotated[int, typer.Option(help=(
        "Time-multiplexing period in bunch crossings: a new event every tmux x 25 ns sets the allowed II. "
        + TMUX_LIMIT_HELP))] = 1,
    force: Force = False,
) -> None:
    """Compile MODEL into OUTDIR: model.l1ml.json (typed IR), hls/ (hls4ml project with build script),
    rtl/ (synthesizable Verilog and a file list), report.json, report.md and budget.png (latency and
    resources estimated against the trigger budget and the part).

    Examples: l1ml compile examples/jet_mlp.onnx -o out ·
    l1ml compile track_gnn/model.onnx -o gnn_out --reuse-factor auto --tmux 18
    """
    from l1ml.compile import AUTO_REUSE, CompileOptions, compile_model

    if backend != "hls4ml":
        raise L1MLError(f"unknown backend '{backend}'; available: hls4ml")
    if reuse_factor == "auto":
        rf = AUTO_REUSE
    elif reuse_factor.isascii() and reuse_factor.isdigit() and int(reuse_factor) >= 1:
        rf = int(reuse_factor)
    else:
        raise L1MLError(f"--reuse-factor '{reuse_factor}': give a whole number >= 1 or 'auto'")
    check_options(reuse_factor=None if rf == AUTO_REUSE else rf, clock_ns=clock_ns, tmux=tmux,
                  pipeline_stages=pipeline_stages, latency_budget_ns=latency_budget_ns,
                  total_budget_ns=total_budget_ns)
    opts = CompileOptions(part=part, clock_ns=clock_ns, hls_backend=hls_backend, reuse_factor=rf,
                          strategy=strategy, pipeline_stages=pipeline_stages,
                          latency_budget_ns=latency_budget_ns, total_budget_ns=total_budget_ns, tmux=tmux)
    with console.status("compiling") as status:
        rep = compile_model(model, out, opts, step=lambda s: status.update(s), force=force)
    t = rep["totals"]
    console.print(f"compiled [bold]{model}[/] → {out}/  ({len(rep['layers'])} layers, "
                  f"{t['multiplications']} multiplications, {t['parameters']} parameters)")
    console.print(f"  input {rep['input']['type']} {rep['input']['shape']} → output {rep['output']['type']} "
                  f"{rep['output']['shape']}")
    if "sweep" in rep:
        console.print(f"  reuse factor {rep['sweep']['chosen_reuse_factor']}, chosen by the sweep in report.md")
    lat, ii, res, verdict = rep["latency"], rep["ii"], rep["resources"], rep["budget"]
    fits = "[green]fits the budget[/]" if verdict["fits"] else "[red]does NOT fit[/]"
    console.print(f"  Verilog: latency {lat['cycles']} cycles = {lat['ns']:g} ns, II {ii['cycles']}, "
                  f"LUT {res['LUT']:,}, FF {res['FF']:,}, DSP {res['DSP']:,} on {part}: {fits}")
    console.print(f"  report: {out}/report.md, {out}/budget.png; RTL: {out}/rtl/; HLS project: {out}/hls/ "
                  "(not synthesised: no Vitis here)")


@app.command("verify")
def verify_cmd(
    outdir: Annotated[Path, typer.Argument(help="Directory written by `l1ml compile`.")],
    vectors: Annotated[int, typer.Option(help="Number of test vectors (corner cases first). "
                                         + VECTORS_LIMIT_HELP)] = 1000,
    levels: Annotated[str, typer.Option(help="Comma-separated levels to compare with the emulator: "
                                        "qonnx (qonnx execute_onnx), hls (hls4ml C-sim with g++), rtl (the Verilog in Verilator with cocotb; "
                                        "also measures latency and II), vendor (the Vitis/Vivado HLS RTL under "
                                        "hls/ after a vendor run, in Verilator with cocotb).")] = "qonnx,hls,rtl",
    seed: Annotated[int, typer.Option(help="Seed of the random vectors.")] = 0,
    data: Annotated[Path | None, typer.Option(help=".npy array of real events to use after the corner cases "
                                              "(.npz with one array per input name for a model with several "
                                              "inputs, e.g. the track GNN's test_graphs.npz).")] = None,
) -> None:
    """Prove bit-exactness: run the same vectors through the emulator and each level, compare every
    output word. Prints `LEVEL: N vectors, M mismatches` per level, writes OUTDIR/verify.json,
    exits 1 on any mismatch.

    Example: l1ml verify out --vectors 10000 --levels qonnx,hls
    """
    from l1ml.compiled import load_compiled
    from l1ml.verify.levels import load_vectors, run_levels, write_verify_json

    check_options(vectors=vectors, seed=seed)
    lv = _levels(levels)
    arr = None
    if data is not None:
        arr = load_vectors(data, load_compiled(outdir))

    def show(r) -> None:
        colour = "green" if r.mismatches == 0 else "red"
        console.print(f"[{colour}]{r.line()}[/]  [dim]{r.seconds:.1f} s[/]")
        for m in r.first_mismatches:
            console.print(f"    {m}", markup=False)

    with console.status("verifying"):
        results = run_levels(outdir, lv, vectors, seed=seed, data=arr, progress=show)
    write_verify_json(outdir, results)
    if any(r.mismatches for r in results):
        raise typer.Exit(1)


@app.command("emulate")
def emulate_cmd(
    model: Annotated[Path, typer.Argument(help="QONNX model or model.l1ml.json.")],
    inputs: Annotated[Path, typer.Option("--input", "-i", help=".npy array of float inputs, batch first, in the "
                                         "exported model's layout (NCHW for images); .npz with one array "
                                         "per input name for a model with several inputs.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to write the outputs (.npy).")] = Path("outputs.npy"),
) -> None:
    """Run the bit-exact emulator on a batch of inputs (the reference all firmware must equal)."""
    import numpy as np

    from l1ml.atomic import atomic_file, check_output_file
    from l1ml.backends.emulate import emulate
    from l1ml.load import load_graph
    from l1ml.verify.levels import load_vectors

    if out.suffix != ".npy":  # as numpy.save names it
        out = out.with_name(out.name + ".npy")
    check_output_file(out, [model, inputs])
    g = load_graph(model)
    y = emulate(g, load_vectors(inputs, g), layout="ir")  # load_vectors reads the model's layout
    with atomic_file(out, [model, inputs]) as staged:
        np.save(staged, y)
    console.print(f"emulated {len(y)} events → {out}")


@train_app.command("tabular")
def train_tabular_cmd(
    out: Annotated[Path, typer.Option("-o", "--out", help="Output directory: model.onnx, float_model.pt, "
                                      "training.json, test_inputs.npy.")] = Path("jet_model"),
    jets: Annotated[int, typer.Option(help="Number of simulated jets (balanced over q, g, W, Z, t).")] = 25000,
    data: Annotated[Path | None, typer.Option(help="Jet table (.parquet) from `l1ml simulate jets` instead "
                                              "of simulating.")] = None,
    hidden: Annotated[str, typer.Option(help="Hidden layer widths.")] = "64,32,32",
    weight_bits: Annotated[int, typer.Option(help="Weight bit width.")] = 6,
    act_bits: Annotated[int, typer.Option(help="Activation bit width.")] = 8,
    epochs: Annotated[int, typer.Option(help="Maximum float epochs (early stopping on validation loss).")] = 60,
    qat_epochs: Annotated[int, typer.Option(help="Maximum QAT epochs, starting from the float twin.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed for simulation, split and initialisation.")] = 1,
    force: Force = False,
) -> None:
    """Train the jet-tagging MLP (default 16→64→32→32→5) with Brevitas QAT and its float twin,
    report both accuracies and export the QAT model to QONNX.

    Example: l1ml train tabular --jets 25000 -o jet_model
    """
    from l1ml.train.tabular import TabularConfig, train_tabular

    cfg = TabularConfig(hidden=tuple(int(h) for h in hidden.split(",")), weight_bits=weight_bits,
                        act_bits=act_bits, max_epochs=epochs, qat_epochs=qat_epochs, seed=seed)
    res = train_tabular(cfg, out, n_jets=jets, data=data, console=console, force=force)
    console.print(f"QAT accuracy {res['qat_accuracy']:.4f}, float accuracy {res['float_accuracy']:.4f} "
                  f"→ {out}/model.onnx")


@app.command("demo")
def demo_cmd(
    workdir: Annotated[Path, typer.Option("-w", "--workdir", help="Where the demo writes everything.")] = Path("demo_out"),
    model: Annotated[str, typer.Option(help="jet-mlp (Pythia8 jets, tabular MLP), hgcal-cnn (HGCal "
                                       "trigger-cell clusters, CNN), track-gnn (tracker stubs in phi-sector "
                                       "graphs, interaction-network edge classifier) or anomaly (L1 objects, "
                                       "autoencoder anomaly score).")] = "jet-mlp",
    events: Annotated[int | None, typer.Option(help="Simulated events (default 25,000 jets, 12,000 "
                                               "clusters, 50 ttbar events at pileup 200, or 10,000 zero-bias "
                                               "crossings at pileup 200 with 2,500 QCD and 1,000 per signal).")] = None,
    vectors: Annotated[int | None, typer.Option(help="Vectors for the hls and rtl levels: the corner cases, then "
                                                "simulated events (default 12,000; 1,200 graphs for the GNN; "
                                                "5,000 for anomaly).")] = None,
    qonnx_vectors: Annotated[int | None, typer.Option(help="Vectors for the qonnx level (default 2,000; 1,200 "
                                                      "graphs for the GNN; 1,000 for anomaly).")] = None,
    force: Force = False,
) -> None:
    """The whole chain on a built-in default: simulate with Pythia8 → train the QAT model and its float
    twin → export QONNX → compile (hls4ml project, Verilog, estimates) → verify (qonnx, hls and rtl
    levels) → print the report.

    The track GNN also sweeps the reuse factor (rows per lane) against a 1 us budget with TMUX 18 and
    compiles the cheapest setting that meets it.

    Examples: l1ml demo · l1ml demo --model hgcal-cnn · l1ml demo --model track-gnn ·
    l1ml demo --model anomaly
    """
    from l1ml.demo import DemoModel, run_demo

    check_options(vectors=vectors, qonnx_vectors=qonnx_vectors)
    try:
        which = DemoModel(model)
    except ValueError:
        raise L1MLError(f"unknown demo model '{model}'; choose one of "
                        f"{', '.join(m.value for m in DemoModel)}") from None
    hls_rtl, qonnx = which.default_vectors
    code = run_demo(workdir, jets=events or which.default_events, vectors=vectors or hls_rtl,
                    qonnx_vectors=qonnx_vectors or qonnx, console=console, model=which, force=force)
    if code:
        raise typer.Exit(code)


# the companions' command groups (each keeps its heavy imports inside its commands)
train_app.command("hgcal-cnn")(train_hgcal_cnn_cmd)
train_app.command("track-gnn")(train_track_gnn_cmd)
train_app.command("anomaly")(train_anomaly_cmd)
app.command("estimate")(estimate_cmd)
app.command("build")(build_cmd)
app.add_typer(rtl_app, name="rtl")
app.add_typer(simulate_app, name="simulate")
app.add_typer(offline_app, name="offline")
app.add_typer(reweight_app, name="reweight")
app.add_typer(surrogate_app, name="surrogate")
app.command("cosim")(cosim_cmd)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors print one line and exit 2; bugs keep their traceback."""
    set_help_width()
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="l1ml", standalone_mode=False)
    except L1MLError as e:
        err.print(Text.assemble(("error: ", "bold red"), str(e)), highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
