"""hls4ml backend: a walk over the typed IR that emits hls4ml's layer list with every precision set.

hls4ml's own precision inference is never consulted: each layer's weight, bias, accumulator and
result types are the IR's exact types, spelled as ap_fixed. The project is written with hls4ml's
writer (Vitis by default), so a user with Vitis HLS synthesises it unchanged with its build script.
A GNN's row-wise Dense, mask product, gather, concatenation and segment sum become l1ml's extension
layers (``l1ml.backends.hls4ml_gnn``, docs/hls4ml-gnn.md). Elementwise arithmetic (Add, Sub, Mul, Max, Min)
of equally shaped tensors, or with a trailing block broadcast, is hls4ml's Merge; a constant operand, other
broadcasting, Neg, Abs, a square, Clip, ReduceSum, Slice and a Concat along any axis are the extension
layers of ``l1ml.backends.hls4ml_elementwise``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from l1ml import defaults
from l1ml.backends.ap_fixed import ap_type
from l1ml.backends.hls4ml_da import DA_STRATEGY, check_da_reuse, layer_strategy, require_da4ml
from l1ml.backends.hls4ml_elementwise import (
    BINARY_OPS,
    UNARY_OPS,
    broadcast_index,
    concat_view,
    merge_broadcasts,
    reduce_table,
    slice_rows,
)
from l1ml.backends.hls4ml_elementwise import register as register_elementwise
from l1ml.backends.hls4ml_gnn import (
    MAX_CONCAT_INPUTS,
    epilogue,
    fused_gather,
    insert_clones,
    lanes,
    register,
    segment_table,
    time_multiplexed,
)
from l1ml.backends.hls4ml_requant import requant_layer
from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.interpreter import Interpreter, rule
from l1ml.ir.ops import Op
from l1ml.ir.quantize import to_real
from l1ml.ir.semantics import clip_codes, concat_type, reduce_count
from l1ml.ir.types import FixedType, aligned_range, covering
from l1ml.names import Namespace, check_script_options, is_identifier


def widened_for_cast(src: FixedType, dst: FixedType) -> FixedType | None:
    """The exact widening of ``src`` that an ap_fixed cast to ``dst`` needs first, or None.

    When every bit of ``src`` lies below the LSB of ``dst`` (``src.int_bits <= -dst.frac``), ap_fixed's
    quantization reads a bit beyond the source's MSB: ap_private::get_bit asserts and the C-simulation
    aborts (seen with ap_fixed<3,-1> -> ap_fixed<2,2,AP_RND_CONV,AP_SAT>). The same value with two more
    integer bits than that bound (same LSB, sign-extended) is cast correctly in every rounding mode;
    an exhaustive sweep of small types just outside the bound found no assertion.

    >>> widened_for_cast(FixedType(True, 3, 4), FixedType(True, 2, 0, Rounding.HALF_EVEN, Overflow.SAT))
    FixedType(signed=True, width=6, frac=4, rounding=<Rounding.TRUNC: 'TRUNC'>, overflow=<Overflow.WRAP: 'WRAP'>, narrow=False)
    >>> widened_for_cast(FixedType(True, 8, 4), FixedType(True, 4, 1)) is None
    True
    """
    if src.int_bits > -dst.frac:
        return None
    return FixedType(src.signed, 2 - dst.frac + src.frac, src.frac)


def converts_input(t: FixedType) -> bool:
    """Whether the input layer's ap_fixed type is the input quantizer itself, so that the C-simulation
    (and a user's testbench) may be fed floats: true for every QONNX input Quant except unsigned narrow
    range, whose largest code ap_ufixed cannot exclude (its inputs are quantized on the host)."""
    return not (t.narrow and not t.signed)


def input_precision(g: Graph, name: str) -> str:
    """The type of graph input ``name``'s input layer. A float (double) assigned to it is rounded once,
    exactly, by the input quantizer's rounding (AP_RND_CONV for ROUND, AP_TRN for FLOOR, ...) and
    saturated (AP_SAT, AP_SAT_SYM for narrow range): the same code QONNX's Quant gives the exact value,
    ±inf included. An exact code (a value on the grid and in range) passes unchanged, so nothing rounds
    twice. A GNN's validity mask (0 or 1 only, checked by ``input_codes``) keeps the plain 1-bit type."""
    t = g.t(name).type
    if name in g.meta.get("mask_inputs", ()) or not converts_input(t):
        return ap_type(t.plain())
    return ap_type(t)


@dataclass
class HLSLayer:
    layer: dict
    precision: dict[str, str]
    config: dict = field(default_factory=dict)  # further per-layer HLSConfig keys


class HLSLowering(Interpreter[str]):
    """Values are the hls4ml layer name that produces each tensor."""

    what = "the hls4ml backend"

    def __init__(self, graph: Graph, reuse_factor: int = 1, strategy: str = "Latency"):
        super().__init__(graph)
        self.layers: list[HLSLayer] = []
        self.reuse_factor = reuse_factor
        self.strategy = strategy
        # a GNN with R > 1: row-wise layers time-multiplexed, the project in the DATAFLOW style
        self.tmux = time_multiplexed(graph, reuse_factor)
        self.fused: set[str] = set()  # ReLU/Quantize nodes computed inside a row-wise Dense
        self.gathered: dict[str, tuple[str, list[int], int]] = {}  # fused Gather output: (source, table, rows)
        # layer names become C++ variables, yaml keys and comments: each is a fresh identifier
        self.names = Namespace()

    def const(self, t: Tensor) -> str:
        return t.name

    def emit(self, node: Node, layer: dict, precision: dict[str, str], config: dict | None = None) -> list[str]:
        name = self.names.fresh(node.name)
        layer = {"name": name, **layer}
        self.layers.append(HLSLayer(layer, precision, config or {}))
        return [name]

    @rule(Op.DENSE)
    def dense(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        x, w, out = ins[0], ins[1], outs[0]
        if len(x.shape) == 2:
            return self.row_dense(node, ins, outs, v)
        if len(x.shape) != 1:
            raise NodeError(node, f"Dense on a {len(x.shape) + 1}-D input is not lowered to hls4ml")
        b = ins[2] if len(ins) > 2 else None
        bias = to_real(b.data, b.type) if b is not None else np.zeros(w.shape[1])
        layer = {
            "class_name": "Dense",
            "inputs": [v[0]],
            "n_in": w.shape[0],
            "n_out": w.shape[1],
            "weight_data": to_real(w.data, w.type),
            "bias_data": bias,
            "weight_quantizer": None,
            "bias_quantizer": None,
        }
        # the accumulator is the exact output type: every partial sum fits (or wraps back into it)
        prec = {
            "weight": ap_type(w.type),
            "bias": ap_type(b.type) if b is not None else ap_type(FixedType(False, 1, 0)),
            "accum": ap_type(out.type),
            "result": ap_type(out.type),
        }
        return self.emit(node, layer, prec)

    @rule(Op.RELU)
    def relu(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        if node.name in self.fused:
            return [v[0]]
        layer = {"class_name": "Activation", "activation": "relu", "inputs": [v[0]]}
        return self.emit(node, layer, {"result": ap_type(outs[0].type)})

    @rule(Op.QUANTIZE)
    def quantize(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        if node.name in self.fused:
            return [v[0]]
        # a linear activation whose result type differs from its input is a cast: ap_fixed applies
        # the output type's rounding and saturation, exactly the IR's requantize
        src = v[0]
        wide = widened_for_cast(ins[0].type, outs[0].type)
        if wide is not None:
            layer = {"class_name": "Activation", "activation": "linear", "inputs": [src]}
            src = self.emit(node, layer, {"result": ap_type(wide)})[0]
        layer = {"class_name": "Activation", "activation": "linear", "inputs": [src]}
        return self.emit(node, layer, {"result": ap_type(outs[0].type, node.describe())})

    @rule(Op.RESHAPE)
    def reshape(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        if len(outs[0].shape) == 1 and len(ins[0].shape) == 1:
            return [v[0]]  # a flatten of a flat tensor: nothing to lower
        layer = {"class_name": "Reshape", "inputs": [v[0]], "target_shape": list(outs[0].shape)}
        return self.emit(node, layer, {"result": ap_type(outs[0].type)})

    @rule(Op.CONV2D)
    def conv2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        x, w, out = ins[0], ins[1], outs[0]
        b = ins[2] if len(ins) > 2 else None
        kh, kw, cin, cout = w.shape
        top, left, bottom, right = node.attrs.pads
        layer = {
            "class_name": "Conv2D",
            "data_format": "channels_last",
            "inputs": [v[0]],
            "in_height": x.shape[0], "in_width": x.shape[1], "n_chan": cin,
            "out_height": out.shape[0], "out_width": out.shape[1], "n_filt": cout,
            "filt_height": kh, "filt_width": kw,
            "stride_height": node.attrs.stride[0], "stride_width": node.attrs.stride[1],
            "pad_top": top, "pad_bottom": bottom, "pad_left": left, "pad_right": right,
            # (kh, kw, cin, cout) is also hls4ml's channels-last (Keras) kernel layout
            "weight_data": to_real(w.data, w.type),
            "bias_data": to_real(b.data, b.type) if b is not None else np.zeros(cout),
            "weight_quantizer": None,
            "bias_quantizer": None,
        }
        prec = {
            "weight": ap_type(w.type),
            "bias": ap_type(b.type) if b is not None else ap_type(FixedType(False, 1, 0)),
            "accum": ap_type(out.type),
            "result": ap_type(out.type),
        }
        # every output pixel computed at once (hls4ml's default is one pixel per clock): II = reuse factor
        return self.emit(node, layer, prec, {"ParallelizationFactor": out.shape[0] * out.shape[1]})

    def _pool(self, node: Node, x: Tensor, out: Tensor, kind: str) -> dict:
        top, left, bottom, right = node.attrs.pads
        return {
            "class_name": f"{kind}Pooling2D",
            "data_format": "channels_last",
            "in_height": x.shape[0], "in_width": x.shape[1], "n_filt": x.shape[2],
            "out_height": out.shape[0], "out_width": out.shape[1],
            "pool_height": node.attrs.kernel[0], "pool_width": node.attrs.kernel[1],
            "stride_height": node.attrs.stride[0], "stride_width": node.attrs.stride[1],
            "pad_top": top, "pad_bottom": bottom, "pad_left": left, "pad_right": right,
            "count_pad": True,
        }

    @rule(Op.MAXPOOL2D)
    def maxpool2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        x, out = ins[0], outs[0]
        if any(node.attrs.pads) and not x.type.signed:
            # hls4ml pads a max pool with the code whose top bit is set: the largest value of an unsigned type
            raise NodeError(node, "hls4ml pads a max pool over an unsigned input with its largest value, so "
                            "padded windows would be wrong; use a max pool without padding")
        layer = {**self._pool(node, x, out, "Max"), "inputs": [v[0]]}
        return self.emit(node, layer, {"accum": ap_type(x.type.plain()), "result": ap_type(out.type)})

    @rule(Op.AVGPOOL2D)
    def avgpool2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        x, out = ins[0], outs[0]
        k = node.attrs.kernel[0] * node.attrs.kernel[1]
        # hls4ml sums the window in accum_t and then divides by k there: the accumulator is on the output's
        # (finer) grid and wide enough for the undivided sum, so both steps are exact
        accum = covering(min(k * k * x.type.min_code, 0), k * k * x.type.max_code, out.type.frac)
        layer = {**self._pool(node, x, out, "Average"), "inputs": [v[0]]}
        return self.emit(node, layer, {"accum": ap_type(accum), "result": ap_type(out.type)})

    @rule(Op.TRANSPOSE)
    def transpose(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        if any(u.op is Op.RESHAPE for u in self.graph.users(outs[0].name)):
            # hls4ml deletes a Transpose that feeds a flatten (it takes it for an NCHW export artefact)
            raise NodeError(node, "hls4ml would drop this Transpose because a Reshape follows it; flatten "
                            "directly after the convolutions (l1ml keeps the model's order by itself)")
        layer = {"class_name": "Transpose", "inputs": [v[0]], "perm": list(node.attrs.perm)}
        return self.emit(node, layer, {"result": ap_type(outs[0].type)})

    @rule(Op.ADD)
    def add(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        """A residual join, a constant term or a broadcast sum (``binary``).

        ap_fixed's ``+`` of two types is exact (its result type has the finer LSB of the two and one
        more integer bit), and the result type is the IR's exact ``add_type``, which holds every sum:
        the assignment neither rounds nor wraps, so the C-simulation equals the emulator's Add."""
        return self.binary(node, ins, outs, v)

    # -- static-topology GNN ops, lowered to the extension layers of l1ml.backends.hls4ml_gnn --

    def row_dense(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        """The same Dense on every row, with the ReLU/Quantize after it: ceil(rows / R) lanes walk the rows
        in <= R pipelined steps."""
        x, w, out = ins[0], ins[1], outs[0]
        b = ins[2] if len(ins) > 2 else None
        if self.strategy == DA_STRATEGY:
            raise NodeError(node, f"a Dense on the rows of a {x.shape} tensor is l1ml's own hls4ml layer, which "
                            f"hls4ml's {DA_STRATEGY} strategy does not implement; use --strategy Latency")
        chain = epilogue(self.graph, node)
        self.fused.update(n.name for n in chain)
        result = self.graph.t(chain[-1].outputs[0]) if chain else out
        n_lanes, n_steps = lanes(x.shape[0], self.reuse_factor)
        layer = {
            "class_name": "L1MLRowDense", "inputs": [v[0]],
            "n_rows": x.shape[0], "n_in": w.shape[0], "n_out": w.shape[1], "n_lanes": n_lanes, "n_steps": n_steps,
            "tmux": self.tmux, "relu": any(n.op is Op.RELU for n in chain),
            "weight_data": to_real(w.data, w.type),
            "bias_data": to_real(b.data, b.type) if b is not None else np.zeros(w.shape[1]),
        }
        prec = {
            "weight": ap_type(w.type),
            "bias": ap_type(b.type) if b is not None else ap_type(FixedType(False, 1, 0)),
            # exact: every sum of products fits, as for the rank-1 Dense (widened where the cast to the
            # fused quantizer's type would read past its MSB, see widened_for_cast)
            "accum": ap_type(widened_for_cast(out.type, result.type) or out.type),
            "result": ap_type(result.type, node.describe()),
        }
        return self.emit(node, layer, prec)

    @rule(Op.MUL)
    def mul(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        """A product: ap_fixed's ``*`` has a type that holds the exact product, and the result type is the
        IR's exact one (a square's: non-negative, so narrower than a general product)."""
        x, m = ins
        if node.inputs[0] == node.inputs[1]:
            return self.unary(node, ins, outs, v, "square")
        if not x.is_const and not m.is_const and len(x.shape) == 2 and m.shape == (x.shape[0], 1):
            # a GNN's (rows, F) tensor times a per-row validity mask
            layer = {"class_name": "L1MLMaskMul", "inputs": [v[0], v[1]],
                     "n_rows": x.shape[0], "n_feat": x.shape[1], "n_mask_feat": m.shape[1]}
            return self.emit(node, layer, {"result": ap_type(outs[0].type)})
        return self.binary(node, ins, outs, v)

    # -- elementwise integer arithmetic, lowered to hls4ml's Merge or l1ml.backends.hls4ml_elementwise --

    def binary(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        """a op b with numpy broadcasting (ADD, SUB, MUL, MAX, MIN): hls4ml's Merge where its ``data[i % n]``
        reads what broadcasting reads, else L1MLBinary (two computed tensors) or L1MLBinaryConst (a
        constant operand, stored in its exact type). The result type is the IR's exact one."""
        a, b = ins
        out = outs[0]
        code, merge_op = BINARY_OPS[node.op]
        if a.is_const and b.is_const:
            raise NodeError(node, "both operands are constants; fold the result into a constant in the model")
        if a.is_const or b.is_const:
            x, c, xv = (b, a, v[1]) if a.is_const else (a, b, v[0])
            layer = {"class_name": "L1MLBinaryConst", "inputs": [xv], "shape": list(out.shape), "op": code,
                     "const_first": a.is_const, "n_in": x.size, "n_const": c.size,
                     "index_x": broadcast_index(x.shape, out.shape), "index_c": broadcast_index(c.shape, out.shape),
                     "const_data": to_real(c.data, c.type).ravel()}
            return self.emit(node, layer, {"const": ap_type(c.type.plain()), "result": ap_type(out.type)})
        if max(a.size, b.size) == out.size and all(merge_broadcasts(t.shape, out.shape) for t in ins):
            layer = {"class_name": "Merge", "op": merge_op, "inputs": list(v)}
            return self.emit(node, layer, {"result": ap_type(out.type)})
        layer = {"class_name": "L1MLBinary", "inputs": list(v), "shape": list(out.shape), "op": code,
                 "n_in0": a.size, "n_in1": b.size, "index0": broadcast_index(a.shape, out.shape),
                 "index1": broadcast_index(b.shape, out.shape)}
        return self.emit(node, layer, {"result": ap_type(out.type)})

    def unary(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str], op: str,
              lo: float | None = None, hi: float | None = None) -> list[str]:
        """-x, |x|, x * x or a clip to [lo, hi] (a bound None or without effect is left out): L1MLUnary."""
        if ins[0].is_const:
            raise NodeError(node, "the operand is a constant; fold the result into a constant in the model")
        layer = {"class_name": "L1MLUnary", "inputs": [v[0]], "shape": list(outs[0].shape), "n": outs[0].size,
                 "op": UNARY_OPS[op], "has_lo": lo is not None, "has_hi": hi is not None,
                 "lo": 0.0 if lo is None else lo, "hi": 0.0 if hi is None else hi}
        return self.emit(node, layer, {"result": ap_type(outs[0].type)})

    @rule(Op.SUB)
    def sub(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        """a - b: ap_fixed's difference type is exact (signed, the finer LSB, one more integer bit)."""
        return self.binary(node, ins, outs, v)

    @rule(Op.MAX)
    def max_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        """max(a, b): an exact comparison across the two types; the result type holds either operand's range."""
        return self.binary(node, ins, outs, v)

    @rule(Op.MIN)
    def min_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        return self.binary(node, ins, outs, v)

    @rule(Op.NEG)
    def neg(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        return self.unary(node, ins, outs, v, "neg")

    @rule(Op.ABS)
    def abs_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        return self.unary(node, ins, outs, v, "abs")

    @rule(Op.CLIP)
    def clip(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        """Only the bounds some input value passes are compared: each such bound lies inside the output type."""
        frac, lo, hi = clip_codes(node, ins[0].type)
        xlo, xhi = aligned_range(ins[0].type, frac)
        return self.unary(node, ins, outs, v, "clip", node.attrs.lo if lo is not None and lo > xlo else None,
                          node.attrs.hi if hi is not None and hi < xhi else None)

    @rule(Op.REDUCE_SUM)
    def reduce_sum(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        x, out = ins[0], outs[0]
        _, shift = reduce_count(node, x)
        n_terms, table = reduce_table(x.shape, node.attrs.axes)
        # the sum's codes on the input's grid: the output's width holds them (a mean only reads them finer)
        accum = FixedType(out.type.signed, out.type.width, x.type.frac)
        layer = {"class_name": "L1MLReduceSum", "inputs": [v[0]], "shape": list(out.shape), "n_in": x.size,
                 "n_terms": n_terms, "shift": shift, "table": table}
        return self.emit(node, layer, {"accum": ap_type(accum), "result": ap_type(out.type)})

    @rule(Op.SLICE)
    def slice_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        a = node.attrs
        rows_in, rows_out, feat, table = slice_rows(ins[0].shape, a.axis, a.start, a.stop, a.step)
        layer = {"class_name": "L1MLSlice", "inputs": [v[0]], "shape": list(outs[0].shape),
                 "n_rows_in": rows_in, "n_rows_out": rows_out, "n_feat": feat, "indices": table}
        return self.emit(node, layer, {"result": ap_type(outs[0].type)})

    def concat_axis(self, node: Node, ins: list[Tensor], out: Tensor, v: list[str]) -> str:
        """A concatenation along any axis (L1MLConcatAxis), constant parts as weights in their exact types
        (neighbouring constants joined first, exactly, in their ``concat_type``); more than four parts in
        nested groups of four, each group's result in its own exact ``concat_type`` (the final type holds
        all of them)."""
        axis = node.attrs.axis
        ins, v = joined_constants(ins, v, axis)
        while len(ins) > MAX_CONCAT_INPUTS:
            group, ins, gv, v = ins[:MAX_CONCAT_INPUTS], ins[MAX_CONCAT_INPUTS:], v[:MAX_CONCAT_INPUTS], v[MAX_CONCAT_INPUTS:]
            shape = list(group[0].shape)
            shape[axis] = sum(t.shape[axis] for t in group)
            part = Tensor(f"{node.name}_part", tuple(shape), concat_type([t.type for t in group]))
            ins, v = [part, *ins], [self.concat_axis(node, group, part, gv), *v]
        n_rows, feats = concat_view([t.shape for t in ins], axis)
        layer = {"class_name": "L1MLConcatAxis", "inputs": [], "shape": list(out.shape), "n_rows": n_rows,
                 "feats": feats, "parts": [], "n_consts": 0}
        prec = {"result": ap_type(out.type)}
        for t, value in zip(ins, v, strict=True):
            if t.is_const:
                k = layer["n_consts"]
                layer["parts"].append(-1 - k)
                layer[f"const{k}_data"] = to_real(t.data, t.type).ravel()
                prec[f"const{k}"] = ap_type(t.type.plain())
                layer["n_consts"] += 1
            else:
                if value not in layer["inputs"]:
                    layer["inputs"].append(value)
                layer["parts"].append(layer["inputs"].index(value))
        return self.emit(node, layer, prec)[0]

    @rule(Op.GATHER)
    def gather(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        x = ins[0]
        if len(x.shape) != 2:
            raise NodeError(node, f"only a Gather of rows of a (rows, F) tensor is lowered to hls4ml; got {x.shape}")
        if fused_gather(self.graph, node):  # the Concat after it reads the rows through the index table
            self.gathered[outs[0].name] = (v[0], list(node.attrs.indices), x.shape[0])
            return [v[0]]
        layer = {"class_name": "L1MLGather", "inputs": [v[0]], "n_rows_in": x.shape[0],
                 "n_rows_out": outs[0].shape[0], "n_feat": x.shape[1], "indices": list(node.attrs.indices)}
        return self.emit(node, layer, {"result": ap_type(outs[0].type)})

    @rule(Op.CONCAT)
    def concat(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        out = outs[0]
        if all(t.is_const for t in ins):
            raise NodeError(node, "every input is a constant; fold the result into a constant in the model")
        if len(ins) == 1:
            return [v[0]]  # the output type is the input's
        if not any(t.name in self.gathered for t in ins) and (len(out.shape) != 2 or node.attrs.axis != 1
                                                               or len(ins) > MAX_CONCAT_INPUTS
                                                               or any(t.is_const for t in ins)):
            return [self.concat_axis(node, ins, out, v)]
        if len(out.shape) != 2 or node.attrs.axis != 1:
            raise NodeError(node, "a Concat of gathered rows is lowered to hls4ml only along the last axis of "
                            "(rows, F_i) inputs")
        if not 2 <= len(ins) <= MAX_CONCAT_INPUTS:
            raise NodeError(node, f"a Concat of {len(ins)} inputs is not lowered to hls4ml (2 to "
                            f"{MAX_CONCAT_INPUTS}); split it into nested Concats in the model")
        # the output type has the finest LSB and the union range, so each input converts exactly
        inputs: list[str] = []
        part_input, part_rows, tables = [], [], []
        for t, value in zip(ins, v, strict=True):
            src, table, rows = self.gathered.get(t.name, (value, [], t.shape[0]))
            if src not in inputs:
                inputs.append(src)
            part_input.append(inputs.index(src))
            part_rows.append(rows)
            tables.append(table)
        layer = {"class_name": "L1MLConcat", "inputs": inputs, "n_rows": out.shape[0], "part_input": part_input,
                 "feats": [t.shape[1] for t in ins], "part_rows": part_rows, "tables": tables}
        return self.emit(node, layer, {"result": ap_type(out.type)})

    @rule(Op.SEGMENT_SUM)
    def segment_sum(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        x, out = ins[0], outs[0]
        if len(x.shape) != 2:
            raise NodeError(node, f"only a SegmentSum of a (rows, F) tensor is lowered to hls4ml; got {x.shape}")
        rows, degree = segment_table(node.attrs.segments, node.attrs.n_segments)
        layer = {"class_name": "L1MLSegmentSum", "inputs": [v[0]], "n_rows_in": x.shape[0],
                 "n_segments": node.attrs.n_segments, "n_feat": x.shape[1], "degree": degree, "rows": rows}
        # the output type is exact for `degree` terms: the accumulator never overflows
        return self.emit(node, layer, {"accum": ap_type(out.type), "result": ap_type(out.type)})

    @rule(Op.REQUANT)
    def requant(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[str]) -> list[str]:
        """An exact integer requantisation: l1ml's extension layer (``l1ml.backends.hls4ml_requant``)."""
        layer, precision = requant_layer(node, ins[0], outs[0], v[0])
        return self.emit(node, layer, precision)


def joined_constants(ins: list[Tensor], v: list[str], axis: int) -> tuple[list[Tensor], list[str]]:
    """Neighbouring constant inputs of a concatenation along ``axis`` joined into one constant, its codes on
    their common grid (``concat_type``: exact), so that every group of parts reads a computed tensor."""
    out_t: list[Tensor] = []
    out_v: list[str] = []
    for t, value in zip(ins, v, strict=True):
        if t.is_const and out_t and out_t[-1].is_const:
            prev = out_t[-1]
            ty = concat_type([prev.type, t.type])
            data = np.concatenate([prev.data.astype(np.int64) << (ty.frac - prev.type.frac),
                                   t.data.astype(np.int64) << (ty.frac - t.type.frac)], axis=axis)
            out_t[-1] = Tensor(f"{prev.name}_{t.name}", data.shape, ty, data)
            out_v[-1] = out_t[-1].name
        else:
            out_t.append(t)
            out_v.append(value)
    return out_t, out_v


def build_hls_model(g: Graph, outdir: Path, backend: str = "Vitis", part: str = defaults.PART,
                    clock_ns: float = defaults.CLOCK_NS, project: str = "myproject", reuse_factor: int = 1,
                    strategy: str = "Latency"):
    """Lower the IR to an hls4ml ``ModelGraph`` (io_parallel), not yet written or compiled.

    One InputLayer per graph input, in ``g.inputs`` order (the order of the bridge function's arrays).
    For a GNN, ``reuse_factor`` R is the rows per lane of the row-wise Dense layers; with R > 1 the
    project uses hls4ml's DATAFLOW pipeline style, so each layer is a process with II <= R.
    With ``strategy="distributed_arithmetic"`` (da4ml installed, reuse 1) the Dense and Conv2D layers are
    da4ml adder graphs and every other layer keeps hls4ml's Latency implementation (``hls4ml_da``).
    The written project is meant for Vitis HLS (``vitis_hls -f build_prj.tcl``), which l1ml does not run:
    its C-simulation (g++) is what is checked against the emulator, its pragmas are not.
    """
    import hls4ml
    from hls4ml.model.graph import ModelGraph

    check_script_options(part, clock_ns, backend, strategy, project)  # written verbatim into tcl and C++
    if strategy == DA_STRATEGY:
        check_da_reuse(reuse_factor)
        require_da4ml()
    register()
    register_elementwise()
    lowering = HLSLowering(g, reuse_factor, strategy)
    lowering.check_supported()
    # an input layer's name is the C++ argument of the top function; "in_" keeps it clear of hls4ml's own
    # layer<N>_out, w<N>, b<N> and config<N>
    in_names = {name: lowering.names.fresh("in_" + name) for name in g.inputs}
    env = lowering.run(dict(in_names))
    input_layers = [{"class_name": "InputLayer", "name": in_names[n], "input_shape": list(g.t(n).shape)}
                    for n in g.inputs]
    layer_list = input_layers + [h.layer for h in lowering.layers]
    if lowering.tmux:
        layer_list = insert_clones(layer_list)
    taken = [layer["name"] for layer in layer_list]
    if len(set(taken)) != len(taken) or not all(map(is_identifier, taken)):
        raise ValueError(f"hls4ml layer names are not unique identifiers: {taken}")
    layer_cfg = {in_names[n]: {"Precision": {"result": input_precision(g, n)}, "Trace": False}
                 for n in g.inputs}
    for h in lowering.layers:
        layer_cfg[h.layer["name"]] = {"Precision": h.precision, "ReuseFactor": reuse_factor, "Trace": False,
                                      "Strategy": layer_strategy(h.layer["class_name"], strategy), **h.config}
    config = hls4ml.utils.config.create_config(
        output_dir=str(outdir), project_name=project, backend=backend, part=part,
        clock_period=clock_ns, io_type="io_parallel",
    )
    model_cfg = {"Precision": "ap_fixed<16,6>", "ReuseFactor": reuse_factor, "BitExact": False,
                 "Strategy": layer_strategy(None, strategy), "TraceOutput": False}
    if lowering.tmux:
        # a pipelined top function would unroll the time-multiplexed step loops
        model_cfg["PipelineStyle"] = "dataflow"
    config["HLSConfig"] = {"Model": model_cfg, "LayerName": layer_cfg}
    outputs = [env[o] for o in g.outputs]
    return ModelGraph.from_layer_list(config, layer_list, list(in_names.values()), outputs)
