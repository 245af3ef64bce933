"""The 16 jet-substructure features of the jet-tagging dataset, modelled on the hls4ml 16-feature set.

Grooming (modified mass-drop tagger = soft drop with beta = 0, z_cut = 0.1) and N-subjettiness come
from FastJet and its contrib packages through the ``fastjet`` Python package; the energy-correlation
functions are computed here in numpy from their definitions. Definitions and references are in
``docs/simulation.md``.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any

import numpy as np

FEATURE_NAMES: tuple[str, ...] = (
    "j_mass",           # ungroomed jet mass (GeV)
    "j_mass_mmdt",      # mMDT / soft-drop (beta=0, z_cut=0.1) groomed mass (GeV)
    "j_multiplicity",   # number of jet constituents
    "j_zlogz",          # sum_i z_i log z_i, z_i = pT_i / sum pT
    "j_tau21_b1",       # N-subjettiness ratio tau_2 / tau_1 (beta = 1)
    "j_tau32_b1",       # N-subjettiness ratio tau_3 / tau_2 (beta = 1)
    "j_c1_b0_mmdt",     # e_2^(0) of the groomed jet
    "j_c1_b1_mmdt",     # e_2^(1)
    "j_c1_b2_mmdt",     # e_2^(2)
    "j_c2_b1_mmdt",     # C_2^(1) = e_3 / e_2^2
    "j_c2_b2_mmdt",     # C_2^(2)
    "j_d2_b1_mmdt",     # D_2^(1) = e_3 / e_2^3
    "j_d2_b2_mmdt",     # D_2^(2)
    "j_m2_b1_mmdt",     # M_2^(1) = 1e_3 / 1e_2
    "j_n2_b1_mmdt",     # N_2^(1) = 2e_3 / (1e_2)^2
    "j_n2_b2_mmdt",     # N_2^(2)
)

JET_R = 0.8
SOFTDROP_ZCUT = 0.1
SOFTDROP_BETA = 0.0
#: C/A reclustering radius for grooming: large enough that a whole R = 0.8 jet ends as one jet.
_RECLUSTER_R = 2.0


def quiet_fastjet() -> None:
    """Print FastJet's banner once into /dev/null so it never lands in user output."""
    _silence_banner()


@lru_cache(maxsize=1)
def _silence_banner() -> None:
    import awkward as ak
    import fastjet

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        parts = ak.Array([[{"px": 1.0, "py": 0.0, "pz": 0.0, "E": 1.0}]])
        fastjet.ClusterSequence(parts, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R)).inclusive_jets()
        sys.stdout.flush()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def pt_y_phi(px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transverse momentum, rapidity and azimuth of four-vectors."""
    pt = np.hypot(px, py)
    y = 0.5 * np.log(np.maximum(e + pz, 1e-12) / np.maximum(e - pz, 1e-12))
    return pt, y, np.arctan2(py, px)


def pairwise_delta_r(y: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Matrix of rapidity-azimuth distances Delta R_ij."""
    dphi = np.abs(phi[:, None] - phi[None, :])
    dphi = np.where(dphi > np.pi, 2 * np.pi - dphi, dphi)
    return np.hypot(y[:, None] - y[None, :], dphi)


def energy_correlators(pt: np.ndarray, delta_r: np.ndarray) -> dict[str, float]:
    """Normalised (generalised) energy correlators of one jet for angular exponents 1 and 2.

    Keys are ``e2_b1``, ``e3_b1``, ``1e3_b1``, ``2e3_b1`` and the same with ``_b2``: ``e2`` (= 1e2) sums
    z_i z_j theta_ij^beta over pairs; over triples, ``e3`` (= 3e3) weights with all three angles,
    ``1e3`` with the smallest and ``2e3`` with the product of the two smallest (z_i = pT_i / sum pT,
    theta = rapidity-azimuth distance).
    """
    n = len(pt)
    z = pt / pt.sum()
    iu, ju = np.triu_indices(n, 1)
    zz = z[iu] * z[ju]
    pair = delta_r[iu, ju]
    out = {"e2_b1": float(zz @ pair), "e2_b2": float(zz @ pair**2)}
    if n < 3:
        return out | {f"{k}_b{b}": 0.0 for k in ("e3", "1e3", "2e3") for b in (1, 2)}
    i, j, k = _triples(n)
    a, b, c = delta_r[i, j], delta_r[i, k], delta_r[j, k]
    zzz = z[i] * z[j] * z[k]
    smallest = np.minimum(np.minimum(a, b), c)
    product = a * b * c
    largest = np.maximum(np.maximum(a, b), c)
    two_smallest = np.divide(product, largest, out=np.zeros_like(product), where=largest > 0)
    return out | {
        "e3_b1": float(zzz @ product), "e3_b2": float(zzz @ product**2),
        "1e3_b1": float(zzz @ smallest), "1e3_b2": float(zzz @ smallest**2),
        "2e3_b1": float(zzz @ two_smallest), "2e3_b2": float(zzz @ two_smallest**2),
    }


@lru_cache(maxsize=32)
def _triples(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays (i < j < k) of all distinct triples of ``n`` items, cached by size."""
    i, j = np.triu_indices(n, 1)
    counts = n - 1 - j
    starts = np.cumsum(counts) - counts
    total = int(counts.sum())
    k = np.repeat(j, counts) + 1 + (np.arange(total) - np.repeat(starts, counts))
    return np.repeat(i, counts), np.repeat(j, counts), k


def _ratio(num: float, den: float) -> float:
    """num / den, 0 when the denominator vanishes (one- or two-particle groomed jets)."""
    return num / den if den > 0 else 0.0


def groomed_features(px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray) -> list[float]:
    """The 10 energy-correlation features (c1 b0..b2, c2, d2, m2, n2) of groomed constituents."""
    pt, y, phi = pt_y_phi(px, py, pz, e)
    dr = pairwise_delta_r(y, phi)
    ecf = energy_correlators(pt, dr)
    n = len(pt)
    z = pt / pt.sum()
    c1_b0 = float((z.sum() ** 2 - np.sum(z**2)) / 2) if n > 1 else 0.0
    e2_1, e2_2 = ecf["e2_b1"], ecf["e2_b2"]
    return [
        c1_b0, e2_1, e2_2,
        _ratio(ecf["e3_b1"], e2_1**2), _ratio(ecf["e3_b2"], e2_2**2),
        _ratio(ecf["e3_b1"], e2_1**3), _ratio(ecf["e3_b2"], e2_2**3),
        _ratio(ecf["1e3_b1"], e2_1),
        _ratio(ecf["2e3_b1"], e2_1**2), _ratio(ecf["2e3_b2"], e2_2**2),
    ]


def jet_features(constituents: Any) -> np.ndarray:
    """Features (n_jets, 16) float32 for an awkward array of jets, each a list of constituent 4-vectors.

    ``constituents`` has fields px, py, pz, E with one outer entry per jet.
    """
    import awkward as ak
    import fastjet

    quiet_fastjet()
    n_jets = len(constituents)
    out = np.zeros((n_jets, len(FEATURE_NAMES)), np.float32)
    if n_jets == 0:
        return out
    px, py, pz, e = (constituents[f] for f in ("px", "py", "pz", "E"))
    sum_px, sum_py, sum_pz, sum_e = (ak.to_numpy(ak.sum(v, axis=1)) for v in (px, py, pz, e))
    out[:, 0] = np.sqrt(np.maximum(sum_e**2 - sum_px**2 - sum_py**2 - sum_pz**2, 0.0))
    out[:, 2] = ak.to_numpy(ak.num(px))
    pt = np.hypot(px, py)
    z = pt / ak.sum(pt, axis=1)
    out[:, 3] = ak.to_numpy(ak.sum(z * np.log(z), axis=1))

    sequence = fastjet.ClusterSequence(constituents, fastjet.JetDefinition(fastjet.cambridge_algorithm,
                                                                             _RECLUSTER_R))
    taus = ak.to_numpy(sequence.njettiness(njets=[1, 2, 3], beta=1.0, R0=JET_R))
    taus = np.asarray(taus, dtype=np.float64).reshape(n_jets, 3)
    out[:, 4] = np.divide(taus[:, 1], taus[:, 0], out=np.zeros(n_jets), where=taus[:, 0] > 0)
    out[:, 5] = np.divide(taus[:, 2], taus[:, 1], out=np.zeros(n_jets), where=taus[:, 1] > 0)

    groomed = sequence.exclusive_jets_softdrop_grooming(njets=1, beta=SOFTDROP_BETA, symmetry_cut=SOFTDROP_ZCUT,
                                                        R0=JET_R)
    out[:, 1] = ak.to_numpy(groomed.msoftdrop)
    gc = groomed.constituents
    counts = ak.to_numpy(ak.num(gc.px))
    flat = {f: ak.to_numpy(ak.flatten(gc[f])) for f in ("px", "py", "pz", "E")}
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for jet in range(n_jets):
        s = slice(offsets[jet], offsets[jet + 1])
        if counts[jet] > 0:
            out[jet, 6:] = groomed_features(flat["px"][s], flat["py"][s], flat["pz"][s], flat["E"][s])
    return out
