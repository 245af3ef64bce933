"""``l1ml simulate``: outputs, byte-identical reruns, Dask scheduler runs, atomic dataset writing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from l1ml.errors import InputFileError, L1MLError
from l1ml.simulation.cli import app
from l1ml.simulation.dataset import load_dataset, write_dataset
from l1ml.simulation.jets import CLASS_NAMES, load_jets

runner = CliRunner()
TRACKS = ["tracks", "--events", "6", "--pileup", "3", "--seed", "5", "--no-progress"]


def _run(args: list[str]) -> None:
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tracks_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tracks") / "local"
    _run([*TRACKS, "-o", str(out), "--workers", "1"])
    return out


def test_help_teaches_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("jets", "tracks", "hgcal"):
        assert command in result.output
    assert "Example" in runner.invoke(app, ["tracks", "--help"]).output


def test_tracks_writes_data_manifest_and_plots(tracks_dir: Path) -> None:
    tables, manifest = load_dataset(tracks_dir, verify=True)
    assert manifest["kind"] == "tracks" and manifest["seed"] == 5
    assert manifest["generator"]["pileup"] == 3.0
    assert manifest["counts"] == {"hits": len(tables["hits"]), "particles": len(tables["particles"])}
    assert manifest["versions"]["pythia8mc"] != "not installed"
    assert sorted(tables["hits"]["event_id"].unique()) == list(range(6))
    assert {"r", "phi", "z", "layer", "particle_id", "event_id"} <= set(tables["hits"].columns)
    assert manifest["plots"] and all((tracks_dir / p).stat().st_size > 10_000 for p in manifest["plots"])
    assert not [p for p in tracks_dir.parent.iterdir() if p.name.startswith(".")], "no temporary leftovers"


def test_rerun_with_same_seed_is_byte_identical(tracks_dir: Path, tmp_path: Path) -> None:
    _run([*TRACKS, "-o", str(tmp_path / "again"), "--workers", "2"])
    assert _files(tmp_path / "again") == _files(tracks_dir)
    _run(["tracks", "--events", "6", "--pileup", "3", "--seed", "6", "--no-progress", "-o", str(tmp_path / "s6")])
    assert _files(tmp_path / "s6")["hits.parquet"] != _files(tracks_dir)["hits.parquet"]


def test_dask_scheduler_run_equals_local_run(tracks_dir: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        _run([*TRACKS, "-o", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address])
    assert _files(tmp_path / "dask") == _files(tracks_dir)


def test_existing_foreign_output_needs_force(tracks_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "exists"
    out.mkdir()
    (out / "old.txt").write_text("x")
    result = runner.invoke(app, [*TRACKS, "-o", str(out)])
    assert result.exit_code != 0 and isinstance(result.exception, L1MLError)
    assert "pass --force" in str(result.exception) and (out / "old.txt").is_file()
    _run([*TRACKS, "-o", str(out), "--overwrite"])  # the older spelling of --force
    assert not (out / "old.txt").exists() and (out / "manifest.json").is_file()
    _run([*TRACKS, "-o", str(out)])  # l1ml's own output: replaced without --force
    assert _files(out) == _files(tracks_dir)


def test_jets_command(tmp_path: Path) -> None:
    out = tmp_path / "jets"
    _run(["jets", "--events", "10", "-o", str(out), "--workers", "1", "--no-progress"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["class_counts"] == {name: 2 for name in CLASS_NAMES}
    assert (out / "plots" / "jet_features.png").is_file()
    assert len(load_jets(out)) == 10


def test_hgcal_command(tmp_path: Path) -> None:
    out = tmp_path / "hgcal"
    _run(["hgcal", "--events", "40", "-o", str(out), "--workers", "1", "--no-progress"])
    tables, manifest = load_dataset(out, verify=True)
    assert manifest["kind"] == "hgcal" and sum(manifest["counts"].values()) > 0
    assert manifest["plots"]


def test_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    def broken_plots(tables: dict, outdir: Path) -> list[Path]:
        raise RuntimeError("plotting failed")

    df = pd.DataFrame({"a": np.arange(3)})
    with pytest.raises(RuntimeError):
        write_dataset(tmp_path / "out", {"t": df}, {"kind": "test"}, plots=broken_plots)
    assert list(tmp_path.iterdir()) == []


def test_checksums_catch_modified_tables(tmp_path: Path) -> None:
    out = write_dataset(tmp_path / "d", {"t": pd.DataFrame({"a": np.arange(5)})}, {"kind": "test"})
    pd.DataFrame({"a": np.arange(6)}).to_parquet(out / "t.parquet")
    assert len(load_dataset(out)[0]["t"]) == 6
    with pytest.raises(InputFileError, match="checksum"):
        load_dataset(out, verify=True)
    with pytest.raises(InputFileError, match="manifest.json"):
        load_dataset(tmp_path)
