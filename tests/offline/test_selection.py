"""Must show: on the planted toy, importance ranks informative features first, clustering groups the
duplicates, and the weighted AUC moves in the direction the weights were planted to move it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from l1ml.offline.config import load_config
from l1ml.offline.metrics import weighted_auc
from l1ml.offline.select import run_select
from l1ml.offline.toy import feature_toy


@pytest.fixture(scope="module")
def selection(feature_table, tmp_path_factory):
    truth = yaml.safe_load(feature_table.with_name("features.truth.yaml").read_text())
    directory = tmp_path_factory.mktemp("select")
    config = directory / "select.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"path": str(feature_table), "label": "label", "weight": "weight", "signal": 1},
                "model": {"layers": 2, "width": 32, "dropout": 0.1},
                "train": {"epochs": 30, "batch_size": 256, "patience": 5},
                "selection": {"threshold": 0.2, "scan": [0.0, 0.2, 0.9], "repeats": 3},
            }
        )
    )
    out = directory / "out"
    metrics = run_select(load_config(config), out)
    return metrics, truth, out


def test_informative_features_rank_first(selection):
    metrics, truth, _ = selection
    order = [i["name"] for i in metrics["importance_all"]]
    worst_informative = max(order.index(f) for f in truth["informative"])
    best_noise = min(order.index(f) for f in truth["noise"])
    assert worst_informative < best_noise, order
    # on the reduced set (one feature per cluster) the informative clusters take the top places
    reduced = [i["name"] for i in metrics["importance_selected"]]
    informative_groups = {f for f in truth["informative"]} | {
        d for d, o in truth["duplicates"].items() if o in truth["informative"]
    }
    n_informative = len(truth["informative"])
    assert set(reduced[:n_informative]) <= informative_groups, reduced
    assert not set(reduced[n_informative:]) & informative_groups


def test_clustering_groups_the_duplicates(selection):
    metrics, truth, _ = selection
    groups = [sorted(c) for c in metrics["clusters"] if len(c) > 1]
    assert sorted(groups) == sorted(sorted(g) for g in truth["groups"])
    # each kept representative is a member of its cluster, one per cluster
    assert len(metrics["selected"]) == len(metrics["clusters"])
    joint = {i["name"]: i["mean"] for i in metrics["importance_clusters"]}
    assert joint["dup_0a+dup_0b+inf_0"] > max(
        i["mean"] for i in metrics["importance_all"] if i["name"] in ("dup_0a", "dup_0b", "inf_0")
    )


def test_weighted_auc_is_lower_as_planted(selection):
    metrics, truth, _ = selection
    assert truth["weighted_auc_expected"] == "lower"
    for point in metrics["scan"]:
        assert point["test"]["auc"] < point["test"]["auc_unweighted"] - 0.01, point


@pytest.mark.parametrize(("slope", "lower"), [(0.4, True), (-0.4, False)])
def test_weight_direction_follows_the_planted_slope(slope, lower):
    frame, _ = feature_toy(20000, seed=11, weight_slope=slope)
    score, signal, w = frame["inf_0"].to_numpy(), frame["label"].to_numpy() == 1, frame["weight"].to_numpy()
    weighted, unweighted = weighted_auc(score, signal, w), weighted_auc(score, signal)
    assert (weighted < unweighted - 0.02) if lower else (weighted > unweighted + 0.02)


def test_scan_and_report(selection):
    metrics, _, out = selection
    cuts = {p["threshold"]: p for p in metrics["scan"]}
    assert cuts[0.0]["n_features"] == 12 and cuts[0.2]["n_features"] == 8
    assert cuts[0.9]["n_features"] < 8
    # dropping the duplicates costs (almost) nothing; merging informative features at 0.9 costs more
    assert cuts[0.2]["test"]["auc"] > cuts[0.0]["test"]["auc"] - 0.01
    assert cuts[0.9]["test"]["auc"] < cuts[0.2]["test"]["auc"]
    for name in (
        "report.md",
        "metrics.json",
        "dendrogram.png",
        "correlation.png",
        "importance_all.png",
        "importance_selected.png",
        "scan.png",
        "selected_features.yaml",
    ):
        assert (out / name).is_file(), name
    assert json.loads((out / "metrics.json").read_text())["selected"] == metrics["selected"]
    assert yaml.safe_load((out / "selected_features.yaml").read_text())["features"] == metrics["selected"]
    report = (out / "report.md").read_text()
    assert "![dendrogram with the cut](dendrogram.png)" in report
    assert np.isfinite([p["test"]["accuracy"] for p in metrics["scan"]]).all()
