"""Tracker: helix geometry, acceptance, stub cut, multiple scattering, noise and truth bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest

from l1ml.errors import L1MLError
from l1ml.simulation.pythia import PARTICLE_DTYPE
from l1ml.simulation.tracker import (
    BARREL_LAYERS,
    TrackerConfig,
    TrackSample,
    highland_theta0,
    iter_events,
    propagate,
    simulate_event,
    simulate_tracks,
)

IDEAL = TrackerConfig(multiple_scattering=False, smear=False, noise_hits_per_layer=0.0)
MUON_MASS = 0.10566


def _muons(pt: np.ndarray, eta: np.ndarray, charge: np.ndarray, phi0: float = 0.3, z0: float = 0.0) -> np.ndarray:
    n = len(pt)
    p = np.zeros(n, PARTICLE_DTYPE)
    p["px"], p["py"], p["pz"] = pt * np.cos(phi0), pt * np.sin(phi0), pt * np.sinh(eta)
    p["e"] = np.sqrt(p["px"] ** 2 + p["py"] ** 2 + p["pz"] ** 2 + MUON_MASS**2)
    p["charge"], p["pid"], p["vz"] = charge, -13 * charge, z0
    return p


def test_prompt_helix_hits_match_the_circle_through_the_origin() -> None:
    pt = np.array([1.0, 1.0, 5.0, 30.0])
    charge = np.array([1, -1, 1, -1])
    eta = np.array([0.5, -0.3, 0.8, 0.0])
    hits = propagate(_muons(pt, eta, charge, z0=12.0), IDEAL, np.random.default_rng(0))
    assert len(hits["index"]) == 4 * len(BARREL_LAYERS)
    radius_of_curvature = pt / (0.299792458 * 3.8) * 1e3  # mm
    for i, layer, r, phi, z in zip(hits["index"], hits["layer"], hits["r"], hits["phi"], hits["z"], strict=True):
        rho, q = radius_of_curvature[i], charge[i]
        assert r == pytest.approx(BARREL_LAYERS[layer].radius_mm)
        # Chord geometry: the azimuth turns by asin(r / 2 rho) against the charge; z grows with arc length.
        assert phi == pytest.approx(0.3 - q * np.arcsin(r / (2 * rho)), abs=1e-9)
        arc = 2 * rho * np.arcsin(r / (2 * rho))
        assert z == pytest.approx(12.0 + arc * np.sinh(eta[i]), abs=1e-6)


def test_acceptance_loopers_and_barrel_length() -> None:
    # 0.1 GeV curls up inside 2 * 88 mm < 249 mm; at eta = 2, z = r sinh(2) passes 1.2 m after layer 0.
    hits = propagate(_muons(np.array([0.1, 10.0, 10.0]), np.array([0.0, 2.0, 0.0]), np.array([1, 1, -1])),
                     IDEAL, np.random.default_rng(0))
    assert 0 not in hits["index"]
    np.testing.assert_array_equal(hits["layer"][hits["index"] == 1], [0])
    assert abs(hits["z"][hits["index"] == 1][0]) < 1200.0
    assert np.sum(hits["index"] == 2) == len(BARREL_LAYERS)


def test_stub_cut_keeps_high_pt_and_drops_low_pt() -> None:
    config = TrackerConfig(stub_pt_min=2.0, multiple_scattering=False, smear=False, noise_hits_per_layer=0.0)
    pt = np.array([1.0, 1.5, 2.5, 10.0])
    hits = propagate(_muons(pt, np.zeros(4), np.array([1, -1, 1, -1])), config, np.random.default_rng(0))
    per_track = np.bincount(hits["index"], minlength=4)
    assert per_track[0] == 0 and per_track[1] <= 2
    assert per_track[2] == per_track[3] == len(BARREL_LAYERS)
    # The bend sign follows the charge, its size falls with pT.
    b = {i: hits["bend"][hits["index"] == i] for i in (2, 3)}
    assert np.all(b[2] <= 0) and np.all(b[3] >= 0) and np.all(np.abs(b[2]) >= np.abs(b[3]))


def test_highland_value_and_scattering_spread() -> None:
    # PDG Highland formula by hand: 1 GeV/c muon (beta ~ 0.9945) through 2 % X0.
    beta = 1.0 / np.sqrt(1 + MUON_MASS**2)
    expected = 0.0136 / (beta * 1.0) * np.sqrt(0.02) * (1 + 0.038 * np.log(0.02 / beta**2))
    assert highland_theta0(np.array([1.0]), np.array([beta]), np.array([0.02]), np.array([1.0]))[0] == \
        pytest.approx(expected)
    # Straight-line estimate of the kink at layer 0 seen at layer 1 (high pT, eta = 0): sigma = theta0 * dr.
    n = 4000
    config = TrackerConfig(multiple_scattering=True, smear=False, noise_hits_per_layer=0.0)
    pt = np.full(n, 20.0)
    hits = propagate(_muons(pt, np.zeros(n), np.ones(n)), config, np.random.default_rng(3))
    at1 = hits["layer"] == 1
    r0, r1 = BARREL_LAYERS[0].radius_mm, BARREL_LAYERS[1].radius_mm
    beta20 = 20.0 / np.hypot(20.0, MUON_MASS)
    theta0 = highland_theta0(np.array([20.0]), np.array([beta20]), np.array([BARREL_LAYERS[0].x_over_x0]),
                             np.array([1.0]))[0]
    spread_rphi = np.std(hits["phi"][at1]) * r1
    assert spread_rphi == pytest.approx(theta0 * (r1 - r0), rel=0.1)
    spread_z = np.std(hits["z"][at1])
    assert spread_z == pytest.approx(theta0 * (r1 - r0), rel=0.1)


def test_event_tables_link_hits_to_truth_and_add_noise() -> None:
    rng = np.random.default_rng(5)
    n = 30
    particles = _muons(rng.uniform(0.5, 20, n), rng.uniform(-2, 2, n), rng.choice([-1, 1], n))
    neutral = _muons(np.array([5.0]), np.array([0.0]), np.array([0]))
    particles = np.concatenate([particles, neutral])
    config = TrackerConfig(noise_hits_per_layer=50.0)
    hits, truth = simulate_event(particles, 7, config, rng)
    assert np.all(hits["event_id"] == 7) and np.all(truth["event_id"] == 7)
    assert len(truth["particle_id"]) == n  # the neutral particle is not in the truth table
    noise = hits["particle_id"] < 0
    assert 150 < noise.sum() < 450  # 6 layers x Poisson(50)
    counts = np.bincount(hits["particle_id"][~noise], minlength=n)
    np.testing.assert_array_equal(counts[truth["particle_id"]], truth["n_hits"])
    assert np.all(np.diff(hits["layer"]) >= 0)
    np.testing.assert_array_equal(hits["hit_id"], np.arange(len(hits["hit_id"])))


def test_simulated_tracks_are_reproducible_and_grouped_by_event() -> None:
    sample = TrackSample(pileup=3.0)
    a = simulate_tracks(4, seed=2, sample=sample, workers=1, progress=False)
    b = simulate_tracks(4, seed=2, sample=sample, workers=2, progress=False)
    for name in ("hits", "particles"):
        assert a[name].equals(b[name])
    hits, particles = a["hits"], a["particles"]
    assert set(particles["interaction"].unique()) > {0}
    assert list(hits["event_id"].unique()) == [0, 1, 2, 3]
    seen = 0
    for event_id, event_hits, event_particles in iter_events(hits, particles):
        real = event_hits[event_hits["particle_id"] >= 0]
        assert set(real["particle_id"]) <= set(event_particles["particle_id"])
        assert event_particles["n_hits"].sum() == len(real)
        seen += 1
        assert event_id == seen - 1
    assert seen == 4


def test_bad_tracker_settings() -> None:
    with pytest.raises(L1MLError, match="stub"):
        TrackerConfig(stub_pt_min=-1.0)
    with pytest.raises(L1MLError, match="increasing radius"):
        TrackerConfig(layers=tuple(reversed(BARREL_LAYERS)))
