"""Fixed-point types and the rules by which they grow.

A value of ``FixedType(signed, width, frac)`` is an integer code ``m`` standing for ``m * 2**-frac``.
``rounding`` and ``overflow`` say how a wider value is brought *into* the type (as ap_fixed's Q and O
template arguments do); arithmetic itself never rounds or saturates in l1ml: every accumulator type is
derived so that it holds the exact result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

#: The widest type l1ml makes: the emulator computes in int64 (a 62-bit type leaves room for a sign
#: and an exact sum of two such values); ap_fixed and Verilog hold far more.
MAX_WIDTH = 62


class WidthError(ValueError):
    """A type would be wider than MAX_WIDTH; passes turn it into a NodeError naming the node."""

    def __init__(self, width: int):
        super().__init__(f"FixedType width {width} exceeds {MAX_WIDTH} bits, the emulator's integer range")
        self.width = width


class Rounding(Enum):
    """How low bits are dropped when a value moves to a coarser grid."""

    TRUNC = "TRUNC"  # toward -inf (floor); free in hardware; QONNX FLOOR, ap_fixed AP_TRN
    HALF_EVEN = "HALF_EVEN"  # nearest, ties to even; QONNX ROUND, ap_fixed AP_RND_CONV
    TRUNC_ZERO = "TRUNC_ZERO"  # toward zero; QONNX DOWN, ap_fixed AP_TRN_ZERO
    HALF_AWAY = "HALF_AWAY"  # nearest, ties away from zero; QONNX HALF_UP, ap_fixed AP_RND_INF
    HALF_ZERO = "HALF_ZERO"  # nearest, ties toward zero; QONNX HALF_DOWN, ap_fixed AP_RND_ZERO


class Overflow(Enum):
    """What happens to a value outside the type's range."""

    WRAP = "WRAP"  # keep the low bits (two's complement); only safe where the range is proven
    SAT = "SAT"  # clamp to the type's min/max (QONNX Quant always clamps)


@dataclass(frozen=True)
class FixedType:
    """A two's-complement (or unsigned) fixed-point type.

    >>> t = FixedType(signed=True, width=8, frac=4)
    >>> (t.min_code, t.max_code, t.int_bits, t.lsb)
    (-128, 127, 4, 0.0625)
    >>> FixedType(True, 8, 7, narrow=True).min_code
    -127
    """

    signed: bool
    width: int
    frac: int
    rounding: Rounding = Rounding.TRUNC
    overflow: Overflow = Overflow.WRAP
    narrow: bool = False  # QONNX narrow range: the most negative (signed) or largest (unsigned) code is excluded

    def __post_init__(self) -> None:
        if not isinstance(self.width, int) or self.width < 1:
            raise ValueError(f"FixedType width must be a positive integer, got {self.width!r}")
        if self.signed and self.width < 2:
            raise ValueError("a signed FixedType needs at least 2 bits")
        if self.width > MAX_WIDTH:
            raise WidthError(self.width)
        if not isinstance(self.frac, int):
            raise ValueError(f"FixedType frac must be an integer, got {self.frac!r}")
        if not isinstance(self.rounding, Rounding) or not isinstance(self.overflow, Overflow):
            raise ValueError("rounding and overflow must be Rounding and Overflow members")

    # ---- ranges ---------------------------------------------------------------------------------
    @property
    def min_code(self) -> int:
        if not self.signed:
            return 0
        return -(1 << (self.width - 1)) + (1 if self.narrow else 0)

    @property
    def max_code(self) -> int:
        if self.signed:
            return (1 << (self.width - 1)) - 1
        return (1 << self.width) - 1 - (1 if self.narrow else 0)

    @property
    def int_bits(self) -> int:
        """Integer bits including the sign bit, as ap_fixed's I parameter counts them."""
        return self.width - self.frac

    @property
    def lsb(self) -> float:
        return 2.0**-self.frac

    def with_(self, **changes: object) -> FixedType:
        return replace(self, **changes)

    def plain(self) -> FixedType:
        """The same bits with TRUNC/WRAP: the type of a value that needs no conversion."""
        return replace(self, rounding=Rounding.TRUNC, overflow=Overflow.WRAP, narrow=False)

    def __str__(self) -> str:
        s = "fixed" if self.signed else "ufixed"
        extra = ""
        if self.rounding is not Rounding.TRUNC or self.overflow is not Overflow.WRAP:
            extra = f",{self.rounding.value},{self.overflow.value}"
        if self.narrow:
            extra += ",NARROW"
        return f"{s}<{self.width},{self.int_bits}{extra}>"

    # ---- (de)serialisation ------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "signed": self.signed,
            "width": self.width,
            "frac": self.frac,
            "rounding": self.rounding.value,
            "overflow": self.overflow.value,
            "narrow": self.narrow,
        }

    @classmethod
    def from_json(cls, d: dict) -> FixedType:
        return cls(
            signed=bool(d["signed"]),
            width=int(d["width"]),
            frac=int(d["frac"]),
            rounding=Rounding(d["rounding"]),
            overflow=Overflow(d["overflow"]),
            narrow=bool(d["narrow"]),
        )


# ---- growth rules: pure functions, exact by construction ------------------------------------------


def bits_for_range(lo: int, hi: int) -> tuple[bool, int]:
    """Smallest (signed, width) whose codes hold every integer in [lo, hi].

    >>> bits_for_range(0, 255)
    (False, 8)
    >>> bits_for_range(-128, 127)
    (True, 8)
    >>> bits_for_range(-1, 128)
    (True, 9)
    >>> bits_for_range(0, 0)
    (False, 1)
    """
    if lo > hi:
        raise ValueError(f"empty range [{lo}, {hi}]")
    if lo >= 0:
        return False, max(1, int(hi).bit_length())
    # signed: need -2**(w-1) <= lo and hi <= 2**(w-1) - 1
    width = max((-lo - 1).bit_length(), int(max(hi, 0)).bit_length()) + 1
    return True, max(2, width)


def covering(lo: int, hi: int, frac: int) -> FixedType:
    """The narrowest plain FixedType on grid 2**-frac that holds codes lo..hi exactly."""
    signed, width = bits_for_range(lo, hi)
    return FixedType(signed, width, frac)


def mul_type(a: FixedType, b: FixedType) -> FixedType:
    """Exact product type.

    >>> str(mul_type(FixedType(True, 8, 6), FixedType(False, 8, 8)))
    'fixed<16,2>'
    """
    lo = min(a.min_code * b.min_code, a.min_code * b.max_code, a.max_code * b.min_code, a.max_code * b.max_code)
    hi = max(a.min_code * b.min_code, a.min_code * b.max_code, a.max_code * b.min_code, a.max_code * b.max_code)
    return covering(lo, hi, a.frac + b.frac)


def aligned_range(t: FixedType, frac: int) -> tuple[int, int]:
    """The code range of ``t`` expressed on the finer grid 2**-frac (frac >= t.frac)."""
    if frac < t.frac:
        raise ValueError("aligned_range only moves to a finer grid")
    s = frac - t.frac
    return t.min_code << s, t.max_code << s


def add_type(a: FixedType, b: FixedType) -> FixedType:
    """Exact sum type.

    >>> str(add_type(FixedType(True, 8, 4), FixedType(False, 6, 2)))
    'fixed<10,6>'
    """
    frac = max(a.frac, b.frac)
    alo, ahi = aligned_range(a, frac)
    blo, bhi = aligned_range(b, frac)
    return covering(alo + blo, ahi + bhi, frac)


def relu_type(a: FixedType) -> FixedType:
    """Type of max(x, 0): unsigned, the positive half of ``a``."""
    return covering(0, max(a.max_code, 0), a.frac)


def accum_type(x: FixedType, w_codes_lo: int, w_codes_hi: int, n: int, w_frac: int) -> FixedType:
    """Bound for a sum of n products x*w with weights in [lo, hi]; the IR uses exact intervals instead.

    >>> str(accum_type(FixedType(True, 8, 4), -128, 127, 16, 7))
    'fixed<20,9>'
    """
    w = FixedType(*bits_for_range(w_codes_lo, w_codes_hi), w_frac)
    p = mul_type(x, w)
    return covering(p.min_code * n, p.max_code * n, p.frac)
