"""L1 objects: layout, acceptance, isolation, pileup removal, ordering, padding, MET; determinism by seed."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from l1ml.simulation.cli import app
from l1ml.simulation.l1objects import (
    FEATURE_NAMES,
    N_FEATURES,
    SAMPLE_NAMES,
    L1Config,
    L1Dataset,
    PileupLibrary,
    event_features,
    simulate_l1objects,
)
from l1ml.simulation.pythia import PARTICLE_DTYPE, kinematics

# no smearing: the objects' pT are the particles' (acceptance and thresholds are the defaults)
EXACT = L1Config(track_resolution=(0.0, 0.0, 0.0), em_resolution=(0.0, 0.0, 0.0),
                 hadron_resolution=(0.0, 0.0, 0.0), muon_resolution=(0.0, 0.0, 0.0))


def _particles(rows: list[tuple]) -> np.ndarray:
    """(pid, charge, pt, eta, phi[, interaction, rxy_mm]) rows -> massless PARTICLE_DTYPE particles."""
    p = np.zeros(len(rows), PARTICLE_DTYPE)
    for i, row in enumerate(rows):
        pid, charge, pt, eta, phi, interaction, rxy = (*row, 0, 0.0)[:7]
        p[i]["px"], p[i]["py"], p[i]["pz"] = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        p[i]["e"] = pt * np.cosh(eta)
        p[i]["pid"], p[i]["charge"], p[i]["interaction"], p[i]["vx"] = pid, charge, interaction, rxy
    return p


def _objects(row: np.ndarray) -> dict[str, np.ndarray]:
    """Feature vector -> {'met': (1, 3), 'eg': (4, 3), 'mu': (4, 3), 'jet': (10, 3)}."""
    return {"met": row[0:3].reshape(1, 3), "eg": row[3:15].reshape(4, 3), "mu": row[15:27].reshape(4, 3),
            "jet": row[27:57].reshape(10, 3)}


def _one(rows: list[tuple], cfg: L1Config = EXACT) -> dict[str, np.ndarray]:
    return _objects(event_features([_particles(rows)], cfg, np.random.default_rng(0))[0])


def test_layout_is_met_then_4_egamma_4_muons_10_jets() -> None:
    assert N_FEATURES == len(FEATURE_NAMES) == 57
    assert FEATURE_NAMES[:6] == ("met_pt", "met_eta", "met_phi", "eg0_pt", "eg0_eta", "eg0_phi")
    assert FEATURE_NAMES[15] == "mu0_pt" and FEATURE_NAMES[27] == "jet0_pt" and FEATURE_NAMES[-1] == "jet9_phi"


def test_isolated_photon_is_egamma_and_sets_met() -> None:
    o = _one([(22, 0, 50.0, 1.0, 0.5)])
    np.testing.assert_allclose(o["eg"][0], [50.0, 1.0, 0.5], rtol=1e-5)
    assert not o["eg"][1:].any(), "zero-padded"
    np.testing.assert_allclose(o["met"][0], [50.0, 0.0, 0.5 - np.pi], rtol=1e-5)
    np.testing.assert_allclose(o["jet"][0], [50.0, 1.0, 0.5], rtol=1e-4)  # the photon is a jet too


def test_egamma_acceptance_threshold_isolation_and_vertex() -> None:
    o = _one([(22, 0, 50.0, 2.7, 0.0),  # outside |eta| < 2.5
              (22, 0, 8.0, 0.0, 1.0),  # below 10 GeV
              (22, 0, 30.0, -1.0, 2.0), (130, 0, 20.0, -1.1, 2.0),  # not isolated: K0L at Delta R 0.1
              (11, -1, 25.0, 0.3, -2.0),  # a prompt electron is one (track + cluster)
              (11, 1, 40.0, 0.0, 0.0, 2)])  # a pileup electron's track is removed with its vertex
    np.testing.assert_allclose(o["eg"][0], [25.0, 0.3, -2.0], rtol=1e-5)
    assert not o["eg"][1:].any()


def test_muons_ordered_by_pt_padded_and_in_acceptance() -> None:
    o = _one([(13, -1, pt, eta, 0.1 * i) for i, (pt, eta) in
              enumerate([(5.0, 0.0), (40.0, 1.0), (2.0, 0.0), (10.0, 2.6), (20.0, -2.0)])])
    np.testing.assert_allclose(o["mu"][:, 0], [40.0, 20.0, 5.0, 0.0], rtol=1e-5)
    np.testing.assert_allclose(o["mu"][:3, 1], [1.0, -2.0, 0.0], atol=1e-5)


def test_at_most_four_muons_and_ten_jets() -> None:
    rows = [(13, 1, 10.0 + i, 0.0, -3.0 + 0.6 * i) for i in range(6)]
    rows += [(22, 0, 30.0 + i, -2.0 + 0.35 * i, 0.2 + 0.55 * (i % 2)) for i in range(12)]
    o = _one(rows)
    np.testing.assert_allclose(o["mu"][:, 0], [15.0, 14.0, 13.0, 12.0], rtol=1e-5)
    assert (o["jet"][:, 0] > 0).all() and (np.diff(o["jet"][:, 0]) <= 0).all()


def test_pileup_charged_particles_are_removed_but_pileup_neutrals_and_displaced_tracks_stay() -> None:
    hard = _one([(211, 1, 30.0, 0.0, 0.0)])
    np.testing.assert_allclose(hard["jet"][0, 0], 30.0, rtol=1e-5)
    assert not _one([(211, 1, 30.0, 0.0, 0.0, 3)])["jet"].any(), "pileup track: vertex association drops it"
    np.testing.assert_allclose(_one([(130, 0, 30.0, 0.0, 0.0, 3)])["jet"][0, 0], 30.0, rtol=1e-5)
    # a displaced charged particle has no L1 track, but the calorimeter sees it whatever its vertex
    np.testing.assert_allclose(_one([(211, 1, 30.0, 0.0, 0.0, 3, 50.0)])["jet"][0, 0], 30.0, rtol=1e-5)


def test_jet_threshold_and_acceptance() -> None:
    o = _one([(22, 0, 15.0, 0.0, 0.0), (22, 0, 40.0, 2.6, 2.0), (22, 0, 40.0, -1.0, -2.0),
              (211, 1, 1.5, 1.0, 1.0)])  # a 1.5 GeV track is below the L1 track threshold
    np.testing.assert_allclose(o["jet"][0], [40.0, -1.0, -2.0], rtol=1e-5)
    assert not o["jet"][1:].any()
    # MET: the 15 GeV and both 40 GeV photons are candidates (|eta| < 3), the soft track is not
    px = -(15.0 + 40.0 * np.cos(2.0) + 40.0 * np.cos(-2.0))
    py = -(40.0 * np.sin(2.0) + 40.0 * np.sin(-2.0))
    assert o["met"][0, 0] == pytest.approx(np.hypot(px, py), rel=1e-5)


def test_smearing_changes_pt_by_the_resolution() -> None:
    cfg = L1Config()
    rows = [(22, 0, 100.0, 0.1 * i - 1.0, 0.3 * i - 3.0) for i in range(20)]
    x = event_features([_particles([r]) for r in rows], cfg, np.random.default_rng(1))
    rel = x[:, 3] / 100.0 - 1.0  # leading e/gamma
    assert 0.003 < rel.std() < 0.05, "10 %/sqrt(pT) + 1 % at 100 GeV is about 1.4 %"


def test_pileup_library_rotates_and_numbers_interactions() -> None:
    lib = PileupLibrary(L1Config(pileup=30.0, pileup_library=20), seed=4)
    a = lib.sample()
    assert a["interaction"].min() >= 1 and len(np.unique(a["interaction"])) > 10
    assert (kinematics(a)["pt"] > 1.0).all(), "only particles that can reach an object are stored"
    stored = np.sort(kinematics(lib._flat)["pt"])
    assert np.isin(np.round(np.sort(kinematics(a)["pt"]), 6), np.round(stored, 6)).all(), "rotations keep pT"


@pytest.fixture(scope="module")
def small() -> L1Dataset:
    cfg = L1Config(pileup=20.0, pileup_library=30)
    return simulate_l1objects({"zerobias": 30, "wprime_lnu": 20}, seed=7, cfg=cfg, workers=1, progress=False)


def test_pythia_samples_are_deterministic_and_physical(small) -> None:
    again = simulate_l1objects({"zerobias": 30, "wprime_lnu": 20}, seed=7, cfg=L1Config(pileup=20.0, pileup_library=30),
                               workers=1, progress=False)
    np.testing.assert_array_equal(small.features, again.features)
    assert small.counts() == {**{n: 0 for n in SAMPLE_NAMES}, "zerobias": 30, "wprime_lnu": 20}
    x, s = small.features, small.sample
    wp, zb = x[s == SAMPLE_NAMES.index("wprime_lnu")], x[s == SAMPLE_NAMES.index("zerobias")]
    lepton = np.maximum(wp[:, 3], wp[:, 15])  # leading e/gamma or muon
    assert np.median(np.maximum(lepton, wp[:, 0])) > 200.0, "a 1 TeV W' gives a hard lepton or MET"
    assert np.median(zb[:, 0]) < 60.0 and (zb[:, 3] == 0).mean() > 0.9
    pts = x[:, 3:].reshape(len(x), -1, 3)[:, :, 0]
    for lo, hi in ((0, 4), (4, 8), (8, 18)):  # each kind ordered by pT, padding at the end
        assert (np.diff(pts[:, lo:hi], axis=1) <= 0).all()
    assert (np.abs(x[:, 27 + 1::3]) < 2.4).all() and (np.abs(x[:, 15 + 1:27:3]) < 2.4).all()


def test_cli_refuses_an_unknown_signal_before_simulating(tmp_path) -> None:
    r = CliRunner().invoke(app, ["l1-objects", "-o", str(tmp_path / "d"), "--signals", "zprime_ttbar,axion"])
    assert r.exit_code != 0 and "axion" in str(r.exception) and not (tmp_path / "d").exists()
