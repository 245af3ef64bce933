"""The fused emulator plan against the node-by-node interpreter (bit for bit), and the emulator bugs found
while building it: HALF_AWAY rounding for long right shifts, and a Slice that shared its input's memory."""

from __future__ import annotations

import numpy as np

from l1ml.backends.emulate import Emulator
from l1ml.ir.ops import Op, SliceAttrs
from l1ml.ir.quantize import requantize, round_fraction
from l1ml.ir.types import FixedType, Overflow, Rounding
from tests.backends.elementwise_graphs import GraphBuilder


# ---- bug: HALF_AWAY / HALF_ZERO on float codes shifted right by 25 bits or more ------------------------
def test_half_away_long_right_shift_is_exact():
    from fractions import Fraction

    for mode in (Rounding.HALF_AWAY, Rounding.HALF_ZERO, Rounding.HALF_EVEN, Rounding.TRUNC, Rounding.TRUNC_ZERO):
        t = FixedType(True, 8, 0, mode, Overflow.SAT)
        for dt, width in ((np.float32, 24), (np.float64, 53)):
            top = 2**width - 1
            codes = np.array([top, -top, 2**(width - 1), -2**(width - 1), 2**(width - 1) - 1, 3 * 2**(width - 2),
                              1, -1, 0], dtype=np.int64)
            for s in (width - 1, width, width + 1, width + 5):
                got = requantize(codes.astype(dt), s, t)
                want = [min(max(round_fraction(Fraction(int(c), 2**s), mode), t.min_code), t.max_code) for c in codes]
                assert got.tolist() == want, (mode, dt, s)
                assert requantize(codes.copy(), s, t).tolist() == want  # the int64 path agrees


# ---- bug: Slice returned its input's memory, which an in-place op after it then changed -------------------
def test_slice_does_not_share_its_input():
    b = GraphBuilder()
    x = b.input("x", (4,), FixedType(True, 8, 2, Rounding.TRUNC, Overflow.SAT))
    r = b.node(Op.RELU, [b.node(Op.SLICE, [x], SliceAttrs(0, 0, 4, 1), shape=(4,))])  # the whole axis: contiguous
    n = b.node(Op.NEG, [x])  # reads x after the ReLU ran
    g = b.graph("slice_view", [r, n])
    codes = np.array([[-5, 3, -128, 127]] * 3, dtype=np.int64)
    for fused in (False, True):
        out = Emulator(g, fused=fused).run_codes({"x": codes})
        assert out[r].tolist() == np.maximum(codes, 0).tolist()
        assert out[n].tolist() == (-codes).tolist()
