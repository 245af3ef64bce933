"""Invalid (or adversarial) mutations of valid models, one function per kind, grouped into the families
of issue 13: graph structure, shapes, non-finite constants, Quant bit widths, extreme scales, names
(injection), files that are not models, CLI options and output directories.

A model mutation maps a valid onnx.ModelProto to a mutated copy; the base models are direct QONNX MLPs
(tests/fuzz/strategies.py) so every node and tensor named here exists: x -> inp_quant -> (Gemm | MatMul
[+ Add]) [-> Relu] [-> act Quant] ... -> Identity 'out' -> y.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

# A marker that only an injection can turn into code: a sanitiser may keep it inside an identifier or a
# comment, but never after whitespace behind a keyword (see harness.injected_lines).
MARKER = "L1MLFUZZ"
INJECTIONS = {
    "newline_module": f"n\nmodule {MARKER}_injected; endmodule\n",
    "comment_close": f"n */ module {MARKER}_c; endmodule /* ",
    "cxx_comment_close": f"n */ int {MARKER}_x = 1; /* ",
    "tcl_quote": f'n"; puts {MARKER}_tcl; #',
    "tcl_bracket": f"n[puts {MARKER}_br]",
    "cxx_newline_include": f'n\n#include "{MARKER}.h"\n',
    "spaces": "a name with spaces",
    "leading_digit": "0starts_with_digit",
    "verilog_keyword": "module",
    "cxx_keyword": "int",
    "unicode": "na\u00efve_\u540d\u524d",
    "empty": "",
    "long": "n" * 3000,
    "slash_path": "../../etc/passwd",
}
NAME_TARGETS = ("node", "tensor", "input", "output", "initializer")

BIT_WIDTHS = ("0", "-3", "nan", "inf", "32", "25", "1.5", "64")
SCALES = ("2^-60", "2^-130", "2^-149", "2^100", "0", "-0.25", "nan", "inf", "3.0")
QUANT_SITES = ("input", "weight", "act")
NONFINITE = ("nan", "inf", "-inf")
NONFINITE_SITES = ("weight", "bias", "zero_point")


def _q_nodes(m, site: str) -> list:
    """Quant nodes of the base MLP at a site: the input quantizer, weight quantizers or activations."""
    quants = [n for n in m.graph.node if n.op_type == "Quant"]
    prefix = {"input": "inp_", "weight": "w", "act": "act", "bias": "b"}[site]
    return [n for n in quants if n.name.startswith(prefix)]


def _set_init(m, name: str, value) -> None:
    from onnx import numpy_helper

    for i, t in enumerate(m.graph.initializer):
        if t.name == name:
            arr = numpy_helper.to_array(t)
            new = np.broadcast_to(np.asarray(value, dtype=arr.dtype), arr.shape).copy()
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(new, name))
            return
    raise KeyError(name)


def _init_array(m, name: str) -> np.ndarray:
    from onnx import numpy_helper

    return next(numpy_helper.to_array(t) for t in m.graph.initializer if t.name == name)


def _parse_number(text: str) -> float:
    if text.startswith("2^"):
        return math.ldexp(1.0, int(text[2:]))
    return float(text)


def _rename_tensor(m, old: str, new: str) -> None:
    for n in m.graph.node:
        for seq in (n.input, n.output):
            for i, v in enumerate(seq):
                if v == old:
                    seq[i] = new
    for seq in (m.graph.input, m.graph.output, m.graph.value_info):
        for v in seq:
            if v.name == old:
                v.name = new
    for t in m.graph.initializer:
        if t.name == old:
            t.name = new


# ------------------------------------------------------------------------------------- structure
def delete_node(m, param: str) -> None:
    """Remove a compute node (param 'first'/'middle'/'last'), leaving its consumers dangling."""
    compute = [i for i, n in enumerate(m.graph.node) if n.op_type != "Quant"]
    idx = {"first": compute[0], "middle": compute[len(compute) // 2], "last": compute[-1]}[param]
    del m.graph.node[idx]


def dangling_output(m, param: str) -> None:
    """A graph output that no node produces."""
    from onnx import TensorProto, helper

    m.graph.output.append(helper.make_tensor_value_info("ghost", TensorProto.FLOAT, [1, 1]))


def self_loop(m, param: str) -> None:
    """A node reading its own output."""
    n = next(n for n in m.graph.node if n.op_type in ("Gemm", "MatMul"))
    n.input[0] = n.output[0]


def cycle(m, param: str) -> None:
    """The first compute node reads the output of the last one: a two-node-or-longer cycle."""
    compute = [n for n in m.graph.node if n.op_type != "Quant"]
    compute[0].input[0] = compute[-2].output[0] if len(compute) > 1 else compute[0].output[0]


def two_writers(m, param: str) -> None:
    """Two nodes writing one tensor: a copy of the input quantizer writes the first Dense output."""
    dense = next(n for n in m.graph.node if n.op_type in ("Gemm", "MatMul"))
    dup = copy.deepcopy(_q_nodes(m, "input")[0])
    dup.name = "second_writer"
    dup.output[0] = dense.output[0]
    m.graph.node.append(dup)


def input_shadowed(m, param: str) -> None:
    """A graph input named like an initializer (the initializer shadows the input)."""
    from onnx import numpy_helper

    shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    m.graph.initializer.append(numpy_helper.from_array(np.zeros(shape, np.float32), m.graph.input[0].name))


def hidden_output(m, param: str) -> None:
    """A hidden tensor (the quantized input) as a second graph output."""
    from onnx import TensorProto, helper

    shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    m.graph.output.append(helper.make_tensor_value_info(_q_nodes(m, "input")[0].output[0], TensorProto.FLOAT,
                                                        shape))


def output_is_input(m, param: str) -> None:
    """The graph output is the graph input (the nodes compute nothing anyone reads)."""
    m.graph.output[0].CopyFrom(m.graph.input[0])


def no_nodes(m, param: str) -> None:
    """Every node removed."""
    del m.graph.node[:]


def unknown_op(m, param: str) -> None:
    """A Sigmoid after the last layer with no quantizer after it: a float output l1ml refuses."""
    from onnx import helper

    last = m.graph.node[-1]
    last.output[0] = "pre_sigmoid"
    m.graph.node.append(helper.make_node("Sigmoid", ["pre_sigmoid"], [m.graph.output[0].name], name="sigmoid"))


STRUCTURE = {f.__name__: f for f in (delete_node, dangling_output, self_loop, cycle, two_writers, input_shadowed,
                                     hidden_output, output_is_input, no_nodes, unknown_op)}
STRUCTURE_PARAMS = {"delete_node": ("first", "middle", "last")}


# ------------------------------------------------------------------------------------- shapes
def input_dim(m, param: str) -> None:
    """The graph input's feature dimension replaced: 'sym' (symbolic), 'plus1', '0', '-1', 'batch_sym',
    'batch0', 'rank3' (an extra axis)."""
    from onnx import TensorProto, helper

    dims = m.graph.input[0].type.tensor_type.shape.dim
    if param == "rank3":
        shape = [d.dim_value for d in dims] + [1]
        m.graph.input[0].CopyFrom(helper.make_tensor_value_info(m.graph.input[0].name, TensorProto.FLOAT, shape))
        return
    d = dims[0] if param.startswith("batch") else dims[1]
    if param in ("sym", "batch_sym"):
        d.dim_param = "N"
    else:
        d.dim_value = {"plus1": d.dim_value + 1, "0": 0, "-1": -1, "batch0": 0, "batch2": 2}[param]


def input_dtype(m, param: str) -> None:
    """The graph input declared as another element type (int64 or float16)."""
    from onnx import TensorProto

    m.graph.input[0].type.tensor_type.elem_type = {"int64": TensorProto.INT64, "float16": TensorProto.FLOAT16}[param]


SHAPE_PARAMS = {"input_dim": ("sym", "plus1", "0", "-1", "batch_sym", "batch0", "batch2", "rank3"),
                "input_dtype": ("int64", "float16")}
SHAPES = {"input_dim": input_dim, "input_dtype": input_dtype}


# ------------------------------------------------------------------------------------- constants
def nonfinite(m, param: str) -> None:
    """One element of a weight, bias or zero point set to NaN/inf: param 'site:value'."""
    site, value = param.split(":")
    v = float(value)
    if site == "zero_point":
        _set_init(m, _q_nodes(m, "weight")[0].input[2], v)
        return
    nodes = _q_nodes(m, site) or _q_nodes(m, "weight")
    name = nodes[0].input[0]
    arr = _init_array(m, name).copy()
    arr.flat[0] = v
    _set_init(m, name, arr)


def quant_bits(m, param: str) -> None:
    """A Quant bit width replaced: param 'site:bits'."""
    site, bits = param.split(":")
    nodes = _q_nodes(m, site) or _q_nodes(m, "input")
    _set_init(m, nodes[0].input[3], float(bits))


def quant_scale(m, param: str) -> None:
    """A Quant scale replaced: param 'site:scale' (2^k written as '2^k')."""
    site, scale = param.split(":")
    nodes = _q_nodes(m, site) or _q_nodes(m, "input")
    _set_init(m, nodes[0].input[1], _parse_number(scale))


# ------------------------------------------------------------------------------------- names
def rename(m, param: str) -> None:
    """A node, hidden tensor, graph input/output or initializer renamed: param 'target:injection'."""
    target, key = param.split(":")
    name = INJECTIONS[key]
    if target == "node":
        next(n for n in m.graph.node if n.op_type in ("Gemm", "MatMul")).name = name
    elif target == "tensor":
        _rename_tensor(m, next(n for n in m.graph.node if n.op_type in ("Gemm", "MatMul")).output[0], name)
    elif target == "input":
        _rename_tensor(m, m.graph.input[0].name, name)
    elif target == "output":
        _rename_tensor(m, m.graph.output[0].name, name)
    else:
        _rename_tensor(m, _q_nodes(m, "weight")[0].input[0], name)


MODEL_MUTATIONS: dict[str, Callable] = {**STRUCTURE, **SHAPES, "nonfinite": nonfinite, "quant_bits": quant_bits,
                                        "quant_scale": quant_scale, "rename": rename}


def mutate_model(model, kind: str, param: str):
    """A mutated copy of ``model`` (an onnx.ModelProto)."""
    m = copy.deepcopy(model)
    MODEL_MUTATIONS[kind](m, param)
    return m


# ------------------------------------------------------------------------------------- files
FILE_KINDS = ("truncated", "random_bytes", "empty", "text", "dev_zero", "fifo", "directory", "missing",
              "dev_null", "json")


def write_bad_file(kind: str, valid: Path, dest: Path, seed: int) -> str:
    """Create the bad 'model' of ``kind`` at ``dest`` (from the valid file ``valid``); return the path to
    pass on the command line (a device for dev_zero/dev_null)."""
    data = valid.read_bytes()
    if kind == "truncated":
        dest.write_bytes(data[: max(1, len(data) * (seed % 7 + 1) // 8)])
    elif kind == "random_bytes":
        dest.write_bytes(np.random.default_rng(seed).integers(0, 256, 64 + seed % 4096, dtype=np.uint8).tobytes())
    elif kind == "empty":
        dest.write_bytes(b"")
    elif kind == "text":
        dest.write_text("this is not an ONNX model\n")
    elif kind == "json":
        dest.write_text('{"graph": {"node": []}}\n')
    elif kind == "fifo":
        os.mkfifo(dest)
    elif kind == "directory":
        dest.mkdir()
        (dest / "model.onnx").write_bytes(data)
    elif kind == "dev_zero":
        return "/dev/zero"
    elif kind == "dev_null":
        return "/dev/null"
    elif kind != "missing":
        raise ValueError(kind)
    return str(dest)


# ------------------------------------------------------------------------------------- CLI options
# (command, option, value); values that reach a script carry the marker
CLI_OPTIONS = (
    ("compile", "--part", f'xcvu13p-flga2577-2-e"; puts {MARKER}_part; #'),
    ("compile", "--part", f"xcvu13p-flga2577-2-e}}; puts {MARKER}_brace; #{{"),
    ("compile", "--part", "no-such-part"),
    ("compile", "--reuse-factor", "99999999999"),
    ("compile", "--reuse-factor", "0"),
    ("compile", "--reuse-factor", "-1"),
    ("compile", "--reuse-factor", "1e3"),
    ("compile", "--pipeline-stages", "1"),
    ("compile", "--pipeline-stages", "2"),
    ("compile", "--pipeline-stages", "0"),
    ("compile", "--pipeline-stages", "-1"),
    ("compile", "--clock-ns", "0"),
    ("compile", "--clock-ns", "-5"),
    ("compile", "--clock-ns", "nan"),
    ("compile", "--clock-ns", "inf"),
    ("compile", "--tmux", "0"),
    ("compile", "--latency-budget-ns", "nan"),
    ("compile", "--strategy", "Resource"),
    ("compile", "--hls-backend", "Vivado"),
    ("verify", "--vectors", "1000000000"),
    ("verify", "--vectors", "0"),
    ("verify", "--vectors", "1"),
    ("verify", "--seed", "-1"),
    ("verify", "--levels", "bogus"),
)

# ------------------------------------------------------------------------------------- output dirs
OUTDIR_KINDS = ("dot", "dotdot", "model_dir", "user_dir", "symlink", "existing_file", "home", "recompile",
                "nested_new", "inside_user_dir", "model_file")
