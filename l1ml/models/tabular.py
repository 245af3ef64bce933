"""The tabular zoo model: a fixed-point Brevitas MLP for jet tagging and its float twin.

Fixed-point (power-of-two) quantizers throughout, so the exported QONNX maps exactly onto ap_fixed
types. Hidden activations truncate (FLOOR, free in hardware); the input quantizer rounds half-to-even,
which happens before the firmware, where the features are digitised.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class MLPShape:
    n_in: int = 16
    hidden: tuple[int, ...] = (64, 32, 32)
    n_out: int = 5
    input_bits: int = 8
    weight_bits: int = 6
    bias_bits: int = 8
    act_bits: int = 8


def float_mlp(s: MLPShape) -> nn.Sequential:
    layers: list[nn.Module] = []
    prev = s.n_in
    for h in s.hidden:
        layers += [nn.Linear(prev, h), nn.ReLU()]
        prev = h
    layers.append(nn.Linear(prev, s.n_out))
    return nn.Sequential(*layers)


def qat_mlp(s: MLPShape) -> nn.Sequential:
    """Same layer indices as ``float_mlp`` shifted by one (index 0 is the input quantizer)."""
    import brevitas.nn as qnn

    from l1ml.models.quantizers import zoo_quantizers

    q = zoo_quantizers(s.input_bits, s.weight_bits, s.bias_bits, s.act_bits)
    inp, w, b, act = q.inp, q.weight, q.bias, q.act
    layers: list[nn.Module] = [qnn.QuantIdentity(act_quant=inp, return_quant_tensor=True)]
    prev = s.n_in
    for h in s.hidden:
        layers += [
            qnn.QuantLinear(prev, h, bias=True, weight_quant=w, bias_quant=b, return_quant_tensor=False),
            qnn.QuantReLU(act_quant=act, return_quant_tensor=True),
        ]
        prev = h
    layers.append(qnn.QuantLinear(prev, s.n_out, bias=True, weight_quant=w, bias_quant=b,
                                  return_quant_tensor=False))
    return nn.Sequential(*layers)


def init_from_float(q: nn.Sequential, f: nn.Sequential) -> None:
    """Start QAT from the trained float twin's weights."""
    fl = [m for m in f if isinstance(m, nn.Linear)]
    ql = [m for m in q if isinstance(m, nn.Linear)]  # QuantLinear subclasses nn.Linear
    with torch.no_grad():
        for a, b in zip(ql, fl, strict=True):
            a.weight.copy_(b.weight)
            a.bias.copy_(b.bias)


def export(q: nn.Sequential, n_in: int, path: str) -> None:
    from brevitas.export import export_qonnx

    q.eval()
    export_qonnx(q, torch.zeros(1, n_in), path)
