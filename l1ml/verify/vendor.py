"""The vendor level: the RTL that Vitis/Vivado HLS made from an hls4ml project, simulated by Verilator
under cocotb, must give the reference's output codes word for word.

Two entry points share one bench (``cocotb_bench.vendor_test``): ``l1ml cosim PRJ`` checks any hls4ml
``io_parallel`` project against the project's own C-simulation (g++, ``vendor_project.build_harness``);
``l1ml verify OUTDIR --levels vendor`` checks the RTL of an l1ml output's ``hls/`` against the emulator.
The ports come from the RTL top (``vendor_ports``); the RTL and its ``$readmemh`` ROM files are copied
into a build directory, so the project itself may be read-only.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from l1ml.errors import InputFileError, L1MLError
from l1ml.verify import runner
from l1ml.verify.cocotb_bench.config import BENCH_DIR_ENV, REPORT, BenchReport
from l1ml.verify.cocotb_bench.vendor_bench import VendorBenchConfig
from l1ml.verify.vendor_ports import (
    TopInterface,
    arg_directions,
    check_against_csynth,
    csynth_ports,
    map_ports,
    parse_verilog_ports,
    prototype_args,
)
from l1ml.verify.vendor_project import (
    NO_RTL_REMEDY,
    ArgInfo,
    VendorRTL,
    build_harness,
    find_vendor_rtl,
    stage_rtl,
)

TEST_MODULE = "l1ml.verify.cocotb_bench.vendor_test"
#: Vendor RTL has ``initial begin #0 ... end`` blocks (so no timing) and thousands of WIDTH/UNUSED lint
#: warnings that say nothing about its function (so lint and style warnings off; -Wno-fatal is the default).
VENDOR_BUILD_ARGS = ("--no-timing", "-Wno-lint", "-Wno-style")


@dataclass
class VendorCheck:
    """The outcome of one vendor-RTL run."""

    n_vectors: int
    mismatches: int  # vectors with a differing or missing output word
    first_mismatches: list[str]
    latency_cycles: int | None  # measured: ap_start accepted -> ap_done (largest)
    ii: int | None  # measured: largest spacing of accepted ap_starts
    csynth_latency_cycles: int | None
    csynth_ii: int | None
    rtl: str  # where the RTL came from, e.g. ".../solution1/syn/verilog"
    seconds: float
    build_seconds: float = 0.0  # Verilator (0 when cached)
    csim_seconds: float = 0.0  # g++ build of the reference (0 when cached or not used)
    error: str = ""  # a timeout or protocol violation (e.g. ap_idle never rose), empty if none
    outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def failed(self) -> bool:
        return self.mismatches > 0 or bool(self.error)

    def line(self) -> str:
        return (f"vendor: {self.n_vectors} vectors, {self.mismatches} mismatches, latency {self.latency_cycles} "
                f"cycles, II {self.ii}" + (", protocol error" if self.error else ""))

    def note(self) -> str:
        return (f"csynth: latency {self.csynth_latency_cycles} cycles, II {self.csynth_ii}; "
                f"RTL {self.rtl}")

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("outputs")
        d["seconds"], d["build_seconds"] = round(self.seconds, 3), round(self.build_seconds, 3)
        return d


def read_interface(rtl: VendorRTL, args: list[tuple[str, int, int | None]]) -> TopInterface:
    """The top's ports (Verilog, checked against the csynth table when present) mapped onto ``args``."""
    where = str(rtl.top_file)
    ports = parse_verilog_ports(rtl.top_file, rtl.top)
    protocols = None
    if rtl.csynth_xml is not None:
        table = csynth_ports(rtl.csynth_xml)
        if table:
            check_against_csynth(ports, table, where)
            protocols = {n: p for n, (_, _, p) in table.items()}
    return map_ports(ports, args, rtl.top, where, protocols)


def port_directions(rtl: VendorRTL) -> tuple[list[str], list[str]]:
    """The top function's argument names split into (RTL inputs, RTL outputs), in the function's order."""
    params = [n for _, n, _ in prototype_args(rtl.project / "firmware" / f"{rtl.top}.h", rtl.top)]
    return arg_directions(parse_verilog_ports(rtl.top_file, rtl.top), params, str(rtl.top_file))


def simulate(rtl: VendorRTL, itf: TopInterface, signed: dict[str, bool], codes: dict[str, np.ndarray],
             expected: dict[str, np.ndarray], build_root: Path) -> VendorCheck:
    """Stream ``codes`` (per input argument) through the RTL and compare with ``expected``."""
    t0 = time.monotonic()
    n = len(next(iter(codes.values())))
    if n == 0:
        raise L1MLError("no test vectors given; pass at least one")
    build_root = Path(build_root).absolute()
    sources = stage_rtl(rtl, build_root / "rtl")
    build = runner.build_sim(sources, rtl.top, build_root, extra_args=VENDOR_BUILD_ARGS)
    run_dir = Path(tempfile.mkdtemp(prefix="vendor-run-", dir=build_root))
    for rom in rtl.roms:  # $readmemh("./x.dat") reads from the simulator's working directory
        shutil.copyfile(rom, run_dir / rom.name)
    timeout = (rtl.latency_cycles or 0) + 10_000
    VendorBenchConfig(itf, signed, n, ii=rtl.ii, timeout_cycles=timeout).save(run_dir)
    for a in itf.inputs:
        np.save(run_dir / f"in_{a.arg}.npy", np.asarray(codes[a.arg], np.int64).reshape(n, a.elements))
    for a in itf.outputs:
        np.save(run_dir / f"exp_{a.arg}.npy", np.asarray(expected[a.arg], np.int64).reshape(n, a.elements))
    log = runner.run_test(build, TEST_MODULE, run_dir, {BENCH_DIR_ENV: str(run_dir)})
    if not (run_dir / REPORT).exists():
        raise L1MLError(f"the vendor RTL simulation ended without a report; see {log}\n{runner.tail(log)}")
    rep = BenchReport.load(run_dir)
    lines = list(rep.first_mismatches)
    if rep.error:
        lines.insert(0, f"{rep.error} (bench files kept in {run_dir})")
    missing = n - rep.n_vectors
    outputs = {a.arg: np.load(run_dir / f"out_{a.arg}.npy") for a in itf.outputs}
    rel = rtl.verilog_dir.relative_to(rtl.project) if rtl.verilog_dir.is_relative_to(rtl.project) else rtl.verilog_dir
    check = VendorCheck(n, rep.mismatched_vectors + missing, lines, rep.latency_cycles, rep.ii,
                        rtl.latency_cycles, rtl.ii, str(rel), time.monotonic() - t0, build.seconds,
                        error=rep.error, outputs=outputs)
    if not check.failed:
        shutil.rmtree(run_dir, ignore_errors=True)
    return check


# --- l1ml cosim: any hls4ml project against its own C-simulation -------------------------------------

def corner_codes(a: ArgInfo, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` vectors of codes for argument ``a``: the extremes first (all minimum, all maximum, zero, one
    step either side of zero, alternating minimum/maximum), then uniform over the type's full range."""
    lo, hi = (-(1 << (a.width - 1)), (1 << (a.width - 1)) - 1) if a.signed else (0, (1 << a.width) - 1)
    alt = np.where(np.arange(a.elements) % 2 == 0, lo, hi)
    corners = [np.full(a.elements, lo), np.full(a.elements, hi), np.zeros(a.elements, np.int64),
               np.full(a.elements, min(1, hi)), np.full(a.elements, max(-1, lo)), alt, alt[::-1].copy()]
    rows = np.array(corners[:n], dtype=np.int64).reshape(-1, a.elements)
    rand = rng.integers(lo, hi, size=(max(0, n - len(rows)), a.elements), endpoint=True, dtype=np.int64)
    return np.concatenate([rows, rand])


def _data_values(path: Path, inputs: tuple[ArgInfo, ...]) -> dict[str, np.ndarray]:
    """Real-valued events from .npy (one input argument) or .npz (one array per argument name)."""
    if not path.is_file():
        raise InputFileError(f"{path}: no such file; give a .npy array of real inputs (or an .npz with one "
                             f"array per argument: {', '.join(a.name for a in inputs)})")
    try:
        x = np.load(path)
    except Exception as e:
        raise InputFileError(f"{path}: not a .npy/.npz array file ({e})") from e
    arrays = {a.name: x[a.name] for a in inputs if a.name in x.files} if isinstance(x, np.lib.npyio.NpzFile) \
        else ({inputs[0].name: x} if len(inputs) == 1 else {})
    out = {}
    for a in inputs:
        if a.name not in arrays:
            raise InputFileError(f"{path}: no array for argument '{a.name}'; the top function takes "
                                 f"{[i.name for i in inputs]} (give an .npz keyed by these names)")
        v = np.asarray(arrays[a.name], dtype=np.float64)
        if v.ndim < 1 or v[0].size != a.elements:
            raise InputFileError(f"{path}: '{a.name}' events have shape {v.shape[1:]}, the argument has "
                                 f"{a.elements} elements")
        if not np.isfinite(v).all():
            raise InputFileError(f"{path}: '{a.name}' holds NaN or infinity; ap_fixed has no such values")
        out[a.name] = v.reshape(len(v), a.elements)
    if len({len(v) for v in out.values()}) != 1:
        raise InputFileError(f"{path}: the arrays have different numbers of events")
    return out


def cosim(prj: Path, out: Path, vectors: int, seed: int = 0, data: Path | None = None) -> VendorCheck:
    """Check the vendor RTL of hls4ml project ``prj`` against its C-simulation; build files under ``out``."""
    rtl = find_vendor_rtl(prj)
    build_root = Path(out) / "build"
    ins, _ = port_directions(rtl)
    harness = build_harness(rtl.project, rtl.top, ins, build_root)
    args = harness.inputs + harness.outputs
    itf = read_interface(rtl, [(a.name, a.elements, a.width) for a in args])
    rng = np.random.default_rng(seed)
    codes = {a.name: corner_codes(a, vectors, rng) for a in harness.inputs}
    work = Path(tempfile.mkdtemp(prefix="csim-", dir=build_root))
    try:
        if data is not None:
            real = _data_values(data, harness.inputs)
            k = min(len(next(iter(real.values()))), max(0, vectors - 7))
            if k:  # the project's input type converts the reals, as the hls4ml bridge does
                conv, _ = harness.run({n: v[:k] for n, v in real.items()}, True, work)
                for a in harness.inputs:
                    codes[a.name][7:7 + k] = conv[a.name]
        used, expected = harness.run(codes, False, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for a in harness.inputs:  # the harness reads codes back as it stored them: a check of the plumbing
        if not np.array_equal(used[a.name], codes[a.name]):
            raise L1MLError(f"the C-simulation harness changed the input codes of '{a.name}'")
    signed = {a.name: a.signed for a in args}
    check = simulate(rtl, itf, signed, codes, expected, build_root)
    check.csim_seconds = round(harness.seconds, 3)
    return check


def write_cosim_json(out: Path, prj: Path, check: VendorCheck) -> Path:
    """``OUT/cosim.json``: the result in verify.json's shape, with the C-simulation as reference."""
    path = Path(out) / "cosim.json"
    doc = {"reference": "C-simulation (g++)", "project": str(Path(prj).resolve()),
           "levels": {"vendor": check.to_json()}, "passed": not check.failed}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


# --- l1ml verify --levels vendor: an l1ml output's hls/ against the emulator ---------------------------

def find_output_rtl(outdir: Path) -> VendorRTL:
    """The vendor RTL under ``OUTDIR/hls`` or a one-line refusal with the remedy."""
    hls = Path(outdir) / "hls"
    if not (hls / "firmware").is_dir():
        raise L1MLError(f"{outdir}: no hls4ml project in hls/; run `l1ml compile` first, then {NO_RTL_REMEDY}")
    try:
        return find_vendor_rtl(hls)
    except L1MLError as e:
        raise L1MLError(f"{outdir}: no vendor RTL under hls/ (*_prj/solution1/syn/verilog or impl/verilog); "
                        f"{NO_RTL_REMEDY}") from e


def check_output(g, outdir: Path, x) -> VendorCheck:
    """The vendor RTL of an l1ml output against the emulator: the top function's arguments are the graph's
    inputs then outputs, in order (as ``backends.hls4ml`` writes them)."""
    from l1ml.backends.emulate import Emulator, input_codes

    rtl = find_output_rtl(outdir)
    params = [n for _, n, _ in prototype_args(rtl.project / "firmware" / f"{rtl.top}.h", rtl.top)]
    tensors = list(g.inputs) + list(g.outputs)
    if len(params) != len(tensors):
        raise L1MLError(f"{rtl.project}: the top function has arguments {params}, the model has inputs "
                        f"{list(g.inputs)} and outputs {list(g.outputs)}; compile and synthesise again")
    by_arg = dict(zip(params, tensors, strict=True))
    types = {a: g.t(t).type for a, t in by_arg.items()}
    itf = read_interface(rtl, [(a, int(np.prod(g.t(t).shape)), types[a].width) for a, t in by_arg.items()])
    if [a.arg for a in itf.inputs] != params[:len(g.inputs)]:
        raise L1MLError(f"{rtl.top_file}: the RTL's inputs are {[a.arg for a in itf.inputs]}, the model's are "
                        f"{params[:len(g.inputs)]}; compile and synthesise again")
    codes = input_codes(g, x)
    expected = Emulator(g).run_codes(codes)
    signed = {a: t.signed for a, t in types.items()}
    return simulate(rtl, itf, signed, {a.arg: codes[by_arg[a.arg]] for a in itf.inputs},
                    {a.arg: expected[by_arg[a.arg]] for a in itf.outputs}, Path(outdir) / "sim_build" / "vendor")
