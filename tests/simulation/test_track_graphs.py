"""Fixed-slot sector graphs: static topology covers the window, slots, overflow and truth bookkeeping."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from l1ml.errors import InputFileError, L1MLError
from l1ml.simulation.pythia import PARTICLE_DTYPE
from l1ml.simulation.track_graphs import SectorGeometry, build_graphs, incidence, static_edges
from l1ml.simulation.tracker import TrackerConfig, TrackSample, simulate_event, simulate_tracks

GEOM = SectorGeometry()
IDEAL = TrackerConfig(multiple_scattering=False, smear=False, noise_hits_per_layer=0.0)


def _hits(particles: np.ndarray, config: TrackerConfig = IDEAL, seed: int = 0) -> pd.DataFrame:
    cols, _ = simulate_event(particles, 0, config, np.random.default_rng(seed))
    return pd.DataFrame(cols)


def _muons(pt, phi0, charge, eta=0.3, z0=0.0) -> np.ndarray:
    pt, phi0, charge = (np.atleast_1d(np.asarray(v, float)) for v in (pt, phi0, charge))
    p = np.zeros(len(pt), PARTICLE_DTYPE)
    p["px"], p["py"], p["pz"] = pt * np.cos(phi0), pt * np.sin(phi0), pt * np.sinh(eta)
    p["e"] = np.sqrt(p["px"] ** 2 + p["py"] ** 2 + p["pz"] ** 2 + 0.10566**2)
    p["charge"], p["pid"], p["vz"] = charge, -13 * charge, z0
    return p


def test_static_edges_join_adjacent_layers_and_cover_the_window():
    s, r = static_edges(GEOM)
    layer = GEOM.node_layer()
    assert np.all(layer[r] == layer[s] + 1)
    assert len(set(zip(s.tolist(), r.tolist(), strict=True))) == len(s)
    # any two points of adjacent layers within the Δφ window must fall in bins joined by an edge
    rng = np.random.default_rng(3)
    joined = {(layer[a], GEOM.node_bin()[a], GEOM.node_bin()[b]) for a, b in zip(s, r, strict=True)}
    win = GEOM.dphi_window()
    for pair in range(GEOM.n_layers - 1):
        phi_a = rng.uniform(-GEOM.half_span, GEOM.half_span, 2000)
        phi_b = phi_a + rng.uniform(-win[pair], win[pair], 2000)
        ok = np.abs(phi_b) < GEOM.half_span
        ba = ((phi_a[ok] + GEOM.half_span) / GEOM.bin_width).astype(int)
        bb = ((phi_b[ok] + GEOM.half_span) / GEOM.bin_width).astype(int)
        assert all((pair, a, b) in joined for a, b in zip(ba, bb, strict=True))


def test_incidence_sums_edges_into_their_nodes():
    s, r = static_edges(GEOM)
    a = incidence(GEOM.n_nodes, r)
    m = np.random.default_rng(0).integers(0, 5, (len(r), 3)).astype(np.float32)
    expected = np.zeros((GEOM.n_nodes, 3), np.float32)
    np.add.at(expected, r, m)
    np.testing.assert_array_equal(a @ m, expected)
    assert a.sum() == len(r) and set(np.unique(a)) == {0.0, 1.0}


def test_prompt_tracks_give_labelled_valid_edges_in_one_sector():
    # 2 GeV tracks bend out of their sector, yet each segment is inside some sector's span and window
    centre = -np.pi + 20.5 * GEOM.sector_width
    soft = _hits(_muons([2.0, 2.0], [centre, centre + 0.03], [1, -1]))
    graphs, loss = build_graphs(soft, GEOM)
    assert len(graphs) == GEOM.n_sectors
    assert loss.total == 10 and loss.kept == 10
    # two stiff muons of opposite charge stay in the core of sector 20
    graphs, loss = build_graphs(_hits(_muons([20.0, 20.0], [centre, centre + 0.03], [1, -1])), GEOM)
    assert loss.kept == 10
    g = graphs.select(np.array([20]))
    assert g.node_valid.sum() == 12 and g.edge_label.sum() == 10
    assert np.all(g.edge_valid[g.edge_label])
    # features of empty slots and invalid edges are zero, as the firmware would present them
    assert not g.nodes[~g.node_valid].any() and not g.edges[~g.edge_valid].any()
    assert np.all(np.abs(g.edges[g.edge_label][:, 0]) <= 1.0)


def test_slot_overflow_is_counted_and_empty_events_give_empty_graphs():
    geom = dataclasses.replace(GEOM, depth=1)
    centre = -np.pi + 5.5 * geom.sector_width
    # three stiff tracks within one φ-bin: depth 1 keeps one hit per bin and layer
    hits = _hits(_muons([50.0, 50.0, 50.0], [centre, centre + 1e-3, centre + 2e-3], [1, 1, 1]))
    graphs, loss = build_graphs(hits, geom)
    assert loss.total == 15
    assert loss.kept == 5 and loss.lost_overflow == 10
    assert graphs.node_valid[5].sum() == geom.n_layers
    others = np.arange(geom.n_sectors) != 5
    assert not graphs.node_valid[others].any() and not graphs.edge_valid[others].any()
    assert not graphs.nodes[others].any() and np.all(graphs.hit_id[others] == -1)
    empty = _hits(_muons([0.1], [0.0], [1]))  # curls up before layer 0: no hits
    assert len(empty) == 0
    with pytest.raises(InputFileError, match="no events"):
        build_graphs(empty, geom)


def test_segments_on_simulated_pileup_are_all_accounted_for():
    sample = TrackSample(pileup=20.0, tracker=TrackerConfig(stub_pt_min=2.0))
    hits = simulate_tracks(2, seed=5, sample=sample, workers=1, progress=False)["hits"]
    graphs, loss = build_graphs(hits)
    assert loss.total > 100
    assert loss.kept + loss.lost_sector + loss.lost_overflow + loss.lost_window == loss.total
    assert loss.lost_sector == 0  # the sector margin exceeds every window
    s, r = static_edges(graphs.geometry)
    # every labelled edge joins two hits of one particle, found by hit id
    g_idx, e_idx = np.nonzero(graphs.edge_label)
    pid = hits.set_index(["event_id", "hit_id"])["particle_id"]
    ev = graphs.event_id[g_idx]
    a = pid.loc[list(zip(ev, graphs.hit_id[g_idx, s[e_idx]], strict=True))].to_numpy()
    b = pid.loc[list(zip(ev, graphs.hit_id[g_idx, r[e_idx]], strict=True))].to_numpy()
    assert np.all(a == b) and np.all(a >= 0)
    assert loss.kept == len(set(zip(ev, graphs.hit_id[g_idx, s[e_idx]], strict=True)))


def test_bad_inputs_name_the_remedy():
    with pytest.raises(InputFileError, match="particle_id"):
        build_graphs(pd.DataFrame({"event_id": [0], "layer": [0]}))
    with pytest.raises(L1MLError, match="margin"):
        SectorGeometry(n_sectors=64, margin_rad=0.075)
