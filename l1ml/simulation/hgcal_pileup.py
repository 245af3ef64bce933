"""Minimum-bias pileup for HGCal clusters: ``PileupLibrary`` of Pythia8 events, ``pileup_library``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ml.simulation.hgcal_truth import Truth, particle_type
from l1ml.simulation.showers import GEOMETRY, Geometry, Impacts, in_acceptance, propagate


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
