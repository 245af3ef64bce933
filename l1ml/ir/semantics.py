"""The exact integer arithmetic of the ops whose meaning is more than one line: where type inference, the
emulator, the Verilog and hls4ml renderers, the estimators and ``verify`` all read it.

* Dense and Conv2D (as the Dense of its im2col rows): the accumulator grid is the finer of x·w's and the
  bias's; weights and bias are shifted onto it (``aligned_terms``), and the exact per-output interval of
  the sums decides the output type (``dense_terms``).
* AvgPool2D: a power-of-two window's sum on a grid ``pool_shift`` bits finer (no division).
* Clip: its bounds as codes on the finer of the input's and the bounds' grids (``clip_codes``).
* ReduceSum/ReduceMean: the count of values summed and a power-of-two mean's grid shift (``reduce_count``).
* Concat: the common type of its inputs (``concat_type``).

Everything here is a plain function of types and constant tensors: no backend, no pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from l1ml.errors import NodeError
from l1ml.ir.graph import Node, Tensor
from l1ml.ir.types import FixedType, aligned_range, covering


def accumulator_frac(x: FixedType, w: FixedType, b: FixedType | None) -> int:
    """The grid of a Dense/Conv accumulator: x·w's, or the bias's where that is finer."""
    frac = x.frac + w.frac
    return frac if b is None else max(frac, b.frac)


@dataclass(frozen=True)
class AlignedTerms:
    """A Dense (or im2col Conv) on its accumulator grid: ``out = x @ weights + bias`` in integer codes, with
    ``frac`` the output's grid. ``weights`` has the weight tensor's shape, ``bias`` one value per output
    (None without a bias); both int64."""

    frac: int
    weights: np.ndarray
    bias: np.ndarray | None

    def bias_or_zeros(self) -> np.ndarray:
        return np.zeros(self.weights.shape[-1], np.int64) if self.bias is None else self.bias


def aligned_terms(x: FixedType, w: Tensor, b: Tensor | None) -> AlignedTerms:
    """Weights and bias of a Dense/Conv shifted onto the accumulator grid (int64 codes)."""
    frac = accumulator_frac(x, w.type, None if b is None else b.type)
    c = w.data.astype(np.int64) << (frac - x.frac - w.type.frac)
    bias = None if b is None else np.asarray(b.data).astype(np.int64).reshape(-1) << (frac - b.type.frac)
    return AlignedTerms(frac, c, bias)


def dense_terms(x: FixedType, w: Tensor, b: Tensor | None) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Output frac, and per output channel: the least and greatest exact sums, and the largest
    partial-sum magnitude (which decides whether float32/float64 BLAS is exact)."""
    frac = accumulator_frac(x, w.type, None if b is None else b.type)
    shift = frac - x.frac - w.type.frac
    # int64 unless a crude bound on the sums says it could overflow: then Python integers (object
    # arrays), so that the exact interval decides and an over-wide layer is refused, never wrapped
    w_bits = int(np.abs(w.data).max(initial=0)).bit_length() + shift
    x_bits = max(abs(x.min_code), abs(x.max_code)).bit_length()
    bound = w_bits + x_bits + int(w.shape[0]).bit_length()
    if b is not None:
        bound = max(bound, int(np.abs(b.data).max(initial=0)).bit_length() + frac - b.type.frac) + 1
    dt = np.int64 if bound <= 62 else object
    wc = w.data.astype(np.int64).astype(dt) << shift
    lo_terms = np.minimum(wc * x.min_code, wc * x.max_code)
    hi_terms = np.maximum(wc * x.min_code, wc * x.max_code)
    lo, hi = lo_terms.sum(axis=0), hi_terms.sum(axis=0)
    mag = np.maximum(-lo, hi)
    if b is not None:
        bc = b.data.astype(np.int64).astype(dt) << (frac - b.type.frac)
        lo, hi = lo + bc, hi + bc
        mag = mag + np.abs(bc)
    return frac, lo, hi, mag


def conv_weight_matrix(w: Tensor) -> Tensor:
    """The Conv2D weight (kh, kw, cin, cout) as the Dense weight of its im2col rows, in (a, b, c) order."""
    kh, kw, cin, cout = w.shape
    return Tensor(w.name, (kh * kw * cin, cout), w.type, w.data.reshape(kh * kw * cin, cout))


def pool_shift(node: Node) -> int:
    """log2 of an AvgPool2D window size; the frontend only builds power-of-two windows."""
    k = node.attrs.kernel[0] * node.attrs.kernel[1]
    if k & (k - 1):
        raise NodeError(node, f"average over {k} values is not a power-of-two division and cannot be exact; "
                        "use a 2x2 or 4x4 window, or MaxPool")
    return k.bit_length() - 1


def dyadic_frac(value: float) -> int:
    """The least f with value * 2**f an integer: every finite float is a dyadic rational.

    >>> dyadic_frac(0.375), dyadic_frac(6.0), dyadic_frac(0.0)
    (3, -1, 0)
    """
    if value == 0:
        return 0
    m, e = math.frexp(value)  # value = m * 2**e, 0.5 <= |m| < 1, m has at most 53 significant bits
    mant = int(m * 2**53)
    tz = (mant & -mant).bit_length() - 1
    return 53 - e - tz


def clip_codes(node: Node, x: FixedType) -> tuple[int, int | None, int | None]:
    """The grid of Clip's result (the finer of x's and its bounds') and the bounds as codes on it."""
    bounds = [b for b in (node.attrs.lo, node.attrs.hi) if b is not None]
    for b in bounds:
        if not math.isfinite(b):
            raise NodeError(node, f"Clip bound {b} is not finite; leave that side unbounded instead")
    frac = max([x.frac, *(dyadic_frac(b) for b in bounds)])
    lo = None if node.attrs.lo is None else int(Fraction(node.attrs.lo) * 2**frac)
    hi = None if node.attrs.hi is None else int(Fraction(node.attrs.hi) * 2**frac)
    if lo is not None and hi is not None and lo > hi:
        raise NodeError(node, f"Clip bounds {node.attrs.lo} > {node.attrs.hi}; export min <= max")
    return frac, lo, hi


def reduce_count(node: Node, x: Tensor) -> tuple[int, int]:
    """Number of values each output of a ReduceSum adds, and the grid shift of a power-of-two mean."""
    n = math.prod(x.shape[a] for a in node.attrs.axes)
    if not node.attrs.mean:
        return n, 0
    if n & (n - 1):
        raise NodeError(node, f"a mean over {n} values divides by {n}, not a power of two; quantize the mean "
                        "(a Quant right after it) so that the division becomes an exact requantisation")
    return n, n.bit_length() - 1


def concat_type(types: list[FixedType]) -> FixedType:
    """The common type of concatenated inputs: the finest grid and the union of their ranges.

    >>> str(concat_type([FixedType(False, 8, 4), FixedType(True, 8, 7)]))
    'fixed<12,5>'
    """
    frac = max(t.frac for t in types)
    ranges = [aligned_range(t, frac) for t in types]
    return covering(min(lo for lo, _ in ranges), max(hi for _, hi in ranges), frac)
