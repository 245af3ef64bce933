"""The op kinds of the l1ml IR and their typed attributes.

Every backend dispatches on ``Op``; an op's attributes are a frozen dataclass so that a typo is an
AttributeError, not a silently missing dict key. A new op kind adds a member and an attribute class
here and a rule in each backend.
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
    CONV2D = "Conv2D"  # channels-last 2-D convolution; inputs (x, W[, b]) with W, b constant
    MAXPOOL2D = "MaxPool2D"  # channels-last max over each window; type unchanged
    AVGPOOL2D = "AvgPool2D"  # channels-last window sum, read on a finer grid (window size a power of 2)
    TRANSPOSE = "Transpose"  # permute the non-batch axes (wiring only)
    MUL = "Mul"  # elementwise product, with numpy broadcasting (the GNN's validity masks)
    CONCAT = "Concat"  # join inputs of possibly different types along one axis, on their common grid
    GATHER = "Gather"  # static gather of rows: out[r] = x[indices[r]] (wiring only)
    SEGMENT_SUM = "SegmentSum"  # out[s] = sum of x[r] over the rows r with segments[r] == s


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


@dataclass(frozen=True)
class Conv2DAttrs:
    """x (H, W, Cin) * weight (kh, kw, Cin, Cout) [+ bias (Cout,)] -> (Ho, Wo, Cout), zero padding.

    ``pads`` is (top, left, bottom, right); Ho = (H + top + bottom - kh) // sh + 1, likewise Wo.
    """

    stride: tuple[int, int]  # (sh, sw)
    pads: tuple[int, int, int, int]  # (top, left, bottom, right)


@dataclass(frozen=True)
class Pool2DAttrs:
    """Window geometry of MaxPool2D / AvgPool2D over (H, W, C) -> (Ho, Wo, C); padding as Conv2DAttrs.

    MaxPool2D ignores padded positions; AvgPool2D counts them as zeros (the window size is the divisor).
    """

    kernel: tuple[int, int]  # (kh, kw)
    stride: tuple[int, int]  # (sh, sw)
    pads: tuple[int, int, int, int]  # (top, left, bottom, right)


@dataclass(frozen=True)
class TransposeAttrs:
    perm: tuple[int, ...]  # output axis i is input axis perm[i]; batch axis excluded


@dataclass(frozen=True)
class ConcatAttrs:
    axis: int  # non-batch axis


@dataclass(frozen=True)
class GatherAttrs:
    """Rows (axis 0 of the non-batch shape) picked by compile-time indices, e.g. a GNN edge's sender."""

    indices: tuple[int, ...]


@dataclass(frozen=True)
class SegmentSumAttrs:
    """Sum of rows into ``n_segments`` segments; a row whose segment is -1 belongs to none.

    This is a GNN's sum aggregation over a static topology (messages of each node's incoming edges);
    an empty segment sums to 0.
    """

    segments: tuple[int, ...]
    n_segments: int

    def degree(self) -> int:
        """The largest number of rows in one segment."""
        counts: dict[int, int] = {}
        for s in self.segments:
            if s >= 0:
                counts[s] = counts.get(s, 0) + 1
        return max(counts.values(), default=0)


ATTRS: dict[Op, type] = {
    Op.QUANT: QuantAttrs,
    Op.BATCHNORM: BatchNormAttrs,
    Op.QUANTIZE: NoAttrs,
    Op.DENSE: NoAttrs,
    Op.RELU: NoAttrs,
    Op.ADD: NoAttrs,
    Op.RESHAPE: ReshapeAttrs,
    Op.CONV2D: Conv2DAttrs,
    Op.MAXPOOL2D: Pool2DAttrs,
    Op.AVGPOOL2D: Pool2DAttrs,
    Op.TRANSPOSE: TransposeAttrs,
    Op.MUL: NoAttrs,
    Op.CONCAT: ConcatAttrs,
    Op.GATHER: GatherAttrs,
    Op.SEGMENT_SUM: SegmentSumAttrs,
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
