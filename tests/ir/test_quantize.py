"""The rounding/overflow kernels against an exact rational reference, exhaustively on small widths."""

import math
from fractions import Fraction

import numpy as np
import pytest

from l1ml.ir.quantize import QONNX_ROUNDING, quantize_float, requantize
from l1ml.ir.types import FixedType, Overflow, Rounding


def ref_round(v: Fraction, mode: Rounding) -> int:
    fl = math.floor(v)
    rem = v - fl
    if mode is Rounding.TRUNC:
        return fl
    if mode is Rounding.TRUNC_ZERO:
        return fl if v >= 0 else math.ceil(v)
    if rem != Fraction(1, 2):
        return fl + (1 if rem > Fraction(1, 2) else 0)
    if mode is Rounding.HALF_EVEN:
        return fl + (fl % 2)
    if mode is Rounding.HALF_AWAY:
        return fl + 1 if v > 0 else fl
    if mode is Rounding.HALF_ZERO:
        return fl if v > 0 else fl + 1
    raise AssertionError(mode)


def ref_requantize(code: int, src_frac: int, dst: FixedType) -> int:
    r = ref_round(Fraction(code) * Fraction(2) ** (dst.frac - src_frac), dst.rounding)
    if dst.overflow is Overflow.SAT:
        return min(max(r, dst.min_code), dst.max_code)
    span = 1 << dst.width
    return (r - dst.min_code) % span + dst.min_code


DSTS = [
    FixedType(s, w, f, r, o, n)
    for s in (True, False) for w in (2, 3, 5) for f in (-1, 0, 2) for r in Rounding for o in Overflow
    for n in ((False, True) if s else (False,))
]


@pytest.mark.parametrize("dst", DSTS, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_requantize_exhaustive(dst, dtype):
    src_frac = 4
    src = np.arange(-300, 301)
    got = requantize(src.astype(dtype), src_frac, dst)
    want = np.array([ref_requantize(int(c), src_frac, dst) for c in src])
    assert np.array_equal(got.astype(np.int64), want)


def test_requantize_wide_int64_path():
    dst = FixedType(True, 40, 3, Rounding.HALF_EVEN, Overflow.SAT)
    rng = np.random.default_rng(0)
    src = rng.integers(-(2**58), 2**58, size=5000, dtype=np.int64)
    src[:8] = [2**20 + 2**9, 2**20 + 3 * 2**9, -(2**20) - 2**9, 2**61, -(2**61), 0, 2**9, -(2**9)]
    got = requantize(src.copy(), 13, dst)
    want = [ref_requantize(int(c), 13, dst) for c in src]
    assert got.tolist() == want


@pytest.mark.parametrize("mode", sorted(QONNX_ROUNDING))
@pytest.mark.parametrize("signed,narrow", [(True, False), (True, True), (False, False)])
def test_quantize_float_matches_qonnx_quant(mode, signed, narrow):
    from qonnx.custom_op.general.quant import quant

    t = FixedType(signed, 6, 3, QONNX_ROUNDING[mode], Overflow.SAT, narrow)
    rng = np.random.default_rng(1)
    x = np.concatenate([
        rng.normal(scale=4, size=4000),
        (np.arange(-80, 80) + 0.5) / 8,  # exact ties
        [np.inf, -np.inf, 3e38, -3e38, 1e-45, -1e-45, 0.0, -0.0, 0.49999997, -0.49999997],
    ]).astype(np.float32)
    ref = quant(x, np.float32(1 / 8), np.float32(0), np.float32(6), signed, narrow, mode)
    got = quantize_float(x, t) * 2.0**-3
    assert np.array_equal(got, ref.astype(np.float64))


def test_quantize_float_rejects_nan():
    with pytest.raises(ValueError):
        quantize_float(np.array([np.nan], np.float32), FixedType(True, 8, 0))
