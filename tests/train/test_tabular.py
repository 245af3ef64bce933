"""Real Brevitas QAT on a small real (Pythia8) jet sample: export works and the emulator equals
Brevitas on every test event."""

import json

import numpy as np
import pytest

from l1ml.train.tabular import TabularConfig, train_tabular


@pytest.fixture(scope="module")
def small_jets(tmp_path_factory):
    from l1ml.simulation.jets import jets_dataset

    return jets_dataset(600, seed=11, cache_dir=tmp_path_factory.mktemp("jets"))


def test_train_export_and_brevitas_equals_emulator(tmp_path, small_jets):
    import torch

    torch.set_num_threads(1)
    cfg = TabularConfig(hidden=(16, 8), max_epochs=3, qat_epochs=2, weight_bits=5, act_bits=6)
    out = tmp_path / "model"
    res = train_tabular(cfg, out, dataset=small_jets)
    for f in ("model.onnx", "float_model.pt", "training.json", "test_inputs.npy", "all_inputs.npy"):
        assert (out / f).exists(), f
    doc = json.loads((out / "training.json").read_text())
    assert doc["brevitas_vs_emulator_mismatches"] == 0
    assert doc["qat_accuracy"] == pytest.approx(doc["emulator_accuracy"])
    assert 0.0 < doc["float_accuracy"] <= 1.0 and len(doc["feature_names"]) == 16
    # the exported model is what the compiler reads: types as the config asked
    from l1ml.load import load_graph

    g = load_graph(out / "model.onnx")
    assert g.t(g.inputs[0]).type.width == 8
    dense_w = [g.t(n.inputs[1]).type.width for n in g.nodes if n.op.value == "Dense"]
    assert len(dense_w) == 3 and max(dense_w) <= 5
    q = [g.t(n.outputs[0]).type for n in g.nodes if n.op.value == "Quantize"]
    assert q and all(t.width == 6 and not t.signed and t.rounding.value == "TRUNC" for t in q)
    assert res["test_events"] == len(np.load(out / "test_labels.npy"))
