"""The ap_fixed spelling of an l1ml FixedType, for every C++ file l1ml writes (hls4ml projects, their
extension layers, testbenches).
"""

from __future__ import annotations

from l1ml.errors import L1MLError
from l1ml.ir.types import FixedType, Overflow, Rounding

AP_ROUNDING = {
    Rounding.TRUNC: "AP_TRN",
    Rounding.HALF_EVEN: "AP_RND_CONV",
    Rounding.TRUNC_ZERO: "AP_TRN_ZERO",
    Rounding.HALF_AWAY: "AP_RND_INF",
    Rounding.HALF_ZERO: "AP_RND_ZERO",
}


def ap_type(t: FixedType, where: str = "") -> str:
    """The ap_fixed spelling of a FixedType (rounding/overflow only where they differ from the default).

    >>> ap_type(FixedType(True, 8, 3, Rounding.HALF_EVEN, Overflow.SAT))
    'ap_fixed<8,5,AP_RND_CONV,AP_SAT>'
    >>> ap_type(FixedType(False, 6, 8))
    'ap_ufixed<6,-2>'
    """
    base = "ap_fixed" if t.signed else "ap_ufixed"
    if t.rounding is Rounding.TRUNC and t.overflow is Overflow.WRAP and not t.narrow:
        return f"{base}<{t.width},{t.int_bits}>"
    if t.narrow and not t.signed:
        raise L1MLError(f"{where}: unsigned narrow-range quantization has no ap_fixed equivalent; "
                        "use narrow_range=False for unsigned activations")
    sat = ("AP_SAT_SYM" if t.narrow else "AP_SAT") if t.overflow is Overflow.SAT else "AP_WRAP"
    return f"{base}<{t.width},{t.int_bits},{AP_ROUNDING[t.rounding]},{sat}>"
