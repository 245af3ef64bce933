"""Byte identity of everything l1ml writes, before and after a refactor.

    python benchmarks/output_identity.py snapshot DIR   # build the models once, compile, record digests
    python benchmarks/output_identity.py check DIR      # recompile the same models, compare with the snapshot

The models (built once by ``snapshot`` and kept in DIR/models, so that ``check`` never depends on training
being reproducible): the jet MLP of examples/ at reuse factor 1 and 4, the HGCal CNN (zoo architecture,
seeded initialisation), a small trained track GNN (depth-2 sector, as tests/conftest.py builds it) and
the requantisation examples of ``l1ml.models.requant_examples`` (BatchNorm, float scales, Sigmoid, the
skip-connection autoencoder).
For each, every file of the compile output (Verilog, hls4ml project, IR, report and estimates) and the
emulator's outputs on 2,000 seeded inputs (over the full input range, and beyond it, which saturates) are
digested. ``check`` lists every file that differs, was added or was removed, and exits 1 if any did.
Takes about a minute (the snapshot's GNN training about 20 s more).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# name -> (model file in DIR/models, compile options)
CASES = {
    "jet_mlp_r1": ("jet_mlp.onnx", {"reuse_factor": 1}),
    "jet_mlp_r4": ("jet_mlp.onnx", {"reuse_factor": 4}),
    "hgcal_cnn": ("hgcal_cnn.onnx", {"reuse_factor": 1}),
    "track_gnn": ("track_gnn.onnx", {"reuse_factor": 4}),
    "track_gnn_auto": ("track_gnn.onnx", {"reuse_factor": 0, "tmux": 18}),  # reuse chosen by the sweep
    "hgcal_cnn_vivado": ("hgcal_cnn.onnx", {"reuse_factor": 2, "strategy": "Resource", "hls_backend": "Vivado",
                                            "pipeline_stages": 2}),
    # the requantisation and elementwise paths (docs/requantization.md): trained BatchNorm, float scales,
    # a Sigmoid table, the autoencoder's skip connection and squared-distance score
    "batchnorm_mlp": ("batchnorm_mlp.onnx", {"reuse_factor": 1}),
    "float_mlp_r2": ("default_float_mlp.onnx", {"reuse_factor": 2}),
    "sigmoid_mlp": ("sigmoid_mlp.onnx", {"reuse_factor": 1}),
    "autoencoder": ("skip_autoencoder.onnx", {"reuse_factor": 1}),
}
VECTORS = 2000


def build_models(models: Path) -> None:
    import torch

    models.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "examples" / "jet_mlp.onnx", models / "jet_mlp.onnx")
    from l1ml.models.hgcal_cnn import CNNShape, export, qat_cnn

    torch.manual_seed(0)
    shape = CNNShape()
    export(qat_cnn(shape), shape, str(models / "hgcal_cnn.onnx"))

    from l1ml.simulation.track_graphs import SectorGeometry, build_graphs
    from l1ml.simulation.tracker import TrackerConfig, TrackSample, simulate_tracks
    from l1ml.train.track_gnn import TrackGNNConfig, train_track_gnn

    torch.set_num_threads(1)
    sample = TrackSample(pileup=100.0, tracker=TrackerConfig(stub_pt_min=2.0))
    hits = simulate_tracks(12, seed=3, sample=sample, workers=1, progress=False)["hits"]
    graphs = build_graphs(hits, SectorGeometry(depth=2))[0]
    out = models / "gnn_train"
    train_track_gnn(TrackGNNConfig(hidden=8, max_epochs=40, qat_epochs=10, lr=1e-2), out, graphs=graphs,
                    qonnx_graphs=5)
    shutil.copy(out / "model.onnx", models / "track_gnn.onnx")
    shutil.rmtree(out)

    from l1ml.models import requant_examples

    for name in ("batchnorm_mlp", "default_float_mlp", "sigmoid_mlp", "skip_autoencoder"):
        getattr(requant_examples, name)(models / f"{name}.onnx")


def emulator_digest(outdir: Path) -> str:
    """sha256 of the emulator's output codes on seeded input codes over each input's range (its ends 10 % likelier)."""
    from l1ml.backends.emulate import Emulator
    from l1ml.compiled import load_compiled

    g = load_compiled(outdir)
    rng = np.random.default_rng(7)
    x = {}
    for name in g.inputs:
        t = g.t(name)
        lo, hi = t.type.min_code, t.type.max_code
        span = hi - lo
        x[name] = rng.integers(lo - span // 10, hi + span // 10 + 1, size=(VECTORS, *t.shape)).clip(lo, hi)
    codes = Emulator(g).run_codes(x)
    h = hashlib.sha256()
    for o in g.outputs:
        h.update(np.ascontiguousarray(codes[o], dtype=np.int64).tobytes())
    return h.hexdigest()


def _masked(data: bytes) -> bytes:
    return re.sub(rb"^(Stamp: |LIB_STAMP=).*$", rb"\1STAMP", data, flags=re.M)


def digests(dir_: Path) -> dict[str, dict[str, str]]:
    from l1ml.compile import CompileOptions, compile_model

    out: dict[str, dict[str, str]] = {}
    work = dir_ / "work"
    for name, (model, opts) in CASES.items():
        outdir = work / name  # the same path in snapshot and check: paths written into files stay equal
        if outdir.exists():
            shutil.rmtree(outdir)
        compile_model(dir_ / "models" / model, outdir, CompileOptions(**opts))
        # hls4ml stamps each project write with a random 8-hex-digit id (hls4ml_config.yml `Stamp:`,
        # build_lib.sh `LIB_STAMP=`): those two lines are masked before digesting
        files = {str(p.relative_to(outdir)): hashlib.sha256(_masked(p.read_bytes())).hexdigest()
                 for p in sorted(outdir.rglob("*")) if p.is_file()}
        files["(emulator outputs)"] = emulator_digest(outdir)
        out[name] = files
        print(f"{name}: {len(files) - 1} files", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=("snapshot", "check"))
    ap.add_argument("dir", type=Path)
    a = ap.parse_args()
    snap = a.dir / "digests.json"
    if a.action == "snapshot":
        if not (a.dir / "models" / "skip_autoencoder.onnx").is_file():
            build_models(a.dir / "models")
        snap.write_text(json.dumps(digests(a.dir), indent=1, sort_keys=True) + "\n")
        print(f"snapshot written: {snap}")
        return
    before = json.loads(snap.read_text())
    now = digests(a.dir)
    bad = 0
    for name in CASES:
        b, n = before.get(name, {}), now[name]
        changed = sorted(k for k in b.keys() & n.keys() if b[k] != n[k])
        added, removed = sorted(n.keys() - b.keys()), sorted(b.keys() - n.keys())
        bad += len(changed) + len(added) + len(removed)
        state = "identical" if not (changed or added or removed) else "DIFFERS"
        print(f"{name}: {len(n) - 1} files + emulator outputs: {state}")
        for label, items in (("changed", changed), ("added", added), ("removed", removed)):
            for k in items:
                print(f"  {label}: {k}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
