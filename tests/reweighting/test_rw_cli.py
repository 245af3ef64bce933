"""The `l1ml reweight` commands end to end on small files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from l1ml.errors import L1MLError
from l1ml.reweighting import mixture_problem
from l1ml.reweighting.cli import app

runner = CliRunner()


@pytest.fixture
def tables(tmp_path):
    original, target = mixture_problem(2).samples(4000, 4000, seed=0)
    prior = np.random.default_rng(1).uniform(0.5, 1.5, len(original))
    pd.DataFrame({"pt": original[:, 0], "eta": original[:, 1], "w0": prior}).to_parquet(tmp_path / "mc.parquet")
    pd.DataFrame({"pt": target[:, 0], "eta": target[:, 1]}).to_csv(tmp_path / "data.csv", index=False)
    return tmp_path


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    if isinstance(result.exception, L1MLError):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result


def test_fit_apply_check(tables) -> None:
    d = tables
    invoke("fit", d / "mc.parquet", d / "data.csv", "-c", "pt,eta", "-o", d / "model",
           "--original-weight", "w0", "--set", "n_estimators=30")
    meta = json.loads((d / "model" / "model.json").read_text())
    assert meta["columns"] == ["pt", "eta"] and meta["folds"] == 2 and meta["settings"]["n_estimators"] == 30

    invoke("apply", d / "mc.parquet", "-m", d / "model", "-o", f"{d}/mc_w.root:events")
    weighted = pd.read_parquet(d / "mc.parquet")
    import uproot

    with uproot.open(d / "mc_w.root") as f:
        column = f["events"]["weight"].array(library="np")
    assert len(column) == len(weighted) and column.sum() == pytest.approx(4000, rel=1e-6)

    result = invoke("check", f"{d}/mc_w.root:events", d / "data.csv", "-c", "pt", "-c", "eta",
                    "--original-weight", "w0", "--unit", "pt=GeV", "-o", d / "report")
    report = json.loads((d / "report" / "report.json").read_text())
    assert report["auc_after"] < report["auc_before"] - 0.1
    assert all(a < b for a, b in zip(report["ks_after"], report["ks_before"], strict=True) if b > 0.1)
    assert {p.name for p in (d / "report").iterdir()} == {
        ".l1ml-output", "report.json", "report.md", "weights.png", "compare_pt.png", "compare_eta.png"}
    assert "hold-out AUC" in result.output
    # Nothing but the outputs was left next to them.
    assert sorted(p.name for p in d.iterdir()) == ["data.csv", "mc.parquet", "mc_w.root", "model", "report"]


def test_errors_name_the_problem(tables) -> None:
    d = tables
    with pytest.raises(L1MLError, match="no column.*mass"):
        invoke("fit", d / "mc.parquet", d / "data.csv", "-c", "pt,mass", "-o", d / "model")
    with pytest.raises(L1MLError, match="bad setting 'depth=2'"):
        invoke("fit", d / "mc.parquet", d / "data.csv", "-c", "pt", "-o", d / "model", "--set", "depth=2")
    invoke("fit", d / "mc.parquet", d / "data.csv", "-c", "pt", "-o", d / "model", "--method", "bins",
           "--folds", "0")
    with pytest.raises(L1MLError, match="already has a column 'w0'"):
        invoke("apply", d / "mc.parquet", "-m", d / "model", "-o", d / "out.csv", "--weight-column", "w0")
    assert not (d / "out.csv").exists()
    with pytest.raises(L1MLError, match="contains the input"):
        invoke("check", d / "mc.parquet", d / "data.csv", "-c", "pt", "--weight-column", "w0", "-o", d)


@pytest.mark.parametrize("command", [[], ["fit", "--help"], ["apply", "--help"], ["check", "--help"]])
def test_help_teaches(command: list[str]) -> None:
    result = runner.invoke(app, command)
    assert "Usage" in result.output
    if command:
        assert result.exit_code == 0 and "Example: l1ml reweight" in result.output


def test_fit_help_lists_the_real_defaults() -> None:
    from l1ml.reweighting.cli import fit
    from l1ml.reweighting.methods import Method, settings

    text = " ".join(fit.__doc__.split())
    for method in Method:
        for name, value in settings(method).items():
            if name not in ("seed", "n_jobs"):
                assert f"{name}={value:g}" in text, (method, name)
