"""Fail with the remedy if any tensor is still float after the other passes."""

from __future__ import annotations

from l1ml.errors import NodeError
from l1ml.ir.graph import Graph
from l1ml.ir.ops import Op


def require_types(g: Graph) -> bool:
    for i in g.inputs:
        if g.t(i).type is None:
            raise NodeError(i, "the model input is float; put an input quantizer first, e.g. "
                            "brevitas.nn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint)")
    for n in g.nodes:
        if n.op is Op.BATCHNORM:
            raise NodeError(n, "BatchNorm could not be folded (see fold_batchnorm)")
        for i in n.inputs:
            t = g.t(i)
            if t.type is None:
                what = "constant" if t.is_const else "tensor"
                raise NodeError(n, f"reads the float {what} '{i}' that no quantizer covers; quantize it "
                                "(a fixed-point Brevitas quantizer on the layer or activation before it)")
    return False
