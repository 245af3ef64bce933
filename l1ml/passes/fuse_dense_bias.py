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


def _as_vector(g: Graph, name: str) -> bool:
    """Give a bias stored in the IR broadcast layout, shape ``(1, ..., 1, F)``, its Dense shape ``(F,)``.

    The frontend stores a broadcasting constant at the rank of the tensor it is added to (a row-wise
    Dense in a GNN adds a ``(1, F)`` constant); squeezing the leading ones changes no value. False when
    the bias varies along another axis, or a Quant reads a scale that is not a scalar or ``(F,)``.
    """
    t = g.t(name)
    if len(t.shape) == 1:
        return True
    if any(d != 1 for d in t.shape[:-1]):
        return False
    p = g.producer(name)
    chain = [t] if p is None else [g.t(p.inputs[0]), t]
    if p is not None and any(g.t(i).size not in (1, t.shape[-1]) for i in p.inputs[1:]):
        return False
    for c in chain:
        c.shape = c.shape[-1:]
        if c.data is not None:
            c.data = c.data.reshape(c.shape)
    if p is not None:
        for i in p.inputs[1:]:
            s = g.t(i)
            if s.size == t.shape[-1] and s.shape != t.shape and s.data is not None:
                s.shape, s.data = t.shape, s.data.reshape(t.shape)
    return True


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
            if not _as_vector(g, bias):
                continue
            dense.inputs.append(bias)
            g.replace_all_uses_with(add.outputs[0], dense.outputs[0])
            g.remove_node(add)
            changed = True
            break
    if changed:
        g.prune_tensors()
    return changed
