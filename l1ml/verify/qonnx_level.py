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


def run_qonnx(onnx_path: str | Path, x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Outputs of the exported model for float32 inputs ``x`` (batch axis first)."""
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    from l1ml.frontend.qonnx import load_onnx

    base = load_onnx(onnx_path)
    iname, oname = base.graph.input[0].name, base.graph.output[0].name
    outs = []
    models: dict[int, object] = {}
    x = np.asarray(x, dtype=np.float32)
    for s in range(0, len(x), chunk):
        xb = x[s:s + chunk]
        m = models.get(len(xb))
        if m is None:
            m = base.transform(ChangeBatchSize(len(xb))).transform(InferShapes())
            models[len(xb)] = m
        with np.errstate(over="ignore"):  # +-inf test inputs overflow qonnx's division: saturation
            outs.append(np.asarray(execute_onnx(m, {iname: xb})[oname]))
    return np.concatenate(outs)
