"""Small QONNX models built with onnx.helper for the elementwise tests: power-of-two Quant nodes
(domain qonnx.custom_op.general, as Brevitas exports them) around whatever ops a test wires up."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

QONNX = "qonnx.custom_op.general"


class Builder:
    """Collects nodes and initializers; ``model()`` makes the float32 ModelProto x -> y."""

    def __init__(self, in_shape: list[int], opset: int = 13):
        self.in_shape = list(in_shape)
        self.opset = opset
        self.nodes: list = []
        self.inits: list = []
        self.k = 0

    def name(self, base: str) -> str:
        self.k += 1
        return f"{base}{self.k}"

    def const(self, value, name: str | None = None, dtype=np.float32) -> str:
        name = name or self.name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def quant(self, src: str, bits: int, frac: int, signed: bool = True, rounding: str = "ROUND",
              narrow: bool = False, name: str | None = None, scale=None) -> str:
        """A Quant with scale 2**-frac (or ``scale``, any positive float)."""
        name = name or self.name("quant")
        s = np.float32(2.0**-frac) if scale is None else np.asarray(scale, np.float32)
        ins = [src, self.const(s), self.const(np.float32(0)), self.const(np.float32(bits))]
        out = f"{name}_out"
        self.nodes.append(helper.make_node("Quant", ins, [out], name=name, domain=QONNX, signed=int(signed),
                                           narrow=int(narrow), rounding_mode=rounding))
        return out

    def op(self, op_type: str, inputs: list[str], name: str | None = None, n_out: int = 1, **attrs) -> str | list[str]:
        name = name or self.name(op_type.lower())
        outs = [f"{name}_out"] if n_out == 1 else [f"{name}_out{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=name, **attrs))
        return outs[0] if n_out == 1 else outs

    def model(self, out: str):
        self.nodes.append(helper.make_node("Identity", [out], ["y"], name="out"))
        graph = helper.make_graph(self.nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, self.in_shape)],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                                  initializer=self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset),
                                                    helper.make_opsetid(QONNX, 1)])
        m.ir_version = 8
        return m
