"""The inputs an offline output directory must not hold, and the Markdown writer (the output-directory
policy itself is tested in tests/cli/test_outdir_policy.py)."""

from __future__ import annotations

import pytest

from l1ml.atomic import check_output_dir
from l1ml.errors import L1MLError
from l1ml.offline.config import load_config
from l1ml.offline.report import Markdown, config_inputs


def test_config_and_table_are_inputs_an_output_may_not_hold(tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "c.yaml").write_text("data: {path: ../data/t.parquet, label: label}\n")
    config = load_config(tmp_path / "cfg" / "c.yaml")
    assert config_inputs(config) == [tmp_path / "cfg" / "c.yaml", tmp_path / "data" / "t.parquet"]
    for dest in ("cfg", "data"):
        with pytest.raises(L1MLError, match="contains the input"):
            check_output_dir(tmp_path / dest, config_inputs(config), force=True)


def test_markdown_table():
    doc = Markdown("t")
    doc.table(["a", "b"], [["x", 0.123456], ["y", 2]], digits=2)
    assert doc.render().splitlines()[2:6] == ["| a | b |", "|---|---|", "| x | 0.12 |", "| y | 2 |"]
