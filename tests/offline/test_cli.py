"""The typer sub-application end to end, and the exit code of user errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from l1ml.errors import L1MLError
from l1ml.offline.cli import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_toy_then_train_writes_a_report(tmp_path):
    table = tmp_path / "toy.csv"
    result = runner.invoke(app, ["toy", "-o", str(table), "--events", "3000", "--seed", "2"])
    assert result.exit_code == 0, result.output
    truth = yaml.safe_load(table.with_name("toy.truth.yaml").read_text())
    assert truth["weighted_auc_expected"] == "lower"
    config = tmp_path / "train.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"path": "toy.csv", "label": "label", "weight": "weight"},
                "model": {"layers": 1, "width": 8},
                "train": {"epochs": 4, "batch_size": 256},
                "baseline": {"n_estimators": 20},
                "output": "run",
            }
        )
    )
    result = runner.invoke(app, ["train", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "run"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"network", "lightgbm", "events", "log_columns"}
    assert set(metrics["log_columns"]) == {"inf_1", "dup_1", "noise_1"}  # the positive heavy-tailed ones
    report = (out / "report.md").read_text()
    for image in ("loss.png", "network_outputs.png", "lightgbm_outputs.png", "roc.png"):
        assert f"]({image})" in report and (out / image).is_file()
    assert "Shape stability" in report and "LightGBM" in result.output
    # a second run replaces the earlier output; a foreign directory is refused
    assert runner.invoke(app, ["train", str(config), "--no-progress"]).exit_code == 0
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    result = runner.invoke(app, ["train", str(config), "-o", str(foreign), "--no-progress"])
    assert isinstance(result.exception, L1MLError) and (foreign / "notes.txt").exists()


@pytest.mark.parametrize("command", ["train", "select", "search", "cascade", "toy"])
def test_help_teaches(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Example" in result.output


def test_user_errors_exit_2_without_traceback(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"data": {"path": "missing.parquet", "label": "label"}}))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "l1ml.offline", "train", str(config), "-o", str(tmp_path / "o")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "missing.parquet: table not found" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()
