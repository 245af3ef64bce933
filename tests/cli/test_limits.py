"""Out-of-range sizes and option values are refused at once: exit 2, one line naming the limit, no
traceback, nothing written. Without the limits, `--reuse-factor 99999999999` ran on and on and
`--vectors 1000000000` died allocating 119 GiB."""

import subprocess
import sys

import pytest

from l1ml import limits
from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec, write_random_mlp


def run_cli(*args, cwd=None):
    exe = [sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)]
    return subprocess.run(exe, capture_output=True, text=True, cwd=cwd, timeout=120)


def assert_refused(r, *needles):
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def dense_model(path, n_in, n_out):
    spec = MLPSpec(n_in, QuantSpec(8, 4), (LayerSpec(n_out, QuantSpec(4, 2), None, False, QuantSpec(8, 2)),))
    return write_random_mlp(path, spec)


COMPILE_CASES = {
    "reuse": (["--reuse-factor", "99999999999"], ["--reuse-factor 99999999999", "MAX_REUSE_FACTOR", "4096"]),
    "reuse-just-over": (["--reuse-factor", str(limits.MAX_REUSE_FACTOR + 1)], ["MAX_REUSE_FACTOR"]),
    "clock-nan": (["--clock-ns", "nan"], ["--clock-ns nan", "MIN_CLOCK_NS"]),
    "clock-inf": (["--clock-ns", "inf"], ["--clock-ns inf", "MAX_CLOCK_NS"]),
    "clock-negative": (["--clock-ns", "-5"], ["--clock-ns -5", "MIN_CLOCK_NS"]),
    "clock-tiny": (["--clock-ns", "0.01"], ["MIN_CLOCK_NS"]),
    "stages-negative": (["--pipeline-stages", "-1"], ["--pipeline-stages -1", "MAX_PIPELINE_STAGES"]),
    "stages-huge": (["--pipeline-stages", "1000"], ["MAX_PIPELINE_STAGES"]),
    "tmux-zero": (["--tmux", "0"], ["--tmux 0", "MAX_TMUX"]),
    "tmux-huge": (["--tmux", "100000"], ["--tmux 100000", "MAX_TMUX"]),
    "budget-inf": (["--latency-budget-ns", "inf"], ["--latency-budget-ns inf", "MAX_BUDGET_NS"]),
    "budget-zero": (["--total-budget-ns", "0"], ["--total-budget-ns 0", "MAX_BUDGET_NS"]),
    "budget-nan": (["--latency-budget-ns", "nan"], ["--latency-budget-ns nan"]),
}


@pytest.mark.parametrize("case", sorted(COMPILE_CASES))
def test_compile_refuses_out_of_range_options_and_writes_nothing(tmp_path, example_model, case):
    args, needles = COMPILE_CASES[case]
    out = tmp_path / "out"
    r = run_cli("compile", example_model, "-o", out, *args)
    assert_refused(r, *needles)
    assert list(tmp_path.iterdir()) == []


def test_compile_refuses_a_model_over_the_parameter_limit(tmp_path):
    model = dense_model(tmp_path / "big.onnx", 1000, 1001)  # 1,001,000 weights
    out = tmp_path / "out"
    r = run_cli("compile", model, "-o", out)
    assert_refused(r, "1,001,000 constants", "MAX_PARAMETERS = 1,000,000")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.onnx"]


def test_compile_refuses_an_input_over_the_tensor_limit(tmp_path):
    model = dense_model(tmp_path / "wide.onnx", limits.MAX_TENSOR_ELEMENTS + 1, 1)
    r = run_cli("compile", model, "-o", tmp_path / "out")
    assert_refused(r, "tensor 'x'", "1,000,001 values per event", "MAX_TENSOR_ELEMENTS")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wide.onnx"]


@pytest.mark.parametrize("args,needles", [
    (["--vectors", "1000000000"], ["--vectors 1000000000", "MAX_VECTORS", "10,000,000"]),
    (["--vectors", "0"], ["--vectors 0", "MAX_VECTORS"]),
    (["--seed", "-1"], ["--seed -1", "MAX_SEED"]),
])
def test_verify_refuses_before_reading_anything(tmp_path, args, needles):
    # the directory is not even a compile output: the limit is checked first, instantly
    r = run_cli("verify", tmp_path, *args)
    assert_refused(r, *needles)
    assert list(tmp_path.iterdir()) == []


def test_vectors_are_limited_by_input_values_per_event(tmp_path):
    model = dense_model(tmp_path / "m.onnx", 200_000, 1)  # 200,000 inputs: 1,000 events exceed 2**27 values
    r = run_cli("rtl", "check", model, tmp_path / "rtl", "--vectors", "1000")
    assert_refused(r, "1,000 vectors of 200,000 input values", "MAX_VECTOR_VALUES", "at most 671 vectors")


@pytest.mark.parametrize("args,needles", [
    (["--reuse-factor", "99999999999"], ["MAX_REUSE_FACTOR"]),
    (["--clock-ns", "0"], ["--clock-ns 0", "MIN_CLOCK_NS"]),
    (["--tmux", "-3"], ["--tmux -3", "MAX_TMUX"]),
    (["--resource-fraction", "1.5"], ["--resource-fraction 1.5"]),
    (["--sweep", "reuse=1,2,99999999"], ["sweep reuse 99999999", "MAX_REUSE_FACTOR"]),
    (["--sweep", "clock=2.5,inf"], ["sweep clock inf", "MAX_CLOCK_NS"]),
])
def test_estimate_refuses_out_of_range_options(tmp_path, example_model, args, needles):
    r = run_cli("estimate", example_model, *args, "-o", tmp_path / "est")
    assert_refused(r, *needles)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args,needles", [
    (["--reuse-factor", "5000"], ["--reuse-factor 5000", "MAX_REUSE_FACTOR"]),
    (["--pipeline-stages", "65"], ["--pipeline-stages 65", "MAX_PIPELINE_STAGES"]),
    (["--clock-ns", "2000"], ["--clock-ns 2000", "MAX_CLOCK_NS"]),
])
def test_rtl_write_refuses_out_of_range_options(tmp_path, example_model, args, needles):
    r = run_cli("rtl", "write", example_model, "-o", tmp_path / "rtl", *args)
    assert_refused(r, *needles)
    assert list(tmp_path.iterdir()) == []


def test_demo_refuses_vectors_before_simulating(tmp_path):
    r = run_cli("demo", "-w", tmp_path / "w", "--qonnx-vectors", "1000000000")
    assert_refused(r, "--qonnx-vectors 1000000000", "MAX_VECTORS")
    assert list(tmp_path.iterdir()) == []


def help_text(*command):
    """The help as one line of words, without rich's box-drawing borders."""
    return " ".join(w for w in run_cli(*command, "--help").stdout.split() if w != "│")


def test_the_limits_are_stated_in_help():
    text = help_text("compile")
    for needle in (f"At most {limits.MAX_REUSE_FACTOR}", f"{limits.MIN_CLOCK_NS:g} to {limits.MAX_CLOCK_NS:g} ns",
                   f"0 to {limits.MAX_PIPELINE_STAGES}", f"1 to {limits.MAX_TMUX}"):
        assert needle in text, needle
    text = help_text("verify")
    assert f"{limits.MAX_VECTORS:,}" in text
