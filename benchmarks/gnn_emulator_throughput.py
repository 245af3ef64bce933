"""Sector graphs per second of the l1ml emulator and of qonnx ``execute_onnx`` (the anchor) on the track
GNN, and their ratio; both on the same graphs, outputs compared.

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
    emu = Emulator(g)
    codes = input_codes(g, x)
    t0 = time.perf_counter()
    out = emu.run_codes(codes)[g.outputs[0]]
    t_emu = time.perf_counter() - t0
    nq = min(args.qonnx_graphs, args.graphs)
    t0 = time.perf_counter()
    ref = run_qonnx(args.model_dir / "model.onnx", {k: v[:nq] for k, v in x.items()})
    t_q = time.perf_counter() - t0
    same = np.array_equal(to_real(out[:nq], g.t(g.outputs[0]).type), ref.astype(np.float64))
    rate_emu, rate_q = args.graphs / t_emu, nq / t_q
    edges = g.t(g.outputs[0]).shape[0]
    print(f"model {args.model_dir / 'model.onnx'}: {edges} candidate edges per graph")
    print(f"emulator (float in, codes out): {rate_emu:,.0f} graphs/s ({args.graphs} graphs)")
    print(f"qonnx execute_onnx:             {rate_q:,.1f} graphs/s ({nq} graphs, one at a time)")
    print(f"ratio emulator / qonnx: {rate_emu / rate_q:.1f}x; outputs equal on the {nq} graphs: {same}")


if __name__ == "__main__":
    main()
