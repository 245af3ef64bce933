"""The surrogate: target transform, conditions, a tiny training run, save/load, the report pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from l1ml.errors import InputFileError, L1MLError
from l1ml.simulation.surrogate import data, metrics
from l1ml.simulation.surrogate.flow import FlowConfig, Surrogate
from l1ml.simulation.surrogate.report import ReportSettings, run_report

TINY = FlowConfig(transforms=2, hidden=(32, 32), bins=6, epochs=4, batch_size=256)


@pytest.fixture(scope="module")
def sample_set() -> data.ResponseSet:
    return data.simulate_set(2400, seed=5, workers=1)


@pytest.fixture(scope="module")
def tiny_model(sample_set) -> Surrogate:
    torch.set_num_threads(1)
    return Surrogate.train(sample_set.subset(slice(0, 2000)), sample_set.subset(slice(2000, 2400)), TINY)


def test_simulated_set_is_deterministic_and_physical(sample_set):
    small = data.simulate_set(300, seed=6, workers=1)
    np.testing.assert_array_equal(data.simulate_set(300, seed=6, workers=1).response, small.response)
    assert not np.array_equal(data.simulate_set(300, seed=7, workers=1).response, small.response)
    assert sample_set.response.shape == (2400, len(data.COMPARTMENTS))
    assert (sample_set.response >= 0).all()
    em = np.isin(sample_set.ptype, [data.TYPES[0], data.TYPES[1]])
    # EM showers end in CE-E (compartments 0-4), hadrons reach CE-H.
    ce_h = sample_set.response[:, 5:].sum(axis=1) / sample_set.total
    assert np.median(ce_h[em]) < 0.02 < np.median(ce_h[~em])


def test_target_transform_round_trip_and_zeros():
    rng = np.random.default_rng(0)
    energy = rng.uniform(10, 200, 500)
    response = np.where(rng.random((500, 3)) < 0.3, 0.0, rng.exponential(0.2, (500, 3)) * energy[:, None] + 0.05)
    transform = data.TargetTransform.fit(response, energy)
    features = transform.forward(response, energy, rng)
    assert np.isfinite(features).all()
    np.testing.assert_allclose(features.mean(axis=0), 0.0, atol=0.1)
    back = transform.inverse(features, energy)
    kept = response >= transform.floor
    np.testing.assert_allclose(back[kept], response[kept], rtol=1e-5)
    assert (back[response == 0] == 0).all()
    # Generated features far outside the training range are clipped back into it.
    wild = transform.inverse(np.full((1, 3), 50.0), np.array([100.0]))
    np.testing.assert_allclose(wild[0], (response / energy[:, None]).max(axis=0) * 100.0, rtol=1e-6)
    restored = data.TargetTransform.from_dict(json.loads(json.dumps(transform.to_dict())))
    np.testing.assert_allclose(restored.inverse(features, energy), back)


def test_condition_encoding():
    r = data.RANGES
    enc = data.encode_conditions(np.array([r.e_min, r.e_max]), np.array([r.abs_eta_min, r.abs_eta_max]),
                                 np.array([0.0, np.pi / 2]), np.array([0, 3]))
    assert enc.shape == (2, 8) and enc.dtype == np.float32
    np.testing.assert_allclose(enc[:, 0], [-1, 1], atol=1e-6)
    np.testing.assert_allclose(enc[:, 1], [-1, 1], atol=1e-6)
    np.testing.assert_allclose(enc[:, 4:], [[1, 0, 0, 0], [0, 0, 0, 1]])
    with pytest.raises(L1MLError, match="not one the surrogate knows"):
        data.encode_conditions(np.ones(1) * 50, np.ones(1) * 2, np.zeros(1), np.array([4]))


def test_training_improves_and_sampling_is_reproducible(tiny_model, sample_set, tmp_path):
    assert tiny_model.history[-1] < tiny_model.history[0]
    test = sample_set.subset(slice(2000, 2400))
    first = tiny_model.generate(test, seed=3).response
    assert first.shape == test.response.shape and (first >= 0).all()
    np.testing.assert_array_equal(first, tiny_model.generate(test, seed=3).response)
    assert not np.array_equal(first, tiny_model.generate(test, seed=4).response)
    loaded = Surrogate.load(tiny_model.save(tmp_path / "model.pt"))
    np.testing.assert_array_equal(loaded.generate(test, seed=3).response, first)
    assert loaded.config == tiny_model.config


def test_even_a_tiny_surrogate_gets_the_response_scale(tiny_model, sample_set):
    test = sample_set.subset(slice(2000, 2400))
    gen = tiny_model.generate(test, seed=1)
    assert np.median(gen.total / gen.energy) == pytest.approx(np.median(test.total / test.energy), abs=0.15)


def test_two_sample_test_flags_a_miscalibrated_generator(sample_set):
    # The report's classifier must notice a generator that is 30 % off in energy.
    test = sample_set.subset(slice(0, 2400))
    wrong = test.with_response(test.response * 1.3)
    result = metrics.c2st_auc(data.classifier_features(test), data.classifier_features(wrong))
    assert result.auc > 0.8


def test_load_rejects_foreign_files(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        Surrogate.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("not a model")
    with pytest.raises(InputFileError, match="not a surrogate"):
        Surrogate.load(tmp_path / "junk.pt")


def test_report_writes_everything(tmp_path):
    settings = ReportSettings(n_train=1500, n_val=300, n_test=600, members=2, flow=TINY, timing_particles=200)
    result = run_report(tmp_path / "report", settings, workers=1, progress=False)
    out = tmp_path / "report"
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([".l1ml-output", "report.md", "metrics.json", "marginals.png", "moments_vs_energy.png",
                            "moments_vs_eta.png", "correlations.png", "training.png", "surrogate_0.pt",
                            "surrogate_1.pt"])
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["worst_ks"] == pytest.approx(result.worst_ks)
    assert saved["worst_ks"] == pytest.approx(max(np.mean([m["ks"][k] for m in saved["members"]])
                                                  for k in saved["members"][0]["ks"]))
    assert 0.4 < result.mean_auc < 1.0 and result.speedup > 1
    assert len(saved["members"]) == 2 and saved["members"][0]["seed"] != saved["members"][1]["seed"]
    text = (out / "report.md").read_text()
    assert "classifier AUC" in text and "![marginals.png](marginals.png)" in text
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(L1MLError, match="pass --force"):  # refused before minutes of work
        run_report(tmp_path / "mine", settings, workers=1, progress=False)


def test_sample_command(tiny_model, tmp_path):
    import pandas as pd
    from typer.testing import CliRunner

    from l1ml.simulation.surrogate.cli import app

    model = tiny_model.save(tmp_path / "model.pt")
    out = tmp_path / "pions.parquet"
    result = CliRunner().invoke(app, ["sample", str(model), "--energy", "80", "--type", "pion", "-n", "300",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert len(table) == 300 and list(table.columns[-8:]) == list(data.COMPARTMENT_NAMES)
    assert (table["type"] == int(data.TYPES[2])).all()
    outside = CliRunner().invoke(app, ["sample", str(model), "--energy", "500", "-o", str(out)])
    assert isinstance(outside.exception, L1MLError) and "trained range" in str(outside.exception)
