"""``l1ml rtl``: write the synthesizable Verilog of a model, check it bit for bit under Verilator, lint it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from l1ml.atomic import OUT_HELP, Force, check_output_dir
from l1ml.console import console as console_for
from l1ml.limits import (
    CLOCK_LIMIT_HELP,
    REUSE_LIMIT_HELP,
    STAGES_LIMIT_HELP,
    VECTORS_LIMIT_HELP,
    check_options,
)

app = typer.Typer(
    help="Synthesizable Verilog from a quantized model, and its bit-exact check with cocotb on Verilator.",
    no_args_is_help=True,
)
console = console_for()

MODEL_HELP = ("QONNX model (.onnx), typed IR (.l1ml.json), or a directory written by `l1ml compile` "
              "(its model.l1ml.json is used).")
DEFAULT_BUILD_DIR = Path(".l1ml_cache/rtl")


def _graph(model: Path):
    from l1ml.load import load_graph

    if model.is_dir() and (model / "model.l1ml.json").exists():
        model = model / "model.l1ml.json"
    return load_graph(model)


@app.command("write")
def write_cmd(
    model: Annotated[Path, typer.Argument(help=MODEL_HELP)],
    out: Annotated[Path, typer.Option("-o", "--out", help=OUT_HELP)] = Path("rtl"),
    reuse_factor: Annotated[int, typer.Option("--reuse-factor", help=(
        "Weights per Dense multiplier. 1 = fully parallel, one input per clock; R > 1 shares each "
        "multiplier over R weights and takes one input every R clocks. For a GNN (a model with Gather/"
        "SegmentSum): rows per lane, one graph every R clocks, e.g. --reuse-factor 104. " + REUSE_LIMIT_HELP))] = 1,
    clock_ns: Annotated[float | None, typer.Option("--clock-ns", help=(
        "Target clock period: registers go wherever the estimated logic delay would exceed it. "
        "Default 5 ns when --pipeline-stages is not given. " + CLOCK_LIMIT_HELP))] = None,
    pipeline_stages: Annotated[int | None, typer.Option("--pipeline-stages", help=(
        "Instead of a clock target: this many registers per Dense layer, spread over its adder tree "
        "(0 = purely combinational). " + STAGES_LIMIT_HELP))] = None,
    top: Annotated[str, typer.Option(help="Name of the top module.")] = "l1ml_top",
    force: Force = False,
) -> None:
    """Write MODEL as Verilog into OUT: one file per module plus the reviewed primitives it uses,
    filelist.f (for `verilator -F`, or your synthesis script) and rtl.json (ports, element order,
    fixed-point types, latency and II).

    The top module has clk, rst, in_valid, one packed bus per input and output (element k at bits
    [W*k +: W]) and out_valid.

    Example: l1ml rtl write examples/jet_mlp.onnx -o out/rtl --clock-ns 4
    """
    from l1ml.backends.verilog import write_rtl

    check_options(reuse_factor=reuse_factor, clock_ns=clock_ns, pipeline_stages=pipeline_stages)
    check_output_dir(out, [model], force)
    g = _graph(model)
    d = write_rtl(g, out, reuse_factor=reuse_factor, clock_ns=clock_ns, pipeline_stages=pipeline_stages,
                  top=top, force=force)
    console.print(f"wrote {out}/ ({len(d.files)} Verilog files, top module [bold]{d.top}[/])")
    console.print(f"  latency {d.latency_cycles} cycles, one input every {d.ii} cycle(s)")
    for p in (*d.inputs, *d.outputs):
        direction = "in " if p in d.inputs else "out"
        console.print(f"  {direction} {p.port}: {p.elements} x {p.element_width} bits ({p.tensor})",
                      markup=False)


@app.command("check")
def check_cmd(
    model: Annotated[Path, typer.Argument(help=MODEL_HELP)],
    rtl: Annotated[Path, typer.Argument(help="Directory written by `l1ml rtl write` (or OUTDIR/rtl).")],
    vectors: Annotated[int, typer.Option(help="Number of test vectors (corner cases first). "
                                         + VECTORS_LIMIT_HELP)] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the random vectors.")] = 0,
    build_dir: Annotated[Path, typer.Option("--build-dir", help=(
        "Cache of Verilator builds; a design built before is not built again."))] = DEFAULT_BUILD_DIR,
) -> None:
    """Stream VECTORS test vectors through the Verilog (Verilator + cocotb, one per clock) and compare
    every output word with the bit-exact emulator. Prints `rtl: N vectors, M mismatches` with the
    measured latency and II; exits 1 on any mismatch.

    The first check of a design compiles it with Verilator (about a minute for a jet-tagging MLP);
    later checks of the same files reuse the build.

    Example: l1ml rtl check examples/jet_mlp.onnx out/rtl --vectors 10000
    """
    from l1ml.verify.rtl import check_rtl
    from l1ml.verify.vectors import make_vectors

    check_options(vectors=vectors, seed=seed)
    g = _graph(model)
    r = check_rtl(g, rtl, make_vectors(g, vectors, seed=seed), build_dir, progress=True)
    colour = "green" if r.ok else "red"
    build = f"build {r.build_seconds:.1f} s" if r.build_seconds else "cached build"
    console.print(f"[{colour}]{r.summary()}[/]  [dim]{r.seconds:.1f} s ({build})[/]")
    for line in r.first_mismatches:
        console.print(f"    {line}", markup=False)
    if not r.ok:
        raise typer.Exit(1)


@app.command("lint")
def lint_cmd(rtl: Annotated[Path, typer.Argument(help="Directory written by `l1ml rtl write`.")]) -> None:
    """Run `verilator --lint-only -Wall` on the design in RTL; exits 1 on any warning.

    Example: l1ml rtl lint out/rtl
    """
    from l1ml.backends.verilog import RTLDesign
    from l1ml.verify.runner import lint

    d = RTLDesign.load(rtl)
    warnings = lint([rtl / f for f in d.files], d.top)
    for w in warnings:
        console.print(w, markup=False)
    if warnings:
        raise typer.Exit(1)
    console.print(f"{rtl}: {len(d.files)} files lint clean (verilator --lint-only -Wall)")
