"""The zoo's fixed-point Brevitas quantizers in one place: power-of-two scales map exactly onto
ap_fixed types; hidden activations truncate (FLOOR, free in hardware), the input rounds half to even."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ZooQuantizers:
    inp: type  # input quantizer (QuantIdentity act_quant)
    weight: type
    bias: type
    act: type  # unsigned ReLU activation quantizer


def zoo_quantizers(input_bits: int, weight_bits: int, bias_bits: int, act_bits: int) -> ZooQuantizers:
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8BiasPerTensorFixedPointInternalScaling,
        Int8WeightPerTensorFixedPoint,
        Uint8ActPerTensorFixedPoint,
    )

    return ZooQuantizers(
        inp=Int8ActPerTensorFixedPoint.let(bit_width=input_bits),
        weight=Int8WeightPerTensorFixedPoint.let(bit_width=weight_bits),
        bias=Int8BiasPerTensorFixedPointInternalScaling.let(bit_width=bias_bits),
        act=Uint8ActPerTensorFixedPoint.let(bit_width=act_bits, float_to_int_impl_type="FLOOR"),
    )
