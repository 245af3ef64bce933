"""All-or-nothing output directories and the Markdown writer."""

from __future__ import annotations

import pytest

from l1ml.errors import L1MLError
from l1ml.offline.report import MARKER, Markdown, staged_directory


def test_failure_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError), staged_directory(tmp_path / "out") as stage:
        (stage / "half.txt").write_text("x")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_replaces_own_output_and_refuses_foreign(tmp_path):
    dest = tmp_path / "out"
    with staged_directory(dest) as stage:
        (stage / "a.txt").write_text("1")
    assert (dest / MARKER).is_file()
    with staged_directory(dest) as stage:
        (stage / "b.txt").write_text("2")
    assert sorted(p.name for p in dest.iterdir()) == sorted([MARKER, "b.txt"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(L1MLError, match="not written by l1ml offline"), staged_directory(foreign):
        pass
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_markdown_table():
    doc = Markdown("t")
    doc.table(["a", "b"], [["x", 0.123456], ["y", 2]], digits=2)
    assert doc.render().splitlines()[2:6] == ["| a | b |", "|---|---|", "| x | 0.12 |", "| y | 2 |"]
