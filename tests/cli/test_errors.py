"""User errors: a short message naming the file/node and the remedy, exit code 2, no traceback,
and no output directory left behind."""

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import helper

from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec, build_qonnx

SPEC = MLPSpec(4, QuantSpec(8, 4), (LayerSpec(3, QuantSpec(6, 4), QuantSpec(8, 4), True,
                                              QuantSpec(6, 2, signed=False, rounding="FLOOR")),))


def run_cli(*args, cwd=None):
    exe = [sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)]
    return subprocess.run(exe, capture_output=True, text=True, cwd=cwd)


def float_stage_model(path, op="Tanh", name="my_tanh"):
    """SPEC's model with ``op`` before its output: a Tanh there has no quantizer after it."""
    m = build_qonnx(SPEC, np.random.default_rng(0))
    out = m.graph.node[-1]  # the final Identity
    node = helper.make_node(op, [out.input[0]], ["t"], name=name)
    out.input[0] = "t"
    m.graph.node.insert(len(m.graph.node) - 1, node)
    onnx.save(m, str(path))


def unsupported_op_model(path):
    float_stage_model(path, "Erf", "my_erf")


CASES = {
    "missing": (lambda p: None, ["no such file"]),
    "not_onnx": (lambda p: p.write_text("this is not a protobuf\n" * 10), ["not a readable ONNX model"]),
    "float_stage": (float_stage_model, ["my_tanh", "not followed by a quantizer", "QuantIdentity"]),
    "unsupported": (unsupported_op_model, ["op 'Erf' is not supported", "my_erf", "Supported:"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_inputs_exit_2_with_named_error_and_no_output(tmp_path, case):
    make, needles = CASES[case]
    model = tmp_path / "model.onnx"
    make(model)
    out = tmp_path / "out"
    r = run_cli("compile", model, "-o", out)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    text = " ".join(r.stderr.split())
    for n in needles:
        assert n in text, text
    assert str(model.name) in text or case != "missing"
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_verify_on_a_directory_that_was_not_compiled(tmp_path):
    r = run_cli("verify", tmp_path)
    assert r.returncode == 2 and "l1ml compile" in r.stderr and "Traceback" not in r.stderr


def test_unknown_level_is_a_usage_error(tmp_path):
    r = run_cli("verify", tmp_path, "--levels", "qonnx,fpga")
    assert r.returncode == 2 and "unknown level 'fpga'" in " ".join(r.stderr.split())


def test_help_teaches_and_every_command_is_mounted():
    r = run_cli("--help")
    assert r.returncode == 0
    for word in ("compile", "verify", "emulate", "estimate", "demo", "train", "rtl", "simulate", "offline",
                 "reweight", "surrogate", "build", "cosim"):
        assert f"│ {word} " in r.stdout, word
    r = run_cli("train", "--help")
    for word in ("tabular", "hgcal-cnn", "track-gnn"):
        assert f"│ {word} " in r.stdout, word
    r = run_cli("compile", "--help")
    assert "Example" in r.stdout and "--part" in r.stdout


def test_unknown_demo_model_is_refused_before_any_work(tmp_path):
    r = run_cli("demo", "--model", "bdt", "-w", tmp_path / "w")
    assert r.returncode == 2 and "unknown demo model 'bdt'" in r.stderr
    assert not (tmp_path / "w").exists()
