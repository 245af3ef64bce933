"""QONNX (as exported by Brevitas ``export_qonnx``) -> l1ml IR.

One small handler per ONNX op type. The frontend only translates; deciding whether a Quant maps to
an exact fixed-point type is the job of the ``absorb_quant`` pass, so that rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from l1ml.errors import InputFileError, NodeError, UnsupportedOp
from l1ml.frontend.validate import check_model_path, validate_proto
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import (
    BatchNormAttrs,
    ConcatAttrs,
    Conv2DAttrs,
    GatherAttrs,
    NoAttrs,
    Op,
    Pool2DAttrs,
    QuantAttrs,
    ReshapeAttrs,
    SegmentSumAttrs,
    TransposeAttrs,
)

# ONNX images are NCHW; the IR keeps them channels-last. IR array = ONNX array.transpose(TO_IR).
TO_IR = (0, 2, 3, 1)
FROM_IR = (0, 3, 1, 2)


def load_onnx(path: str | Path):
    """Read and clean a QONNX file; user-facing errors for a missing or malformed file."""
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    check_model_path(path)
    try:
        proto = onnx.load(str(path))
    except OSError as e:  # permissions, I/O errors: the file is regular but cannot be read
        raise InputFileError(f"{path}: cannot be read ({e.strerror or e}).") from None
    except (DecodeError, ValueError, RuntimeError, onnx.onnx_cpp2py_export.checker.ValidationError) as e:
        raise InputFileError(
            f"{path}: not a readable ONNX model ({type(e).__name__}). Export one with "
            "brevitas.export.export_qonnx(model, example_input, 'model.onnx')."
        ) from e
    validate_proto(proto, path)
    return clean(proto, path)


def clean(proto, path: Path | None = None):
    """qonnx's cleanup, keeping the original node names (they are what users see in Netron)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (
        GiveUniqueParameterTensors,
        RemoveStaticGraphInputs,
        RemoveUnusedTensors,
    )
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.quant_constant_folding import FoldTransposeIntoQuantInit

    for n in proto.graph.node:
        if n.op_type in ("Quant", "BipolarQuant", "Trunc"):
            n.domain = "qonnx.custom_op.general"
    model = ModelWrapper(proto)
    try:
        for t in (
            InferShapes(),
            GiveUniqueParameterTensors(),
            FoldConstants(exclude_op_types=["Quant", "BipolarQuant"]),
            FoldTransposeIntoQuantInit(),
            RemoveUnusedTensors(),
            RemoveStaticGraphInputs(),
        ):
            model = model.transform(t)
    except Exception as e:
        where = f"{path}: " if path else ""
        raise InputFileError(f"{where}qonnx could not clean the model ({type(e).__name__}: {e}).") from e
    for i, n in enumerate(model.graph.node):
        if not n.name:
            n.name = f"{n.op_type}_{i}"
    return model


Handler = Callable[["_Builder", object], None]
HANDLERS: dict[str, Handler] = {}


def handles(*op_types: str) -> Callable[[Handler], Handler]:
    def reg(fn: Handler) -> Handler:
        for t in op_types:
            HANDLERS[t] = fn
        return fn

    return reg


class _Builder:
    def __init__(self, model, source: str):
        self.model = model
        self.source = source
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.alias: dict[str, str] = {}  # onnx tensor -> IR tensor, for ops that vanish (Identity)
        self.counts: dict[str, int] = {}

    # -- tensors -----------------------------------------------------------------------------------
    def shape(self, name: str) -> tuple[int, ...]:
        s = self.model.get_tensor_shape(name)
        if s is None:
            raise NodeError(name, "tensor has no shape after shape inference; export with a fixed input size")
        if any(not isinstance(d, int) or d <= 0 for d in s):
            raise NodeError(name, f"tensor has shape {list(s)}; every dimension must be a positive size (a window "
                            "larger than its padded image leaves none): fix the layer sizes or the input size")
        if len(s) == 4:  # NCHW -> (H, W, C)
            return (int(s[2]), int(s[3]), int(s[1]))
        return tuple(int(d) for d in s[1:])  # drop the batch axis

    def tensor(self, name: str) -> str:
        name = self.alias.get(name, name)
        if name not in self.tensors:
            init = self.model.get_initializer(name)
            if init is not None:
                data = np.asarray(init, dtype=np.float64)
                self.tensors[name] = Tensor(name, tuple(data.shape), None, data)
            elif self._quantized_constant(name):
                shape = self.model.get_tensor_shape(name)
                self.tensors[name] = Tensor(name, tuple(int(d) for d in shape))  # no batch axis
            else:
                self.tensors[name] = Tensor(name, self.shape(name))
        return name

    def _quantized_constant(self, name: str) -> bool:
        p = self.model.find_producer(name)
        return p is not None and p.op_type == "Quant" and self.model.get_initializer(p.input[0]) is not None

    def const(self, onnx_node, idx: int) -> np.ndarray:
        name = onnx_node.input[idx]
        init = self.model.get_initializer(name)
        if init is None:
            raise NodeError(onnx_node.name, f"input {idx} ('{name}') must be a constant; l1ml compiles fixed "
                            "weights and quantizer parameters, so export them as constants", onnx_node.name)
        return np.asarray(init, dtype=np.float64)

    def fresh(self, base: str, shape: tuple[int, ...]) -> str:
        """A new IR-only tensor (a layout change the ONNX graph does not have)."""
        name, i = base, 0
        while name in self.tensors or self.model.get_tensor_shape(name) is not None:
            i += 1
            name = f"{base}_{i}"
        self.tensors[name] = Tensor(name, shape)
        return name

    # -- nodes -------------------------------------------------------------------------------------
    def add(self, op: Op, onnx_node, inputs: list[str], outputs: list[str], attrs: object) -> Node:
        k = self.counts.get(op.value, 0)
        self.counts[op.value] = k + 1
        node = Node(
            f"{op.value.lower()}_{k}",
            op,
            [self.tensor(i) for i in inputs],
            [self.tensor(o) for o in outputs],
            attrs,
            {"onnx_name": onnx_node.name, "onnx_op": onnx_node.op_type},
        )
        self.nodes.append(node)
        return node


def _attr(onnx_node, name: str, default=None):
    import onnx

    for a in onnx_node.attribute:
        if a.name == name:
            v = onnx.helper.get_attribute_value(a)
            return v.decode() if isinstance(v, bytes) else v
    return default


@handles("Quant")
def _quant(b: _Builder, n) -> None:
    scale = b.const(n, 1).reshape(-1)
    zp = b.const(n, 2).reshape(-1)
    bits = b.const(n, 3).reshape(-1)
    if zp.size != 1 or bits.size != 1:
        raise NodeError(n.name, "per-channel zero points or bit widths are not supported; use a "
                        "per-tensor fixed-point quantizer", n.name)
    if not np.isfinite(bits[0]) or bits[0] != int(bits[0]):
        raise NodeError(n.name, f"bit width {bits[0]} is not an integer; set bit_width to an integer", n.name)
    attrs = QuantAttrs(
        scale=tuple(float(s) for s in scale),
        zero_point=float(zp[0]),
        bits=int(bits[0]),
        signed=bool(_attr(n, "signed", 1)),
        narrow=bool(_attr(n, "narrow", 0)),
        rounding_mode=str(_attr(n, "rounding_mode", "ROUND")).upper(),
    )
    b.add(Op.QUANT, n, [n.input[0]], [n.output[0]], attrs)


@handles("Gemm")
def _gemm(b: _Builder, n) -> None:
    alpha, beta = _attr(n, "alpha", 1.0), _attr(n, "beta", 1.0)
    if _attr(n, "transA", 0) or alpha != 1.0 or beta != 1.0:
        raise NodeError(n.name, "Gemm with transA or alpha/beta != 1 is not supported; export nn.Linear "
                        "layers as they are", n.name)
    if _attr(n, "transB", 0):  # _untranspose_gemm removed every transB we can handle
        raise NodeError(n.name, "Gemm with transB needs a constant (or quantized constant) weight", n.name)
    b.add(Op.DENSE, n, [n.input[0], n.input[1], *n.input[2:3]], [n.output[0]], NoAttrs())


def _untranspose_gemm(model) -> None:
    """Rewrite Gemm(transB=1) with a constant weight as transB=0 by transposing the constant (and a
    per-channel scale of the Quant that reads it), so that Dense weights are always (n_in, n_out)."""
    import onnx

    for n in model.graph.node:
        if n.op_type != "Gemm" or not _attr(n, "transB", 0):
            continue
        w = n.input[1]
        prod = model.find_producer(w)
        if model.get_initializer(w) is not None:
            targets, shaped = [w], w
        elif prod is not None and prod.op_type == "Quant" and all(
                model.get_initializer(t) is not None for t in prod.input[:2]):
            targets, shaped = [prod.input[0], prod.input[1]], prod.input[0]
        else:
            continue  # the Quant or Gemm handler refuses the non-constant operand by name
        if any(len(model.find_consumers(t)) > 1 for t in targets if model.get_initializer(t).ndim > 1):
            continue
        for t in targets:
            v = np.asarray(model.get_initializer(t))
            if v.ndim == 2:
                model.set_initializer(t, v.T.copy())
        if prod is not None and shaped != w:
            model.set_tensor_shape(w, list(np.asarray(model.get_initializer(shaped)).shape))
        for a in n.attribute:
            if a.name == "transB":
                a.CopyFrom(onnx.helper.make_attribute("transB", 0))


@handles("MatMul")
def _matmul(b: _Builder, n) -> None:
    if b.model.get_initializer(n.input[0]) is not None and b.model.get_initializer(n.input[1]) is None:
        _segment_sum(b, n)
        return
    b.add(Op.DENSE, n, [n.input[0], n.input[1]], [n.output[0]], NoAttrs())


def _segment_sum(b: _Builder, n) -> None:
    """``MatMul(A, m)`` with a constant 0/1 matrix A (segments x rows), at most one 1 per column: the
    sum aggregation of a GNN over a static topology, A[s, r] = 1 when row r (an edge) feeds segment s."""
    a = b.const(n, 0)
    remedy = ("a constant left operand of MatMul must be a 0/1 incidence matrix with at most one 1 per "
              "column (a sum aggregation); multiply by weights on the right instead")
    if a.ndim != 2 or not np.isin(a, (0.0, 1.0)).all() or (a.sum(axis=0) > 1).any():
        raise NodeError(n.name, remedy, n.name)
    x_shape = b.model.get_tensor_shape(n.input[1])
    if len(x_shape) != 3 or int(x_shape[1]) != a.shape[1]:
        raise NodeError(n.name, f"the aggregated tensor has shape {x_shape}; expected (1, {a.shape[1]}, "
                        "features)", n.name)
    segments = np.where(a.any(axis=0), a.argmax(axis=0), -1)
    attrs = SegmentSumAttrs(tuple(int(s) for s in segments), int(a.shape[0]))
    b.add(Op.SEGMENT_SUM, n, [n.input[1]], [n.output[0]], attrs)


@handles("Gather")
def _gather(b: _Builder, n) -> None:
    shape = b.model.get_tensor_shape(n.input[0])
    axis = int(_attr(n, "axis", 0))
    axis = axis + len(shape) if axis < 0 else axis
    if len(shape) != 3 or axis != 1:
        raise NodeError(n.name, f"Gather on axis {axis} of a {len(shape)}-D tensor; l1ml gathers rows "
                        "(axis 1 of a (1, rows, features) tensor), as torch index_select(1, idx) exports", n.name)
    idx = b.model.get_initializer(n.input[1])
    if idx is None or np.asarray(idx).ndim != 1:
        raise NodeError(n.name, "Gather needs a constant 1-D index vector (a static graph topology); "
                        "register the indices as a buffer, not a model input", n.name)
    idx = np.asarray(idx, dtype=np.int64)
    rows = int(shape[1])
    if (idx < -rows).any() or (idx >= rows).any():
        raise NodeError(n.name, f"Gather index out of range for {rows} rows", n.name)
    attrs = GatherAttrs(tuple(int(i) for i in np.where(idx < 0, idx + rows, idx)))
    b.add(Op.GATHER, n, [n.input[0]], [n.output[0]], attrs)


@handles("Concat")
def _concat(b: _Builder, n) -> None:
    rank = len(b.model.get_tensor_shape(n.output[0]))
    axis = int(_attr(n, "axis"))
    axis = axis + rank if axis < 0 else axis
    if axis == 0:
        raise NodeError(n.name, "Concat along the batch axis; l1ml processes one event at a time", n.name)
    ir_axis = TO_IR.index(axis) - 1 if rank == 4 else axis - 1
    b.add(Op.CONCAT, n, list(n.input), [n.output[0]], ConcatAttrs(ir_axis))


@handles("Mul")
def _mul(b: _Builder, n) -> None:
    b.add(Op.MUL, n, list(n.input), [n.output[0]], NoAttrs())


@handles("Squeeze", "Unsqueeze")
def _squeeze(b: _Builder, n) -> None:
    if len(b.model.get_tensor_shape(n.output[0])) == 0 or len(b.model.get_tensor_shape(n.input[0])) == 0:
        raise NodeError(n.name, f"{n.op_type} of the batch axis; l1ml processes one event at a time", n.name)
    _same_size(n, b.model.get_tensor_shape(n.input[0]), b.model.get_tensor_shape(n.output[0]))
    b.add(Op.RESHAPE, n, [n.input[0]], [n.output[0]], ReshapeAttrs(b.shape(n.output[0])))


@handles("Add")
def _add(b: _Builder, n) -> None:
    b.add(Op.ADD, n, list(n.input), [n.output[0]], NoAttrs())


@handles("Relu")
def _relu(b: _Builder, n) -> None:
    b.add(Op.RELU, n, [n.input[0]], [n.output[0]], NoAttrs())


@handles("BatchNormalization")
def _bn(b: _Builder, n) -> None:
    b.add(Op.BATCHNORM, n, list(n.input[:5]), [n.output[0]], BatchNormAttrs(float(_attr(n, "epsilon", 1e-5))))


def _same_size(n, in_shape, out_shape) -> None:
    """A reshape keeps every element: refuse one whose shapes hold different numbers of them."""
    if in_shape is None or out_shape is None or len(in_shape) == 0 or len(out_shape) == 0:
        raise NodeError(n.name, "the shapes around this reshape are unknown or drop the batch axis; export "
                        "with a fixed example input", n.name)
    a, c = int(np.prod(in_shape[1:], dtype=np.int64)), int(np.prod(out_shape[1:], dtype=np.int64))
    if a != c or in_shape[0] != out_shape[0]:
        raise NodeError(n.name, f"reshapes {list(in_shape)} ({a} values per event) into {list(out_shape)} ({c}); "
                        "the target shape must keep every value and the batch axis: fix the shape in the model",
                        n.name)


@handles("Flatten", "Reshape")
def _reshape(b: _Builder, n) -> None:
    # a reshape reads and writes elements in ONNX (NCHW) order, so an image is turned back to (C, H, W)
    # first: then a Dense after Flatten sees the order the model was trained with
    src, dst = n.input[0], n.output[0]
    in_shape, out_shape = b.model.get_tensor_shape(src), b.model.get_tensor_shape(dst)
    _same_size(n, in_shape, out_shape)
    if len(in_shape) == 4:
        chw = tuple(int(d) for d in in_shape[1:])
        t = b.fresh(f"{dst}_chw", chw)
        b.add(Op.TRANSPOSE, n, [src], [t], TransposeAttrs((2, 0, 1)))
        src = t
    if len(out_shape) == 4:
        chw = tuple(int(d) for d in out_shape[1:])
        t = b.fresh(f"{dst}_nchw", chw)
        b.add(Op.RESHAPE, n, [src], [t], ReshapeAttrs(chw))
        b.add(Op.TRANSPOSE, n, [t], [dst], TransposeAttrs((1, 2, 0)))
        return
    b.add(Op.RESHAPE, n, [src], [dst], ReshapeAttrs(b.shape(dst)))


@handles("Transpose")
def _transpose(b: _Builder, n) -> None:
    perm = _attr(n, "perm")
    if perm is None:  # ONNX's default: reverse the axes
        perm = range(len(b.model.get_tensor_shape(n.input[0])) - 1, -1, -1)
    p = tuple(int(i) for i in perm)
    if len(p) == 4:  # compose with the layout change on both sides
        p = tuple(FROM_IR[p[TO_IR[i]]] for i in range(4))
    if p[0] != 0:
        raise NodeError(n.name, f"Transpose {p} moves the batch axis; l1ml processes one event at a time",
                        n.name)
    if p == tuple(range(len(p))):
        b.alias[n.output[0]] = b.tensor(n.input[0])
        return
    b.add(Op.TRANSPOSE, n, [n.input[0]], [n.output[0]], TransposeAttrs(tuple(i - 1 for i in p[1:])))


def _window(n, kernel: tuple[int, ...]) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """Stride and pads of a 2-D Conv/pool node; refuses what the IR does not model."""
    if len(kernel) != 2:
        raise NodeError(n.name, f"{n.op_type} over {len(kernel)} spatial axes; only 2-D images are supported",
                        n.name)
    if str(_attr(n, "auto_pad", "NOTSET")) not in ("NOTSET", "VALID"):
        raise NodeError(n.name, "auto_pad SAME_* is not supported; export with explicit padding", n.name)
    if any(int(d) != 1 for d in _attr(n, "dilations", [1, 1])):
        raise NodeError(n.name, "dilated windows are not supported; use dilation=1", n.name)
    if int(_attr(n, "ceil_mode", 0)):
        raise NodeError(n.name, "ceil_mode=1 is not supported; use ceil_mode=False", n.name)
    stride = tuple(int(d) for d in _attr(n, "strides", [1, 1]))
    pads = tuple(int(d) for d in _attr(n, "pads", [0, 0, 0, 0]))
    if any(int(k) < 1 for k in kernel) or any(d < 1 for d in stride) or any(d < 0 for d in pads):
        raise NodeError(n.name, f"kernel {list(kernel)}, strides {list(stride)} and pads {list(pads)}: kernel and "
                        "strides must be positive, pads non-negative; re-export the model", n.name)
    return (stride[0], stride[1]), (pads[0], pads[1], pads[2], pads[3])


def _check_window_output(b: _Builder, n, kernel, stride, pads) -> None:
    """The output size of a window op, computed here (ONNX's inference rounds a window larger than its
    padded input up to one pixel): every window must fit inside the padded image."""
    _, _, h, w = (int(d) for d in b.model.get_tensor_shape(n.input[0]))
    top, left, bottom, right = pads
    sizes = []
    for size, k, s, p0, p1 in ((h, kernel[0], stride[0], top, bottom), (w, kernel[1], stride[1], left, right)):
        if size + p0 + p1 < k:
            raise NodeError(n.name, f"a {kernel[0]}x{kernel[1]} window does not fit the padded {h}x{w} image; "
                            "use a smaller kernel, padding or a larger input", n.name)
        sizes.append((size + p0 + p1 - k) // s + 1)
    out = b.model.get_tensor_shape(n.output[0])
    if out is None or [int(d) for d in out[2:]] != sizes:
        raise NodeError(n.name, f"the output shape {out} is not the {sizes[0]}x{sizes[1]} image the window "
                        "computes; re-export the model", n.name)


@handles("Conv")
def _conv(b: _Builder, n) -> None:
    if int(_attr(n, "group", 1)) != 1:
        raise NodeError(n.name, "grouped or depthwise convolution is not supported; use groups=1", n.name)
    w_shape = b.model.get_tensor_shape(n.input[1])  # (kh, kw, cin, cout) after _channels_last_conv_weights
    x_shape = b.model.get_tensor_shape(n.input[0])  # (1, C, H, W)
    if x_shape is None or len(x_shape) != 4 or int(x_shape[1]) != int(w_shape[2]):
        raise NodeError(n.name, f"the input has shape {x_shape} but the weights take {w_shape[2]} channels; "
                        "export with an example input of the channel count the first layer takes", n.name)
    kernel = _attr(n, "kernel_shape")
    if kernel is not None and tuple(int(k) for k in kernel) != tuple(int(k) for k in w_shape[:2]):
        raise NodeError(n.name, f"kernel_shape {list(kernel)} differs from the weight's {list(w_shape[:2])}; "
                        "re-export the model", n.name)
    stride, pads = _window(n, tuple(w_shape[:2]))
    _check_window_output(b, n, tuple(int(k) for k in w_shape[:2]), stride, pads)
    b.add(Op.CONV2D, n, [n.input[0], n.input[1], *n.input[2:3]], [n.output[0]], Conv2DAttrs(stride, pads))


@handles("MaxPool", "AveragePool")
def _pool(b: _Builder, n) -> None:
    if len(n.output) > 1 and n.output[1]:
        raise NodeError(n.name, "MaxPool with an indices output is not supported", n.name)
    kernel = tuple(int(d) for d in _attr(n, "kernel_shape"))
    stride, pads = _window(n, kernel)
    _check_window_output(b, n, kernel, stride, pads)
    op = Op.MAXPOOL2D
    if n.op_type == "AveragePool":
        op = Op.AVGPOOL2D
        k = kernel[0] * kernel[1]
        if k & (k - 1):
            raise NodeError(n.name, f"average over a {kernel[0]}x{kernel[1]} window divides by {k}, which is "
                            "not a power of two and cannot be exact in fixed point; use a 2x2 or 4x4 window, "
                            "or MaxPool", n.name)
        if any(pads) and not int(_attr(n, "count_include_pad", 0)):
            raise NodeError(n.name, "a padded average that excludes the padding divides the border by other "
                            "counts; use count_include_pad=True or no padding", n.name)
    b.add(op, n, [n.input[0]], [n.output[0]], Pool2DAttrs((kernel[0], kernel[1]), stride, pads))


@handles("GlobalMaxPool", "GlobalAveragePool")
def _global_pool(b: _Builder, n) -> None:
    shape = b.shape(n.input[0])
    if len(shape) != 3:
        raise NodeError(n.name, f"{n.op_type} of a tensor of shape {shape}; it pools an image (N, C, H, W)", n.name)
    h, w, _ = shape
    if n.op_type == "GlobalAveragePool" and (h * w) & (h * w - 1):
        raise NodeError(n.name, f"a global average over {h}x{w} pixels divides by {h * w}, not a power of "
                        "two; use GlobalMaxPool or an image whose area is a power of two", n.name)
    op = Op.MAXPOOL2D if n.op_type == "GlobalMaxPool" else Op.AVGPOOL2D
    b.add(op, n, [n.input[0]], [n.output[0]], Pool2DAttrs((h, w), (1, 1), (0, 0, 0, 0)))


def _is_const(model, name: str) -> bool:
    return model.get_initializer(name) is not None


def _channels_last_conv_weights(model) -> None:
    """Store every Conv weight (cout, cin, kh, kw) as (kh, kw, cin, cout), the IR's layout; a per-channel
    weight scale (cout, 1, 1, 1) then lies along the last axis, as absorb_quant expects."""
    for n in model.graph.node:
        if n.op_type != "Conv":
            continue
        w = n.input[1]
        prod = model.find_producer(w)
        if model.get_initializer(w) is not None:
            target = w
        elif prod is not None and prod.op_type == "Quant" and _is_const(model, prod.input[0]):
            target = prod.input[0]  # a quantized constant
        else:
            raise NodeError(n.name, "the Conv weight is not a constant; l1ml compiles fixed weights only",
                            n.name)
        if len(model.find_consumers(target)) > 1 or (target != w and len(model.find_consumers(w)) > 1):
            raise NodeError(n.name, "the Conv weight is shared with another node; export unshared weights",
                            n.name)
        v = np.asarray(model.get_initializer(target))
        if v.ndim != 4:
            raise NodeError(n.name, f"Conv weight of shape {v.shape}; only 2-D convolutions are supported",
                            n.name)
        model.set_initializer(target, v.transpose(2, 3, 1, 0).copy())
        model.set_tensor_shape(w, list(v.transpose(2, 3, 1, 0).shape))


@handles("Identity", "Dropout")
def _identity(b: _Builder, n) -> None:
    b.alias[n.output[0]] = b.tensor(n.input[0])


def from_qonnx(path: str | Path) -> Graph:
    """Read a QONNX file into an (untyped) IR graph; run ``l1ml.passes.run_pipeline`` next."""
    model = load_onnx(path)
    _untranspose_gemm(model)
    _channels_last_conv_weights(model)
    elementwise.ir_layout_constants(model)
    b = _Builder(model, str(path))
    inputs = [i.name for i in model.graph.input]
    for name in inputs:
        b.tensor(name)
    for n in model.graph.node:
        handler = HANDLERS.get(n.op_type)
        if handler is None:
            raise UnsupportedOp(n.name, n.op_type, HANDLERS, "the l1ml QONNX frontend", onnx_name=n.name)
        handler(b, n)
    outputs = [b.alias.get(o.name, o.name) for o in model.graph.output]
    meta = {"source": Path(path).name}
    if any(len(model.get_tensor_shape(i)) == 4 for i in inputs):
        meta["input_layout"] = "NCHW"  # the IR input is channels-last: feed x.transpose(0, 2, 3, 1)
    g = Graph(Path(path).stem, b.tensors, b.nodes, inputs, outputs, meta)
    g.prune_tensors()
    g.toposort()
    g.verify()
    return g


# the elementwise, reduction and slicing handlers register themselves into HANDLERS
from l1ml.frontend import elementwise  # noqa: E402
