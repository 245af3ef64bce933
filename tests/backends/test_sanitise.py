"""Hostile ONNX names and option values never reach generated code raw (issue 13, item 3).

A small QONNX MLP gets node and tensor names with newlines, comment closers, quotes, tcl and shell
syntax, keywords, leading digits, unicode and names that collide after sanitising. Compiled, its
Verilog lints clean and is bit-exact in simulation, its hls4ml project's C++ builds and is bit-exact,
every emitted identifier is a plain identifier, and no injected text starts a line of any script.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml

from l1ml.compile import CompileOptions, compile_model
from l1ml.errors import L1MLError
from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec, build_qonnx
from l1ml.names import KEYWORDS, Namespace, comment_text, identifier, is_identifier
from l1ml.verify.runner import lint

INJECTED = "module injected_mod; endmodule"
EVIL = [
    f"fc1\n{INJECTED}\n", "module", "int", "wire", "2nd_layer", "*/ int main() { return 1; } /*",
    '"; file delete -force ~; #', "`define X 1", "a-b", "a_b", "a.b", "a/b", "a:b", "a b", "é∂ü",
    "trailing\\", "??/", "x\r\n#include <evil.h>", "// c", "void", "class", "input_t", "layer2_out", "w2",
    "in_x", "$(rm -rf ~)", "{puts pwned}", "[exec id]", "\u2028line", "", "_", "__init", "\x00nul",
]
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
EVIL_PART = 'xcvu13p-flga2577-2-e"; file delete -force ~; #'


def hostile_model(path: Path) -> Path:
    """A 6 -> 5 -> 4 -> 3 QONNX MLP whose every node and tensor name comes from EVIL."""
    spec = MLPSpec(6, QuantSpec(8, 4), (
        LayerSpec(5, QuantSpec(6, 4), QuantSpec(8, 4), True, QuantSpec(6, 3, signed=False)),
        LayerSpec(4, QuantSpec(5, 3), QuantSpec(8, 5), True, QuantSpec(6, 2, signed=False), gemm=False),
        LayerSpec(3, QuantSpec(6, 4), None, False, QuantSpec(8, 3)),
    ))
    m = build_qonnx(spec, np.random.default_rng(7))
    g = m.graph
    # node and tensor names each run through EVIL (an empty tensor name would mean "no input")
    names = iter(e if k < len(EVIL) else f"{e}\n{k}" for k, e in enumerate(EVIL * 8) if e)
    tensors: dict[str, str] = {}
    for n in g.node:
        for t in [*n.input, *n.output]:
            if t and t not in tensors:
                tensors[t] = next(names)
    node_names = iter(e if k < len(EVIL) else f"{e}\n{k}" for k, e in enumerate(EVIL * 8))
    for n in g.node:
        n.name = next(node_names)
        n.input[:] = [tensors.get(t, t) for t in n.input]
        n.output[:] = [tensors.get(t, t) for t in n.output]
    for vi in [*g.input, *g.output, *g.value_info]:
        vi.name = tensors.get(vi.name, vi.name)
    for init in g.initializer:
        init.name = tensors.get(init.name, init.name)
    g.name = f"model\n{INJECTED}"
    assert any(INJECTED in n.name for n in g.node) and any("\n" in t for t in tensors.values())
    onnx.save(m, str(path))
    return path


def l1ml(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hostile")
    out = d / "out"
    compile_model(hostile_model(d / "model.onnx"), out, CompileOptions())
    return out


def code_part(line: str) -> str:
    """A Verilog/C++ line without its // comment (generated code has no // inside strings)."""
    return line.split("//", 1)[0]


def test_identifier_and_comment_text_rules():
    for name in EVIL:
        s = identifier(name)
        assert IDENT.fullmatch(s) and s not in KEYWORDS and "__" not in s and not s.startswith("_"), (name, s)
        assert identifier(name) == s  # deterministic
        c = comment_text(name)
        assert c.startswith("'") and c.endswith("'") and c.isascii() and c.isprintable()
        assert "*/" not in c and "/*" not in c and "??" not in c and "\n" not in c and "\r" not in c
    assert identifier("x" * 500) != identifier("x" * 501) and len(identifier("x" * 500)) < 60
    ns = Namespace(["in_x"])
    got = [ns.fresh(n) for n in ("a-b", "a_b", "a.b", "in_x", "module", "module_")]
    assert got == ["a_b", "a_b_1", "a_b_2", "in_x_1", "module_", "module__1"]
    assert all(is_identifier(n) for n in got[:-1]) and IDENT.fullmatch(got[-1])


def test_generated_verilog_lints_clean_and_holds_no_injected_line(compiled):
    rtl = compiled / "rtl"
    doc = json.loads((rtl / "rtl.json").read_text())
    files = doc["files"]
    assert lint([rtl / f for f in files], doc["top"]) == []
    assert all(IDENT.fullmatch(p["port"]) for p in doc["inputs"] + doc["outputs"])
    assert all(IDENT.fullmatch(f.removesuffix(".v")) for f in files)
    for f in files:
        for k, line in enumerate((rtl / f).read_text().splitlines()):
            where = f"{f}:{k + 1}: {line}"
            code = code_part(line)
            assert line.isascii() and line.isprintable(), where
            assert not line.lstrip().startswith(("module injected", "`define", "`timescale", "#include")), where
            assert '"' not in code and "injected_mod;" not in code, where
            assert "`" not in code or code.strip() in ("`default_nettype none", "`default_nettype wire"), where
            if code.lstrip().startswith("module "):
                assert IDENT.fullmatch(code.split()[1].rstrip("(")), where


def test_hls_project_names_are_identifiers_and_scripts_are_clean(compiled):
    hls = compiled / "hls"
    cfg = yaml.safe_load((hls / "hls4ml_config.yml").read_text())
    layers = cfg["HLSConfig"]["LayerName"]
    assert layers and all(is_identifier(k) for k in layers), list(layers)
    assert cfg["OutputDir"] == str(hls) and cfg["ProjectName"] == "myproject"
    for f in [*hls.glob("*.tcl"), *hls.glob("*.sh"), hls / "hls4ml_config.yml"]:
        text = f.read_text()
        assert "file delete -force ~" not in text and INJECTED not in text and "$(rm" not in text, f
    for f in [*hls.glob("*.cpp"), *(hls / "firmware").glob("*.cpp"), *(hls / "firmware").glob("*.h")]:
        for k, line in enumerate(f.read_text().splitlines()):
            code = code_part(line)
            assert not line.lstrip().startswith(("module injected", "#include <evil")), f"{f.name}:{k + 1}"
            assert "injected_mod;" not in code and "main() { return 1" not in code, f"{f.name}:{k + 1}"
    top = (hls / "firmware" / "myproject.h").read_text()
    args = re.search(r"void myproject\((.*?)\);", top, re.S)[1]
    assert all(IDENT.fullmatch(a.split()[-1].split("[")[0]) for a in args.split(",")), args


def test_report_markdown_holds_names_only_as_escaped_text(compiled):
    """report.md lists every ONNX name; none may start a line or break the layer table."""
    lines = (compiled / "report.md").read_text().splitlines()
    assert not [ln for ln in lines if ln.lstrip().startswith(("module injected", "<", "#include"))]
    start = lines.index("| node | onnx | op | input type | output type | shape | weight | mults |") + 2
    rows = lines[start:lines.index("", start)]
    assert rows and all(ln.count("|") == 9 for ln in rows), rows


def test_hostile_names_are_bit_exact_at_every_level(compiled):
    r = l1ml("verify", compiled, "--levels", "qonnx,hls,rtl", "--vectors", "300")
    assert r.returncode == 0, r.stdout + r.stderr
    for level in ("qonnx", "hls", "rtl"):
        assert f"{level}: 300 vectors, 0 mismatches" in r.stdout, r.stdout


@pytest.mark.parametrize("opts", [
    {"part": EVIL_PART}, {"part": "xcvu13p flga2577"}, {"part": "xc7k325t-ffg900-2"}, {"part": ""},
    {"clock_ns": float("nan")}, {"clock_ns": float("inf")}, {"clock_ns": -5.0}, {"clock_ns": 0.0},
    {"hls_backend": "Vitis; rm -rf ~"}, {"strategy": "Latency\n"}, {"project": "my project"},
    {"project": "int"}, {"project": "x\nfile delete ~"}, {"project": "1st"},
])
def test_option_values_off_their_grammar_are_refused(opts):
    with pytest.raises(L1MLError) as e:
        CompileOptions(**opts)
    assert "\n" not in str(e.value)
    assert CompileOptions(part="xcvu9p-flga2104-2L-e").part == "xcvu9p-flga2104-2L-e"


def test_cli_refuses_a_malicious_part_before_writing_anything(tmp_path, example_model):
    out = tmp_path / "out"
    r = l1ml("compile", example_model, "-o", out, "--part", EVIL_PART)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("error: ") or "error:" in r.stdout + r.stderr
    assert "xcvu13p" in r.stdout + r.stderr and "Traceback" not in r.stderr
    assert sorted(tmp_path.iterdir()) == []
    r = l1ml("estimate", example_model, "--part", EVIL_PART)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stdout + r.stderr
