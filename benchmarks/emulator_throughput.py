"""Events per second of the l1ml emulator (the fused plan, and the node-by-node interpreter), hls4ml's
C-simulation ``predict`` and qonnx ``execute_onnx`` on the jet MLP, and the ratios (the anchor is hls4ml
predict). Every rate also as events per CPU-second of this process (``time.process_time``): on a loaded
machine the wall-clock rate measures the neighbours too. Outputs are compared, not only timed.

    python benchmarks/emulator_throughput.py [--model examples/jet_mlp.onnx] [--events 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def rate(fn, n: int, repeat: int = 3) -> tuple[float, float]:
    """Best events per wall-clock second and per CPU-second of this process over ``repeat`` runs."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return n / wall, n / cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[1] / "examples/jet_mlp.onnx")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--slow-events", type=int, default=20_000, help="events for hls4ml predict and qonnx")
    args = ap.parse_args()

    from l1ml.backends.emulate import Emulator, input_codes
    from l1ml.backends.hls4ml import build_hls_model
    from l1ml.ir.quantize import to_real
    from l1ml.load import load_graph
    from l1ml.verify.qonnx_level import run_qonnx

    g = load_graph(args.model)
    shape = g.t(g.inputs[0]).shape
    x = np.random.default_rng(0).normal(size=(args.events, *shape)).astype(np.float32)
    emu, interp = Emulator(g), Emulator(g, fused=False)
    codes = input_codes(g, x)
    out = g.outputs[0]
    r_emu = rate(lambda: emu.run_codes(codes), args.events)
    r_int = rate(lambda: interp.run_codes(codes), args.events)
    same_int = np.array_equal(emu.run_codes(codes)[out], interp.run_codes(codes)[out])
    # end to end, float in and float out, as `l1ml.emulate` does
    from l1ml import emulate

    r_emu_float = rate(lambda: emulate(g, x), args.events, repeat=1)
    same_float = np.array_equal(emulate(g, x), to_real(emu.run_codes(codes)[out], g.t(out).type))

    xs = x[: args.slow_events]
    with tempfile.TemporaryDirectory() as d:
        hm = build_hls_model(g, Path(d) / "hls")
        hm.compile()
        xr = np.ascontiguousarray(to_real(input_codes(g, xs)[g.inputs[0]], g.t(g.inputs[0]).type))
        r_hls = rate(lambda: hm.predict(xr), len(xs), repeat=1)
        y_hls = hm.predict(xr)
    r_qonnx = rate(lambda: run_qonnx(args.model, xs), len(xs), repeat=1)
    y_emu = to_real(emu.run_codes(input_codes(g, xs))[out], g.t(out).type)
    same_hls = np.array_equal(np.asarray(y_hls).reshape(len(xs), -1), y_emu)
    same_qonnx = np.array_equal(np.asarray(run_qonnx(args.model, xs), np.float64).reshape(len(xs), -1), y_emu)

    def line(what: str, r: tuple[float, float], n: int) -> str:
        return f"{what:30s} {r[0]:14,.0f} events/s  {r[1]:14,.0f} events/CPU-s  ({n:,} events)"

    steps = ", ".join(f"{'+'.join(s.nodes)}: {s.layer.dtype.__name__}" for s in emu.plan.fused)
    print(f"model {args.model.name}: {len(g.nodes)} IR nodes, input {shape}; fused steps {steps}")
    print(line("emulator fused (codes in/out)", r_emu, args.events))
    print(line("emulator interpreter (codes)", r_int, args.events))
    print(line("emulator fused (float in/out)", r_emu_float, args.events))
    print(line("hls4ml C-sim predict", r_hls, len(xs)))
    print(line("qonnx execute_onnx", r_qonnx, len(xs)))
    print(f"ratio fused / interpreter:         {r_emu[0] / r_int[0]:8.1f}x wall, {r_emu[1] / r_int[1]:.1f}x CPU")
    print(f"ratio emulator / hls4ml predict:   {r_emu[0] / r_hls[0]:8.1f}x  (float path {r_emu_float[0] / r_hls[0]:.1f}x)")
    print(f"ratio emulator / qonnx:            {r_emu[0] / r_qonnx[0]:8.1f}x")
    print(f"equal outputs: fused = interpreter {same_int}, float path = codes path {same_float}, "
          f"hls4ml predict = emulator {same_hls}, qonnx = emulator {same_qonnx} ({len(xs):,} events)")

if __name__ == "__main__":
    main()
