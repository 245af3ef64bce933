"""The RTL level of ``l1ml verify``: the generated Verilog, simulated by Verilator under cocotb, must
produce the emulator's output codes word for word.

``check_rtl`` quantises the float vectors to input codes on the host (the emulator's ``input_codes``: the
Verilog top takes fixed-point words, as the upstream firmware sends them, so this level checks everything
after the input quantizer; the qonnx and hls levels check the quantizer), streams them back-to-back through the DUT
(one every II cycles), and compares every output word in order with ``Emulator.run_codes``. It also
measures the latency and the achieved II from the valid signals. ``run_stream`` is the same bench for
any streaming module (the primitive testbenches use it).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from l1ml.backends.emulate import Emulator, input_codes
from l1ml.backends.verilog import Port, RTLDesign
from l1ml.console import console as console_for
from l1ml.errors import L1MLError
from l1ml.ir.graph import Graph
from l1ml.ir.types import FixedType
from l1ml.verify import runner
from l1ml.verify.cocotb_bench.config import (
    BENCH_DIR_ENV,
    PROGRESS,
    REPORT,
    BenchConfig,
    BenchReport,
    PortSpec,
)

TEST_MODULE = "l1ml.verify.cocotb_bench.stream_test"


@dataclass
class RTLCheck:
    """The outcome of one RTL check; ``ok`` when every output word matched."""

    n_vectors: int
    mismatches: int  # vectors with at least one output word that differs or never came
    first_mismatches: list[str]
    latency_cycles: int | None  # measured
    ii: int | None  # measured: the largest spacing of consecutive outputs
    seconds: float  # build + simulation wall time
    build_seconds: float = 0.0  # 0 when the build came from the cache
    mismatched_words: int = 0  # output elements that differ or never came
    outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # tensor -> codes the DUT gave

    @property
    def ok(self) -> bool:
        return self.mismatches == 0 and self.n_vectors > 0 and self.mismatched_words == 0

    def summary(self) -> str:
        s = f"rtl: {self.n_vectors} vectors, {self.mismatches} mismatches"
        s += f", latency {self.latency_cycles} cycles"
        return s + (f", II {self.ii}" if self.ii is not None else "")

    def to_json(self) -> dict:
        return {"n_vectors": self.n_vectors, "mismatches": self.mismatches,
                "first_mismatches": self.first_mismatches, "latency_cycles": self.latency_cycles,
                "ii": self.ii, "seconds": round(self.seconds, 3),
                "build_seconds": round(self.build_seconds, 3), "mismatched_words": self.mismatched_words}


@dataclass
class StreamResult:
    """A bench run: its report, the codes each output port produced, and where it ran."""

    report: BenchReport
    outputs: dict[str, np.ndarray]  # port -> (n, elements) codes
    build: runner.SimBuild
    run_dir: Path


def _simulate(build: runner.SimBuild, run_dir: Path, n: int, progress: bool) -> Path:
    """Run the bench, showing a progress bar fed by the bench's progress file if asked."""
    env = {BENCH_DIR_ENV: str(run_dir)}
    if not progress:
        return runner.run_test(build, TEST_MODULE, run_dir, env)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    result: dict[str, Path] = {}

    def work() -> None:
        result["log"] = runner.run_test(build, TEST_MODULE, run_dir, env)

    worker = threading.Thread(target=work)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task("rtl: simulating", total=n)
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
            try:
                bar.update(task, completed=int((run_dir / PROGRESS).read_text() or 0))
            except (OSError, ValueError):
                pass  # not written yet, or caught mid-write
    return result.get("log", run_dir / "sim.log")


def _build(sources: Sequence[Path], top: str, build_dir: Path, progress: bool) -> runner.SimBuild:
    if not progress:
        return runner.build_sim(sources, top, build_dir)

    with console_for(stderr=True).status("rtl: building the simulator with Verilator (cached afterwards)"):
        return runner.build_sim(sources, top, build_dir)


def run_stream(sources: Sequence[Path], top: str, build_dir: Path, inputs: dict[PortSpec, np.ndarray],
               outputs: Sequence[PortSpec], expected: dict[str, np.ndarray] | None = None, ii: int = 1,
               timeout_cycles: int = 1000, progress: bool = False) -> StreamResult:
    """Stream input codes through a valid-qualified module and collect (and check) its outputs.

    ``inputs`` maps each input port to (n, elements) codes; ``expected`` maps output port names to
    codes. The module needs ``clk``, ``rst``, ``in_valid`` and ``out_valid``.
    """
    build_dir = Path(build_dir).absolute()  # the simulator runs in its own directory
    n = len(next(iter(inputs.values())))
    build = _build(sources, top, build_dir, progress)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=build_dir))
    BenchConfig(tuple(inputs), tuple(outputs), n, ii=ii, timeout_cycles=timeout_cycles).save(run_dir)
    for spec, codes in inputs.items():
        np.save(run_dir / f"in_{spec.name}.npy", np.asarray(codes, dtype=np.int64).reshape(n, -1))
    for name, codes in (expected or {}).items():
        np.save(run_dir / f"exp_{name}.npy", np.asarray(codes, dtype=np.int64).reshape(n, -1))
    log = _simulate(build, run_dir, n, progress)
    if not (run_dir / REPORT).exists():
        raise L1MLError(f"the RTL simulation ended without a report; see {log}\n{runner.tail(log)}")
    report = BenchReport.load(run_dir)
    got = {s.name: np.load(run_dir / f"out_{s.name}.npy") for s in outputs}
    return StreamResult(report, got, build, run_dir)


def _check_ports(g: Graph, design: RTLDesign, rtl_dir: Path) -> None:
    """The RTL must be the model's: same inputs and outputs with the same types."""
    def sig(names: list[str]) -> list[tuple[str, dict]]:
        return [(n, g.t(n).type.to_json()) for n in names]

    have_in = [(p.tensor, p.type) for p in design.inputs]
    have_out = [(p.tensor, p.type) for p in design.outputs]
    if have_in != sig(g.inputs) or have_out != sig(g.outputs):
        raise L1MLError(f"{rtl_dir}: the RTL was generated for a different model (its ports are "
                        f"{[t for t, _ in have_in]} -> {[t for t, _ in have_out]}); regenerate it with "
                        "`l1ml compile` for this model")


def port_spec(p: Port) -> PortSpec:
    """The bench's view of a generated port."""
    return PortSpec(p.port, p.elements, p.element_width, FixedType.from_json(p.type).signed, p.tensor)


def check_rtl(g: Graph, rtl_dir: Path, x: np.ndarray | dict[str, np.ndarray], build_dir: Path,
              progress: bool = False) -> RTLCheck:
    """Stream ``x`` through the generated RTL and compare every word with the emulator.

    ``x``: float32 vectors (n, *shape) of a one-input model, or ``{input name: (n, *shape)}`` for a model
    with several inputs (a GNN's nodes, edges and masks); one vector every ``ii`` cycles of rtl.json."""
    t0 = time.monotonic()
    rtl_dir = Path(rtl_dir)
    design = RTLDesign.load(rtl_dir)
    _check_ports(g, design, rtl_dir)
    codes = input_codes(g, x)
    n = len(next(iter(codes.values())))
    if n == 0:
        raise L1MLError("no test vectors given; pass at least one")
    expected = Emulator(g).run_codes(codes)
    res = run_stream([rtl_dir / f for f in design.files], design.top, build_dir,
                     {port_spec(p): codes[p.tensor] for p in design.inputs},
                     [port_spec(p) for p in design.outputs],
                     {p.port: expected[p.tensor] for p in design.outputs},
                     ii=design.ii, timeout_cycles=design.latency_cycles + 1000, progress=progress)
    rep = res.report
    lines = list(rep.first_mismatches)
    if rep.error:
        lines.insert(0, f"{rep.error} (bench files kept in {res.run_dir})")
    missing = n - rep.n_vectors  # vectors whose output never came
    words = rep.mismatches + missing * sum(p.elements for p in design.outputs)
    outputs = {p.tensor: res.outputs[p.port].reshape(-1, *p.shape) for p in design.outputs}
    check = RTLCheck(n, rep.mismatched_vectors + missing, lines, rep.latency_cycles, rep.ii,
                     time.monotonic() - t0, res.build.seconds, words, outputs)
    if check.ok:
        shutil.rmtree(res.run_dir, ignore_errors=True)
    return check
