"""HGCal trigger-cell cluster images for L1 e/gamma, hadron and pileup classification.

Each event is one cluster: an EM particle (photon, electron) or a hadron (charged pion, K0_L) shot from a
gun into the endcap, or, with pileup on, the trigger cells around the hardest pileup particle. Minimum-
bias pileup from Pythia8 is overlaid on every event. Showers are deposited by :mod:`showers`, summed
into projective trigger cells, given electronics noise and the trigger-cell threshold, and cut out as
8 x 8 cells around the energy seed in four longitudinal layer groups. See docs/hgcal.md.

The pieces live beside this module: labels and truth in :mod:`hgcal_truth`, the pileup library in
:mod:`hgcal_pileup`, trigger cells and cluster windows in :mod:`hgcal_clusters`, reading in
:mod:`hgcal_io` and validation plots in :mod:`hgcal_plots`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from l1ml.errors import L1MLError
from l1ml.simulation.hgcal_clusters import (
    IMAGE_SIZE,
    LAYER_GROUPS,
    Clusters,
    _energy_in_window,
    _near,
    build_clusters,
    reference_uv,
)
from l1ml.simulation.hgcal_io import image_columns
from l1ml.simulation.hgcal_pileup import PileupLibrary, pileup_library
from l1ml.simulation.hgcal_truth import ClusterLabel, ParticleType, Truth, particle_type
from l1ml.simulation.showers import GEOMETRY, PARAMS, Geometry, Impacts, impact_eta, propagate

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


#: PDG id shot by the gun for each particle type (charged ones with a random sign).
GUN_PIDS = {ParticleType.PHOTON: 22, ParticleType.ELECTRON: 11, ParticleType.CHARGED_HADRON: 211,
            ParticleType.NEUTRAL_HADRON: 130}
_MASS = {22: 0.0, 11: 0.000511, 211: 0.13957, 130: 0.497611}


@dataclass(frozen=True)
class HGCalConfig:
    """Generator settings apart from seed and pileup; recorded in the manifest."""

    e_min: float = 10.0  # GeV, gun energy, log-uniform
    e_max: float = 200.0
    abs_eta_min: float = 1.6  # inside 1.5 < |eta| < 3.0 so that the 8 x 8 window stays in acceptance
    abs_eta_max: float = 2.9
    chunk_size: int = 250
    pool_events: int = 1000  # minimum-bias events in the pileup library
    pileup_abs_eta: tuple[float, float] = (1.6, 2.9)  # where a pileup cluster may be seeded

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings, including the detector and shower constants."""
        geometry = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(GEOMETRY).items()}
        return {**asdict(self), "geometry": geometry, "shower": asdict(PARAMS),
                "image": {"size": IMAGE_SIZE, "layer_groups": [list(g) for g in LAYER_GROUPS]}}


CONFIG = HGCalConfig()
#: What the CLI records in the manifest.
GENERATOR_SETTINGS = CONFIG.to_dict()


# --- particles ------------------------------------------------------------------------------------------

def gun(rng: np.random.Generator, ptype: np.ndarray, cfg: HGCalConfig = CONFIG,
        geom: Geometry = GEOMETRY) -> tuple[Impacts, Truth]:
    """Single particles of the given types: log-uniform energy, flat |eta| and phi, either endcap."""
    n = len(ptype)
    energy = np.exp(rng.uniform(np.log(cfg.e_min), np.log(cfg.e_max), n))
    eta = rng.uniform(cfg.abs_eta_min, cfg.abs_eta_max, n) * rng.choice([-1.0, 1.0], n)
    phi = rng.uniform(-np.pi, np.pi, n)
    sign = rng.choice([-1, 1], n)
    pid = np.array([GUN_PIDS[ParticleType(t)] for t in ptype], np.int64)
    charge = np.where(np.isin(pid, (11, 211)), sign * np.where(pid == 11, -1, 1), 0).astype(np.float64)
    pid = np.where(charge != 0, pid * sign, pid)
    return kinematics_to_impacts(energy, eta, phi, pid, charge, geom)


def kinematics_to_impacts(energy: np.ndarray, eta: np.ndarray, phi: np.ndarray, pid: np.ndarray,
                          charge: np.ndarray, geom: Geometry = GEOMETRY) -> tuple[Impacts, Truth]:
    """Particles from the origin with the given (E, eta, phi), propagated to the front face."""
    mass = np.array([_MASS.get(abs(int(p)), 0.0) for p in pid])
    p = np.sqrt(np.maximum(energy**2 - mass**2, 0.0))
    pt = p / np.cosh(eta)
    imp = propagate(pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), energy, pid, charge, geom=geom)
    return imp, Truth(energy, pt, eta, phi, pid, particle_type(pid, charge))


# --- events -------------------------------------------------------------------------------------------

#: Stream index (in ``parallel.chunk_seed``) reserved for the pileup library, far from chunk indices.
_LIBRARY_STREAM = 2**31 - 1


def _hardest(truth: Truth, cfg: HGCalConfig) -> int | None:
    """Index of the highest-pT pileup particle where a pileup cluster may be seeded."""
    abs_eta = np.abs(truth.eta)
    ok = np.flatnonzero((abs_eta > cfg.pileup_abs_eta[0]) & (abs_eta < cfg.pileup_abs_eta[1]))
    return int(ok[np.argmax(truth.pt[ok])]) if len(ok) else None


def simulate_chunk(chunk: Any, pileup: float = 0.0, library: PileupLibrary | None = None,
                   cfg: HGCalConfig = CONFIG) -> pd.DataFrame:
    """Rows of the clusters table for one ``parallel.Chunk`` of events (deterministic by its seed)."""
    geom = GEOMETRY
    rng = np.random.default_rng(chunk.seed)
    n = chunk.n_events
    with_pileup = pileup > 0 and library is not None
    labels = rng.integers(0, 3 if with_pileup else 2, n)
    em_types = rng.choice([ParticleType.PHOTON, ParticleType.ELECTRON], n)
    had_types = rng.choice([ParticleType.CHARGED_HADRON, ParticleType.NEUTRAL_HADRON], n)
    gun_imp, truth = gun(rng, np.where(labels == ClusterLabel.EM, em_types, had_types), cfg, geom)
    target_u, target_v = reference_uv(gun_imp, geom)
    side = gun_imp.side.astype(np.int64)
    shot = np.flatnonzero(labels != ClusterLabel.PILEUP)
    parts, owners, from_pileup = [gun_imp.select(shot)], [shot], [np.zeros(len(shot), bool)]
    n_pileup = np.zeros(n, np.int64)
    for i in range(n if with_pileup else 0):
        pu_imp, pu_truth, n_pileup[i] = library.draw(rng, pileup)
        if labels[i] == ClusterLabel.PILEUP:
            lead = _hardest(pu_truth, cfg)
            if lead is None:  # nothing to seed on: an empty region where the gun would have aimed
                truth.energy[i] = truth.pt[i] = truth.eta[i] = truth.phi[i] = 0.0
                truth.pid[i], truth.ptype[i] = 0, -1
            else:
                u, v = reference_uv(pu_imp.select(np.array([lead])), geom)
                target_u[i], target_v[i], side[i] = u[0], v[0], pu_imp.side[lead]
                for name in Truth.__dataclass_fields__:
                    getattr(truth, name)[i] = getattr(pu_truth, name)[lead]
        near = np.flatnonzero(_near(pu_imp, int(side[i]), target_u[i], target_v[i], geom))
        parts.append(pu_imp.select(near))
        owners.append(np.full(len(near), i))
        from_pileup.append(np.ones(len(near), bool))
    imp, owner, is_pu = Impacts.concat(parts), np.concatenate(owners), np.concatenate(from_pileup)
    clusters = build_clusters(rng, imp, owner, target_u, target_v, geom)
    pu_energy = _energy_in_window(imp.select(is_pu), owner[is_pu], clusters, n, geom)
    true_energy = np.where(labels == ClusterLabel.PILEUP, pu_energy, truth.energy)
    return _table(chunk.start + np.arange(n), labels, truth, true_energy, pu_energy, n_pileup, side, clusters)


def _table(event: np.ndarray, labels: np.ndarray, truth: Truth, true_energy: np.ndarray,
           pu_energy: np.ndarray, n_pileup: np.ndarray, side: np.ndarray, clusters: Clusters
           ) -> pd.DataFrame:
    """The clusters table: truth, cluster summary, per-layer energies and the flattened image."""
    import pandas as pd

    layer_e = clusters.layer_energy
    images = clusters.images
    columns: dict[str, np.ndarray] = {
        "event": event.astype(np.int64), "label": labels.astype(np.int64),
        "gen_type": truth.ptype.astype(np.int64), "gen_pid": truth.pid.astype(np.int64),
        "gen_e": truth.energy, "gen_pt": truth.pt, "gen_eta": truth.eta, "gen_phi": truth.phi,
        "true_energy": true_energy, "pileup_energy": pu_energy, "n_pileup": n_pileup,
        "cluster_eta": impact_eta(clusters.center_u, clusters.center_v, 1.0) * side,
        "cluster_phi": np.arctan2(clusters.center_v, clusters.center_u),
        "cluster_energy": layer_e.sum(axis=1), "n_cells": (clusters.layers > 0).sum(axis=(1, 2, 3)),
    }
    for c in range(len(LAYER_GROUPS)):
        columns[f"e_group_{c}"] = images[:, c].sum(axis=(1, 2)).astype(np.float64)
    for k in range(layer_e.shape[1]):
        columns[f"e_layer_{k:02d}"] = layer_e[:, k].astype(np.float32)
    flat = images.reshape(len(images), -1)
    for j, name in enumerate(image_columns()):
        columns[name] = flat[:, j]
    return pd.DataFrame(columns)


def simulate_hgcal(n_events: int, seed: int = 1, pileup: float = 0.0, workers: int | None = None,
                   scheduler: str | None = None, progress: bool = True, cfg: HGCalConfig = CONFIG
                   ) -> dict[str, pd.DataFrame]:
    """Simulate ``n_events`` HGCal clusters; ``{"clusters": DataFrame}``, identical for any worker count.

    Without pileup the clusters are EM or hadronic (half each); with ``pileup`` > 0 a third of them are
    pileup clusters and every cluster carries Poisson(``pileup``) minimum-bias interactions.
    """
    import pandas as pd

    from l1ml.simulation.parallel import chunk_seed, make_chunks, map_chunks

    if n_events <= 0:
        raise L1MLError(f"number of events must be positive, got {n_events}; pass e.g. --events 2000")
    if pileup < 0:
        raise L1MLError(f"pileup mean {pileup} is negative; use --pileup 0 for none or 200 for HL-LHC")
    library = None
    if pileup > 0:
        library = pileup_library(cfg.pool_events, chunk_seed(seed, _LIBRARY_STREAM), progress=progress)
    chunks = make_chunks(n_events, seed, cfg.chunk_size)
    fn = partial(simulate_chunk, pileup=pileup, library=library, cfg=cfg)
    frames = map_chunks(fn, chunks, workers=workers, scheduler=scheduler, progress=progress,
                        description="HGCal clusters")
    return {"clusters": pd.concat(frames, ignore_index=True)}


def simulate_particles(energy: np.ndarray, abs_eta: np.ndarray, phi: np.ndarray, ptype: np.ndarray,
                       seed: int, batch_size: int = 256) -> np.ndarray:
    """Per-trigger-layer energies (N, L) of the clusters of single particles without pileup.

    This is the parametrised simulation the surrogate learns and is timed against. Particles go to the
    +z endcap; charged ones get a random charge sign.
    """
    rng = np.random.default_rng(seed)
    out = np.zeros((len(energy), GEOMETRY.n_layers))
    for start in range(0, len(energy), batch_size):
        sl = slice(start, start + batch_size)
        types = ptype[sl]
        pid = np.array([GUN_PIDS[ParticleType(t)] for t in types], np.int64)
        sign = rng.choice([-1, 1], len(pid))
        charge = np.where(np.isin(pid, (11, 211)), sign * np.where(pid == 11, -1, 1), 0).astype(np.float64)
        imp, _ = kinematics_to_impacts(energy[sl], abs_eta[sl], phi[sl], np.where(charge != 0, pid * sign, pid),
                                       charge)
        u, v = reference_uv(imp)
        clusters = build_clusters(rng, imp, np.arange(len(pid)), u, v)
        out[sl] = clusters.layer_energy
    return out
