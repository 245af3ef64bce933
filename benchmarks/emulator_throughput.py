"""Events per second of the l1ml emulator, hls4ml's C-simulation ``predict`` and qonnx
``execute_onnx`` on the jet MLP, and the ratios (the anchor is hls4ml predict).

    python benchmarks/emulator_throughput.py [--model examples/jet_mlp.onnx] [--events 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def rate(fn, n: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


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
    emu = Emulator(g)
    codes = input_codes(g, x)
    r_emu = rate(lambda: emu.run_codes(codes), args.events)
    # end to end, float in and float out, as `l1ml.emulate` does
    from l1ml import emulate

    r_emu_float = rate(lambda: emulate(g, x), args.events, repeat=1)

    xs = x[: args.slow_events]
    with tempfile.TemporaryDirectory() as d:
        hm = build_hls_model(g, Path(d) / "hls")
        hm.compile()
        xr = np.ascontiguousarray(to_real(input_codes(g, xs)[g.inputs[0]], g.t(g.inputs[0]).type))
        r_hls = rate(lambda: hm.predict(xr), len(xs), repeat=1)
        y_hls = hm.predict(xr)
    r_qonnx = rate(lambda: run_qonnx(args.model, xs), len(xs), repeat=1)
    same = np.array_equal(np.asarray(y_hls).reshape(len(xs), -1),
                          to_real(emu.run_codes(input_codes(g, xs))[g.outputs[0]], g.t(g.outputs[0]).type))

    print(f"model {args.model.name}: {len(g.nodes)} IR nodes, input {shape}")
    print(f"emulator (codes in/out)    {r_emu:14,.0f} events/s  ({args.events:,} events)")
    print(f"emulator (float in/out)    {r_emu_float:14,.0f} events/s")
    print(f"hls4ml C-sim predict       {r_hls:14,.0f} events/s  ({len(xs):,} events)")
    print(f"qonnx execute_onnx         {r_qonnx:14,.0f} events/s  ({len(xs):,} events)")
    print(f"ratio emulator / hls4ml predict: {r_emu / r_hls:8.1f}x  (float path {r_emu_float / r_hls:.1f}x)")
    print(f"ratio emulator / qonnx:          {r_emu / r_qonnx:8.1f}x")
    print(f"hls4ml predict equals emulator on these events: {same}")


if __name__ == "__main__":
    main()
