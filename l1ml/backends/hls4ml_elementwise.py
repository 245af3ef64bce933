"""hls4ml extension layers for elementwise integer arithmetic, reductions, slices and general concatenation.

Registered with hls4ml's extension API like the GNN's layers (``l1ml.backends.hls4ml_gnn``): a layer
class, a config and a function-call template per layer, and the C++ header
``firmware_templates/hls/nnet_l1ml_elementwise.h`` as custom source, for the Vivado and Vitis backends.
hls4ml's own Merge layer is used where its C++ is exact for the IR's types and its ``data[i % n]``
indexing is numpy's broadcasting (``merge_broadcasts``); these layers cover the rest: an operand that is
a constant, broadcasting along any axis, -x, |x|, x * x, Clip, ReduceSum, Slice and a concatenation
along any axis of any number of inputs. Every layer's output variable has the IR's shape, and every
precision is given by l1ml; none is inferred.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from l1ml.backends.hls4ml_gnn import _table_function
from l1ml.backends.hls4ml_gnn import register as gnn_register
from l1ml.backends.templates import templates_root
from l1ml.ir.ops import Op

INCLUDE = ["nnet_utils/nnet_l1ml_elementwise.h"]
GNN_INCLUDE = ["nnet_utils/nnet_l1ml_gnn.h"]  # l1ml_gather and l1ml_concatN, reused by Slice and Concat
BACKENDS = ("Vivado", "Vitis")

#: the ``op`` code of a binary layer (nnet_l1ml_elementwise.h) and the name of hls4ml's Merge op
BINARY_OPS: dict[Op, tuple[int, str]] = {
    Op.ADD: (0, "add"), Op.SUB: (1, "subtract"), Op.MUL: (2, "multiply"), Op.MAX: (3, "maximum"),
    Op.MIN: (4, "minimum"),
}
#: the ``op`` code of a unary layer
UNARY_OPS: dict[str, int] = {"neg": 0, "abs": 1, "square": 2, "clip": 3}
_registered = False


def header() -> Path:
    """The extension layers' C++ header, ``hls/nnet_l1ml_elementwise.h`` of the firmware templates."""
    return templates_root() / "hls" / "nnet_l1ml_elementwise.h"


def broadcast_index(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[int]:
    """For each element of ``out_shape`` (row-major), the flat index of the element of a ``shape`` operand
    that numpy's broadcasting reads (shapes aligned on the right; no batch axis).

    >>> broadcast_index((2, 1), (2, 3)), broadcast_index((3,), (2, 3)), broadcast_index((), (2,))
    ([0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2], [0, 0])
    """
    return np.broadcast_to(np.arange(math.prod(shape)).reshape(shape), out_shape).ravel().tolist()


def merge_broadcasts(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> bool:
    """Whether hls4ml's Merge, which reads ``data[i % n]`` of an operand of n elements, reads what numpy's
    broadcasting of ``shape`` to ``out_shape`` reads: equal shapes, or a trailing block repeated whole.

    >>> merge_broadcasts((3,), (2, 3)), merge_broadcasts((2, 1), (2, 3)), merge_broadcasts((1, 3), (2, 3))
    (True, False, True)
    """
    n = math.prod(shape)
    return broadcast_index(shape, out_shape) == [i % n for i in range(math.prod(out_shape))]


def reduce_table(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, list[int]]:
    """(terms per output, the (outputs, terms) table of input elements) of a sum over ``axes``; outputs in
    the row-major order of the kept axes, with or without keepdims.

    >>> reduce_table((2, 3), (1,)), reduce_table((2, 3), (0,))
    ((3, [0, 1, 2, 3, 4, 5]), (2, [0, 3, 1, 4, 2, 5]))
    """
    idx = np.arange(math.prod(shape)).reshape(shape)
    n_terms = math.prod(shape[a] for a in axes)
    moved = np.moveaxis(idx, list(axes), list(range(len(shape) - len(axes), len(shape))))
    return n_terms, moved.reshape(-1, n_terms).ravel().tolist()


def slice_rows(shape: tuple[int, ...], axis: int, start: int, stop: int, step: int) -> tuple[int, int, int, list[int]]:
    """A slice along ``axis`` as a gather of rows: the tensor seen as (outer * n_axis, inner) rows.
    Returns (rows in, rows out, features per row, the input row of each output row).

    >>> slice_rows((2, 4, 3), 1, 1, 4, 2)
    (8, 4, 3, [1, 3, 5, 7])
    """
    outer, n_axis, inner = math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])
    picked = list(range(start, stop, step))
    return outer * n_axis, outer * len(picked), inner, [o * n_axis + j for o in range(outer) for j in picked]


def concat_view(shapes: list[tuple[int, ...]], axis: int) -> tuple[int, list[int]]:
    """A concatenation along ``axis`` as one along the last axis of (outer, inner_i) matrices.

    >>> concat_view([(2, 3, 4), (2, 1, 4)], 1), concat_view([(5,), (2,)], 0)
    ((2, [12, 4]), (1, [5, 2]))
    """
    return math.prod(shapes[0][:axis]), [math.prod(s[axis:]) for s in shapes]


def register() -> None:
    """Register the layers, their templates and the header with hls4ml (once per process)."""
    global _registered
    if _registered:
        return
    gnn_register()  # l1ml_gather and l1ml_concatN live in its header
    import hls4ml
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
    from hls4ml.model.attributes import Attribute, TypeAttribute, WeightAttribute
    from hls4ml.model.layers import Layer

    class L1MLBinary(Layer):
        """Two computed tensors with numpy broadcasting that hls4ml's Merge does not do (``merge_broadcasts``).
        Exact: ap_fixed's a + b, a - b and a * b have types that hold every result, its comparisons are
        exact across types, and the result type is the IR's exact type of the op."""

        _expected_attributes = [Attribute("n_in0"), Attribute("n_in1"), Attribute("op"),
                                Attribute("index0", value_type=list), Attribute("index1", value_type=list),
                                Attribute("shape", value_type=list)]

        def initialize(self) -> None:
            self.add_output_variable(list(self.attributes["shape"]) or [1])

    class L1MLBinaryConst(Layer):
        """A computed tensor and a constant (either side, broadcast either way). The constant is a weight
        variable in its own exact type (its codes are its values), so it is read exactly; the arithmetic
        is exact as for L1MLBinary."""

        _expected_attributes = [Attribute("n_in"), Attribute("n_const"), Attribute("op"),
                                Attribute("const_first", value_type=bool),
                                Attribute("index_x", value_type=list), Attribute("index_c", value_type=list),
                                Attribute("shape", value_type=list), WeightAttribute("const"), TypeAttribute("const")]

        def initialize(self) -> None:
            self.add_output_variable(list(self.attributes["shape"]) or [1])
            self.add_weights_variable(name="const", var_name="c{index}", data="const")

    class L1MLUnary(Layer):
        """-x, |x|, x * x or Clip. ap_fixed's unary minus is one bit wider than its operand and its product
        type is exact; a clip bound that takes effect lies inside the output type (the IR's exact range of
        the clipped value), so it is held exactly, and an unclipped value is in that range too."""

        _expected_attributes = [Attribute("n"), Attribute("op"), Attribute("has_lo", value_type=bool),
                                Attribute("has_hi", value_type=bool), Attribute("lo", value_type=float),
                                Attribute("hi", value_type=float), Attribute("shape", value_type=list)]

        def initialize(self) -> None:
            self.add_output_variable(list(self.attributes["shape"]) or [1])

    class L1MLReduceSum(Layer):
        """A sum over constant axes (a power-of-two mean: the same sum read 2**shift finer). The accumulator
        is the output's width on the input's grid: the exact sum type, so every partial sum fits."""

        _expected_attributes = [Attribute("n_in"), Attribute("n_terms"), Attribute("shift"),
                                Attribute("table", value_type=list), Attribute("shape", value_type=list),
                                TypeAttribute("accum")]

        def initialize(self) -> None:
            self.add_output_variable(list(self.attributes["shape"]) or [1])

    class L1MLSlice(Layer):
        """A constant slice: a gather of rows (``slice_rows``) through l1ml_gather; the output type is the
        input's, so each value is copied unchanged."""

        _expected_attributes = [Attribute("n_rows_in"), Attribute("n_rows_out"), Attribute("n_feat"),
                                Attribute("indices", value_type=list), Attribute("shape", value_type=list)]

        def initialize(self) -> None:
            self.add_output_variable(list(self.attributes["shape"]) or [1])

    class L1MLConcatAxis(Layer):
        """A concatenation along any axis (``concat_view``) through l1ml_concatN; ``parts`` names each part's
        source: k >= 0 the k-th input, -1 - j the j-th constant, a weight variable in its exact type. The
        output type has the finest LSB and the union of the parts' ranges (``concat_type``), so each part
        converts exactly."""

        _expected_attributes = [Attribute("n_rows"), Attribute("feats", value_type=list),
                                Attribute("parts", value_type=list), Attribute("n_consts"),
                                Attribute("shape", value_type=list)]

        def initialize(self) -> None:
            self.add_output_variable(list(self.attributes["shape"]) or [1])
            for j in range(self.attributes["n_consts"]):
                self.add_weights_variable(name=f"const{j}", var_name=f"c{{index}}_{j}", data=f"const{j}")

    def in_var(node, k: int):
        return node.get_input_variable(node.inputs[k])

    def config(node, base: str, fields: dict[str, object], extra: str = "") -> str:
        lines = []
        for k, v in fields.items():
            if isinstance(v, bool):
                lines.append(f"    static const bool {k} = {'true' if v else 'false'};\n")
            elif isinstance(v, int):
                lines.append(f"    static const {'int' if k == 'op' else 'unsigned'} {k} = {v};\n")
            else:
                lines.append(f"    typedef {v} {k};\n")
        return f"struct config{node.index} : nnet::{base} {{\n" + "".join(lines) + extra + "};"

    class BinaryConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1MLBinary)

        def format(self, node) -> str:
            a = node.attributes
            return config(node, "l1ml_binary_config",
                          {"n_out": math.prod(a["shape"]), "n_in0": a["n_in0"], "n_in1": a["n_in1"], "op": a["op"]},
                          _table_function("index0", a["index0"]) + _table_function("index1", a["index1"]))

    class BinaryCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1MLBinary, include_header=INCLUDE)

        def format(self, node) -> str:
            x0, x1, out = in_var(node, 0), in_var(node, 1), node.get_output_variable()
            return (f"nnet::l1ml_binary<{x0.type.name}, {x1.type.name}, {out.type.name}, config{node.index}>"
                    f"({x0.name}, {x1.name}, {out.name});")

    class BinaryConstConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1MLBinaryConst)

        def format(self, node) -> str:
            a = node.attributes
            fields = {"n_out": math.prod(a["shape"]), "n_in": a["n_in"], "n_const": a["n_const"], "op": a["op"],
                      "const_first": a["const_first"], "const_t": node.get_weights("const").type.name}
            return config(node, "l1ml_binary_const_config", fields,
                          _table_function("index_x", a["index_x"]) + _table_function("index_c", a["index_c"]))

    class BinaryConstCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1MLBinaryConst, include_header=INCLUDE)

        def format(self, node) -> str:
            p = self._default_function_params(node)
            return (f"nnet::l1ml_binary_const<{p['input_t']}, {p['output_t']}, {p['config']}>"
                    f"({p['input']}, {p['output']}, {node.get_weights('const').name});")

    class UnaryConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1MLUnary)

        def format(self, node) -> str:
            a = node.attributes
            # each bound is a float of the model: repr() is its shortest exact decimal, which g++ and
            # Vitis parse back to the same double, and the output type holds it (see L1MLUnary)
            bounds = (f"    static double lo() {{ return {float(a['lo'])!r}; }}\n"
                      f"    static double hi() {{ return {float(a['hi'])!r}; }}\n")
            fields = {"n": a["n"], "op": a["op"], "has_lo": a["has_lo"], "has_hi": a["has_hi"],
                      "bound_t": node.get_output_variable().type.name}
            return config(node, "l1ml_unary_config", fields, bounds)

    class UnaryCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1MLUnary, include_header=INCLUDE)

        def format(self, node) -> str:
            p = self._default_function_params(node)
            return f"nnet::l1ml_unary<{p['input_t']}, {p['output_t']}, {p['config']}>({p['input']}, {p['output']});"

    class ReduceSumConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1MLReduceSum)

        def format(self, node) -> str:
            a = node.attributes
            fields = {"n_in": a["n_in"], "n_out": math.prod(a["shape"]), "n_terms": a["n_terms"],
                      "shift": a["shift"], "accum_t": node.get_attr("accum_t").name,
                      "scale_t": f"ap_ufixed<1, {1 - a['shift']}>"}
            return config(node, "l1ml_reduce_sum_config", fields, _table_function("index", a["table"]))

    class ReduceSumCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1MLReduceSum, include_header=INCLUDE)

        def format(self, node) -> str:
            p = self._default_function_params(node)
            return (f"nnet::l1ml_reduce_sum<{p['input_t']}, {p['output_t']}, {p['config']}>"
                    f"({p['input']}, {p['output']});")

    class SliceConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1MLSlice)

        def format(self, node) -> str:
            a = node.attributes
            fields = {"n_rows_in": a["n_rows_in"], "n_rows_out": a["n_rows_out"], "n_feat": a["n_feat"]}
            return config(node, "l1ml_gather_config", fields, _table_function("index", a["indices"]))

    class SliceCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1MLSlice, include_header=GNN_INCLUDE)

        def format(self, node) -> str:
            p = self._default_function_params(node)
            return (f"nnet::l1ml_gather<{p['input_t']}, {p['output_t']}, {p['config']}>"
                    f"({p['input']}, {p['output']});")

    class ConcatAxisConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1MLConcatAxis)

        def format(self, node) -> str:
            a = node.attributes
            fields = {"n_rows": a["n_rows"], "n_out_feat": sum(a["feats"])}
            fields.update({f"in_rows{k}": a["n_rows"] for k in range(len(a["feats"]))})
            return config(node, "l1ml_concat_config", fields)

    class ConcatAxisCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1MLConcatAxis, include_header=GNN_INCLUDE)

        def format(self, node) -> str:
            out = node.get_output_variable()
            xs = [in_var(node, k) if k >= 0 else node.get_weights(f"const{-1 - k}") for k in node.get_attr("parts")]
            types = ", ".join([x.type.name for x in xs] + [out.type.name, f"config{node.index}"]
                              + [str(f) for f in node.get_attr("feats")])
            args = ", ".join([x.name for x in xs] + [out.name])
            return f"nnet::l1ml_concat{len(xs)}<{types}>({args});"

    for cls in (L1MLBinary, L1MLBinaryConst, L1MLUnary, L1MLReduceSum, L1MLSlice, L1MLConcatAxis):
        hls4ml.model.layers.register_layer(cls.__name__, cls)
    for name in BACKENDS:
        backend = hls4ml.backends.get_backend(name)
        for template in (BinaryConfig, BinaryCall, BinaryConstConfig, BinaryConstCall, UnaryConfig, UnaryCall,
                         ReduceSumConfig, ReduceSumCall, SliceConfig, SliceCall, ConcatAxisConfig, ConcatAxisCall):
            backend.register_template(template)
        backend.register_source(header())  # nnet_l1ml_gnn.h: registered by hls4ml_gnn.register()
    _registered = True
