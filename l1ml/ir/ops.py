"""The op kinds of the l1ml IR and their typed attributes.

Every backend dispatches on ``Op``; an op's attributes are a frozen dataclass so that a typo is an
AttributeError, not a silently missing dict key. New op kinds (Conv2D, pooling, the static graph ops
of the GNN) add a member and an attribute class here and a rule in each backend.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import Enum


class Op(Enum):
    QUANT = "Quant"  # raw QONNX Quant (float scale); replaced by QUANTIZE in absorb_quant
    BATCHNORM = "BatchNorm"  # float affine per channel; folded away by fold_batchnorm
    QUANTIZE = "Quantize"  # requantise to the output tensor's FixedType (its rounding/overflow)
    DENSE = "Dense"  # y = x @ W + b over the last axis; inputs (x, W[, b]) with W, b constant
    RELU = "ReLU"
    ADD = "Add"  # elementwise, with numpy broadcasting
    RESHAPE = "Reshape"  # also Flatten; batch axis excluded from ``shape``


@dataclass(frozen=True)
class NoAttrs:
    pass


@dataclass(frozen=True)
class QuantAttrs:
    """QONNX Quant as exported: y = (clip(round(x / scale + zp)) - zp) * scale."""

    scale: tuple[float, ...]  # one entry per tensor, or one per channel of the last axis
    zero_point: float
    bits: int
    signed: bool
    narrow: bool
    rounding_mode: str


@dataclass(frozen=True)
class BatchNormAttrs:
    epsilon: float


@dataclass(frozen=True)
class ReshapeAttrs:
    shape: tuple[int, ...]


ATTRS: dict[Op, type] = {
    Op.QUANT: QuantAttrs,
    Op.BATCHNORM: BatchNormAttrs,
    Op.QUANTIZE: NoAttrs,
    Op.DENSE: NoAttrs,
    Op.RELU: NoAttrs,
    Op.ADD: NoAttrs,
    Op.RESHAPE: ReshapeAttrs,
}


def attrs_to_json(a: object) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(a).items()}


def attrs_from_json(op: Op, d: dict) -> object:
    cls = ATTRS[op]
    kw = {}
    for f in fields(cls):
        v = d[f.name]
        kw[f.name] = tuple(v) if isinstance(v, list) else v
    return cls(**kw)
