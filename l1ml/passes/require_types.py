"""Fail with the remedy if any tensor is still float after the other passes, or if its grid leaves
float32's normal range (qonnx, the reference l1ml is checked against, computes in float32)."""

from __future__ import annotations

from l1ml.errors import NodeError
from l1ml.ir.graph import Graph
from l1ml.ir.ops import Op

#: real-valued ops that only a following quantizer can make exact (l1ml.ir.ops.FLOAT_OPS less Quant and
#: BatchNorm, which have their own messages)
FLOAT_STAGES = frozenset({Op.AFFINE, Op.SIGMOID, Op.TANH, Op.HARDSIGMOID})
FLOAT32_MAX_FRAC = 126  # 2^-126: the smallest normal float32
FLOAT32_MAX_INT_BITS = 127  # values below 2^127 (float32's largest power of two)


def require_types(g: Graph) -> bool:
    for i in g.inputs:
        if g.t(i).type is None:
            raise NodeError(i, "the model input is float; put an input quantizer first, e.g. "
                            "brevitas.nn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint)")
    for n in g.nodes:
        if n.op is Op.BATCHNORM:
            raise NodeError(n, "BatchNorm could not be folded (see fold_batchnorm)")
        if n.op in FLOAT_STAGES:
            raise NodeError(n, "its result is real-valued (a float stage) and no pass turned it into an exact integer "
                            "map; put an activation quantizer right after it (brevitas.nn.QuantIdentity)")
        for i in n.inputs:
            t = g.t(i)
            if t.type is None:
                what = "constant" if t.is_const else "tensor"
                raise NodeError(n, f"reads the float {what} '{i}' that no quantizer covers; quantize it "
                                "(a fixed-point Brevitas quantizer on the layer or activation before it)")
        for o in n.outputs:
            t = g.t(o).type
            if t is not None and (t.frac > FLOAT32_MAX_FRAC or t.int_bits > FLOAT32_MAX_INT_BITS):
                raise NodeError(n, f"its result type {t} has values down to 2^-{t.frac} or up to 2^{t.int_bits}, "
                                "outside float32's normal range, so the exported model (float32) cannot hold them; "
                                "add an activation quantizer after this layer")
    return False
