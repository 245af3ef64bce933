"""HGCal trigger-cell simulation: shower physics against textbook scalings, tables, determinism, loader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from l1ml.errors import InputFileError, L1MLError
from l1ml.simulation import hgcal, showers
from l1ml.simulation.hgcal import HGCalConfig
from l1ml.simulation.hgcal_clusters import LAYER_GROUPS
from l1ml.simulation.hgcal_io import load_hgcal, load_hgcal_table
from l1ml.simulation.hgcal_plots import validation_plots
from l1ml.simulation.hgcal_truth import ClusterLabel, ParticleType
from l1ml.simulation.showers import GEOMETRY


def _single(ptype: ParticleType, energy: float, n: int, seed: int = 3, eta: float = 2.2) -> np.ndarray:
    """Per-layer cluster energies of ``n`` identical single particles."""
    rng = np.random.default_rng(seed)
    return hgcal.simulate_particles(np.full(n, energy), np.full(n, eta), rng.uniform(-np.pi, np.pi, n),
                                    np.full(n, int(ptype)), seed=seed)


def _em_spots(ptype: ParticleType, energy: float, n: int, seed: int = 5) -> showers.Spots:
    """Raw energy spots of ``n`` EM showers at eta = 2.2."""
    charge = -1.0 if ptype == ParticleType.ELECTRON else 0.0
    imp, _ = hgcal.kinematics_to_impacts(np.full(n, energy), np.full(n, 2.2), np.zeros(n),
                                         np.full(n, hgcal.GUN_PIDS[ptype]), np.full(n, charge))
    return showers.deposit(np.random.default_rng(seed), imp)


def _mean_depth_x0(spots: showers.Spots) -> float:
    """Energy-weighted mean depth (X0 at normal incidence, layer centres) of a set of spots."""
    centre = GEOMETRY.x0_edges[:-1] + GEOMETRY.x0 / 2
    return float(np.average(centre[spots.layer], weights=spots.energy))


def test_neutral_particle_hits_front_face_at_its_eta_and_phi():
    imp, _ = hgcal.kinematics_to_impacts(np.array([50.0]), np.array([2.0]), np.array([0.7]),
                                         np.array([22]), np.array([0.0]))
    r = np.hypot(imp.x[0], imp.y[0])
    assert r == pytest.approx(GEOMETRY.z_front / np.sinh(2.0), rel=1e-9)
    assert np.arctan2(imp.y[0], imp.x[0]) == pytest.approx(0.7, abs=1e-9)


@pytest.mark.parametrize("charge", [1.0, -1.0])
def test_charged_particle_lies_on_its_helix(charge):
    # A 2 GeV pT track: the impact point must lie on the circle of radius pT / (0.3 B) through the
    # origin, tangent to the initial momentum, and positive charges turn clockwise in B along +z.
    pt, eta, phi0 = 2.0, 2.0, 0.3
    imp, truth = hgcal.kinematics_to_impacts(np.array([pt * np.cosh(eta)]), np.array([eta]), np.array([phi0]),
                                             np.array([211 if charge > 0 else -211]), np.array([charge]))
    radius_cm = 100 * truth.pt[0] / (0.299792458 * GEOMETRY.b_field)
    centre = radius_cm * charge * np.array([np.sin(phi0), -np.cos(phi0)])
    assert np.hypot(imp.x[0] - centre[0], imp.y[0] - centre[1]) == pytest.approx(radius_cm, rel=1e-9)
    turned = np.angle(np.exp(1j * (np.arctan2(imp.y[0], imp.x[0]) - phi0)))
    assert np.sign(turned) == -charge


def test_em_shower_maximum_grows_with_log_energy():
    # Rossi / Grindhammer-Peters: the shower depth grows like ln(E); 10 -> 200 GeV adds ln(20) = 3.0 X0
    # along the path, i.e. ln(20) cos(theta) in depth at normal incidence.
    low = _em_spots(ParticleType.ELECTRON, 10.0, 300)
    high = _em_spots(ParticleType.ELECTRON, 200.0, 60)
    shift = _mean_depth_x0(high) - _mean_depth_x0(low)
    assert shift == pytest.approx(np.log(20.0) * np.tanh(2.2), abs=0.5)


def test_photons_start_showering_later_than_electrons():
    # The conversion length of a photon is 9/7 X0: its shower is that much deeper on average.
    electron = _em_spots(ParticleType.ELECTRON, 50.0, 400)
    photon = _em_spots(ParticleType.PHOTON, 50.0, 400)
    delay = _mean_depth_x0(photon) - _mean_depth_x0(electron)
    assert delay == pytest.approx(9 / 7 * np.tanh(2.2), abs=0.35)


def test_em_shower_is_90_percent_contained_in_one_moliere_radius():
    # The PDG definition of the Moliere radius: ~90 % of the energy within one R_M of the axis.
    spots = _em_spots(ParticleType.PHOTON, 50.0, 100)
    imp, _ = hgcal.kinematics_to_impacts(np.array([50.0]), np.array([2.2]), np.zeros(1), np.array([22]),
                                         np.zeros(1))
    dz = GEOMETRY.z[spots.layer] - GEOMETRY.z_front
    r = np.hypot(spots.x - imp.x[0] - imp.tx[0] * dz, spots.y - imp.y[0] - imp.ty[0] * dz)
    r_m = np.asarray(GEOMETRY.moliere_cm)[GEOMETRY.section[spots.layer]]
    contained = spots.energy[r < r_m].sum() / spots.energy.sum()
    assert 0.85 < contained < 0.95


def test_em_resolution_scales_like_one_over_sqrt_energy():
    widths = {}
    for energy in (20.0, 180.0):
        total = _single(ParticleType.PHOTON, energy, 400).sum(axis=1)
        widths[energy] = total.std() / total.mean()
    assert widths[20.0] / widths[180.0] == pytest.approx(3.0, rel=0.25)


def test_pions_are_non_compensated_and_fluctuate_more():
    em = _single(ParticleType.PHOTON, 50.0, 300).sum(axis=1) / 50.0
    had = _single(ParticleType.CHARGED_HADRON, 50.0, 300).sum(axis=1) / 50.0
    assert had.mean() < 0.8 * em.mean()
    assert had.std() / had.mean() > 3 * em.std() / em.mean()


def test_fraction_of_pions_crossing_ce_e_without_interacting():
    # Survival through the 1.7 lambda of CE-E at eta = 2.2 (path 1.7 / tanh(2.2) lambda): exp(-1.74) = 0.18.
    layers = _single(ParticleType.CHARGED_HADRON, 50.0, 800, seed=11)
    ce_e = GEOMETRY.section == showers.Section.CE_E
    # MIP deposits are below the trigger-cell threshold, so a late pion leaves (almost) nothing in CE-E.
    late = layers[:, ce_e].sum(axis=1) < 0.5
    expected = np.exp(-GEOMETRY.lam_edges[ce_e.sum()] / np.tanh(2.2))
    assert late.mean() == pytest.approx(expected, abs=0.045)


def _small_run(**kw) -> pd.DataFrame:
    return hgcal.simulate_hgcal(60, seed=7, progress=False, cfg=HGCalConfig(chunk_size=25), **kw)["clusters"]


def test_clusters_table_is_consistent():
    df = _small_run(workers=1)
    assert list(df["event"]) == list(range(60))
    assert set(df["label"]) == {ClusterLabel.EM, ClusterLabel.HADRONIC}
    images, labels, meta = load_hgcal_table(df)
    assert images.shape == (60, 4, 8, 8) and images.dtype == np.float32 and labels.dtype == np.int64
    assert (images >= 0).all()
    layer_cols = [c for c in df.columns if c.startswith("e_layer_")]
    assert len(layer_cols) == GEOMETRY.n_layers
    np.testing.assert_allclose(images.sum(axis=(1, 2, 3)), df["cluster_energy"], rtol=1e-4)
    np.testing.assert_allclose(df[layer_cols].sum(axis=1), df["cluster_energy"], rtol=1e-4)
    for c, (a, b) in enumerate(LAYER_GROUPS):
        np.testing.assert_allclose(df[layer_cols[a:b]].sum(axis=1), df[f"e_group_{c}"], rtol=1e-4)
    # The window follows the particle: the cluster position is within a cell or two of it.
    assert (np.abs(df["cluster_eta"] - df["gen_eta"]) < 0.15).all()
    em = df["label"] == ClusterLabel.EM
    assert set(df.loc[em, "gen_type"]) <= {ParticleType.PHOTON, ParticleType.ELECTRON}
    assert not meta.columns.str.startswith("img_").any()


def test_same_seed_same_table_for_any_worker_count_and_new_seed_differs():
    one = _small_run(workers=1)
    two = _small_run(workers=2)
    pd.testing.assert_frame_equal(one, two)
    other = hgcal.simulate_hgcal(60, seed=8, progress=False, workers=1, cfg=HGCalConfig(chunk_size=25))
    assert not np.allclose(other["clusters"]["gen_e"], one["gen_e"])


def test_pileup_overlay_and_pileup_clusters():
    cfg = HGCalConfig(chunk_size=20, pool_events=60)
    df = hgcal.simulate_hgcal(40, seed=2, pileup=30.0, workers=1, progress=False, cfg=cfg)["clusters"]
    assert set(df["label"]) == {ClusterLabel.EM, ClusterLabel.HADRONIC, ClusterLabel.PILEUP}
    assert abs(df["n_pileup"].mean() - 30.0) < 4 * np.sqrt(30.0 / 40)
    pu = df[df["label"] == ClusterLabel.PILEUP]
    # A pileup cluster is seeded on the hardest pileup particle: it is inside its own window's truth.
    assert (pu["true_energy"] >= pu["gen_e"] - 1e-9).all()
    assert (df["pileup_energy"] > 0).mean() > 0.8
    # Pileup adds energy on top of the shot particle.
    quiet = _small_run(workers=1)
    shot = df[df["label"] != ClusterLabel.PILEUP]
    assert (shot["cluster_energy"] / shot["gen_e"]).median() > (quiet["cluster_energy"] / quiet["gen_e"]).median()


def test_written_dataset_loads_and_plots(tmp_path):
    from l1ml.simulation.dataset import write_dataset

    tables = hgcal.simulate_hgcal(30, seed=4, workers=1, progress=False, cfg=HGCalConfig(chunk_size=30))
    out = write_dataset(tmp_path / "hgcal", tables, {"kind": "hgcal", "generator": hgcal.GENERATOR_SETTINGS},
                        plots=validation_plots)
    images, labels, meta = load_hgcal(out)
    assert images.shape == (30, 4, 8, 8)
    np.testing.assert_array_equal(labels, tables["clusters"]["label"])
    assert len(meta) == 30
    plots = sorted((out / "plots").glob("*.png"))
    assert len(plots) == 4 and all(p.stat().st_size > 10_000 for p in plots)


def test_user_errors():
    with pytest.raises(L1MLError, match="positive"):
        hgcal.simulate_hgcal(0, progress=False)
    with pytest.raises(L1MLError, match="negative"):
        hgcal.simulate_hgcal(10, pileup=-1.0, progress=False)


def test_loader_names_missing_columns(tmp_path):
    path = tmp_path / "clusters.parquet"
    pd.DataFrame({"label": [0, 1]}).to_parquet(path)
    with pytest.raises(InputFileError, match="img_0_0_0"):
        load_hgcal(path)
    with pytest.raises(InputFileError, match="does not exist"):
        load_hgcal(tmp_path / "nothing.parquet")
