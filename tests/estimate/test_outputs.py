"""What users and the compile report see: the JSON contract, the Markdown, the PNG and the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from l1ml.errors import L1MLError
from l1ml.estimate import estimate, markdown, plot_budget
from l1ml.estimate.cli import app
from l1ml.estimate.sweep import SweepKey, parse_sweep
from l1ml.models.random_mlp import write_random_mlp

from .conftest import mlp_spec


def test_json_holds_the_contract_keys(make_graph):
    est = estimate(make_graph(mlp_spec(16, (8, 4)), seed=1), part="xcvu13p-flga2577-2-e")
    doc = json.loads(json.dumps(est.to_json()))  # plain JSON types only
    assert doc["latency"]["cycles"] == est.latency_cycles and doc["latency"]["ns"] == est.latency_ns
    assert set(doc["ii"]) == {"cycles", "ns"}
    assert {"LUT", "FF", "DSP", "BRAM"} <= set(doc["resources"]) <= {"LUT", "FF", "DSP", "BRAM", "CARRY"}
    assert doc["utilisation"]["LUT"] == pytest.approx(doc["resources"]["LUT"] / 1_728_000, abs=1e-6)
    b = doc["budget"]
    assert set(b["criteria"]) == {"latency_ns", "ii_ns", "LUT", "FF", "DSP", "BRAM"}
    assert b["fits"] is True and b["overflows"] == [] and b["limits"]["latency_ns"] == 1000.0
    dense = [row for row in doc["layers"] if row["op"] == "Dense"]
    assert [row["onnx"] for row in dense] == ["fc0", "fc1"]
    assert {"node", "latency_cycles", "LUT", "FF", "DSP", "BRAM"} <= set(dense[0])
    assert sum(row["LUT"] for row in doc["layers"]) == pytest.approx(doc["resources"]["LUT"], abs=len(doc["layers"]))
    assert doc["part"]["device"] == "xcvu13p" and doc["backend"] == "verilog" and doc["assumptions"]


def test_markdown_and_png(make_graph, tmp_path):
    est = estimate(make_graph(mlp_spec(16, (8, 4)), seed=2), reuse_factor=2)
    md = markdown(est)
    assert "| latency |" in md and "PASS" in md and "fc0" in md and est.part.device in md
    png = plot_budget(est, tmp_path / "sub" / "budget.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert not list(png.parent.glob(".*tmp*"))


def test_sweep_syntax():
    assert parse_sweep("reuse=1,2,4,8") == {SweepKey.REUSE: [1, 2, 4, 8]}
    assert parse_sweep("reuse=1;clock=2.5,5") == {SweepKey.REUSE: [1], SweepKey.CLOCK: [2.5, 5.0]}
    for bad in ("reuse", "speed=1,2", "reuse=a,b", "reuse=0", ""):
        with pytest.raises(L1MLError):
            parse_sweep(bad)


@pytest.fixture
def model_file(tmp_path):
    return write_random_mlp(tmp_path / "m.onnx", mlp_spec(12, (8, 4)), seed=3)


def test_cli_writes_json_md_png(model_file, tmp_path):
    out = tmp_path / "est"
    res = CliRunner().invoke(app, ["model", str(model_file), "--part", "xcku15p", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "FITS" in res.output
    assert sorted(p.name for p in out.iterdir()) == [".l1ml-output", "estimate.json", "estimate.md", "estimate.png"]
    doc = json.loads((out / "estimate.json").read_text())
    assert doc["part"]["device"] == "xcku15p" and doc["budget"]["fits"] is True


def test_cli_reports_a_model_that_does_not_fit(model_file):
    res = CliRunner().invoke(app, ["model", str(model_file), "--latency-budget-ns", "1", "--tmux", "1",
                                   "--reuse-factor", "8"])
    assert res.exit_code == 0, res.output
    assert "DOES NOT FIT" in res.output and "latency" in res.output and "II" in res.output


def test_cli_sweep_marks_the_cheapest_fitting_point(model_file):
    res = CliRunner().invoke(app, ["model", str(model_file), "--sweep", "reuse=1,2,4,8", "--tmux", "2"])
    assert res.exit_code == 0, res.output
    assert "cheapest point that fits: reuse" in res.output


def test_cli_user_errors_are_l1ml_errors(model_file):
    res = CliRunner().invoke(app, ["model", str(model_file), "--part", "xc7a35t"])
    assert isinstance(res.exception, L1MLError) and "xcvu13p" in str(res.exception)
    res = CliRunner().invoke(app, ["model", str(model_file), "--backend", "hls4ml", "--synth", "yosys"])
    assert isinstance(res.exception, L1MLError)


def test_parts_command_lists_the_table():
    res = CliRunner().invoke(app, ["parts"])
    assert res.exit_code == 0 and "xcvu13p" in res.output and "1,728,000" in res.output
