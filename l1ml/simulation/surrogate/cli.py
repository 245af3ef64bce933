"""``l1ml surrogate``: train, sample and validate the generative HGCal fast-simulation surrogate."""

from __future__ import annotations

from pathlib import Path

import typer

from l1ml.atomic import ForceOrOverwrite
from l1ml.console import console as console_for

app = typer.Typer(
    help="Generative fast simulation of HGCal clusters: a conditional normalizing flow that maps a "
    "particle's (E, |eta|, phi, type) to its cluster energy in 8 longitudinal compartments, trained on "
    "the parametrised HGCal simulation, with a validation report (KS, Wasserstein, classifier AUC, "
    "ensemble systematic, speed-up). See docs/surrogate.md.",
    no_args_is_help=True,
)

_TYPES = {"photon": 0, "electron": 1, "pion": 2, "k0l": 3}


@app.command()
def report(
    out: Path = typer.Option(..., "-o", "--out", help="Directory for report.md, PNGs, metrics.json, models."),
    train: int = typer.Option(30000, help="Simulated particles to train on."),
    test: int = typer.Option(12000, help="Hold-out particles the metrics are computed on."),
    members: int = typer.Option(3, help="Independently trained surrogates (their spread = systematic)."),
    epochs: int = typer.Option(12, help="Training epochs per member."),
    seed: int = typer.Option(1, help="Master seed of simulation and training."),
    workers: int | None = typer.Option(None, help="Processes for the simulation (default: all cores)."),
    force: ForceOrOverwrite = False,
) -> None:
    """Simulate, train an ensemble, and write the validation report (about 2 minutes on 2 cores).

    Example: l1ml surrogate report -o /tmp/surrogate_report
    """
    from dataclasses import replace

    from l1ml.simulation.surrogate.report import MAX_AUC, MAX_KS, ReportSettings, run_report

    defaults = ReportSettings()
    settings = replace(defaults, n_train=train, n_test=test, members=members, seed=seed,
                       flow=replace(defaults.flow, epochs=epochs))
    result = run_report(out, settings, workers=workers, force=force)
    console = console_for()
    console.print(f"classifier AUC {result.mean_auc:.3f} (target <= {MAX_AUC}), worst KS "
                  f"{result.worst_ks:.3f} (target <= {MAX_KS}), speed-up {result.speedup:.0f}x: "
                  f"{'[green]PASS' if result.passed else '[red]FAIL'}")
    console.print(f"report: {out / 'report.md'}")


@app.command("train")
def train_cmd(
    out: Path = typer.Option(..., "-o", "--out", help="Model file to write (.pt)."),
    particles: int = typer.Option(30000, help="Simulated particles to train on."),
    epochs: int = typer.Option(12, help="Training epochs."),
    seed: int = typer.Option(1, help="Seed of simulation and training."),
    workers: int | None = typer.Option(None, help="Processes for the simulation (default: all cores)."),
) -> None:
    """Train one surrogate on freshly simulated particles and save it (about 1 minute).

    Example: l1ml surrogate train -o hgcal_flow.pt
    """
    import os
    import tempfile

    import torch

    from l1ml.simulation.surrogate.data import simulate_set
    from l1ml.simulation.surrogate.flow import FlowConfig, Surrogate

    torch.set_num_threads(1)
    data = simulate_set(particles + particles // 10, seed, workers=workers, progress=True)
    model = Surrogate.train(data.subset(slice(0, particles)), data.subset(slice(particles, None)),
                            FlowConfig(epochs=epochs, seed=seed), progress=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    model.save(Path(tmp))
    os.replace(tmp, out)
    typer.echo(f"wrote {out} (best validation NLL {min(model.history):.3f})")


@app.command()
def sample(
    model: Path = typer.Argument(..., help="A model written by `l1ml surrogate train` or `report`."),
    out: Path = typer.Option(..., "-o", "--out", help="Parquet file to write."),
    energy: float = typer.Option(50.0, help="Particle energy in GeV (trained range 10-200)."),
    eta: float = typer.Option(2.2, help="|eta| (trained range 1.6-2.9)."),
    kind: str = typer.Option("photon", "--type", help="photon, electron, pion or k0l."),
    n: int = typer.Option(1000, "-n", help="Number of clusters to generate."),
    seed: int = typer.Option(0, help="Sampling seed."),
) -> None:
    """Generate N cluster responses for one particle condition (phi uniform); writes e_comp_0..7 in GeV.

    Example: l1ml surrogate sample hgcal_flow.pt --energy 100 --type pion -n 5000 -o pions.parquet
    """
    import os

    import numpy as np
    import pandas as pd

    from l1ml.errors import L1MLError
    from l1ml.simulation.surrogate.data import COMPARTMENT_NAMES, RANGES
    from l1ml.simulation.surrogate.flow import Surrogate

    if kind.lower() not in _TYPES:
        raise L1MLError(f"unknown --type '{kind}'; use one of {', '.join(_TYPES)}")
    if not (RANGES.e_min <= energy <= RANGES.e_max and RANGES.abs_eta_min <= abs(eta) <= RANGES.abs_eta_max):
        raise L1MLError(f"--energy {energy:g} / --eta {eta:g} is outside the trained range "
                        f"({RANGES.e_min:g}-{RANGES.e_max:g} GeV, |eta| {RANGES.abs_eta_min}-{RANGES.abs_eta_max}); "
                        "the surrogate does not extrapolate - retrain it on a wider range")
    surrogate = Surrogate.load(model)
    phi = np.random.default_rng(seed).uniform(-np.pi, np.pi, n)
    response = surrogate.sample(np.full(n, energy), np.full(n, abs(eta)), phi, np.full(n, _TYPES[kind.lower()]),
                                seed=seed)
    table = pd.DataFrame({"energy": np.full(n, energy), "abs_eta": np.full(n, abs(eta)), "phi": phi,
                          "type": np.full(n, _TYPES[kind.lower()])})
    for k, name in enumerate(COMPARTMENT_NAMES):
        table[name] = response[:, k]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, out)
    typer.echo(f"wrote {n} clusters to {out}; mean total energy {response.sum(axis=1).mean():.2f} GeV")
