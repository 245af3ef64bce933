"""HGCal trigger cells and cluster windows: image and seed constants, ``Clusters``, ``reference_uv``,
``build_clusters`` and the window helpers used when simulating events (:mod:`hgcal`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ml.simulation.showers import (
    GEOMETRY,
    PARAMS,
    Geometry,
    Impacts,
    ShowerParams,
    deposit,
    impact_eta,
)

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


def _near(imp: Impacts, side: int, u: float, v: float, geom: Geometry) -> np.ndarray:
    """Particles on ``side`` whose axis passes close enough to (u, v) to reach its cluster region."""
    pu, pv = reference_uv(imp, geom)
    reach = (_HALF_REGION + 6) * geom.pitch_uv
    return (imp.side == side) & (np.abs(pu - u) < reach) & (np.abs(pv - v) < reach)


def _energy_in_window(imp: Impacts, owner: np.ndarray, clusters: Clusters, n: int,
                      geom: Geometry) -> np.ndarray:
    """Generated energy of the particles whose axis enters their cluster's 8 x 8 window."""
    u, v = reference_uv(imp, geom)
    half = IMAGE_SIZE / 2 * geom.pitch_uv
    inside = (np.abs(u - clusters.center_u[owner]) < half) & (np.abs(v - clusters.center_v[owner]) < half)
    return np.bincount(owner[inside], imp.energy[inside], n)
