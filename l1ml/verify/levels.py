"""``l1ml verify``: the emulator against every other level, vector for vector, word for word."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

from l1ml.backends.emulate import Emulator, input_codes, refuse_nan, to_ir_layout, to_onnx_layout
from l1ml.compiled import load_compiled, read_verify_json
from l1ml.errors import InputFileError, L1MLError
from l1ml.ir.graph import Graph
from l1ml.ir.quantize import graph_scale, scaled_real, to_real
from l1ml.verify.vectors import Vectors, as_dict, make_vectors, n_events


class Level(Enum):
    QONNX = "qonnx"  # qonnx execute_onnx on the exported model
    HLS = "hls"  # hls4ml C-simulation (g++)
    RTL = "rtl"  # l1ml's Verilog in Verilator, driven by cocotb
    VENDOR = "vendor"  # the Vitis/Vivado HLS RTL of hls/ in Verilator, driven by cocotb (l1ml.verify.vendor)


@dataclass
class LevelResult:
    level: str
    vectors: int
    mismatches: int
    seconds: float
    first_mismatches: list[str] = field(default_factory=list)
    note: str = ""
    latency_cycles: int | None = None  # measured (rtl)
    ii: int | None = None  # measured (rtl)
    # qonnx: vectors that differ from the emulator only because qonnx executes in float32 (their float64
    # execution equals the emulator); reported, not counted as mismatches
    qonnx_rounding: int = 0
    first_rounding: list[str] = field(default_factory=list)

    def line(self) -> str:
        s = f"{self.level}: {self.vectors} vectors, {self.mismatches} mismatches"
        if self.level == Level.QONNX.value:
            s += f", {self.qonnx_rounding} qonnx float32 rounding differences"
        if self.latency_cycles is not None:
            s += f", latency {self.latency_cycles} cycles, II {self.ii}"
        return s + (f" ({self.note})" if self.note else "")


def compare(expected: np.ndarray, actual: np.ndarray, level: str, limit: int = 10,
            rows: np.ndarray | None = None) -> tuple[int, list[str]]:
    """Number of mismatching vectors and a readable description of the first few (``rows``: the index
    in the whole run of each vector given, when these are a selection)."""
    e = expected.reshape(len(expected), int(np.prod(expected.shape[1:])))  # no -1: the selection may be empty
    a = actual.reshape(e.shape)
    bad = np.nonzero((e != a).any(axis=1))[0]
    msgs = []
    for i in bad[:limit]:
        j = int(np.nonzero(e[i] != a[i])[0][0])
        at = int(i if rows is None else rows[i])
        msgs.append(f"{level}: vector {at}, output[{j}]: expected {e[i, j]!r}, got {a[i, j]!r}")
    return int(len(bad)), msgs


def load_vectors(path: Path, g: Graph) -> Vectors:
    """Events from a file in the exported model's own layout (NCHW for images), as the IR wants them:
    a .npy array for a one-input model, an .npz with one array per input name for several inputs."""
    if not path.exists():
        raise InputFileError(f"{path}: no such file (give a .npy array of model inputs, or an .npz with one "
                             f"array per input: {', '.join(g.inputs)})")
    if not path.is_file():  # a directory, FIFO or device: never opened, so never a hang
        raise InputFileError(f"{path}: not a regular file; save the inputs to a .npy (or .npz) file first")
    try:
        x = np.load(path)
    except Exception as e:
        raise InputFileError(f"{path}: not a .npy/.npz array file ({e})") from e
    if isinstance(x, np.lib.npyio.NpzFile):
        missing = [i for i in g.inputs if i not in x.files]
        if missing:
            raise InputFileError(f"{path}: no arrays for inputs {missing}; it has {x.files}")
        out = {}
        for i in g.inputs:
            a, shape = x[i], g.t(i).shape
            if a.ndim < 1 or a[0].size != int(np.prod(shape)):
                raise InputFileError(f"{path}: '{i}' has events of shape {a.shape[1:]}, the input is {shape}")
            refuse_nan(g, i, a, where=f"{path}: ", ir_layout=False)
            out[i] = a.reshape(len(a), *shape).astype(np.float32)  # e.g. masks stored as (events, rows) bools
        return out
    if len(g.inputs) != 1:
        raise InputFileError(f"{path}: the model has inputs {g.inputs}; give an .npz with one array per input")
    shape = g.t(g.inputs[0]).shape
    onnx_shape = to_onnx_layout(g, np.zeros((1, *shape))).shape[1:]
    if x.shape[1:] != onnx_shape:
        raise InputFileError(f"{path}: events have shape {x.shape[1:]}, the model input is {onnx_shape}")
    refuse_nan(g, g.inputs[0], x, where=f"{path}: ", ir_layout=False)
    return to_ir_layout(g, x)


def run_levels(outdir: Path, levels: list[Level], n: int, seed: int = 0, data: Vectors | None = None,
               progress=None) -> list[LevelResult]:
    outdir = Path(outdir)
    g = load_compiled(outdir)  # the IR with its hashes, the source model, compile.json and verify.json
    x = make_vectors(g, n, seed=seed, data=data)
    codes = input_codes(g, x)
    out_t = g.t(g.outputs[0]).type
    out_codes = Emulator(g).run_codes(codes)[g.outputs[0]]
    expected = to_real(out_codes, out_t)  # the firmware's output: the codes on their grid
    if Level.VENDOR in levels:  # refuse before any level runs when there is no vendor RTL
        from l1ml.verify.vendor import find_output_rtl

        find_output_rtl(outdir)
    results = []
    for level in levels:
        t0 = time.perf_counter()
        note = ""
        if level is Level.VENDOR:
            from l1ml.verify.vendor import check_output

            vc = check_output(g, outdir, x)
            # a protocol violation with every word right (ap_idle never rose) still fails the level
            results.append(LevelResult(level.value, vc.n_vectors, vc.mismatches or int(bool(vc.error)),
                                       round(vc.seconds, 3), vc.first_mismatches, vc.note(),
                                       vc.latency_cycles, vc.ii))
            if progress:
                progress(results[-1])
            continue
        if level is Level.RTL:
            from l1ml.verify.rtl import check_rtl

            if not (outdir / "rtl" / "rtl.json").exists():
                raise InputFileError(f"{outdir}: no rtl/ here; compile again with this l1ml to write the Verilog")
            chk = check_rtl(g, outdir / "rtl", x, outdir / "sim_build")
            results.append(LevelResult(level.value, chk.n_vectors, chk.mismatches, round(chk.seconds, 3),
                                       chk.first_mismatches, "", chk.latency_cycles, chk.ii))
            if progress:
                progress(results[-1])
            continue
        rounding: list[str] = []
        if level is Level.QONNX:
            from l1ml.verify.qonnx_level import classify, run_qonnx

            onnx_x = {i: to_onnx_layout(g, v) for i, v in as_dict(g, x).items()}
            actual = run_qonnx(outdir / "model.onnx", onnx_x).astype(np.float64).reshape(expected.shape)
            # the model's value: codes times the output's float scale, which qonnx rounds to float32
            exact = scaled_real(out_codes, out_t, graph_scale(g.meta, g.outputs[0]))
            as32 = exact.astype(np.float32).astype(np.float64) if graph_scale(g.meta, g.outputs[0]) else exact
            out_scale = graph_scale(g.meta, g.outputs[0])
            lsb = 2.0 ** -out_t.frac * float(out_scale if out_scale is not None else 1)
            cmp = classify(g, outdir / "model.onnx", onnx_x, as32, actual, exact=exact, lsb=lsb)
            _, msgs = compare(as32[cmp.mismatches], actual[cmp.mismatches], level.value,
                              rows=cmp.mismatches)
            _, rounding = compare(as32[cmp.rounding], actual[cmp.rounding], "qonnx float32 rounding",
                                  rows=cmp.rounding)
            if len(cmp.rounding):
                note = f"explained: {cmp.explanation}"
            if cmp.float64_error:
                note = f"the float64 re-execution failed ({cmp.float64_error}), so no difference is explained"
            results.append(LevelResult(level.value, n_events(x), int(len(cmp.mismatches)),
                                       round(time.perf_counter() - t0, 3), msgs, note,
                                       qonnx_rounding=int(len(cmp.rounding)), first_rounding=rounding))
            if progress:
                progress(results[-1])
            continue
        if level is Level.HLS:
            from l1ml.verify.hls_level import csim_inputs, run_csim

            # the float vectors themselves: the project's input layer quantizes them (hls_level.csim_inputs)
            actual = run_csim(outdir / "hls", csim_inputs(g, x), int(np.prod(g.t(g.outputs[0]).shape)))
        else:  # pragma: no cover
            raise L1MLError(f"unknown level {level}")
        bad, msgs = compare(expected, actual.reshape(expected.shape), level.value)
        results.append(LevelResult(level.value, n_events(x), bad, round(time.perf_counter() - t0, 3), msgs, note))
        if progress:
            progress(results[-1])
    return results


def write_verify_json(outdir: Path, results: list[LevelResult]) -> None:
    path = Path(outdir) / "verify.json"
    old = read_verify_json(outdir)
    levels = old.get("levels", {})
    for r in results:
        levels[r.level] = asdict(r)
    doc = {"reference": "emulator", "levels": levels,
           "passed": all(v["mismatches"] == 0 for v in levels.values())}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
