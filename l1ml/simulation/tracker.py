"""A parametrised Phase-2-like barrel tracker: helices in a 3.8 T solenoid through six silicon layers.

Charged particles are propagated analytically, layer by layer, from their production vertex; at each
layer the crossing point becomes a hit (smeared by the sensor resolution), the direction is kinked by
multiple scattering (Highland formula), and the bend between the two sensors of a pT module gives
the stub bend used by the optional stub pT cut. Noise hits are added uniformly. Geometry and sources
are documented in ``docs/simulation.md``.

Outputs are two pandas tables, both sorted by ``event_id``: ``hits`` (one row per hit, with the
``particle_id`` of the particle that made it, -1 for noise) and ``particles`` (charged particles, the
truth, with ``particle_id`` numbering them within their event).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

from l1ml.errors import L1MLError
from l1ml.simulation.parallel import Chunk, chunk_seed, make_chunks, map_chunks
from l1ml.simulation.pythia import (
    DEFAULT_SIGMA_Z_MM,
    GeneratorConfig,
    PileupGenerator,
    Process,
    generate_events,
    kinematics,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: c in GeV / (T m): a track of pT [GeV] and charge q [e] bends with radius pT / (C_LIGHT * B * |q|) [m].
C_LIGHT = 0.299792458
#: Events per parallel chunk; fixed so that results do not depend on the worker count.
EVENTS_PER_CHUNK = 25
#: Charged particles without hits are kept in the truth table only within this |eta|.
TRUTH_ABS_ETA_MAX = 4.0


class ModuleType(Enum):
    """The two pT-module types of the CMS Phase-2 outer tracker."""

    PS = "PS"  # macro-pixel + strip sensors, inner three barrel layers
    TWO_S = "2S"  # two strip sensors, outer three barrel layers


@dataclass(frozen=True)
class BarrelLayer:
    """One cylindrical barrel layer; lengths in mm, material as a fraction of a radiation length."""

    radius_mm: float
    half_length_mm: float
    module: ModuleType
    sensor_spacing_mm: float
    pitch_rphi_mm: float
    pitch_z_mm: float
    x_over_x0: float

    @property
    def sigma_rphi_mm(self) -> float:
        """Binary-readout resolution across the strips, pitch / sqrt(12)."""
        return self.pitch_rphi_mm / np.sqrt(12.0)

    @property
    def sigma_z_mm(self) -> float:
        """Resolution along z: macro-pixel length (PS) or strip length (2S) / sqrt(12)."""
        return self.pitch_z_mm / np.sqrt(12.0)


def _ps(radius: float, spacing: float) -> BarrelLayer:
    return BarrelLayer(radius, 1200.0, ModuleType.PS, spacing, 0.100, 1.5, 0.02)


def _2s(radius: float, spacing: float) -> BarrelLayer:
    return BarrelLayer(radius, 1200.0, ModuleType.TWO_S, spacing, 0.090, 50.0, 0.015)


#: Mean radii of the six outer-tracker barrel layers used by the CMS L1 tracklet emulation
#: (CMSSW TrackFindingTracklet Settings.h: irmean * 120 cm / 4096), |z| < 1.2 m.
BARREL_LAYERS: tuple[BarrelLayer, ...] = (
    _ps(249.3, 1.6), _ps(371.8, 2.6), _ps(522.7, 2.6),
    _2s(687.6, 1.8), _2s(860.2, 1.8), _2s(1083.1, 1.8),
)


@dataclass(frozen=True)
class TrackerConfig:
    """Detector response settings; part of the dataset manifest."""

    layers: tuple[BarrelLayer, ...] = BARREL_LAYERS
    b_field_t: float = 3.8
    stub_pt_min: float | None = None  # keep only hits whose module bend is compatible with pT above this
    noise_hits_per_layer: float = 10.0  # Poisson mean per layer and event, uniform over the cylinder
    multiple_scattering: bool = True
    smear: bool = True
    hit_efficiency: float = 1.0

    def __post_init__(self) -> None:
        radii = [layer.radius_mm for layer in self.layers]
        if radii != sorted(radii):
            raise L1MLError("tracker layers must be ordered by increasing radius")
        if self.stub_pt_min is not None and self.stub_pt_min <= 0:
            raise L1MLError(f"stub pT cut {self.stub_pt_min} must be positive; omit it to keep all hits")
        if not 0 < self.hit_efficiency <= 1:
            raise L1MLError(f"hit efficiency {self.hit_efficiency} must be in (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        d = asdict(self)
        d["layers"] = [{**asdict(layer), "module": layer.module.value} for layer in self.layers]
        return d

    def bend_window(self, layer: BarrelLayer) -> float:
        """Largest accepted |bend| (strips) on ``layer`` for a prompt track at ``stub_pt_min``."""
        if self.stub_pt_min is None:
            return np.inf
        sin_alpha = layer.radius_mm * 1e-3 * C_LIGHT * self.b_field_t / (2 * self.stub_pt_min)
        bend = layer.sensor_spacing_mm * np.tan(np.arcsin(min(sin_alpha, 1.0))) / layer.pitch_rphi_mm
        return np.ceil(2 * bend) / 2


@dataclass(frozen=True)
class TrackSample:
    """What to generate: the hard process, pileup and the detector settings."""

    process: Process = Process.TTBAR
    pileup: float = 0.0
    pthat_min: float | None = None
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    sigma_z_mm: float = DEFAULT_SIGMA_Z_MM

    def generator(self) -> GeneratorConfig:
        """Pythia configuration of the hard scatter."""
        return GeneratorConfig(self.process, pthat_min=self.pthat_min, sigma_z_mm=self.sigma_z_mm)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description for the manifest."""
        return {"process": self.process.value, "pileup": self.pileup, "generator": self.generator().to_dict(),
                "tracker": self.tracker.to_dict(), "events_per_chunk": EVENTS_PER_CHUNK}


def highland_theta0(p_gev: np.ndarray, beta: np.ndarray, x_over_x0: np.ndarray, charge: np.ndarray
                    ) -> np.ndarray:
    """RMS plane scattering angle (rad) from the Highland formula (PDG review, passage of particles)."""
    x = np.maximum(x_over_x0, 1e-12)
    z2 = charge**2
    return 0.0136 / (beta * p_gev) * np.abs(charge) * np.sqrt(x) * (1 + 0.038 * np.log(x * z2 / beta**2))


def _wrap(angle: np.ndarray) -> np.ndarray:
    """Angles into [0, 2 pi)."""
    return np.mod(angle, 2 * np.pi)


def propagate(particles: np.ndarray, config: TrackerConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Hits of charged ``particles`` (PARTICLE_DTYPE) on the barrel layers, before noise.

    Returns flat arrays: ``index`` (row in ``particles``), ``layer``, measured ``r, phi, z`` and ``bend``.
    """
    masses = np.sqrt(np.maximum(particles["e"] ** 2 - particles["px"] ** 2 - particles["py"] ** 2
                                - particles["pz"] ** 2, 0.0))
    pos = np.stack([particles["vx"], particles["vy"], particles["vz"]], axis=1).astype(np.float64)
    mom = np.stack([particles["px"], particles["py"], particles["pz"]], axis=1).astype(np.float64)
    q = particles["charge"].astype(np.float64)
    alive = (q != 0) & (np.hypot(mom[:, 0], mom[:, 1]) > 1e-6)
    p_abs = np.linalg.norm(mom, axis=1)
    beta = p_abs / np.sqrt(p_abs**2 + masses**2)
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("index", "layer", "r", "phi", "z", "bend")}
    for layer_id, layer in enumerate(config.layers):
        idx = np.flatnonzero(alive & (np.hypot(pos[:, 0], pos[:, 1]) < layer.radius_mm))
        hit_pos, hit_mom, ok = _intersect(pos[idx], mom[idx], q[idx], layer, config.b_field_t)
        alive[idx[~ok]] = False  # loopers that never reach this radius and tracks leaving the barrel
        idx, hit_pos, hit_mom = idx[ok], hit_pos[ok], hit_mom[ok]
        pos[idx], mom[idx] = hit_pos, hit_mom
        if config.multiple_scattering and len(idx):
            mom[idx] = _scatter(hit_pos, hit_mom, q[idx], beta[idx], layer, rng)
        r = np.hypot(hit_pos[:, 0], hit_pos[:, 1])
        phi = np.arctan2(hit_pos[:, 1], hit_pos[:, 0])
        # Bend: displacement across the sensor spacing, in strips; sign follows the charge.
        sin_alpha = (hit_pos[:, 0] * hit_mom[:, 1] - hit_pos[:, 1] * hit_mom[:, 0]) / (
            r * np.hypot(hit_mom[:, 0], hit_mom[:, 1]))
        bend = layer.sensor_spacing_mm * np.tan(np.arcsin(np.clip(sin_alpha, -0.999, 0.999))) / layer.pitch_rphi_mm
        z = hit_pos[:, 2]
        if config.smear:
            phi = phi + rng.normal(0.0, layer.sigma_rphi_mm, len(idx)) / r
            z = z + rng.normal(0.0, layer.sigma_z_mm, len(idx))
            bend = bend + rng.normal(0.0, 0.25, len(idx))  # cluster-centre jitter of about a quarter strip
        bend = np.round(2 * bend) / 2  # the front-end reports bends in half-strips
        keep = np.abs(bend) <= config.bend_window(layer)
        if config.hit_efficiency < 1:
            keep &= rng.random(len(idx)) < config.hit_efficiency
        phi = np.mod(phi + np.pi, 2 * np.pi) - np.pi
        for key, values in (("index", idx), ("layer", np.full(len(idx), layer_id)), ("r", r), ("phi", phi),
                            ("z", z), ("bend", bend)):
            out[key].append(values[keep])
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def _intersect(pos: np.ndarray, mom: np.ndarray, q: np.ndarray, layer: BarrelLayer, b_field_t: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First outward crossing of helices with the cylinder of ``layer``: position, momentum, success."""
    pt = np.hypot(mom[:, 0], mom[:, 1])
    rho = pt / (C_LIGHT * b_field_t * np.abs(q)) * 1e3  # mm
    ux, uy = mom[:, 0] / pt, mom[:, 1] / pt
    sign = np.sign(q)
    # The force q v x B (B along +z) points along sign(q) * (uy, -ux); the centre lies that way.
    cx = pos[:, 0] + sign * rho * uy
    cy = pos[:, 1] - sign * rho * ux
    d = np.hypot(cx, cy)
    radius = layer.radius_mm
    kappa = (radius**2 - d**2 - rho**2) / (2 * rho * np.maximum(d, 1e-12))
    reach = np.abs(kappa) <= 1
    acos = np.arccos(np.clip(kappa, -1, 1))
    alpha0 = np.arctan2(pos[:, 1] - cy, pos[:, 0] - cx)
    beta_c = np.arctan2(cy, cx)
    h = -sign  # counter-clockwise (+1) for negative charges
    psi = np.minimum(_wrap(h * (beta_c - alpha0 + acos)), _wrap(h * (beta_c - alpha0 - acos)))
    angle = alpha0 + h * psi
    hit = np.stack([cx + rho * np.cos(angle), cy + rho * np.sin(angle),
                    pos[:, 2] + rho * psi * mom[:, 2] / pt], axis=1)
    cos_t, sin_t = np.cos(h * psi), np.sin(h * psi)
    new_mom = np.stack([mom[:, 0] * cos_t - mom[:, 1] * sin_t, mom[:, 0] * sin_t + mom[:, 1] * cos_t, mom[:, 2]],
                       axis=1)
    ok = reach & (np.abs(hit[:, 2]) < layer.half_length_mm)
    return hit, new_mom, ok


def _scatter(pos: np.ndarray, mom: np.ndarray, q: np.ndarray, beta: np.ndarray, layer: BarrelLayer,
             rng: np.random.Generator) -> np.ndarray:
    """Momenta after multiple scattering in ``layer`` (two independent Gaussian kinks, |p| kept)."""
    p = np.linalg.norm(mom, axis=1)
    u = mom / p[:, None]
    # Path length through a cylindrical layer grows as 1 / cos(incidence); incidence from the radial direction.
    radial = np.stack([pos[:, 0], pos[:, 1], np.zeros(len(pos))], axis=1)
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    cos_inc = np.clip(np.abs(np.sum(u * radial, axis=1)), 0.05, 1.0)
    theta0 = highland_theta0(p, beta, layer.x_over_x0 / cos_inc, q)
    e1 = np.stack([-u[:, 1], u[:, 0], np.zeros(len(u))], axis=1)
    e1 /= np.maximum(np.linalg.norm(e1, axis=1, keepdims=True), 1e-12)
    e2 = np.cross(u, e1)
    g = rng.normal(0.0, 1.0, (len(u), 2)) * theta0[:, None]
    new_u = u + g[:, :1] * e1 + g[:, 1:] * e2
    new_u /= np.linalg.norm(new_u, axis=1, keepdims=True)
    return new_u * p[:, None]


def noise_hits(config: TrackerConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Uniform noise hits: Poisson(mean) per layer, flat in phi and z over the layer."""
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("layer", "r", "phi", "z", "bend")}
    for layer_id, layer in enumerate(config.layers):
        n = int(rng.poisson(config.noise_hits_per_layer)) if config.noise_hits_per_layer > 0 else 0
        window = min(config.bend_window(layer), 7.0)
        out["layer"].append(np.full(n, layer_id))
        out["r"].append(np.full(n, layer.radius_mm))
        out["phi"].append(rng.uniform(-np.pi, np.pi, n))
        out["z"].append(rng.uniform(-layer.half_length_mm, layer.half_length_mm, n))
        out["bend"].append(np.round(2 * rng.uniform(-window, window, n)) / 2)
    return {k: np.concatenate(v) for k, v in out.items()}


def simulate_event(particles: np.ndarray, event_id: int, config: TrackerConfig, rng: np.random.Generator
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Hits and truth-particle columns of one event (all ``particles`` are propagated, charged kept)."""
    charged = particles[particles["charge"] != 0]
    hits = propagate(charged, config, rng)
    noise = noise_hits(config, rng)
    n_real, n_noise = len(hits["index"]), len(noise["layer"])
    layer = np.concatenate([hits["layer"], noise["layer"]]).astype(np.int8)
    particle_id = np.concatenate([hits["index"], np.full(n_noise, -1)]).astype(np.int32)
    # Order hits by layer, then particle (noise, -1, first), so that each event reads naturally.
    order = np.lexsort((particle_id, layer))
    hit_cols = {
        "event_id": np.full(n_real + n_noise, event_id, np.int32),
        "layer": layer[order],
        "r": np.concatenate([hits["r"], noise["r"]])[order].astype(np.float32),
        "phi": np.concatenate([hits["phi"], noise["phi"]])[order].astype(np.float32),
        "z": np.concatenate([hits["z"], noise["z"]])[order].astype(np.float32),
        "bend": np.concatenate([hits["bend"], noise["bend"]])[order].astype(np.float32),
        "particle_id": particle_id[order],
    }
    hit_cols["hit_id"] = np.arange(len(order), dtype=np.int32)
    kin = kinematics(charged)
    n_hits = np.bincount(hits["index"].astype(np.int64), minlength=len(charged)) if len(charged) else np.zeros(0)
    # Truth keeps every particle that left a hit plus all within |eta| < TRUTH_ABS_ETA_MAX (for efficiencies);
    # particle_id stays the index among all charged particles, so hits always find their particle.
    stored = (n_hits > 0) | (np.abs(kin["eta"]) < TRUTH_ABS_ETA_MAX)
    charged, n_hits = charged[stored], n_hits[stored]
    kin = {k: v[stored] for k, v in kin.items()}
    part_cols = {
        "event_id": np.full(len(charged), event_id, np.int32),
        "particle_id": np.flatnonzero(stored).astype(np.int32),
        "pid": charged["pid"], "charge": charged["charge"].astype(np.int8),
        "px": charged["px"].astype(np.float32), "py": charged["py"].astype(np.float32),
        "pz": charged["pz"].astype(np.float32),
        "pt": kin["pt"].astype(np.float32), "eta": kin["eta"].astype(np.float32),
        "phi": kin["phi"].astype(np.float32),
        "vx": charged["vx"].astype(np.float32), "vy": charged["vy"].astype(np.float32),
        "vz": charged["vz"].astype(np.float32),
        "interaction": charged["interaction"].astype(np.int16),
        "n_hits": n_hits.astype(np.int16),
    }
    return hit_cols, part_cols


@dataclass(frozen=True)
class _TrackChunk:
    chunk: Chunk
    sample: TrackSample


def _run_chunk(task: _TrackChunk) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Hits and particles of one chunk of events, as column dictionaries."""
    chunk, sample = task.chunk, task.sample
    rng = np.random.default_rng([chunk.seed, 0x7472])
    pileup = PileupGenerator(sample.pileup, chunk_seed(chunk.seed, 1), sample.sigma_z_mm) if sample.pileup > 0 else None
    hits, parts = [], []
    events = generate_events(sample.generator(), chunk.n_events, chunk.seed)
    for i, hard in enumerate(events):
        particles = hard if pileup is None else np.concatenate([hard, pileup.sample()])
        h, p = simulate_event(particles, chunk.start + i, sample.tracker, rng)
        hits.append(h)
        parts.append(p)
    return _concat(hits), _concat(parts)


def _concat(columns: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate a list of column dictionaries."""
    return {k: np.concatenate([c[k] for c in columns]) for k in columns[0]}


def simulate_tracks(n_events: int, seed: int = 1, sample: TrackSample | None = None, workers: int | None = None,
                    scheduler: str | None = None, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Tracker hits and truth particles for ``n_events`` events: ``{"hits": ..., "particles": ...}``."""
    import pandas as pd

    sample = sample or TrackSample()
    tasks = [_TrackChunk(c, sample) for c in make_chunks(n_events, seed, EVENTS_PER_CHUNK)]
    results = map_chunks(_run_chunk, tasks, workers=workers, scheduler=scheduler, progress=progress,
                         description="simulating tracker events")
    hits = _concat([r[0] for r in results])
    parts = _concat([r[1] for r in results])
    return {"hits": pd.DataFrame(hits), "particles": pd.DataFrame(parts)}


def iter_events(hits: pd.DataFrame, particles: pd.DataFrame) -> Any:
    """Yield ``(event_id, hits, particles)`` per event; both tables must be sorted by ``event_id``."""
    hit_groups = dict(tuple(hits.groupby("event_id", sort=True)))
    for event_id, event_particles in particles.groupby("event_id", sort=True):
        yield int(event_id), hit_groups.get(event_id, hits.iloc[:0]), event_particles

