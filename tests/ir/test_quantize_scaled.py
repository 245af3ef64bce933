"""The input conversion of a float-scale input quantizer: clip(round(x / s)) on the exact quotient of two
float32 values, for every rounding mode, at exact ties, at near-ties either side and beyond the range."""

from fractions import Fraction

import numpy as np
import pytest

from l1ml.ir.quantize import quantize_input, round_fraction
from l1ml.ir.types import FixedType, Overflow, Rounding


def reference(x: np.ndarray, t: FixedType, s: Fraction) -> np.ndarray:
    out = []
    for v in x.astype(np.float64).ravel():
        if np.isinf(v):
            out.append(t.max_code if v > 0 else t.min_code)
            continue
        k = round_fraction(Fraction(float(v)) / s * Fraction(2) ** t.frac, t.rounding)
        out.append(min(max(k, t.min_code), t.max_code))
    return np.array(out).reshape(x.shape)


@pytest.mark.parametrize("mode", list(Rounding))
@pytest.mark.parametrize("signed,narrow", [(True, False), (True, True), (False, False)])
def test_scaled_input_conversion_is_exact(mode, signed, narrow):
    s32 = np.float32(0.0371)
    s = Fraction(float(s32))
    t = FixedType(signed, 8, 0, mode, Overflow.SAT, narrow)
    k = np.arange(-300, 300, dtype=np.float64)
    ties = ((k + 0.5) * float(s32)).astype(np.float32)  # near-ties after float32 rounding, both sides
    exact_ties = (np.arange(-41, 41) * 2 + 1).astype(np.float32) * (s32 / np.float32(2))  # exact (2j+1)s/2
    on_grid = (k * float(s32)).astype(np.float32)
    nudged = np.concatenate([np.nextafter(exact_ties, np.float32(np.inf)), np.nextafter(exact_ties, np.float32(-np.inf))])
    specials = np.array([0.0, -0.0, np.inf, -np.inf, 1e30, -1e30, 1e-45, -1e-45], dtype=np.float32)
    x = np.concatenate([ties, exact_ties, on_grid, nudged, specials])
    assert any(Fraction(float(v)) / s == Fraction(2 * j + 1, 2) for j, v in zip(range(-41, 41), exact_ties,
                                                                                strict=True))
    got = quantize_input(x, t, s)
    assert np.array_equal(got.astype(np.int64), reference(x, t, s))


def test_scaled_input_with_a_fractional_grid():
    t = FixedType(True, 10, 3, Rounding.HALF_EVEN, Overflow.SAT)
    s = Fraction(float(np.float32(0.7)))
    x = np.linspace(-100, 100, 4001).astype(np.float32)
    assert np.array_equal(quantize_input(x, t, s).astype(np.int64), reference(x, t, s))
