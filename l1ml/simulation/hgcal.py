"""HGCal trigger-cell cluster images for L1 e/gamma, hadron and pileup classification.

Each event is one cluster: an EM particle (photon, electron) or a hadron (charged pion, K0_L) shot from a
gun into the endcap, or, with pileup on, the trigger cells around the hardest pileup particle. Minimum-
bias pileup from Pythia8 is overlaid on every event. Showers are deposited by :mod:`showers`, summed
into projective trigger cells, given electronics noise and the trigger-cell threshold, and cut out as
8 x 8 cells around the energy seed in four longitudinal layer groups. See docs/hgcal.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import IntEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1ml.errors import InputFileError, L1MLError
from l1ml.simulation.showers import (
    GEOMETRY,
    PARAMS,
    Geometry,
    Impacts,
    ShowerParams,
    deposit,
    impact_eta,
    in_acceptance,
    propagate,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Cells per side of a cluster image.
IMAGE_SIZE = 8
#: Trigger-layer ranges [start, stop) summed into each image channel.
LAYER_GROUPS: tuple[tuple[int, int], ...] = ((0, 7), (7, 14), (14, 26), (26, 38))
CHANNEL_NAMES = ("CE-E layers 1-14", "CE-E layers 15-28", "CE-H thin", "CE-H thick")
#: Trigger layer at which a particle's axis defines its cluster position (middle of CE-E).
_REFERENCE_LAYER = 6
#: Cells on each side of the reference cell kept around each cluster while building it.
_HALF_REGION = 8
#: Cells on each side of the expected position searched for the seed.
_SEED_SEARCH = 2


class ClusterLabel(IntEnum):
    """What made the cluster: the classification target."""

    EM = 0
    HADRONIC = 1
    PILEUP = 2


class ParticleType(IntEnum):
    """Generating-particle type; the gun shoots the first four."""

    PHOTON = 0
    ELECTRON = 1
    CHARGED_HADRON = 2
    NEUTRAL_HADRON = 3
    MUON = 4


#: PDG id shot by the gun for each particle type (charged ones with a random sign).
GUN_PIDS = {ParticleType.PHOTON: 22, ParticleType.ELECTRON: 11, ParticleType.CHARGED_HADRON: 211,
            ParticleType.NEUTRAL_HADRON: 130}
_MASS = {22: 0.0, 11: 0.000511, 211: 0.13957, 130: 0.497611}


def particle_type(pid: np.ndarray, charge: np.ndarray) -> np.ndarray:
    """``ParticleType`` of PDG ids (hadrons split by charge)."""
    apid = np.abs(pid)
    out = np.where(charge != 0, ParticleType.CHARGED_HADRON, ParticleType.NEUTRAL_HADRON).astype(np.int64)
    out[apid == 22] = ParticleType.PHOTON
    out[apid == 11] = ParticleType.ELECTRON
    out[apid == 13] = ParticleType.MUON
    return out


def label_of(ptype: np.ndarray) -> np.ndarray:
    """EM for photons and electrons, hadronic otherwise."""
    em = (ptype == ParticleType.PHOTON) | (ptype == ParticleType.ELECTRON)
    return np.where(em, ClusterLabel.EM, ClusterLabel.HADRONIC).astype(np.int64)


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

@dataclass
class Truth:
    """Generator-level kinematics of the particles behind an ``Impacts``."""

    energy: np.ndarray
    pt: np.ndarray
    eta: np.ndarray  # signed
    phi: np.ndarray
    pid: np.ndarray
    ptype: np.ndarray

    def select(self, idx: np.ndarray) -> Truth:
        """The subset at ``idx``."""
        return Truth(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


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


@dataclass
class PileupLibrary:
    """Minimum-bias particles that reach the endcaps, reused with random azimuthal rotations and z flips.

    Generating Poisson(200) minimum-bias events per bunch crossing with Pythia costs ~0.5 s per event;
    drawing them from a library of independently generated events, each rotated by a random angle about
    the beam and assigned to a random endcap, gives statistically equivalent pileup in the few trigger
    cells that one cluster sees, at a negligible cost.
    """

    impacts: Impacts
    truth: Truth
    offsets: np.ndarray  # particles of library event k: offsets[k]:offsets[k+1]

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    def draw(self, rng: np.random.Generator, mu: float) -> tuple[Impacts, Truth, int]:
        """Pileup of one bunch crossing: Poisson(mu) library events, rotated and flipped."""
        n = int(rng.poisson(mu))
        events = rng.integers(0, self.n_events, n)
        psi = rng.uniform(-np.pi, np.pi, n)
        flip = rng.choice(np.array([-1, 1], np.int8), n)
        lengths = self.offsets[events + 1] - self.offsets[events]
        first = np.repeat(self.offsets[events] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        idx = first + np.arange(int(lengths.sum()))
        imp, truth = self.impacts.select(idx), self.truth.select(idx)
        c, s = np.cos(np.repeat(psi, lengths)), np.sin(np.repeat(psi, lengths))
        imp.x, imp.y = c * imp.x - s * imp.y, s * imp.x + c * imp.y
        imp.tx, imp.ty = c * imp.tx - s * imp.ty, s * imp.tx + c * imp.ty
        f = np.repeat(flip, lengths)
        imp.side = imp.side * f
        truth.eta = truth.eta * f
        truth.phi = np.angle(np.exp(1j * (truth.phi + np.repeat(psi, lengths))))
        return imp, truth, n


def pileup_library(n_events: int, seed: int, geom: Geometry = GEOMETRY, progress: bool = False
                   ) -> PileupLibrary:
    """Generate the minimum-bias library with Pythia8 and keep the particles inside the endcaps."""
    from rich.progress import track

    from l1ml.simulation.pythia import GeneratorConfig, Process, generate_events, kinematics

    imps, truths, counts = [], [], []
    events = generate_events(GeneratorConfig(Process.MINBIAS), n_events, seed, batch_size=100)
    for particles in track(events, total=n_events, description="pileup library", disable=not progress):
        imp = propagate(particles["px"], particles["py"], particles["pz"], particles["e"],
                        particles["pid"].astype(np.int64), particles["charge"].astype(np.float64),
                        vz_cm=particles["vz"] / 10.0, geom=geom)
        keep = in_acceptance(imp, geom)
        kin = kinematics(particles[keep])
        pid = particles["pid"][keep].astype(np.int64)
        imps.append(imp.select(keep))
        truths.append(Truth(particles["e"][keep], kin["pt"], kin["eta"], kin["phi"], pid,
                            particle_type(pid, particles["charge"][keep])))
        counts.append(int(keep.sum()))
    truth = Truth(*(np.concatenate([getattr(t, f) for t in truths]) for f in Truth.__dataclass_fields__))
    return PileupLibrary(Impacts.concat(imps), truth, np.concatenate([[0], np.cumsum(counts)]))


# --- trigger cells and clusters -----------------------------------------------------------------------

@dataclass
class Clusters:
    """Cluster windows and what was measured in them (B clusters)."""

    layers: np.ndarray  # (B, L, 8, 8) trigger-cell energies in GeV after noise and threshold
    center_u: np.ndarray  # projective window centre x/z, y/z
    center_v: np.ndarray

    @property
    def layer_energy(self) -> np.ndarray:
        """(B, L) energy per trigger layer inside the window."""
        return self.layers.sum(axis=(2, 3))

    @property
    def images(self) -> np.ndarray:
        """(B, C, 8, 8) float32 images, trigger layers summed in ``LAYER_GROUPS``."""
        return np.stack([self.layers[:, a:b].sum(axis=1) for a, b in LAYER_GROUPS], axis=1).astype(np.float32)


def reference_uv(imp: Impacts, geom: Geometry = GEOMETRY) -> tuple[np.ndarray, np.ndarray]:
    """Projective position (x/z, y/z) of each particle's axis at the reference layer."""
    z = geom.z[_REFERENCE_LAYER]
    dz = z - geom.z_front
    return (imp.x + imp.tx * dz) / z, (imp.y + imp.ty * dz) / z


def build_clusters(rng: np.random.Generator, imp: Impacts, owner: np.ndarray, target_u: np.ndarray,
                   target_v: np.ndarray, geom: Geometry = GEOMETRY, params: ShowerParams = PARAMS
                   ) -> Clusters:
    """Deposit the particles, form trigger cells around each target and cut out its 8 x 8 window.

    ``owner[i]`` is the cluster that particle i belongs to; ``target_u/v`` (B,) is where each cluster
    is expected (projective coordinates, folded endcap). Returns windows centred on the energy seed.
    """
    n_clusters, n_layers = len(target_u), geom.n_layers
    size, pitch = 2 * _HALF_REGION, geom.pitch_uv
    origin_u = np.floor(target_u / pitch).astype(np.int64) - _HALF_REGION
    origin_v = np.floor(target_v / pitch).astype(np.int64) - _HALF_REGION
    grid = np.zeros((n_clusters, n_layers, size, size))
    spots = deposit(rng, imp, geom, params)
    if len(spots.energy):
        cluster = owner[spots.particle]
        zl = geom.z[spots.layer]
        iu = np.floor(spots.x / zl / pitch).astype(np.int64) - origin_u[cluster]
        iv = np.floor(spots.y / zl / pitch).astype(np.int64) - origin_v[cluster]
        inside = (iu >= 0) & (iu < size) & (iv >= 0) & (iv < size)
        flat = ((cluster * n_layers + spots.layer) * size + iv) * size + iu
        grid += np.bincount(flat[inside], spots.energy[inside], grid.size).reshape(grid.shape)
    # Trigger-cell centres, their pseudorapidity and the acceptance.
    cells = np.arange(size) + 0.5
    cu = (origin_u[:, None] + cells[None, :]) * pitch  # (B, size)
    cv = (origin_v[:, None] + cells[None, :]) * pitch
    eta = impact_eta(cu[:, None, :], cv[:, :, None], 1.0)  # (B, v, u)
    accepted = (eta > geom.eta_min) & (eta < geom.eta_max)
    e_mip = geom.e_mip[None, :, None, None]
    grid += rng.normal(0.0, 1.0, grid.shape) * geom.noise_mip * e_mip
    mipt = grid / e_mip / np.cosh(eta)[:, None]
    grid = np.where(accepted[:, None] & (mipt >= geom.threshold_mipt), grid, 0.0)
    # Seed: the highest layer-summed cell near the expected position; window centred on the barycentre
    # of the 3 x 3 cells around it, snapped to the cell grid.
    total = grid.sum(axis=1)
    expected = _HALF_REGION  # the target's cell, by construction of the region
    near_1d = np.abs(np.arange(size) - expected) <= _SEED_SEARCH
    masked = np.where(near_1d[:, None] & near_1d[None, :], total, -1.0).reshape(n_clusters, -1)
    seed_v, seed_u = np.divmod(masked.argmax(axis=1), size)
    rows = np.arange(n_clusters)
    off = np.arange(-1, 2)
    nv = np.clip(seed_v[:, None] + off, 0, size - 1)
    nu = np.clip(seed_u[:, None] + off, 0, size - 1)
    block = total[rows[:, None, None], nv[:, :, None], nu[:, None, :]]  # (B, 3, 3)
    weight = block.sum(axis=(1, 2))
    has_energy = weight > 0
    safe = np.where(has_energy, weight, 1.0)
    bar_v = np.where(has_energy, (block.sum(axis=2) * (nv + 0.5)).sum(axis=1) / safe, expected + 0.5)
    bar_u = np.where(has_energy, (block.sum(axis=1) * (nu + 0.5)).sum(axis=1) / safe, expected + 0.5)
    half = IMAGE_SIZE // 2
    start_v = np.clip(np.rint(bar_v).astype(np.int64) - half, 0, size - IMAGE_SIZE)
    start_u = np.clip(np.rint(bar_u).astype(np.int64) - half, 0, size - IMAGE_SIZE)
    win = np.arange(IMAGE_SIZE)
    layers = grid[rows[:, None, None, None], np.arange(n_layers)[None, :, None, None],
                  (start_v[:, None] + win)[:, None, :, None], (start_u[:, None] + win)[:, None, None, :]]
    return Clusters(layers, (origin_u + start_u + half) * pitch, (origin_v + start_v + half) * pitch)


# --- events -------------------------------------------------------------------------------------------

#: Stream index (in ``parallel.chunk_seed``) reserved for the pileup library, far from chunk indices.
_LIBRARY_STREAM = 2**31 - 1


def _near(imp: Impacts, side: int, u: float, v: float, geom: Geometry) -> np.ndarray:
    """Particles on ``side`` whose axis passes close enough to (u, v) to reach its cluster region."""
    pu, pv = reference_uv(imp, geom)
    reach = (_HALF_REGION + 6) * geom.pitch_uv
    return (imp.side == side) & (np.abs(pu - u) < reach) & (np.abs(pv - v) < reach)


def _hardest(truth: Truth, cfg: HGCalConfig) -> int | None:
    """Index of the highest-pT pileup particle where a pileup cluster may be seeded."""
    abs_eta = np.abs(truth.eta)
    ok = np.flatnonzero((abs_eta > cfg.pileup_abs_eta[0]) & (abs_eta < cfg.pileup_abs_eta[1]))
    return int(ok[np.argmax(truth.pt[ok])]) if len(ok) else None


def _energy_in_window(imp: Impacts, owner: np.ndarray, clusters: Clusters, n: int,
                      geom: Geometry) -> np.ndarray:
    """Generated energy of the particles whose axis enters their cluster's 8 x 8 window."""
    u, v = reference_uv(imp, geom)
    half = IMAGE_SIZE / 2 * geom.pitch_uv
    inside = (np.abs(u - clusters.center_u[owner]) < half) & (np.abs(v - clusters.center_v[owner]) < half)
    return np.bincount(owner[inside], imp.energy[inside], n)


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


def image_columns(n_channels: int = len(LAYER_GROUPS)) -> list[str]:
    """Names of the flattened image columns, ``img_<channel>_<row>_<col>`` in C-order."""
    return [f"img_{c}_{r}_{k}" for c in range(n_channels) for r in range(IMAGE_SIZE) for k in range(IMAGE_SIZE)]


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


# --- reading ------------------------------------------------------------------------------------------

def load_hgcal(path: Path) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Images (N, C, 8, 8) float32, labels (N,) int64 and the other columns, from a dataset or Parquet file."""
    from l1ml.simulation.dataset import read_table

    path = Path(path)
    return load_hgcal_table(read_table(path / "clusters.parquet" if path.is_dir() else path), path)


def load_hgcal_table(table: pd.DataFrame, source: Path | str = "the table"
                     ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """``load_hgcal`` for a clusters DataFrame already in memory."""
    names = image_columns()
    missing = [c for c in ["label", *names] if c not in table.columns]
    if missing:
        raise InputFileError(f"{source} has no column(s) {', '.join(missing[:5])}"
                             f"{' ...' if len(missing) > 5 else ''}; it is not an HGCal clusters table - "
                             "regenerate it with `l1ml simulate hgcal --events N -o DIR`")
    return _images_of(table), table["label"].to_numpy(np.int64), table.drop(columns=names)


# --- validation plots ---------------------------------------------------------------------------------

_LABEL_NAMES = {ClusterLabel.EM: "EM (γ, e)", ClusterLabel.HADRONIC: "hadronic (π±, K⁰L)",
                ClusterLabel.PILEUP: "pileup"}
_COLORS = {ClusterLabel.EM: "tab:blue", ClusterLabel.HADRONIC: "tab:red", ClusterLabel.PILEUP: "tab:gray"}


def validation_plots(tables: dict[str, pd.DataFrame], outdir: Path) -> list[Path]:
    """PNG pages of the clusters table: energies, shower profiles, mean images, generator spectra."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = tables["clusters"]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    labels = [lab for lab in ClusterLabel if (df["label"] == lab).any()]
    paths = []

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    bins = np.geomspace(0.5, max(2.0, float(df["cluster_energy"].max()) * 1.1), 60)
    for lab in labels:
        sel = df[df["label"] == lab]
        kw = {"histtype": "step", "color": _COLORS[lab], "label": _LABEL_NAMES[lab]}
        axes[0].hist(sel["cluster_energy"].clip(lower=0.5), bins=bins, **kw)
        axes[2].hist(sel["n_cells"], bins=40, **kw)
        if lab != ClusterLabel.PILEUP:
            shot = sel[sel["gen_e"] > 0]
            axes[1].hist(shot["cluster_energy"] / shot["gen_e"],
                         bins=np.linspace(0, 3, 61), **kw)
    axes[0].set(xscale="log", xlabel="cluster energy in the 8×8 window [GeV]", ylabel="clusters")
    axes[1].set(xlabel="cluster energy / generated energy", ylabel="clusters",
                title="response (pileup included when simulated)")
    axes[2].set(xlabel="trigger cells above threshold in the window", ylabel="clusters")
    for ax in axes:
        ax.legend(fontsize=8)
    paths.append(_save(fig, outdir / "cluster_energy.png"))

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    layer_cols = [c for c in df.columns if c.startswith("e_layer_")]
    depth_x0 = np.cumsum(GEOMETRY.x0) - GEOMETRY.x0 / 2
    depth_lam = np.cumsum(GEOMETRY.lam) - GEOMETRY.lam / 2
    for lab in labels:
        layer_e = df.loc[df["label"] == lab, layer_cols].to_numpy(np.float64)
        profile = layer_e.mean(axis=0) / max(layer_e.mean(axis=0).sum(), 1e-12)
        axes[0].plot(depth_x0, profile, "o-", ms=3, color=_COLORS[lab], label=_LABEL_NAMES[lab])
        axes[1].plot(depth_lam, profile, "o-", ms=3, color=_COLORS[lab], label=_LABEL_NAMES[lab])
    boundary = GEOMETRY.section.tolist().index(1)
    axes[0].axvline(GEOMETRY.x0_edges[boundary], color="k", ls=":", label="CE-E | CE-H")
    axes[1].axvline(GEOMETRY.lam_edges[boundary], color="k", ls=":", label="CE-E | CE-H")
    axes[0].set(xlabel="depth [X₀] (normal incidence)", ylabel="mean fraction of cluster energy per trigger layer",
                xlim=(0, 60), title="longitudinal profile, EM depth scale")
    axes[1].set(xlabel="depth [λ_I] (normal incidence)", ylabel="mean fraction of cluster energy per trigger layer",
                title="longitudinal profile, hadronic depth scale")
    for ax in axes:
        ax.legend(fontsize=8)
    paths.append(_save(fig, outdir / "shower_profiles.png"))

    images = _images_of(df)
    fig, axes = plt.subplots(len(labels), len(LAYER_GROUPS), figsize=(3.2 * len(LAYER_GROUPS), 3 * len(labels)),
                             squeeze=False)
    for row, lab in enumerate(labels):
        mean = images[df["label"].to_numpy() == lab].mean(axis=0)
        for c in range(len(LAYER_GROUPS)):
            ax = axes[row, c]
            im = ax.imshow(mean[c], origin="lower", cmap="viridis")
            fig.colorbar(im, ax=ax, fraction=0.046, label="mean energy [GeV]")
            ax.set(title=f"{_LABEL_NAMES[lab]}\n{CHANNEL_NAMES[c]}", xlabel="cell (x/z)", ylabel="cell (y/z)")
    paths.append(_save(fig, outdir / "mean_images.png"))

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for lab in labels:
        sel = df[(df["label"] == lab) & (df["gen_e"] > 0)]
        kw = {"histtype": "step", "color": _COLORS[lab], "label": _LABEL_NAMES[lab]}
        axes[0].hist(sel["gen_e"], bins=np.geomspace(0.5, 500, 50), **kw)
        axes[1].hist(sel["gen_eta"], bins=np.linspace(-3.2, 3.2, 65), **kw)
        axes[2].hist(sel["true_energy"], bins=np.geomspace(0.5, 2000, 50), **kw)
    axes[0].set(xscale="log", xlabel="generating particle energy [GeV]", ylabel="clusters")
    axes[1].set(xlabel="generating particle η", ylabel="clusters")
    axes[2].set(xscale="log", xlabel="true energy in the window [GeV] (pileup: sum of pileup particles)",
                ylabel="clusters")
    for ax in axes:
        ax.legend(fontsize=8)
    paths.append(_save(fig, outdir / "generator_spectra.png"))
    return paths


def _images_of(df: pd.DataFrame) -> np.ndarray:
    """The (N, C, 8, 8) float32 images of a clusters table."""
    images = df[image_columns()].to_numpy(np.float32)
    return images.reshape(len(df), len(LAYER_GROUPS), IMAGE_SIZE, IMAGE_SIZE)


def _save(fig: Any, path: Path) -> Path:
    """Save a figure as PNG (no timestamp metadata, so reruns give identical files) and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return path
