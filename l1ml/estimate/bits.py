"""Bit-level cost of carry-chain adders whose operands are known by their value ranges.

A synthesised adder needs one LUT per result bit where both operands carry information: where one
operand is a constant 0 the other goes straight into the carry chain, and the bits above two
sign-extended operands all compute the same sign XOR, which logic synthesis shares (one LUT). What
is "information" depends on how a word was made: a shifted input (``x << k``) has exact sign copies
above its value, which synthesis sees through; an adder's output is a carry-chain result at its full
wire width, whose high bits synthesis cannot prove to be sign copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class BitKind(Enum):
    ZERO = 0
    ONE = 1
    VAR = 2  # an information-carrying bit
    SIGN = 3  # a literal copy of the sign bit (wire-level sign extension)


def needed_bits(lo: int, hi: int) -> int:
    """Bits of the two's-complement (lo < 0) or plain binary word holding every integer in [lo, hi].

    >>> needed_bits(0, 255), needed_bits(-128, 127), needed_bits(0, 0), needed_bits(-1, 0)
    (8, 8, 0, 1)
    """
    if lo >= 0:
        return int(hi).bit_length()
    return max((-lo - 1).bit_length(), int(max(hi, 0)).bit_length()) + 1


def trailing_zeros(c: int) -> int:
    """Low zero bits of a non-zero integer (0 for 0).

    >>> trailing_zeros(12), trailing_zeros(-8), trailing_zeros(0)
    (2, 3, 0)
    """
    return (c & -c).bit_length() - 1 if c else 0


@dataclass(frozen=True)
class Word:
    """Codes in [lo, hi] on a wire; the lowest ``tz`` bits are always zero.

    ``chain`` marks an adder output: every bit below ``chain_top`` is a distinct carry-chain result,
    above it the wire only sign-extends. A constant has every bit known.
    """

    lo: int
    hi: int
    tz: int = 0
    const: bool = False
    chain_top: int = 0  # > 0 for adder outputs: the adder's width

    @classmethod
    def constant(cls, c: int) -> Word:
        return cls(c, c, trailing_zeros(c), True)

    @classmethod
    def shifted(cls, lo: int, hi: int, c: int) -> Word:
        """x * c for x in [lo, hi] and c = +-2**k: a wire (or, for negative c, a negation)."""
        a, b = lo * c, hi * c
        return cls(min(a, b), max(a, b), trailing_zeros(c))

    @property
    def top(self) -> int:
        return self.chain_top if self.chain_top else needed_bits(self.lo, self.hi)

    def kind(self, i: int) -> BitKind:
        if self.const:
            return BitKind.ONE if (self.lo >> i) & 1 else BitKind.ZERO
        if i < self.tz:
            return BitKind.ZERO
        if i < self.top:
            return BitKind.VAR
        return BitKind.SIGN if self.lo < 0 else BitKind.ZERO

    def register_bits(self, width: int) -> int:
        """Flip-flops a register of this word on a ``width``-bit wire keeps after synthesis: constant
        bits disappear and literal sign copies share one flip-flop."""
        if self.const:
            return 0
        top = min(self.top, width)
        return max(0, top - self.tz) + (1 if self.lo < 0 and top < width and not self.chain_top else 0)


@dataclass(frozen=True)
class AddCost:
    luts: int
    chain: int  # carry-chain length in bits


def add_words(a: Word, b: Word, width: int, subtract: bool = False) -> tuple[Word, AddCost]:
    """The sum (or difference) of two words on a ``width``-bit wire and what its adder costs."""
    lo, hi = (a.lo - b.hi, a.hi - b.lo) if subtract else (a.lo + b.lo, a.hi + b.hi)
    if a.const and b.const:
        return Word.constant(lo), AddCost(0, 0)
    luts, shared_sign, first, last = 0, False, None, 0
    for i in range(width):
        ka, kb = a.kind(i), b.kind(i)
        if subtract and kb is BitKind.ZERO and i >= b.tz and not b.const:
            kb = BitKind.ONE  # a - b adds ~b: the zero extension of an unsigned subtrahend becomes ones
        if ka is BitKind.ZERO and kb is BitKind.ZERO:
            continue
        if first is None:
            first = i
        last = i
        if ka is BitKind.ZERO or kb is BitKind.ZERO:
            continue  # the other operand's bit goes straight into the carry chain
        if ka is BitKind.SIGN and kb is BitKind.SIGN:
            shared_sign = True  # the same XOR at every such bit: one LUT serves them all
        else:
            luts += 1  # both carry information (or one is an inverted constant bit)
    luts += int(shared_sign)
    chain = 0 if first is None else last - first + 1
    top = width
    if not subtract and a.lo >= 0 and b.lo >= 0:
        top = min(width, max(a.top, b.top) + 1)  # zero-extended operands: synthesis trims the high bits
    return Word(lo, hi, min(a.tz, b.tz), False, top), AddCost(luts, chain)


def carry_cells(chain_bits: int, per_cell: int) -> int:
    """Carry cells of ``per_cell`` bits covering a chain."""
    return math.ceil(chain_bits / per_cell) if chain_bits > 0 else 0
