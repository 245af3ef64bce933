"""Give an unquantized model input that only ever multiplies the 1-bit type of a validity mask.

A GNN on fixed slots takes its node and edge validity bits as inputs and multiplies features by them
(``x * node_mask``); the exporter leaves such inputs without a quantizer. In the firmware they are
single wires, so the IR types them ``ufixed<1,0>`` (codes 0 and 1) and records them in
``graph.meta["mask_inputs"]``; feeding any other value is refused by ``input_codes``.
"""

from __future__ import annotations

from l1ml.ir.graph import Graph
from l1ml.ir.ops import Op
from l1ml.ir.types import FixedType, Overflow, Rounding

MASK_TYPE = FixedType(False, 1, 0, Rounding.TRUNC, Overflow.SAT)


def type_mask_inputs(g: Graph) -> bool:
    changed = False
    for name in g.inputs:
        t = g.t(name)
        users = g.users(name)
        if t.type is not None or not users or any(u.op is not Op.MUL for u in users):
            continue
        t.type = MASK_TYPE
        masks = g.meta.setdefault("mask_inputs", [])
        if name not in masks:
            masks.append(name)
        changed = True
    return changed
