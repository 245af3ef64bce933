"""Five-class boosted-jet dataset (q, g, W, Z, t) from Pythia8, modelled on the hls4ml jet-tagging data.

Each class comes from its own hard process at pT-hat ~ 1 TeV. Final-state particles are clustered
with anti-kT R = 0.8; each of the two leading jets is kept when it lies in the pT window and within
Delta R < 0.6 of a hard-process object of its class (the parton, the W/Z boson or the top quark).
The 16 substructure features are computed in :mod:`l1ml.simulation.jet_features`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from l1ml.errors import InputFileError, L1MLError
from l1ml.simulation.jet_features import FEATURE_NAMES, JET_R, jet_features, quiet_fastjet
from l1ml.simulation.parallel import chunk_seed, map_chunks
from l1ml.simulation.pythia import GeneratorConfig, Process

CLASS_NAMES: tuple[str, ...] = ("q", "g", "W", "Z", "t")
CLASS_PROCESSES: tuple[Process, ...] = (Process.JET_Q, Process.JET_G, Process.JET_W, Process.JET_Z,
                                        Process.JET_T)
#: PDG ids (absolute) of the hard-process object each class's jets are matched to.
_TRUTH_IDS: tuple[tuple[int, ...], ...] = ((1, 2, 3), (21,), (24,), (23,), (6,))
_NEUTRINOS = (12, 14, 16)
LABEL_COLUMN = "label"
DEFAULT_CACHE_DIR = Path("~/.cache/l1ml/jets")
#: Jets per parallel chunk: fixed, so the output does not depend on the number of workers.
JETS_PER_CHUNK = 1000


@dataclass(frozen=True)
class JetSettings:
    """Generator and selection settings of the jet dataset; part of the cache key and the manifest."""

    pthat_min: float = 900.0
    pthat_max: float = 1100.0
    jet_pt_min: float = 800.0
    jet_pt_max: float = 1200.0
    jet_abs_eta_max: float = 2.5
    constituent_pt_min: float = 1.0
    match_delta_r: float = 0.6
    mpi: bool = False  # multiparton interactions: 3x slower, shift jet masses by ~1-5 % only
    jets_per_event: int = 2
    batch_events: int = 100
    extra: tuple[str, ...] = field(default=())

    def generator(self, label: int) -> GeneratorConfig:
        """Pythia configuration of class ``label``; no vertex smearing (irrelevant for jet shapes)."""
        return GeneratorConfig(CLASS_PROCESSES[label], pthat_min=self.pthat_min, pthat_max=self.pthat_max,
                               mpi=self.mpi, sigma_z_mm=0.0, extra=self.extra)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings, including the per-class Pythia configurations."""
        d = asdict(self)
        d["extra"] = list(self.extra)
        d["jet_r"] = JET_R
        d["classes"] = {name: self.generator(i).to_dict() for i, name in enumerate(CLASS_NAMES)}
        return d


@dataclass(frozen=True)
class JetDataset:
    """Jet features with integer class labels (indices into ``CLASS_NAMES``)."""

    features: np.ndarray  # (N, 16) float32
    labels: np.ndarray  # (N,) int64 in 0..4
    feature_names: tuple[str, ...] = FEATURE_NAMES

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or self.features.shape[1] != len(self.feature_names):
            raise L1MLError(f"jet features have shape {self.features.shape}, expected (N, {len(self.feature_names)})")
        if self.labels.shape != (self.features.shape[0],):
            raise L1MLError(f"jet labels have shape {self.labels.shape}, expected ({self.features.shape[0]},)")

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        """Number of jets per class name."""
        counts = np.bincount(self.labels, minlength=len(CLASS_NAMES))
        return {name: int(c) for name, c in zip(CLASS_NAMES, counts, strict=True)}


@dataclass(frozen=True)
class _JetChunk:
    """Generate ``n_jets`` jets of class ``label`` from ``seed``."""

    index: int
    label: int
    n_jets: int
    seed: int
    settings: JetSettings


def _class_sizes(n_jets: int) -> list[int]:
    """Balanced class sizes summing to ``n_jets`` (the first classes get the remainder)."""
    base, rest = divmod(n_jets, len(CLASS_NAMES))
    return [base + (1 if i < rest else 0) for i in range(len(CLASS_NAMES))]


def _chunks(n_jets: int, seed: int, settings: JetSettings) -> list[_JetChunk]:
    """Chunks of at most ``JETS_PER_CHUNK`` jets per class, seeded from (seed, chunk index)."""
    chunks = []
    for label, size in enumerate(_class_sizes(n_jets)):
        for start in range(0, size, JETS_PER_CHUNK):
            index = len(chunks)
            chunks.append(_JetChunk(index, label, min(JETS_PER_CHUNK, size - start), chunk_seed(seed, index),
                                    settings))
    return chunks


def _select_jets(batch: Any, label: int, settings: JetSettings) -> Any:
    """Constituents (awkward, one entry per jet) of the truth-matched leading jets in one Pythia batch."""
    import awkward as ak
    import fastjet

    prt = batch.prt
    apid = abs(prt.id)
    visible = ((prt.status > 0) & (apid != _NEUTRINOS[0]) & (apid != _NEUTRINOS[1]) & (apid != _NEUTRINOS[2])
               & (np.hypot(prt.p.px, prt.p.py) > settings.constituent_pt_min))
    fs = prt[visible]
    particles = ak.zip({"px": fs.p.px, "py": fs.p.py, "pz": fs.p.pz, "E": fs.p.e})
    sequence = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R))
    pt_floor = 0.5 * settings.jet_pt_min
    jets = sequence.inclusive_jets(min_pt=pt_floor)
    constituents = sequence.constituents(min_pt=pt_floor)
    jet_pt = np.hypot(jets.px, jets.py)
    order = ak.argsort(jet_pt, axis=1, ascending=False)
    jets = jets[order][:, : settings.jets_per_event]
    constituents = constituents[order][:, : settings.jets_per_event]

    astatus = abs(prt.status)
    is_truth = ((astatus == 22) | (astatus == 23)) & _isin(apid, _TRUTH_IDS[label])
    truth = prt[is_truth]
    t_eta, t_phi = _eta_phi(truth.p.px, truth.p.py, truth.p.pz)
    j_eta, j_phi = _eta_phi(jets.px, jets.py, jets.pz)
    # Delta R of every jet to every truth object of the same event, via an event-wise cartesian product.
    pairs = ak.cartesian({"j": ak.zip({"eta": j_eta, "phi": j_phi}), "t": ak.zip({"eta": t_eta, "phi": t_phi})},
                         axis=1, nested=True)
    deta = pairs.j.eta - pairs.t.eta
    dphi = (pairs.j.phi - pairs.t.phi + np.pi) % (2 * np.pi) - np.pi
    min_dr = ak.fill_none(ak.min(np.sqrt(deta**2 + dphi**2), axis=2), np.inf)
    pt = np.hypot(jets.px, jets.py)
    keep = ((min_dr < settings.match_delta_r) & (pt > settings.jet_pt_min) & (pt < settings.jet_pt_max)
            & (abs(j_eta) < settings.jet_abs_eta_max))
    return ak.flatten(constituents[keep], axis=1)


def _isin(values: Any, ids: tuple[int, ...]) -> Any:
    """Element-wise membership test for awkward integer arrays."""
    mask = values == ids[0]
    for i in ids[1:]:
        mask = mask | (values == i)
    return mask


def _eta_phi(px: Any, py: Any, pz: Any) -> tuple[Any, Any]:
    """Pseudorapidity and azimuth of (awkward or numpy) momenta."""
    pt = np.hypot(px, py)
    return np.arcsinh(pz / np.maximum(pt, 1e-9)), np.arctan2(py, px)


def _run_chunk(chunk: _JetChunk) -> np.ndarray:
    """Features of ``chunk.n_jets`` jets of one class (float32, shape (n, 16))."""
    import awkward as ak

    from l1ml.simulation.pythia import make_pythia

    quiet_fastjet()
    settings = chunk.settings
    pythia = make_pythia(settings.generator(chunk.label), chunk.seed)
    parts: list[np.ndarray] = []
    have = batches = 0
    while have < chunk.n_jets:
        batch = pythia.nextBatch(settings.batch_events)
        batches += 1
        if len(batch) == 0 or (batches >= 20 and have == 0):
            raise L1MLError(f"no {CLASS_NAMES[chunk.label]} jets pass the selection after {batches} batches; "
                            "check that the jet pT window overlaps the pT-hat range in JetSettings")
        selected = _select_jets(batch, chunk.label, settings)
        need = chunk.n_jets - have
        if len(selected) > need:
            selected = selected[:need]
        features = jet_features(ak.Array(selected))
        parts.append(features)
        have += len(features)
    return np.concatenate(parts)


def simulate_jets(n_jets: int, seed: int = 1, workers: int | None = None, scheduler: str | None = None,
                  progress: bool = True, settings: JetSettings | None = None) -> JetDataset:
    """Generate ``n_jets`` balanced q/g/W/Z/t jets with the 16 features, shuffled, deterministic by seed."""
    if n_jets < len(CLASS_NAMES):
        raise L1MLError(f"--events {n_jets} is too small for {len(CLASS_NAMES)} balanced classes; ask for at least 5")
    settings = settings or JetSettings()
    chunks = _chunks(n_jets, seed, settings)
    results = map_chunks(_run_chunk, chunks, workers=workers, scheduler=scheduler, progress=progress,
                         description="generating jets")
    features = np.concatenate(results).astype(np.float32)
    labels = np.concatenate([np.full(len(r), c.label, np.int64) for r, c in zip(results, chunks, strict=True)])
    order = np.random.default_rng([seed, 0x6A657473]).permutation(len(labels))
    return JetDataset(features[order], labels[order])


def jets_table(ds: JetDataset) -> Any:
    """The dataset as a pandas DataFrame: 16 feature columns + ``label``."""
    import pandas as pd

    df = pd.DataFrame({name: ds.features[:, i] for i, name in enumerate(ds.feature_names)})
    df[LABEL_COLUMN] = ds.labels
    return df


def save_jets(ds: JetDataset, path: Path) -> Path:
    """Write the dataset as one Parquet file (16 float32 feature columns + int64 ``label``)."""
    from l1ml.simulation.dataset import write_table

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write_table(jets_table(ds), tmp)
    tmp.replace(path)
    return path


def load_jets(path: Path) -> JetDataset:
    """Read a jet dataset from a Parquet file or from a dataset directory holding ``jets.parquet``."""
    from l1ml.simulation.dataset import read_table

    path = Path(path)
    if path.is_dir():
        path = path / "jets.parquet"
    df = read_table(path)
    missing = [c for c in (*FEATURE_NAMES, LABEL_COLUMN) if c not in df.columns]
    if missing:
        raise InputFileError(f"{path} lacks the jet column(s) {', '.join(missing)}; "
                             "regenerate it with `l1ml simulate jets`")
    labels = df[LABEL_COLUMN].to_numpy(np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise InputFileError(f"{path}: column '{LABEL_COLUMN}' has values outside 0..{len(CLASS_NAMES) - 1}")
    features = df[list(FEATURE_NAMES)].to_numpy(np.float32)
    return JetDataset(features, labels)


def cache_key(n_jets: int, seed: int, settings: JetSettings) -> str:
    """Short hash of everything that determines the dataset's content."""
    from l1ml.simulation.dataset import package_versions

    payload = {"n_jets": n_jets, "seed": seed, "settings": settings.to_dict(), "features": FEATURE_NAMES,
               "versions": {k: v for k, v in package_versions().items() if k in ("pythia8mc", "fastjet")}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def jets_dataset(n_jets: int, seed: int = 1, cache_dir: Path | None = None, **kw: Any) -> JetDataset:
    """``simulate_jets`` with an on-disk cache (default ``~/.cache/l1ml/jets``); reruns load from it."""
    settings = kw.pop("settings", None) or JetSettings()
    root = Path(cache_dir if cache_dir is not None else DEFAULT_CACHE_DIR).expanduser()
    entry = root / f"jets-n{n_jets}-s{seed}-{cache_key(n_jets, seed, settings)}"
    if (entry / "jets.parquet").is_file():
        return load_jets(entry)
    ds = simulate_jets(n_jets, seed, settings=settings, **kw)
    write_jets_dataset(ds, entry, seed, settings, force=True, plots=False)
    return ds


def jets_manifest(ds: JetDataset, seed: int, settings: JetSettings) -> dict[str, Any]:
    """Manifest entries describing a jet dataset."""
    return {"kind": "jets", "n_jets": len(ds), "seed": seed, "generator": settings.to_dict(),
            "classes": list(CLASS_NAMES), "class_counts": ds.class_counts(), "features": list(FEATURE_NAMES)}


def write_jets_dataset(ds: JetDataset, dest: Path, seed: int, settings: JetSettings, force: bool = False,
                       plots: bool = True) -> Path:
    """Write a jet dataset directory (``jets.parquet`` + manifest + validation plots) atomically."""
    from l1ml.simulation.dataset import write_dataset

    plot_fn = None
    if plots:
        from l1ml.simulation.plots import jet_plots

        plot_fn = jet_plots
    return write_dataset(dest, {"jets": jets_table(ds)}, jets_manifest(ds, seed, settings), plots=plot_fn,
                         force=force)
