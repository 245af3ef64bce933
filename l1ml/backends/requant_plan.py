"""A Requant node's integer problem, read by every backend and estimator that builds one.

``requant_codes`` (``l1ml.backends.emulate``) is the meaning; this module restates it per channel for
the hardware, with what the input type's range [lo, hi] decides at compile time folded away:

* ``thresholds``: a threshold at or below ``lo`` always counts and one above ``hi`` never does, so the
  first go into a constant ``offset`` and the second disappear; equal thresholds become one comparator
  with a weight (``step`` times the repeat count). out = offset + sum of the weights of the thresholds
  t with x >= t. Every kept threshold lies in (lo, hi], so it is a code of the input type.
* ``multiply``: z = (x * mult + add) >> shift is monotone in x, so its exact range is the values at the
  two ends; the clip bounds are compared only where z can pass them, and a channel whose z is one
  value (mult 0, or always clipped) is a constant.

The same checks refuse an inconsistent RequantAttrs (ragged tables, thresholds out of order, a map
leaving the output type) with the node's name, before any backend writes a file.
"""

from __future__ import annotations

from dataclasses import dataclass

from l1ml.errors import NodeError
from l1ml.ir.graph import Node, Tensor
from l1ml.ir.ops import RequantAttrs
from l1ml.ir.types import FixedType, bits_for_range

FORMS = ("thresholds", "multiply")


def signed_width(lo: int, hi: int) -> int:
    """Bits of a signed two's-complement word holding [lo, hi] (as ``verilog.arith.signed_width``).

    >>> signed_width(0, 255), signed_width(-1, 0)
    (9, 2)
    """
    signed, width = bits_for_range(lo, hi)
    return width if signed else width + 1


@dataclass(frozen=True)
class ThresholdChannel:
    """out = offset + sum(weights[k] for k if x >= thresholds[k]); thresholds distinct, ascending."""

    offset: int
    thresholds: tuple[int, ...]
    weights: tuple[int, ...]

    @property
    def const(self) -> int | None:
        return self.offset if not self.thresholds else None


@dataclass(frozen=True)
class MultiplyChannel:
    """out = clip((x * mult + add) >> shift); ``z_lo``..``z_hi`` the exact range of the shifted value."""

    mult: int
    add: int
    prod_lo: int
    prod_hi: int
    z_lo: int
    z_hi: int
    clip_lo: bool  # z can fall below the output's smallest code
    clip_hi: bool
    const: int | None  # the channel's only output value, or None


@dataclass(frozen=True)
class RequantProblem:
    node: Node
    x: FixedType
    out: FixedType
    form: str
    shift: int
    channels: tuple[ThresholdChannel, ...] | tuple[MultiplyChannel, ...]
    n: int  # elements of the tensor

    def channel(self, i: int) -> int:
        """The channel of element i (row-major, channels on the last axis)."""
        return i % len(self.channels)

    @property
    def max_terms(self) -> int:
        """Thresholds: the most comparators of a channel (the popcount's width in terms)."""
        return max((len(c.thresholds) for c in self.channels), default=0) if self.form == "thresholds" else 0

    def term_width(self) -> int:
        """Thresholds: one signed width for every weight and offset (the adder tree's term width)."""
        vals = [0]
        for c in self.channels:
            vals += [c.offset, *c.weights]
        return max(signed_width(v, v) for v in vals)

    def product_width(self, c: MultiplyChannel) -> int:
        return signed_width(c.prod_lo, c.prod_hi)

    def sum_width(self, c: MultiplyChannel) -> int:
        """Signed width of x * mult + add (at least the product's)."""
        return max(self.product_width(c), signed_width(c.prod_lo + c.add, c.prod_hi + c.add))

    def z_width(self, c: MultiplyChannel) -> int:
        return signed_width(c.z_lo, c.z_hi)

    def wide_width(self) -> int:
        """Multiply: one signed width holding x * mult + add of every channel and the shift (C++ ap_int)."""
        return max([self.shift + 2, self.x.width + 1] + [self.sum_width(c) for c in self.channels])


def _thresholds(node: Node, a: RequantAttrs, lo: int, hi: int, out: FixedType) -> tuple[ThresholdChannel, ...]:
    n = len(a.base)
    if not (len(a.thresholds) == len(a.step) == n) or n == 0:
        raise NodeError(node, f"Requant thresholds: {len(a.thresholds)} threshold lists, {len(a.base)} bases and "
                        f"{len(a.step)} steps; give one of each per channel")
    chans = []
    for c, (ts, base, step) in enumerate(zip(a.thresholds, a.base, a.step, strict=True)):
        if step not in (1, -1):
            raise NodeError(node, f"Requant channel {c}: step {step} is not +1 or -1")
        if any(u > v for u, v in zip(ts, ts[1:], strict=False)):
            raise NodeError(node, f"Requant channel {c}: thresholds are not in ascending order")
        below = sum(1 for t in ts if t <= lo)
        kept: dict[int, int] = {}
        for t in ts:
            if lo < t <= hi:
                kept[t] = kept.get(t, 0) + 1
        first, last = base + step * below, base + step * (below + sum(kept.values()))
        for y in (first, last):
            if not out.min_code <= y <= out.max_code:
                raise NodeError(node, f"Requant channel {c} gives code {y} for an input in [{lo}, {hi}], outside "
                                f"the output type {out} [{out.min_code}, {out.max_code}]; fix the base or the type")
        chans.append(ThresholdChannel(first, tuple(kept), tuple(step * m for m in kept.values())))
    return tuple(chans)


def _multiply(node: Node, a: RequantAttrs, lo: int, hi: int, out: FixedType) -> tuple[MultiplyChannel, ...]:
    if len(a.mult) != len(a.add) or not a.mult:
        raise NodeError(node, f"Requant multiply: {len(a.mult)} multipliers and {len(a.add)} addends; give one "
                        "of each per channel")
    if a.shift < 0:
        raise NodeError(node, f"Requant multiply: shift {a.shift} is negative")
    chans = []
    for m, add in zip(a.mult, a.add, strict=True):
        p_lo, p_hi = sorted((lo * m, hi * m))
        z_lo, z_hi = (p_lo + add) >> a.shift, (p_hi + add) >> a.shift
        y_lo, y_hi = min(max(z_lo, out.min_code), out.max_code), min(max(z_hi, out.min_code), out.max_code)
        const = y_lo if y_lo == y_hi else None
        chans.append(MultiplyChannel(m, add, p_lo, p_hi, z_lo, z_hi, z_lo < out.min_code, z_hi > out.max_code,
                                     const))
    return tuple(chans)


def requant_problem(node: Node, x: Tensor, out: Tensor) -> RequantProblem:
    """The checked, folded problem of Requant ``node`` reading ``x`` into ``out``."""
    a: RequantAttrs = node.attrs
    if x.type is None or out.type is None:
        raise NodeError(node, "Requant without fixed-point types; run the l1ml passes first")
    if a.form not in FORMS:
        raise NodeError(node, f"Requant form '{a.form}' is not one of {', '.join(FORMS)}")
    lo, hi = x.type.min_code, x.type.max_code
    chans = _thresholds(node, a, lo, hi, out.type) if a.form == "thresholds" else _multiply(node, a, lo, hi, out.type)
    last = x.shape[-1] if x.shape else 1
    if len(chans) != 1 and len(chans) != last:
        raise NodeError(node, f"Requant has {len(chans)} channels but its input's last axis has {last} elements; "
                        "give one entry per channel or one for all")
    if x.shape != out.shape:
        raise NodeError(node, f"Requant changes the shape {x.shape} -> {out.shape}; it is elementwise")
    return RequantProblem(node, x.type, out.type, a.form, a.shift, chans, x.size)
