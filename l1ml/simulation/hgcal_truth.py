"""Labels and generator-level truth of HGCal clusters: ``ClusterLabel``, ``ParticleType`` and ``Truth``.

Shared by the event generation (:mod:`hgcal`) and the pileup library (:mod:`hgcal_pileup`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


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
