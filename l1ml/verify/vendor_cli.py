"""``l1ml cosim``: the vendor RTL of any hls4ml project against the project's own C-simulation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from l1ml.atomic import Force
from l1ml.console import console as console_for
from l1ml.limits import VECTORS_LIMIT_HELP, check_options

console = console_for()


def cosim_cmd(
    project: Annotated[Path, typer.Argument(help="hls4ml io_parallel project directory after a Vitis/Vivado HLS "
                                            "run (holds firmware/ and <top>_prj/solution1/syn/verilog).")],
    vectors: Annotated[int, typer.Option(help="Number of test vectors: the input type's extremes first, then "
                                         "uniform random codes over its full range. " + VECTORS_LIMIT_HELP)] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the random vectors.")] = 0,
    data: Annotated[Path | None, typer.Option(help=".npy array of real inputs to use after the extremes (.npz "
                                              "with one array per top-function argument for several inputs); "
                                              "the project's input type converts them.")] = None,
    out: Annotated[Path, typer.Option("-o", "--out", help="Work directory: build/ (C-simulation and Verilator "
                                      "builds, cached) and cosim.json.")] = Path("cosim_out"),
    force: Force = False,
) -> None:
    """Check the RTL that Vitis/Vivado HLS made from an hls4ml project: Verilator runs it under cocotb
    (ap_ctrl_hs, ap_vld/ap_none ports, inputs back-to-back at the block's II) and every output word must
    equal the project's g++ C-simulation. Prints `vendor: N vectors, M mismatches, latency L cycles, II k`
    beside the csynth report's numbers, writes OUT/cosim.json, exits 1 on any mismatch.

    Example: l1ml cosim my_hls4ml_prj --vectors 5000
    """
    from l1ml.atomic import output_container
    from l1ml.verify.vendor import cosim, find_vendor_rtl, write_cosim_json

    check_options(vectors=vectors, seed=seed)
    find_vendor_rtl(project)  # refuse before creating anything
    out = output_container(out, "cosim", inputs=[project, data], force=force)
    with console.status("cosim: building the C-simulation and the Verilator model, then simulating"):
        chk = cosim(project, out, vectors, seed=seed, data=data)
    colour = "red" if chk.failed else "green"
    console.print(f"[{colour}]{chk.line()}[/]  (csynth: latency {chk.csynth_latency_cycles} cycles, "
                  f"II {chk.csynth_ii})  [dim]{chk.seconds:.1f} s[/]", soft_wrap=True)
    for m in chk.first_mismatches:
        console.print(f"    {m}", markup=False)
    if chk.csynth_latency_cycles is not None and chk.latency_cycles != chk.csynth_latency_cycles:
        console.print(f"[yellow]  measured latency {chk.latency_cycles} cycles differs from the csynth "
                      f"report's {chk.csynth_latency_cycles}[/]")
    path = write_cosim_json(out, project, chk)
    console.print(f"  RTL: {chk.rtl} of {project}; builds (0 = cached): Verilator {chk.build_seconds:.1f} s, "
                  f"C-simulation {chk.csim_seconds:.1f} s; results: {path}", markup=False, soft_wrap=True)
    if chk.failed:
        raise typer.Exit(1)
