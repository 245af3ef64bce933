"""Integer facts the Verilog generator needs: widths of exact ranges and how to multiply by a constant.

The multiplier rule: a constant is written in canonical signed digits (the non-adjacent form, which
has the fewest non-zero digits); with at most ``SHIFT_ADD_MAX_TERMS`` digits the product is a
shift-add (at most two adders in LUTs, no DSP), otherwise a ``*`` that synthesis maps to a DSP
slice. Two LUT adders of trigger-sized words cost about as much as the routing to a DSP and keep the
DSPs for the wide products where they save the most; six-bit weights are always shift-add (any
constant below 43 has at most three digits).
"""

from __future__ import annotations

from enum import Enum

from l1ml.ir.types import FixedType, bits_for_range

SHIFT_ADD_MAX_TERMS = 3


class MultKind(Enum):
    SHIFT_ADD = "shift_add"
    DSP = "dsp"


def csd(c: int) -> list[tuple[int, bool]]:
    """Canonical signed digits of ``c`` as (shift, negative) pairs, lowest first.

    >>> csd(7)   # 8 - 1
    [(0, True), (3, False)]
    >>> csd(-6)  # -8 + 2
    [(1, False), (3, True)]
    >>> csd(0)
    []
    """
    digits: list[tuple[int, bool]] = []
    k = 0
    while c != 0:
        if c & 1:
            d = 2 - (c & 3)  # +1 or -1: chosen so that the next bit becomes zero
            digits.append((k, d < 0))
            c -= d
        c >>= 1
        k += 1
    return digits


def multiplier_kind(c: int) -> MultKind:
    """Shift-add for constants with few signed digits, a DSP multiply otherwise (see module doc)."""
    return MultKind.SHIFT_ADD if len(csd(c)) <= SHIFT_ADD_MAX_TERMS else MultKind.DSP


def signed_width(lo: int, hi: int) -> int:
    """Bits of a *signed* two's-complement word holding every integer in [lo, hi].

    >>> signed_width(0, 255), signed_width(-128, 127), signed_width(0, 0)
    (9, 8, 2)
    """
    signed, width = bits_for_range(lo, hi)
    return width if signed else width + 1


def product_range(x: FixedType, c: int) -> tuple[int, int]:
    """Exact range of the code product x * c over every code of ``x``."""
    a, b = x.min_code * c, x.max_code * c
    return min(a, b), max(a, b)


def clog2(n: int) -> int:
    """Levels of a binary tree over n leaves (0 for one leaf).

    >>> clog2(1), clog2(2), clog2(17)
    (0, 1, 5)
    """
    return max(0, (n - 1).bit_length())
