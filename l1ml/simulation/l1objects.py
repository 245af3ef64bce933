"""Level-1 trigger objects per bunch crossing for the anomaly-detection trigger (docs/anomaly.md).

Every event is one bunch crossing: a hard process (a minimum-bias interaction for zero-bias crossings,
QCD, or a signal) plus Poisson(mu) minimum-bias pileup interactions. Pileup is drawn from a library of
Pythia8 minimum-bias events generated per chunk, each copy rotated by a random azimuth and mirrored in
z with probability 1/2, so that mu = 200 costs a few hundred Pythia events per chunk instead of 200 per
crossing. From the particles a parametrised Phase-2-like Level-1 reconstruction makes

* particle-flow candidates: prompt charged particles within the tracker (|eta| < 2.4, production
  vertex within 10 mm of the beam line) with pT > 2 GeV from the hard interaction only (ideal
  track-vertex association, PUPPI's first step), and everything else within |eta| < 3
  (calorimeter clusters, neutral and displaced, from every interaction) with pT > 2 GeV (a stand-in
  for PUPPI's neutral weights at mu = 200); pT smeared per type;
* jets: anti-kT R = 0.4 (fastjet) on the candidates, pT > 20 GeV, |eta| < 2.4, up to 10;
* e/gamma: candidate electrons and photons, pT > 10 GeV, |eta| < 2.5, relative isolation < 0.25 in
  Delta R < 0.3, up to 4;
* muons: any muon (hard or pileup), pT > 3 GeV, |eta| < 2.4, up to 4;
* the missing transverse momentum: minus the vector sum of the candidates' pT.

The 57 features per event are the CMS AXOL1TL / ADC2021 layout: MET (pT, eta = 0, phi), 4 e/gamma,
4 muons, 10 jets, each (pT, eta, phi), ordered by pT within each kind and zero-padded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from l1ml.errors import InputFileError, L1MLError
from l1ml.simulation.parallel import chunk_seed, map_chunks
from l1ml.simulation.pythia import PARTICLE_DTYPE, GeneratorConfig, Process, generate_events, kinematics


@dataclass(frozen=True)
class SampleSpec:
    """One generated sample: its Pythia process, pT-hat cut, and whether it is a signal."""

    name: str
    process: Process
    signal: bool
    pthat_min: float | None = None


#: The samples, in the order of the integer ``sample`` column. Backgrounds first.
SAMPLES: tuple[SampleSpec, ...] = (
    SampleSpec("zerobias", Process.MINBIAS, False),
    SampleSpec("qcd", Process.QCD_DIJET, False, pthat_min=30.0),
    SampleSpec("zprime_ttbar", Process.ZPRIME_TTBAR, True),
    SampleSpec("wprime_lnu", Process.WPRIME_LNU, True),
    SampleSpec("higgs_llp", Process.HIGGS_LLP, True),
)
SAMPLE_NAMES: tuple[str, ...] = tuple(s.name for s in SAMPLES)
SIGNAL_NAMES: tuple[str, ...] = tuple(s.name for s in SAMPLES if s.signal)
ZEROBIAS = SAMPLE_NAMES.index("zerobias")

N_EGAMMA, N_MUONS, N_JETS = 4, 4, 10
OBJECT_SLOTS: tuple[tuple[str, int], ...] = (("met", 1), ("eg", N_EGAMMA), ("mu", N_MUONS), ("jet", N_JETS))
FEATURE_NAMES: tuple[str, ...] = tuple(
    f"{kind}{'' if n == 1 else i}_{q}" for kind, n in OBJECT_SLOTS for i in range(n) for q in ("pt", "eta", "phi"))
N_FEATURES = len(FEATURE_NAMES)  # 57
SAMPLE_COLUMN = "sample"
DEFAULT_CACHE_DIR = Path("~/.cache/l1ml/l1objects")
#: Events per parallel chunk: fixed, so the output does not depend on the number of workers.
EVENTS_PER_CHUNK = 250
_EM_IDS = (11, 22)


@dataclass(frozen=True)
class L1Config:
    """Acceptance, thresholds and resolutions of the parametrised Level-1 reconstruction (docs/anomaly.md)."""

    pileup: float = 200.0
    pileup_library: int = 400  # minimum-bias events generated per chunk and reused with random rotations
    track_pt_min: float = 2.0
    track_abs_eta_max: float = 2.4
    track_max_rxy_mm: float = 10.0  # displaced charged particles leave no prompt L1 track
    calo_pt_min: float = 2.0  # calorimeter-only candidates: a stand-in for PUPPI neutral weights at mu = 200
    calo_abs_eta_max: float = 3.0
    jet_r: float = 0.4
    jet_pt_min: float = 20.0
    jet_abs_eta_max: float = 2.4
    egamma_pt_min: float = 10.0
    egamma_abs_eta_max: float = 2.5
    egamma_iso_dr: float = 0.3
    egamma_rel_iso_max: float = 0.25
    muon_pt_min: float = 3.0
    muon_abs_eta_max: float = 2.4
    # pT resolutions sigma/pT = sqrt((a / sqrt(pT))^2 + b^2 + (c pT)^2): (a, b, c) per candidate type
    track_resolution: tuple[float, float, float] = (0.0, 0.01, 1e-4)
    em_resolution: tuple[float, float, float] = (0.10, 0.01, 0.0)
    hadron_resolution: tuple[float, float, float] = (1.0, 0.05, 0.0)
    muon_resolution: tuple[float, float, float] = (0.0, 0.015, 2e-4)
    extra: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.pileup < 0:
            raise L1MLError(f"pileup {self.pileup} is negative; use --pileup 0 for no pileup")
        if self.pileup > 0 and self.pileup_library < 1:
            raise L1MLError(f"pileup library of {self.pileup_library} events: give at least 1")

    def generator(self, spec: SampleSpec) -> GeneratorConfig:
        """The Pythia configuration of a sample."""
        return GeneratorConfig(spec.process, pthat_min=spec.pthat_min, extra=self.extra)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings, including every sample's Pythia configuration."""
        d = asdict(self)
        d["extra"] = list(self.extra)
        d["samples"] = {s.name: {**self.generator(s).to_dict(), "signal": s.signal} for s in SAMPLES}
        d["events_per_chunk"] = EVENTS_PER_CHUNK
        return d


@dataclass(frozen=True)
class L1Dataset:
    """57 features per event and the integer sample of each event (index into ``SAMPLE_NAMES``)."""

    features: np.ndarray  # (N, 57) float32
    sample: np.ndarray  # (N,) int64

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or self.features.shape[1] != N_FEATURES:
            raise L1MLError(f"L1 object features have shape {self.features.shape}, expected (N, {N_FEATURES})")
        if self.sample.shape != (self.features.shape[0],):
            raise L1MLError(f"sample labels have shape {self.sample.shape}, expected ({self.features.shape[0]},)")

    def __len__(self) -> int:
        return len(self.sample)

    def counts(self) -> dict[str, int]:
        """Events per sample name."""
        c = np.bincount(self.sample, minlength=len(SAMPLES))
        return {name: int(n) for name, n in zip(SAMPLE_NAMES, c, strict=True)}


def _resolution(pt: np.ndarray, abc: tuple[float, float, float]) -> np.ndarray:
    a, b, c = abc
    return np.sqrt((a / np.sqrt(np.maximum(pt, 1e-3))) ** 2 + b**2 + (c * pt) ** 2)


def pf_candidates(particles: np.ndarray, cfg: L1Config, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Smeared particle-flow candidates of one crossing: pt, eta, phi, pid (see the module docstring)."""
    k = kinematics(particles)
    pt, eta, phi = k["pt"], k["eta"], k["phi"]
    rxy = np.hypot(particles["vx"], particles["vy"])
    trackable = (particles["charge"] != 0) & (np.abs(eta) < cfg.track_abs_eta_max) & (rxy < cfg.track_max_rxy_mm)
    keep = ((trackable & (particles["interaction"] == 0) & (pt > cfg.track_pt_min))
            | (~trackable & (np.abs(eta) < cfg.calo_abs_eta_max) & (pt > cfg.calo_pt_min)))
    pt, eta, phi, pid, trackable = pt[keep], eta[keep], phi[keep], np.abs(particles["pid"][keep]), trackable[keep]
    em = np.isin(pid, _EM_IDS) & ~trackable
    sigma = np.where(trackable, _resolution(pt, cfg.track_resolution),
                     np.where(em, _resolution(pt, cfg.em_resolution), _resolution(pt, cfg.hadron_resolution)))
    smeared = np.maximum(pt * (1.0 + sigma * rng.standard_normal(len(pt))), 0.0)
    return {"pt": smeared, "eta": eta, "phi": phi, "pid": pid}


def _leading(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, n: int) -> np.ndarray:
    """(n, 3) rows (pt, eta, phi) of the ``n`` highest-pT objects, zero-padded."""
    out = np.zeros((n, 3), np.float64)
    order = np.argsort(-pt, kind="stable")[:n]
    out[: len(order)] = np.stack([pt[order], eta[order], phi[order]], axis=1)
    return out


def _delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    dphi = (phi1[:, None] - phi2[None, :] + np.pi) % (2 * np.pi) - np.pi
    return np.hypot(eta1[:, None] - eta2[None, :], dphi)


def egamma_objects(cand: dict[str, np.ndarray], cfg: L1Config) -> np.ndarray:
    """Isolated e/gamma candidates as (4, 3) rows, leading first."""
    pt, eta, phi = cand["pt"], cand["eta"], cand["phi"]
    sel = np.flatnonzero(np.isin(cand["pid"], _EM_IDS) & (pt > cfg.egamma_pt_min)
                         & (np.abs(eta) < cfg.egamma_abs_eta_max))
    if len(sel):
        near = _delta_r(eta[sel], phi[sel], eta, phi) < cfg.egamma_iso_dr
        iso = (near * pt[None, :]).sum(axis=1) - pt[sel]
        sel = sel[iso < cfg.egamma_rel_iso_max * pt[sel]]
    return _leading(pt[sel], eta[sel], phi[sel], N_EGAMMA)


def muon_objects(particles: np.ndarray, cfg: L1Config, rng: np.random.Generator) -> np.ndarray:
    """Muons from any interaction as (4, 3) rows, leading first, pT smeared."""
    mu = particles[np.abs(particles["pid"]) == 13]
    k = kinematics(mu)
    pt = k["pt"] * (1.0 + _resolution(k["pt"], cfg.muon_resolution) * rng.standard_normal(len(mu)))
    sel = (pt > cfg.muon_pt_min) & (np.abs(k["eta"]) < cfg.muon_abs_eta_max)
    return _leading(pt[sel], k["eta"][sel], k["phi"][sel], N_MUONS)


def met_object(cand: dict[str, np.ndarray]) -> np.ndarray:
    """(1, 3): the missing transverse momentum of the candidates, eta = 0."""
    px, py = -(cand["pt"] * np.cos(cand["phi"])).sum(), -(cand["pt"] * np.sin(cand["phi"])).sum()
    return np.array([[np.hypot(px, py), 0.0, np.arctan2(py, px) if (px or py) else 0.0]])


def jet_objects(cands: list[dict[str, np.ndarray]], cfg: L1Config) -> np.ndarray:
    """(n_events, 10, 3) anti-kT jets of every crossing at once (one fastjet call for the batch)."""
    import awkward as ak
    import fastjet

    from l1ml.simulation.jet_features import quiet_fastjet

    quiet_fastjet()
    out = np.zeros((len(cands), N_JETS, 3))
    if not cands:
        return out
    counts = np.array([len(c["pt"]) for c in cands])
    pt = np.concatenate([c["pt"] for c in cands])
    eta = np.concatenate([c["eta"] for c in cands])
    phi = np.concatenate([c["phi"] for c in cands])
    comps = {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "E": pt * np.cosh(eta)}
    events = ak.zip({k: ak.unflatten(v, counts) for k, v in comps.items()})
    sequence = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.antikt_algorithm, cfg.jet_r))
    jets = sequence.inclusive_jets(min_pt=cfg.jet_pt_min)
    for i in range(len(cands)):
        j = jets[i]
        jx, jy, jz = (ak.to_numpy(j[c]).astype(np.float64) for c in ("px", "py", "pz"))
        jpt = np.hypot(jx, jy)
        jeta = np.arcsinh(np.divide(jz, jpt, out=np.zeros_like(jz), where=jpt > 0))
        sel = (jpt > cfg.jet_pt_min) & (np.abs(jeta) < cfg.jet_abs_eta_max)
        out[i] = _leading(jpt[sel], jeta[sel], np.arctan2(jy, jx)[sel], N_JETS)
    return out


def event_features(crossings: list[np.ndarray], cfg: L1Config, rng: np.random.Generator) -> np.ndarray:
    """(n, 57) float32 features of the given crossings (particles with ``PARTICLE_DTYPE``)."""
    cands = [pf_candidates(p, cfg, rng) for p in crossings]
    jets = jet_objects(cands, cfg)
    rows = [np.concatenate([met_object(c), egamma_objects(c, cfg), muon_objects(p, cfg, rng), jets[i]]).ravel()
            for i, (p, c) in enumerate(zip(crossings, cands, strict=True))]
    return np.asarray(rows, np.float32).reshape(len(crossings), N_FEATURES)


class PileupLibrary:
    """Minimum-bias interactions generated once and overlaid with random rotations (see module docstring).

    Only the particles that can reach an object are stored: pileup charged particles in the tracker
    are removed by vertex association, and every candidate needs pT above the calorimeter threshold.
    """

    def __init__(self, cfg: L1Config, seed: int):
        self.mu = cfg.pileup
        self._rng = np.random.default_rng([seed, 0x5055])
        keep_pt = min(cfg.calo_pt_min, cfg.muon_pt_min)
        parts: list[np.ndarray] = []
        if cfg.pileup > 0:
            mb = GeneratorConfig(Process.MINBIAS, extra=cfg.extra)
            for p in generate_events(mb, cfg.pileup_library, seed, batch_size=100):
                parts.append(p[kinematics(p)["pt"] > keep_pt])
        counts = np.array([len(p) for p in parts], np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(counts)])
        self._flat = np.concatenate(parts) if parts else np.zeros(0, PARTICLE_DTYPE)

    def sample(self) -> np.ndarray:
        """Pileup particles of one crossing, ``interaction`` numbered from 1."""
        n = int(self._rng.poisson(self.mu)) if self.mu > 0 else 0
        if n == 0:
            return np.zeros(0, PARTICLE_DTYPE)
        picks = self._rng.integers(0, len(self._offsets) - 1, n)
        lengths = self._offsets[picks + 1] - self._offsets[picks]
        index = np.concatenate([np.arange(self._offsets[i], self._offsets[i + 1]) for i in picks])
        out = self._flat[index].copy()
        angle = np.repeat(self._rng.uniform(-np.pi, np.pi, n), lengths)
        flip = np.repeat(self._rng.choice((-1.0, 1.0), n), lengths)
        c, s = np.cos(angle), np.sin(angle)
        out["px"], out["py"] = c * out["px"] - s * out["py"], s * out["px"] + c * out["py"]
        out["vx"], out["vy"] = c * out["vx"] - s * out["vy"], s * out["vx"] + c * out["vy"]
        out["pz"], out["vz"] = flip * out["pz"], flip * out["vz"]
        out["interaction"] = np.repeat(np.arange(1, n + 1), lengths)
        return out


@dataclass(frozen=True)
class _L1Chunk:
    index: int
    sample: int
    n_events: int
    seed: int
    cfg: L1Config


def _run_chunk(chunk: _L1Chunk) -> np.ndarray:
    """Features of one chunk of crossings of one sample."""
    cfg = chunk.cfg
    pileup = PileupLibrary(cfg, chunk_seed(chunk.seed, 1))
    hard = generate_events(cfg.generator(SAMPLES[chunk.sample]), chunk.n_events, chunk.seed, keep_neutrinos=False)
    crossings = []
    for particles in hard:
        pu = pileup.sample()
        crossings.append(np.concatenate([particles, pu]) if len(pu) else particles)
    return event_features(crossings, cfg, np.random.default_rng([chunk.seed, 0x4C31]))


def simulate_l1objects(sizes: dict[str, int], seed: int = 1, cfg: L1Config | None = None,
                       workers: int | None = None, scheduler: str | None = None,
                       progress: bool = True) -> L1Dataset:
    """Generate ``sizes[name]`` crossings per sample; deterministic by seed whatever the workers."""
    cfg = cfg or L1Config()
    unknown = sorted(set(sizes) - set(SAMPLE_NAMES))
    if unknown:
        raise L1MLError(f"unknown sample(s) {', '.join(unknown)}; choose from {', '.join(SAMPLE_NAMES)}")
    if any(n < 0 for n in sizes.values()) or not sum(sizes.values()):
        raise L1MLError(f"sample sizes {sizes}: give a non-negative number of events, and some events in total")
    chunks: list[_L1Chunk] = []
    for label, name in enumerate(SAMPLE_NAMES):
        for start in range(0, sizes.get(name, 0), EVENTS_PER_CHUNK):
            n = min(EVENTS_PER_CHUNK, sizes[name] - start)
            # seeds depend on (sample, position), not on the other samples' sizes
            chunks.append(_L1Chunk(len(chunks), label, n, chunk_seed(seed, label * 1_000_003 + start), cfg))
    results = map_chunks(_run_chunk, chunks, workers=workers, scheduler=scheduler, progress=progress,
                         description="generating L1 objects")
    features = np.concatenate(results).astype(np.float32) if results else np.zeros((0, N_FEATURES), np.float32)
    sample = np.concatenate([np.full(len(r), c.sample, np.int64) for r, c in zip(results, chunks, strict=True)])
    return L1Dataset(features, sample)


def l1objects_table(ds: L1Dataset) -> Any:
    """The dataset as a pandas DataFrame: 57 float32 feature columns + int64 ``sample``."""
    import pandas as pd

    df = pd.DataFrame({name: ds.features[:, i] for i, name in enumerate(FEATURE_NAMES)})
    df[SAMPLE_COLUMN] = ds.sample
    return df


def load_l1objects(path: Path) -> L1Dataset:
    """Read a dataset directory written by ``l1ml simulate l1-objects`` (or its ``objects.parquet``)."""
    from l1ml.simulation.dataset import read_table

    path = Path(path)
    if path.is_dir():
        path = path / "objects.parquet"
    df = read_table(path)
    missing = [c for c in (*FEATURE_NAMES, SAMPLE_COLUMN) if c not in df.columns]
    if missing:
        raise InputFileError(f"{path} lacks the column(s) {', '.join(missing[:4])}; "
                             "regenerate it with `l1ml simulate l1-objects`")
    sample = df[SAMPLE_COLUMN].to_numpy(np.int64)
    if len(sample) and (sample.min() < 0 or sample.max() >= len(SAMPLES)):
        raise InputFileError(f"{path}: column '{SAMPLE_COLUMN}' has values outside 0..{len(SAMPLES) - 1}")
    return L1Dataset(df[list(FEATURE_NAMES)].to_numpy(np.float32), sample)


def l1objects_manifest(ds: L1Dataset, seed: int, cfg: L1Config) -> dict[str, Any]:
    """Manifest entries describing an L1-objects dataset."""
    return {"kind": "l1objects", "n_events": len(ds), "seed": seed, "generator": cfg.to_dict(),
            "samples": list(SAMPLE_NAMES), "signals": list(SIGNAL_NAMES), "sample_counts": ds.counts(),
            "features": list(FEATURE_NAMES)}


def write_l1objects_dataset(ds: L1Dataset, dest: Path, seed: int, cfg: L1Config, force: bool = False,
                            plots: bool = True) -> Path:
    """Write ``objects.parquet`` + manifest (+ validation plots) atomically to ``dest``."""
    from l1ml.simulation.dataset import write_dataset

    plot_fn = None
    if plots:
        from l1ml.simulation.plots import l1objects_plots

        plot_fn = l1objects_plots
    return write_dataset(dest, {"objects": l1objects_table(ds)}, l1objects_manifest(ds, seed, cfg),
                         plots=plot_fn, force=force)


def cache_key(sizes: dict[str, int], seed: int, cfg: L1Config) -> str:
    """Short hash of everything that determines the dataset's content."""
    from l1ml.simulation.dataset import package_versions

    payload = {"sizes": dict(sorted(sizes.items())), "seed": seed, "cfg": cfg.to_dict(), "features": FEATURE_NAMES,
               "versions": {k: v for k, v in package_versions().items() if k in ("pythia8mc", "fastjet")}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def l1objects_dataset(sizes: dict[str, int], seed: int = 1, cfg: L1Config | None = None,
                      cache_dir: Path | None = None, **kw: Any) -> L1Dataset:
    """``simulate_l1objects`` with an on-disk cache (default ``~/.cache/l1ml/l1objects``)."""
    cfg = cfg or L1Config()
    root = Path(cache_dir if cache_dir is not None else DEFAULT_CACHE_DIR).expanduser()
    entry = root / f"l1objects-s{seed}-{cache_key(sizes, seed, cfg)}"
    if (entry / "objects.parquet").is_file():
        return load_l1objects(entry)
    ds = simulate_l1objects(sizes, seed, cfg, **kw)
    write_l1objects_dataset(ds, entry, seed, cfg, force=True, plots=False)
    return ds
