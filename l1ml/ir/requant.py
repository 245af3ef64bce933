"""The cost of a Requant node, written once: ``fuse_requant`` chooses a form by it, the report prints it
and the estimators may reuse it.

The unit is a bit-cell: one bit of a comparator, an adder or a constant multiplier's partial-product
row, roughly one LUT on a 6-input-LUT FPGA. A thresholds form compares the w-bit input with each
distinct threshold (w cells each) and adds the comparison bits; a multiply form is a constant multiplier
(w x m cells for an m-bit constant, the shift-and-add upper bound), one adder for ``add`` and two
comparators for the output clip.
"""

from __future__ import annotations

from l1ml.ir.ops import RequantAttrs
from l1ml.ir.types import FixedType


def threshold_cost(thresholds: tuple[tuple[int, ...], ...], x: FixedType) -> int:
    """Comparators against each channel's distinct thresholds, plus the count of their outputs."""
    total = 0
    for t in thresholds:
        n = len(set(t))
        total += n * x.width + max(n - 1, 0)
    return total


def multiply_cost(mult: tuple[int, ...], add: tuple[int, ...], x: FixedType, out: FixedType) -> int:
    """A constant multiplier, an adder and an output clip per channel (a constant channel costs nothing)."""
    total = 0
    for m, _ in zip(mult, add, strict=True):
        if m == 0:
            continue
        mw = abs(m).bit_length() + 1
        total += x.width * mw + (x.width + mw) + 2 * out.width
    return total


def requant_cost(a: RequantAttrs, x: FixedType, out: FixedType) -> int:
    """Bit-cells of a Requant node in its chosen form."""
    if a.form == "thresholds":
        return threshold_cost(a.thresholds, x)
    return multiply_cost(a.mult, a.add, x, out)


def describe_form(a: RequantAttrs) -> str:
    """One line for report.md: the form and its size."""
    if a.form == "thresholds":
        n = max((len(set(t)) for t in a.thresholds), default=0)
        return f"thresholds: {len(a.thresholds)} channel(s), up to {n} distinct thresholds each"
    mw = max((abs(m).bit_length() for m in a.mult), default=0)
    return f"multiply: {len(a.mult)} channel(s), {mw}-bit multiplier, shift {a.shift}"
