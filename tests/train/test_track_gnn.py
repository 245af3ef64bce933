"""Track-finding interaction network: masking, export form, and a real (tiny) float + QAT training run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from l1ml.errors import L1MLError
from l1ml.simulation.track_graphs import SectorGeometry, build_graphs, static_edges

GEOM = SectorGeometry(depth=2)


@pytest.fixture(scope="module")
def graphs():
    from l1ml.simulation.tracker import TrackerConfig, TrackSample, simulate_tracks

    sample = TrackSample(pileup=30.0, tracker=TrackerConfig(stub_pt_min=2.0))
    hits = simulate_tracks(5, seed=3, sample=sample, workers=1, progress=False)["hits"]
    return build_graphs(hits, GEOM)[0]


def _models(steps: int = 1):
    import torch

    from l1ml.models.track_gnn import GNNShape, InteractionNetwork, init_from_float

    torch.set_num_threads(1)
    torch.manual_seed(0)
    s, r = static_edges(GEOM)
    shape = GNNShape(hidden=8, steps=steps, weight_bits=5, act_bits=6)
    f = InteractionNetwork(shape, s, r, GEOM.n_nodes, quant=False)
    q = InteractionNetwork(shape, s, r, GEOM.n_nodes, quant=True)
    init_from_float(q, f)
    return f, q


@pytest.mark.parametrize("steps", [1, 2])
def test_garbage_in_invalid_slots_does_not_change_valid_edges(graphs, steps):
    import torch

    from l1ml.train.track_gnn import _tensors

    g = graphs.select(np.argsort(-graphs.edge_valid.sum(1))[:4])  # the busiest sectors
    nodes, edges, nmask, emask = (t.clone() for t in _tensors(g)[:4])
    rng = torch.Generator().manual_seed(1)
    noisy_nodes = torch.where(nmask.bool(), nodes, torch.rand(nodes.shape, generator=rng) * 2 - 1)
    noisy_edges = torch.where(emask.bool(), edges, torch.rand(edges.shape, generator=rng) * 2 - 1)
    valid = torch.from_numpy(g.edge_valid)
    for model in _models(steps):
        model.eval()
        with torch.no_grad():
            clean = model(nodes, edges, nmask, emask)
            noisy = model(noisy_nodes, noisy_edges, nmask, emask)
        assert torch.equal(clean[valid], noisy[valid])
        assert not torch.equal(clean[~valid], noisy[~valid])  # the garbage did reach the network


def test_export_uses_constant_gathers_and_incidence_matmuls(tmp_path):
    import onnx
    from onnx import numpy_helper

    from l1ml.models.track_gnn import export

    _, q = _models()
    s, r = static_edges(GEOM)
    export(q, GEOM.n_nodes, len(s), str(tmp_path / "m.onnx"))
    m = onnx.load(str(tmp_path / "m.onnx"))
    consts = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    ops = {n.op_type for n in m.graph.node}
    assert not ops & {"GatherND", "ScatterND", "ScatterElements"}
    gathers = [n for n in m.graph.node if n.op_type == "Gather"]
    indices = sorted(tuple(consts[n.input[1]].tolist()) for n in gathers)
    assert indices == sorted([tuple(s.tolist()), tuple(r.tolist())] * 2)  # edge MLP and classifier
    incid = [consts[i] for n in m.graph.node if n.op_type == "MatMul" for i in n.input
             if i in consts and consts[i].shape == (GEOM.n_nodes, len(s))]
    assert not list(tmp_path.glob("*.data"))  # one self-contained file
    assert len(incid) == 2 and all(set(np.unique(a)) == {0.0, 1.0} for a in incid)
    assert {tuple(a.argmax(0).tolist()) for a in incid} == {tuple(s.tolist()), tuple(r.tolist())}


def test_train_export_and_qonnx_equals_brevitas(tmp_path, graphs):
    import torch

    from l1ml.train.track_gnn import TrackGNNConfig, train_track_gnn

    torch.set_num_threads(1)
    cfg = TrackGNNConfig(hidden=8, weight_bits=5, act_bits=6, max_epochs=3, qat_epochs=2, batch_size=16)
    out = tmp_path / "gnn"
    res = train_track_gnn(cfg, out, graphs=graphs, qonnx_graphs=6)
    for f in ("model.onnx", "float_model.pt", "training.json", "test_graphs.npz", "topology.npz"):
        assert (out / f).exists(), f
    doc = json.loads((out / "training.json").read_text())
    assert doc["qonnx_graphs_checked"] == 6 and doc["qonnx_vs_brevitas_mismatches"] == 0
    for kind in ("float", "qat"):
        assert 0.5 < doc[kind]["auc"] <= 1.0
        assert 0.0 <= doc[kind]["efficiency"] <= 1.0 and 0.0 <= doc[kind]["purity"] <= 1.0
    saved = np.load(out / "test_graphs.npz")
    assert saved["nodes"].shape[0] == res["graphs"]["test"]
    assert np.array_equal(np.load(out / "topology.npz")["senders"], static_edges(GEOM)[0])
    assert not list(tmp_path.glob(".gnn.tmp-*"))


def test_config_errors():
    from l1ml.train.track_gnn import TrackGNNConfig, split_events

    with pytest.raises(L1MLError, match="one or two"):
        TrackGNNConfig(steps=3)
    with pytest.raises(L1MLError, match="too few"):
        split_events(np.array([0, 0, 1]), seed=1)


def test_missing_hits_file_names_the_remedy(tmp_path):
    from l1ml.errors import InputFileError
    from l1ml.train.track_gnn import load_hits

    with pytest.raises(InputFileError, match="simulate tracks"):
        load_hits(tmp_path, events=1, pileup=0.0, seed=1)


def test_command_help_teaches_defaults_and_example():
    import typer
    from typer.testing import CliRunner

    from l1ml.train.track_gnn import train_track_gnn_cmd

    app = typer.Typer()
    app.command("track-gnn")(train_track_gnn_cmd)
    app.command("other")(lambda: None)  # two commands, so the sub-command name is used as when mounted
    res = CliRunner().invoke(app, ["track-gnn", "--help"], terminal_width=200)
    assert res.exit_code == 0
    assert "Example: l1ml train track-gnn" in res.output and "--pileup" in res.output
