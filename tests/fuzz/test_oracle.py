"""The fuzz oracle's own judgement, on hand-made outputs: a fuzzer that cannot see an injection or a
mismatch would report a clean table for a broken compiler."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fuzz.harness import Outcome, Step, injected_lines, named_error, snapshot, verify_outcome


def test_injected_code_is_found_outside_comments_and_strings(tmp_path: Path) -> None:
    (tmp_path / "rtl").mkdir()
    (tmp_path / "hls").mkdir()
    (tmp_path / "rtl" / "a.v").write_text(
        "// module L1MLFUZZ_a\n/* x */ wire a; /* module L1MLFUZZ_b */\nwire t_module_L1MLFUZZ;\n"
        "module L1MLFUZZ_c; endmodule\n")
    (tmp_path / "hls" / "b.cpp").write_text(
        'const char* s = "int L1MLFUZZ_x";\n// int L1MLFUZZ_y\n#include "L1MLFUZZ.h"\nint L1MLFUZZ_z = 1;\n')
    (tmp_path / "hls" / "c.tcl").write_text("# puts L1MLFUZZ_a\nset_part {x}\nputs L1MLFUZZ_b\n")
    hits = injected_lines(tmp_path)
    assert len(hits) == 4
    assert any("module L1MLFUZZ_c" in h for h in hits) and any("L1MLFUZZ_z" in h for h in hits)
    assert any("L1MLFUZZ.h" in h for h in hits) and any("puts L1MLFUZZ_b" in h for h in hits)


def test_sanitised_names_and_comments_are_not_injections(tmp_path: Path) -> None:
    (tmp_path / "top.v").write_text("// node: n (onnx: n */ module L1MLFUZZ_c; endmodule /* )\n"
                                    "wire [3:0] t_n_module_L1MLFUZZ_injected;\n")
    assert injected_lines(tmp_path) == []


def test_named_error() -> None:
    assert named_error("error: node 'x': bit width 0\n") == "error: node 'x': bit width 0"
    assert named_error("Usage: l1ml verify\n\nError: Invalid value: unknown level\n").startswith("Error:")
    assert named_error("Traceback (most recent call last):\nValueError: boom\n") is None


def _verify(tmp_path: Path, rc: int, levels: dict) -> tuple[Outcome, str]:
    (tmp_path / "verify.json").write_text(json.dumps({"levels": levels}))
    return verify_outcome(tmp_path, Step(["l1ml", "verify"], str(tmp_path), rc, 1.0, ""))


def test_verify_outcomes(tmp_path: Path) -> None:
    ok = {"mismatches": 0, "vectors": 10, "note": ""}
    rounding = {"mismatches": 3, "vectors": 10, "note": "qonnx executes in float32 ... qonnx rounding"}
    bad = {"mismatches": 2, "vectors": 10, "note": "", "first_mismatches": ["hls: vector 1"]}
    assert _verify(tmp_path, 0, {"qonnx": ok, "hls": ok})[0] is Outcome.EXACT
    assert _verify(tmp_path, 0, {"qonnx": rounding, "hls": ok})[0] is Outcome.EXACT
    assert _verify(tmp_path, 1, {"qonnx": rounding, "hls": ok})[0] is Outcome.OTHER
    assert _verify(tmp_path, 1, {"qonnx": ok, "hls": bad})[0] is Outcome.WRONG
    assert _verify(tmp_path, 1, {"qonnx": {**bad, "note": ""}, "hls": ok})[0] is Outcome.WRONG
    assert _verify(tmp_path, 0, {"qonnx": ok, "rtl": bad})[0] is Outcome.WRONG


def test_snapshot_sees_content_and_symlink_changes(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("a")
    (tmp_path / "l").symlink_to(tmp_path / "d")
    before = snapshot(tmp_path)
    (tmp_path / "d" / "f").write_text("b")
    (tmp_path / "l").unlink()
    (tmp_path / "l").symlink_to(tmp_path)
    after = snapshot(tmp_path)
    assert {k for k in before if after.get(k) != before[k]} == {"d/f", "l"}
