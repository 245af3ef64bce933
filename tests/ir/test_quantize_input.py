"""The emulator's input quantizer is the exact QONNX Quant of each float32 value: against a rational
reference for every rounding mode, signed and unsigned, narrow range, widths 2-62 and scales 2**-60 to
2**60 and beyond (both the float64 and the int64 paths), with ±inf, huge values, denormals and ties."""

import math
from fractions import Fraction

import numpy as np
import pytest

from l1ml.ir.quantize import quantize_input
from l1ml.ir.types import FixedType, Overflow, Rounding


def reference(x: float, t: FixedType) -> int:
    if math.isinf(x):
        return t.max_code if x > 0 else t.min_code
    y = Fraction(x) * Fraction(2) ** t.frac
    fl = math.floor(y)
    rem = y - fl
    if t.rounding is Rounding.TRUNC:
        c = fl
    elif t.rounding is Rounding.TRUNC_ZERO:
        c = math.trunc(y)
    elif rem != Fraction(1, 2):
        c = fl + (rem > Fraction(1, 2))
    else:
        c = {Rounding.HALF_EVEN: fl + fl % 2, Rounding.HALF_AWAY: fl + (y > 0),
             Rounding.HALF_ZERO: fl + (y < 0)}[t.rounding]
    return min(max(c, t.min_code), t.max_code)


@pytest.mark.parametrize("seed", range(6))
def test_quantize_input_is_exact(seed):
    rng = np.random.default_rng(seed)
    f32 = np.finfo(np.float32)
    specials = [np.inf, -np.inf, 1e30, -1e30, f32.max, -f32.max, f32.smallest_subnormal, -f32.smallest_subnormal,
                f32.smallest_normal, -f32.smallest_normal, 0.0, -0.0, 0.49999997, -0.49999997]
    for _ in range(60):
        width = int(rng.integers(2, 63))
        frac = int(rng.choice([int(rng.integers(-40, 70)), int(rng.integers(-1000, 1000))]))
        signed = bool(rng.integers(2)) or width < 2
        t = FixedType(signed, width, frac, Rounding(rng.choice([r.value for r in Rounding])), Overflow.SAT,
                      narrow=bool(rng.integers(2)))
        lsb = 2.0**-frac if abs(frac) < 1000 else 0.0
        span = 2.0 ** min(width, 60) * lsb
        ties = (np.floor(rng.uniform(-1, 1, 30) * 2.0 ** min(width - 1, 23)) + 0.5) * lsb
        with np.errstate(over="ignore"):  # values beyond float32 become +-inf: more corner cases
            x = np.concatenate([rng.uniform(-1.5, 1.5, 60) * span, ties, specials]).astype(np.float32)
        got = quantize_input(x, t).astype(np.int64)
        want = [reference(float(v), t) for v in x]
        assert got.tolist() == want, t


def test_quantize_input_refuses_nan():
    with pytest.raises(ValueError, match="NaN"):
        quantize_input(np.array([1.0, np.nan], np.float32), FixedType(True, 8, 4))
