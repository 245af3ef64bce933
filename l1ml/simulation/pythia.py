"""Pythia8 event generation: process presets, final-state particles per event, pileup overlay.

Every generator here is deterministic given its seed: the same seed gives the same particles, on any
machine with the same ``pythia8mc`` version. Particles come out as numpy structured arrays with
``PARTICLE_DTYPE`` (momenta in GeV, production vertex in mm, as Pythia reports them).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1ml.errors import L1MLError

if TYPE_CHECKING:  # pragma: no cover
    import pythia8mc

#: One final-state particle. ``vx, vy, vz`` is the production vertex (mm); ``interaction`` is 0 for the
#: hard-scatter event and 1, 2, ... for overlaid pileup interactions.
PARTICLE_DTYPE = np.dtype([
    ("px", "f8"), ("py", "f8"), ("pz", "f8"), ("e", "f8"),
    ("pid", "i4"), ("charge", "f4"),
    ("vx", "f8"), ("vy", "f8"), ("vz", "f8"),
    ("interaction", "i4"),
])

#: Pythia's ``Random:seed`` accepts 0 < seed <= 900000000.
MAX_PYTHIA_SEED = 900_000_000

#: HL-LHC luminous-region length: the Phase-2 tracker TDR (CERN-LHCC-2017-009) assumes sigma_z ~ 5 cm.
DEFAULT_SIGMA_Z_MM = 50.0

_NEUTRINOS = (12, 14, 16)


class Process(Enum):
    """Hard processes the simulation knows; each maps to a fixed list of Pythia settings."""

    TTBAR = "ttbar"
    WJETS = "wjets"
    ZJETS = "zjets"
    QCD_DIJET = "qcd_dijet"
    MINBIAS = "minbias"
    PARTICLE_GUN = "particle_gun"
    # The five boosted-jet classes of the hls4ml jet-tagging dataset: hadronic decays only.
    JET_Q = "jet_q"
    JET_G = "jet_g"
    JET_W = "jet_w"
    JET_Z = "jet_z"
    JET_T = "jet_t"
    # Signals of the anomaly-detection dataset (l1ml.simulation.l1objects, docs/anomaly.md).
    ZPRIME_TTBAR = "zprime_ttbar"
    WPRIME_LNU = "wprime_lnu"
    HIGGS_LLP = "higgs_llp"


_HADRONIC_W = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")
_HADRONIC_Z = ("23:onMode = off", "23:onIfAny = 1 2 3 4 5")

_PROCESS_SETTINGS: dict[Process, tuple[str, ...]] = {
    Process.TTBAR: ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
    Process.WJETS: ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on"),
    Process.ZJETS: ("WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on",
                    "WeakZ0:gmZmode = 2"),
    Process.QCD_DIJET: ("HardQCD:all = on",),
    Process.MINBIAS: ("SoftQCD:inelastic = on",),
    Process.PARTICLE_GUN: ("ProcessLevel:all = off",),
    # Light quarks only (u, d, s): q q -> q q and q qbar -> q' qbar' (nQuarkNew = 3 keeps c, b out).
    Process.JET_Q: ("HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on", "HardQCD:nQuarkNew = 3"),
    Process.JET_G: ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"),
    Process.JET_W: ("WeakDoubleBoson:ffbar2WW = on", *_HADRONIC_W),
    Process.JET_Z: ("WeakDoubleBoson:ffbar2gmZgmZ = on", "WeakZ0:gmZmode = 2", *_HADRONIC_Z),
    Process.JET_T: ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_HADRONIC_W),
    # A 1 TeV Z' (pure Z', no gamma*/Z interference) decaying to top pairs.
    Process.ZPRIME_TTBAR: ("NewGaugeBoson:ffbar2gmZZprime = on", "Zprime:gmZmode = 3", "32:m0 = 1000",
                           "32:onMode = off", "32:onIfAny = 6"),
    # A 1 TeV W' decaying to an electron or a muon and its neutrino.
    Process.WPRIME_LNU: ("NewGaugeBoson:ffbar2Wprime = on", "34:m0 = 1000", "34:onMode = off",
                         "34:onIfAny = 11 13"),
    # Higgs portal: gg -> h(125) -> a a, a scalar of 30 GeV with c tau = 100 mm decaying to b bbar
    # (Pythia's A0, id 36, stands in for the long-lived scalar).
    Process.HIGGS_LLP: ("HiggsSM:gg2H = on", "25:onMode = off", "25:addChannel = 1 1.0 100 36 36",
                        "36:m0 = 30", "36:mWidth = 0", "36:mMin = 29.9", "36:mMax = 30.1", "36:tau0 = 100",
                        "36:onMode = off", "36:onIfAny = 5"),
}


@dataclass(frozen=True)
class GunConfig:
    """Single particles per event, flat in energy and in |eta| within the given ranges, both endcaps."""

    pids: tuple[int, ...] = (11, 22, 211)
    e_min: float = 10.0
    e_max: float = 200.0
    abs_eta_min: float = 1.5
    abs_eta_max: float = 3.0
    particles_per_event: int = 1


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that defines a generated sample apart from the seed; recorded in manifests."""

    process: Process
    ecm_gev: float = 14000.0
    pthat_min: float | None = None
    pthat_max: float | None = None
    mpi: bool = True
    isr: bool = True
    sigma_z_mm: float = DEFAULT_SIGMA_Z_MM
    extra: tuple[str, ...] = ()
    gun: GunConfig = field(default_factory=GunConfig)

    def settings(self, seed: int) -> list[str]:
        """Pythia ``readString`` lines for this configuration and seed."""
        lines = [
            "Print:quiet = on",
            "Next:numberCount = 0",
            "Random:setSeed = on",
            f"Random:seed = {pythia_seed(seed)}",
            f"Beams:eCM = {self.ecm_gev:g}",
            *_PROCESS_SETTINGS[self.process],
        ]
        if self.process is not Process.PARTICLE_GUN:
            if self.sigma_z_mm > 0:
                lines += ["Beams:allowVertexSpread = on", f"Beams:sigmaVertexZ = {self.sigma_z_mm:g}"]
            if self.pthat_min is not None:
                lines.append(f"PhaseSpace:pTHatMin = {self.pthat_min:g}")
            if self.pthat_max is not None:
                lines.append(f"PhaseSpace:pTHatMax = {self.pthat_max:g}")
            if not self.mpi:
                lines.append("PartonLevel:MPI = off")
            if not self.isr:
                lines.append("PartonLevel:ISR = off")
        return lines + list(self.extra)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (enum values as strings) for manifests and cache keys."""
        return {
            "process": self.process.value, "ecm_gev": self.ecm_gev, "pthat_min": self.pthat_min,
            "pthat_max": self.pthat_max, "mpi": self.mpi, "isr": self.isr, "sigma_z_mm": self.sigma_z_mm,
            "extra": list(self.extra),
            "gun": None if self.process is not Process.PARTICLE_GUN else {
                "pids": list(self.gun.pids), "e_min": self.gun.e_min, "e_max": self.gun.e_max,
                "abs_eta_min": self.gun.abs_eta_min, "abs_eta_max": self.gun.abs_eta_max,
                "particles_per_event": self.gun.particles_per_event,
            },
        }


def pythia_seed(seed: int) -> int:
    """Map any non-negative integer seed into Pythia's allowed range 1..900000000."""
    if seed < 0:
        raise L1MLError(f"seed {seed} is negative; use a seed >= 0")
    return seed % MAX_PYTHIA_SEED + 1


#: Where minimum-bias MPI initialisation tables are cached (see ``_mpi_init_file``).
DEFAULT_PYTHIA_CACHE = Path("~/.cache/l1ml/pythia")
_MPI_INIT_SEED = 1


def make_pythia(config: GeneratorConfig, seed: int, cache_dir: Path | None = None) -> pythia8mc.Pythia:
    """An initialised, quiet Pythia instance for ``config``.

    Minimum-bias initialisation spends ~5-10 s on multiparton-interaction tables; they are computed
    once per settings (with a fixed seed) into ``cache_dir`` and read back by every later instance.
    Every instance reads the same file, so results stay deterministic whether or not it existed.
    """
    lines = config.settings(seed)
    if config.process is Process.MINBIAS and config.mpi:
        init_file = _mpi_init_file(config, cache_dir)
        lines += ["MultipartonInteractions:reuseInit = 2", f"MultipartonInteractions:initFile = {init_file}"]
    return _init_pythia(lines, config)


def _init_pythia(lines: list[str], config: GeneratorConfig) -> pythia8mc.Pythia:
    """Create a Pythia instance from ``readString`` lines and initialise it."""
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in lines:
        if not pythia.readString(line):
            raise L1MLError(f"Pythia rejected the setting '{line}'; check the spelling in the generator extra settings")
    if not pythia.init():
        raise L1MLError(f"Pythia failed to initialise for process {config.process.value}; "
                        "check the extra settings and the pT-hat range")
    return pythia


def _mpi_init_file(config: GeneratorConfig, cache_dir: Path | None) -> Path:
    """Path of the cached MPI initialisation for ``config``, creating it on first use."""
    from importlib import metadata

    key = json.dumps({"config": config.to_dict(), "pythia8mc": metadata.version("pythia8mc")}, sort_keys=True)
    root = Path(cache_dir if cache_dir is not None else DEFAULT_PYTHIA_CACHE).expanduser()
    path = root / f"mpi-init-{hashlib.sha256(key.encode()).hexdigest()[:16]}.dat"
    if path.is_file():
        return path
    root.mkdir(parents=True, exist_ok=True)
    # Concurrent workers may race here; each writes identical bytes (fixed seed) and renames atomically.
    tmp = root / f".{path.name}.{os.getpid()}.tmp"
    lines = config.settings(_MPI_INIT_SEED) + ["MultipartonInteractions:reuseInit = 1",
                                              f"MultipartonInteractions:initFile = {tmp}"]
    try:
        _init_pythia(lines, config)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


class _ChargeTable:
    """Cached particle charges by PDG id (Pythia's batch output has no charge field)."""

    def __init__(self, pythia: pythia8mc.Pythia):
        self._data = pythia.particleData
        self._cache: dict[int, float] = {}

    def __call__(self, pids: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(pids, return_inverse=True)
        values = np.empty(len(unique), np.float32)
        for i, pid in enumerate(unique.tolist()):
            if pid not in self._cache:
                self._cache[pid] = float(self._data.charge(pid))
            values[i] = self._cache[pid]
        return values[inverse]


def _batch_to_arrays(batch: Any, charges: _ChargeTable, keep_neutrinos: bool) -> list[np.ndarray]:
    """Convert one awkward ``nextBatch`` result into per-event final-state particle arrays."""
    import awkward as ak

    prt = batch.prt
    final = prt.status > 0
    if not keep_neutrinos:
        apid = abs(prt.id)
        final = final & (apid != _NEUTRINOS[0]) & (apid != _NEUTRINOS[1]) & (apid != _NEUTRINOS[2])
    prt = prt[final]
    counts = ak.to_numpy(ak.num(prt))
    flat = ak.flatten(prt)
    out = np.zeros(int(counts.sum()), PARTICLE_DTYPE)
    for name, src in (("px", flat.p.px), ("py", flat.p.py), ("pz", flat.p.pz), ("e", flat.p.e)):
        out[name] = ak.to_numpy(src)
    out["pid"] = ak.to_numpy(flat.id)
    out["charge"] = charges(out["pid"])
    vertex = ak.fill_none(flat.vProd, {"px": 0.0, "py": 0.0, "pz": 0.0, "e": 0.0})
    for name, src in (("vx", vertex.px), ("vy", vertex.py), ("vz", vertex.pz)):
        out[name] = ak.to_numpy(src)
    return np.split(out, np.cumsum(counts)[:-1])


def _gun_event(pythia: pythia8mc.Pythia, gun: GunConfig, rng: np.random.Generator) -> None:
    """Fill Pythia's event record with gun particles so that ``next()`` decays and hadronises them."""
    event = pythia.event
    event.reset()
    data = pythia.particleData
    for _ in range(gun.particles_per_event):
        pid = int(rng.choice(gun.pids)) * int(rng.choice((-1, 1)))
        if data.chargeType(pid) == 0 and not data.hasAnti(abs(pid)):
            pid = abs(pid)
        mass = data.m0(pid)
        energy = rng.uniform(max(gun.e_min, mass * 1.0001), max(gun.e_max, mass * 1.0002))
        eta = rng.uniform(gun.abs_eta_min, gun.abs_eta_max) * rng.choice((-1.0, 1.0))
        phi = rng.uniform(-np.pi, np.pi)
        p = np.sqrt(energy**2 - mass**2)
        pt = p / np.cosh(eta)
        event.append(pid, 1, 0, 0, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), energy, mass)


def generate_events(config: GeneratorConfig, n_events: int, seed: int, batch_size: int = 50,
                    keep_neutrinos: bool = False) -> Iterator[np.ndarray]:
    """Yield ``n_events`` arrays of final-state particles (``PARTICLE_DTYPE``), deterministic by seed.

    Neutrinos are dropped unless ``keep_neutrinos``: no detector we model sees them.
    """
    pythia = make_pythia(config, seed)
    charges = _ChargeTable(pythia)
    if config.process is Process.PARTICLE_GUN:
        rng = np.random.default_rng(seed)
        for _ in range(n_events):
            _gun_event(pythia, config.gun, rng)
            if not pythia.next():
                raise L1MLError("Pythia failed to decay the gun particles; check GunConfig.pids")
            yield _event_to_array(pythia.event, charges, keep_neutrinos)
        return
    done = 0
    while done < n_events:
        size = min(batch_size, n_events - done)
        for particles in _batch_to_arrays(pythia.nextBatch(size), charges, keep_neutrinos):
            yield particles
            done += 1


def _event_to_array(event: Any, charges: _ChargeTable, keep_neutrinos: bool) -> np.ndarray:
    """Final-state particles of a Pythia ``Event`` object (the slow path, used by the particle gun)."""
    rows = [
        (p.px(), p.py(), p.pz(), p.e(), p.id(), p.charge(), p.xProd(), p.yProd(), p.zProd(), 0)
        for p in event
        if p.isFinal() and (keep_neutrinos or p.idAbs() not in _NEUTRINOS)
    ]
    return np.array(rows, dtype=PARTICLE_DTYPE)


class PileupGenerator:
    """Minimum-bias pileup: Poisson(mu) interactions per event, each at its own vertex along z.

    Initialising minimum-bias Pythia takes seconds, so create one per chunk of events and call
    :meth:`sample` once per event; the sequence is deterministic given the constructor seed.
    """

    def __init__(self, mu: float, seed: int, sigma_z_mm: float = DEFAULT_SIGMA_Z_MM, ecm_gev: float = 14000.0):
        if mu < 0:
            raise L1MLError(f"pileup mean {mu} is negative; use --pileup 0 for no pileup")
        self.mu = mu
        self._rng = np.random.default_rng([seed, 0x9E3779B9])
        self._config = GeneratorConfig(Process.MINBIAS, ecm_gev=ecm_gev, sigma_z_mm=sigma_z_mm)
        self._seed = seed
        self._events: Iterator[np.ndarray] | None = None

    def sample(self) -> np.ndarray:
        """Pileup particles for one bunch crossing; ``interaction`` numbers them from 1."""
        n = int(self._rng.poisson(self.mu)) if self.mu > 0 else 0
        if n == 0:
            return np.zeros(0, PARTICLE_DTYPE)
        if self._events is None:
            self._events = generate_events(self._config, 2**62, self._seed, batch_size=max(10, int(self.mu)))
        parts = []
        for k in range(n):
            particles = next(self._events)
            particles["interaction"] = k + 1
            parts.append(particles)
        return np.concatenate(parts)


def pileup_particles(mu: float, seed: int, sigma_z_mm: float = DEFAULT_SIGMA_Z_MM) -> np.ndarray:
    """Pileup particles for a single event from ``seed`` (convenient, but pays the Pythia init each call)."""
    return PileupGenerator(mu, seed, sigma_z_mm).sample()


def overlay(hard: np.ndarray, pileup: np.ndarray) -> np.ndarray:
    """Concatenate hard-scatter and pileup particles; the hard scatter keeps ``interaction == 0``."""
    return np.concatenate([hard, pileup]) if len(pileup) else hard


def kinematics(particles: np.ndarray) -> dict[str, np.ndarray]:
    """pT (GeV), pseudorapidity and azimuth of particles, safe for particles along the beam."""
    pt = np.hypot(particles["px"], particles["py"])
    p = np.sqrt(pt**2 + particles["pz"] ** 2)
    eta = np.arcsinh(np.divide(particles["pz"], pt, out=np.full_like(pt, 1e3) * np.sign(particles["pz"]),
                               where=pt > 0))
    phi = np.arctan2(particles["py"], particles["px"])
    return {"pt": pt, "eta": eta, "phi": phi, "p": p}
