"""`--pipeline-stages S` with the default clock: S registers per Dense layer, the clock period only
converts cycles to ns. The RTL is bit-exact under Verilator and its measured latency is the estimate
of `compile`, `estimate` and `rtl write` alike."""

import json
import subprocess
import sys

import pytest


def l1ml(*args):
    return subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True)


@pytest.mark.parametrize("stages", [1, 2])
def test_pipeline_stages_compile_is_bit_exact_and_latency_is_the_estimate(tmp_path, example_model, stages):
    out = tmp_path / "out"
    r = l1ml("compile", example_model, "-o", out, "--pipeline-stages", stages)
    assert r.returncode == 0, r.stderr
    rep = json.loads((out / "report.json").read_text())
    rtl = json.loads((out / "rtl" / "rtl.json").read_text())
    assert rtl["pipeline_stages"] == stages and rtl["clock_ns"] is None
    assert json.loads((out / "compile.json").read_text())["pipeline_stages"] == stages
    # four Dense layers, each with exactly `stages` registers and nothing registered elsewhere
    assert rep["latency"]["cycles"] == rtl["latency_cycles"] == 4 * stages
    assert rep["latency"]["ns"] == pytest.approx(4 * stages * 5.0)

    r = l1ml("verify", out, "--levels", "rtl", "--vectors", 300)
    assert r.returncode == 0, r.stdout + r.stderr
    measured = json.loads((out / "verify.json").read_text())["levels"]["rtl"]
    assert measured["vectors"] == 300 and measured["mismatches"] == 0
    assert measured["latency_cycles"] == rep["latency"]["cycles"]

    est = tmp_path / "est"
    r = l1ml("estimate", example_model, "--pipeline-stages", stages, "-o", est)
    assert r.returncode == 0, r.stderr
    assert json.loads((est / "estimate.json").read_text())["latency"]["cycles"] == measured["latency_cycles"]
    r = l1ml("rtl", "write", out, "-o", tmp_path / "rtl", "--pipeline-stages", stages)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "rtl" / "rtl.json").read_text())["latency_cycles"] == measured["latency_cycles"]
