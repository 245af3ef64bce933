"""Parametrised HGCal-like endcap: layer geometry, particle impact points, and shower energy spots.

Electromagnetic showers follow the Grindhammer-Peters parametrisation (Gamma-distribution longitudinal
profile with correlated fluctuations of its shape, two-component radial profile in Moliere radii);
hadronic showers start at an exponentially distributed interaction depth, split into an EM part and a
non-EM part with a Gamma profile in interaction lengths. Energy is deposited as discrete "spots" whose
Poisson count reproduces the sampling resolution. Sources and the numbers chosen are in docs/hgcal.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
from scipy.special import gammainc

#: Speed of light factor: radius of curvature R[m] = pT[GeV] / (0.3 B[T] |q|).
_CURVATURE = 0.299792458


class Section(IntEnum):
    """Calorimeter section of a trigger layer."""

    CE_E = 0
    CE_H = 1


class ShowerKind(IntEnum):
    """How a particle deposits energy."""

    EM = 0
    HADRONIC = 1
    MIP = 2
    NONE = 3


def shower_kind(pid: np.ndarray) -> np.ndarray:
    """Shower kind per PDG id: photons/electrons EM, muons MIP, neutrinos none, everything else hadronic."""
    apid = np.abs(pid)
    kind = np.full(apid.shape, ShowerKind.HADRONIC, np.int8)
    kind[(apid == 22) | (apid == 11)] = ShowerKind.EM
    kind[apid == 13] = ShowerKind.MIP
    kind[(apid == 12) | (apid == 14) | (apid == 16)] = ShowerKind.NONE
    return kind


def _layers() -> dict[str, np.ndarray]:
    """Per trigger layer: sensor z (cm), absorber X0 and lambda in front of it, MIP energy (GeV).

    CE-E: 28 layers, 26 X0 and 1.7 lambda in total (HGCAL TDR); the trigger reads every other layer, so
    one CE-E trigger layer here stands for a pair of physical layers (1.86 X0, 2.4 cm in z).
    CE-H: 24 layers, 12 thin (35 mm steel) then 12 thick (68 mm steel), 9 lambda in total.
    """
    n_e, n_thin, n_thick = 14, 12, 12
    x0 = np.concatenate([np.full(n_e, 26.0 / n_e), np.full(n_thin, 2.4), np.full(n_thick, 4.3)])
    lam = np.concatenate([np.full(n_e, 1.7 / n_e), np.full(n_thin, 0.25), np.full(n_thick, 0.50)])
    pitch = np.concatenate([np.full(n_e, 2.43), np.full(n_thin, 6.1), np.full(n_thick, 9.4)])
    z = 320.0 + np.cumsum(pitch)
    # A minimum-ionising particle loses ~ E_c per X0 (E_c: critical energy; ~9.5 MeV in the W/Pb/Cu mix,
    # ~20 MeV in steel); we calibrate at the EM scale with e/mip = 1.
    e_mip = x0 * np.concatenate([np.full(n_e, 0.0095), np.full(n_thin + n_thick, 0.020)])
    section = np.concatenate([np.full(n_e, Section.CE_E), np.full(n_thin + n_thick, Section.CE_H)])
    return {"z": z, "x0": x0, "lam": lam, "e_mip": e_mip, "section": section.astype(np.int8)}


@dataclass(frozen=True, eq=False)
class Geometry:
    """The endcap model: trigger layers, trigger-cell grid, acceptance, field and electronics."""

    z: np.ndarray = field(default_factory=lambda: _layers()["z"])
    x0: np.ndarray = field(default_factory=lambda: _layers()["x0"])
    lam: np.ndarray = field(default_factory=lambda: _layers()["lam"])
    e_mip: np.ndarray = field(default_factory=lambda: _layers()["e_mip"])
    section: np.ndarray = field(default_factory=lambda: _layers()["section"])
    z_front: float = 320.0  # cm, front face of CE-E
    tc_pitch: float = 2.1  # cm at z_front: a square of the ~4.5 cm^2 of four 1.1 cm^2 sensor cells
    eta_min: float = 1.5
    eta_max: float = 3.0
    b_field: float = 3.8  # T, taken uniform up to z_front
    moliere_cm: tuple[float, float] = (2.3, 3.0)  # effective Moliere radius in CE-E, CE-H
    noise_mip: float = 0.3  # electronics noise per trigger cell, in MIPs of its layer
    threshold_mipt: float = 1.35  # trigger-cell threshold in transverse MIPs

    @property
    def n_layers(self) -> int:
        """Number of trigger layers."""
        return len(self.z)

    @property
    def x0_edges(self) -> np.ndarray:
        """Cumulative X0 at the back of each layer's absorber, with a leading 0 (normal incidence)."""
        return np.concatenate([[0.0], np.cumsum(self.x0)])

    @property
    def lam_edges(self) -> np.ndarray:
        """Cumulative interaction lengths, with a leading 0 (normal incidence)."""
        return np.concatenate([[0.0], np.cumsum(self.lam)])

    @property
    def pitch_uv(self) -> float:
        """Trigger-cell pitch in projective coordinates (x/z, y/z)."""
        return self.tc_pitch / self.z_front


GEOMETRY = Geometry()


@dataclass(frozen=True)
class ShowerParams:
    """Shower-model constants (see docs/hgcal.md for where each comes from)."""

    z_eff: float = 70.0  # effective Z of the CE-E absorber mix, enters the Grindhammer-Peters formulas
    e_crit: float = 0.0095  # GeV, effective critical energy of the CE-E mix
    em_stochastic: float = 0.25  # sqrt(GeV): EM sampling term; one spot carries em_stochastic**2 GeV
    had_spot: float = 0.30  # GeV per spot of the non-EM hadronic part (exponentially distributed)
    femc_k: float = 0.82  # <f_em> = 1 - (E / 1 GeV)^(k - 1)  (Groom's power law)
    femc_concentration: float = 6.0  # Beta-distribution concentration of f_em fluctuations
    h_over_e: float = 0.65  # response to the non-EM part relative to EM
    had_shape_sigma: float = 0.2  # log-normal spread of the hadronic profile parameters
    had_radius_cm: tuple[float, float] = (2.5, 3.0)  # R = a + b * (depth after interaction in lambda)
    em_in_had_spread: float = 1.5  # radial widening of the EM part of a hadronic shower (pi0 spread)
    mip_landau_sigma: float = 0.25  # log-normal width standing in for Landau fluctuations of a MIP


PARAMS = ShowerParams()


@dataclass
class Impacts:
    """Particles at the calorimeter front face (one endcap folded onto +z)."""

    energy: np.ndarray  # GeV
    kind: np.ndarray  # ShowerKind
    charged: np.ndarray  # bool
    x: np.ndarray  # cm at z_front
    y: np.ndarray
    tx: np.ndarray  # direction slopes dx/dz, dy/dz after the field
    ty: np.ndarray
    side: np.ndarray  # +1 / -1: which endcap

    def __len__(self) -> int:
        return len(self.energy)

    def select(self, mask: np.ndarray) -> Impacts:
        """The subset of particles where ``mask`` is true (or at integer indices)."""
        return Impacts(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))

    @staticmethod
    def concat(parts: list[Impacts]) -> Impacts:
        """All particles of several ``Impacts``."""
        fields = Impacts.__dataclass_fields__
        return Impacts(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


def propagate(px: np.ndarray, py: np.ndarray, pz: np.ndarray, energy: np.ndarray, pid: np.ndarray,
              charge: np.ndarray, vz_cm: np.ndarray | None = None, geom: Geometry = GEOMETRY) -> Impacts:
    """Helix (charged) or straight line (neutral) from the beam line to the front face of either endcap.

    The solenoid field is taken uniform along z up to the front face and the shower axis straight after.
    Particles whose impact point lies outside the acceptance are dropped by the caller via
    :func:`in_acceptance`; particles going backwards or sideways get NaN coordinates.
    """
    side = np.where(pz >= 0, 1, -1).astype(np.int8)
    apz = np.abs(pz)
    vz = np.zeros_like(pz) if vz_cm is None else vz_cm * side
    dz = (geom.z_front - vz) / 100.0  # m
    pt = np.hypot(px, py)
    phi0 = np.arctan2(py, px)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = dz * pt / apz  # transverse path length (m) up to the front face
        slope = pt / apz
    bends = (np.abs(charge) > 0) & (pt > 0)
    radius = pt[bends] / (_CURVATURE * geom.b_field * np.abs(charge[bends]))  # m
    # Positive charges turn clockwise in a field along +z; the same holds in the folded -z endcap.
    turn = np.zeros_like(s)
    turn[bends] = np.sign(charge[bends]) * s[bends] / radius
    chord = s.copy()
    chord[bends] = 2 * radius * np.abs(np.sin(turn[bends] / 2))
    x = 100 * chord * np.cos(phi0 - turn / 2)
    y = 100 * chord * np.sin(phi0 - turn / 2)
    phi_dir = phi0 - turn
    return Impacts(energy=energy.astype(np.float64), kind=shower_kind(pid), charged=np.abs(charge) > 0,
                   x=x, y=y, tx=slope * np.cos(phi_dir), ty=slope * np.sin(phi_dir), side=side)


def impact_eta(x: np.ndarray, y: np.ndarray, z: float | np.ndarray) -> np.ndarray:
    """Pseudorapidity of the point (x, y, z) seen from the origin, for z > 0."""
    r = np.hypot(x, y)
    return np.arcsinh(np.divide(z, r, out=np.full(np.shape(r), 1e3), where=r > 0))


def in_acceptance(imp: Impacts, geom: Geometry = GEOMETRY) -> np.ndarray:
    """Particles hitting the front face inside eta_min < |eta| < eta_max and depositing something."""
    eta = impact_eta(imp.x, imp.y, geom.z_front)
    ok = np.isfinite(imp.x) & (eta > geom.eta_min) & (eta < geom.eta_max)
    return ok & (imp.kind != ShowerKind.NONE)


@dataclass
class Spots:
    """Energy spots: which particle made them, in which trigger layer, where (cm) and how much (GeV)."""

    particle: np.ndarray
    layer: np.ndarray
    x: np.ndarray
    y: np.ndarray
    energy: np.ndarray

    @staticmethod
    def concat(parts: list[Spots]) -> Spots:
        """All spots of several ``Spots``."""
        return Spots(*(np.concatenate([getattr(p, f) for p in parts]) for f in Spots.__dataclass_fields__))


def _gamma_layer_fractions(alpha: np.ndarray, beta: np.ndarray, start: np.ndarray,
                           edges: np.ndarray) -> np.ndarray:
    """Fraction of a Gamma(alpha, beta) profile beginning at depth ``start`` inside each layer.

    ``edges`` (P, L + 1) are the layer boundaries along each particle's path, in the profile's units.
    """
    depth = np.clip(edges - start[:, None], 0.0, None)
    return np.diff(gammainc(alpha[:, None], beta[:, None] * depth), axis=1)


def _em_profile(rng: np.random.Generator, energy: np.ndarray, params: ShowerParams
                ) -> tuple[np.ndarray, np.ndarray]:
    """Sample Grindhammer-Peters (T, alpha) per shower with their correlated log-normal fluctuations."""
    # The fitted fluctuation widths diverge for y = E / E_c below ~10; showers under 0.5 GeV (soft
    # pileup photons, small EM parts of hadron showers) borrow the parameters of a 0.5 GeV shower.
    ln_y = np.log(np.maximum(energy, 0.5) / params.e_crit)
    # GFlash's log-means (Geant4 GVFlashHomoShowerTuning: ParAveT1, ParAveA1-3), not the average-profile set
    mean_ln_t = np.log(ln_y - 0.812)
    mean_ln_a = np.log(0.81 + (0.458 + 2.26 / params.z_eff) * ln_y)
    sig_ln_t = 1.0 / (-1.4 + 1.26 * ln_y)
    sig_ln_a = 1.0 / (-0.58 + 0.86 * ln_y)
    rho = 0.705 - 0.023 * ln_y
    g1, g2 = rng.standard_normal((2, len(energy)))
    c1, c2 = np.sqrt((1 + rho) / 2), np.sqrt((1 - rho) / 2)
    t_max = np.clip(np.exp(mean_ln_t + sig_ln_t * (c1 * g1 + c2 * g2)), 0.3, 40.0)
    alpha = np.clip(np.exp(mean_ln_a + sig_ln_a * (c1 * g1 - c2 * g2)), 1.05, 40.0)
    return t_max, alpha


def _em_radius(rng: np.random.Generator, energy: np.ndarray, tau: np.ndarray, params: ShowerParams
               ) -> np.ndarray:
    """Radial distance (Moliere radii) of EM spots at relative depth tau = t / T (Grindhammer-Peters)."""
    ln_e = np.log(np.maximum(energy, 1e-3))
    z = params.z_eff
    r_core = 0.0251 + 0.00319 * ln_e + (0.1162 - 0.000381 * z) * tau
    k2, k3, k4 = 0.645, -2.59, 0.3585 + 0.0412 * ln_e
    r_tail = (0.659 - 0.00309 * z) * (np.exp(k3 * (tau - k2)) + np.exp(k4 * (tau - k2)))
    p1, p2, p3 = 2.632 - 0.00094 * z, 0.401 + 0.00187 * z, 1.313 - 0.0686 * ln_e
    arg = (p2 - tau) / p3
    p_core = np.clip(p1 * np.exp(arg - np.exp(arg)), 0.0, 1.0)
    scale = np.where(rng.random(len(tau)) < p_core, r_core, r_tail)
    u = rng.uniform(0.0, 0.995, len(tau))  # cut the 1/r^3 tail at ~14 R
    return scale * np.sqrt(u / (1 - u))


def _place(rng: np.random.Generator, imp: Impacts, particle: np.ndarray, layer: np.ndarray,
           radius_cm: np.ndarray, energy: np.ndarray, geom: Geometry) -> Spots:
    """Spots at ``radius_cm`` from each particle's shower axis, at a random azimuth."""
    dz = geom.z[layer] - geom.z_front
    angle = rng.uniform(0.0, 2 * np.pi, len(layer))
    x = imp.x[particle] + imp.tx[particle] * dz + radius_cm * np.cos(angle)
    y = imp.y[particle] + imp.ty[particle] * dz + radius_cm * np.sin(angle)
    return Spots(particle, layer, x, y, energy)


def _spot_counts(rng: np.random.Generator, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson spot counts per (particle, layer) expanded to per-spot particle and layer indices."""
    counts = rng.poisson(mean)
    particle, layer = np.nonzero(counts)
    n = counts[particle, layer]
    return np.repeat(particle, n), np.repeat(layer, n)


def _em_spots(rng: np.random.Generator, imp: Impacts, which: np.ndarray, energy: np.ndarray,
              start_x0: np.ndarray, widen: float, geom: Geometry, params: ShowerParams) -> Spots:
    """Spots of EM showers of ``energy`` for particles ``which``, starting at depth ``start_x0``."""
    cos_t = 1.0 / np.sqrt(1 + imp.tx[which] ** 2 + imp.ty[which] ** 2)
    t_max, alpha = _em_profile(rng, energy, params)
    beta = (alpha - 1) / t_max
    edges = geom.x0_edges[None, :] / cos_t[:, None]
    frac = _gamma_layer_fractions(alpha, beta, start_x0, edges)
    depth = np.clip(edges - start_x0[:, None], 0.0, None)
    e_spot = params.em_stochastic**2
    idx, layer = _spot_counts(rng, frac * (energy / e_spot)[:, None])
    mid = 0.5 * (depth[idx, layer] + depth[idx, layer + 1])
    r_m = np.asarray(geom.moliere_cm)[geom.section[layer]]
    radius = _em_radius(rng, energy[idx], mid / t_max[idx], params) * r_m * widen
    return _place(rng, imp, which[idx], layer, radius, np.full(len(idx), e_spot), geom)


def _mip_spots(rng: np.random.Generator, imp: Impacts, which: np.ndarray, until_lam: np.ndarray,
               geom: Geometry, params: ShowerParams) -> Spots:
    """One ionisation deposit per layer crossed before depth ``until_lam`` (interaction lengths)."""
    cos_t = 1.0 / np.sqrt(1 + imp.tx[which] ** 2 + imp.ty[which] ** 2)
    back = geom.lam_edges[1:][None, :] / cos_t[:, None]
    idx, layer = np.nonzero(back <= until_lam[:, None])
    landau = np.exp(params.mip_landau_sigma * rng.standard_normal(len(idx)))
    energy = geom.e_mip[layer] / cos_t[idx] * landau
    return _place(rng, imp, which[idx], layer, np.zeros(len(idx)), energy, geom)


def _hadron_spots(rng: np.random.Generator, imp: Impacts, which: np.ndarray, geom: Geometry,
                  params: ShowerParams) -> Spots:
    """Hadronic showers: MIP track up to the first interaction, then EM and non-EM components."""
    n = len(which)
    energy = imp.energy[which]
    cos_t = 1.0 / np.sqrt(1 + imp.tx[which] ** 2 + imp.ty[which] ** 2)
    lam_total = geom.lam_edges[-1] / cos_t
    t_int = rng.exponential(1.0, n)  # along the path, in interaction lengths
    charged = imp.charged[which]
    parts = [_mip_spots(rng, imp, which[charged], np.minimum(t_int, lam_total)[charged], geom, params)]
    showering = t_int < lam_total
    which, energy, t_int, cos_t = which[showering], energy[showering], t_int[showering], cos_t[showering]
    # Fraction going into pi0/eta photons: Beta-distributed around Groom's power law.
    mean_fem = np.clip(1 - energy ** (params.femc_k - 1), 0.05, 0.95)
    kappa = params.femc_concentration
    f_em = rng.beta(mean_fem * kappa, (1 - mean_fem) * kappa)
    # The EM part starts where the hadron interacted: convert lambda depth to X0 depth layer by layer.
    start_x0 = np.interp(t_int * cos_t, geom.lam_edges, geom.x0_edges) / cos_t
    parts.append(_em_spots(rng, imp, which, energy * f_em, start_x0, params.em_in_had_spread, geom, params))
    # Non-EM part: Gamma profile in lambda (shape after Bock et al.), seen with response h/e.
    ln_e = np.log(energy)
    spread = np.exp(params.had_shape_sigma * rng.standard_normal((2, len(which))))
    alpha = np.maximum(0.6165 + 0.3183 * ln_e, 0.7) * spread[0]
    beta = np.maximum(0.9099 - 0.0237 * ln_e, 0.5) * spread[1]
    edges = geom.lam_edges[None, :] / cos_t[:, None]
    frac = _gamma_layer_fractions(alpha, beta, t_int, edges)
    visible = energy * (1 - f_em) * params.h_over_e
    idx, layer = _spot_counts(rng, frac * (visible / params.had_spot)[:, None])
    mid = 0.5 * (edges[idx, layer] + edges[idx, layer + 1]) - t_int[idx]
    a, b = params.had_radius_cm
    scale = a + b * np.maximum(mid, 0.0)
    u = rng.uniform(0.0, 0.99, len(idx))
    radius = scale * np.sqrt(u / (1 - u))
    e_spot = rng.exponential(params.had_spot, len(idx))
    parts.append(_place(rng, imp, which[idx], layer, radius, e_spot, geom))
    return Spots.concat(parts)


def deposit(rng: np.random.Generator, imp: Impacts, geom: Geometry = GEOMETRY,
            params: ShowerParams = PARAMS) -> Spots:
    """All energy spots of the particles in ``imp`` (cm in the plane of each trigger layer, GeV)."""
    parts = []
    em = np.flatnonzero(imp.kind == ShowerKind.EM)
    if len(em):
        start = np.zeros(len(em))
        photon = ~imp.charged[em]
        # Photons convert after an exponential depth of mean 9/7 X0; electrons shower at once.
        start[photon] = rng.exponential(9.0 / 7.0, int(photon.sum()))
        parts.append(_em_spots(rng, imp, em, imp.energy[em], start, 1.0, geom, params))
    had = np.flatnonzero(imp.kind == ShowerKind.HADRONIC)
    if len(had):
        parts.append(_hadron_spots(rng, imp, had, geom, params))
    mip = np.flatnonzero(imp.kind == ShowerKind.MIP)
    if len(mip):
        parts.append(_mip_spots(rng, imp, mip, np.full(len(mip), np.inf), geom, params))
    if not parts:
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
        return Spots(empty_i, empty_i, empty_f, empty_f, empty_f)
    return Spots.concat(parts)
