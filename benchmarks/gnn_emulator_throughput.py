"""Sector graphs per second of the l1ml emulator (fused plan and node-by-node interpreter) and of qonnx
``execute_onnx`` (the anchor) on the track GNN, and their ratios; all on the same graphs, outputs compared.
Emulator rates also per CPU-second of this process (``time.process_time``), which a loaded machine
does not distort.

    python benchmarks/gnn_emulator_throughput.py --model-dir track_gnn [--graphs 20000] [--qonnx-graphs 200]

``--model-dir`` is the output of ``l1ml train track-gnn`` (model.onnx and test_graphs.npz). The graphs are
the test graphs repeated, so the emulator sees the occupancy of real sectors.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("--graphs", type=int, default=20_000)
    ap.add_argument("--qonnx-graphs", type=int, default=200)
    args = ap.parse_args()

    from l1ml.backends.emulate import Emulator, input_codes
    from l1ml.ir.quantize import to_real
    from l1ml.load import load_graph
    from l1ml.verify.levels import load_vectors
    from l1ml.verify.qonnx_level import run_qonnx

    g = load_graph(args.model_dir / "model.onnx")
    test = load_vectors(args.model_dir / "test_graphs.npz", g)
    reps = -(-args.graphs // len(test["nodes"]))
    x = {k: np.concatenate([v] * reps)[:args.graphs] for k, v in test.items()}
    codes = input_codes(g, x)
    out_name = g.outputs[0]
    runs = {}
    for fused in (True, False):
        emu = Emulator(g, fused=fused)
        t0, c0 = time.perf_counter(), time.process_time()
        out = emu.run_codes(codes)[out_name]
        runs[fused] = (out, time.perf_counter() - t0, time.process_time() - c0)
    out, t_emu, c_emu = runs[True]
    _, t_int, c_int = runs[False]
    nq = min(args.qonnx_graphs, args.graphs)
    t0 = time.perf_counter()
    ref = run_qonnx(args.model_dir / "model.onnx", {k: v[:nq] for k, v in x.items()})
    t_q = time.perf_counter() - t0
    same = np.array_equal(to_real(out[:nq], g.t(out_name).type), ref.astype(np.float64))
    same_int = np.array_equal(out, runs[False][0])
    n = args.graphs
    rate_q = nq / t_q
    edges = g.t(out_name).shape[0]
    print(f"model {args.model_dir / 'model.onnx'}: {edges} candidate edges per graph")
    print(f"emulator fused (float in, codes out): {n / t_emu:,.0f} graphs/s, {n / c_emu:,.0f} graphs/CPU-s ({n} graphs)")
    print(f"emulator interpreter:                 {n / t_int:,.0f} graphs/s, {n / c_int:,.0f} graphs/CPU-s")
    print(f"qonnx execute_onnx:                   {rate_q:,.1f} graphs/s ({nq} graphs, one at a time)")
    print(f"ratio fused / interpreter: {t_int / t_emu:.1f}x wall, {c_int / c_emu:.1f}x CPU; "
          f"fused / qonnx: {n / t_emu / rate_q:.1f}x")
    print(f"outputs equal: fused = interpreter on {n} graphs: {same_int}; emulator = qonnx on {nq} graphs: {same}")

if __name__ == "__main__":
    main()
