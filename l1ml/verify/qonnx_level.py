"""The qonnx level: the exported model executed by ``qonnx.core.onnx_exec.execute_onnx``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from l1ml.ir.graph import Graph
from l1ml.ir.ops import Op

FLOAT32_EXACT_BITS = 24


def float32_inexact_nodes(g: Graph) -> list[str]:
    """Nodes whose exact result needs more than float32's 24-bit significand: there qonnx (which
    executes in float32) is itself approximate, so a difference is qonnx's rounding, not ours."""
    from l1ml.passes.infer_types import dense_terms

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
