"""The HLS top-module port reader: the real Vitis fixture top and synthetic Vivado-style port lists
(``_V`` suffix, ap_none, one port per array element, scalar size outputs of older hls4ml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from l1ml.errors import L1MLError
from l1ml.verify.vendor_ports import (
    Protocol,
    arg_directions,
    check_against_csynth,
    csynth_ports,
    map_ports,
    parse_verilog_ports,
    prototype_args,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT.parent / "shared" / "vendor" / "vitis2022.2_jet_tagger" / "hls4ml_prj"
SOLUTION = FIXTURE / "myproject_prj" / "solution1" / "syn"

needs_fixture = pytest.mark.skipif(not FIXTURE.is_dir(), reason=f"vendor fixture {FIXTURE} is absent "
                                   "(../shared/vendor beside the repository)")


@needs_fixture
def test_vitis_fixture_top() -> None:
    ports = parse_verilog_ports(SOLUTION / "verilog" / "myproject.v", "myproject")
    assert len(ports) == 18
    table = csynth_ports(SOLUTION / "report" / "csynth.xml")
    check_against_csynth(ports, table, "fixture")  # the RTL and its report agree port for port
    itf = map_ports(ports, [("fc1_input", 16, 16), ("layer13_out", 5, 16)], "myproject", "fixture",
                    {n: p for n, (_, _, p) in table.items()})
    assert itf.control.protocol == "ap_ctrl_hs" and itf.control.rst == "ap_rst" and not itf.control.rst_active_low
    (inp,), (out,) = itf.inputs, itf.outputs
    assert (inp.arg, inp.protocol, inp.layout) == ("fc1_input", Protocol.AP_VLD, "packed bus")
    assert [(p.name, p.width, p.first, p.elements, p.vld) for p in inp.ports] == \
        [("fc1_input", 256, 0, 16, "fc1_input_ap_vld")]
    assert out.layout == "one port per element" and out.protocol is Protocol.AP_VLD
    assert [(p.name, p.width, p.first, p.vld) for p in out.ports] == \
        [(f"layer13_out_{k}", 16, k, f"layer13_out_{k}_ap_vld") for k in range(5)]
    params = prototype_args(FIXTURE / "firmware" / "myproject.h", "myproject")
    assert [(n, d) for _, n, d in params] == [("fc1_input", "N_INPUT_1_1"), ("layer13_out", "N_LAYER_11")]
    assert arg_directions(ports, ["fc1_input", "layer13_out"], "fixture") == (["fc1_input"], ["layer13_out"])


@needs_fixture
def test_stale_csynth_table_is_refused() -> None:
    ports = parse_verilog_ports(SOLUTION / "verilog" / "myproject.v", "myproject")
    table = csynth_ports(SOLUTION / "report" / "csynth.xml")
    table["fc1_input"] = ("in", 128, "ap_vld")
    with pytest.raises(L1MLError, match="disagree"):
        check_against_csynth(ports, table, "fixture")


# Vivado HLS 2019-style top: ANSI header, _V suffixes, an ap_none input split per element, ap_vld outputs,
# and the scalar size outputs (const_size_in_1) that older hls4ml top functions had.
VIVADO_TOP = """
module myproject (
    input  wire ap_clk, input wire ap_rst, input wire ap_start,
    output wire ap_done, output wire ap_idle, output wire ap_ready,
    input  wire [15:0] input_1_0_V, input wire [15:0] input_1_1_V, // a comment, input [3:0] fake
    input  wire [15:0] input_1_2_V,
    output wire [7:0] layer5_out_0_V, output wire layer5_out_0_V_ap_vld,
    output wire [7:0] layer5_out_1_V, output wire layer5_out_1_V_ap_vld,
    output wire [15:0] const_size_in_1, output wire const_size_in_1_ap_vld
);
/* input [99:0] not_a_port; */
endmodule
module other (input [1:0] a); endmodule
"""


def test_vivado_style_ports(tmp_path: Path) -> None:
    v = tmp_path / "myproject.v"
    v.write_text(VIVADO_TOP)
    ports = parse_verilog_ports(v, "myproject")
    assert [p.name for p in ports if p.name.startswith("input")] == ["input_1_0_V", "input_1_1_V", "input_1_2_V"]
    itf = map_ports(ports, [("input_1", 3, 16), ("layer5_out", 2, None), ("const_size_in_1", 1, None)],
                    "myproject", "vivado")
    (inp,) = itf.inputs
    assert inp.protocol is Protocol.AP_NONE and [(p.name, p.first, p.vld) for p in inp.ports] == \
        [("input_1_0_V", 0, None), ("input_1_1_V", 1, None), ("input_1_2_V", 2, None)]
    out, size = itf.outputs
    assert out.element_width == 8 and [p.vld for p in out.ports] == \
        ["layer5_out_0_V_ap_vld", "layer5_out_1_V_ap_vld"]
    assert (size.arg, size.elements, size.element_width, size.layout) == ("const_size_in_1", 1, 16, "scalar")


def test_non_ansi_packed_ap_none_and_ap_ctrl_none(tmp_path: Path) -> None:
    v = tmp_path / "top.v"
    v.write_text("""module top(ap_clk, ap_rst_n, x_V, y_0, y_0_ap_vld);
input ap_clk; input ap_rst_n;
input [31:0] x_V;
output [7:0] y_0; output y_0_ap_vld;
endmodule""")
    itf = map_ports(parse_verilog_ports(v, "top"), [("x", 4, None), ("y", 1, None)], "top", "t")
    assert itf.control.protocol == "ap_ctrl_none" and itf.control.rst_active_low
    assert (itf.inputs[0].element_width, itf.inputs[0].protocol) == (8, Protocol.AP_NONE)


def test_longest_argument_name_owns_the_port(tmp_path: Path) -> None:
    v = tmp_path / "top.v"
    v.write_text("""module top(input ap_clk, input ap_rst, input ap_start, output ap_done, output ap_idle,
output ap_ready, input [3:0] x, input [7:0] x_1, input [7:0] x_2_0, input [7:0] x_2_1, output [3:0] y,
output y_ap_vld);
endmodule""")
    itf = map_ports(parse_verilog_ports(v, "top"), [("x", 1, 4), ("x_1", 1, 8), ("x_2", 2, 8), ("y", 1, 4)],
                    "top", "t")
    assert [[p.name for p in a.ports] for a in itf.inputs] == [["x"], ["x_1"], ["x_2_0", "x_2_1"]]


def test_refusals(tmp_path: Path) -> None:
    v = tmp_path / "top.v"
    v.write_text("""module top(input ap_clk, input ap_rst, input ap_start, output ap_done, output ap_idle,
output ap_ready, input [15:0] a_0, input [15:0] a_2, output [3:0] z, input [3:0] stray);
endmodule""")
    ports = parse_verilog_ports(v, "top")
    with pytest.raises(L1MLError, match="port 'stray' of 'top' belongs to no argument"):
        map_ports(ports, [("a", 2, 16), ("z", 1, 4)], "top", "t")
    with pytest.raises(L1MLError, match=r"'a' has 2 elements but ports \['a_0', 'a_2'\]"):
        map_ports(ports, [("a", 2, 16), ("z", 1, 4), ("stray", 1, 4)], "top", "t")
    with pytest.raises(L1MLError, match="no module 'nope'"):
        parse_verilog_ports(v, "nope")
    w = tmp_path / "hs.v"
    w.write_text("module top(input ap_clk, input [3:0] a, input a_ap_ack, output [3:0] b); endmodule")
    with pytest.raises(L1MLError, match="protocol l1ml does not drive"):
        map_ports(parse_verilog_ports(w, "top"), [("a", 1, 4), ("b", 1, 4)], "top", "t")


def test_prototype_with_template_commas_and_references(tmp_path: Path) -> None:
    h = tmp_path / "p.h"
    h.write_text("""// void p(int wrong);
void p(
    ap_fixed<16,6> input_1[N_IN], // the input
    const ap_uint<4> mask[3],
    result_t layer5_out[N_OUT],
    unsigned short &const_size_in_1
);""")
    assert prototype_args(h, "p") == [
        ("ap_fixed<16,6> input_1[N_IN]", "input_1", "N_IN"), ("ap_uint<4> mask[3]", "mask", "3"),
        ("result_t layer5_out[N_OUT]", "layer5_out", "N_OUT"),
        ("unsigned short const_size_in_1", "const_size_in_1", None)]
