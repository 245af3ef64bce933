"""The anomaly-detection trigger: a fixed-point Brevitas autoencoder whose one output is the anomaly score.

57 L1-object features -> encoder -> latent -> decoder (with a residual skip between its two hidden
layers) -> 57 reconstructed features; the exported model ends in the score itself,
``sum_i (x_q,i - r_i)^2`` (ONNX Sub, Mul(d, d), ReduceSum), where ``x_q`` is the input after the model's
input quantizer, so the firmware computes exactly the number the trigger cuts on. The skip joins the
decoder's two hidden layers and never bypasses the latent bottleneck (a skip from encoder to decoder
would let the network copy its input and reconstruct anomalies as well as background).

Every quantizer is fixed-point (power-of-two scales), hidden activations and the reconstruction
truncate (FLOOR, free in hardware); the input rounds (it stands for the digitisation before the
firmware). The float twin has the same layers without quantizers and computes the same score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


@dataclass(frozen=True)
class AEShape:
    """Layer sizes and bit widths of the autoencoder."""

    n_in: int = 57
    encoder: tuple[int, ...] = (32,)
    latent: int = 8
    decoder: int = 32  # both decoder hidden layers, joined by the skip
    input_bits: int = 10
    weight_bits: int = 8
    bias_bits: int = 10
    act_bits: int = 8
    latent_bits: int = 8
    recon_bits: int = 10


def scale_features(x: np.ndarray) -> np.ndarray:
    """The model's input from raw features (pT [GeV], eta, phi per object, ``FEATURE_NAMES`` order):
    pT -> log2(1 + pT) / 4, eta -> eta / 4, phi -> phi / 4: all within +-4 (pT below 65 TeV), so a 10-bit
    signed fixed-point input holds them. Padding zeros stay zero. The input quantizer calibrates its
    power-of-two range on the background (+-2 with 8 fractional bits in the demo model), so harder
    objects (pT above 255 GeV there) read as its top code, identically at every level. In the trigger
    this is a lookup on the hardware pT word."""
    x = np.asarray(x, np.float64)
    out = x / 4.0
    out[:, 0::3] = np.log2(1.0 + np.maximum(x[:, 0::3], 0.0)) / 4.0
    return out.astype(np.float32)


def _quantizers(s: AEShape) -> dict[str, type]:
    from brevitas.quant import Int8ActPerTensorFixedPoint

    from l1ml.models.quantizers import zoo_quantizers

    q = zoo_quantizers(s.input_bits, s.weight_bits, s.bias_bits, s.act_bits)
    signed_floor = Int8ActPerTensorFixedPoint.let(float_to_int_impl_type="FLOOR")
    return {"inp": q.inp, "weight": q.weight, "bias": q.bias, "act": q.act,
            "latent": signed_floor.let(bit_width=s.latent_bits), "recon": signed_floor.let(bit_width=s.recon_bits)}


def autoencoder(s: AEShape, quant: bool) -> nn.Module:
    """The QAT (``quant=True``) or float autoencoder; ``forward`` gives the (N, 1) score."""
    import brevitas.nn as qnn
    import torch
    from torch import nn

    q = _quantizers(s) if quant else {}

    def linear(n_in: int, n_out: int) -> nn.Module:
        if not quant:
            return nn.Linear(n_in, n_out)
        return qnn.QuantLinear(n_in, n_out, bias=True, weight_quant=q["weight"], bias_quant=q["bias"],
                               return_quant_tensor=False)

    def act(kind: str) -> nn.Module:
        if not quant:
            return nn.ReLU() if kind == "act" else nn.Identity()
        if kind == "act":
            return qnn.QuantReLU(act_quant=q["act"], return_quant_tensor=False)
        return qnn.QuantIdentity(act_quant=q[kind], return_quant_tensor=False)

    class Autoencoder(nn.Module):
        """57 -> encoder -> latent -> decoder (skip) -> 57; ``forward`` returns the (N, 1) score."""

        def __init__(self) -> None:
            super().__init__()
            self.inp = act("inp") if quant else nn.Identity()
            enc: list[nn.Module] = []
            prev = s.n_in
            for h in s.encoder:
                enc += [linear(prev, h), act("act")]
                prev = h
            self.encoder = nn.Sequential(*enc)
            self.to_latent, self.latent_q = linear(prev, s.latent), act("latent")
            self.dec1, self.dec1_act = linear(s.latent, s.decoder), act("act")
            self.dec2, self.dec2_act = linear(s.decoder, s.decoder), act("act")
            self.join = act("act")  # the sum of two ReLU outputs is non-negative: an unsigned quantizer
            self.out, self.recon_q = linear(s.decoder, s.n_in), act("recon")

        def reconstruct(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """(input after the input quantizer, reconstruction)."""
            xq = self.inp(x)
            z = self.latent_q(self.to_latent(self.encoder(xq)))
            h1 = self.dec1_act(self.dec1(z))
            h = self.join(h1 + self.dec2_act(self.dec2(h1)))
            return xq, self.recon_q(self.out(h))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            xq, r = self.reconstruct(x)
            d = xq - r
            return torch.sum(d * d, dim=1, keepdim=True)

    return Autoencoder()


def init_from_float(q: nn.Module, f: nn.Module) -> None:
    """Start QAT from the trained float twin's weights (QuantLinear subclasses nn.Linear)."""
    import torch
    from torch import nn

    fl = [m for m in f.modules() if isinstance(m, nn.Linear)]
    ql = [m for m in q.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for a, b in zip(ql, fl, strict=True):
            a.weight.copy_(b.weight)
            a.bias.copy_(b.bias)


def export(q: nn.Module, s: AEShape, path: str | Path) -> None:
    """QONNX export with a batch-1 (1, 57) example input; the graph's one output is the score."""
    import torch
    from brevitas.export import export_qonnx

    from l1ml.models.hgcal_cnn import _drop_stray_external_data

    q.eval()
    export_qonnx(q, torch.zeros(1, s.n_in), str(path))
    _drop_stray_external_data(str(path))
