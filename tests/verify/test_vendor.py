"""The vendor level end to end with real tools: Vitis HLS RTL (the read-only fixture, copied) in Verilator
under cocotb against the project's own g++ C-simulation, a mutated copy of it, a Vivado-style block with
ap_none ports split per element, and the refusals."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from l1ml.verify.vendor import simulate
from l1ml.verify.vendor_ports import map_ports, parse_verilog_ports
from l1ml.verify.vendor_project import VendorRTL, build_harness

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_REL = Path("..") / "shared" / "vendor" / "vitis2022.2_jet_tagger" / "hls4ml_prj"
FIXTURE = ROOT / FIXTURE_REL
VERILOG = Path("myproject_prj") / "solution1" / "syn" / "verilog"

needs_fixture = pytest.mark.skipif(not FIXTURE.is_dir(), reason=f"vendor fixture {FIXTURE} is absent "
                                   "(../shared/vendor beside the repository)")


def run_cli(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    exe = [sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)]
    return subprocess.run(exe, capture_output=True, text=True, cwd=cwd, env=None)


@needs_fixture
def test_cosim_fixture_5000_vectors(tmp_path: Path) -> None:
    """The issue's proof: 5,000 vectors through the Vitis RTL, 0 mismatches, latency 15 = csynth."""
    out = tmp_path / "cosim"
    r = run_cli("cosim", FIXTURE_REL, "--vectors", 5000, "-o", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "vendor: 5000 vectors, 0 mismatches, latency 15 cycles, II 1" in r.stdout
    doc = json.loads((out / "cosim.json").read_text())
    v = doc["levels"]["vendor"]
    assert doc["passed"] and v["mismatches"] == 0 and v["n_vectors"] == 5000
    assert v["latency_cycles"] == v["csynth_latency_cycles"] == 15 and v["ii"] == v["csynth_ii"] == 1
    assert v["rtl"] == str(VERILOG)


@needs_fixture
def test_cosim_sees_one_changed_weight(tmp_path: Path) -> None:
    """A copy of the RTL with one bias constant of the output Dense layer changed by 1.0 must mismatch."""
    prj = tmp_path / "prj"
    shutil.copytree(FIXTURE, prj)
    f = prj / VERILOG / "myproject_dense_latency_ap_fixed_16_6_5_3_0_ap_fixed_16_6_5_3_0_config11_s.v"
    text = f.read_text()
    m = re.search(r"(\w+ = \(trunc_ln\w+ \+ 16'd)(\d+)\);", text)
    assert m, "the output layer adds its bias as a 16-bit constant"
    f.write_text(text[:m.start(2)] + str(int(m.group(2)) + 1024) + text[m.end(2):])  # +1.0 in ap_fixed<16,6>
    out = tmp_path / "cosim"
    r = run_cli("cosim", prj, "--vectors", 1000, "-o", out)
    assert r.returncode == 1, r.stdout + r.stderr
    got = re.search(r"vendor: 1000 vectors, (\d+) mismatches", r.stdout)
    assert got and int(got.group(1)) > 0, r.stdout
    assert re.search(r"vector \d+: layer13_out\[\d\] expected -?\d+, got -?\d+", r.stdout), r.stdout
    assert json.loads((out / "cosim.json").read_text())["passed"] is False


BLOCK = """`timescale 1 ns / 1 ps
// Vivado HLS style: ap_ctrl_hs, an ap_none input array split per element with _V suffixes, ap_none
// outputs read at ap_done, a $readmemh ROM and an `initial #0` block; II 1, latency 2
module blk (ap_clk, ap_rst, ap_start, ap_done, ap_idle, ap_ready, x_0_V, x_1_V, x_2_V, y_0_V, y_1_V);
input ap_clk; input ap_rst; input ap_start;
output ap_done; output ap_idle; output ap_ready;
input [7:0] x_0_V, x_1_V, x_2_V;
output [8:0] y_0_V; output [8:0] y_1_V;
reg [1:0] v; reg [8:0] s0, s1, r0, r1;
reg [8:0] rom [0:3];
initial begin #0 v = 2'b0; $readmemh("./blk_rom.dat", rom); end
assign ap_ready = ap_start;
assign ap_idle = !ap_start && v == 2'b0;
assign ap_done = v[1];
always @(posedge ap_clk) begin
  if (ap_rst) v <= 2'b0; else v <= {v[0], ap_start};
  s0 <= $signed(x_0_V) + $signed(x_1_V);
  s1 <= $signed(x_2_V) - $signed(rom[x_0_V[1:0]]);
  r0 <= s0; r1 <= s1;
end
assign y_0_V = r0; assign y_1_V = r1;
endmodule
"""


def test_vivado_style_block_ap_none_split(tmp_path: Path) -> None:
    """ap_none ports, one per element, outputs collected at ap_done, ROM read from the run directory."""
    d = tmp_path / "prj" / "blk_prj" / "solution1" / "syn" / "verilog"
    d.mkdir(parents=True)
    (d / "blk.v").write_text(BLOCK)
    rom = [5, -3, 100, -128]
    (d / "blk_rom.dat").write_text("".join(f"{v & 0x1FF:03x}\n" for v in rom))
    rtl = VendorRTL(tmp_path / "prj", "blk", d, "syn", None, 2, 1)
    itf = map_ports(parse_verilog_ports(d / "blk.v", "blk"), [("x", 3, 8), ("y", 2, 9)], "blk", "test")
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, size=(300, 3))
    y = np.stack([x[:, 0] + x[:, 1], x[:, 2] - np.array(rom)[x[:, 0] & 3]], axis=1)
    chk = simulate(rtl, itf, {"x": True, "y": True}, {"x": x}, {"y": y}, tmp_path / "build")
    assert (chk.n_vectors, chk.mismatches, chk.latency_cycles, chk.ii) == (300, 0, 2, 1), chk.first_mismatches
    assert np.array_equal(chk.outputs["y"], y)
    y[17, 1] += 1  # a wrong expectation is reported, with the vector and element
    chk = simulate(rtl, itf, {"x": True, "y": True}, {"x": x}, {"y": y}, tmp_path / "build")
    assert chk.mismatches == 1 and chk.first_mismatches == [f"vector 17: y[1] expected {y[17, 1]}, got {y[17, 1] - 1}"]
    assert chk.failed and not chk.error


@pytest.mark.slow
def test_ap_idle_stuck_low_is_a_protocol_error(tmp_path: Path) -> None:
    """Every word right but ap_idle never rises: the check fails with a protocol error, not silently."""
    d = tmp_path / "prj" / "blk_prj" / "solution1" / "syn" / "verilog"
    d.mkdir(parents=True)
    (d / "blk.v").write_text(BLOCK.replace("assign ap_idle = !ap_start && v == 2'b0;", "assign ap_idle = 1'b0;"))
    (d / "blk_rom.dat").write_text("0\n0\n0\n0\n")
    rtl = VendorRTL(tmp_path / "prj", "blk", d, "syn", None, 2, 1)
    itf = map_ports(parse_verilog_ports(d / "blk.v", "blk"), [("x", 3, 8), ("y", 2, 9)], "blk", "test")
    x = np.random.default_rng(2).integers(-128, 128, size=(50, 3))
    y = np.stack([x[:, 0] + x[:, 1], x[:, 2]], axis=1)
    chk = simulate(rtl, itf, {"x": True, "y": True}, {"x": x}, {"y": y}, tmp_path / "build")
    assert chk.mismatches == 0 and chk.failed and "ap_idle stayed low" in chk.error, chk


@needs_fixture
def test_cosim_refusals(tmp_path: Path) -> None:
    no_rtl = tmp_path / "no_rtl"
    shutil.copytree(FIXTURE / "firmware", no_rtl / "firmware")
    out = tmp_path / "out"
    r = run_cli("cosim", no_rtl, "-o", out)
    assert r.returncode == 2 and "no vendor RTL" in r.stderr and "run vitis_hls" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_cli("cosim", empty, "-o", out)
    assert r.returncode == 2 and "not an hls4ml project" in r.stderr, r.stderr
    assert not out.exists(), "a refused run writes nothing"


@needs_fixture
def test_verify_vendor_level_refusals(tmp_path: Path, example_model: Path) -> None:
    """An l1ml output without a vendor run: exit 2 with the remedy and no verify.json; with another
    project's RTL under hls/: refused by its ports."""
    out = tmp_path / "out"
    r = run_cli("compile", example_model, "-o", out)
    assert r.returncode == 0, r.stderr
    r = run_cli("verify", out, "--levels", "qonnx,vendor", "--vectors", 10)
    assert r.returncode == 2 and "no vendor RTL under hls/" in r.stderr and "vitis_hls" in r.stderr, r.stderr
    assert not (out / "verify.json").exists()
    shutil.copytree(FIXTURE / "myproject_prj", out / "hls" / "myproject_prj")
    r = run_cli("verify", out, "--levels", "vendor", "--vectors", 10)
    assert r.returncode == 2 and "port 'fc1_input' of 'myproject' belongs to no argument" in r.stderr, r.stderr
    assert not (out / "verify.json").exists()


@needs_fixture
def test_harness_reads_types_from_the_compiler_and_converts_reals(tmp_path: Path) -> None:
    """The C-simulation harness reports ap_fixed<16,6> for both arguments and converts real inputs with the
    project's own input type (AP_TRN, AP_WRAP): floor(x * 2^10), wrapped to 16 bits."""
    h = build_harness(FIXTURE, "myproject", ["fc1_input"], tmp_path)
    assert [(a.name, a.elements, a.width, a.frac, a.signed) for a in h.inputs + h.outputs] == \
        [("fc1_input", 16, 16, 10, True), ("layer13_out", 5, 16, 10, True)]
    x = np.array([[0.5, -0.0015, 40.0, -32.0, 31.9990234375, 1e-9, -1e-9, 3.14159] * 2])
    codes, out = h.run({"fc1_input": x}, True, tmp_path)
    want = (np.floor(x * 1024).astype(np.int64) + 2**15) % 2**16 - 2**15
    assert np.array_equal(codes["fc1_input"], want)
    codes2, out2 = h.run({"fc1_input": codes["fc1_input"]}, False, tmp_path)
    assert np.array_equal(codes2["fc1_input"], want) and np.array_equal(out2["layer13_out"], out["layer13_out"])
