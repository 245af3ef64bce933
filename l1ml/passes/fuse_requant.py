"""Replace a chain of float stages ending in a quantizer by one exact, proven Requant node.

For a Quantize whose input is real-valued, walk back through single-consumer float stages (Affine,
BatchNorm, ReLU/Clip on a real tensor, Sigmoid, Tanh, HardSigmoid) to an integer-typed tensor x. The
map from x's codes to the quantizer's codes is then computed exactly for every code in x's type
(``requant_search``), and written as thresholds or, when one is proven equal and cheaper, as a
multiply-add-shift (``l1ml.ir.requant`` has the cost).
"""

from __future__ import annotations

from fractions import Fraction

from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node
from l1ml.ir.ops import Op, RequantAttrs
from l1ml.ir.requant import multiply_cost, threshold_cost
from l1ml.passes.requant_search import (
    MAX_LEVELS,
    Chain,
    Stage,
    Undecidable,
    check_sampled,
    closed_form_multiply,
    find_multiply,
    level_count,
    search_thresholds,
)

#: Float stages a Requant can absorb (ReLU and Clip only when they read a real-valued tensor).
CHAIN_OPS = (Op.AFFINE, Op.BATCHNORM, Op.RELU, Op.CLIP, Op.SIGMOID, Op.TANH, Op.HARDSIGMOID)


def _fractions(values) -> tuple[Fraction, ...]:
    return tuple(Fraction(v) if isinstance(v, str) else Fraction(float(v)) for v in values)


def stages_of(g: Graph, node: Node) -> list[Stage]:
    """The exact real-number semantics of one float-stage node."""
    op = node.op
    if op is Op.AFFINE:
        return [Stage("affine", (_fractions(node.attrs.a), _fractions(node.attrs.b)))]
    if op is Op.BATCHNORM:
        gamma, beta, mean, var = (g.t(i).data.reshape(-1) for i in node.inputs[1:5])
        eps = Fraction(node.attrs.epsilon)
        var_eps = tuple(Fraction(float(v)) + eps for v in var)
        if any(v <= 0 for v in var_eps):
            raise NodeError(node, "var + epsilon is not positive; export the BatchNorm's trained statistics")
        return [Stage("batchnorm", (_fractions(gamma), _fractions(beta), _fractions(mean), var_eps))]
    if op is Op.RELU:
        return [Stage("clip", ((Fraction(0),), (None,)))]
    if op is Op.CLIP:
        lo, hi = node.attrs.lo, node.attrs.hi
        return [Stage("clip", ((None if lo is None else Fraction(lo),), (None if hi is None else Fraction(hi),)))]
    if op is Op.SIGMOID:
        return [Stage("sigmoid")]
    if op is Op.TANH:
        return [Stage("tanh")]
    if op is Op.HARDSIGMOID:
        a = node.attrs
        return [Stage("affine", ((Fraction(a.alpha),), (Fraction(a.beta),))),
                Stage("clip", ((Fraction(0),), (Fraction(1),)))]
    raise ValueError(op)


def _label(g: Graph, n: Node) -> str:
    if n.op is Op.AFFINE:
        a, b = (Fraction(v) for v in n.attrs.a[:1]), (Fraction(v) for v in n.attrs.b[:1])
        a0, b0 = next(a), next(b)
        per = " per channel" if len(n.attrs.a) > 1 or len(n.attrs.b) > 1 else ""
        return f"Affine(x*{float(a0):.6g}{' + ' + format(float(b0), '.6g') if b0 else ''}{per})"
    return n.op.value


def chain_to(g: Graph, q: Node) -> tuple[str, list[Node]] | None:
    """(x, the float-stage nodes from x to q's input) or None when the walk meets no integer tensor."""
    cur, nodes = q.inputs[0], []
    while g.t(cur).type is None:
        p = g.producer(cur)
        if p is None or p.op not in CHAIN_OPS or len(g.users(cur)) != 1 or cur in g.outputs:
            return None
        nodes.insert(0, p)
        cur = p.inputs[0]
    return cur, nodes


def build_requant(g: Graph, q: Node, x: str, nodes: list[Node]) -> RequantAttrs:
    """The exact Requant replacing ``nodes`` + the quantizer ``q`` (proven; the cheaper form)."""
    xt, out = g.t(x).type, g.t(q.outputs[0]).type
    stages = [s for n in nodes for s in stages_of(g, n)]
    channels = max((s.channels() for s in stages), default=1)
    width = g.t(x).shape[-1] if g.t(x).shape else 1
    for node in nodes:
        bad = [s.channels() for s in stages_of(g, node) if s.channels() not in (1, width)]
        if bad:
            raise NodeError(node, f"{bad[0]} per-channel parameters for a last axis of {width}; export "
                            "per-channel parameters along the channel (last) axis")
    chain = Chain(stages, xt, out)
    source = " + ".join(_label(g, n) for n in nodes) + f" + Quant(to {out})"
    try:
        levels = max(level_count(chain, c) for c in range(channels))
        if levels > MAX_LEVELS:  # too many thresholds to search: the algebraic multiplier or a refusal
            found = closed_form_multiply(chain)
            if found is None:
                raise NodeError(q, f"the quantizer after {source.rsplit(' + Quant', 1)[0]} steps through "
                                f"{levels} output levels on the input range {xt}; an exact requantisation "
                                f"of a non-affine chain is searched level by level (at most {MAX_LEVELS}): "
                                f"quantize this output to at most {MAX_LEVELS.bit_length() - 1} bits, or "
                                "use power-of-two scales")
            mult, add, shift = found
            if not check_sampled(chain, mult, add, shift):  # pragma: no cover - an algebra bug
                raise RuntimeError(f"{q.name}: the closed-form multiplier differs from the exact chain")
            return RequantAttrs("multiply", mult=tuple(mult), add=tuple(add), shift=shift, source=source)
        maps = [search_thresholds(chain, c) for c in range(channels)]
    except Undecidable as e:
        raise NodeError(q, f"the exact requantisation cannot be decided ({e}); round the float parameters "
                        "of the layer (e.g. to float16) and export again") from e
    thresholds = tuple(m.thresholds for m in maps)
    t_attrs = RequantAttrs("thresholds", thresholds, tuple(m.base for m in maps),
                           tuple(m.step for m in maps), source=source)
    found = find_multiply(chain, maps)
    if found is not None:
        mult, add, shift = found
        if multiply_cost(tuple(mult), tuple(add), xt, out) < threshold_cost(thresholds, xt):
            return RequantAttrs("multiply", mult=tuple(mult), add=tuple(add), shift=shift, source=source)
    return t_attrs


def fuse_requant(g: Graph) -> bool:
    """Fuse every float-stage chain that ends in a quantizer and starts at an integer tensor."""
    changed = False
    for q in [n for n in g.nodes if n.op is Op.QUANTIZE]:
        if g.t(q.inputs[0]).type is not None:
            continue
        found = chain_to(g, q)
        if found is None:
            continue
        x, nodes = found
        attrs = build_requant(g, q, x, nodes)
        meta = dict(q.meta)
        meta["fused"] = [n.meta.get("onnx_name", n.name) for n in nodes]
        node = Node(g.fresh_name(f"requant_{q.name}"), Op.REQUANT, [x], list(q.outputs), attrs, meta)
        g.nodes[g.nodes.index(q)] = node
        for n in nodes:
            g.remove_node(n)
        changed = True
    if changed:
        g.prune_tensors()
        g.toposort()
    return changed
