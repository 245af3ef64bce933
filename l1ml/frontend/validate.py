"""Checks on a QONNX model before any frontend handler runs.

The handlers translate; they assume a well-formed graph. Everything a hand-edited or broken export
can get wrong is refused here instead, with the node (or tensor) named and the remedy given: a path
that is not a regular file, a graph that is not in single-assignment form, cycles, graph outputs no
node produces, dynamic or non-positive shapes, shapes that disagree with the weights (ONNX's strict
shape inference names the node), NaN/inf constants, and Quant bit widths or scales outside the range
l1ml computes exactly at every level (``QUANT_BITS``, ``SCALE_EXPONENTS``; docs/frontend.md).
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path

import numpy as np

from l1ml.errors import InputFileError, NodeError
from l1ml.passes.absorb_quant import QUANT_BITS, SCALE_EXPONENTS, pow2_exponent

#: protobuf cannot parse a message of 2 GiB or more; a bigger file is not an ONNX model we can read
MAX_MODEL_BYTES = 2**31 - 1
QONNX_OPS = ("Quant", "BipolarQuant", "Trunc")
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
EXPORT = "brevitas.export.export_qonnx(model, example_input, 'model.onnx')"


def check_model_path(path: Path) -> None:
    """Refuse, without opening it, a model path that is not a regular file of a readable size.

    A FIFO would block ``open`` forever and a device such as /dev/zero never ends, so the kind of
    file is decided by ``os.stat`` first.
    """
    try:
        st = os.stat(path)  # follows symlinks: a link to a regular file is fine
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputFileError(f"{path}: a symbolic link to '{os.readlink(path)}', which does not exist. "
                                 "Give the path of the exported .onnx file itself.") from None
        raise InputFileError(f"{path}: no such file. Give the path of a QONNX model exported by Brevitas.") from None
    except OSError as e:
        raise InputFileError(f"{path}: cannot be read ({e.strerror}).") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputFileError(f"{path}: is a directory, not an ONNX file. Give the .onnx file inside it.")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise InputFileError(f"{path}: is {kind}, not an ONNX file; l1ml reads models from regular files only. "
                             "Save the model to a file first.")
    if st.st_size > MAX_MODEL_BYTES:
        raise InputFileError(f"{path}: {st.st_size} bytes is larger than the 2 GiB an ONNX protobuf can hold; "
                             "this is not a single-file ONNX model.")


def _label(n, i: int) -> str:
    return n.name or f"{n.op_type}_{i}"


def validate_proto(proto, path: Path) -> None:
    """All checks on the raw ModelProto, in an order where each may rely on the ones before.

    Also sorts the nodes topologically when they are acyclic but out of order (ONNX requires order).
    """
    g = proto.graph
    if len(g.node) == 0:
        raise InputFileError(f"{path}: the ONNX graph has no nodes; is this an exported model? Export one with "
                             f"{EXPORT}.")
    _check_ops(g)
    inits = {t.name for t in g.initializer}
    dynamic = [i.name for i in g.input if i.name not in inits]
    if not g.input:
        raise InputFileError(f"{path}: the graph declares no input; re-export the model with {EXPORT}")
    if not dynamic:
        raise InputFileError(f"{path}: every graph input ({', '.join(i.name for i in g.input)}) is also a constant "
                             "(an initializer of the same name), so the model has no input to compute from; "
                             "rename the initializer or re-export the model")
    producer = _single_writers(g, inits, set(dynamic))
    _sort_acyclic(g, producer, inits | set(dynamic))
    _check_outputs(g, path, producer, set(dynamic), inits)
    _check_input_shapes(g, path, dynamic)
    consts = _constants(g)
    _check_constants(g, consts)
    _check_quants(g, consts)
    inferred = _check_shapes(proto, path)
    _onnx_checker(proto, inferred, path)


def _check_ops(g) -> None:
    from l1ml.errors import UnsupportedOp

    for i, n in enumerate(g.node):
        if n.domain not in ("", "ai.onnx") and n.op_type not in QONNX_OPS:
            raise UnsupportedOp(_label(n, i), f"{n.domain}.{n.op_type}", ["standard ONNX ops", *QONNX_OPS],
                                "the l1ml QONNX frontend")


def _single_writers(g, inits: set[str], inputs: set[str]) -> dict[str, int]:
    """tensor -> index of the node writing it; refuses a tensor written twice."""
    producer: dict[str, int] = {}
    for i, n in enumerate(g.node):
        for o in n.output:
            if not o:
                continue
            if o in producer:
                first = _label(g.node[producer[o]], producer[o])
                raise NodeError(_label(n, i), f"writes tensor '{o}', which node '{first}' also writes; an ONNX "
                                "tensor has exactly one writer (single static assignment): give one of the outputs "
                                "another name or re-export the model")
            if o in inputs or o in inits:
                kind = "graph input" if o in inputs else "constant (initializer)"
                raise NodeError(_label(n, i), f"writes tensor '{o}', which is a {kind}; a node may only write new "
                                "tensors: give the output another name or re-export the model")
            producer[o] = i
    return producer


def _sort_acyclic(g, producer: dict[str, int], defined: set[str]) -> None:
    """Refuse reads of tensors nobody defines and cycles; put the nodes in topological order."""
    deps: list[set[int]] = []
    for i, n in enumerate(g.node):
        d = set()
        for t in n.input:
            if not t or t in defined:
                continue
            if t not in producer:
                raise NodeError(_label(n, i), f"reads tensor '{t}', which no node produces and which is neither a "
                                "graph input nor a constant (was a node deleted?); re-export the model")
            if producer[t] == i:
                raise NodeError(_label(n, i), f"reads its own output '{t}' (a cycle); l1ml compiles feed-forward "
                                "graphs only: re-export the model without the loop")
            d.add(producer[t])
        deps.append(d)
    order: list[int] = []
    done: set[int] = set()
    ready = [i for i, d in enumerate(deps) if not d]
    users: dict[int, list[int]] = {}
    for i, d in enumerate(deps):
        for j in d:
            users.setdefault(j, []).append(i)
    while ready:
        i = ready.pop(0)
        order.append(i)
        done.add(i)
        for u in users.get(i, []):
            if u not in done and deps[u] <= done and u not in ready:
                ready.append(u)
        ready.sort()
    if len(order) < len(g.node):
        cycle = [_label(g.node[i], i) for i in range(len(g.node)) if i not in done]
        raise NodeError(cycle[0], f"is part of a cycle ({', '.join(cycle[:6])}); l1ml compiles feed-forward graphs "
                        "only: re-export the model without the loop")
    if order != sorted(order):
        nodes = [g.node[i] for i in order]
        copies = [type(n)() for n in nodes]
        for c, n in zip(copies, nodes, strict=True):
            c.CopyFrom(n)
        del g.node[:]
        g.node.extend(copies)


def _check_outputs(g, path: Path, producer: dict[str, int], inputs: set[str], inits: set[str]) -> None:
    outs = [o.name for o in g.output]
    if not outs:
        raise InputFileError(f"{path}: the graph declares no output; re-export the model")
    if len(outs) > 1:
        raise InputFileError(f"{path}: the graph has {len(outs)} outputs ({', '.join(outs)}); l1ml compiles models "
                             "with one output (one result port). Concatenate the results in the model (torch.cat) "
                             "or export only the final one")
    o = outs[0]
    if o in inputs:
        raise InputFileError(f"{path}: the graph output '{o}' is the graph input itself, so the model computes "
                             "nothing; export a model whose output is produced by its layers")
    if o in inits:
        raise InputFileError(f"{path}: the graph output '{o}' is a constant, not computed from the input; "
                             "re-export the model")
    if o not in producer:
        raise InputFileError(f"{path}: the graph output '{o}' is produced by no node (was a node deleted or the "
                             "output renamed?); re-export the model")


def _check_input_shapes(g, path: Path, dynamic: list[str]) -> None:
    from onnx import TensorProto

    read = {t for n in g.node for t in n.input}
    for inp in g.input:
        if inp.name not in dynamic:
            continue
        if inp.name not in read:
            raise InputFileError(f"{path}: graph input '{inp.name}' is read by no node; every input becomes a "
                                 "firmware port: remove it from the model's forward() and re-export")
        tt = inp.type.tensor_type
        if inp.type.HasField("tensor_type") and tt.elem_type != TensorProto.FLOAT:
            kind = TensorProto.DataType.Name(tt.elem_type).lower()
            raise InputFileError(f"{path}: graph input '{inp.name}' is of type {kind}; l1ml models take float32 "
                                 "inputs (the input quantizer turns them into codes): export with a float32 "
                                 "example input")
        if not inp.type.HasField("tensor_type") or not tt.HasField("shape"):
            raise InputFileError(f"{path}: graph input '{inp.name}' has no shape; export with a fixed example "
                                 f"input: {EXPORT}")
        dims = []
        for k, d in enumerate(tt.shape.dim):
            if not d.HasField("dim_value"):
                sym = f"'{d.dim_param}'" if d.dim_param else "unknown"
                raise InputFileError(f"{path}: graph input '{inp.name}' has a symbolic dimension {sym} (axis {k}); "
                                     "l1ml compiles static shapes only: export with a fixed example input "
                                     "(batch 1), without dynamic_axes")
            dims.append(d.dim_value)
        if any(v <= 0 for v in dims):
            raise InputFileError(f"{path}: graph input '{inp.name}' has shape {dims}; every dimension must be a "
                                 "positive size: export with a real example input (batch 1)")
        if not dims or dims[0] != 1:
            raise InputFileError(f"{path}: graph input '{inp.name}' has shape {dims}; l1ml expects a batch axis of "
                                 "1 first (it processes one event at a time): export with a single-event example")


def _readers(g, tensor: str) -> list[str]:
    return [_label(n, i) for i, n in enumerate(g.node) if tensor in n.input]


def _constants(g) -> dict[str, np.ndarray]:
    """Every constant of the graph by tensor name: initializers and the outputs of Constant nodes."""
    from onnx import helper, numpy_helper

    out: dict[str, np.ndarray] = {}
    for t in g.initializer:
        try:
            out[t.name] = numpy_helper.to_array(t)
        except Exception as e:  # noqa: BLE001 - any malformed tensor is the file's fault
            readers = _readers(g, t.name) or [t.name]
            raise NodeError(readers[0], f"constant '{t.name}' cannot be decoded ({type(e).__name__}: {e}); "
                            "re-export the model") from None
    for i, n in enumerate(g.node):
        if n.op_type == "Constant" and n.output and n.attribute:
            try:
                v = helper.get_attribute_value(n.attribute[0])
                # a TensorProto (value); value_float(s)/int(s) are plain numbers
                out[n.output[0]] = numpy_helper.to_array(v) if hasattr(v, "dims") else np.asarray(v)
            except Exception as e:  # noqa: BLE001
                raise NodeError(_label(n, i), f"the Constant's value cannot be decoded ({type(e).__name__}); "
                                "re-export the model") from None
    return out


def _check_constants(g, consts: dict[str, np.ndarray]) -> None:
    for name, v in consts.items():
        if not np.issubdtype(v.dtype, np.floating) or np.isfinite(v).all():
            continue
        what = "NaN" if np.isnan(v).any() else "an infinite value"
        readers = _readers(g, name) or [name]
        raise NodeError(readers[0], f"constant '{name}' contains {what}; l1ml needs finite weights, biases and "
                        "scales: check the training (a diverged model) or the export")


def _check_quants(g, consts: dict[str, np.ndarray]) -> None:
    """Bit widths and scales of every Quant, before the handler turns them into ints. A parameter
    computed by other nodes is left to the handler, which sees it after qonnx's constant folding."""
    lo_bits, hi_bits = QUANT_BITS
    lo_exp, hi_exp = SCALE_EXPONENTS
    for i, n in enumerate(g.node):
        if n.op_type != "Quant":
            continue
        label = _label(n, i)
        if len(n.input) != 4:
            raise NodeError(label, f"a Quant has 4 inputs (x, scale, zero point, bit width), this one {len(n.input)}; "
                            "re-export the model")
        if any(x not in consts for x in n.input[1:4]):
            continue
        if any(not np.issubdtype(consts[x].dtype, np.number) for x in n.input[1:4]):
            raise NodeError(label, "the scale, zero point and bit width must be numbers; re-export the model")
        scale, zp, bits = (np.asarray(consts[x], dtype=np.float64).reshape(-1) for x in n.input[1:4])
        signed = all(a.i != 0 for a in n.attribute if a.name == "signed")
        if bits.size != 1:
            raise NodeError(label, "per-channel bit widths are not supported; use a per-tensor bit width")
        b = float(bits[0])
        least = max(lo_bits, 2 if signed else 1)
        if not math.isfinite(b) or b != int(b) or not least <= b <= hi_bits:
            kind = "signed" if signed else "unsigned"
            raise NodeError(label, f"bit width {b:g} is outside what l1ml computes exactly: {kind} quantizers take "
                            f"an integer bit width from {least} to {hi_bits} (QONNX evaluates Quant in float32, "
                            f"whose 24-bit mantissa holds every code up to {hi_bits} bits); set bit_width in range")
        bad = scale[~np.isfinite(scale) | (scale <= 0)]
        if bad.size:
            raise NodeError(label, f"scale {bad[0]:g} is not a positive finite number; use a fixed-point Brevitas "
                            "quantizer (power-of-two scale)")
        for s in scale:
            k = pow2_exponent(float(s))
            if k is not None and not lo_exp <= k <= hi_exp:
                raise NodeError(label, f"scale 2^{k} is outside the supported range 2^{lo_exp} .. 2^{hi_exp} (the "
                                "exponents every level computes exactly); rescale the input or the layer so that "
                                f"its quantizer's scale lies in range")
        if not np.isfinite(zp).all():
            raise NodeError(label, "the zero point is not finite; use a symmetric (zero point 0) fixed-point quantizer")


def _onnx_checker(proto, inferred, path: Path) -> None:
    """ONNX's own checker, on a copy whose graph outputs carry the inferred shape where the file
    declares none (hand-built models often leave it out; shape inference has just derived it)."""
    import onnx

    m = type(proto)()
    m.CopyFrom(proto)
    shapes = {o.name: o for o in inferred.graph.output}
    for o in m.graph.output:
        if not o.type.tensor_type.HasField("shape") and o.name in shapes:
            o.type.CopyFrom(shapes[o.name].type)
    try:
        onnx.checker.check_model(m)
    except Exception as e:  # noqa: BLE001 - ValidationError, and whatever else a malformed proto triggers
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputFileError(f"{path}: the ONNX checker refuses the model: {first}. Re-export the model "
                             f"with {EXPORT}") from None


_INFERENCE_LINE = re.compile(r"\(op_type:(\w+), node name: ([^)]*)\): (.*)")


def _check_shapes(proto, path: Path):
    """ONNX's strict shape inference over a copy with each qonnx op replaced by an Identity of its data
    input (they are elementwise): it names the first node whose input shapes disagree with its weights."""
    import onnx

    m = type(proto)()
    m.CopyFrom(proto)
    for n in m.graph.node:
        if n.op_type in QONNX_OPS and n.domain not in ("", "ai.onnx"):
            n.op_type, n.domain = "Identity", ""
            del n.input[1:]
            n.ClearField("attribute")
    try:
        return onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True, data_prop=True)
    except onnx.shape_inference.InferenceError as e:
        for line in str(e).splitlines():
            hit = _INFERENCE_LINE.search(line)
            if hit:
                op, name, msg = hit.groups()
                msg = re.sub(r"\[\w+\]\s*", "", msg).strip()
                raise NodeError(name or op, f"ONNX shape inference finds that the shapes or types do not agree "
                                f"at this {op} ({msg}); export the model with a float32 example input of the "
                                "size its first layer takes") from None
        raise InputFileError(f"{path}: ONNX shape inference fails ({e}); re-export the model") from None
    except Exception as e:  # noqa: BLE001 - onnx raises several types for malformed graphs
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise InputFileError(f"{path}: ONNX shape inference fails ({first}); re-export the model") from None

