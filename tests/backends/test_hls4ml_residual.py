"""A residual model (two quantized branches with different fixed-point grids joined by ``+``), exported
by Brevitas: it compiles, and the hls4ml project (Merge, op 'add') equals the emulator bit for bit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from l1ml.frontend.qonnx import from_qonnx
from l1ml.ir.ops import Op
from l1ml.ir.types import add_type
from l1ml.passes import run_pipeline


def residual_model(path, seed: int = 0):
    """x -> fc1 -> relu -> fc2 -> 7-bit quantizer, plus a 5-bit quantizer of x, added, then fc3."""
    import torch
    from brevitas.export import export_qonnx
    from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8BiasPerTensorFixedPointInternalScaling,
        Int8WeightPerTensorFixedPoint,
        Uint8ActPerTensorFixedPoint,
    )
    from torch import nn

    torch.manual_seed(seed)
    lin = dict(weight_quant=Int8WeightPerTensorFixedPoint,
               bias_quant=Int8BiasPerTensorFixedPointInternalScaling.let(bit_width=12))

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint)
            self.fc1 = QuantLinear(6, 6, **lin)
            self.relu1 = QuantReLU(act_quant=Uint8ActPerTensorFixedPoint.let(bit_width=6,
                                                                             float_to_int_impl_type="FLOOR"))
            self.fc2 = QuantLinear(6, 6, **lin)
            self.branch = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint.let(bit_width=7))
            self.skip = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint.let(bit_width=5))
            self.join = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint)
            self.fc3 = QuantLinear(6, 3, **lin)

        def forward(self, x):
            x = self.inp(x)
            h = self.branch(self.fc2(self.relu1(self.fc1(x))))
            return self.fc3(self.join(h + self.skip(x)))

    m = Residual()
    m.train()
    with torch.no_grad():  # calibrate the activation scales on some data
        for _ in range(20):
            m(torch.randn(64, 6) * 2)
    m.eval()
    export_qonnx(m, torch.zeros(1, 6), str(path))
    return path


def l1ml(*args):
    return subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    d = tmp_path_factory.mktemp("residual")
    model = residual_model(d / "residual.onnx")
    g = run_pipeline(from_qonnx(model))
    r = l1ml("compile", model, "-o", d / "out")
    assert r.returncode == 0, r.stderr
    return g, d / "out"


def test_the_add_joins_two_grids_with_the_exact_sum_type(compiled):
    g, out = compiled
    [add] = [n for n in g.nodes if n.op is Op.ADD]
    a, b = (g.t(i).type for i in add.inputs)
    assert a.frac != b.frac, "the branches should sit on different grids, or alignment is not tested"
    assert g.t(add.outputs[0]).type == add_type(a.plain(), b.plain())
    src = "".join(p.read_text() for p in (out / "hls" / "firmware").glob("*.cpp"))
    assert "nnet::add<" in src


def test_residual_is_bit_exact_at_qonnx_and_hls(compiled):
    _, out = compiled
    r = l1ml("verify", out, "--vectors", "2000", "--levels", "qonnx,hls")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "qonnx: 2000 vectors, 0 mismatches" in r.stdout and "hls: 2000 vectors, 0 mismatches" in r.stdout
    assert json.loads((out / "verify.json").read_text())["passed"]


@pytest.mark.slow
def test_residual_is_bit_exact_at_rtl(compiled):
    _, out = compiled
    r = l1ml("verify", out, "--vectors", "500", "--levels", "rtl")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rtl: 500 vectors, 0 mismatches" in r.stdout
