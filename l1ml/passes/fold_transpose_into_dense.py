"""Fold ``Transpose -> Reshape(flat) -> Dense`` into the Dense weight: permuting its rows is free, while
a Transpose in hardware is a wide wiring block that the backends would otherwise have to render."""

from __future__ import annotations

import numpy as np

from l1ml.ir.graph import Graph, Node
from l1ml.ir.ops import Op, ReshapeAttrs

ELEMENTWISE = (Op.QUANTIZE, Op.RELU)  # ops that commute with a permutation of the elements


def _only_user(g: Graph, tensor: str) -> Node | None:
    users = g.users(tensor)
    return users[0] if len(users) == 1 and tensor not in g.outputs else None


def _dense_after(g: Graph, tensor: str) -> Node | None:
    """The Dense that reads ``tensor``, possibly through single-use elementwise ops."""
    node = _only_user(g, tensor)
    while node is not None and node.op in ELEMENTWISE:
        node = _only_user(g, node.outputs[0])
    return node if node is not None and node.op is Op.DENSE else None


def fold_transpose_into_dense(g: Graph) -> bool:
    changed = False
    for tr in [n for n in g.nodes if n.op is Op.TRANSPOSE]:
        reshape = _only_user(g, tr.outputs[0])
        if reshape is None or reshape.op is not Op.RESHAPE or len(g.t(reshape.outputs[0]).shape) != 1:
            continue
        dense = _dense_after(g, reshape.outputs[0])
        if dense is None:
            continue
        w = g.t(dense.inputs[1])
        if w.data is None or len(g.users(w.name)) != 1:
            continue
        src = g.t(tr.inputs[0])
        # m[k]: the position in the untransposed flat order of the element the model has at position k
        m = np.arange(src.size).reshape(src.shape).transpose(tr.attrs.perm).reshape(-1)
        permuted = np.empty_like(w.data)
        permuted[m] = w.data
        w.data = permuted
        reshape.inputs[0] = tr.inputs[0]
        reshape.attrs = ReshapeAttrs(g.t(reshape.outputs[0]).shape)
        g.remove_node(tr)
        changed = True
    if changed:
        g.prune_tensors()
    return changed
