"""Remove the Affine nodes no quantizer absorbed, or refuse them by name with the remedy.

An Affine x * s (s dyadic: a quantizer's float scale) that produces a model output becomes the output's scale: the firmware outputs the
codes, and ``graph.meta["scale"][name]`` says what they are worth (the emulator, ``verify`` and the
report multiply by it). Any other float stage left here (an Affine with an offset or a non-dyadic
factor, a BatchNorm, Sigmoid, Tanh or HardSigmoid not followed by a quantizer) has no exact fixed-point
value and is refused.
"""

from __future__ import annotations

from fractions import Fraction

from l1ml.errors import NodeError
from l1ml.ir.graph import Graph
from l1ml.ir.ops import Op
from l1ml.ir.quantize import graph_scale

REMEDY = "put a quantizer (a Brevitas QuantIdentity / act_quant) right after it so that it becomes an exact requantisation"


def materialise_affine(g: Graph) -> bool:
    changed = False
    for n in [n for n in g.nodes if n.op is Op.AFFINE]:
        src, out = n.inputs[0], n.outputs[0]
        a = [Fraction(v) for v in n.attrs.a]
        b = [Fraction(v) for v in n.attrs.b]
        dyadic = len(a) == 1 and a[0] != 0 and a[0].denominator & (a[0].denominator - 1) == 0  # a float's value
        if out in g.outputs and g.t(src).type is not None and dyadic and all(v == 0 for v in b) \
                and src not in g.outputs and src not in g.inputs:
            old = graph_scale(g.meta, src) or Fraction(1)
            g.meta.setdefault("scale", {})[src] = str(old * a[0])
            g.replace_all_uses_with(out, src)
            g.remove_node(n)
            changed = True
    for n in g.nodes:
        if n.op is Op.AFFINE:
            raise NodeError(n, f"{_why(g, n)} has no exact fixed-point value; {REMEDY}")
        if n.op in (Op.BATCHNORM, Op.SIGMOID, Op.TANH, Op.HARDSIGMOID):
            raise NodeError(n, f"{n.op.value} is not followed by a quantizer, so its real-valued result has no "
                            f"exact fixed-point value; {REMEDY}")
    if changed:
        g.prune_tensors()
    return changed


def _why(g: Graph, n) -> str:
    """What makes an Affine left after the first loop inexact, in the user's terms."""
    a, b = [Fraction(v) for v in n.attrs.a], [Fraction(v) for v in n.attrs.b]
    src = n.inputs[0]
    if n.outputs[0] not in g.outputs:
        return f"a real factor {float(a[0]):.6g} / offset not followed by a quantizer"
    if len(a) > 1:
        return "an output scale per channel"
    if any(v != 0 for v in b):
        return "an output offset"
    if a[0] == 0 or a[0].denominator & (a[0].denominator - 1):
        return f"an output scale {float(a[0]):.6g} that is not a power of two times an integer"
    if src in g.inputs:
        return "an output scale of a model input"
    if src in g.outputs or g.meta.get("scale", {}).get(src) is not None:
        return "a second output scale of a tensor that already leaves the model with another"
    return "an output scale of a real-valued tensor"
