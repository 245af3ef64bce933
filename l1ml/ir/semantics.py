"""The exact integer arithmetic of the ops whose meaning is more than one line: where type inference, the
emulator, the Verilog and hls4ml renderers, the estimators and ``verify`` all read it.

* Dense and Conv2D (as the Dense of its im2col rows): the accumulator grid is the finer of x·w's and the
  bias's; weights and bias are shifted onto it (``aligned_terms``), and the exact per-output interval of
  the sums decides the output type (``dense_terms``).
* AvgPool2D: a power-of-two window's sum on a grid ``pool_shift`` bits finer (no division).
* Clip: its bounds as codes on the finer of the input's and the bounds' grids (``clip_codes``).
* ReduceSum/ReduceMean: the count of values summed and a power-of-two mean's grid shift (``reduce_count``).
* Concat: the common type of its inputs (``concat_type``).
* Dense + ReLU + requantisation as one step on codes (``DenseRequant``, ``dense_requant``): the fused
  emulator's layer, in the cheapest dtype that is exact (``exact_float_dtype``).

Everything here is a plain function of types and constant tensors: no backend, no pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from l1ml.errors import L1MLError, NodeError
from l1ml.ir.graph import Node, Tensor
from l1ml.ir.quantize import requantize, requantize_scaled
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


def exact_float_dtype(mag: int) -> type[np.generic]:
    """The cheapest dtype in which every integer of magnitude up to ``mag`` and every sum of them that
    stays below it is exact: float32 below 2**24, float64 below 2**53 (their mantissas), else int64.

    >>> [exact_float_dtype(m).__name__ for m in (2**24 - 1, 2**24, 2**53)]
    ['float32', 'float64', 'int64']
    """
    if mag < 2**24:
        return np.float32
    if mag < 2**53:
        return np.float64
    if mag < 2**62:
        return np.int64
    raise L1MLError(f"a Dense accumulator needs {int(mag).bit_length()} bits, more than the emulator's 62")


#: float weights are pre-scaled by 2**-shift; beyond this the products could leave float32's normal range
MAX_FLOAT_SHIFT = 100


@dataclass(frozen=True)
class DenseRequant:
    """A Dense, an optional ReLU and an optional requantisation to ``out``, as one step on codes.

    In a float ``dtype`` the weights and bias are the aligned terms times 2**-shift (``shift`` = accumulator
    frac - ``out.frac``): the matrix product then lands on the output's grid directly, exactly, because a
    power-of-two factor keeps every partial sum's significand and ``dtype`` holds every partial sum (the
    largest magnitude, shifted left where ``shift`` < 0, is below its mantissa's range). In int64 the
    weights are the aligned terms and ``requantize`` shifts the sums."""

    dtype: type[np.generic]
    weights: np.ndarray
    bias: np.ndarray | None
    relu: bool
    acc_frac: int
    out: FixedType | None  # None: the Dense (and ReLU) codes themselves, on the accumulator grid


def dense_requant_layer(x: FixedType, w: Tensor, b: Tensor | None, relu: bool, out: FixedType | None,
                        dtype: type[np.generic] | None = None) -> DenseRequant:
    """Prepare ``dense_requant`` for a Dense with input type ``x``; ``dtype`` forces a (wider) dtype."""
    frac, _, _, mag = dense_terms(x, w, b)
    shift = 0 if out is None else frac - out.frac
    need = int(mag.max(initial=0)) << max(-shift, 0)
    dt = exact_float_dtype(need)
    if dt is not np.int64 and shift > MAX_FLOAT_SHIFT:
        dt = np.float64 if shift <= 8 * MAX_FLOAT_SHIFT else np.int64
    if dtype is not None:
        order = [np.float32, np.float64, np.int64]
        if order.index(dtype) < order.index(dt):
            raise L1MLError(f"a {dtype.__name__} accumulator is not exact for this Dense; it needs {dt.__name__}")
        dt = dtype
    t = aligned_terms(x, w, b)
    if dt is np.int64:
        return DenseRequant(dt, t.weights, t.bias, relu, frac, out)
    scale = 2.0**-shift
    bias = None if t.bias is None else (t.bias.astype(np.float64) * scale).astype(dt)
    return DenseRequant(dt, (t.weights.astype(np.float64) * scale).astype(dt), bias, relu, frac, out)


def _product(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x (events, ..., k) @ w (k, m) as one 2-D BLAS call; dtype of ``w``."""
    acc = x.reshape(-1, x.shape[-1]).astype(w.dtype, copy=False) @ w
    return acc.reshape(*x.shape[:-1], w.shape[-1])


def dense_requant(x: np.ndarray, layer: DenseRequant) -> np.ndarray:
    """Codes (events, ..., inputs) through ``layer``: output codes in ``layer.dtype`` (integer-valued)."""
    return _requant_acc(_product(x, layer.weights), layer)


def concat_blocks(layer: DenseRequant, blocks: list[tuple[int, int, int]]) -> list[np.ndarray]:
    """The weight rows of ``layer`` that each block of a concatenated input meets, times 2**shift of the
    block onto the concatenation's grid: blocks given as (first row, rows, shift).

    A Dense of a concatenation is the sum of each block's Dense. Every term is the one the whole product
    has (x * 2**s times w equals x times w * 2**s), and every partial sum of any subset of terms stays
    within the layer's bound, so the split sum is exact in ``layer.dtype``. For an int64 layer the shift
    is a left shift of the integer weights."""
    out = []
    for first, rows, shift in blocks:
        w = layer.weights[first:first + rows]
        out.append(w << shift if layer.dtype is np.int64 else (w * layer.dtype(2.0**shift)).astype(layer.dtype))
    return out


def dense_requant_blocks(parts: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]],
                         layer: DenseRequant) -> np.ndarray:
    """``dense_requant`` of the concatenation of blocks (codes, row indices or None, weights from
    ``concat_blocks``): a block gathered by row indices is multiplied before the gather, on its fewer rows
    (a GNN's nodes rather than its edges)."""
    acc = None
    bias = layer.bias
    for x, rows, w in parts:
        y = _product(x, w)
        if rows is not None:
            if bias is not None:  # the bias is one more term: added on the fewer rows, before the gather
                y += bias
                bias = None
            y = np.take(y, rows, axis=1)
        acc = y if acc is None else np.add(acc, y, out=acc)
    return _requant_acc(acc, layer, bias is not None)


def _requant_acc(acc: np.ndarray, layer: DenseRequant, add_bias: bool = True) -> np.ndarray:
    """Bias (unless already added), ReLU and requantisation of ``layer`` on its product ``acc`` (modified
    in place)."""
    if layer.bias is not None and add_bias:
        acc += layer.bias
    if layer.out is None:
        if layer.relu:
            np.maximum(acc, 0, out=acc)
    elif layer.dtype is np.int64:
        if layer.relu:
            np.maximum(acc, 0, out=acc)
        acc = requantize(acc, layer.acc_frac, layer.out)
    else:
        acc = requantize_scaled(acc, layer.out, layer.relu)
    return acc
