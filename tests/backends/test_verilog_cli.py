"""The ``l1ml rtl`` command group (write, check, lint) as a user runs it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from l1ml.cli_rtl import app
from l1ml.errors import InputFileError, L1MLError
from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec, write_random_mlp

runner = CliRunner()


def flat(r) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(r.output.split())


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    spec = MLPSpec(5, QuantSpec(8, 4), (
        LayerSpec(6, QuantSpec(7, 4), QuantSpec(8, 4), True, QuantSpec(6, 3, signed=False, rounding="FLOOR")),
        LayerSpec(3, QuantSpec(9, 5), None, False, None),
    ))
    return write_random_mlp(tmp_path_factory.mktemp("cli") / "m.onnx", spec, seed=4)


def test_help_teaches_with_examples():
    for cmd in ("write", "check", "lint"):
        r = runner.invoke(app, [cmd, "--help"])
        assert r.exit_code == 0 and "Example: l1ml rtl " + cmd in flat(r)


def test_write_lint_check_and_a_failing_check(model, tmp_path):
    out, build = tmp_path / "rtl", tmp_path / "build"
    r = runner.invoke(app, ["write", str(model), "-o", str(out), "--clock-ns", "3"])
    assert r.exit_code == 0, r.output
    latency = int(re.search(r"latency (\d+) cycles", r.output)[1])
    assert (out / "rtl.json").exists() and "in in_x: 5 x 8 bits" in flat(r)

    r = runner.invoke(app, ["lint", str(out)])
    assert r.exit_code == 0 and "lint clean" in flat(r)

    r = runner.invoke(app, ["check", str(model), str(out), "--vectors", "120", "--build-dir", str(build)])
    assert r.exit_code == 0, r.output
    assert f"rtl: 120 vectors, 0 mismatches, latency {latency} cycles, II 1" in flat(r)

    # turn one adder of the first layer's adder graph into a subtraction: the check fails, exit code 1,
    # with the differing words listed
    dense = sorted(out.glob("l1ml_top_dense_*.v"))[0]
    text = dense.read_text()
    assert ".OP(0)" in text
    dense.write_text(text.replace(".OP(0)", ".OP(1)", 1))
    r = runner.invoke(app, ["check", str(model), str(out), "--vectors", "120", "--build-dir", str(build)])
    assert r.exit_code == 1
    assert re.search(r"rtl: 120 vectors, [1-9]\d* mismatches", flat(r))
    assert re.search(r"vector \d+: out_\w+\[\d\] .* expected -?\d+, got -?\d+", flat(r))


def test_user_errors_are_l1ml_errors(model, tmp_path):
    r = runner.invoke(app, ["write", str(tmp_path / "missing.onnx"), "-o", str(tmp_path / "o")])
    assert isinstance(r.exception, InputFileError)
    r = runner.invoke(app, ["write", str(model), "-o", str(tmp_path / "o"), "--clock-ns", "2",
                            "--pipeline-stages", "1"])
    assert isinstance(r.exception, L1MLError) and "not both" in str(r.exception)
    r = runner.invoke(app, ["lint", str(tmp_path)])
    assert isinstance(r.exception, L1MLError) and "rtl.json" in str(r.exception)
