"""Pythia8 generation: determinism, particle content, pileup overlay, particle gun."""

from __future__ import annotations

import numpy as np
import pytest

from l1ml.errors import L1MLError
from l1ml.simulation.pythia import (
    PARTICLE_DTYPE,
    GeneratorConfig,
    GunConfig,
    PileupGenerator,
    Process,
    generate_events,
    kinematics,
    overlay,
    pythia_seed,
)

DIJET = GeneratorConfig(Process.QCD_DIJET, pthat_min=50.0, mpi=False)


def _events(config: GeneratorConfig, n: int, seed: int, **kw) -> list[np.ndarray]:
    return list(generate_events(config, n, seed, **kw))


def test_same_seed_same_events_whatever_the_batch_size() -> None:
    a = _events(DIJET, 6, seed=11, batch_size=6)
    b = _events(DIJET, 6, seed=11, batch_size=4)
    assert len(a) == len(b) == 6
    for x, y in zip(a, b, strict=True):
        assert x.dtype == PARTICLE_DTYPE
        np.testing.assert_array_equal(x, y)


def test_different_seeds_give_different_events() -> None:
    a = _events(DIJET, 2, seed=1)
    b = _events(DIJET, 2, seed=2)
    assert not np.array_equal(a[0], b[0])


def test_final_state_is_physical() -> None:
    particles = np.concatenate(_events(DIJET, 4, seed=3))
    # No neutrinos, energies above |p|, charges as in the PDG table for common hadrons.
    assert not np.isin(np.abs(particles["pid"]), (12, 14, 16)).any()
    p2 = particles["px"] ** 2 + particles["py"] ** 2 + particles["pz"] ** 2
    assert np.all(particles["e"] ** 2 >= p2 * (1 - 1e-9) - 1e-9)
    for pid, charge in ((211, 1), (-211, -1), (22, 0), (2212, 1), (-321, -1), (130, 0)):
        sel = particles["pid"] == pid
        if sel.any():
            assert np.all(particles["charge"][sel] == charge)
    # With neutrinos kept, each event balances in the transverse plane (beams have no pT).
    for event in _events(DIJET, 3, seed=3, keep_neutrinos=True):
        assert abs(event["px"].sum()) < 1e-6 * np.abs(event["px"]).sum()
        assert abs(event["py"].sum()) < 1e-6 * np.abs(event["py"]).sum()


def test_vertex_spread_follows_the_configured_sigma() -> None:
    narrow = GeneratorConfig(Process.QCD_DIJET, pthat_min=20.0, mpi=False, sigma_z_mm=1.0)
    wide = GeneratorConfig(Process.QCD_DIJET, pthat_min=20.0, mpi=False, sigma_z_mm=100.0)
    z_narrow = [np.median(e["vz"]) for e in _events(narrow, 20, seed=5)]
    z_wide = [np.median(e["vz"]) for e in _events(wide, 20, seed=5)]
    assert np.std(z_narrow) < 3.0
    assert 40.0 < np.std(z_wide) < 250.0


def test_pileup_is_poisson_with_separate_vertices() -> None:
    gen = PileupGenerator(mu=4.0, seed=7)
    counts, spreads = [], []
    for _ in range(40):
        pu = gen.sample()
        interactions = np.unique(pu["interaction"]) if len(pu) else np.zeros(0, int)
        counts.append(len(interactions))
        assert np.all(interactions >= 1)
        if len(interactions) > 1:
            per_vertex = [np.median(pu["vz"][pu["interaction"] == k]) for k in interactions]
            spreads.append(np.std(per_vertex))
    # 40 draws of Poisson(4): mean within ~4 sigma (sigma of the mean = sqrt(4/40) ~ 0.32).
    assert 2.7 < np.mean(counts) < 5.3
    assert np.median(spreads) > 10.0  # interactions sit at different z (sigma_z = 50 mm)


def test_pileup_is_deterministic_and_overlay_keeps_the_hard_scatter() -> None:
    a = PileupGenerator(2.0, seed=3)
    b = PileupGenerator(2.0, seed=3)
    for _ in range(3):
        np.testing.assert_array_equal(a.sample(), b.sample())
    hard = _events(DIJET, 1, seed=1)[0]
    merged = overlay(hard, PileupGenerator(3.0, seed=9).sample())
    np.testing.assert_array_equal(merged[: len(hard)], hard)
    assert np.all(merged["interaction"][: len(hard)] == 0)


def test_zero_pileup_and_negative_mean() -> None:
    assert len(PileupGenerator(0.0, seed=1).sample()) == 0
    with pytest.raises(L1MLError, match="negative"):
        PileupGenerator(-1.0, seed=1)


def test_particle_gun_energy_and_eta_ranges() -> None:
    gun = GunConfig(pids=(11, 211), e_min=20.0, e_max=50.0, abs_eta_min=1.6, abs_eta_max=2.8)
    events = _events(GeneratorConfig(Process.PARTICLE_GUN, gun=gun), 20, seed=4)
    for particles in events:
        # Stable gun particles come out as they went in; the total energy is conserved.
        assert 20.0 - 1e-6 <= particles["e"].sum() <= 50.0 + 1e-6
        kin = kinematics(particles)
        lead = np.argmax(particles["e"])
        assert 1.6 - 1e-6 <= abs(kin["eta"][lead]) <= 2.8 + 1e-6
        assert set(np.abs(particles["pid"])) <= {11, 211, 22}


def test_seed_mapping_and_bad_settings() -> None:
    assert pythia_seed(0) == 1
    assert 1 <= pythia_seed(2**40) <= 900_000_000
    with pytest.raises(L1MLError):
        pythia_seed(-3)
    bad = GeneratorConfig(Process.QCD_DIJET, extra=("NoSuchGroup:noSuchSetting = on",))
    with pytest.raises(L1MLError, match="NoSuchGroup"):
        _events(bad, 1, seed=1)
