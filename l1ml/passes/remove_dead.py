"""Remove nodes whose outputs nobody reads, and tensors nobody refers to."""

from __future__ import annotations

from l1ml.ir.graph import Graph


def remove_dead(g: Graph) -> bool:
    changed = False
    while True:
        read = set(g.outputs)
        for n in g.nodes:
            read.update(n.inputs)
        dead = [n for n in g.nodes if not any(o in read for o in n.outputs)]
        if not dead:
            break
        for n in dead:
            g.remove_node(n)
        changed = True
    g.prune_tensors()
    return changed
