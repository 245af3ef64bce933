"""Turn QONNX Quant nodes into fixed-point types: quantized constants, typed inputs, Quantize nodes.

A power-of-two scale becomes the type's grid. A float (non-power-of-two) scale s is exact too, as
integer codes and float stages that ``fuse_requant`` turns into proven integer maps: an activation
Quant becomes Affine(1/s) -> Quantize (the codes) -> Affine(s); a weight's codes get an Affine(s_w)
after the Dense/Conv that reads them (which also takes over its bias); a model input's codes record s
in ``graph.meta["scale"]``, where the input conversion reads it.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import AffineAttrs, NoAttrs, Op, QuantAttrs
from l1ml.ir.quantize import QONNX_ROUNDING, quantize_float, round_fraction
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


def float_scaled(node: Node) -> bool:
    """A Quant with some scale that is not a power of two (Brevitas' ...PerTensorFloat quantizers)."""
    return any(pow2_exponent(s) is None for s in node.attrs.scale)


def _check_common(node: Node, const: bool) -> None:
    a: QuantAttrs = node.attrs
    remedy = WEIGHT_QUANTIZERS if const else ACT_QUANTIZERS
    if a.zero_point != 0:
        raise NodeError(node, f"zero point {a.zero_point:g} is not 0; l1ml needs symmetric (zero point 0) "
                        f"quantizers such as {remedy}")
    if a.rounding_mode not in QONNX_ROUNDING:
        raise NodeError(node, f"rounding mode {a.rounding_mode} has no hardware equivalent here; use one of "
                        f"{', '.join(sorted(QONNX_ROUNDING))} (ROUND or FLOOR from Brevitas)")
    if not QUANT_BITS[0] <= a.bits <= QUANT_BITS[1]:
        raise NodeError(node, f"{a.bits}-bit quantization is outside what l1ml computes exactly "
                        f"({QUANT_BITS[0]} to {QUANT_BITS[1]} bits); set the quantizer's bit_width in range")
    if a.signed and a.bits < 2:
        raise NodeError(node, "1-bit signed (bipolar) quantization is not supported; use 2 bits or more")
    for s in a.scale:
        if not math.isfinite(s) or s <= 0 or not 2.0**-126 <= s < 2.0**64:
            raise NodeError(node, f"scale {s:.6g} is not a positive normal float32 in 2^-126 .. 2^64; "
                            "export a trained quantizer with a positive scale")


def codes_type(node: Node) -> FixedType:
    """The integer codes of a float-scale Quant (frac 0, its rounding, saturation, narrow range)."""
    _check_common(node, const=False)
    a: QuantAttrs = node.attrs
    return FixedType(a.signed, a.bits, 0, QONNX_ROUNDING[a.rounding_mode], Overflow.SAT, a.narrow)


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


def _scales(node: Node) -> tuple[Fraction, ...]:
    return tuple(Fraction(s) for s in node.attrs.scale)


def _affine(g: Graph, like: Node, src: str, dst: str, a: tuple[Fraction, ...], b: tuple[Fraction, ...] = (Fraction(0),),
            tag: str = "scale") -> Node:
    """A new Affine node src -> dst (its name and provenance from ``like``)."""
    n = Node(g.fresh_name(f"{like.name}_{tag}"), Op.AFFINE, [src], [dst],
             AffineAttrs(tuple(str(v) for v in a), tuple(str(v) for v in b)), dict(like.meta))
    g.nodes.insert(g.nodes.index(like) + 1 if like in g.nodes else len(g.nodes), n)
    return n


def _new_tensor(g: Graph, base: str, like: str) -> str:
    name = g.fresh_name(base)
    g.tensors[name] = Tensor(name, g.t(like).shape)
    return name


def _float_codes(node: Node, data: np.ndarray, scales: tuple[Fraction, ...], t: FixedType) -> np.ndarray:
    """clip(round(w / s)) of a constant, exactly (rational arithmetic: the real-number semantics)."""
    if len(scales) > 1 and (data.ndim == 0 or data.shape[-1] != len(scales)):
        raise NodeError(node, f"per-channel scale of {len(scales)} entries does not match the last axis of "
                        f"the constant (shape {data.shape})")
    flat = np.asarray(data, dtype=np.float64).reshape(-1, len(scales) if len(scales) > 1 else 1)
    codes = np.empty(flat.shape, dtype=np.int64)
    for (i, c), v in np.ndenumerate(flat):
        if not math.isfinite(v):
            raise NodeError(node, "a quantized constant is not finite; export finite weights")
        k = round_fraction(Fraction(float(v)) / scales[c if len(scales) > 1 else 0], t.rounding)
        codes[i, c] = min(max(k, t.min_code), t.max_code)
    return codes.reshape(np.shape(data))


def _fold_float_const(g: Graph, node: Node, weight_scales: dict[str, tuple[Fraction, ...]]) -> None:
    """A float-scale constant: integer codes for a Dense/Conv weight (its scale applied after the layer),
    the exact real values codes * s for anything else (a bias: taken over by the Affine after the layer)."""
    src, out = g.t(node.inputs[0]), g.t(node.outputs[0])
    if out.name in g.outputs:
        raise NodeError(node, "the model's output is a quantized constant, computed from no input; export a "
                        "model whose output its layers produce")
    _check_common(node, const=True)
    t = codes_type(node)
    scales = _scales(node)
    codes = _float_codes(node, src.data, scales, t)
    users = g.users(out.name)
    as_weight = [u for u in users if u.op in (Op.DENSE, Op.CONV2D) and u.inputs[1] == out.name]
    if as_weight and len(as_weight) == len(users):
        out.data, out.shape = codes, tuple(codes.shape)
        out.type = covering(int(codes.min(initial=0)), int(codes.max(initial=0)), 0)
        weight_scales[out.name] = scales
    else:
        # exact in float64: a code of at most 24 bits times a float32 scale has at most 48 significant bits
        s = np.array([float(v) for v in scales])
        out.data = codes.astype(np.float64) * (s if len(scales) > 1 else s[0])
        out.type, out.shape = None, tuple(codes.shape)
    g.remove_node(node)


def _float_activation(g: Graph, node: Node) -> None:
    """Affine(1/s) -> Quantize (codes) -> Affine(s), or, on a model input, typed codes + Affine(s)."""
    src = g.t(node.inputs[0])
    t = codes_type(node)
    scales = _scales(node)
    if len(scales) > 1 and (not src.shape or src.shape[-1] != len(scales)):
        raise NodeError(node, f"per-channel scale of {len(scales)} entries does not match the last axis "
                        f"(shape {src.shape})")
    out = node.outputs[0]
    if node.inputs[0] in g.inputs and src.type is None and len(g.users(src.name)) == 1:
        if len(scales) > 1:
            raise NodeError(node, "a per-channel scale on a model input is not supported; use a per-tensor "
                            "input quantizer")
        src.type = t
        g.meta.setdefault("scale", {})[src.name] = str(scales[0])
        i = g.nodes.index(node)
        g.remove_node(node)
        n = Node(g.fresh_name(f"{node.name}_scale"), Op.AFFINE, [src.name], [out],
                 AffineAttrs((str(scales[0]),), ("0",)), dict(node.meta))
        g.nodes.insert(i, n)
        return
    pre = _new_tensor(g, f"{node.outputs[0]}_real", node.inputs[0])
    codes = _new_tensor(g, f"{node.outputs[0]}_codes", node.inputs[0])
    g.t(codes).type = t
    i = g.nodes.index(node)
    g.nodes.insert(i, Node(g.fresh_name(f"{node.name}_inv_scale"), Op.AFFINE, [node.inputs[0]], [pre],
                           AffineAttrs(tuple(str(1 / s) for s in scales), ("0",)), dict(node.meta)))
    node.op, node.attrs, node.inputs, node.outputs = Op.QUANTIZE, NoAttrs(), [pre], [codes]
    _affine(g, node, codes, out, scales)


def detach_bias(g: Graph, layer: Node, a: tuple[Fraction, ...]) -> None:
    """Dense/Conv(x, W[, b]) -> Dense/Conv(x, W) -> Affine(a, b real): the layer keeps the integer products,
    the Affine takes the per-channel factor ``a`` and the bias's exact real value."""
    b: tuple[Fraction, ...] = (Fraction(0),)
    if len(layer.inputs) > 2:
        bt = g.t(layer.inputs[2])
        vals = np.asarray(bt.data).reshape(-1)
        f = Fraction(2) ** -bt.type.frac if bt.type is not None else Fraction(1)
        b = tuple(Fraction(float(v)) * f if bt.type is None else Fraction(int(v)) * f for v in vals)
        layer.inputs = layer.inputs[:2]
    y = layer.outputs[0]
    acc = _new_tensor(g, f"{y}_acc", y)
    layer.outputs = [acc]
    _affine(g, layer, acc, y, a, b, tag="affine")


def absorb_quant(g: Graph) -> bool:
    changed = False
    weight_scales: dict[str, tuple[Fraction, ...]] = {}
    for node in list(g.nodes):
        if node.op is not Op.QUANT:
            continue
        src = g.t(node.inputs[0])
        changed = True
        if float_scaled(node):
            if src.is_const:
                _fold_float_const(g, node, weight_scales)
            else:
                _float_activation(g, node)
            continue
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
    for layer in [n for n in g.nodes if n.op in (Op.DENSE, Op.CONV2D)]:
        w = layer.inputs[1]
        float_bias = len(layer.inputs) > 2 and g.t(layer.inputs[2]).is_const and g.t(layer.inputs[2]).type is None
        if w in weight_scales or float_bias:
            detach_bias(g, layer, weight_scales.get(w, (Fraction(1),)))
            changed = True
    if changed:
        g.prune_tensors()
        g.toposort()
    return changed
