"""`l1ml compile --reuse-factor auto`: the sweep against the budget picks the setting and lands in the report."""

from __future__ import annotations

import json
import subprocess
import sys

from l1ml.compile import AUTO_REUSE_GRID


def run_cli(*args):
    exe = [sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)]
    return subprocess.run(exe, capture_output=True, text=True)


def test_auto_reuse_picks_the_cheapest_fitting_point(tmp_path, example_model):
    # tmux 2: a new event every 50 ns = 10 cycles at 5 ns, so reuse factors above 10 do not fit
    r = run_cli("compile", str(example_model), "-o", str(tmp_path / "out"), "--reuse-factor", "auto", "--tmux", "2")
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    pts = rep["sweep"]["points"]
    assert [p["reuse_factor"] for p in pts] == list(AUTO_REUSE_GRID)
    fitting = [p for p in pts if p["fits"]]
    assert fitting and all(p["ii"]["ns"] <= 50 for p in fitting)
    assert any(not p["fits"] for p in pts)  # the budget really cut the grid
    chosen = rep["sweep"]["chosen_reuse_factor"]
    lut_eq = {p["reuse_factor"]: p["resources"]["LUT"] + 100 * p["resources"]["DSP"] for p in fitting}
    assert lut_eq[chosen] == min(lut_eq.values())
    assert json.loads((tmp_path / "out" / "compile.json").read_text())["reuse_factor"] == chosen
    assert json.loads((tmp_path / "out" / "rtl" / "rtl.json").read_text())["reuse_factor"] == chosen
    assert "Design space (Verilog estimates)" in (tmp_path / "out" / "report.md").read_text()
    assert f"reuse factor {chosen}" in r.stdout


def test_bad_reuse_factor_is_a_user_error(tmp_path, example_model):
    r = run_cli("compile", str(example_model), "-o", str(tmp_path / "out"), "--reuse-factor", "fast")
    assert r.returncode == 2 and "--reuse-factor 'fast'" in r.stdout + r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()
