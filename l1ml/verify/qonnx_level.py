"""The qonnx level: the exported model executed by ``qonnx.core.onnx_exec.execute_onnx``.

qonnx computes in float32. Where a value needs more than float32's 24-bit significand (a wide
accumulator, a clip bound above 2**24, HALF_UP just below a tie) its result is rounded, and it may then
differ from the exact emulator. Such a vector is a *qonnx float32 rounding difference*, not a mismatch,
only when the same graph executed in float64 (``run_float64``: ONNX's reference evaluator for the
standard ops, qonnx's own ``int_quant`` for Quant, weights folded in float32 exactly as qonnx folds
them) gives the emulator's outputs exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from l1ml.ir.graph import Graph
from l1ml.ir.ops import Op

FLOAT32_EXACT_BITS = 24


def float32_inexact_nodes(g: Graph) -> list[str]:
    """Nodes whose exact result needs more than float32's 24-bit significand: there qonnx (which
    executes in float32) is itself approximate, so a difference is qonnx's rounding, not ours."""
    from l1ml.ir.semantics import dense_terms

    bad = []
    for n in g.nodes:
        if n.op is Op.DENSE:
            b = g.t(n.inputs[2]) if len(n.inputs) > 2 else None
            _, _, _, mag = dense_terms(g.t(n.inputs[0]).type, g.t(n.inputs[1]), b)
            if int(mag.max(initial=0)) >= 2**FLOAT32_EXACT_BITS:
                bad.append(n.name)
        elif any(g.t(o).type.width > FLOAT32_EXACT_BITS for o in n.outputs):
            bad.append(n.name)
    return bad


def run_qonnx(onnx_path: str | Path, x: np.ndarray | dict[str, np.ndarray], chunk: int = 4096) -> np.ndarray:
    """Outputs of the exported model for float32 inputs ``x`` (batch axis first; a dict by ONNX input
    name for a model with several inputs)."""
    from qonnx.core.onnx_exec import execute_onnx

    from l1ml.frontend.qonnx import load_onnx

    base = load_onnx(onnx_path)
    oname = base.graph.output[0].name
    if not isinstance(x, dict):
        x = {base.graph.input[0].name: x}
    x = {k: np.asarray(v, dtype=np.float32) for k, v in x.items()}
    n = len(next(iter(x.values())))
    models: dict[int, object] = {}

    def model_for(size: int):
        if size not in models:
            models[size] = _at_batch(base, size)
        return models[size]

    if model_for(min(n, chunk)) is None:
        chunk = 1  # e.g. the GNN's constant incidence MatMul: run one event at a time, as exported
        models[1] = model_for(1) or base
    outs = []
    for s in range(0, n, chunk):
        xb = {k: v[s:s + chunk] for k, v in x.items()}
        m = model_for(len(next(iter(xb.values()))))
        with np.errstate(over="ignore"):  # +-inf test inputs overflow qonnx's division: saturation
            outs.append(np.asarray(execute_onnx(m, xb)[oname]))
    return np.concatenate(outs)


def _at_batch(model, size: int):
    """The model with batch size ``size``, or None when qonnx then no longer knows every tensor's shape."""
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    m = model.transform(ChangeBatchSize(size)).transform(InferShapes())
    return m if all(m.get_tensor_shape(o) is not None for n in m.graph.node for o in n.output) else None


def _float64_model(onnx_path: str | Path, batch: int):
    """The exported model at batch size ``batch`` with every float tensor in float64 and its constant
    Quant nodes (the weights) folded first in float32, as qonnx's float32 execution computes them."""
    import onnx
    from onnx import TensorProto, numpy_helper
    from qonnx.transformation.fold_constants import FoldConstants

    from l1ml.frontend.qonnx import load_onnx

    m = load_onnx(onnx_path)
    m = _at_batch(m, batch) or m
    m = m.transform(FoldConstants(exclude_op_types=[]))
    proto = onnx.ModelProto()
    proto.CopyFrom(m.model)
    g = proto.graph
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float64), init.name))
    for vi in (*g.input, *g.output, *g.value_info):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.DOUBLE
    for node in g.node:  # e.g. a Cast to float, ConstantOfShape values
        for a in node.attribute:
            if a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.DOUBLE
    return proto


def _quant_op():
    from onnx.reference.op_run import OpRun
    from qonnx.custom_op.general.intquant import int_quant

    class Quant(OpRun):
        op_domain = "qonnx.custom_op.general"

        def _run(self, x, scale, zeropt, bitwidth, narrow=0, rounding_mode="ROUND", signed=1):
            return (np.asarray(int_quant(x, scale, zeropt, bitwidth, signed, narrow, rounding_mode)),)

    return Quant


def run_float64(onnx_path: str | Path, x: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
    """Outputs of the exported model for inputs ``x`` (ONNX layout, batch first), every activation in
    float64: exact where qonnx's float32 execution is not, for accumulators below 2**53."""
    from onnx.reference import ReferenceEvaluator

    if not isinstance(x, dict):
        from l1ml.frontend.qonnx import load_onnx

        x = {load_onnx(onnx_path).graph.input[0].name: x}
    x = {k: np.asarray(v, dtype=np.float32).astype(np.float64) for k, v in x.items()}
    n = len(next(iter(x.values())))
    proto = _float64_model(onnx_path, n)
    ev = ReferenceEvaluator(proto, new_ops=[_quant_op()])
    oname = proto.graph.output[0].name
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            return np.asarray(ev.run([oname], x)[0])
        except Exception:  # the batch could not be resized (e.g. the GNN): one event at a time
            proto = _float64_model(onnx_path, 1)
            ev = ReferenceEvaluator(proto, new_ops=[_quant_op()])
            return np.concatenate([np.asarray(ev.run([oname], {k: v[i:i + 1] for k, v in x.items()})[0])
                                   for i in range(n)])


@dataclass
class QonnxComparison:
    """qonnx's outputs against the emulator's: real mismatches, and float32 rounding differences
    (vectors whose float64 execution equals the emulator exactly)."""

    mismatches: np.ndarray  # indices of vectors that differ and are not explained
    rounding: np.ndarray  # indices of vectors that differ only by qonnx's float32 rounding
    explanation: str = ""
    float64_error: str = ""  # why the float64 execution could not run (then nothing is explained)
    lines: list[str] = field(default_factory=list)


def classify(g: Graph, onnx_path: str | Path, onnx_x: dict[str, np.ndarray], expected: np.ndarray,
             actual: np.ndarray, exact: np.ndarray | None = None, lsb: float | None = None) -> QonnxComparison:
    """Split the vectors where qonnx (float32) differs from the emulator into real mismatches and
    float32 rounding differences, by re-executing just those vectors in float64. ``exact``: the
    emulator's outputs in float64 where ``expected`` is their float32 rounding (an output float scale),
    which the float64 execution is compared with. ``lsb``: the real value of one output code; the float64
    outputs are then compared code by code (nearest code), since an output of more than 53 significant
    bits (a wide accumulator times a float scale) is not a float64 either; a difference of one code still
    counts."""
    e = expected.reshape(len(expected), int(np.prod(expected.shape[1:])))
    e64 = e if exact is None else exact.reshape(e.shape)
    a = actual.reshape(e.shape)
    bad = np.nonzero((e != a).any(axis=1))[0]
    if len(bad) == 0:
        return QonnxComparison(bad, bad)
    try:
        x64 = {k: np.asarray(v)[bad] for k, v in onnx_x.items()}
        if len(x64) == 1:
            x64 = next(iter(x64.values()))
        a64 = run_float64(onnx_path, x64).reshape(len(bad), -1).astype(np.float64)
    except Exception as ex:  # an op the reference evaluator lacks: explain nothing, say why
        return QonnxComparison(bad, bad[:0], float64_error=f"{type(ex).__name__}: {ex}")
    if lsb:
        with np.errstate(over="ignore", invalid="ignore"):
            same = (np.rint(a64 / lsb) == np.rint(e64[bad] / lsb)).all(axis=1)
    else:
        same = (a64 == e64[bad]).all(axis=1)
    inexact = float32_inexact_nodes(g)
    where = f" at {', '.join(inexact)}" if inexact else " (an input Quant or a clip bound)"
    if g.meta.get("scale") or any(n.op is Op.REQUANT for n in g.nodes):
        where += (", and with float-scale quantizers it divides by each scale and sums scaled products in "
                  "float32, so a value within float32's rounding of a rounding boundary (a near-tie) rounds "
                  "the other way there")
    why = (f"qonnx executes in float32, which cannot hold every intermediate value exactly{where}; the "
           "same graph executed in float64 gives the emulator's outputs on each of these vectors")
    return QonnxComparison(bad[~same], bad[same], why if same.any() else "")
