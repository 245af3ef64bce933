"""``l1ml simulate``: generate jet, tracker, HGCal and L1-object datasets (Parquet + manifest.json + plots)."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from l1ml.atomic import ForceOrOverwrite, check_output_dir
from l1ml.console import console as console_for

app = typer.Typer(
    help="Generate simulated training datasets with Pythia8 and a parametrised Phase-2-like detector.\n\n"
    "Each command writes a directory with Parquet tables, manifest.json (settings, seed, versions, "
    "counts, checksums) and PNG validation plots under plots/. The same seed gives byte-identical files, "
    "whatever --workers or --scheduler.",
    no_args_is_help=True,
)


class TrackProcess(StrEnum):
    """Hard processes offered by ``simulate tracks`` (values match ``pythia.Process``)."""

    ttbar = "ttbar"
    wjets = "wjets"
    zjets = "zjets"
    qcd_dijet = "qcd_dijet"
    minbias = "minbias"


Output = Annotated[Path, typer.Option("--output", "-o", help="Dataset directory to create.")]
Seed = Annotated[int, typer.Option("--seed", help="Master seed; chunk seeds derive from it.")]
Workers = Annotated[int | None, typer.Option("--workers", "-w", help="Local processes [default: all cores].")]
Scheduler = Annotated[str | None, typer.Option(
    "--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786; runs the chunks on that cluster.")]
Progress = Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")]


def _done(out: Path, start: float) -> None:
    """Print a one-line summary of a written dataset."""

    from l1ml.simulation.dataset import read_manifest

    counts = read_manifest(out)["counts"]
    rows = ", ".join(f"{n} {name}" for name, n in counts.items())
    console_for().print(f"wrote {out} ({rows}) in {time.perf_counter() - start:.1f} s")


@app.command("jets")
def jets(
    output: Output,
    events: Annotated[int, typer.Option("--events", "-n", help="Number of jets, balanced over 5 classes.")] = 25000,
    seed: Seed = 1,
    workers: Workers = None,
    scheduler: Scheduler = None,
    force: ForceOrOverwrite = False,
    progress: Progress = True,
) -> None:
    """Boosted-jet tagging dataset: q, g, W, Z, t jets (pT ~ 1 TeV, anti-kT R=0.8) with 16 substructure features.

    Writes jets.parquet (16 float32 feature columns + int64 "label": 0 q, 1 g, 2 W, 3 Z, 4 t), shuffled.
    About 25,000 jets take 2-3 minutes on 2 cores.

    Example: l1ml simulate jets --events 25000 -o data/jets --seed 1
    """
    from l1ml.simulation.jets import JetSettings, simulate_jets, write_jets_dataset

    check_output_dir(output, force=force)  # before the simulation, not after it
    start = time.perf_counter()
    settings = JetSettings()
    ds = simulate_jets(events, seed, workers=workers, scheduler=scheduler, progress=progress, settings=settings)
    write_jets_dataset(ds, output, seed, settings, force=force)
    _done(output, start)


@app.command("tracks")
def tracks(
    output: Output,
    events: Annotated[int, typer.Option("--events", "-n", help="Number of bunch crossings.")] = 100,
    pileup: Annotated[float, typer.Option("--pileup", help="Mean number of minimum-bias interactions "
                                          "overlaid per event (Poisson).")] = 0.0,
    process: Annotated[TrackProcess, typer.Option("--process", help="Hard process.")] = TrackProcess.ttbar,
    stub_pt: Annotated[float | None, typer.Option(
        "--stub-pt", help="Keep only hits whose module bend passes a pT cut in GeV (e.g. 2), like L1 stubs.")] = None,
    noise: Annotated[float, typer.Option("--noise", help="Mean noise hits per layer and event.")] = 10.0,
    seed: Seed = 1,
    workers: Workers = None,
    scheduler: Scheduler = None,
    force: ForceOrOverwrite = False,
    progress: Progress = True,
) -> None:
    """Tracker hits: charged particles as helices (3.8 T) through the six Phase-2 outer-tracker barrel layers.

    Writes hits.parquet (event_id, hit_id, layer, r [mm], phi, z [mm], bend [strips], particle_id; -1 =
    noise) and particles.parquet (truth: event_id, particle_id, pid, charge, momenta, pt, eta, phi,
    vertex [mm], interaction 0 = hard scatter, n_hits). 200 events with --pileup 50 take about a minute
    on 2 cores.

    Example: l1ml simulate tracks --events 200 --pileup 50 -o data/tracks
    """
    from l1ml.simulation.dataset import write_dataset
    from l1ml.simulation.plots import tracker_plots
    from l1ml.simulation.pythia import Process
    from l1ml.simulation.tracker import TrackerConfig, TrackSample, simulate_tracks

    check_output_dir(output, force=force)  # before the simulation, not after it
    start = time.perf_counter()
    sample = TrackSample(process=Process(process.value), pileup=pileup,
                         tracker=TrackerConfig(stub_pt_min=stub_pt, noise_hits_per_layer=noise))
    tables = simulate_tracks(events, seed, sample, workers=workers, scheduler=scheduler, progress=progress)
    manifest = {"kind": "tracks", "n_events": events, "seed": seed, "generator": sample.to_dict()}
    write_dataset(output, tables, manifest, plots=tracker_plots, force=force)
    _done(output, start)


@app.command("hgcal")
def hgcal(
    output: Output,
    events: Annotated[int, typer.Option("--events", "-n", help="Number of clusters (one per event).")] = 2000,
    pileup: Annotated[float, typer.Option(
        "--pileup", help="Mean pileup interactions per event. Use 200 to get the pileup class; with the "
        "default 0 you get EM and hadronic clusters only.")] = 0.0,
    seed: Seed = 1,
    workers: Workers = None,
    scheduler: Scheduler = None,
    force: ForceOrOverwrite = False,
    progress: Progress = True,
) -> None:
    """HGCal trigger-cell clusters (EM / hadronic / pileup) in the endcap, 1.5 < |eta| < 3.0.

    Writes clusters.parquet (cluster images, per-layer energies, labels, true energy, generated particle);
    load images with l1ml.simulation.hgcal_io.load_hgcal(DIR).

    Example: l1ml simulate hgcal --events 2000 --pileup 200 -o data/hgcal
    """
    from l1ml.simulation import hgcal as hgcal_sim
    from l1ml.simulation.dataset import write_dataset
    from l1ml.simulation.hgcal_plots import validation_plots

    check_output_dir(output, force=force)  # before the simulation, not after it
    start = time.perf_counter()
    tables = hgcal_sim.simulate_hgcal(events, seed, pileup=pileup, workers=workers, scheduler=scheduler,
                                      progress=progress)
    manifest = {"kind": "hgcal", "n_events": events, "seed": seed, "pileup": pileup,
                "generator": getattr(hgcal_sim, "GENERATOR_SETTINGS", None)}
    write_dataset(output, tables, manifest, plots=validation_plots, force=force)
    _done(output, start)


@app.command("l1-objects")
def l1_objects(
    output: Output,
    events: Annotated[int, typer.Option("--events", "-n", help="Zero-bias crossings (minimum bias + pileup), "
                                        "the background the trigger rate is measured on.")] = 20000,
    qcd_events: Annotated[int | None, typer.Option(
        "--qcd-events", help="QCD crossings (pT-hat > 30 GeV + pileup) [default: events / 4].")] = None,
    signal_events: Annotated[int, typer.Option("--signal-events", help="Crossings per signal process.")] = 2000,
    signals: Annotated[str, typer.Option(help="Comma-separated signals: zprime_ttbar (Z' 1 TeV -> t tbar), "
                                         "wprime_lnu (W' 1 TeV -> e/mu nu), higgs_llp (h -> a a -> 4b, "
                                         "m_a 30 GeV, c tau 100 mm).")] = "zprime_ttbar,wprime_lnu,higgs_llp",
    pileup: Annotated[float, typer.Option("--pileup", help="Mean minimum-bias interactions per crossing "
                                          "(Poisson; HL-LHC: 140-200).")] = 200.0,
    seed: Seed = 1,
    workers: Workers = None,
    scheduler: Scheduler = None,
    force: ForceOrOverwrite = False,
    progress: Progress = True,
) -> None:
    """Level-1 trigger objects per bunch crossing for the anomaly-detection trigger (docs/anomaly.md).

    Writes objects.parquet: 57 float32 columns (MET; 4 e/gamma, 4 muons, 10 anti-kT R=0.4 jets, each pT
    [GeV], eta, phi, ordered by pT and zero-padded; the CMS AXOL1TL layout) + int64 "sample" (0 zerobias,
    1 qcd, 2 zprime_ttbar, 3 wprime_lnu, 4 higgs_llp). 10,000 crossings at pileup 200 take about 1 minute
    on 2 cores.

    Example: l1ml simulate l1-objects --events 20000 --signal-events 2000 -o data/l1objects
    """
    from l1ml.errors import L1MLError
    from l1ml.simulation.l1objects import SIGNAL_NAMES, L1Config, simulate_l1objects, write_l1objects_dataset

    chosen = [s.strip() for s in signals.split(",") if s.strip()]
    bad = [s for s in chosen if s not in SIGNAL_NAMES]
    if bad:
        raise L1MLError(f"--signals: unknown signal(s) {', '.join(bad)}; choose from {', '.join(SIGNAL_NAMES)}")
    if events < 1 or signal_events < 0 or (qcd_events is not None and qcd_events < 0):
        raise L1MLError("--events must be at least 1, --qcd-events and --signal-events at least 0")
    check_output_dir(output, force=force)  # before the simulation, not after it
    start = time.perf_counter()
    cfg = L1Config(pileup=pileup)
    sizes = {"zerobias": events, "qcd": events // 4 if qcd_events is None else qcd_events,
             **{s: signal_events for s in chosen}}
    ds = simulate_l1objects(sizes, seed, cfg, workers=workers, scheduler=scheduler, progress=progress)
    write_l1objects_dataset(ds, output, seed, cfg, force=force)
    _done(output, start)
