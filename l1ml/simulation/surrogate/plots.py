"""PNG pages of the surrogate validation report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1ml.simulation.surrogate.data import COMPARTMENT_NAMES, COMPARTMENTS, TYPE_NAMES, ResponseSet

if TYPE_CHECKING:  # pragma: no cover
    from l1ml.simulation.surrogate.report import ReportResult


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    _pyplot().close(fig)
    return path


def _member_colors(n: int) -> list[Any]:
    return [_pyplot().get_cmap("tab10")(k % 10) for k in range(n)]


def report_plots(test: ResponseSet, generated: list[ResponseSet], result: ReportResult, outdir: Path
                 ) -> list[Path]:
    """Marginals, moments versus E and |eta|, correlations and training curves."""
    return [_marginals(test, generated, result, outdir / "marginals.png"),
            _moments(result, "energy", "generated energy E [GeV]", outdir / "moments_vs_energy.png"),
            _moments(result, "abs_eta", "|η|", outdir / "moments_vs_eta.png"),
            _correlations(test, generated[0], outdir / "correlations.png"),
            _training(result, generated, outdir / "training.png")]


def _marginals(test: ResponseSet, generated: list[ResponseSet], result: ReportResult, path: Path) -> Path:
    plt = _pyplot()
    names = [*COMPARTMENT_NAMES, "total"]
    fig, axes = plt.subplots(3, 3, figsize=(14, 11))
    colors = _member_colors(len(generated))
    for ax, (k, name) in zip(axes.flat, enumerate(names), strict=True):
        sim = test.total if name == "total" else test.response[:, k]
        top = max(float(sim.max()), 1.0) * 1.2
        bins = np.concatenate([[-1e-3, 1e-3], np.geomspace(0.01, top, 45)])
        ax.hist(sim, bins=bins, color="0.75", label="parametrised simulation")
        for m, gen in enumerate(generated):
            values = gen.total if name == "total" else gen.response[:, k]
            ax.hist(values, bins=bins, histtype="step", color=colors[m], label=f"surrogate {m}")
        ks = np.mean([mem.ks[name] for mem in result.members])
        where = "all compartments" if name == "total" else f"trigger layers {COMPARTMENTS[k][0] + 1}–{COMPARTMENTS[k][1]}"
        ax.set(xscale="symlog", yscale="log", xlabel=f"energy [GeV] ({where})", ylabel="particles",
               title=f"{name}: KS = {ks:.3f}")
        ax.set_xscale("symlog", linthresh=0.01)
        ax.set_xlim(-0.005, top)
    axes.flat[0].legend(fontsize=7)
    return _save(fig, path)


def _moments(result: ReportResult, var: str, xlabel: str, path: Path) -> Path:
    plt = _pyplot()
    fig, axes = plt.subplots(2, len(TYPE_NAMES), figsize=(4 * len(TYPE_NAMES), 7), sharex=True)
    for col, name in enumerate(TYPE_NAMES):
        m = result.moments[f"{var}/{name}"]
        edges = np.asarray(m["edges"])
        x = np.sqrt(edges[1:] * edges[:-1]) if var == "energy" else 0.5 * (edges[1:] + edges[:-1])
        for row, (stat, label) in enumerate((("mean", "mean response ⟨E_cluster / E⟩"),
                                             ("std", "response width σ(E_cluster / E)"))):
            ax = axes[row, col]
            ax.errorbar(x, m[f"sim_{stat}"], yerr=m[f"sim_{stat}_err"], fmt="ko", ms=4, label="simulation")
            gen, spread = np.asarray(m[f"gen_{stat}"]), np.asarray(m[f"gen_{stat}_spread"])
            ax.plot(x, gen, "-", color="tab:blue", label="surrogate ensemble mean")
            ax.fill_between(x, gen - spread, gen + spread, color="tab:blue", alpha=0.3,
                            label="ensemble spread (systematic)")
            ax.set(ylabel=label, title=name if row == 0 else None)
            if var == "energy":
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(plt.NullFormatter())
            if row == 1:
                ax.set_xlabel(xlabel)
    axes[0, 0].legend(fontsize=7)
    return _save(fig, path)


def _correlations(test: ResponseSet, gen: ResponseSet, path: Path) -> Path:
    plt = _pyplot()
    sim_c = np.corrcoef(np.arcsinh(test.response / 0.1).T)
    gen_c = np.corrcoef(np.arcsinh(gen.response / 0.1).T)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    for ax, mat, title, cmap, lim in ((axes[0], sim_c, "simulation", "coolwarm", 1.0),
                                       (axes[1], gen_c, "surrogate 0", "coolwarm", 1.0),
                                       (axes[2], gen_c - sim_c, "surrogate − simulation", "PiYG", 0.2)):
        im = ax.imshow(mat, cmap=cmap, vmin=-lim, vmax=lim)
        fig.colorbar(im, ax=ax, fraction=0.046, label="correlation of asinh(E / 0.1 GeV)")
        ax.set(title=title, xlabel="compartment", ylabel="compartment")
    return _save(fig, path)


def _training(result: ReportResult, generated: list[ResponseSet], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    colors = _member_colors(len(generated))
    for k, member in enumerate(result.members):
        epochs = np.arange(1, len(member.val_history) + 1)
        ax.plot(epochs, member.val_history, "o-", ms=3, color=colors[k],
                label=f"member {k} ({member.train_seconds:.0f} s)")
    ax.set(xlabel="epoch", ylabel="validation negative log-likelihood (standardised features)",
           title="training of the ensemble members")
    ax.legend(fontsize=8)
    return _save(fig, path)
