"""Must show: a small Optuna search with Hyperband pruning, and two worker processes on one storage."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from l1ml.errors import L1MLError
from l1ml.offline.config import load_config
from l1ml.offline.search import run_search, storage_url

REPO = Path(__file__).resolve().parents[2]


def _config(directory: Path, table: Path, epochs: int = 9, **search) -> Path:
    path = directory / "search.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "data": {"path": str(table), "label": "label", "weight": "weight"},
                "train": {"epochs": epochs, "batch_size": 512, "patience": epochs},
                "search": {
                    "space": {"layers": [1, 2], "width": [2, 32], "learning_rate": [1e-4, 3e-2]},
                    **search,
                },
            }
        )
    )
    return path


def test_search_with_pruning_and_report(feature_table, tmp_path):
    config = load_config(_config(tmp_path, feature_table, n_trials=12, seed=3, study_name="prune"))
    out = tmp_path / "out"
    summary = run_search(config, out)
    assert summary["trials"] == 12
    assert summary["states"]["pruned"] >= 1, summary["states"]
    assert summary["states"]["complete"] >= 3, summary["states"]
    assert (out / "optuna.db").is_file() and summary["storage"] == storage_url(config, out)
    study = optuna.load_study(study_name="prune", storage=summary["storage"])
    pruned = [t for t in study.trials if t.state is TrialState.PRUNED]
    # pruned trials reported every epoch they ran, and some stopped before the full 9-epoch budget
    assert any(max(t.intermediate_values) < 9 for t in pruned)
    assert all(
        sorted(t.intermediate_values) == list(range(1, len(t.intermediate_values) + 1)) for t in pruned
    )
    report = out / "report"
    for name in (
        "report.md",
        "history.png",
        "intermediate.png",
        "importance.png",
        "slices.png",
        "contour.png",
        "best_config.yaml",
        "summary.json",
    ):
        assert (report / name).is_file(), name
    best = load_config(report / "best_config.yaml")
    assert best.model.width == study.best_params["width"] and best.model.layers == study.best_params["layers"]
    assert best.train.learning_rate == pytest.approx(study.best_params["learning_rate"])
    # a second call joins the same study instead of starting a new one
    assert run_search(config, out, n_trials=1, report=False)["trials"] == 13


def test_random_sampler_and_median_pruner(feature_table, tmp_path):
    config = load_config(
        _config(
            tmp_path,
            feature_table,
            epochs=4,
            n_trials=3,
            sampler="random",
            pruner="median",
            metric="val_auc",
            seed=0,
        )
    )
    summary = run_search(config, tmp_path / "out", report=False)
    assert summary["trials"] == 3 and 0.5 < summary["best"]["value"] <= 1.0
    # the same study name with the opposite direction is refused with a clear message
    flipped = load_config(_config(tmp_path, feature_table, metric="val_loss"))
    with pytest.raises(L1MLError, match="direction"):
        run_search(flipped, tmp_path / "out", n_trials=0, report=False)


def test_two_worker_processes_share_one_storage(feature_table, tmp_path):
    config = _config(tmp_path, feature_table, epochs=3, n_trials=4, study_name="shared", seed=1)
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "l1ml.offline",
                "search",
                str(config),
                "-o",
                str(out),
                "--no-report",
                "--no-progress",
                "--worker-id",
                str(k),
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in (0, 1)
    ]
    pids = set()
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        pids.add(worker.pid)
    study = optuna.load_study(study_name="shared", storage=f"sqlite:///{out / 'optuna.db'}")
    assert len(study.trials) == 8
    by_pid: dict[int, list] = {}
    for trial in study.trials:
        by_pid.setdefault(int(trial.user_attrs["worker"].rsplit(":", 1)[1]), []).append(trial)
    assert set(by_pid) == pids and all(len(t) == 4 for t in by_pid.values())
    # distinct worker ids gave distinct samplers: the first proposals differ
    firsts = [min(t, key=lambda tr: tr.number).params for t in by_pid.values()]
    assert firsts[0] != firsts[1]
