"""Must show: on the multi-background toy the cascade beats or matches a single network, in the report."""

from __future__ import annotations

import pytest
import yaml

from l1ml.errors import L1MLError
from l1ml.offline.cascade import run_cascade
from l1ml.offline.config import load_config


def _config(directory, table, **data):
    path = directory / "cascade.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "data": {
                    "path": str(table),
                    "label": "process",
                    "weight": "weight",
                    "signal": "signal",
                    **data,
                },
                "model": {"layers": 2, "width": 16, "dropout": 0.0},
                "train": {"epochs": 25, "batch_size": 256, "patience": 4, "learning_rate": 3e-3},
            }
        )
    )
    return load_config(path)


def test_cascade_matches_or_beats_single_network(multibackground_table, tmp_path):
    out = tmp_path / "out"
    metrics = run_cascade(_config(tmp_path, multibackground_table), out)
    cascade, single = metrics["cascade"]["per_background"], metrics["single"]["per_background"]
    assert set(cascade) == {"all", "wjets", "ttbar"}
    assert cascade["all"]["auc"] >= single["all"]["auc"] - 0.005, (cascade, single)
    for background in ("wjets", "ttbar"):
        assert cascade[background]["auc"] >= single[background]["auc"] - 0.01, (background, cascade, single)
    # the backgrounds differ strongly: each is well separated, W+jets more than tt-bar
    assert cascade["wjets"]["auc"] > 0.9 and cascade["ttbar"]["auc"] > 0.75
    report = (out / "report.md").read_text()
    assert "## Cascade vs single network (test split)" in report
    assert f"| Cascade | {metrics['cascade']['parameters']} | {cascade['all']['auc']:.4f}" in report
    for name in (
        "roc_vs_all.png",
        "roc_vs_wjets.png",
        "roc_vs_ttbar.png",
        "sub_wjets.pt",
        "sub_ttbar.pt",
        "super.pt",
        "single.pt",
        "cascade_outputs.png",
    ):
        assert (out / name).is_file(), name


def test_cascade_needs_two_backgrounds(multibackground_table, tmp_path):
    with pytest.raises(L1MLError, match="at least two background"):
        run_cascade(_config(tmp_path, multibackground_table, backgrounds=["wjets"]), tmp_path / "out")
    assert not (tmp_path / "out").exists()
