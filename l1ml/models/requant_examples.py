"""Brevitas QAT models with non-power-of-two factors, trained briefly on toy data and exported to QONNX,
as users export them first: (a) trained BatchNorm1d between layers, 4-bit activations; (b) the library's
default float-scale quantizers; (c) a Sigmoid output quantized to 8 bits; and (d) the zoo's
autoencoder with its skip connection and squared-distance score. Small on purpose (each trains
in about a second); the tests and docs/requantization.md compile and verify them."""

from __future__ import annotations

from pathlib import Path


def _toy(n_in: int, seed: int):
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(512, n_in, generator=g)
    y = (x[:, :3].sum(dim=1, keepdim=True) > 0).float()
    return x, y


def _train(model, x, y, steps: int = 60, loss: str = "bce") -> None:
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        out = model(x)
        out = out.value if hasattr(out, "value") else out
        if loss == "bce":
            err = torch.nn.functional.binary_cross_entropy(out.clamp(1e-4, 1 - 1e-4), y)
        else:
            err = torch.nn.functional.mse_loss(out[:, :1], y)
        err.backward()
        opt.step()
    model.eval()


def _export(model, n_in: int, path: Path) -> Path:
    import torch
    from brevitas.export import export_qonnx

    export_qonnx(model, torch.zeros(1, n_in), str(path))
    return path


def batchnorm_mlp(path: Path, seed: int = 0) -> Path:
    """Fixed-point (power-of-two) quantizers, 4-bit activations, a trained BatchNorm1d after each hidden
    Linear: gamma / sqrt(var + eps) is not a power of two."""
    import torch
    from brevitas import nn as qnn
    from torch import nn

    from l1ml.models.quantizers import zoo_quantizers

    torch.manual_seed(seed)
    z = zoo_quantizers(8, 6, 12, 4)
    m = nn.Sequential(
        qnn.QuantIdentity(act_quant=z.inp),
        qnn.QuantLinear(8, 12, bias=True, weight_quant=z.weight, bias_quant=z.bias),
        nn.BatchNorm1d(12),
        qnn.QuantReLU(act_quant=z.act),
        qnn.QuantLinear(12, 6, bias=True, weight_quant=z.weight, bias_quant=z.bias),
        nn.BatchNorm1d(6),
        qnn.QuantReLU(act_quant=z.act),
        qnn.QuantLinear(6, 2, bias=True, weight_quant=z.weight, bias_quant=z.bias),
        qnn.QuantIdentity(act_quant=z.inp),
    )
    x, y = _toy(8, seed)
    _train(m, x, y, loss="mse")
    return _export(m, 8, path)


def default_float_mlp(path: Path, seed: int = 0) -> Path:
    """Brevitas defaults: Int8WeightPerTensorFloat weights, Int8ActPerTensorFloat input and output,
    Uint8ActPerTensorFloat after each ReLU, float (unquantized) biases."""
    import torch
    from brevitas import nn as qnn
    from torch import nn

    torch.manual_seed(seed)
    m = nn.Sequential(
        qnn.QuantIdentity(),
        qnn.QuantLinear(8, 16, bias=True),
        qnn.QuantReLU(),
        qnn.QuantLinear(16, 8, bias=True),
        qnn.QuantReLU(),
        qnn.QuantLinear(8, 2, bias=True),
        qnn.QuantIdentity(),
    )
    x, y = _toy(8, seed)
    _train(m, x, y, loss="mse")
    return _export(m, 8, path)


def sigmoid_mlp(path: Path, seed: int = 0, per_channel: bool = False) -> Path:
    """Default float quantizers with a Sigmoid output quantized to 8 bits (QuantSigmoid: Uint8 float
    scale); ``per_channel``: per-channel float weight scales."""
    import torch
    from brevitas import nn as qnn
    from brevitas.quant import Int8WeightPerChannelFloat, Int8WeightPerTensorFloat
    from torch import nn

    torch.manual_seed(seed)
    wq = Int8WeightPerChannelFloat if per_channel else Int8WeightPerTensorFloat
    m = nn.Sequential(
        qnn.QuantIdentity(),
        qnn.QuantLinear(8, 12, bias=True, weight_quant=wq),
        qnn.QuantReLU(),
        qnn.QuantLinear(12, 3, bias=True, weight_quant=wq),
        qnn.QuantSigmoid(),
    )
    x, y = _toy(8, seed)
    _train(m, x, y.repeat(1, 3))
    return _export(m, 8, path)


def conv_batchnorm_float(path: Path, seed: int = 0) -> Path:
    """Default float quantizers on a small CNN: QuantConv2d -> BatchNorm2d -> QuantReLU -> MaxPool ->
    Flatten -> QuantLinear -> QuantIdentity (the float scales travel through the pool and the reshape)."""
    import torch
    from brevitas import nn as qnn
    from brevitas.export import export_qonnx
    from torch import nn

    torch.manual_seed(seed)
    m = nn.Sequential(qnn.QuantIdentity(), qnn.QuantConv2d(2, 4, 3, bias=True), nn.BatchNorm2d(4), qnn.QuantReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), qnn.QuantLinear(64, 3, bias=True), qnn.QuantIdentity())
    x = torch.randn(64, 2, 10, 10, generator=torch.Generator().manual_seed(seed))
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    m.train()
    for _ in range(20):
        opt.zero_grad()
        out = m(x)
        (out.value if hasattr(out, "value") else out).pow(2).mean().backward()
        opt.step()
    m.eval()
    export_qonnx(m, torch.zeros(1, 2, 10, 10), str(path))
    return path


def skip_autoencoder(path: Path, seed: int = 0) -> Path:
    """The zoo's anomaly autoencoder (l1ml.models.anomaly) at a small size, 16 -> 12 -> 4 -> 8 (skip) 8
    -> 16, trained briefly to reconstruct Gaussian noise; the exported output is the squared-distance
    score (Sub, Mul(d, d), ReduceSum) and the skip is an Add of two quantized ReLU outputs."""
    import torch

    from l1ml.models.anomaly import AEShape, autoencoder

    torch.manual_seed(seed)
    shape = AEShape(n_in=16, encoder=(12,), latent=4, decoder=8)
    m = autoencoder(shape, quant=True)
    x = 0.5 * torch.randn(512, shape.n_in, generator=torch.Generator().manual_seed(seed))
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    m.train()
    for _ in range(60):
        opt.zero_grad()
        m(x).mean().backward()
        opt.step()
    return _export(m, shape.n_in, path)


if __name__ == "__main__":  # pragma: no cover - for building by hand
    import sys

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for f in (batchnorm_mlp, default_float_mlp, sigmoid_mlp, skip_autoencoder):
        print(f(out / f"{f.__name__}.onnx"))
