"""Turn QONNX Quant nodes into fixed-point types: quantized constants, typed inputs, Quantize nodes.

This is where a scale is accepted as a power of two or refused with the remedy.
"""

from __future__ import annotations

import math

import numpy as np

from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node
from l1ml.ir.ops import NoAttrs, Op, QuantAttrs
from l1ml.ir.quantize import QONNX_ROUNDING, quantize_float
from l1ml.ir.types import MAX_WIDTH, FixedType, Overflow, covering

WEIGHT_QUANTIZERS = "Int8WeightPerTensorFixedPoint (or Int8WeightPerChannelFixedPoint)"
ACT_QUANTIZERS = "Int8ActPerTensorFixedPoint / Uint8ActPerTensorFixedPoint"

#: Quant bit widths l1ml accepts (signed ones need 2). QONNX evaluates Quant in float32, whose 24-bit
#: mantissa holds every code up to 24 bits exactly; a wider code is rounded by qonnx itself.
QUANT_BITS = (1, 24)
#: Power-of-two scale exponents k (scale = 2**k) l1ml accepts. Every value of a code up to 24 bits
#: times 2**k is then a normal float32 (qonnx) and the grids of products and sums stay far inside
#: what int64 (emulator), ap_fixed (hls4ml) and Verilog shifts hold; real models use about -16..8.
SCALE_EXPONENTS = (-32, 32)


def pow2_exponent(scale: float) -> int | None:
    """k with scale == 2**k exactly, else None."""
    if not math.isfinite(scale) or scale <= 0:
        return None
    m, e = math.frexp(scale)
    return e - 1 if m == 0.5 else None


def quant_type(node: Node, const: bool) -> tuple[FixedType, np.ndarray]:
    """The FixedType a Quant node stands for, and the per-element frac of its scale(s)."""
    a: QuantAttrs = node.attrs
    kind = "weight/bias" if const else "activation"
    remedy = WEIGHT_QUANTIZERS if const else ACT_QUANTIZERS
    fracs = []
    for s in a.scale:
        k = pow2_exponent(s)
        if k is None:
            raise NodeError(node, f"{kind} scale {s:.6g} is not a power of two; use a fixed-point Brevitas "
                            f"quantizer such as {remedy}")
        if not SCALE_EXPONENTS[0] <= k <= SCALE_EXPONENTS[1]:
            raise NodeError(node, f"{kind} scale 2^{k} is outside the supported range 2^{SCALE_EXPONENTS[0]} .. "
                            f"2^{SCALE_EXPONENTS[1]}; rescale the {kind} so that its quantizer's scale lies in range")
        fracs.append(-k)
    if len(set(fracs)) > 1 and not const:
        raise NodeError(node, "per-channel activation scales are not supported; use a per-tensor "
                        f"fixed-point activation quantizer such as {ACT_QUANTIZERS}")
    if a.zero_point != 0:
        raise NodeError(node, f"zero point {a.zero_point:g} is not 0; l1ml needs symmetric (zero point 0) "
                        f"fixed-point quantizers such as {remedy}")
    if a.rounding_mode not in QONNX_ROUNDING:
        raise NodeError(node, f"rounding mode {a.rounding_mode} has no hardware equivalent here; use one of "
                        f"{', '.join(sorted(QONNX_ROUNDING))} (ROUND or FLOOR from Brevitas)")
    if not QUANT_BITS[0] <= a.bits <= QUANT_BITS[1]:
        raise NodeError(node, f"{a.bits}-bit quantization is outside what l1ml computes exactly "
                        f"({QUANT_BITS[0]} to {QUANT_BITS[1]} bits); set the quantizer's bit_width in range")
    if a.signed and a.bits < 2:
        raise NodeError(node, "1-bit signed (bipolar) quantization is not supported; use 2 bits or more")
    t = FixedType(a.signed, a.bits, max(fracs), QONNX_ROUNDING[a.rounding_mode], Overflow.SAT, a.narrow)
    return t, np.array(fracs)


def _fold_const(g: Graph, node: Node) -> None:
    src, out = g.t(node.inputs[0]), g.t(node.outputs[0])
    if out.name in g.outputs:
        raise NodeError(node, "the model's output is a quantized constant, computed from no input; export a "
                        "model whose output its layers produce")
    t, fracs = quant_type(node, const=True)
    data = src.data
    if fracs.size > 1 and (data.ndim == 0 or data.shape[-1] != fracs.size):
        raise NodeError(node, f"per-channel scale of {fracs.size} entries does not match the last axis of "
                        f"the constant (shape {data.shape})")
    # quantized as a 1-D array (a 0-d constant would make numpy return scalars), then reshaped back
    flat = np.asarray(data).reshape(-1, *(data.shape[-1:] if fracs.size > 1 else ()))
    codes = quantize_float(flat, t, frac=fracs if fracs.size > 1 else None).astype(np.int64).reshape(data.shape)
    top = int(fracs.max())
    if fracs.size > 1 and t.width + top - int(fracs.min()) > MAX_WIDTH:
        raise NodeError(node, f"per-channel scales from 2^{-top} to 2^{-int(fracs.min())} put the {t.width}-bit codes "
                        f"on one grid of more than {MAX_WIDTH} bits; use per-channel scales closer together")
    codes = codes << (top - fracs).astype(np.int64) if fracs.size > 1 else codes
    out.data = codes
    out.type = covering(int(codes.min(initial=0)), int(codes.max(initial=0)), top)
    out.shape = tuple(codes.shape)
    g.remove_node(node)


def absorb_quant(g: Graph) -> bool:
    changed = False
    for node in list(g.nodes):
        if node.op is not Op.QUANT:
            continue
        src = g.t(node.inputs[0])
        changed = True
        if src.is_const:
            _fold_const(g, node)
            continue
        t, _ = quant_type(node, const=False)
        if node.inputs[0] in g.inputs and src.type is None and len(g.users(src.name)) == 1:
            # the model's input quantizer: the firmware receives the codes, the float->fixed step
            # happens outside it (in the emulator and in whoever feeds the trigger)
            src.type = t
            g.replace_all_uses_with(node.outputs[0], src.name)
            g.remove_node(node)
            continue
        node.op, node.attrs = Op.QUANTIZE, NoAttrs()
        g.t(node.outputs[0]).type = t
    if changed:
        g.prune_tensors()
    return changed
