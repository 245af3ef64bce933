"""Merge back-to-back Transposes into one and drop identity Transposes: a model that converts NCHW to
NHWC before flattening then needs no data movement at all."""

from __future__ import annotations

from l1ml.ir.graph import Graph
from l1ml.ir.ops import Op, TransposeAttrs


def fuse_transposes(g: Graph) -> bool:
    changed = False
    for node in [n for n in g.nodes if n.op is Op.TRANSPOSE]:
        if node not in g.nodes:
            continue
        prev = g.producer(node.inputs[0])
        if prev is not None and prev.op is Op.TRANSPOSE and len(g.users(prev.outputs[0])) == 1 \
                and prev.outputs[0] not in g.outputs:
            # x.transpose(a).transpose(b) == x.transpose(a[b])
            perm = tuple(prev.attrs.perm[i] for i in node.attrs.perm)
            node.inputs[0] = prev.inputs[0]
            node.attrs = TransposeAttrs(perm)
            g.remove_node(prev)
            changed = True
        if node.attrs.perm == tuple(range(len(node.attrs.perm))):
            g.replace_all_uses_with(node.outputs[0], node.inputs[0])
            g.remove_node(node)
            changed = True
    if changed:
        g.prune_tensors()
    return changed
