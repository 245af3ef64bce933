"""Drop a Quantize whose input type already fits its output exactly (no rounding, no clamping)."""

from __future__ import annotations

from l1ml.ir.graph import Graph
from l1ml.ir.ops import Op


def remove_redundant_quantize(g: Graph) -> bool:
    changed = False
    for n in list(g.nodes):
        if n.op is not Op.QUANTIZE or n.outputs[0] in g.outputs:
            continue
        src, dst = g.t(n.inputs[0]).type, g.t(n.outputs[0]).type
        if src is None or dst is None or src.frac > dst.frac:
            continue
        s = dst.frac - src.frac
        if (src.min_code << s) >= dst.min_code and (src.max_code << s) <= dst.max_code:
            g.replace_all_uses_with(n.outputs[0], n.inputs[0])
            g.remove_node(n)
            changed = True
    if changed:
        g.prune_tensors()
    return changed
