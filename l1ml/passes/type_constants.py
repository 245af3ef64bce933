"""Give every float constant read by integer arithmetic (Add, Sub, Mul, Max, Min, Concat) its exact type.

Every finite float is a dyadic rational m * 2**-f, so such a constant needs no quantizer: its codes on
the grid 2**-f (f the least that makes every element an integer) hold it exactly, and the type rules
carry it through the arithmetic without rounding. Constants read by float stages (BatchNorm, Affine,
Quant) stay float: their readers decide what they mean. A constant that both kinds of op read is
copied for the integer ones.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import Op
from l1ml.ir.semantics import dyadic_frac
from l1ml.ir.types import MAX_WIDTH, bits_for_range, covering

#: ops whose constant operands are exact integer codes on a grid
INTEGER_OPS = frozenset({Op.ADD, Op.SUB, Op.MUL, Op.MAX, Op.MIN, Op.CONCAT})


def constant_codes(node: Node, t: Tensor) -> tuple[np.ndarray, int]:
    """The int64 codes and the frac of float constant ``t`` on its own exact grid; refused (naming the node
    and the remedy) when not finite or wider than MAX_WIDTH."""
    data = np.asarray(t.data, dtype=np.float64)
    if not np.isfinite(data).all():
        raise NodeError(node, f"constant '{t.name}' is not finite; export finite constants")
    values = [float(v) for v in data.reshape(-1)]
    frac = max((dyadic_frac(v) for v in values if v != 0), default=0)
    scale = Fraction(2) ** frac
    codes = [int(Fraction(v) * scale) for v in values]  # exact: 2**frac makes each one an integer
    lo, hi = min(codes, default=0), max(codes, default=0)
    _, width = bits_for_range(min(lo, 0), max(hi, 0))
    if width > MAX_WIDTH:
        raise NodeError(node, f"constant '{t.name}' needs {width} bits to be exact on its grid 2^-{frac} (its values "
                        f"span {float(min(values)):g} .. {float(max(values)):g} with {frac} fractional bits), more "
                        f"than {MAX_WIDTH}; round it to fewer significant bits, or quantize it with a fixed-point "
                        "quantizer")
    return np.asarray(codes, dtype=np.int64).reshape(data.shape), frac


def type_constants(g: Graph) -> bool:
    changed = False
    for node in g.nodes:
        if node.op not in INTEGER_OPS:
            continue
        for i, name in enumerate(node.inputs):
            t = g.t(name)
            if not t.is_const or t.type is not None:
                continue
            codes, frac = constant_codes(node, t)
            if any(u.op not in INTEGER_OPS for u in g.users(name)):
                new = g.fresh_name(f"{name}_codes")
                g.tensors[new] = t = Tensor(new, t.shape)
                node.inputs = [new if k == i else x for k, x in enumerate(node.inputs)]
            t.data = codes
            t.type = covering(int(codes.min(initial=0)), int(codes.max(initial=0)), frac)
            changed = True
    return changed
