"""The numeric kernels of quantisation: float -> code (QONNX ``Quant``) and code -> code (requantise).

These are the single definition of rounding and overflow in l1ml. The emulator calls them; the
Verilog primitives and the ap_fixed types of the hls4ml backend are tested against them.

Codes travel as integer-valued numpy arrays. Their dtype follows the width (see ``code_dtype``):
float32 up to 24 bits, float64 up to 53 bits, int64 beyond. Every operation below is exact in the
dtype it is given, which is what lets the emulator run on BLAS.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from l1ml.ir.types import FixedType, Overflow, Rounding

#: QONNX ``rounding_mode`` strings and the l1ml rounding they mean.
QONNX_ROUNDING: dict[str, Rounding] = {
    "ROUND": Rounding.HALF_EVEN,
    "HALF_EVEN": Rounding.HALF_EVEN,
    "FLOOR": Rounding.TRUNC,
    "DOWN": Rounding.TRUNC_ZERO,
    "HALF_UP": Rounding.HALF_AWAY,
    "HALF_DOWN": Rounding.HALF_ZERO,
}


def code_dtype(width: int) -> type[np.generic]:
    """The narrowest numpy dtype that holds every code of ``width`` bits *and* their exact sums."""
    if width <= 24:
        return np.float32
    if width <= 53:
        return np.float64
    return np.int64


def _round_float(v: np.ndarray, mode: Rounding) -> np.ndarray:
    """Round a float array of exact dyadic values to integers (exact for the widths code_dtype allows)."""
    if mode is Rounding.TRUNC:
        return np.floor(v, out=v)
    if mode is Rounding.HALF_EVEN:
        return np.rint(v, out=v)
    if mode is Rounding.TRUNC_ZERO:
        return np.trunc(v, out=v)
    # on |v|: its floor plus one where the fraction passes (or, away from zero, reaches) one half. Not
    # floor(|v| + 0.5): that sum rounds in float once |v| has bits below 2**-(mantissa - 1), e.g. float32
    # codes shifted right by 25 or more, where 0.5 - 2**-25 + 0.5 became 1. |v| - floor(|v|) is exact.
    a = np.abs(v)
    r = np.floor(a)
    frac = a - r
    if mode is Rounding.HALF_AWAY:
        r += frac >= 0.5
    elif mode is Rounding.HALF_ZERO:
        r += frac > 0.5
    else:  # pragma: no cover - the enum is closed
        raise ValueError(mode)
    return np.copysign(r, v, out=v)


def _round_shift_int(x: np.ndarray, s: int | np.ndarray, mode: Rounding) -> np.ndarray:
    """x / 2**s rounded, for int64 arrays (s > 0: one shift, or one per element)."""
    q = x >> s  # floor
    if mode is Rounding.TRUNC:
        return q
    r = x - (q << s)  # remainder in [0, 2**s)
    half = np.int64(1) << (s - 1)
    neg = x < 0
    if mode is Rounding.HALF_EVEN:
        up = (r > half) | ((r == half) & ((q & 1) == 1))
    elif mode is Rounding.TRUNC_ZERO:
        up = neg & (r != 0)
    elif mode is Rounding.HALF_AWAY:
        up = (r > half) | ((r == half) & ~neg)
    elif mode is Rounding.HALF_ZERO:
        up = (r > half) | ((r == half) & neg)
    else:  # pragma: no cover
        raise ValueError(mode)
    return q + up


def apply_overflow(x: np.ndarray, t: FixedType) -> np.ndarray:
    """Bring codes into ``t``'s range by saturation or two's-complement wrap."""
    lo, hi = t.min_code, t.max_code
    if t.overflow is Overflow.SAT:
        return np.clip(x, lo, hi, out=x)
    span = 1 << t.width
    if np.issubdtype(x.dtype, np.integer):
        return ((x - lo) & (span - 1)) + lo
    return x - np.floor((x - lo) / span) * span


def requantize(x: np.ndarray, src_frac: int, dst: FixedType) -> np.ndarray:
    """Move codes on grid 2**-src_frac to type ``dst`` using its rounding and overflow.

    The result is in ``code_dtype(dst.width)``. ``x`` may be modified in place.
    """
    s = src_frac - dst.frac
    if np.issubdtype(x.dtype, np.integer):
        y = _round_shift_int(x, s, dst.rounding) if s > 0 else x << -s
    else:
        y = x if s == 0 else np.multiply(x, x.dtype.type(2.0**-s), out=x)
        if s > 0:
            y = _round_float(y, dst.rounding)
    y = apply_overflow(y, dst)
    return y.astype(code_dtype(dst.width), copy=False)


def requantize_scaled(y: np.ndarray, dst: FixedType, relu: bool = False) -> np.ndarray:
    """Round, optionally ReLU, and overflow float values already on ``dst``'s grid (``requantize`` after
    its shift), in place and in ``y``'s dtype: the Dense weights of the fused emulator carry the shift.

    Exact when every value is an exact float (a k * 2**-s of at most the mantissa's bits). ReLU before
    rounding equals ReLU after it (rounding is monotone and keeps 0), and under saturation it is one
    bound of the clip, so a ReLU costs nothing here.
    """
    y = _round_float(y, dst.rounding)
    if dst.overflow is Overflow.SAT:
        return np.clip(y, max(dst.min_code, 0) if relu else dst.min_code, dst.max_code, out=y)
    if relu:
        np.maximum(y, 0, out=y)
    return apply_overflow(y, dst)


def quantize_float(x: np.ndarray, t: FixedType, frac: np.ndarray | None = None) -> np.ndarray:
    """QONNX ``Quant`` of real-valued input with scale 2**-frac, zero point 0, as qonnx computes it.

    qonnx evaluates ``clip(x / scale)`` and then rounds, all in float32; we do the same operations in
    the same precision so that even float32 rounding artefacts of HALF_UP/HALF_DOWN agree. Inputs
    are cast to float32 first, as the exported model declares them; +-inf saturates. ``frac``, if
    given, overrides ``t.frac`` per element (broadcast), for per-channel weight scales.
    """
    x = np.asarray(x, dtype=np.float32)  # the ONNX model's inputs are float32
    if np.isnan(x).any():
        raise ValueError("input contains NaN")
    dt = np.float32
    # x * 2**f equals qonnx's x / 2**-f exactly: both are the correctly rounded same real number
    f = np.asarray(t.frac if frac is None else frac, dtype=np.float64)
    with np.errstate(over="ignore"):  # overflow to inf is saturated below, as in qonnx
        y = np.multiply(x, np.exp2(f).astype(dt), dtype=dt)
    np.clip(y, dt(t.min_code), dt(t.max_code), out=y)
    if t.rounding in (Rounding.HALF_AWAY, Rounding.HALF_ZERO):
        # qonnx writes these as sign(y) * floor(|y| + 0.5) and sign(y) * ceil(|y| - 0.5)
        a = np.abs(y)
        r = np.floor(a + dt(0.5)) if t.rounding is Rounding.HALF_AWAY else np.ceil(a - dt(0.5))
        y = np.sign(y) * r
    else:
        y = _round_float(y, t.rounding)
    return y.astype(code_dtype(t.width), copy=False)


def to_real(codes: np.ndarray, t: FixedType) -> np.ndarray:
    """Codes to their real values (float64; exact for widths up to 53 bits)."""
    return np.asarray(codes, dtype=np.float64) * 2.0**-t.frac


def round_fraction(v: Fraction, mode: Rounding) -> int:
    """An exact rational rounded to an integer by ``mode``.

    >>> [round_fraction(Fraction(k, 2), Rounding.HALF_EVEN) for k in (-3, -1, 1, 3, 5)]
    [-2, 0, 0, 2, 2]
    """
    fl = math.floor(v)
    r = v - fl
    if mode is Rounding.TRUNC:
        return fl
    if mode is Rounding.TRUNC_ZERO:
        return fl if v >= 0 or r == 0 else fl + 1
    if r != Fraction(1, 2):
        return fl + (r > Fraction(1, 2))
    if mode is Rounding.HALF_EVEN:
        return fl + (fl & 1)
    if mode is Rounding.HALF_AWAY:
        return fl + (v > 0)
    return fl + (v < 0)  # HALF_ZERO


def graph_scale(meta: dict, name: str) -> Fraction | None:
    """The float scale recorded for a model input or output (``graph.meta["scale"]``), or None: that
    tensor's codes are worth code * 2**-frac * scale."""
    s = meta.get("scale", {}).get(name)
    return None if s is None else Fraction(s)


def scaled_real(codes: np.ndarray, t: FixedType, scale: Fraction | None) -> np.ndarray:
    """Codes to real values (float64) with an output's float scale: exact up to float64 rounding of the
    product (none for a float32 scale times a code of up to 29 bits)."""
    r = to_real(codes, t)
    return r if scale is None else r * float(scale)


def _quantize_scaled(x: np.ndarray, t: FixedType, scale: Fraction) -> np.ndarray:
    """clip(round(x / scale)) on t's grid, exactly: float64 where the quotient is far from a rounding
    boundary (its error is below 2**-50 relative), exact rationals for the few values near one."""
    v = x.astype(np.float64)
    s = scale * Fraction(2) ** -t.frac  # x / s is the value on t's grid
    with np.errstate(over="ignore", invalid="ignore"):
        y = np.clip(v / float(s), float(t.min_code) - 2.0, float(t.max_code) + 2.0)  # +-inf saturate
        inside = (y > t.min_code - 2.0) & (y < t.max_code + 2.0)
        near = inside & (np.abs(2 * y - np.rint(2 * y)) < 2.0**-20 * np.maximum(1.0, np.abs(y)))
    out = np.clip(_round_float(y.copy(), t.rounding), float(t.min_code), float(t.max_code))
    for idx in zip(*np.nonzero(near), strict=True):
        k = round_fraction(Fraction(float(v[idx])) / s, t.rounding)
        out[idx] = min(max(k, t.min_code), t.max_code)
    return out.astype(code_dtype(t.width))


def quantize_input(x: np.ndarray, t: FixedType, scale: Fraction | None = None) -> np.ndarray:
    """The exact QONNX ``Quant`` of float32 inputs (scale 2**-t.frac): clip(round(x * 2**frac)) computed
    on the real value of each float32, for every width, rounding mode and scale.

    This is what the firmware's input conversion does (an ap_fixed built from a double rounds the exact
    value once, then saturates), so it is the emulator's input quantizer. qonnx computes the same formula
    in float32, which differs from it only where float32 cannot hold an intermediate: HALF_UP/HALF_DOWN
    just below a tie or beyond 2**23 LSBs, a clip bound above 2**24, a negative value below the smallest
    float32 after scaling with FLOOR (see ``l1ml.verify.qonnx_level``). +-inf saturates like any value
    beyond the range; NaN has no code and is refused (ValueError). ``scale`` (a float-scale input
    quantizer, ``graph_scale``): the codes are clip(round(x / scale)), computed exactly as well.
    """
    x = np.asarray(x, dtype=np.float32)
    if np.isnan(x).any():
        raise ValueError("input contains NaN")
    if scale is not None:
        return _quantize_scaled(x, t, scale)
    v = x.astype(np.float64)  # exact
    if t.width <= 52 and abs(t.frac) < 900:
        # float64 is exact here: a float32 (24 bits, 2**-149 to 2**128) times 2**frac stays a normal
        # float64, the clip bounds are below 2**52 (so |y| +- 0.5 is exact for them), and |y| +- 0.5 of
        # a value of 24 significant bits either is exact or stays within (0, 1) of a tiny |y|
        y = np.clip(v * 2.0**t.frac, float(t.min_code), float(t.max_code))
        return _round_float(y, t.rounding).astype(code_dtype(t.width))
    return _quantize_input_int(v, t)


def _quantize_input_int(v: np.ndarray, t: FixedType) -> np.ndarray:
    """``quantize_input`` in int64 for widths above 53 bits or extreme scales: the float as mantissa and
    exponent, the rounding as an integer shift."""
    finite = np.isfinite(v)
    m, e = np.frexp(np.where(finite, v, 0.0))
    mant = np.ldexp(m, 24).astype(np.int64)  # v = mant * 2**(e - 24) exactly, |mant| < 2**24
    s = e.astype(np.int64) - 24 + t.frac  # v * 2**frac = mant * 2**s
    lo, hi = np.int64(t.min_code), np.int64(t.max_code)
    # beyond 2**62 LSBs (or infinite) every type saturates; below, mant << s fits int64
    with np.errstate(over="ignore"):
        huge = ~finite | (np.abs(v) * 2.0**t.frac >= 2.0**62)
    up = np.where(huge, 0, np.clip(s, 0, 62))
    code = np.where(s >= 0, mant << up, 0)
    # s < 0: mant / 2**r rounded; r capped at 40 (> 25 bits of mant), which leaves every rounding unchanged
    r = np.clip(-s, 1, 40)
    code = np.where(s < 0, _round_shift_int(mant, r, t.rounding), code)
    code = np.where(huge, np.where(v > 0, hi, lo), np.clip(code, lo, hi))
    return code.astype(code_dtype(t.width))
