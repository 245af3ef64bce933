"""Train and export the two small QONNX models of the pytest-plugin example (run once; the .onnx files
are committed). ``model.onnx`` is the model under test; ``retrained.onnx`` is the same network trained
again with another seed, to show the golden-vector regression catching a swapped model file.

    python examples/plugin/make_models.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def toy_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian blobs in 8 features."""
    centres = rng.normal(0.0, 1.5, size=(3, 8))
    y = rng.integers(0, 3, size=n)
    x = centres[y] + rng.normal(0.0, 1.0, size=(n, 8))
    return x.astype(np.float32), y


def train_and_export(path: Path, seed: int, steps: int) -> None:
    import brevitas.nn as qnn
    import torch
    from brevitas.export import export_qonnx
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8BiasPerTensorFixedPointInternalScaling,
        Int8WeightPerTensorFixedPoint,
        Uint8ActPerTensorFixedPoint,
    )

    torch.manual_seed(seed)
    w6 = Int8WeightPerTensorFixedPoint.let(bit_width=6)
    bias8 = Int8BiasPerTensorFixedPointInternalScaling
    relu6 = Uint8ActPerTensorFixedPoint.let(bit_width=6, float_to_int_impl_type="FLOOR")
    model = torch.nn.Sequential(
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True),
        qnn.QuantLinear(8, 12, bias=True, weight_quant=w6, bias_quant=bias8, return_quant_tensor=False),
        qnn.QuantReLU(act_quant=relu6, return_quant_tensor=True),
        qnn.QuantLinear(12, 3, bias=True, weight_quant=w6, bias_quant=bias8, return_quant_tensor=False),
    )
    x, y = toy_data(np.random.default_rng(0), 2048)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(xt), (128,))
        loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    export_qonnx(model, torch.zeros(1, 8), str(path))
    import onnx

    onnx.save(onnx.load(str(path)), str(path), save_as_external_data=False)  # one self-contained file
    for extra in path.parent.glob(path.name + ".data"):
        extra.unlink()


if __name__ == "__main__":
    train_and_export(HERE / "model.onnx", seed=1, steps=150)
    train_and_export(HERE / "retrained.onnx", seed=2, steps=300)
