"""`l1ml build`: the csynth table on the vendor fixture, the one-line refusal without the vendor tool (and
nothing written), the exact command and tcl switches a build runs (inspected, never executed), and the
side-by-side table of l1ml's hls4ml estimate and a real csynth report."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from l1ml.build import Steps, build_opt_text, l1ml_estimate, plan_build
from l1ml.compile import CompileOptions, compile_model
from l1ml.estimate.csynth import read_csynth

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT.parent / "shared" / "vendor" / "vitis2022.2_jet_tagger" / "hls4ml_prj"
REPORT = VENDOR / "myproject_prj" / "solution1" / "syn" / "report"
needs_fixture = pytest.mark.skipif(not REPORT.is_dir(), reason=f"vendor fixture {REPORT} is absent "
                                   "(see ../shared/vendor/README.md)")


def run_cli(*args, env_path: str | None = None):
    env = dict(os.environ)
    if env_path is not None:
        env["PATH"] = env_path
    exe = [sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)]
    return subprocess.run(exe, capture_output=True, text=True, env=env)


def tree_digest(root: Path) -> str:
    """Names, kinds, modes and contents of everything under ``root``."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        h.update(f"{p.relative_to(root)}\0{st.st_mode}\0".encode())
        if p.is_file() and not p.is_symlink():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, example_model) -> dict[str, Path]:
    """The example compiled once for each HLS backend; tests copy what they change."""
    base = tmp_path_factory.mktemp("compiled")
    return {b: (compile_model(example_model, base / b, CompileOptions(hls_backend=b)), base / b)[1]
            for b in ("Vitis", "Vivado")}


def copy_of(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "out"
    shutil.copytree(src, dst, symlinks=True)
    return dst


@pytest.mark.parametrize("backend, tool", [("Vitis", "vitis_hls"), ("Vivado", "vivado_hls")])
@pytest.mark.parametrize("flags", [[], ["--synth", "--cosim", "--export", "--vivado-synth"]])
def test_without_the_tool_exit_2_one_line_and_nothing_written(compiled, tmp_path, backend, tool, flags):
    out = copy_of(compiled[backend], tmp_path)
    before = tree_digest(out)
    empty = tmp_path / "bin"  # a PATH on which no HLS tool can be found
    empty.mkdir()
    r = run_cli("build", out, *flags, env_path=str(empty))
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and r.stdout == "", r.stderr
    assert lines[0].startswith(f"error: {tool}") and "not found on PATH" in lines[0] and "--tool-path" in lines[0]
    assert "Traceback" not in r.stderr
    assert tree_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "out"]


def test_a_tool_path_without_the_tool_is_refused_naming_it(compiled, tmp_path):
    out = copy_of(compiled["Vitis"], tmp_path)
    before = tree_digest(out)
    r = run_cli("build", out, "--synth", "--tool-path", tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert f"--tool-path {tmp_path}: no executable vitis_hls or vitis-run there" in r.stderr
    assert tree_digest(out) == before


def _tcl_opts(script: str) -> dict[str, str]:
    """Run ``script`` in tclsh and return the ``opt`` array it leaves."""
    tcl = script + '\nforeach k [lsort [array names opt]] { puts "$k=$opt($k)" }\n'
    res = subprocess.run(["tclsh"], input=tcl, capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in res.stdout.split())


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")
@pytest.mark.parametrize("steps", [Steps(), Steps(synth=True), Steps(csim=True, cosim=True),
                                   Steps(synth=True, export=True, vsynth=True)])
def test_the_tcl_switches_are_the_ones_the_project_reads(compiled, steps):
    """The step switches, read by the project's own tcl code in tclsh (no vendor tool is run): from
    build_opt.tcl for the Vitis project, from the tcl argument by build_prj.tcl's argv loop for Vivado."""
    want = {k: str(v) for k, v in steps.chosen().tcl_options().items()}
    vitis = plan_build(compiled["Vitis"] / "hls", steps, require=False)
    assert vitis.argv == ("vitis_hls", "-f", "build_prj.tcl") and vitis.build_opt == build_opt_text(steps.chosen())
    assert _tcl_opts(vitis.build_opt) == want
    prj = (compiled["Vitis"] / "hls" / "build_prj.tcl").read_text()
    assert set(re.findall(r"\$opt\((\w+)\)", prj)) == set(want)  # every switch the project reads, and no other
    viv = plan_build(compiled["Vivado"] / "hls", steps, require=False)
    assert viv.build_opt is None and viv.argv[:3] == ("vivado_hls", "-f", "build_prj.tcl") and len(viv.argv) == 4
    tcl = (compiled["Vivado"] / "hls" / "build_prj.tcl").read_text()
    defaults = re.search(r"^array set opt \{.*?^\}", tcl, re.S | re.M).group(0)
    argv_loop = re.search(r"^foreach arg \$::argv \{.*?^\}", tcl, re.S | re.M).group(0)
    script = f"set ::argv [list {{{viv.argv[3]}}}]\n{defaults}\n{argv_loop}"
    assert _tcl_opts(script) == want


def test_tool_path_may_name_the_install_bin_directory(compiled, tmp_path):
    """--tool-path DIR finds DIR/bin/vitis_hls; the plan is inspected, the program never run."""
    (tmp_path / "bin").mkdir()
    exe = tmp_path / "bin" / "vitis_hls"
    exe.write_text("")  # an empty file, only so that the lookup has something to find
    exe.chmod(0o755)
    plan = plan_build(compiled["Vitis"] / "hls", Steps(synth=True), tool_path=tmp_path)
    assert plan.executable == exe and plan.argv == (str(exe), "-f", "build_prj.tcl")
    assert "cd " in plan.shell() and "synth      1" in plan.shell()


def test_dry_run_prints_the_commands_says_not_run_and_writes_nothing(compiled, tmp_path):
    out = copy_of(compiled["Vivado"], tmp_path)
    before = tree_digest(out)
    r = run_cli("build", out, "--synth", "--dry-run", env_path=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "nothing was run or written" in r.stdout and "vivado_hls NOT found here" in r.stdout
    assert "vivado_hls -f build_prj.tcl 'reset=0 csim=0 synth=1 cosim=0 validation=0 export=0 vsynth=0 " \
           "fifo_opt=0'" in r.stdout
    assert tree_digest(out) == before


def _table(stdout: str) -> dict[str, list[str]]:
    return {c[0]: c[1:] for c in (re.split(r"\s*\|\s*", line.strip("| ")) for line in stdout.splitlines()
                                  if line.startswith("| "))}


@needs_fixture
def test_reports_only_on_the_fixture_prints_the_estimate_beside_the_vendor_numbers(tmp_path):
    before = tree_digest(VENDOR)
    r = run_cli("build", "--reports-only", VENDOR)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith(f"estimate: hls4ml project {VENDOR} read back from its firmware") and "5 ns" in first
    assert "softmax left outside the estimate" in first
    rows = _table(r.stdout)
    # each cell: l1ml estimate / vendor; the vendor side as Vitis HLS 2022.2 reported it
    assert [c.split(" / ")[1].split(" (")[0] for c in rows["fc1"][1:]] == ["1", "1", "28,385", "5,814", "719", "0"]
    assert rows["fc1"][0] == "Dense" and rows["fc1"][5].startswith("719 / 719")  # DSP: the estimate is exact
    assert rows["'softmax'"] == ["softmax", "– / 5", "– / 1", "– / 742", "– / 522", "– / 5", "– / 8"]
    total = rows["**total**"]
    assert total[1].startswith("10 / 15") and total[3].startswith("116,051 / 116,694")
    assert len([k for k in rows if k in ("fc1", "fc2", "fc3", "output", "relu1", "relu2", "relu3")]) == 7
    assert tree_digest(VENDOR) == before  # a plain hls4ml project is read, never written


@needs_fixture
def test_reports_only_says_why_a_project_it_cannot_read_back_gets_vendor_numbers_only(tmp_path):
    prj = tmp_path / "hls4ml_prj"
    shutil.copytree(VENDOR, prj, ignore=shutil.ignore_patterns("verilog", "*.v", "*.dat"))
    defines = prj / "firmware" / "defines.h"
    defines.write_text(defines.read_text().replace("typedef ap_fixed<16,6> layer5_t;", "typedef ap_fixed<12,4> layer5_t;"))
    r = run_cli("build", "--reports-only", prj)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith(f"no estimate: {defines}: the layers use several precisions") and \
        first.endswith("; vendor numbers only")
    rows = _table(r.stdout)
    assert rows["'fc1'"] == ["dense", "1", "1", "28,385", "5,814", "719", "0"]
    assert rows["**total**"] == ["", "15", "1", "116,694", "24,233", "2,557", "8"]
    assert len([k for k in rows if k.startswith("'")]) == 8  # the eight instances: four dense, three relu, softmax


def test_reports_only_refuses_run_options(tmp_path):
    r = run_cli("build", "--reports-only", tmp_path, "--synth")
    assert r.returncode == 2 and "--reports-only runs nothing" in r.stderr


@needs_fixture
def test_side_by_side_table_of_the_estimate_and_a_real_csynth_report(compiled, tmp_path):
    """The example is the fixture's 16-64-32-32-5 shape; its four Dense layers pair with the fixture's four
    dense instances through hls4ml's config names (config2, 5, 8, 11)."""
    out = copy_of(compiled["Vitis"], tmp_path)
    dst = out / "hls" / "myproject_prj" / "solution1" / "syn" / "report"
    shutil.copytree(REPORT, dst, ignore=shutil.ignore_patterns("*.rpt"))
    r = run_cli("build", "--reports-only", out)
    assert r.returncode == 0, r.stderr
    est = l1ml_estimate(out)
    rep = read_csynth(dst)
    dense = [lc for lc in est.layers if lc.op == "Dense"]
    assert [lc.node for lc in dense] == ["dense_0", "dense_1", "dense_2", "dense_3"]
    for lc, inst in zip(dense, [i for i in rep.instances if i.config in ("config2", "config5", "config8", "config11")],
                        strict=True):
        v = rep.module(inst.module).resources.lut
        e = round(lc.res.lut)
        cell = f"{e:,} / {v:,} (×{v / e:.2f})"
        row = next(line for line in r.stdout.splitlines() if line.startswith(f"| {lc.node} |"))
        assert row.split(" | ")[4] == cell, row
    total = next(line for line in r.stdout.splitlines() if line.startswith("| **total** |"))
    assert f"{est.latency_cycles} / 15" in total and f"/ {116_694:,} (×" in total
    # recorded: build.json, and the table in report.md once, however often it is recorded
    assert "recorded in" in r.stdout
    assert run_cli("build", "--reports-only", out).returncode == 0
    md = (out / "report.md").read_text()
    assert md.count("## Vendor C synthesis beside l1ml's hls4ml estimate") == 1
    assert "Vitis/Vivado HLS synthesis was not run" not in md and "Vivado synthesis and implementation were not" in md
    import json

    doc = json.loads((out / "build.json").read_text())
    assert doc["build"] is None and doc["csynth"]["top"]["LUT"] == 116_694
    assert doc["csynth"]["report_dir"] == "hls/myproject_prj/solution1/syn/report"
    row = next(c for c in doc["comparison"] if c["layer"] == "dense_0")
    assert row["vendor"]["LUT"] == 28_385 and row["module"].endswith("config2_s")


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")
def test_a_failing_tool_leaves_its_log_and_a_build_json_and_exits_2(compiled, tmp_path):
    """The runner's plumbing with a real process that fails: tclsh runs the project's build_prj.tcl, which
    stops at its first vendor command (open_project). No vendor result is pretended."""
    from dataclasses import replace

    from rich.console import Console

    from l1ml.build import BuildError, _run

    out = copy_of(compiled["Vitis"], tmp_path)
    plan = plan_build(out / "hls", Steps(synth=True), require=False)
    tclsh = Path(shutil.which("tclsh"))
    plan = replace(plan, tool="tclsh", executable=tclsh, argv=(str(tclsh), "build_prj.tcl"))
    report_md = (out / "report.md").read_bytes()
    with pytest.raises(BuildError, match=r"tclsh exited with code 1 during project setup; the log is .*tclsh\.log") as e:
        _run(out, plan, Console(file=open(os.devnull, "w")))
    assert str(e.value).endswith('(first error: invalid command name "open_project")')
    log = (out / "build" / "tclsh.log").read_text()
    assert log.startswith(f"# {tclsh} build_prj.tcl\n") and 'invalid command name "open_project"' in log
    assert "synth      1" in (out / "hls" / "build_opt.tcl").read_text()
    import json

    doc = json.loads((out / "build.json").read_text())
    assert doc["build"]["returncode"] == 1 and doc["build"]["steps"] == ["synth"] and doc["csynth"] is None
    assert (out / "report.md").read_bytes() == report_md


@needs_fixture
def test_reports_named_with_reports_are_read_where_they_are(compiled, tmp_path):
    """Reports copied back from the machine that ran the tool: read in place (the fixture is read-only),
    recorded in the compile output."""
    out = copy_of(compiled["Vitis"], tmp_path)
    r = run_cli("build", "--reports-only", out, "--reports", REPORT)
    assert r.returncode == 0, r.stderr
    import json

    doc = json.loads((out / "build.json").read_text())
    assert doc["csynth"]["report_dir"] == str(REPORT) and doc["csynth"]["top"]["FF"] == 24_233
    assert "| **total** |" in (out / "report.md").read_text()
