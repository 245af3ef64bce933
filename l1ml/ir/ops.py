"""The op kinds of the l1ml IR and their typed attributes.

Every backend dispatches on ``Op``; an op's attributes are a frozen dataclass so that a typo is an
AttributeError, not a silently missing dict key. A new op kind adds a member and an attribute class
here and a rule in each backend.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
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
    # -- elementwise integer arithmetic (exact result types, numpy broadcasting, constants typed exactly) --
    SUB = "Sub"  # a - b
    NEG = "Neg"  # -x
    ABS = "Abs"  # |x|
    MAX = "Max"  # elementwise maximum of two tensors (or a tensor and a constant)
    MIN = "Min"  # elementwise minimum
    CLIP = "Clip"  # min(max(x, lo), hi) with constant bounds; exact on the finer of x's and the bounds' grids
    REDUCE_SUM = "ReduceSum"  # sum over constant non-batch axes (ReduceMean: the same sum, read 2**k finer)
    SLICE = "Slice"  # constant start:stop:step along one non-batch axis (Split is several Slices)
    # -- float stages: exist only between the frontend and fuse_requant, never in a typed graph --
    AFFINE = "Affine"  # y = x * a + b per channel (last axis) with exact rational a, b: scales, float biases
    SIGMOID = "Sigmoid"  # 1 / (1 + exp(-x)), monotone: becomes thresholds inside a Requant
    TANH = "Tanh"
    HARDSIGMOID = "HardSigmoid"  # clip(alpha * x + beta, 0, 1)
    # -- exact requantisation of an integer code to another, decided at compile time --
    REQUANT = "Requant"  # out = per-channel monotone map of integer codes: thresholds or multiply-add-shift


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


@dataclass(frozen=True)
class ClipAttrs:
    """Bounds as exact real values (a float32 bound is a dyadic rational); None = unbounded on that side."""

    lo: float | None
    hi: float | None


@dataclass(frozen=True)
class ReduceAttrs:
    """Sum (or mean) over ``axes`` of the non-batch shape; ``keepdims`` as ONNX's attribute.

    A mean over a power-of-two count is the sum on a grid 2**k finer (exact); over any other count the
    frontend writes a sum followed by an Affine(1/n), which only a following quantizer can absorb.
    """

    axes: tuple[int, ...]
    keepdims: bool
    mean: bool = False


@dataclass(frozen=True)
class SliceAttrs:
    """x[..., start:stop:step, ...] along non-batch ``axis``; start/stop already clamped, step > 0."""

    axis: int
    start: int
    stop: int
    step: int = 1


@dataclass(frozen=True)
class AffineAttrs:
    """y = x * a[c] + b[c] over the last axis c (one entry: per tensor), a, b exact rationals written as
    ``str(fractions.Fraction)`` (a float's exact value, or 1/scale, which is not dyadic)."""

    a: tuple[str, ...]
    b: tuple[str, ...]


@dataclass(frozen=True)
class HardSigmoidAttrs:
    alpha: float
    beta: float


@dataclass(frozen=True)
class RequantAttrs:
    """Integer codes of the input type -> codes of the output type, per channel c of the last axis (one
    entry: the same map for every element). Both forms are proven equal to the exact real-number
    function they replace (``source``) for every input code at compile time.

    ``form == "thresholds"``: out = base[c] + step[c] * #{k : x >= thresholds[c][k]} (step +1 for a
    non-decreasing function, -1 for a non-increasing one; thresholds ascending, repeats allowed).
    ``form == "multiply"``: out = clip((x * mult[c] + add[c]) >> shift, out.min_code, out.max_code), the
    shift arithmetic (floor).
    """

    form: str  # "thresholds" | "multiply"
    thresholds: tuple[tuple[int, ...], ...] = ()
    base: tuple[int, ...] = ()
    step: tuple[int, ...] = ()
    mult: tuple[int, ...] = ()
    add: tuple[int, ...] = ()
    shift: int = 0
    source: str = ""  # what it replaces, for report.md: "BatchNorm + ReLU + Quant(scale 0.0213)"


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
    Op.SUB: NoAttrs,
    Op.NEG: NoAttrs,
    Op.ABS: NoAttrs,
    Op.MAX: NoAttrs,
    Op.MIN: NoAttrs,
    Op.CLIP: ClipAttrs,
    Op.REDUCE_SUM: ReduceAttrs,
    Op.SLICE: SliceAttrs,
    Op.AFFINE: AffineAttrs,
    Op.SIGMOID: NoAttrs,
    Op.TANH: NoAttrs,
    Op.HARDSIGMOID: HardSigmoidAttrs,
    Op.REQUANT: RequantAttrs,
}

#: Ops whose values are real numbers, not codes: the frontend makes them, fuse_requant (or
#: materialise_affine) removes them; a typed graph never holds one.
FLOAT_OPS = frozenset({Op.QUANT, Op.BATCHNORM, Op.AFFINE, Op.SIGMOID, Op.TANH, Op.HARDSIGMOID})


def _to_list(v: object) -> object:
    return [_to_list(i) for i in v] if isinstance(v, tuple) else v


def _to_tuple(v: object) -> object:
    return tuple(_to_tuple(i) for i in v) if isinstance(v, list) else v


def attrs_to_json(a: object) -> dict:
    return {k: _to_list(v) for k, v in asdict(a).items()}


def attrs_from_json(op: Op, d: dict) -> object:
    cls = ATTRS[op]
    kw = {}
    for f in fields(cls):
        if f.name not in d and f.default is not MISSING:
            continue
        kw[f.name] = _to_tuple(d[f.name])
    return cls(**kw)
