"""Validation plots (PNG, Agg backend) for the jet and tracker datasets."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

_FEATURE_UNITS = {"j_mass": "GeV", "j_mass_mmdt": "GeV"}


def _pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    """Save a figure deterministically (no software/date metadata) and close it."""
    fig.savefig(path, dpi=90, metadata={"Software": None})
    _pyplot().close(fig)
    return path


def jet_plots(tables: Mapping[str, pd.DataFrame], outdir: Path) -> list[Path]:
    """Per-class distributions of the 16 jet features and the class balance."""
    from l1ml.simulation.jet_features import FEATURE_NAMES
    from l1ml.simulation.jets import CLASS_NAMES, LABEL_COLUMN

    plt = _pyplot()
    df = tables["jets"]
    labels = df[LABEL_COLUMN].to_numpy()
    fig, axes = plt.subplots(4, 4, figsize=(16, 13))
    for ax, name in zip(axes.flat, FEATURE_NAMES, strict=True):
        values = df[name].to_numpy()
        finite = values[np.isfinite(values)]
        lo, hi = (np.percentile(finite, [0.5, 99.5]) if len(finite) else (0.0, 1.0))
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 50)
        for c, cname in enumerate(CLASS_NAMES):
            ax.hist(values[labels == c], bins=bins, histtype="step", density=True, label=cname)
        unit = _FEATURE_UNITS.get(name)
        ax.set_xlabel(f"{name} [{unit}]" if unit else name)
        ax.set_ylabel("density")
    axes.flat[0].legend(title="class")
    fig.suptitle(f"Jet features by class ({len(df)} jets)")
    fig.tight_layout()
    paths = [_save(fig, outdir / "jet_features.png")]

    fig, ax = plt.subplots(figsize=(6, 4))
    counts = np.bincount(labels, minlength=len(CLASS_NAMES))
    ax.bar(CLASS_NAMES, counts)
    ax.set_xlabel("class")
    ax.set_ylabel("jets")
    ax.set_title("Class balance")
    fig.tight_layout()
    paths.append(_save(fig, outdir / "jet_classes.png"))
    return paths


def tracker_plots(tables: Mapping[str, pd.DataFrame], outdir: Path) -> list[Path]:
    """Hit multiplicities, hits per layer, particle pT/eta spectra and an r-z / x-y event display."""
    plt = _pyplot()
    hits, particles = tables["hits"], tables["particles"]
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))

    ax = axes[0, 0]
    per_event = hits.groupby("event_id").size()
    ax.hist(per_event.to_numpy(), bins=30)
    ax.set_xlabel("hits per event")
    ax.set_ylabel("events")
    ax.set_title(f"{len(hits)} hits in {particles['event_id'].nunique()} events")

    ax = axes[0, 1]
    layers = np.sort(hits["layer"].unique())
    noise = hits["particle_id"].to_numpy() < 0
    for mask, label in ((~noise, "particle hits"), (noise, "noise hits")):
        counts = np.bincount(hits["layer"].to_numpy()[mask], minlength=len(layers))
        ax.bar(np.arange(len(counts)) + (0.2 if label == "noise hits" else -0.2), counts, width=0.4, label=label)
    ax.set_xlabel("barrel layer")
    ax.set_ylabel("hits")
    ax.set_yscale("log")
    ax.legend()

    ax = axes[0, 2]
    charged = particles[particles["charge"] != 0]
    bins = np.logspace(np.log10(0.1), np.log10(max(charged["pt"].max() if len(charged) else 10.0, 10.0)), 40)
    for mask, label in ((charged["interaction"] == 0, "hard scatter"), (charged["interaction"] > 0, "pileup")):
        ax.hist(charged.loc[mask, "pt"], bins=bins, histtype="step", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("charged-particle $p_T$ [GeV]")
    ax.set_ylabel("particles")
    ax.legend()

    ax = axes[1, 0]
    with_hits = particles[particles["n_hits"] > 0]
    ax.hist(charged["eta"], bins=np.linspace(-4, 4, 41), histtype="step", label="charged particles")
    ax.hist(with_hits["eta"], bins=np.linspace(-4, 4, 41), histtype="step", label="with >= 1 hit")
    ax.set_xlabel(r"$\eta$")
    ax.set_ylabel("particles")
    ax.legend()

    first = hits[hits["event_id"] == hits["event_id"].min()] if len(hits) else hits
    ax = axes[1, 1]
    ax.scatter(first["z"], first["r"], s=1, c=np.where(first["particle_id"] < 0, "red", "black"))
    ax.set_xlabel("z [mm]")
    ax.set_ylabel("r [mm]")
    ax.set_title("one event, r-z view (red: noise)")

    ax = axes[1, 2]
    ax.scatter(first["r"] * np.cos(first["phi"]), first["r"] * np.sin(first["phi"]), s=1,
               c=np.where(first["particle_id"] < 0, "red", "black"))
    ax.set_xlabel("x [mm]")
    ax.set_ylabel("y [mm]")
    ax.set_aspect("equal")
    ax.set_title("one event, x-y view")
    fig.tight_layout()
    return [_save(fig, outdir / "tracker_validation.png")]


def l1objects_plots(tables: Mapping[str, pd.DataFrame], outdir: Path) -> list[Path]:
    """Per-sample multiplicities and leading-object pT of the L1-objects dataset (log y)."""
    from l1ml.simulation.l1objects import N_EGAMMA, N_JETS, N_MUONS, SAMPLE_COLUMN, SAMPLE_NAMES

    plt = _pyplot()
    df = tables["objects"]
    sample = df[SAMPLE_COLUMN].to_numpy()
    panels = [("met_pt", "MET [GeV]"), ("eg0_pt", "leading e/gamma pT [GeV]"), ("mu0_pt", "leading muon pT [GeV]"),
              ("jet0_pt", "leading jet pT [GeV]")]
    counts = [("eg", N_EGAMMA, "e/gamma"), ("mu", N_MUONS, "muons"), ("jet", N_JETS, "jets")]
    fig, axes = plt.subplots(2, 4, figsize=(18, 8))
    for ax, (col, label) in zip(axes[0], panels, strict=True):
        values = df[col].to_numpy()
        bins = np.linspace(0.0, max(float(np.percentile(values, 99.9)), 1.0), 50)
        for s, name in enumerate(SAMPLE_NAMES):
            if (sample == s).any():
                ax.hist(values[sample == s], bins=bins, histtype="step", density=True, label=name)
        ax.set_xlabel(label)
        ax.set_yscale("log")
    for ax, (kind, n, label) in zip(axes[1][:3], counts, strict=True):
        mult = sum((df[f"{kind}{i}_pt"].to_numpy() > 0).astype(int) for i in range(n))
        for s, name in enumerate(SAMPLE_NAMES):
            if (sample == s).any():
                ax.hist(mult[sample == s], bins=np.arange(n + 2) - 0.5, histtype="step", density=True, label=name)
        ax.set_xlabel(f"number of {label}")
    axes[1, 3].axis("off")
    axes[0, 0].legend(title="sample")
    fig.suptitle(f"L1 objects by sample ({len(df)} crossings)")
    fig.tight_layout()
    return [_save(fig, outdir / "l1objects.png")]
