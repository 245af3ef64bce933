"""Validation plots of an HGCal clusters table (``validation_plots``), written with each dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1ml.simulation.hgcal_clusters import CHANNEL_NAMES, LAYER_GROUPS
from l1ml.simulation.hgcal_io import _images_of
from l1ml.simulation.hgcal_truth import ClusterLabel
from l1ml.simulation.showers import GEOMETRY

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


_LABEL_NAMES = {ClusterLabel.EM: "EM (γ, e)", ClusterLabel.HADRONIC: "hadronic (π±, K⁰L)",
                ClusterLabel.PILEUP: "pileup"}
_COLORS = {ClusterLabel.EM: "tab:blue", ClusterLabel.HADRONIC: "tab:red", ClusterLabel.PILEUP: "tab:gray"}


def validation_plots(tables: dict[str, pd.DataFrame], outdir: Path) -> list[Path]:
    """PNG pages of the clusters table: energies, shower profiles, mean images, generator spectra."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = tables["clusters"]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    labels = [lab for lab in ClusterLabel if (df["label"] == lab).any()]
    paths = []

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    bins = np.geomspace(0.5, max(2.0, float(df["cluster_energy"].max()) * 1.1), 60)
    for lab in labels:
        sel = df[df["label"] == lab]
        kw = {"histtype": "step", "color": _COLORS[lab], "label": _LABEL_NAMES[lab]}
        axes[0].hist(sel["cluster_energy"].clip(lower=0.5), bins=bins, **kw)
        axes[2].hist(sel["n_cells"], bins=40, **kw)
        if lab != ClusterLabel.PILEUP:
            shot = sel[sel["gen_e"] > 0]
            axes[1].hist(shot["cluster_energy"] / shot["gen_e"],
                         bins=np.linspace(0, 3, 61), **kw)
    axes[0].set(xscale="log", xlabel="cluster energy in the 8×8 window [GeV]", ylabel="clusters")
    axes[1].set(xlabel="cluster energy / generated energy", ylabel="clusters",
                title="response (pileup included when simulated)")
    axes[2].set(xlabel="trigger cells above threshold in the window", ylabel="clusters")
    for ax in axes:
        ax.legend(fontsize=8)
    paths.append(_save(fig, outdir / "cluster_energy.png"))

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    layer_cols = [c for c in df.columns if c.startswith("e_layer_")]
    depth_x0 = np.cumsum(GEOMETRY.x0) - GEOMETRY.x0 / 2
    depth_lam = np.cumsum(GEOMETRY.lam) - GEOMETRY.lam / 2
    for lab in labels:
        layer_e = df.loc[df["label"] == lab, layer_cols].to_numpy(np.float64)
        profile = layer_e.mean(axis=0) / max(layer_e.mean(axis=0).sum(), 1e-12)
        axes[0].plot(depth_x0, profile, "o-", ms=3, color=_COLORS[lab], label=_LABEL_NAMES[lab])
        axes[1].plot(depth_lam, profile, "o-", ms=3, color=_COLORS[lab], label=_LABEL_NAMES[lab])
    boundary = GEOMETRY.section.tolist().index(1)
    axes[0].axvline(GEOMETRY.x0_edges[boundary], color="k", ls=":", label="CE-E | CE-H")
    axes[1].axvline(GEOMETRY.lam_edges[boundary], color="k", ls=":", label="CE-E | CE-H")
    axes[0].set(xlabel="depth [X₀] (normal incidence)", ylabel="mean fraction of cluster energy per trigger layer",
                xlim=(0, 60), title="longitudinal profile, EM depth scale")
    axes[1].set(xlabel="depth [λ_I] (normal incidence)", ylabel="mean fraction of cluster energy per trigger layer",
                title="longitudinal profile, hadronic depth scale")
    for ax in axes:
        ax.legend(fontsize=8)
    paths.append(_save(fig, outdir / "shower_profiles.png"))

    images = _images_of(df)
    fig, axes = plt.subplots(len(labels), len(LAYER_GROUPS), figsize=(3.2 * len(LAYER_GROUPS), 3 * len(labels)),
                             squeeze=False)
    for row, lab in enumerate(labels):
        mean = images[df["label"].to_numpy() == lab].mean(axis=0)
        for c in range(len(LAYER_GROUPS)):
            ax = axes[row, c]
            im = ax.imshow(mean[c], origin="lower", cmap="viridis")
            fig.colorbar(im, ax=ax, fraction=0.046, label="mean energy [GeV]")
            ax.set(title=f"{_LABEL_NAMES[lab]}\n{CHANNEL_NAMES[c]}", xlabel="cell (x/z)", ylabel="cell (y/z)")
    paths.append(_save(fig, outdir / "mean_images.png"))

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for lab in labels:
        sel = df[(df["label"] == lab) & (df["gen_e"] > 0)]
        kw = {"histtype": "step", "color": _COLORS[lab], "label": _LABEL_NAMES[lab]}
        axes[0].hist(sel["gen_e"], bins=np.geomspace(0.5, 500, 50), **kw)
        axes[1].hist(sel["gen_eta"], bins=np.linspace(-3.2, 3.2, 65), **kw)
        axes[2].hist(sel["true_energy"], bins=np.geomspace(0.5, 2000, 50), **kw)
    axes[0].set(xscale="log", xlabel="generating particle energy [GeV]", ylabel="clusters")
    axes[1].set(xlabel="generating particle η", ylabel="clusters")
    axes[2].set(xscale="log", xlabel="true energy in the window [GeV] (pileup: sum of pileup particles)",
                ylabel="clusters")
    for ax in axes:
        ax.legend(fontsize=8)
    paths.append(_save(fig, outdir / "generator_spectra.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    """Save a figure as PNG (no timestamp metadata, so reruns give identical files) and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return path
