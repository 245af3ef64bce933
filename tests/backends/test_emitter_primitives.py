"""Primitives are instantiated only through ``Emitter.instance`` / ``Emitter.inline``, which record them.

The design's ``filelist.f`` is written from the primitives the emitters recorded, so a primitive written
any other way would be missing from it; the source check below keeps the renderers from doing so.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from l1ml.backends.verilog import write_rtl
from l1ml.backends.verilog.dense import adder_tree, balance_tree, constant_product
from l1ml.backends.verilog.emitter import Emitter
from l1ml.backends.verilog.primitives import (
    REG_MASK_W,
    SHIFT_FIELD_W,
    Primitive,
    template_dir,
    with_dependencies,
)
from l1ml.ir.types import FixedType
from tests.backends.elementwise_graphs import arith_graph, autoencoder_graph, tensor_graph

VERILOG_PACKAGE = Path(__file__).resolve().parents[2] / "l1ml" / "backends" / "verilog"
PRIMITIVE_NAMES = {p.value for p in Primitive}


def test_inline_writes_one_line_and_records_the_primitive():
    e = Emitter()
    with e.indent():
        e.inline(Primitive.DELAY, "u_x_bal", {"W": 8, "DEPTH": 2}, {"clk": "clk", "d": "x", "q": "y[7:0]"},
                 "node: fc (onnx: /fc/MatMul): balances y[0]'s shorter tree")
    assert e.lines == ["    l1ml_delay #(.W(8), .DEPTH(2)) u_x_bal (.clk(clk), .d(x), .q(y[7:0]));  "
                       "// node: fc (onnx: /fc/MatMul): balances y[0]'s shorter tree"]
    assert e.used == {Primitive.DELAY}
    e.inline(Primitive.MUX, "u_m", {"N": 2, "W": 4, "SEL_W": 1}, {"words": "{a, 4'h0}", "sel": "s", "y": "q"}, "c")
    assert e.lines[-1] == "l1ml_mux #(.N(2), .W(4), .SEL_W(1)) u_m (.words({a, 4'h0}), .sel(s), .y(q));  // c"
    assert e.used == {Primitive.DELAY, Primitive.MUX}


def test_instance_writes_a_block_and_records_the_primitive():
    e = Emitter()
    e.instance(Primitive.HOLD, "u_x_hold", {"W": 24}, {"clk": "clk", "en": "x_valid", "d": "x", "q": "xh"},
               "input held")
    assert e.text() == ("// input held\n"
                        "l1ml_hold #(\n"
                        "    .W(24)\n"
                        ") u_x_hold (\n"
                        "    .clk(clk),\n"
                        "    .en(x_valid),\n"
                        "    .d(x),\n"
                        "    .q(xh)\n"
                        ");\n")
    assert e.used == {Primitive.HOLD}


def test_a_module_name_is_read_as_its_primitive_and_nothing_else_is_one():
    e = Emitter()
    e.instance("l1ml_valid_delay", "u_v", {"DEPTH": 1}, {"clk": "clk", "rst": "rst", "d": "a", "q": "b"}, "v")
    assert e.used == {Primitive.VALID_DELAY} and e.lines[1] == "l1ml_valid_delay #("
    with pytest.raises(ValueError):
        e.instance("l1ml_top_fc0", "u_fc0", {}, {"x": "a"}, "not a primitive")
    with pytest.raises(ValueError):
        e.inline("l1ml_top_fc0", "u_fc0", {}, {"x": "a"}, "not a primitive")


def test_a_generated_module_is_a_submodule_and_is_not_recorded():
    e = Emitter()
    e.submodule("l1ml_top_fc0", "u_fc0", {}, {"clk": "clk", "x": "a", "y": "b"}, "Dense")
    assert e.text() == "// Dense\nl1ml_top_fc0 u_fc0 (\n    .clk(clk),\n    .x(a),\n    .y(b)\n);\n"
    assert e.used == set()
    with pytest.raises(ValueError, match="primitive"):
        e.submodule(Primitive.DELAY.value, "u_d", {}, {"d": "a"}, "a primitive by name")


@pytest.mark.parametrize(("code", "prim"), [(3, Primitive.SHIFT_ADD), (-7, Primitive.SHIFT_ADD),
                                            (683, Primitive.MULT_CONST)])
def test_constant_product_records_its_multiplier(code, prim):
    e = Emitter()
    constant_product(e, FixedType(True, 8, 0), code, "x[7:0]", "p0", 20, "where")
    assert e.used == {prim}
    assert e.lines[0] == "wire [19:0] p0;"
    assert e.lines[1].startswith(f"{prim.value} #(.IN_W(8), .IN_SIGNED(1), ")
    assert e.lines[1].endswith(f"u_p0 (.x(x[7:0]), .p(p0));  // where (weight code {code})")


def test_shift_add_packs_shifts_in_fields_of_the_template_width():
    e = Emitter()
    constant_product(e, FixedType(False, 4, 0), 3, "x", "p", 8, "w")  # 3 = 2**2 - 2**0: shifts (0, 2)
    assert f".N_TERMS(2), .SHIFTS({2 * SHIFT_FIELD_W}'h200), .NEGATE(2'h1))" in e.lines[1]
    text = (template_dir() / Primitive.SHIFT_ADD.filename).read_text()
    assert f"parameter [{SHIFT_FIELD_W}*N_TERMS-1:0] SHIFTS" in text


@pytest.mark.parametrize("prim", [Primitive.ADDER_TREE, Primitive.MAX_TREE])
def test_reg_mask_width_is_the_template_parameter(prim):
    text = (template_dir() / prim.filename).read_text()
    assert f"parameter [{REG_MASK_W - 1}:0] REG_MASK" in text


def test_adder_tree_and_balance_tree_record_what_they_write():
    e = Emitter()
    adder_tree(e, "u_s", 2, 9, 10, 0b10, ["a", "b"], "s", "sum")
    assert e.lines == [f"l1ml_adder_tree #(.N(2), .IN_W(9), .OUT_W(10), .REG_MASK({REG_MASK_W}'h2)) u_s "
                       "(.clk(clk), .terms({b, a}), .sum(s));  // sum"]
    balance_tree(e, "s", "y", 10, 0, "none needed")
    assert e.lines[-1] == "assign y = s;" and e.used == {Primitive.ADDER_TREE}
    balance_tree(e, "s", "y", 10, 2, "two registers")
    assert e.lines[-1] == "l1ml_delay #(.W(10), .DEPTH(2)) u_s_bal (.clk(clk), .d(s), .q(y));  // two registers"
    assert e.used == {Primitive.ADDER_TREE, Primitive.DELAY}


def _renderer_sources() -> list[Path]:
    files = sorted(p for p in VERILOG_PACKAGE.glob("*.py") if p.name not in ("primitives.py", "emitter.py"))
    assert len(files) >= 10, files  # the check reads the renderers, not an empty directory
    return files


@pytest.mark.parametrize("path", _renderer_sources(), ids=lambda p: p.name)
def test_renderers_instantiate_primitives_only_through_the_emitter(path):
    """No module name of a primitive as a string (a hand-written instance) and no hand-kept used set."""
    text = path.read_text()
    named = sorted({m for m in re.findall(r"""["'](l1ml_\w+)""", text) if m in PRIMITIVE_NAMES})
    assert not named, f"{path.name} spells primitive module names {named}; use Emitter.instance/inline(Primitive.X)"
    for pattern in (".used.add(", "used |=", "used.add("):
        assert pattern not in text, f"{path.name} keeps a used set by hand ({pattern!r}); the emitter records it"


_INSTANCE = re.compile(r"^\s*(l1ml_\w+)\s+(?:#\(|[A-Za-z_]\w*\s*\()", re.M)


@pytest.mark.parametrize(("graph", "reuse"), [(arith_graph, 1), (tensor_graph, 1), (autoencoder_graph, 1),
                                              (autoencoder_graph, 3)])
def test_filelist_holds_exactly_the_instantiated_primitives(tmp_path, graph, reuse):
    d = write_rtl(graph(), tmp_path / "rtl", reuse_factor=reuse)
    listed = [f for f in d.files if f.removesuffix(".v") in PRIMITIVE_NAMES]
    generated = [f for f in d.files if f not in listed]
    instantiated = {Primitive(m) for f in generated
                    for m in _INSTANCE.findall((tmp_path / "rtl" / f).read_text()) if m in PRIMITIVE_NAMES}
    assert listed == [p.filename for p in with_dependencies(instantiated)]
