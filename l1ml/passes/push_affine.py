"""Move Affine nodes downstream where that is exact, until they meet a quantizer (fuse_requant) or an
output (materialise_affine), so that the layers in between compute on integer codes.

Every rule is an identity of real numbers: Dense(x * a) = a * Dense(x) for a per-tensor a (the bias
moves into the Affine's b); relu(x * a) = relu(x) * a and max(x * a) = max(x) * a for a > 0, b = 0;
wiring (Reshape, Transpose, Slice) commutes with a per-tensor map; x*a + b1 +- (y*a + b2) =
(x +- y) * a + (b1 +- b2); a sum of n values of x * a is (sum x) * a. Two adjacent Affines compose.
An Affine moves only off an integer-typed tensor, so what it leaves behind is typed.
"""

from __future__ import annotations

from fractions import Fraction

from l1ml.ir.graph import Graph, Node
from l1ml.ir.ops import AffineAttrs, Op
from l1ml.passes.absorb_quant import detach_bias
from l1ml.passes.infer_types import infer_types

WIRING = (Op.RESHAPE, Op.TRANSPOSE, Op.SLICE)


def coeffs(n: Node) -> tuple[tuple[Fraction, ...], tuple[Fraction, ...]]:
    return tuple(Fraction(v) for v in n.attrs.a), tuple(Fraction(v) for v in n.attrs.b)


def _set(n: Node, a: tuple[Fraction, ...], b: tuple[Fraction, ...]) -> None:
    n.attrs = AffineAttrs(tuple(str(v) for v in a), tuple(str(v) for v in b))


def _per_channel(v: tuple[Fraction, ...], c: int) -> Fraction:
    return v[c] if len(v) > 1 else v[0]


def _sole_user(g: Graph, n: Node) -> Node | None:
    """The one node reading n's output (None if several, none, or it is a graph output)."""
    out = n.outputs[0]
    users = g.users(out)
    if len(users) != 1 or out in g.outputs:
        return None
    return users[0]


def _compose(g: Graph, first: Node, second: Node) -> None:
    """(x*a1 + b1)*a2 + b2 = x*(a1*a2) + (b1*a2 + b2), per channel."""
    a1, b1 = coeffs(first)
    a2, b2 = coeffs(second)
    n = max(len(a1), len(b1), len(a2), len(b2))
    a = tuple(_per_channel(a1, c) * _per_channel(a2, c) for c in range(n))
    b = tuple(_per_channel(b1, c) * _per_channel(a2, c) + _per_channel(b2, c) for c in range(n))
    _set(first, a if len(set(a)) > 1 else a[:1], b if len(set(b)) > 1 else b[:1])
    first.outputs = list(second.outputs)
    g.remove_node(second)


def _swap(g: Graph, aff: Node, op: Node) -> None:
    """aff: x -> t, op: t -> y   becomes   op: x -> t, aff: t -> y (t takes y's shape)."""
    x, t, y = aff.inputs[0], aff.outputs[0], op.outputs[0]
    op.inputs = [x if i == t else i for i in op.inputs]
    op.outputs, aff.inputs, aff.outputs = [t], [t], [y]
    g.t(t).shape, g.t(t).type = g.t(y).shape, None
    g.nodes.remove(aff)
    g.nodes.insert(g.nodes.index(op) + 1, aff)


def _step(g: Graph) -> bool:
    for aff in [n for n in g.nodes if n.op is Op.AFFINE]:
        if g.t(aff.inputs[0]).type is None:
            continue
        user = _sole_user(g, aff)
        if user is None:
            continue
        a, b = coeffs(aff)
        zero_b = all(v == 0 for v in b)
        per_tensor = len(a) == 1 and len(b) == 1
        if user.op is Op.AFFINE:
            _compose(g, aff, user)
            return True
        if user.op in (Op.DENSE, Op.CONV2D) and user.inputs[0] == aff.outputs[0] and per_tensor and zero_b:
            user.inputs[0] = aff.inputs[0]
            g.remove_node(aff)
            detach_bias(g, user, a)
            return True
        if user.op in (Op.RELU, Op.MAXPOOL2D) and zero_b and all(v > 0 for v in a):
            _swap(g, aff, user)
            return True
        if user.op in WIRING and per_tensor:
            _swap(g, aff, user)
            return True
        if user.op is Op.REDUCE_SUM and per_tensor and zero_b and not user.attrs.mean:
            _swap(g, aff, user)
            return True
        if user.op in (Op.ADD, Op.SUB) and per_tensor and len(user.inputs) == 2:
            other = g.producer(user.inputs[1] if user.inputs[0] == aff.outputs[0] else user.inputs[0])
            if other is None or other is aff or other.op is not Op.AFFINE or _sole_user(g, other) is not user:
                continue
            a2, b2 = coeffs(other)
            if len(a2) != 1 or len(b2) != 1 or a2[0] != a[0] or g.t(other.inputs[0]).type is None:
                continue
            first, second = (aff, other) if user.inputs[0] == aff.outputs[0] else (other, aff)
            bsum = coeffs(first)[1][0] + (coeffs(second)[1][0] if user.op is Op.ADD else -coeffs(second)[1][0])
            user.inputs = [first.inputs[0], second.inputs[0]]
            y = user.outputs[0]
            t = first.outputs[0]
            g.t(t).shape, g.t(t).type = g.t(y).shape, None
            user.outputs = [t]
            first.inputs, first.outputs = [t], [y]
            _set(first, a, (bsum,))
            g.remove_node(second)
            g.nodes.remove(first)
            g.nodes.insert(g.nodes.index(user) + 1, first)
            return True
    return False


def push_affine(g: Graph) -> bool:
    """Apply the rules until none applies (types re-inferred after each, since a rule needs an integer
    tensor to move off); the graph stays in topological order."""
    changed = False
    infer_types(g)
    while _step(g):
        changed = True
        g.prune_tensors()
        g.toposort()
        infer_types(g)
    if changed:
        g.prune_tensors()
        g.toposort()
    return changed
