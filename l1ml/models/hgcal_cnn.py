"""The HGCal cluster CNN: a fixed-point Brevitas ConvNet for EM / hadronic / pileup clusters, and its
float twin.

In the spirit of the ECON-T autoencoder's encoder (one 3×3 convolution over the 8×8 trigger-cell
image, then dense layers): input (N, 4, 8, 8) channels-first as PyTorch and the exported QONNX see it.
Every quantizer is fixed-point (power-of-two scales) so the export maps exactly onto ap_fixed types;
hidden activations truncate (FLOOR), the input quantizer rounds (it stands for the digitisation before
the firmware). No BatchNorm: a trained BatchNorm cannot be folded exactly into fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

# torch is imported inside the functions so that the CLI can use ``Downsample`` without loading it


class Downsample(Enum):
    """How each convolution halves the image."""

    STRIDE = "stride"  # 3×3 convolution with stride 2
    MAXPOOL = "maxpool"  # 3×3 convolution with stride 1, then 2×2 max pooling


@dataclass(frozen=True)
class CNNShape:
    """Layer sizes and bit widths of the CNN (channels-first image of ``in_channels`` × size × size)."""

    in_channels: int = 4
    size: int = 8  # image height = width
    conv_channels: tuple[int, ...] = (8,)
    downsample: Downsample = Downsample.STRIDE
    dense: tuple[int, ...] = (16,)
    n_out: int = 3
    input_bits: int = 8
    weight_bits: int = 6
    bias_bits: int = 8
    act_bits: int = 8

    def flat_features(self) -> int:
        """Features entering the dense head: each convolution (padding 1) halves the image."""
        side = self.size
        for _ in self.conv_channels:
            side = (side + 1) // 2
        return self.conv_channels[-1] * side * side


def _conv_block(s: CNNShape, c_in: int, c_out: int, conv: type, **kw) -> list[nn.Module]:
    """A convolution that halves the image: stride 2, or stride 1 then 2×2 max pooling."""
    stride = 2 if s.downsample is Downsample.STRIDE else 1
    return [conv(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=True, **kw)]


def float_cnn(s: CNNShape) -> nn.Sequential:
    from torch import nn

    layers: list[nn.Module] = []
    prev = s.in_channels
    for c in s.conv_channels:
        layers += _conv_block(s, prev, c, nn.Conv2d) + [nn.ReLU()]
        if s.downsample is Downsample.MAXPOOL:
            layers.append(nn.MaxPool2d(2))
        prev = c
    layers.append(nn.Flatten())
    prev = s.flat_features()
    for h in s.dense:
        layers += [nn.Linear(prev, h), nn.ReLU()]
        prev = h
    layers.append(nn.Linear(prev, s.n_out))
    return nn.Sequential(*layers)


def qat_cnn(s: CNNShape) -> nn.Sequential:
    """The Brevitas twin of ``float_cnn``: the same layers in the same order after an input quantizer."""
    import brevitas.nn as qnn
    from torch import nn

    from l1ml.models.quantizers import zoo_quantizers

    q = zoo_quantizers(s.input_bits, s.weight_bits, s.bias_bits, s.act_bits)
    inp, w, b, act = q.inp, q.weight, q.bias, q.act
    wq = {"weight_quant": w, "bias_quant": b, "return_quant_tensor": False}
    layers: list[nn.Module] = [qnn.QuantIdentity(act_quant=inp, return_quant_tensor=True)]
    prev = s.in_channels
    for c in s.conv_channels:
        layers += _conv_block(s, prev, c, qnn.QuantConv2d, **wq)
        layers.append(qnn.QuantReLU(act_quant=act, return_quant_tensor=True))
        if s.downsample is Downsample.MAXPOOL:
            # max commutes with the FLOOR quantizer before it, so pooling needs no quantizer of its own;
            # Brevitas passes the QuantTensor through torch's MaxPool2d unchanged
            layers.append(nn.MaxPool2d(2))
        prev = c
    layers.append(nn.Flatten())
    prev = s.flat_features()
    for h in s.dense:
        layers += [qnn.QuantLinear(prev, h, bias=True, **wq),
                   qnn.QuantReLU(act_quant=act, return_quant_tensor=True)]
        prev = h
    layers.append(qnn.QuantLinear(prev, s.n_out, bias=True, **wq))
    return nn.Sequential(*layers)


def init_from_float(q: nn.Sequential, f: nn.Sequential) -> None:
    """Start QAT from the trained float twin's weights (QuantConv2d / QuantLinear subclass the torch layers)."""
    import torch
    from torch import nn

    kinds = (nn.Conv2d, nn.Linear)
    fl = [m for m in f if isinstance(m, kinds)]
    ql = [m for m in q if isinstance(m, kinds)]
    with torch.no_grad():
        for a, b in zip(ql, fl, strict=True):
            a.weight.copy_(b.weight)
            a.bias.copy_(b.bias)


def export(q: nn.Sequential, s: CNNShape, path: str) -> None:
    """QONNX export with a batch-1, channels-first (1, C, H, W) example input."""
    import torch
    from brevitas.export import export_qonnx

    q.eval()
    export_qonnx(q, torch.zeros(1, s.in_channels, s.size, s.size), path)
    _drop_stray_external_data(path)


def _drop_stray_external_data(path: str) -> None:
    """Remove the ``<path>.data`` file torch's exporter leaves behind when the saved model does not use it."""
    import onnx

    stray = Path(path + ".data")
    if not stray.exists():
        return
    model = onnx.load(path, load_external_data=False)
    if not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        stray.unlink()
