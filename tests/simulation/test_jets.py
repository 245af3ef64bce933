"""Jet dataset: substructure maths on toy jets, small Pythia samples, Parquet I/O and the cache."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest

from l1ml.errors import InputFileError, L1MLError
from l1ml.simulation.jet_features import (
    FEATURE_NAMES,
    energy_correlators,
    jet_features,
    pairwise_delta_r,
    pt_y_phi,
)
from l1ml.simulation.jets import (
    CLASS_NAMES,
    JetDataset,
    JetSettings,
    jets_dataset,
    load_jets,
    save_jets,
    simulate_jets,
)

SMALL = JetSettings(batch_events=30)


def _massless(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> dict[str, np.ndarray]:
    return {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "E": pt * np.cosh(eta)}


def _toy_jet(rng: np.random.Generator, prongs: int, n: int = 40, width: float = 0.02,
             separation: float = 0.3) -> dict[str, np.ndarray]:
    """Massless particles around ``prongs`` narrow cores placed on a small circle around (0, 0)."""
    centres = [(separation / 2 * np.cos(2 * np.pi * k / prongs), separation / 2 * np.sin(2 * np.pi * k / prongs))
               for k in range(prongs)] if prongs > 1 else [(0.0, 0.0)]
    core = rng.integers(0, len(centres), n)
    eta = np.array([centres[c][0] for c in core]) + rng.normal(0, width, n)
    phi = np.array([centres[c][1] for c in core]) + rng.normal(0, width, n)
    return _massless(rng.exponential(20.0, n) + 1.0, eta, phi)


def _brute_force(pt: np.ndarray, dr: np.ndarray, beta: float) -> dict[str, float]:
    """Energy correlators by explicit loops over pairs and triples."""
    z = pt / pt.sum()
    e2 = sum(z[i] * z[j] * dr[i, j] ** beta for i, j in itertools.combinations(range(len(z)), 2))
    e3 = m1 = m2 = 0.0
    for i, j, k in itertools.combinations(range(len(z)), 3):
        angles = sorted((dr[i, j], dr[i, k], dr[j, k]))
        w = z[i] * z[j] * z[k]
        e3 += w * (angles[0] * angles[1] * angles[2]) ** beta
        m1 += w * angles[0] ** beta
        m2 += w * (angles[0] * angles[1]) ** beta
    return {"e2": e2, "e3": e3, "1e3": m1, "2e3": m2}


def test_energy_correlators_match_explicit_sums() -> None:
    rng = np.random.default_rng(0)
    jet = _toy_jet(rng, prongs=3, n=17)
    pt, y, phi = pt_y_phi(jet["px"], jet["py"], jet["pz"], jet["E"])
    dr = pairwise_delta_r(y, phi)
    fast = energy_correlators(pt, dr)
    for beta in (1, 2):
        slow = _brute_force(pt, dr, float(beta))
        for key in ("e2", "e3", "1e3", "2e3"):
            assert fast[f"{key}_b{beta}"] == pytest.approx(slow[key], rel=1e-10)


def test_delta_r_wraps_in_azimuth() -> None:
    dr = pairwise_delta_r(np.array([0.0, 0.0]), np.array([3.1, -3.1]))
    assert dr[0, 1] == pytest.approx(2 * np.pi - 6.2)


def test_prong_counting_observables_on_toy_jets() -> None:
    rng = np.random.default_rng(1)
    jets = [_toy_jet(rng, prongs) for prongs in (1, 2, 3) for _ in range(15)]
    arr = ak.Array([[dict(zip(j, v, strict=True)) for v in zip(*j.values(), strict=True)] for j in jets])
    f = jet_features(arr)
    assert f.shape == (45, 16) and np.isfinite(f).all()
    col = {name: f[:, i] for i, name in enumerate(FEATURE_NAMES)}
    one, two, three = slice(0, 15), slice(15, 30), slice(30, 45)
    # tau21 separates 1- from 2-prong jets, tau32 2- from 3-prong; D2 is small for 2-prong jets.
    assert np.median(col["j_tau21_b1"][two]) < 0.5 * np.median(col["j_tau21_b1"][one])
    assert np.median(col["j_tau32_b1"][three]) < 0.6 * np.median(col["j_tau32_b1"][two])
    assert np.median(col["j_d2_b1_mmdt"][two]) < np.median(col["j_d2_b1_mmdt"][one])
    assert np.median(col["j_mass"][three]) > np.median(col["j_mass"][one])
    # Multiplicity is the particle count; the jet mass equals the invariant mass of the constituents.
    np.testing.assert_array_equal(col["j_multiplicity"], 40)
    j = jets[20]
    mass = np.sqrt(j["E"].sum() ** 2 - j["px"].sum() ** 2 - j["py"].sum() ** 2 - j["pz"].sum() ** 2)
    assert col["j_mass"][20] == pytest.approx(mass, rel=1e-5)
    # Grooming only removes particles: the groomed mass never exceeds the jet mass.
    assert np.all(col["j_mass_mmdt"] <= col["j_mass"] * (1 + 1e-5))


def test_small_sample_is_balanced_deterministic_and_physical() -> None:
    a = simulate_jets(60, seed=4, workers=1, progress=False, settings=SMALL)
    b = simulate_jets(60, seed=4, workers=2, progress=False, settings=SMALL)
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.features.dtype == np.float32 and a.labels.dtype == np.int64
    assert a.feature_names == FEATURE_NAMES and len(FEATURE_NAMES) == 16
    assert a.class_counts() == {name: 12 for name in CLASS_NAMES}
    assert np.isfinite(a.features).all()
    assert not np.all(np.diff(a.labels) >= 0), "jets are shuffled, not grouped by class"
    groomed = {name: np.median(a.features[a.labels == c, 1]) for c, name in enumerate(CLASS_NAMES)}
    assert 65 < groomed["W"] < 90 and 75 < groomed["Z"] < 100 and 140 < groomed["t"] < 200
    assert groomed["q"] < 50
    c = simulate_jets(60, seed=5, workers=1, progress=False, settings=SMALL)
    assert not np.array_equal(a.features, c.features)


def test_parquet_round_trip_and_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    ds = JetDataset(rng.normal(size=(20, 16)).astype(np.float32), rng.integers(0, 5, 20).astype(np.int64))
    path = save_jets(ds, tmp_path / "sub" / "jets.parquet")
    back = load_jets(path)
    np.testing.assert_array_equal(back.features, ds.features)
    np.testing.assert_array_equal(back.labels, ds.labels)
    assert list(pd.read_parquet(path).columns) == [*FEATURE_NAMES, "label"]

    pd.read_parquet(path).drop(columns=["j_zlogz"]).to_parquet(tmp_path / "missing.parquet")
    with pytest.raises(InputFileError, match="j_zlogz"):
        load_jets(tmp_path / "missing.parquet")
    with pytest.raises(InputFileError, match="does not exist"):
        load_jets(tmp_path / "nope.parquet")
    (tmp_path / "garbage.parquet").write_text("not parquet")
    with pytest.raises(InputFileError, match="not a readable Parquet"):
        load_jets(tmp_path / "garbage.parquet")
    with pytest.raises(L1MLError):
        JetDataset(np.zeros((3, 5), np.float32), np.zeros(3, np.int64))
    with pytest.raises(L1MLError, match="at least 5"):
        simulate_jets(3, progress=False)


def test_cache_returns_the_stored_dataset(tmp_path: Path) -> None:
    first = jets_dataset(10, seed=2, cache_dir=tmp_path, workers=1, progress=False, settings=SMALL)
    entries = list(tmp_path.iterdir())
    assert len(entries) == 1 and (entries[0] / "manifest.json").is_file()
    stamp = (entries[0] / "jets.parquet").stat().st_mtime_ns
    start = time.perf_counter()
    second = jets_dataset(10, seed=2, cache_dir=tmp_path, workers=1, progress=False, settings=SMALL)
    assert time.perf_counter() - start < 2.0
    assert (entries[0] / "jets.parquet").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(first.features, second.features)
    np.testing.assert_array_equal(first.labels, second.labels)
    other = jets_dataset(10, seed=3, cache_dir=tmp_path, workers=1, progress=False, settings=SMALL)
    assert len(list(tmp_path.iterdir())) == 2
    assert not np.array_equal(other.features, first.features)


def test_impossible_selection_is_reported() -> None:
    settings = JetSettings(batch_events=5, jet_pt_min=3000.0, jet_pt_max=4000.0)
    with pytest.raises(L1MLError, match="pT window"):
        simulate_jets(5, seed=1, workers=1, progress=False, settings=settings)
