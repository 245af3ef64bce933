"""The csynth report parser on the Vitis HLS 2022.2 fixture (../shared/vendor): its numbers against the
fixture's README and against the tool's own text report, and one-line refusals of broken reports."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from l1ml.errors import L1MLError
from l1ml.estimate.csynth import CsynthResources, find_report_dirs, locate_report_dir, read_csynth

VENDOR = Path(__file__).resolve().parents[2].parent / "shared" / "vendor" / "vitis2022.2_jet_tagger" / "hls4ml_prj"
REPORT = VENDOR / "myproject_prj" / "solution1" / "syn" / "report"
needs_fixture = pytest.mark.skipif(not REPORT.is_dir(), reason=f"vendor fixture {REPORT} is absent "
                                   "(see ../shared/vendor/README.md)")
pytestmark = needs_fixture


def _rpt_row(label: str) -> list[int]:
    """A row of the 'Utilization Estimates' summary in the tool's text report myproject_csynth.rpt."""
    text = (REPORT / "myproject_csynth.rpt").read_text()
    row = re.search(rf"^\|{label}\s*\|(.*)\|\s*$", text, re.M).group(1)
    return [0 if c.strip() == "-" else int(c) for c in row.split("|")]


def test_top_numbers_match_the_fixture_readme_and_the_text_report():
    r = read_csynth(REPORT)
    top = r.top
    assert top.name == "myproject"
    # README: latency 15 cycles, II 1, 24,233 FF, 116,694 LUT, xcu250, 5 ns clock
    assert (top.latency_min, top.latency_max, top.interval_min, top.interval_max) == (15, 15, 1, 1)
    assert (top.resources.ff, top.resources.lut) == (24_233, 116_694)
    assert r.part == "xcu250-figd2104-2L-e" and r.tool_version == "2022.2"
    assert (top.clock_target_ns, top.clock_estimated_ns, top.clock_uncertainty_ns) == (5.0, 3.636, 1.35)
    # the README's "0 DSP" is not what the report says: the text report's Total row is the independent check
    bram, dsp, ff, lut, uram = _rpt_row("Total")
    assert top.resources == CsynthResources(lut=lut, ff=ff, dsp=dsp, bram_18k=bram, uram=uram)
    assert top.resources.dsp == 2557
    assert r.available == CsynthResources(lut=1_728_000, ff=3_456_000, dsp=12_288, bram_18k=5_376, uram=1_280)


def test_instances_are_the_hls4ml_layers_and_sum_to_the_instance_row():
    r = read_csynth(REPORT)
    layers = [(i.layer, i.config, i.layer_index) for i in r.instances]
    assert layers == [("fc1", "config2", 2), ("relu1", "relu_config4", 4), ("fc2", "config5", 5),
                      ("relu2", "relu_config7", 7), ("fc3", "config8", 8), ("relu3", "relu_config10", 10),
                      ("output", "config11", 11), ("softmax", "softmax_config13", 13)]
    mods = [r.module(i.module) for i in r.instances]
    summed = [sum(getattr(m.resources, k) for m in mods) for k in ("bram_18k", "dsp", "ff", "lut", "uram")]
    assert summed == _rpt_row("Instance")  # 8 BRAM, 2557 DSP, 20807 FF, 116654 LUT, 0 URAM
    fc1 = r.module(r.instances[0].module)
    assert (fc1.latency_max, fc1.interval_max, fc1.resources.dsp, fc1.resources.lut) == (1, 1, 719, 28_385)
    softmax = r.module(r.instances[-1].module)
    assert (softmax.latency_max, softmax.resources.bram_18k) == (5, 8)
    assert r.hierarchy_source == "csynth.xml"
    assert r.to_json()["top"]["LUT"] == 116_694


def test_locating_the_report_from_the_project_directory():
    assert find_report_dirs(VENDOR) == [REPORT]
    assert locate_report_dir(VENDOR) == REPORT
    assert locate_report_dir(REPORT) == REPORT


@pytest.fixture
def report_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "report"
    shutil.copytree(REPORT, dst, ignore=shutil.ignore_patterns("*.rpt"))
    return dst


def test_vivado_hls_style_report_without_hierarchy_and_with_dsp48e(report_copy: Path):
    """Vivado HLS names the DSP count DSP48E and writes no RTLDesignHierarchy: the module reports stand in."""
    for p in report_copy.glob("*.xml"):
        text = p.read_text().replace("<DSP>", "<DSP48E>").replace("</DSP>", "</DSP48E>")
        if p.name == "csynth.xml":
            text = re.sub(r"<RTLDesignHierarchy>.*?</RTLDesignHierarchy>", "", text, flags=re.S)
        p.write_text(text)
    r = read_csynth(report_copy)
    assert r.top.resources.dsp == 2557 and r.hierarchy_source == "module reports"
    assert sorted(i.config for i in r.instances) == sorted(
        ["config2", "relu_config4", "config5", "relu_config7", "config8", "relu_config10", "config11",
         "softmax_config13"])
    assert sum(r.module(i.module).resources.dsp for i in r.instances) == 2557


@pytest.mark.parametrize("breakage, message", [
    ("no-dir", r"no such report directory"),
    ("no-top", r"csynth\.xml: no such csynth report file"),
    ("truncated", r"csynth\.xml: not a well-formed XML csynth report"),
    ("no-latency", r"csynth\.xml: element PerformanceEstimates/SummaryOfOverallLatency/Best-caseLatency is missing"),
    ("text-lut", r"csynth\.xml: element LUT holds 'many', not a number"),
    ("not-profile", r"csynth\.xml: the root element is <html>"),
    ("no-module", r"config5_s_csynth\.xml is missing"),
])
def test_broken_reports_are_refused_in_one_line_naming_the_file(report_copy: Path, breakage: str, message: str):
    top = report_copy / "csynth.xml"
    text = top.read_text()
    target = report_copy
    if breakage == "no-dir":
        target = report_copy / "nothing"
    elif breakage == "no-top":
        top.unlink()
    elif breakage == "truncated":
        top.write_text(text[: len(text) // 2])
    elif breakage == "no-latency":
        top.write_text(text.replace("<Best-caseLatency>15</Best-caseLatency>", "", 1))
    elif breakage == "text-lut":
        top.write_text(text.replace("<LUT>116694</LUT>", "<LUT>many</LUT>", 1))
    elif breakage == "not-profile":
        top.write_text("<html><body>proxy error</body></html>")
    elif breakage == "no-module":
        next(report_copy.glob("*config5_s_csynth.xml")).unlink()
    with pytest.raises(L1MLError, match=message) as info:
        read_csynth(target)
    msg = str(info.value)
    assert "\n" not in msg and "l1ml build OUTDIR --synth" in msg  # one line, with the remedy


def test_no_report_under_a_directory_says_where_it_looked(tmp_path: Path):
    with pytest.raises(L1MLError, match=r"no csynth report found .*_prj/solution\*/syn/report"):
        locate_report_dir(tmp_path)


def test_the_interface_table_gives_the_top_ports():
    """README: ap_ctrl_hs, one 256-bit fc1_input with fc1_input_ap_vld, outputs layer13_out_0..4 of 16 bits."""
    ports = {p.name: p for p in read_csynth(REPORT).ports}
    assert {n for n, p in ports.items() if p.protocol == "ap_ctrl_hs"} == {
        "ap_clk", "ap_rst", "ap_start", "ap_done", "ap_idle", "ap_ready"}
    assert (ports["fc1_input"].bits, ports["fc1_input"].direction, ports["fc1_input"].attribute) == (256, "in", "data")
    assert ports["fc1_input_ap_vld"].attribute == "control" and ports["fc1_input_ap_vld"].c_object == "fc1_input"
    outs = [n for n, p in ports.items() if p.direction == "out" and p.attribute == "data"]
    assert outs == [f"layer13_out_{i}" for i in range(5)] and {ports[n].bits for n in outs} == {16}
