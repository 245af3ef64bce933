"""The bit-exact emulator: integer arithmetic over the typed IR, vectorised over events.

Codes are carried as integer-valued float32/float64 arrays where the type (and, for Dense, the
largest partial sum) provably fits the mantissa, so matrix products run on BLAS and stay exact;
wider values fall back to int64. This is the reference: the hls4ml C-simulation and the Verilog
must equal it bit for bit.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import numpy as np

from l1ml.errors import L1MLError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.interpreter import Interpreter, rule
from l1ml.ir.ops import Op
from l1ml.ir.quantize import code_dtype, graph_scale, quantize_input, requantize, scaled_real
from l1ml.ir.semantics import (
    aligned_terms,
    clip_codes,
    conv_weight_matrix,
    dense_terms,
    exact_float_dtype,
    pool_shift,
)
from l1ml.ir.types import aligned_range
from l1ml.load import load_graph

CHUNK = 4096  # events per block: keeps each layer's activations in cache
BLOCK_ELEMENTS = 2**21  # ... but no tensor of a block beyond about this many codes (a GNN's edge tensors)


class Emulator(Interpreter[np.ndarray]):
    what = "the emulator"

    def __init__(self, graph: Graph, fused: bool = True):
        """``fused``: run blocks through the fused plan (``emulate_fused``, two threads); False runs the
        interpreter node by node, the plan's reference."""
        super().__init__(graph)
        self.check_supported()
        self._dense: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        # a node may overwrite its input's buffer when nothing else reads that tensor
        readers: dict[str, int] = {}
        for n in graph.nodes:
            for i in n.inputs:
                readers[i] = readers.get(i, 0) + 1
        self._in_place = {n.name: readers[n.inputs[0]] == 1 and n.inputs[0] not in graph.outputs
                          for n in graph.nodes if n.inputs}
        self._indices: dict[str, np.ndarray] = {}
        self._incidence: dict[object, object] = {}
        for n in graph.nodes:
            if n.op in (Op.DENSE, Op.CONV2D):
                self._prepare_dense(n)
            elif n.op is Op.GATHER:
                self._indices[n.name] = np.asarray(n.attrs.indices, dtype=np.intp)
            elif n.op is Op.SEGMENT_SUM:
                self._incidence[n.name] = incidence_matrix(n.attrs.segments, n.attrs.n_segments)
        self.plan = None
        if fused:
            from l1ml.backends.emulate_fused import FusedPlan

            self.plan = FusedPlan(self)

    def _prepare_dense(self, n: Node) -> None:
        x, w = self.graph.t(n.inputs[0]), self.graph.t(n.inputs[1])
        if n.op is Op.CONV2D:
            w = conv_weight_matrix(w)
        b = self.graph.t(n.inputs[2]) if len(n.inputs) > 2 else None
        _, _, _, mag = dense_terms(x.type, w, b)
        dt = exact_float_dtype(int(mag.max(initial=0)))
        t = aligned_terms(x.type, w, b)
        self._dense[n.name] = (t.weights.astype(dt), None if t.bias is None else t.bias.astype(dt))

    def const(self, t: Tensor) -> np.ndarray:
        return t.data

    @rule(Op.DENSE)
    def dense(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        w, b = self._dense[node.name]
        acc = v[0].astype(w.dtype, copy=False) @ w
        if b is not None:
            acc += b
        return [acc.astype(code_dtype(outs[0].type.width), copy=False)]

    @rule(Op.CONV2D)
    def conv2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        # im2col: each output pixel's window becomes one row, rows in the (a, b, c) order of the weight matrix
        w, b = self._dense[node.name]
        kh, kw = ins[1].shape[:2]
        cols = _windows(v[0].astype(w.dtype, copy=False), (kh, kw), node.attrs.stride, node.attrs.pads, 0)
        n, ho, wo = cols.shape[:3]
        cols = cols.transpose(0, 1, 2, 4, 5, 3).reshape(n * ho * wo, -1)
        acc = cols @ w
        if b is not None:
            acc += b
        return [acc.reshape(n, ho, wo, -1).astype(code_dtype(outs[0].type.width), copy=False)]

    @rule(Op.MAXPOOL2D)
    def maxpool2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        x = v[0]
        # padded positions must never win: fill them with the dtype's least value
        fill = np.iinfo(x.dtype).min if np.issubdtype(x.dtype, np.integer) else -np.inf
        a = node.attrs
        win = _windows(x, a.kernel, a.stride, a.pads, fill)
        return [win.max(axis=(-2, -1)).astype(code_dtype(outs[0].type.width), copy=False)]

    @rule(Op.AVGPOOL2D)
    def avgpool2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        # the division by 2**s is the output type's finer grid: the codes are the plain window sums
        pool_shift(node)
        dt = code_dtype(outs[0].type.width)
        a = node.attrs
        win = _windows(v[0].astype(dt, copy=False), a.kernel, a.stride, a.pads, 0)
        return [win.sum(axis=(-2, -1), dtype=dt)]

    @rule(Op.TRANSPOSE)
    def transpose(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        # a copy: later ops may write their input in place, which must not reach this op's input
        return [v[0].transpose((0, *(p + 1 for p in node.attrs.perm))).copy()]

    @rule(Op.QUANTIZE)
    def quantize(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        x = v[0] if self._in_place[node.name] else v[0].copy()  # requantize works in place
        if code_dtype(outs[0].type.width) == np.int64 or x.dtype == np.int64:
            x = x.astype(np.int64)
        elif x.dtype == np.float32 and ins[0].type.frac < outs[0].type.frac:
            x = x.astype(code_dtype(max(ins[0].type.width + outs[0].type.frac - ins[0].type.frac, 1)))
        return [requantize(x, ins[0].type.frac, outs[0].type)]

    @rule(Op.RELU)
    def relu(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        out = v[0] if self._in_place[node.name] else None
        return [np.maximum(v[0], 0, out=out).astype(code_dtype(outs[0].type.width), copy=False)]

    @rule(Op.ADD)
    def add(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        out = outs[0].type
        dt = code_dtype(out.width)
        terms = []
        for t, x in zip(ins, v, strict=True):
            x = np.asarray(x).astype(dt)
            terms.append(x * dt(2 ** (out.frac - t.type.frac)) if dt != np.int64 else x << (out.frac - t.type.frac))
        return [terms[0] + terms[1]]

    def _aligned(self, ins: list[Tensor], v: list[np.ndarray], out) -> list[np.ndarray]:
        """Each operand's codes on the output's grid, in the output's dtype.

        Exact for Sub (every operand's aligned range lies inside the result's). For Max, Min and Clip an
        operand may reach beyond the result's range (it loses the comparison there): in float32/float64
        such values round, but rounding is monotone and every value inside the result's range is exact,
        so the comparison still picks the exact result; in int64 an operand whose aligned range passes
        63 bits is carried as Python integers (``_narrowed`` brings the result back)."""
        dt = code_dtype(out.width)
        terms = []
        for t, x in zip(ins, v, strict=True):
            s = out.frac - t.type.frac
            x = np.asarray(x)
            if dt != np.int64:
                # ldexp, not x * 2.0**s: 2**s may exceed the dtype's range, where the product 0 * inf is NaN
                terms.append(np.ldexp(x.astype(dt), s).astype(dt, copy=False))
            elif max(map(abs, aligned_range(t.type, out.frac))) >= 2**62:
                terms.append(x.astype(np.int64).astype(object) << s)
            else:
                terms.append(x.astype(np.int64) << s)
        return terms

    @staticmethod
    def _narrowed(y: np.ndarray, out) -> np.ndarray:
        """A Max/Min/Clip result (inside the output type's range by its type rule) in the output's dtype."""
        return y.astype(np.int64) if y.dtype == object else y.astype(code_dtype(out.width), copy=False)

    @rule(Op.SUB)
    def sub(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        a, b = self._aligned(ins, v, outs[0].type)
        return [a - b]

    @rule(Op.NEG)
    def neg(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        return [np.negative(np.asarray(v[0]).astype(code_dtype(outs[0].type.width)))]

    @rule(Op.ABS)
    def abs_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        return [np.abs(np.asarray(v[0]).astype(code_dtype(outs[0].type.width)))]

    @rule(Op.MAX)
    def max_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        a, b = self._aligned(ins, v, outs[0].type)
        return [self._narrowed(np.maximum(a, b), outs[0].type)]

    @rule(Op.MIN)
    def min_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        a, b = self._aligned(ins, v, outs[0].type)
        return [self._narrowed(np.minimum(a, b), outs[0].type)]

    @rule(Op.CLIP)
    def clip(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        out = outs[0].type
        frac, lo, hi = clip_codes(node, ins[0].type)
        (x,) = self._aligned(ins[:1], v[:1], out)
        # a bound beyond x's range never acts and may pass 63 bits: dropped. A bound that can act lies
        # inside the result's range (the type rule), so it fits the result's dtype
        xlo, xhi = aligned_range(ins[0].type, frac)
        lo = None if lo is None or lo <= xlo else lo
        hi = None if hi is None or hi >= xhi else hi
        if lo is not None:
            x = np.maximum(x, lo)
        if hi is not None:
            x = np.minimum(x, hi)
        return [self._narrowed(x, out)]

    @rule(Op.REDUCE_SUM)
    def reduce_sum(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        # a mean over 2**k values is the same sum read on a grid 2**k finer: the codes are the sums
        dt = code_dtype(outs[0].type.width)
        axes = tuple(a + 1 for a in node.attrs.axes)
        y = np.asarray(v[0]).astype(dt, copy=False).sum(axis=axes, dtype=dt, keepdims=node.attrs.keepdims)
        return [y.reshape((y.shape[0], *outs[0].shape))]

    @rule(Op.SLICE)
    def slice_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        a = node.attrs
        index = [slice(None)] * (a.axis + 1) + [slice(a.start, a.stop, a.step)]
        # a copy, always: np.ascontiguousarray returns the input's own memory when the slice is already
        # contiguous (one event, or the whole axis), and an in-place op after the Slice then changed it
        return [v[0][tuple(index)].copy()]

    @rule(Op.REQUANT)
    def requant(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        return [requant_codes(node.attrs, np.asarray(v[0]), outs[0].type).astype(code_dtype(outs[0].type.width))]

    @rule(Op.MUL)
    def mul(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        dt = code_dtype(outs[0].type.width)  # holds the exact product
        return [np.multiply(np.asarray(v[0]).astype(dt, copy=False), np.asarray(v[1]).astype(dt, copy=False))]

    @rule(Op.CONCAT)
    def concat(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        out_t = outs[0].type
        dt = code_dtype(out_t.width)
        axis = node.attrs.axis + 1
        events = next(len(x) for t, x in zip(ins, v, strict=True) if not t.is_const)
        out = np.empty((events, *outs[0].shape), dt)
        at = 0
        for t, x in zip(ins, v, strict=True):
            part = np.moveaxis(out, axis, 0)[at:at + t.shape[axis - 1]]
            src = np.moveaxis(np.broadcast_to(x, (events, *t.shape)), axis, 0)  # a constant has no event axis
            s = out_t.frac - t.type.frac
            if dt == np.int64:
                np.left_shift(src.astype(np.int64, copy=False), s, out=part)
            else:
                np.multiply(src, dt(2.0**s), out=part, casting="unsafe")  # exact: codes fit the dtype
            at += t.shape[axis - 1]
        return [out]

    @rule(Op.GATHER)
    def gather(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        return [np.take(v[0], self._indices[node.name], axis=1)]

    @rule(Op.SEGMENT_SUM)
    def segment_sum(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        # one sparse product with the (segments x rows) incidence matrix, for all events and features at once
        x = v[0]
        n, rows = x.shape[:2]
        feats = x.shape[2:]
        dt = code_dtype(outs[0].type.width)
        flat = np.moveaxis(x.astype(dt, copy=False), 0, -1).reshape(rows, -1)  # (rows, [feats...], events)
        key = (node.name, dt)
        if key not in self._incidence:  # cached per dtype: the conversion costs as much as the product
            self._incidence[key] = self._incidence[node.name].astype(dt)
        y = np.asarray(self._incidence[key] @ flat)
        return [np.moveaxis(y.reshape(node.attrs.n_segments, *feats, n), -1, 0)]

    @rule(Op.RESHAPE)
    def reshape(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[np.ndarray]) -> list[np.ndarray]:
        out = v[0].reshape((v[0].shape[0], *node.attrs.shape))
        # a view shares the input's memory: copy it when another node still reads the input, so that an
        # in-place op after this one cannot change what that node sees
        return [out if self._in_place[node.name] else out.copy()]

    # ---- entry points -------------------------------------------------------------------------------
    def _blocks(self, arrays: dict[str, np.ndarray], prepare) -> dict[str, np.ndarray]:
        from threadpoolctl import threadpool_limits

        n = len(next(iter(arrays.values())))
        widest = max((t.size for t in self.graph.tensors.values() if not t.is_const), default=1)
        outs: dict[str, np.ndarray] = {o: np.empty((n, *self.graph.t(o).shape), np.int64)
                                       for o in self.graph.outputs}
        # blocks of a few thousand events are too small for threaded BLAS: its threads spin and, on a
        # busy machine, run 20x slower than one thread. The fused plan runs blocks on threads instead.
        if self.plan is not None:
            from l1ml.backends.emulate_fused import FUSED_BLOCK_ELEMENTS, FUSED_CHUNK

            with threadpool_limits(1, user_api="blas"):
                self.plan.run_blocks(arrays, prepare, outs, max(1, min(FUSED_CHUNK, FUSED_BLOCK_ELEMENTS // widest)))
            return outs
        chunk = max(1, min(CHUNK, BLOCK_ELEMENTS // widest))
        with threadpool_limits(1, user_api="blas"):
            for s in range(0, n, chunk):
                env = self.run({k: prepare(k, v[s:s + chunk]) for k, v in arrays.items()})
                for o in self.graph.outputs:
                    outs[o][s:s + chunk] = env[o]
        return outs

    def run_codes(self, codes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Input codes -> output codes (int64), in blocks of up to CHUNK events."""
        return self._blocks(codes, lambda k, v: v.astype(code_dtype(self.graph.t(k).type.width)))

    def run_float(self, x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Float inputs (IR layout) -> output codes (int64): the input quantizers applied block by block."""
        for name, v in x.items():
            refuse_nan(self.graph, name, v)
        return self._blocks(x, lambda k, v: quantize_input(v, self.graph.t(k).type, graph_scale(self.graph.meta, k)))


def requant_codes(a, x: np.ndarray, out) -> np.ndarray:
    """The integer map of a Requant node (``RequantAttrs``) applied to codes ``x``; channels on the last
    axis (one entry: every element). int64 result; Python integers where a product could pass 62 bits."""
    x = np.asarray(x)
    x = x.astype(np.int64) if x.dtype != object else x
    channels = len(a.base) if a.form == "thresholds" else len(a.mult)
    y = np.empty(x.shape, dtype=np.int64)
    for c in range(channels):
        sel = (Ellipsis, c) if channels > 1 else (Ellipsis,)
        xc = x[sel]
        if a.form == "thresholds":
            t = np.asarray(a.thresholds[c], dtype=np.int64)
            y[sel] = a.base[c] + a.step[c] * np.searchsorted(t, xc, side="right")
        else:
            wide = int(np.abs(xc).max(initial=0)).bit_length() + abs(a.mult[c]).bit_length() + 2 > 62 or \
                abs(a.add[c]).bit_length() > 60
            xs = xc.astype(object) if wide else xc
            z = (xs * a.mult[c] + a.add[c]) >> a.shift
            y[sel] = np.clip(z, out.min_code, out.max_code).astype(np.int64)
    return y


def incidence_matrix(segments: tuple[int, ...], n_segments: int):
    """Sparse (n_segments, rows) 0/1 matrix with a 1 at [segments[r], r]; rows in segment -1 have none."""
    from scipy.sparse import csr_matrix

    seg = np.asarray(segments, dtype=np.int64)
    rows = np.flatnonzero(seg >= 0)
    return csr_matrix((np.ones(len(rows), np.int8), (seg[rows], rows)), shape=(n_segments, len(seg)))


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
             pads: tuple[int, int, int, int], fill: float) -> np.ndarray:
    """Strided view (N, Ho, Wo, C, kh, kw) of the windows of an (N, H, W, C) batch padded with ``fill``."""
    top, left, bottom, right = pads
    if any(pads):
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    win = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(1, 2))
    return win[:, ::stride[0], ::stride[1]]


def to_ir_layout(g: Graph, x: np.ndarray) -> np.ndarray:
    """Events in the ONNX model's layout -> the IR's: NCHW images become channels-last (N, H, W, C)."""
    if g.meta.get("input_layout") == "NCHW":
        return np.asarray(x).transpose(0, 2, 3, 1)
    return np.asarray(x)


def to_onnx_layout(g: Graph, x: np.ndarray) -> np.ndarray:
    """The inverse of ``to_ir_layout``: IR (channels-last) events back in the ONNX model's layout."""
    if g.meta.get("input_layout") == "NCHW":
        return np.asarray(x).transpose(0, 3, 1, 2)
    return np.asarray(x)


class NaNInputError(L1MLError):
    """A NaN among the float inputs: it has no fixed-point code (an ap_fixed word is always a number)."""


def refuse_nan(g: Graph, name: str, x: np.ndarray, where: str = "", ir_layout: bool = True) -> None:
    """Raise NaNInputError naming the first event and element of ``x`` that is NaN.

    ±inf and values beyond the input type's range are fine: they saturate like the input quantizer
    (QONNX clips); NaN would propagate through qonnx and has no meaning in the firmware."""
    try:
        bad = np.isnan(np.asarray(x, dtype=np.float32))
    except (TypeError, ValueError) as e:
        raise L1MLError(f"{where}input '{name}' is not an array of numbers ({e})") from e
    if bad.any():
        first = np.argwhere(bad)[0]
        layout = " (channels-last)" if g.meta.get("input_layout") == "NCHW" and ir_layout else ""
        raise NaNInputError(f"{where}input '{name}', event {int(first[0])}, element "
                            f"{tuple(int(i) for i in first[1:])}{layout} is NaN ({int(bad.sum())} NaN values "
                            "in all): the firmware has no NaN, so l1ml refuses it; replace NaN before the "
                            "model (e.g. by the value the model was trained with for missing data)")


def input_codes(g: Graph, x: np.ndarray | dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Float inputs (IR layout) -> the codes the firmware receives: each input's quantizer applied to the
    exact value (QONNX semantics; ±inf and out-of-range values saturate, NaN is refused)."""
    if not isinstance(x, dict):
        if len(g.inputs) != 1:
            raise L1MLError(f"the model has inputs {g.inputs}; pass a dict of arrays")
        x = {g.inputs[0]: x}
    out = {}
    for name in g.inputs:
        t = g.t(name)
        arr = np.asarray(x[name])
        if arr.shape[1:] != t.shape:
            raise L1MLError(f"input '{name}' expects events of shape {t.shape}, got {arr.shape[1:]}")
        if name in g.meta.get("mask_inputs", ()) and not np.isin(arr, (0, 1)).all():
            raise L1MLError(f"input '{name}' is a validity mask (it only multiplies, so l1ml gives it one bit); "
                            "feed 0 or 1 only")
        refuse_nan(g, name, arr)
        out[name] = quantize_input(arr, t.type, graph_scale(g.meta, name)).astype(np.int64)
    return out


class Layout(Enum):
    """The layout of the arrays given to ``emulate``."""

    ONNX = "onnx"  # the exported model's own (NCHW for images): what `l1ml emulate -i` reads
    IR = "ir"  # the IR's (channels-last (N, H, W, C) for images): what make_vectors gives


def emulate(model: Graph | str | Path, x: np.ndarray | dict[str, np.ndarray],
            layout: Layout | str = Layout.ONNX) -> np.ndarray | tuple[np.ndarray, ...]:
    """Run the model bit-exactly on float inputs; returns real-valued outputs (float64, exact).

    ``x`` is in the exported model's layout (NCHW for images), as for ``l1ml emulate -i``; pass
    ``layout="ir"`` for channels-last arrays. ±inf and values beyond an input's range saturate like its
    quantizer; NaN is refused (NaNInputError names the event and element)."""
    layout = Layout(layout)
    g = load_graph(model)
    if not isinstance(x, dict):
        if len(g.inputs) != 1:
            raise L1MLError(f"the model has inputs {g.inputs}; pass a dict of arrays")
        x = {g.inputs[0]: x}
    missing = [i for i in g.inputs if i not in x]
    if missing:
        raise L1MLError(f"no arrays for inputs {missing}; the model has inputs {g.inputs}")
    ir_x = {}
    for name in g.inputs:
        arr = np.asarray(x[name])
        want = g.t(name).shape
        if layout is Layout.ONNX:
            want = to_onnx_layout(g, np.zeros((1, *want))).shape[1:]
        if arr.ndim < 1 or arr.shape[1:] != want:
            raise L1MLError(f"input '{name}' expects events of shape {want} in the {layout.value} layout, "
                            f"got {arr.shape[1:]}" + (" (give layout='ir' for channels-last arrays)"
                                                      if layout is Layout.ONNX and len(want) == 3 else ""))
        refuse_nan(g, name, arr, ir_layout=layout is Layout.IR)
        ir_x[name] = to_ir_layout(g, arr) if layout is Layout.ONNX else arr
    codes = Emulator(g).run_float(ir_x)
    outs = tuple(scaled_real(codes[o], g.t(o).type, graph_scale(g.meta, o)) for o in g.outputs)
    return outs[0] if len(outs) == 1 else outs
