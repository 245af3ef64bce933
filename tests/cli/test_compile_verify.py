"""The CLI contract on the committed example model: compile writes the files, verify proves
0 mismatches at the qonnx and hls levels on 10,000 vectors and records them in verify.json."""

import json
import subprocess
import sys

import pytest


def l1ml(*args):
    return subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, example_model):
    out = tmp_path_factory.mktemp("cli") / "out"
    r = l1ml("compile", example_model, "-o", out)
    assert r.returncode == 0, r.stderr
    return out


def test_compile_output(compiled):
    for f in ("model.l1ml.json", "hls/build_prj.tcl", "report.json", "report.md"):
        assert (compiled / f).exists()
    rep = json.loads((compiled / "report.json").read_text())
    assert [r["op"] for r in rep["layers"]].count("Dense") == 4
    assert rep["input"]["shape"] == [16] and rep["output"]["shape"] == [5]
    assert "| node |" in (compiled / "report.md").read_text()


def test_verify_10000_vectors_zero_mismatches(compiled):
    r = l1ml("verify", compiled, "--vectors", "10000", "--levels", "qonnx,hls")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "qonnx: 10000 vectors, 0 mismatches" in r.stdout
    assert "hls: 10000 vectors, 0 mismatches" in r.stdout
    doc = json.loads((compiled / "verify.json").read_text())
    assert doc["passed"] and doc["levels"]["hls"]["vectors"] == 10000


def test_verify_exits_1_on_a_mismatch(compiled, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(compiled, bad)
    # perturb one bias in the hls project's run-time weights
    b = sorted((bad / "hls/firmware/weights").glob("b*.txt"))[0]
    vals = b.read_text().split(",")
    vals[0] = repr(float(vals[0]) + 0.5)
    b.write_text(",".join(vals))
    r = l1ml("verify", bad, "--vectors", "300", "--levels", "hls")
    assert r.returncode == 1
    assert "mismatches" in r.stdout and "expected" in r.stdout
    assert not json.loads((bad / "verify.json").read_text())["passed"]


def test_vivado_project_is_selectable(tmp_path, example_model):
    out = tmp_path / "viv"
    r = l1ml("compile", example_model, "-o", out, "--hls-backend", "Vivado", "--part", "xcvu9p-flga2104-2L-e")
    assert r.returncode == 0, r.stderr
    tcl = (out / "hls/build_prj.tcl").read_text()
    assert "xcvu9p-flga2104-2L-e" in (out / "hls/project.tcl").read_text() + tcl
    assert json.loads((out / "compile.json").read_text())["hls_backend"] == "Vivado"
