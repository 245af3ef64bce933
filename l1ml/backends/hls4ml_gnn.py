"""hls4ml extension layers for static-topology GNNs: row-wise Dense, mask product, gather, concat, segment sum.

Registered with hls4ml's extension API (``register_layer`` plus a config and a function-call template per
layer and the C++ header ``firmware_templates/hls/nnet_l1ml_gnn.h`` as custom source), for the Vivado and
Vitis backends. hls4ml has no layer for a gather or a segment sum, its Multiply does not broadcast a
per-row mask, and its Concatenate takes two inputs; the row-wise Dense is ours so that a reuse factor
means "rows per lane" (see the header). Every precision is given by l1ml; none is inferred.
"""

from __future__ import annotations

import math
from pathlib import Path

from l1ml.backends.templates import templates_root
from l1ml.errors import L1MLError
from l1ml.ir.graph import Graph, Node
from l1ml.ir.ops import Op


def header() -> Path:
    """The extension layers' C++ header, ``hls/nnet_l1ml_gnn.h`` of the firmware templates."""
    return templates_root() / "hls" / "nnet_l1ml_gnn.h"


INCLUDE = ["nnet_utils/nnet_l1ml_gnn.h"]
BACKENDS = ("Vivado", "Vitis")
_registered = False


def row_wise(g: Graph) -> bool:
    """Whether the graph applies a Dense to every row of (rows, F) tensors (a GNN's node or edge network)."""
    return any(n.op is Op.DENSE and len(g.t(n.inputs[0]).shape) == 2 for n in g.nodes)


def time_multiplexed(g: Graph, reuse_factor: int) -> bool:
    """Whether the project walks the rows of its row-wise layers in steps: a GNN with R > 1. Such a
    project uses the DATAFLOW pipeline style."""
    return reuse_factor > 1 and row_wise(g)


def epilogue(g: Graph, dense: Node) -> list[Node]:
    """The ReLU and/or Quantize (in that order) that a row-wise Dense computes in its own lanes.

    Fusing them keeps the per-element work of an edge network time-multiplexed with the Dense. The
    ReLU's type holds max(acc, 0) exactly (``relu_type``), so converting the accumulator straight to
    the Quantize's type (with its rounding and saturation) is the same as the two steps.
    """
    chain: list[Node] = []
    t = dense.outputs[0]
    for op in (Op.RELU, Op.QUANTIZE):
        users = g.users(t)
        if t in g.outputs or len(users) != 1 or users[0].op is not op:
            continue
        chain.append(users[0])
        t = users[0].outputs[0]
    return chain


def fused_gather(g: Graph, node: Node) -> bool:
    """Whether a Gather is read only by a Concat, which then reads the rows itself: no gathered copy
    of the input is made (with R > 1 that copy would be a whole edge-sized channel)."""
    users = g.users(node.outputs[0])
    return (node.op is Op.GATHER and node.outputs[0] not in g.outputs and len(users) == 1
            and users[0].op is Op.CONCAT)


def readers(g: Graph, tensor: str) -> int:
    """How many layers of the project read a tensor: a Gather fused into a Concat counts as that Concat."""
    layers = {g.users(u.outputs[0])[0].name if fused_gather(g, u) else u.name for u in g.users(tensor)}
    return len(layers)


def lanes(rows: int, reuse_factor: int) -> tuple[int, int]:
    """(lanes, steps) of a row-wise layer: ceil(rows / R) lanes, and the steps they need (<= R).

    >>> lanes(1664, 104), lanes(144, 32), lanes(144, 1)
    ((16, 104), (5, 29), (144, 1))
    """
    n_lanes = math.ceil(rows / max(reuse_factor, 1))
    return n_lanes, math.ceil(rows / n_lanes)


def _table_function(name: str, values: list[int]) -> str:
    """A config struct's static member function reading a compile-time table (folds to wiring)."""
    body = ",".join(str(v) for v in values)
    return (f"    static unsigned {name}(unsigned i) {{\n"
            "        #pragma HLS INLINE\n"
            f"        static const unsigned table[{len(values)}] = {{{body}}};\n"
            "        return table[i];\n"
            "    }\n")


def _source_rows_function(tables: list[list[int]]) -> str:
    """``src(part, r)``: the row a concatenation reads from input ``part`` (a fused gather's table, or r)."""
    lines = ["    static unsigned src(unsigned part, unsigned r) {", "        #pragma HLS INLINE"]
    cases = []
    for k, t in enumerate(tables):
        if t:
            lines.append(f"        static const unsigned table{k}[{len(t)}] = {{{','.join(str(v) for v in t)}}};")
            cases.append(f"        case {k}: return table{k}[r];")
    lines += ["        switch (part) {", *cases, "        default: return r;", "        }", "    }"]
    return "\n".join(lines) + "\n"


def register() -> None:
    """Register the layers, their templates and the header with hls4ml (once per process)."""
    global _registered
    if _registered:
        return
    # the classes subclass hls4ml's, which is imported only when a project is written (a slow import)
    import hls4ml
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
    from hls4ml.model.attributes import Attribute, TypeAttribute, WeightAttribute
    from hls4ml.model.layers import Layer

    class L1MLRowDense(Layer):
        _expected_attributes = [
            Attribute("n_rows"), Attribute("n_in"), Attribute("n_out"), Attribute("n_lanes"), Attribute("n_steps"),
            Attribute("tmux", value_type=bool), Attribute("relu", value_type=bool),
            WeightAttribute("weight"), WeightAttribute("bias"),
            TypeAttribute("weight"), TypeAttribute("bias"), TypeAttribute("accum"),
        ]

        def initialize(self) -> None:
            self.add_output_variable([self.attributes["n_rows"], self.attributes["n_out"]])
            self.add_weights_variable(name="weight", var_name="w{index}", data="weight")
            self.add_weights_variable(name="bias", var_name="b{index}", data="bias")

    class L1MLMaskMul(Layer):
        _expected_attributes = [Attribute("n_rows"), Attribute("n_feat"), Attribute("n_mask_feat")]

        def initialize(self) -> None:
            self.add_output_variable([self.attributes["n_rows"], self.attributes["n_feat"]])

    class L1MLGather(Layer):
        _expected_attributes = [Attribute("n_rows_in"), Attribute("n_rows_out"), Attribute("n_feat"),
                                Attribute("indices", value_type=list)]

        def initialize(self) -> None:
            self.add_output_variable([self.attributes["n_rows_out"], self.attributes["n_feat"]])

    class L1MLConcat(Layer):
        # per part: which input it reads, its features, that input's rows and a row table ([] = row r)
        _expected_attributes = [Attribute("n_rows"), Attribute("part_input", value_type=list),
                                Attribute("feats", value_type=list), Attribute("part_rows", value_type=list),
                                Attribute("tables", value_type=list)]

        def initialize(self) -> None:
            self.add_output_variable([self.attributes["n_rows"], sum(self.attributes["feats"])])

    class L1MLSegmentSum(Layer):
        _expected_attributes = [Attribute("n_rows_in"), Attribute("n_segments"), Attribute("n_feat"),
                                Attribute("degree"), Attribute("rows", value_type=list), TypeAttribute("accum")]

        def initialize(self) -> None:
            self.add_output_variable([self.attributes["n_segments"], self.attributes["n_feat"]])

    class L1MLClone(Layer):
        _expected_attributes = [Attribute("n_copies")]

        def initialize(self) -> None:
            x = self.get_input_variable()
            for k, name in enumerate(self.outputs):
                self.add_output_variable(list(x.shape), out_name=name, var_name=f"layer{{index}}_cpy{k}",
                                         type_name=x.type.name, precision=x.type.precision)

    def in_var(node, k: int):
        return node.get_input_variable(node.inputs[k])

    class RowDenseConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1MLRowDense)

        def format(self, node) -> str:
            a = node.attributes
            return (f"struct config{node.index} : nnet::l1ml_row_dense_config {{\n"
                    f"    static const unsigned n_rows = {a['n_rows']};\n"
                    f"    static const unsigned n_in = {a['n_in']};\n"
                    f"    static const unsigned n_out = {a['n_out']};\n"
                    f"    static const unsigned n_lanes = {a['n_lanes']};\n"
                    f"    static const unsigned n_steps = {a['n_steps']};\n"
                    f"    static const bool relu = {'true' if a['relu'] else 'false'};\n"
                    f"    typedef {node.get_weights('weight').type.name} weight_t;\n"
                    f"    typedef {node.get_weights('bias').type.name} bias_t;\n"
                    f"    typedef {node.get_attr('accum_t').name} accum_t;\n"
                    "};")

    class RowDenseCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1MLRowDense, include_header=INCLUDE)

        def format(self, node) -> str:
            p = self._default_function_params(node)
            fn = "l1ml_row_dense_tmux" if node.get_attr("tmux") else "l1ml_row_dense"
            w, b = node.get_weights("weight").name, node.get_weights("bias").name
            return (f"nnet::{fn}<{p['input_t']}, {p['output_t']}, {p['config']}>"
                    f"({p['input']}, {p['output']}, {w}, {b});")

    class MaskMulConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1MLMaskMul)

        def format(self, node) -> str:
            a = node.attributes
            return (f"struct config{node.index} : nnet::l1ml_mask_mul_config {{\n"
                    f"    static const unsigned n_rows = {a['n_rows']};\n"
                    f"    static const unsigned n_feat = {a['n_feat']};\n"
                    f"    static const unsigned n_mask_feat = {a['n_mask_feat']};\n"
                    "};")

    class MaskMulCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1MLMaskMul, include_header=INCLUDE)

        def format(self, node) -> str:
            x, m, out = in_var(node, 0), in_var(node, 1), node.get_output_variable()
            return (f"nnet::l1ml_mask_mul<{x.type.name}, {m.type.name}, {out.type.name}, config{node.index}>"
                    f"({x.name}, {m.name}, {out.name});")

    class GatherConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1MLGather)

        def format(self, node) -> str:
            a = node.attributes
            return (f"struct config{node.index} : nnet::l1ml_gather_config {{\n"
                    f"    static const unsigned n_rows_in = {a['n_rows_in']};\n"
                    f"    static const unsigned n_rows_out = {a['n_rows_out']};\n"
                    f"    static const unsigned n_feat = {a['n_feat']};\n"
                    + _table_function("index", a["indices"]) + "};")

    class GatherCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1MLGather, include_header=INCLUDE)

        def format(self, node) -> str:
            p = self._default_function_params(node)
            return (f"nnet::l1ml_gather<{p['input_t']}, {p['output_t']}, {p['config']}>"
                    f"({p['input']}, {p['output']});")

    class ConcatConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1MLConcat)

        def format(self, node) -> str:
            a = node.attributes
            rows = "".join(f"    static const unsigned in_rows{k} = {r};\n" for k, r in enumerate(a["part_rows"]))
            return (f"struct config{node.index} : nnet::l1ml_concat_config {{\n"
                    f"    static const unsigned n_rows = {a['n_rows']};\n"
                    f"    static const unsigned n_out_feat = {sum(a['feats'])};\n" + rows
                    + _source_rows_function(a["tables"]) + "};")

    class ConcatCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1MLConcat, include_header=INCLUDE)

        def format(self, node) -> str:
            out = node.get_output_variable()
            xs = [in_var(node, k) for k in node.get_attr("part_input")]
            types = ", ".join([x.type.name for x in xs] + [out.type.name, f"config{node.index}"]
                              + [str(f) for f in node.get_attr("feats")])
            args = ", ".join([x.name for x in xs] + [out.name])
            return f"nnet::l1ml_concat{len(xs)}<{types}>({args});"

    class SegmentSumConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1MLSegmentSum)

        def format(self, node) -> str:
            a = node.attributes
            return (f"struct config{node.index} : nnet::l1ml_segment_sum_config {{\n"
                    f"    static const unsigned n_rows_in = {a['n_rows_in']};\n"
                    f"    static const unsigned n_segments = {a['n_segments']};\n"
                    f"    static const unsigned n_feat = {a['n_feat']};\n"
                    f"    static const unsigned degree = {a['degree']};\n"
                    f"    typedef {node.get_attr('accum_t').name} accum_t;\n"
                    + _table_function("row", a["rows"]) + "};")

    class SegmentSumCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1MLSegmentSum, include_header=INCLUDE)

        def format(self, node) -> str:
            p = self._default_function_params(node)
            return (f"nnet::l1ml_segment_sum<{p['input_t']}, {p['output_t']}, {p['config']}>"
                    f"({p['input']}, {p['output']});")

    class CloneConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(L1MLClone)

        def format(self, node) -> str:
            return ""

    class CloneCall(FunctionCallTemplate):
        def __init__(self):
            super().__init__(L1MLClone, include_header=INCLUDE)

        def format(self, node) -> str:
            x = node.get_input_variable()
            outs = ", ".join(node.get_output_variable(o).name for o in node.outputs)
            return f"nnet::l1ml_clone{len(node.outputs)}<{x.type.name}, {x.size_cpp()}>({x.name}, {outs});"

    for cls in (L1MLRowDense, L1MLMaskMul, L1MLGather, L1MLConcat, L1MLSegmentSum, L1MLClone):
        hls4ml.model.layers.register_layer(cls.__name__, cls)
    for name in BACKENDS:
        backend = hls4ml.backends.get_backend(name)
        for template in (RowDenseConfig, RowDenseCall, MaskMulConfig, MaskMulCall, GatherConfig, GatherCall,
                         ConcatConfig, ConcatCall, SegmentSumConfig, SegmentSumCall, CloneConfig, CloneCall):
            backend.register_template(template)
        backend.register_source(header())
    _registered = True


def segment_table(segments: tuple[int, ...], n_segments: int) -> tuple[list[int], int]:
    """The rows of each segment as a (n_segments, degree) table padded with len(segments) (no row).

    >>> segment_table((1, -1, 1, 0), 3)
    ([3, 4, 0, 2, 4, 4], 2)
    """
    members: list[list[int]] = [[] for _ in range(n_segments)]
    for r, s in enumerate(segments):
        if s >= 0:
            members[s].append(r)
    degree = max(1, max(len(m) for m in members))
    pad = len(segments)
    return [r for m in members for r in m + [pad] * (degree - len(m))], degree



MAX_READERS = 4  # l1ml_clone2..4
MAX_CONCAT_INPUTS = 4  # l1ml_concat2..4


def insert_clones(layers: list[dict]) -> list[dict]:
    """Give every tensor read by several layers an L1MLClone with one copy per reader (DATAFLOW needs one
    reader per array). ``layers`` are hls4ml layer dicts in order; returns a new list."""
    readers: dict[str, int] = {}
    for layer in layers:
        for name in layer.get("inputs", []):
            readers[name] = readers.get(name, 0) + 1
    shared = {name for name, k in readers.items() if k > 1}
    if not shared:
        return list(layers)
    if max(readers[n] for n in shared) > MAX_READERS:
        raise L1MLError(f"a tensor read by more than {MAX_READERS} layers cannot be lowered to hls4ml with a reuse "
                        "factor above 1 (DATAFLOW copies each such tensor for its readers); use reuse factor 1")
    out: list[dict] = []
    taken = dict.fromkeys(shared, 0)

    def clone(name: str) -> None:
        copies = [f"{name}_cpy{k}" for k in range(readers[name])]
        out.append({"class_name": "L1MLClone", "name": f"{name}_clone", "inputs": [name], "outputs": copies,
                    "n_copies": len(copies)})

    for layer in layers:
        layer = dict(layer)
        if "inputs" in layer:
            renamed = []
            for name in layer["inputs"]:
                if name in shared:
                    renamed.append(f"{name}_cpy{taken[name]}")
                    taken[name] += 1
                else:
                    renamed.append(name)
            layer["inputs"] = renamed
        out.append(layer)
        for name in layer.get("outputs", [layer["name"]]):
            if name in shared:
                clone(name)
    return out
