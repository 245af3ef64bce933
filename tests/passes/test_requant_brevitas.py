"""The issue's proof on real Brevitas 0.13 QAT models: (a) trained BatchNorm1d between layers with 4-bit
activations, (b) Brevitas' default float-scale quantizers, (c) a Sigmoid output quantized to 8 bits,
and (d) the zoo's autoencoder with a skip connection whose output is the squared-distance score.
Each goes through `l1ml compile` and `l1ml verify --vectors 10000` with 0 mismatches; qonnx's float32
rounding differences are counted apart (``qonnx_rounding``) and explained."""

import json
import subprocess
import sys

import pytest

from l1ml.models.requant_examples import (
    batchnorm_mlp,
    conv_batchnorm_float,
    default_float_mlp,
    sigmoid_mlp,
    skip_autoencoder,
)

REQUANT = {"batchnorm": batchnorm_mlp, "default_float": default_float_mlp, "sigmoid": sigmoid_mlp}
BUILDERS = {**REQUANT, "autoencoder": skip_autoencoder}


def l1ml(*args):
    return subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    root = tmp_path_factory.mktemp("requant_brevitas")
    out = {}
    for name, build in BUILDERS.items():
        onnx_path = build(root / f"{name}.onnx")
        r = l1ml("compile", onnx_path, "-o", root / name)
        assert r.returncode == 0, r.stderr
        out[name] = root / name
    return out


@pytest.mark.parametrize("name", sorted(REQUANT))
def test_compile_reports_the_requant_layers(compiled, name):
    g = json.loads((compiled[name] / "model.l1ml.json").read_text())
    ops = [n["op"] for n in g["nodes"]]
    assert "Requant" in ops and not {"Affine", "BatchNorm", "Sigmoid", "Quant"} & set(ops)
    md = (compiled[name] / "report.md").read_text()
    assert "## Requantisation" in md and "proven" in md


def test_autoencoder_ends_in_the_squared_distance_score(compiled):
    g = json.loads((compiled["autoencoder"] / "model.l1ml.json").read_text())
    ops = [n["op"] for n in g["nodes"]]
    assert ops[-3:] == ["Sub", "Mul", "ReduceSum"], ops
    square = g["nodes"][-2]
    assert square["inputs"][0] == square["inputs"][1]  # Mul(d, d)
    assert ops.count("Add") == 1  # the skip


def _verify(out, levels):
    r = l1ml("verify", out, "--vectors", "10000", "--levels", levels)
    doc = json.loads((out / "verify.json").read_text())
    return r, doc


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_verify_qonnx_and_hls_10000_vectors_zero_mismatches(compiled, name):
    r, doc = _verify(compiled[name], "qonnx,hls")
    assert r.returncode == 0, r.stdout + r.stderr
    for level in ("qonnx", "hls"):
        assert doc["levels"][level]["vectors"] == 10000 and doc["levels"][level]["mismatches"] == 0
    q = doc["levels"]["qonnx"]
    if name in ("batchnorm", "autoencoder"):  # power-of-two scales: qonnx's float32 is exact here
        assert q["qonnx_rounding"] == 0
    if q["qonnx_rounding"]:
        assert "float-scale" in q["note"]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_verify_rtl_10000_vectors_zero_mismatches(compiled, name):
    r, doc = _verify(compiled[name], "rtl")
    assert r.returncode == 0, r.stdout + r.stderr
    assert doc["levels"]["rtl"]["vectors"] == 10000 and doc["levels"]["rtl"]["mismatches"] == 0


def test_cnn_with_batchnorm2d_and_float_scales_equals_qonnx(tmp_path):
    """Conv2d + BatchNorm2d + float scales through MaxPool and Flatten: exact at the qonnx level (emulator
    vs qonnx, float32 differences classified by the float64 re-execution) on corner and random vectors."""
    import numpy as np

    from l1ml.backends.emulate import Emulator, input_codes, to_onnx_layout
    from l1ml.frontend.qonnx import from_qonnx
    from l1ml.ir.quantize import graph_scale, scaled_real
    from l1ml.passes import run_pipeline
    from l1ml.verify.qonnx_level import classify, run_qonnx
    from l1ml.verify.vectors import make_vectors

    path = conv_batchnorm_float(tmp_path / "cnn.onnx")
    g = run_pipeline(from_qonnx(path))
    assert [n.op.value for n in g.nodes].count("Requant") == 2
    x = make_vectors(g, 2000, seed=3)
    codes = Emulator(g).run_codes(input_codes(g, x))[g.outputs[0]]
    scale = graph_scale(g.meta, g.outputs[0])
    exact = scaled_real(codes, g.t(g.outputs[0]).type, scale)
    as32 = exact.astype(np.float32).astype(np.float64)
    ox = {g.inputs[0]: to_onnx_layout(g, x)}
    actual = run_qonnx(path, ox).astype(np.float64).reshape(as32.shape)
    cmp = classify(g, path, ox, as32, actual, exact=exact)
    assert len(cmp.mismatches) == 0 and not cmp.float64_error
    assert len(cmp.rounding) < len(x) // 4  # the near-tie inputs, not a systematic difference
