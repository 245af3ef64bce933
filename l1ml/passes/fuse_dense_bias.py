"""Fuse ``Add(Dense(x), constant)`` into the Dense bias (MatMul + Add exports)."""

from __future__ import annotations

from l1ml.ir.graph import Graph
from l1ml.ir.ops import Op


def _constant_source(g: Graph, name: str) -> bool:
    """A constant, or a Quant of a constant: what can serve as a bias."""
    if g.t(name).is_const:
        return True
    p = g.producer(name)
    return p is not None and p.op is Op.QUANT and g.t(p.inputs[0]).is_const


def fuse_dense_bias(g: Graph) -> bool:
    changed = False
    for add in [n for n in g.nodes if n.op is Op.ADD]:
        for i, other in ((0, 1), (1, 0)):
            dense = g.producer(add.inputs[i])
            if dense is None or dense.op is not Op.DENSE or len(dense.inputs) != 2:
                continue
            if len(g.users(dense.outputs[0])) != 1 or add.inputs[i] in g.outputs:
                continue
            bias = add.inputs[other]
            if not _constant_source(g, bias) or g.t(bias).shape[-1:] != g.t(dense.outputs[0]).shape[-1:]:
                continue
            if len(g.t(bias).shape) != 1:
                continue
            dense.inputs.append(bias)
            g.replace_all_uses_with(add.outputs[0], dense.outputs[0])
            g.remove_node(add)
            changed = True
            break
    if changed:
        g.prune_tensors()
    return changed
