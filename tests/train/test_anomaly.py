"""Anomaly trigger: metrics on constructed scores, the exported score equals the model's arithmetic, and
training on a tiny sample learns to separate a constructed anomaly."""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import pytest

from l1ml.errors import L1MLError
from l1ml.train.anomaly_metrics import (
    BUNCH_CROSSING_KHZ,
    efficiency_at_rate,
    headline_rate,
    roc_auc,
    threshold_at_rate,
)


def test_threshold_keeps_the_accepted_fraction_at_the_rate() -> None:
    b = np.arange(1000, dtype=float)  # 0..999
    # 1 % of 40 MHz = 400 kHz: 10 events above the threshold
    t = threshold_at_rate(b, 0.01 * BUNCH_CROSSING_KHZ)
    assert t == 989.0 and (b > t).sum() == 10
    e = efficiency_at_rate(b, np.array([988.0, 989.0, 990.0, 5000.0]), 0.01 * BUNCH_CROSSING_KHZ)
    assert e["signal_efficiency"] == 0.5 and e["background_above"] == 10 and e["measured"]
    assert e["achieved_rate_khz"] == pytest.approx(400.0)


def test_threshold_with_ties_never_exceeds_the_rate() -> None:
    b = np.array([0.0] * 90 + [1.0] * 5 + [2.0] * 5)  # quantized scores tie
    for frac, expect in ((0.05, 1.0), (0.07, 1.0), (0.10, 0.0), (0.04, 2.0), (0.001, 2.0)):
        t = threshold_at_rate(b, frac * BUNCH_CROSSING_KHZ)
        assert t == expect and (b > t).mean() <= frac + 1e-12


def test_threshold_refusals() -> None:
    with pytest.raises(L1MLError, match="no background"):
        threshold_at_rate(np.zeros(0), 1.0)
    with pytest.raises(L1MLError, match="rate"):
        threshold_at_rate(np.ones(3), 0.0)


def test_auc_equals_the_pairwise_probability_with_ties_as_half() -> None:
    rng = np.random.default_rng(0)
    b, s = rng.integers(0, 6, 40).astype(float), rng.integers(2, 9, 30).astype(float)
    pairs = [(1.0 if y > x else 0.5 if y == x else 0.0) for x, y in product(b, s)]
    assert roc_auc(b, s) == pytest.approx(np.mean(pairs))
    assert roc_auc(np.zeros(5), np.ones(5)) == 1.0


def test_headline_rate_is_the_lowest_measurable() -> None:
    assert headline_rate(400_000) == 1.0  # 1 kHz = 2.5e-5: 10 events of 400,000
    assert headline_rate(4_000) == 100.0
    assert headline_rate(50) == 1000.0  # nothing measurable: the highest listed rate, flagged in the report


def _calibrated(seed: int = 0):
    import torch

    from l1ml.models.anomaly import AEShape, autoencoder

    torch.manual_seed(seed)
    shape = AEShape(encoder=(16,), latent=4, decoder=8)
    q = autoencoder(shape, quant=True)
    q.train()
    with torch.no_grad():
        for _ in range(5):
            q(torch.rand(64, 57) * 3 - 1)
    q.eval()
    return q, shape


def test_exported_output_is_the_squared_distance_score(tmp_path) -> None:
    import onnx
    import torch

    from l1ml.models.anomaly import export
    from l1ml.train.anomaly import qonnx_scores

    q, shape = _calibrated()
    export(q, shape, tmp_path / "ae.onnx")
    m = onnx.load(tmp_path / "ae.onnx")
    assert [n.op_type for n in m.graph.node][-3:] == ["Sub", "Mul", "ReduceSum"] and len(m.graph.output) == 1
    sub = m.graph.node[-3]
    producers = {o: n.op_type for n in m.graph.node for o in n.output}
    assert producers[sub.input[0]] == "Quant" and producers[sub.input[1]] == "Quant"
    x = (np.random.default_rng(1).random((40, 57)) * 3 - 1).astype(np.float32)
    x[:5] = 0.0  # empty events
    with torch.no_grad():
        xq, r = (t.numpy().astype(np.float64) for t in q.reconstruct(torch.from_numpy(x)))
        brevitas = q(torch.from_numpy(x)).numpy()[:, 0]
    exact = ((xq - r) ** 2).sum(axis=1)  # float64: exact for these grids
    got = qonnx_scores(tmp_path / "ae.onnx", x)
    np.testing.assert_allclose(got, exact, rtol=1e-6)  # qonnx executes in float32
    np.testing.assert_allclose(brevitas, exact, rtol=1e-6)
    # the score reuses the input quantizer: xq is on the input grid, not the raw input
    assert not np.allclose(xq, x) and np.allclose(xq * 512, np.round(xq * 512), atol=1e-9)


def test_scale_features_maps_gev_into_the_fixed_point_range() -> None:
    from l1ml.models.anomaly import scale_features

    x = np.zeros((2, 57), np.float32)
    x[1, 0::3], x[1, 1::3], x[1, 2::3] = 2000.0, -3.0, np.pi
    y = scale_features(x)
    assert (y[0] == 0).all() and np.abs(y).max() < 4.0
    assert y[1, 0] == pytest.approx(np.log2(2001.0) / 4) and y[1, 1] == pytest.approx(-0.75)


def _toy_dataset(n_bkg: int = 600, n_sig: int = 150, seed: int = 0):
    """Background: a MET and one or two soft jets; 'signal': six hard jets and a muon."""
    from l1ml.simulation.l1objects import SAMPLE_NAMES, L1Dataset

    rng = np.random.default_rng(seed)

    def events(n: int, n_jets: int, jet_pt: float, muon: bool) -> np.ndarray:
        x = np.zeros((n, 57), np.float32)
        x[:, 0], x[:, 2] = rng.exponential(20.0, n), rng.uniform(-np.pi, np.pi, n)
        for j in range(n_jets):
            c = 27 + 3 * j
            x[:, c] = np.sort(rng.exponential(jet_pt, n) + 20.0)[::-1]
            x[:, c + 1], x[:, c + 2] = rng.uniform(-2.4, 2.4, n), rng.uniform(-np.pi, np.pi, n)
        if muon:
            x[:, 15], x[:, 16], x[:, 17] = rng.uniform(20, 200, n), rng.uniform(-2, 2, n), rng.uniform(-3, 3, n)
        return x

    parts = [events(n_bkg, 1, 10.0, False), events(n_bkg // 4, 2, 30.0, False), events(n_sig, 6, 150.0, True)]
    sample = np.r_[np.full(n_bkg, SAMPLE_NAMES.index("zerobias")), np.full(n_bkg // 4, SAMPLE_NAMES.index("qcd")),
                   np.full(n_sig, SAMPLE_NAMES.index("zprime_ttbar"))]
    return L1Dataset(np.concatenate(parts), sample.astype(np.int64))


@pytest.fixture(scope="module")
def toy_trained(tmp_path_factory):
    import torch

    from l1ml.train.anomaly import AnomalyConfig, train_anomaly

    torch.set_num_threads(1)
    cfg = AnomalyConfig(encoder=(16,), latent=4, decoder=8, max_epochs=25, qat_epochs=6, lr=1e-2)
    out = tmp_path_factory.mktemp("anomaly") / "ae"
    return out, train_anomaly(cfg, out, dataset=_toy_dataset(), qonnx_events=40)


def test_training_on_a_tiny_sample_separates_a_constructed_anomaly(toy_trained) -> None:
    out, res = toy_trained
    for f in ("model.onnx", "float_model.pt", "training.json", "scores.png", "roc.png", "all_inputs.npy"):
        assert (out / f).exists(), f
    doc = json.loads((out / "training.json").read_text())
    assert doc["split"]["test"] == {"zerobias": 240, "qcd": 60, "zprime_ttbar": 150}
    assert doc["headline_rate_khz"] == 1000.0  # 240 test crossings measure nothing rarer
    for model in ("float", "qat"):
        assert doc[model]["zprime_ttbar"]["auc"] > 0.95, model
        at = doc[model]["zprime_ttbar"]["at_rate"]
        assert [a["rate_khz"] for a in at] == [1.0, 10.0, 100.0, 1000.0]
        assert all(a["background_above"] <= a["rate_khz"] / 40_000 * 240 for a in at)
    assert doc["qonnx_vs_brevitas"] == {**doc["qonnx_vs_brevitas"], "events": 40, "mismatches": 0}
    assert res["brevitas_vs_emulator"]["mismatches"] == 0, res["brevitas_vs_emulator"]


@pytest.mark.slow
def test_trained_autoencoder_compiles_and_is_bit_exact_in_hls_and_rtl(toy_trained, tmp_path) -> None:
    from l1ml.backends.emulate import to_ir_layout
    from l1ml.compile import CompileOptions, compile_model
    from l1ml.ir.graph import Graph
    from l1ml.verify.levels import Level, run_levels

    out, _ = toy_trained
    compile_model(out / "model.onnx", tmp_path / "c", CompileOptions())
    g = Graph.load(tmp_path / "c" / "model.l1ml.json")
    events = to_ir_layout(g, np.load(out / "all_inputs.npy"))
    results = run_levels(tmp_path / "c", [Level.QONNX, Level.HLS, Level.RTL], 300, data=events)
    assert [(r.level, r.vectors, r.mismatches) for r in results] == [(lv, 300, 0) for lv in ("qonnx", "hls", "rtl")]
