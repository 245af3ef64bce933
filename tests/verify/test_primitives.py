"""Unit testbenches for the Verilog primitives against their Python models.

One generated harness instantiates every primitive in many parameterisations side by side, so that a
single Verilator build covers them all. It is driven with every 8-bit stimulus word x (exhaustive for
the one-operand primitives) times every 2-bit select, plus random signed terms; each instance drives
its own output port, delayed so that all outputs are valid in the same cycle. The expectations come
from ``l1ml.ir.quantize`` and plain integer arithmetic, never from the Verilog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from l1ml.backends.verilog.arith import clog2, csd, product_range, signed_width
from l1ml.backends.verilog.emitter import Emitter, literal, packed
from l1ml.backends.verilog.primitives import ROUNDING_CODE, all_primitive_files
from l1ml.ir.quantize import requantize
from l1ml.ir.types import FixedType, Overflow, Rounding, bits_for_range
from l1ml.verify.cocotb_bench.config import PortSpec
from l1ml.verify.rtl import run_stream
from l1ml.verify.runner import lint

II = 3  # the reuse MAC inside the harness takes one input every 3 cycles
N_TERMS = 17
TERM_W = 8


@dataclass
class Stimulus:
    x: np.ndarray  # raw 8-bit words 0..255
    sel: np.ndarray  # 0..3
    terms: np.ndarray  # (n, N_TERMS) signed 8-bit codes

    @property
    def xs(self) -> np.ndarray:
        """x read as a signed 8-bit code."""
        return np.where(self.x >= 128, self.x - 256, self.x)


@dataclass
class Part:
    """One instance under test: its Verilog, output port and expected codes."""

    primitive: str
    label: str
    width: int
    signed: bool
    latency: int
    verilog: Callable[[Emitter, str], None]  # writes the instance, driving the given wire
    expect: Callable[[Stimulus], np.ndarray]


def _wrap(v: np.ndarray, width: int) -> np.ndarray:
    """Two's-complement value of the low ``width`` bits."""
    v = np.asarray(v, dtype=np.int64) & ((1 << width) - 1)
    return np.where(v >= 1 << (width - 1), v - (1 << width), v)


def _requant_parts() -> list[Part]:
    parts = []
    for in_signed in (0, 1):
        for out_signed in (0, 1):
            for rounding in Rounding:
                for overflow, narrow in ((Overflow.WRAP, False), (Overflow.SAT, False), (Overflow.SAT, True)):
                    for shift in (-2, 0, 1, 3, 9):
                        for out_w in (3, 10):
                            dst = FixedType(bool(out_signed), out_w, 0, rounding, overflow, narrow)
                            params = {"N": 1, "IN_W": 8, "IN_SIGNED": in_signed, "OUT_W": out_w,
                                      "OUT_SIGNED": out_signed, "SHIFT": shift,
                                      "ROUNDING": ROUNDING_CODE[rounding],
                                      "SAT": int(overflow is Overflow.SAT),
                                      "NARROW": int(narrow)}

                            def verilog(e: Emitter, y: str, params=params) -> None:
                                e.instance("l1ml_requant", f"u_{y}", params, {"x": "in_x", "y": y}, "requant")

                            def expect(s: Stimulus, in_signed=in_signed, shift=shift, dst=dst) -> np.ndarray:
                                x = (s.xs if in_signed else s.x).astype(np.int64)
                                return requantize(x, shift, dst).astype(np.int64)

                            parts.append(Part("l1ml_requant", f"in_signed={in_signed} {dst} shift={shift}",
                                              out_w, bool(out_signed), 0, verilog, expect))
    return parts


def _relu_parts() -> list[Part]:
    parts = []
    for in_signed, out_w in ((1, 7), (1, 9), (0, 8), (0, 10)):
        def verilog(e: Emitter, y: str, in_signed=in_signed, out_w=out_w) -> None:
            e.instance("l1ml_relu", f"u_{y}", {"N": 1, "IN_W": 8, "IN_SIGNED": in_signed, "OUT_W": out_w},
                       {"x": "in_x", "y": y}, "relu")

        def expect(s: Stimulus, in_signed=in_signed) -> np.ndarray:
            return np.maximum(s.xs if in_signed else s.x, 0)

        label = f"in_signed={in_signed} out_w={out_w}"
        parts.append(Part("l1ml_relu", label, out_w, False, 0, verilog, expect))
    return parts


def _mult_parts() -> list[Part]:
    parts = []
    for signed in (0, 1):
        x_t = FixedType(bool(signed), 8, 0)
        for c in [*range(-42, 0), *range(1, 43)]:
            w = signed_width(*product_range(x_t, c))
            digits = csd(c)
            params = {"IN_W": 8, "IN_SIGNED": signed, "OUT_W": w, "N_TERMS": len(digits),
                      "SHIFTS": packed([s for s, _ in digits], 8),
                      "NEGATE": literal(sum(1 << k for k, (_, neg) in enumerate(digits) if neg), len(digits))}

            def verilog(e: Emitter, y: str, params=params) -> None:
                e.instance("l1ml_shift_add", f"u_{y}", params, {"x": "in_x", "p": y}, "shift-add")

            def expect(s: Stimulus, signed=signed, c=c) -> np.ndarray:
                return (s.xs if signed else s.x) * c

            parts.append(Part("l1ml_shift_add", f"signed={signed} c={c}", w, True, 0, verilog, expect))
        for c, extra in ((43, 0), (-43, 0), (100, 0), (-128, 0), (127, 0), (1000, 0), (-31000, 0), (77, 3)):
            w = signed_width(*product_range(x_t, c)) + extra
            cw = signed_width(c, c)
            params = {"IN_W": 8, "IN_SIGNED": signed, "C_W": cw, "C": literal(c, cw), "OUT_W": w}

            def verilog(e: Emitter, y: str, params=params) -> None:
                e.instance("l1ml_mult_const", f"u_{y}", params, {"x": "in_x", "p": y}, "multiplier")

            def expect(s: Stimulus, signed=signed, c=c) -> np.ndarray:
                return (s.xs if signed else s.x) * c

            label = f"signed={signed} c={c} out_w={w}"
            parts.append(Part("l1ml_mult_const", label, w, True, 0, verilog, expect))
    return parts


def _add_parts() -> list[Part]:
    parts = []
    for a_signed, b_signed, a_shift, b_shift in ((1, 0, 0, 2), (1, 1, 3, 0), (0, 0, 0, 0), (0, 1, 1, 1)):
        a_t, b_t = FixedType(bool(a_signed), 4, 0), FixedType(bool(b_signed), 4, 0)
        signed, width = bits_for_range((a_t.min_code << a_shift) + (b_t.min_code << b_shift),
                                       (a_t.max_code << a_shift) + (b_t.max_code << b_shift))
        params = {"N": 1, "A_W": 4, "A_SIGNED": a_signed, "A_SHIFT": a_shift, "B_W": 4, "B_SIGNED": b_signed,
                  "B_SHIFT": b_shift, "OUT_W": width}

        def verilog(e: Emitter, y: str, params=params) -> None:
            e.instance("l1ml_add", f"u_{y}", params, {"a": "in_x[3:0]", "b": "in_x[7:4]", "y": y}, "add")

        def expect(s: Stimulus, a_signed=a_signed, b_signed=b_signed, a_shift=a_shift,
                   b_shift=b_shift) -> np.ndarray:
            a, b = s.x & 15, s.x >> 4
            a = np.where(a_signed & (a >= 8), a - 16, a)
            b = np.where(b_signed & (b >= 8), b - 16, b)
            return (a << a_shift) + (b << b_shift)

        parts.append(Part("l1ml_add", f"a_signed={a_signed} b_signed={b_signed} shifts={a_shift},{b_shift}",
                          width, signed, 0, verilog, expect))
    return parts


def _nibbles(s: Stimulus, a_signed: int, b_signed: int) -> tuple[np.ndarray, np.ndarray]:
    """The low and high 4-bit halves of x as codes (every pair once over the 256 words)."""
    a, b = (s.x & 15).astype(np.int64), (s.x >> 4).astype(np.int64)
    return np.where(a_signed & (a >= 8), a - 16, a), np.where(b_signed & (b >= 8), b - 16, b)


def _binary_parts() -> list[Part]:
    """l1ml_sub, l1ml_minmax and l1ml_mult on every pair of 4-bit codes, signed and unsigned mixed."""
    parts = []
    combos = ((1, 0, 0, 2), (1, 1, 3, 0), (0, 0, 0, 0), (0, 1, 1, 1))
    ops = {"l1ml_sub": lambda a, b: a - b, "max": np.maximum, "min": np.minimum, "l1ml_mult": lambda a, b: a * b}
    for name, fn in ops.items():
        for a_signed, b_signed, a_shift, b_shift in combos:
            if name == "l1ml_mult":
                a_shift = b_shift = 0
            a_t, b_t = FixedType(bool(a_signed), 4, 0), FixedType(bool(b_signed), 4, 0)
            a_r = np.arange(a_t.min_code, a_t.max_code + 1) << a_shift
            b_r = np.arange(b_t.min_code, b_t.max_code + 1) << b_shift
            table = fn(a_r[:, None], b_r[None, :])
            signed, width = bits_for_range(int(table.min()), int(table.max()))
            params: dict[str, object] = {"N": 1, "A_W": 4, "A_SIGNED": a_signed, "B_W": 4, "B_SIGNED": b_signed}
            if name != "l1ml_mult":
                params |= {"A_SHIFT": a_shift, "B_SHIFT": b_shift}
            params["OUT_W"] = width
            module = "l1ml_minmax" if name in ("max", "min") else name
            if module == "l1ml_minmax":
                params["MIN"] = int(name == "min")

            def verilog(e: Emitter, y: str, params=params, module=module) -> None:
                e.instance(module, f"u_{y}", params, {"a": "in_x[3:0]", "b": "in_x[7:4]", "y": y}, module)

            def expect(s: Stimulus, a_signed=a_signed, b_signed=b_signed, a_shift=a_shift, b_shift=b_shift,
                       fn=fn) -> np.ndarray:
                a, b = _nibbles(s, a_signed, b_signed)
                return fn(a << a_shift, b << b_shift)

            parts.append(Part(module, f"{name} a_signed={a_signed} b_signed={b_signed} shifts={a_shift},{b_shift}",
                              width, signed, 0, verilog, expect))
    for signed_in in (0, 1):  # a square: both ports on the same word
        def square(e: Emitter, y: str, signed_in=signed_in) -> None:
            # (-128)**2 = 2**14 and 255**2 both fit 16 unsigned bits
            e.instance("l1ml_mult", f"u_{y}", {"N": 1, "A_W": 8, "A_SIGNED": signed_in, "B_W": 8,
                                               "B_SIGNED": signed_in, "OUT_W": 16}, {"a": "in_x", "b": "in_x", "y": y},
                       "square")

        def expect_sq(s: Stimulus, signed_in=signed_in) -> np.ndarray:
            x = (s.xs if signed_in else s.x).astype(np.int64)
            return x * x

        parts.append(Part("l1ml_mult", f"square signed={signed_in}", 16, False, 0, square,
                          expect_sq))
    return parts


def _three_steps(e: Emitter, y: str, sel_w: int, what: str) -> None:
    """A controller counting 3 phases from ``in_valid`` and the 24 input bits held for them (the wires
    ``<y>_phase``, ``_first``, ``_last`` and ``_xh`` are declared by the caller)."""
    e.instance("l1ml_reuse_ctrl", f"u_{y}_ctrl", {"R": 3, "SEL_W": sel_w},
               {"clk": "clk", "rst": "rst", "start": "in_valid", "phase": f"{y}_phase",
                "first": f"{y}_first", "last": f"{y}_last"}, what)
    e.instance("l1ml_hold", f"u_{y}_hold", {"W": 24},
               {"clk": "clk", "en": "in_valid", "d": "in_terms[23:0]", "q": f"{y}_xh"}, "hold")


def _addsub_parts() -> list[Part]:
    """l1ml_addsub (one adder of cmm.py): every pair of signed 4-bit codes, the three operations, shifts
    0 to 3, at the exact output width; plus a 3-bit a cut from a wider word (the modulo rule)."""
    parts = []
    for op in (0, 1, 2):
        for shift in range(4):
            a_r, b_r = np.arange(-8, 8), np.arange(-8, 8) << shift
            table = [a_r[:, None] + b_r[None, :], a_r[:, None] - b_r[None, :], b_r[None, :] - a_r[:, None]][op]
            width = signed_width(int(table.min()), int(table.max()))
            params = {"A_W": 4, "B_W": 4, "SHIFT": shift, "OP": op, "OUT_W": width}

            def verilog(e: Emitter, y: str, params=params) -> None:
                e.instance("l1ml_addsub", f"u_{y}", params, {"a": "in_x[3:0]", "b": "in_x[7:4]", "y": y},
                           "l1ml_addsub")

            def expect(s: Stimulus, op=op, shift=shift) -> np.ndarray:
                a, b = _nibbles(s, 1, 1)
                return [a + (b << shift), a - (b << shift), (b << shift) - a][op]

            parts.append(Part("l1ml_addsub", f"addsub op={op} shift={shift}", width, True, 0, verilog, expect))
    # a constant operand as the parameter K (KONST 1: a, 2: b); the port it replaces carries other bits
    for op in (0, 1, 2):
        for shift in (0, 2):
            for konst, k in ((1, -8), (1, 5), (2, -1), (2, 7), (2, 0)):
                a_r = np.array([k]) if konst == 1 else np.arange(-8, 8)
                b_r = (np.array([k]) if konst == 2 else np.arange(-8, 8)) << shift
                table = [a_r[:, None] + b_r[None, :], a_r[:, None] - b_r[None, :], b_r[None, :] - a_r[:, None]][op]
                width = signed_width(int(table.min()), int(table.max()))
                params = {"A_W": 4, "B_W": 4, "SHIFT": shift, "OP": op, "OUT_W": width, "KONST": konst, "K": k}

                def verilog_k(e: Emitter, y: str, params=params) -> None:
                    e.instance("l1ml_addsub", f"u_{y}", params, {"a": "in_x[3:0]", "b": "in_x[7:4]", "y": y},
                               "l1ml_addsub")

                def expect_k(s: Stimulus, op=op, shift=shift, konst=konst, k=k) -> np.ndarray:
                    a, b = _nibbles(s, 1, 1)
                    if konst == 1:
                        a = np.full_like(a, k)
                    else:
                        b = np.full_like(b, k)
                    return [a + (b << shift), a - (b << shift), (b << shift) - a][op]

                parts.append(Part("l1ml_addsub", f"addsub op={op} shift={shift} konst={konst} k={k}", width, True,
                                  0, verilog_k, expect_k))
    return parts


def _unary_parts() -> list[Part]:
    """l1ml_negate (Neg, Abs) and l1ml_clip on every 8-bit code."""
    parts = []
    for in_signed in (0, 1):
        lo, hi = (-128, 127) if in_signed else (0, 255)
        for absolute in (0, 1):
            vals = np.arange(lo, hi + 1)
            signed, width = bits_for_range(*((int(np.abs(vals).min()), int(np.abs(vals).max())) if absolute
                                            else (-hi, -lo)))

            def verilog(e: Emitter, y: str, in_signed=in_signed, absolute=absolute, width=width) -> None:
                e.instance("l1ml_negate", f"u_{y}", {"N": 1, "IN_W": 8, "IN_SIGNED": in_signed, "OUT_W": width,
                                                     "ABS": absolute}, {"x": "in_x", "y": y}, "negate")

            def expect(s: Stimulus, in_signed=in_signed, absolute=absolute) -> np.ndarray:
                x = (s.xs if in_signed else s.x).astype(np.int64)
                return np.abs(x) if absolute else -x

            parts.append(Part("l1ml_negate", f"in_signed={in_signed} abs={absolute}", width, signed, 0, verilog,
                              expect))
        for shift, c_lo, c_hi in ((0, -20, 90), (1, 7, None), (2, None, -3), (0, 300, 400), (1, -300, -200)):
            clipped = np.clip(np.arange(lo, hi + 1) << shift, c_lo, c_hi)
            signed, width = bits_for_range(int(clipped.min()), int(clipped.max()))
            cw = signed_width(min(b for b in (c_lo, c_hi, 0) if b is not None),
                              max(b for b in (c_lo, c_hi, 0) if b is not None))
            params = {"N": 1, "IN_W": 8, "IN_SIGNED": in_signed, "SHIFT": shift, "OUT_W": width, "C_W": cw,
                      "HAS_LO": int(c_lo is not None), "LO": literal(c_lo or 0, cw),
                      "HAS_HI": int(c_hi is not None), "HI": literal(c_hi or 0, cw)}

            def verilog_clip(e: Emitter, y: str, params=params) -> None:
                e.instance("l1ml_clip", f"u_{y}", params, {"x": "in_x", "y": y}, "clip")

            def expect_clip(s: Stimulus, in_signed=in_signed, shift=shift, c_lo=c_lo, c_hi=c_hi) -> np.ndarray:
                x = (s.xs if in_signed else s.x).astype(np.int64) << shift
                return np.clip(x, c_lo, c_hi)

            parts.append(Part("l1ml_clip", f"in_signed={in_signed} shift={shift} [{c_lo}, {c_hi}]", width, signed, 0,
                              verilog_clip, expect_clip))
    return parts


def _tree_parts() -> list[Part]:
    parts = []
    for n in (1, 2, 3, 5, 8, N_TERMS):
        depth = clog2(n)
        exact = TERM_W + depth
        for out_w in sorted({exact, TERM_W + 1, exact + 2}):
            for mask in (0, (1 << (depth + 1)) - 1, 0b10101):
                lat = bin(mask & ((1 << (depth + 1)) - 1)).count("1")

                def verilog(e: Emitter, y: str, n=n, out_w=out_w, mask=mask) -> None:
                    e.instance("l1ml_adder_tree", f"u_{y}",
                               {"N": n, "IN_W": TERM_W, "OUT_W": out_w, "REG_MASK": literal(mask, 32)},
                               {"clk": "clk", "terms": f"in_terms[{n * TERM_W - 1}:0]", "sum": y},
                               "adder tree")

                def expect(s: Stimulus, n=n, out_w=out_w) -> np.ndarray:
                    return _wrap(s.terms[:, :n].sum(axis=1), out_w)  # modulo 2**OUT_W by definition

                parts.append(Part("l1ml_adder_tree", f"n={n} out_w={out_w} mask={mask:b}", out_w, True, lat,
                                  verilog, expect))
    return parts


def _max_parts() -> list[Part]:
    parts = []
    for n in (1, 2, 3, 5, 8, N_TERMS):
        depth = clog2(n)
        for signed in (True, False):
            for mask in (0, (1 << (depth + 1)) - 1, 0b10101):
                lat = bin(mask & ((1 << (depth + 1)) - 1)).count("1")

                def verilog(e: Emitter, y: str, n=n, signed=signed, mask=mask) -> None:
                    e.instance("l1ml_max_tree", f"u_{y}",
                               {"N": n, "W": TERM_W, "SIGNED": int(signed), "REG_MASK": literal(mask, 32)},
                               {"clk": "clk", "x": f"in_terms[{n * TERM_W - 1}:0]", "y": y}, "max tree")

                def expect(s: Stimulus, n=n, signed=signed) -> np.ndarray:
                    t = s.terms[:, :n]
                    return t.max(axis=1) if signed else (t & 0xFF).max(axis=1)  # unsigned: the raw words

                parts.append(Part("l1ml_max_tree", f"n={n} signed={signed} mask={mask:b}", TERM_W, signed,
                                  lat, verilog, expect))
    return parts


def _sequential_parts() -> list[Part]:
    parts = []
    for depth in (0, 1, 3):
        def verilog(e: Emitter, y: str, depth=depth) -> None:
            e.instance("l1ml_delay", f"u_{y}", {"W": 8, "DEPTH": depth}, {"clk": "clk", "d": "in_x", "q": y},
                       "delay")

        parts.append(Part("l1ml_delay", f"depth={depth}", 8, False, depth, verilog, lambda s: s.x))
    for depth in (0, 1, 2):
        def verilog(e: Emitter, y: str, depth=depth) -> None:
            e.instance("l1ml_valid_delay", f"u_{y}", {"DEPTH": depth},
                       {"clk": "clk", "rst": "rst", "d": "in_valid", "q": y}, "valid delay")

        parts.append(Part("l1ml_valid_delay", f"depth={depth}", 1, False, depth, verilog,
                          lambda s: np.ones_like(s.x)))

    def mux(e: Emitter, y: str) -> None:
        e.instance("l1ml_mux", f"u_{y}", {"N": 3, "W": 8, "SEL_W": 2},
                   {"words": "in_terms[23:0]", "sel": "in_sel", "y": y}, "mux")

    parts.append(Part("l1ml_mux", "N=3", 8, True, 0, mux,
                      lambda s: s.terms[np.arange(len(s.sel)), np.where(s.sel < 3, s.sel, 0)]))
    rom = [5, -7, 31]

    def rom_mult(e: Emitter, y: str) -> None:
        e.instance("l1ml_rom_mult", f"u_{y}", {"R": 3, "SEL_W": 2, "IN_W": 8, "IN_SIGNED": 1, "C_W": 6,
                                               "CONSTS": packed(rom, 6), "OUT_W": 14},
                   {"x": "in_x", "sel": "in_sel", "p": y}, "rom multiplier")

    parts.append(Part("l1ml_rom_mult", "R=3", 14, True, 0, rom_mult,
                      lambda s: s.xs * np.array(rom)[np.where(s.sel < 3, s.sel, 0)]))
    consts, bias = [3, -5, 17], -100

    def mac(e: Emitter, y: str) -> None:
        # a one-neuron reuse layer over terms[0..2]: controller, held input, mux, ROM multiplier, accumulator
        e.line(f"wire [1:0] {y}_phase; wire {y}_first, {y}_last; wire [23:0] {y}_xh; wire [7:0] {y}_xs;")
        e.line(f"wire [13:0] {y}_p; wire [15:0] {y}_s;")
        _three_steps(e, y, 2, "reuse controller")
        e.instance("l1ml_mux", f"u_{y}_mux", {"N": 3, "W": 8, "SEL_W": 2},
                   {"words": f"{y}_xh", "sel": f"{y}_phase", "y": f"{y}_xs"}, "mux")
        e.instance("l1ml_rom_mult", f"u_{y}_mul", {"R": 3, "SEL_W": 2, "IN_W": 8, "IN_SIGNED": 1, "C_W": 6,
                                                    "CONSTS": packed(consts, 6), "OUT_W": 14},
                   {"x": f"{y}_xs", "sel": f"{y}_phase", "p": f"{y}_p"}, "rom multiplier")
        e.instance("l1ml_adder_tree", f"u_{y}_tree",
                   {"N": 1, "IN_W": 14, "OUT_W": 16, "REG_MASK": literal(0, 32)},
                   {"clk": "clk", "terms": f"{y}_p", "sum": f"{y}_s"}, "one-term tree")
        e.instance("l1ml_accum", f"u_{y}_acc", {"W": 16, "BIAS": literal(bias, 16)},
                   {"clk": "clk", "first": f"{y}_first", "last": f"{y}_last", "s": f"{y}_s", "y": y},
                   "accumulator")

    parts.append(Part("l1ml_reuse_ctrl+l1ml_hold+l1ml_accum", "R=3 MAC", 16, True, 4, mac,
                      lambda s: bias + s.terms[:, :3] @ np.array(consts)))
    table = [2, 0, 1]  # step -> word; sel 3 is past the table and picks word 0

    def table_mux(e: Emitter, y: str) -> None:
        e.instance("l1ml_table_mux", f"u_{y}", {"N": 3, "W": 8, "STEPS": 3, "SEL_W": 2, "IDX_W": 2,
                                                "TABLE": packed(table, 2)},
                   {"words": "in_terms[23:0]", "sel": "in_sel", "y": y}, "table mux")

    parts.append(Part("l1ml_table_mux", "N=3 STEPS=3", 8, True, 0, table_mux,
                      lambda s: s.terms[np.arange(len(s.sel)), np.array([*table, 0])[s.sel]]))
    # a stream of 3 steps over terms[0..2] held from the valid cycle: step 0 adds terms 0 and 1, step 1
    # term 2, step 2 terms 0 and 2; the sum restarts with each input
    mask = [0b011, 0b100, 0b101]
    weights = np.array([2, 1, 2])
    # (OUT_W, TREE_MASK, EXTRA): combinational step sums, and registers in the tree and after it (the
    # first flag delayed to match, as segsum.py does)
    for out_w, tree_mask, extra in ((11, 0, 0), (6, 0, 0), (11, 0b101, 1), (6, 0b010, 0)):
        lat = bin(tree_mask).count("1") + extra

        def stream(e: Emitter, y: str, out_w=out_w, tree_mask=tree_mask, extra=extra, lat=lat) -> None:
            e.line(f"wire [2:0] {y}_phase; wire {y}_first, {y}_last; wire [23:0] {y}_xh;")
            _three_steps(e, y, 3, "step counter")
            e.line("/* verilator lint_off UNUSEDSIGNAL */")
            e.line(f"wire {y}_unused = {y}_last;")
            e.line("/* verilator lint_on UNUSEDSIGNAL */")
            first = f"{y}_first"
            if lat:
                e.line(f"wire {y}_first_d;")
                e.instance("l1ml_delay", f"u_{y}_first", {"W": 1, "DEPTH": lat},
                           {"clk": "clk", "d": first, "q": f"{y}_first_d"}, "first flag at the accumulator")
                first = f"{y}_first_d"
            e.instance("l1ml_stream_sum", f"u_{y}_sum", {"N": 3, "IN_W": 8, "OUT_W": out_w, "STEPS": 3,
                                                         "SEL_W": 3, "MASK": packed(mask, 3),
                                                         "TREE_MASK": literal(tree_mask, 32), "EXTRA": extra},
                       {"clk": "clk", "first": first, "sel": f"{y}_phase", "terms": f"{y}_xh",
                        "sum": y}, "stream sum")

        parts.append(Part("l1ml_stream_sum", f"OUT_W={out_w} TREE_MASK={tree_mask} EXTRA={extra}", out_w, True,
                          4 + lat, stream, lambda s, out_w=out_w: _wrap(s.terms[:, :3] @ weights, out_w)))
    return parts


def _requant_map_parts() -> list[Part]:
    """A Requant node's primitives: the threshold comparators and the add-shift-clip after a product."""
    parts = []
    weights = (1, 2, -1)
    for signed, ts in ((0, (3, 128, 255)), (1, (-5, 0, 100))):
        params = {"IN_W": 8, "IN_SIGNED": signed, "N": 3, "T": packed(ts, 8), "TERM_W": 3,
                  "WEIGHTS": packed(weights, 3)}

        def verilog(e: Emitter, y: str, params=params) -> None:
            e.instance("l1ml_thresholds", f"u_{y}", params, {"x": "in_x", "terms": y}, "thresholds")

        def expect(s: Stimulus, signed=signed, ts=ts) -> np.ndarray:
            x = s.xs if signed else s.x
            terms = [np.where(x >= t, w & 7, 0) << (3 * k) for k, (t, w) in enumerate(zip(ts, weights, strict=True))]
            return sum(terms)

        parts.append(Part("l1ml_thresholds", f"signed={signed} T={ts}", 9, False, 0, verilog, expect))
    for add, shift, out in ((5, 2, FixedType(True, 4, 0)), (-100, 0, FixedType(False, 6, 0)),
                            (0, 11, FixedType(True, 2, 0)), (300, 3, FixedType(True, 8, 0)),
                            (-7, 1, FixedType(False, 3, 0, narrow=True))):
        s_lo, s_hi = -128 + add, 127 + add
        sum_w = max(8, signed_width(s_lo, s_hi))
        z_lo, z_hi = s_lo >> shift, s_hi >> shift
        q_w = signed_width(z_lo, z_hi)
        clip_lo, clip_hi = z_lo < out.min_code, z_hi > out.max_code
        params = {"IN_W": 8, "SUM_W": sum_w, "ADD": literal(add, sum_w), "SHIFT": shift, "Q_W": q_w,
                  "CLIP_LO": int(clip_lo), "LO": literal(out.min_code if clip_lo else 0, q_w),
                  "CLIP_HI": int(clip_hi), "HI": literal(out.max_code if clip_hi else 0, q_w), "OUT_W": out.width}

        def verilog(e: Emitter, y: str, params=params) -> None:
            e.instance("l1ml_add_shift_clip", f"u_{y}", params, {"p": "in_x", "y": y}, "add-shift-clip")

        def expect(s: Stimulus, add=add, shift=shift, out=out) -> np.ndarray:
            return np.clip((s.xs + add) >> shift, out.min_code, out.max_code)

        parts.append(Part("l1ml_add_shift_clip", f"add={add} shift={shift} {out}", out.width, out.signed, 0,
                          verilog, expect))
    return parts


def _all_parts() -> list[Part]:
    return (_requant_parts() + _relu_parts() + _mult_parts() + _add_parts() + _tree_parts() + _max_parts()
            + _sequential_parts() + _requant_map_parts() + _binary_parts() + _unary_parts() + _addsub_parts())


def _harness(parts: list[Part], latency: int) -> str:
    e = Emitter()
    e.line("`default_nettype none")
    e.line("module prim_harness (")
    with e.indent():
        e.line("input  wire clk,")
        e.line("input  wire rst,")
        e.line("input  wire in_valid,")
        e.line("input  wire [7:0] in_x,")
        e.line("input  wire [1:0] in_sel,")
        e.line(f"input  wire [{N_TERMS * TERM_W - 1}:0] in_terms,")
        for k, p in enumerate(parts):
            e.line(f"output wire [{p.width - 1}:0] out_{k},")
        e.line("output wire out_valid")
    e.line(");")
    with e.indent():
        for k, p in enumerate(parts):
            e.line(f"wire [{p.width - 1}:0] r_{k};")
            p.verilog(e, f"r_{k}")
            e.instance("l1ml_delay", f"u_align_{k}", {"W": p.width, "DEPTH": latency - p.latency},
                       {"clk": "clk", "d": f"r_{k}", "q": f"out_{k}"}, "align to the common latency")
        e.instance("l1ml_valid_delay", "u_valid", {"DEPTH": latency},
                   {"clk": "clk", "rst": "rst", "d": "in_valid", "q": "out_valid"}, "valid")
    e.line("endmodule")
    e.line("`default_nettype wire")
    return e.text()


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> tuple[list[Part], Stimulus, object, list[Path]]:
    parts = _all_parts()
    latency = max(p.latency for p in parts)
    d = tmp_path_factory.mktemp("prim")
    (d / "prim_harness.v").write_text(_harness(parts, latency))
    sources = [*all_primitive_files(), d / "prim_harness.v"]
    rng = np.random.default_rng(7)
    x = np.tile(np.arange(256), 4)
    stim = Stimulus(x, np.repeat(np.arange(4), 256), rng.integers(-128, 128, size=(len(x), N_TERMS)))
    inputs = {PortSpec("in_x", 1, 8, False): stim.x[:, None],
              PortSpec("in_sel", 1, 2, False): stim.sel[:, None],
              PortSpec("in_terms", N_TERMS, TERM_W, True): stim.terms}
    outs = [PortSpec(f"out_{k}", 1, p.width, p.signed, p.label) for k, p in enumerate(parts)]
    res = run_stream(sources, "prim_harness", d / "build", inputs, outs, ii=II, timeout_cycles=100)
    return parts, stim, res, sources


def _check(harness, primitive: str) -> int:
    parts, stim, res, _ = harness
    checked = 0
    for k, p in enumerate(parts):
        if p.primitive != primitive:
            continue
        got = res.outputs[f"out_{k}"][:, 0]
        want = np.asarray(p.expect(stim), dtype=np.int64)
        bad = np.nonzero(got != want)[0]
        k0 = bad[0] if len(bad) else 0
        assert not len(bad), (f"{primitive} {p.label}: {len(bad)} of {len(got)} wrong; first x={stim.x[k0]} "
                              f"sel={stim.sel[k0]}: expected {want[k0]}, got {got[k0]}")
        checked += 1
    return checked


def test_harness_streams_every_vector_at_the_common_latency(harness):
    parts, stim, res, _ = harness
    assert res.report.n_vectors == len(stim.x) and not res.report.error
    assert res.report.latency_cycles == res.report.latency_min == max(p.latency for p in parts)
    assert res.report.ii == II


@pytest.mark.parametrize("primitive", [
    "l1ml_requant", "l1ml_relu", "l1ml_shift_add", "l1ml_mult_const", "l1ml_add", "l1ml_adder_tree",
    "l1ml_max_tree", "l1ml_delay", "l1ml_valid_delay", "l1ml_mux", "l1ml_rom_mult",
    "l1ml_reuse_ctrl+l1ml_hold+l1ml_accum", "l1ml_thresholds", "l1ml_add_shift_clip",
    "l1ml_sub", "l1ml_minmax", "l1ml_mult", "l1ml_negate", "l1ml_clip", "l1ml_addsub", "l1ml_table_mux",
    "l1ml_stream_sum",
])
def test_primitive_matches_python_model(harness, primitive):
    assert _check(harness, primitive) > 0


def test_every_primitive_is_covered_and_lint_clean(harness):
    parts, _, _, sources = harness
    covered = {name for p in parts for name in p.primitive.split("+")} | {"l1ml_mux", "l1ml_adder_tree"}
    assert covered == {f.stem for f in all_primitive_files()}
    assert lint(sources, "prim_harness") == []
