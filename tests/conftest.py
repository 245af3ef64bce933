"""Shared fixtures: small Brevitas-free QONNX models built on the fly, and the example model."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "jet_mlp.onnx"


@pytest.fixture(scope="session")
def example_model() -> Path:
    assert EXAMPLE.exists(), "examples/jet_mlp.onnx is committed with the repository"
    return EXAMPLE


@pytest.fixture(scope="session")
def small_track_gnn(tmp_path_factory) -> Path:
    """A trained track GNN on the small geometry (depth 2: 72 nodes, 416 edges, hidden 8, 1 step): the
    directory of `l1ml train track-gnn` (model.onnx, test_graphs.npz, ...). About 15 s on one core."""
    import torch

    from l1ml.simulation.track_graphs import SectorGeometry, build_graphs
    from l1ml.simulation.tracker import TrackerConfig, TrackSample, simulate_tracks
    from l1ml.train.track_gnn import TrackGNNConfig, train_track_gnn

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("gnn") / "small"
    sample = TrackSample(pileup=100.0, tracker=TrackerConfig(stub_pt_min=2.0))
    hits = simulate_tracks(12, seed=3, sample=sample, workers=1, progress=False)["hits"]
    graphs = build_graphs(hits, SectorGeometry(depth=2))[0]
    cfg = TrackGNNConfig(hidden=8, max_epochs=40, qat_epochs=10, lr=1e-2)
    res = train_track_gnn(cfg, out, graphs=graphs, qonnx_graphs=5)
    assert res["qat"]["auc"] > 0.85, "the fixture should be a trained network, not noise"
    return out
