"""Fold a BatchNorm into the Dense before it, where that is exact (the fast path).

BatchNorm is a float affine y*a + c per channel. Folded into a fixed-point accumulator it stays exact
only when a = gamma / sqrt(var + eps) is a power of two and the shifts are dyadic. A trained BatchNorm
almost never is: it is left in place for ``fuse_requant``, which replaces it and the quantizer after it
by an exact integer map (``materialise_affine`` refuses one that no quantizer follows).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import Op
from l1ml.ir.types import MAX_WIDTH, WidthError, covering

MAX_FRAC = 40  # the finest folded-bias grid the fast path takes

REMEDY = ("merge it into the preceding layer before quantization-aware fine-tuning "
          "(brevitas.nn.utils.merge_bn(layer, bn)) and export again")


def _pow2(v: float) -> int | None:
    m, e = math.frexp(v)
    return e - 1 if m == 0.5 else None


def _den_frac(v: Fraction) -> int:
    """The grid of a dyadic rational: f with v * 2**f the least integer multiple (0 for integers)."""
    return max(v.denominator.bit_length() - 1, 0)


def _fold(g: Graph, bn: Node) -> bool:
    """Fold ``bn`` if it is exact to; False (left for fuse_requant) otherwise. The folded weight and bias are
    new tensors: a weight another Dense also reads (a layer used twice) keeps its codes."""
    x = bn.inputs[0]
    dense = g.producer(x)
    if (dense is None or dense.op is not Op.DENSE or len(g.users(x)) != 1 or x in g.outputs
            or g.t(x).type is None):
        return False  # a Dense output that is also read elsewhere (or a model output) must keep its values
    gamma, beta, mean, var = (g.t(i).data for i in bn.inputs[1:5])
    eps = bn.attrs.epsilon
    a32 = np.float32(gamma) / np.sqrt(np.float32(var) + np.float32(eps))
    a64 = gamma / np.sqrt(var + eps)
    ks = []
    for c in range(gamma.size):
        k = _pow2(float(a32[c]))
        if k is None or float(a32[c]) != float(a64[c]):
            return False  # not a power of two: fuse_requant makes it an exact requantisation
        ks.append(k)
    w, b = g.t(dense.inputs[1]), (g.t(dense.inputs[2]) if len(dense.inputs) > 2 else None)
    kmin = min(ks)
    shift = [k - kmin for k in ks]
    # the folded weights, exact in Python integers: column c shifted by k_c - kmin, on the grid frac - kmin
    cols = [[int(v) << shift[c] for v in w.data[:, c]] for c in range(gamma.size)]
    try:
        w_type = covering(min([0, *(v for col in cols for v in col)]), max([0, *(v for col in cols for v in col)]),
                          w.type.frac - kmin)
    except WidthError:
        raise NodeError(bn, f"the per-channel factors 2^{kmin} .. 2^{max(ks)} spread the folded weights over "
                        f"more than {MAX_WIDTH} bits; {REMEDY}") from None
    # the new bias (b - mean) * 2**k + beta, exactly (a float is a dyadic rational), on its finest grid
    bias = [(Fraction(int(b.data[c]), 2**b.type.frac) if b is not None and b.type.frac >= 0
             else Fraction(int(b.data[c]) * 2**-b.type.frac) if b is not None else Fraction(0))
            for c in range(gamma.size)]
    bias_real = [(bias[c] - Fraction(float(mean[c]))) * Fraction(2)**ks[c] + Fraction(float(beta[c]))
                 for c in range(gamma.size)]
    bf = max(_den_frac(v) for v in bias_real)
    if bf > MAX_FRAC:
        return False  # a bias this fine is no fast path: the graph is still untouched, fuse_requant takes it
    codes = [int(v * 2**bf) for v in bias_real]
    try:
        b_type = covering(min([0, *codes]), max([0, *codes]), bf)
    except WidthError:
        raise NodeError(bn, f"the folded bias needs more than {MAX_WIDTH} bits on its grid 2^-{bf}; {REMEDY}") from None
    wname, bname = g.fresh_name(f"{dense.name}_weight_folded"), g.fresh_name(f"{dense.name}_bias_folded")
    g.tensors[wname] = Tensor(wname, w.shape, w_type, np.array(cols, dtype=np.int64).T.reshape(w.shape))
    g.tensors[bname] = Tensor(bname, (gamma.size,), b_type, np.array(codes, dtype=np.int64))
    dense.inputs[1:] = [wname, bname]
    g.replace_all_uses_with(bn.outputs[0], x)
    g.remove_node(bn)
    g.t(x).type = None  # re-inferred by the next infer_types
    return True


def fold_batchnorm(g: Graph) -> bool:
    folded = [bn for bn in [n for n in g.nodes if n.op is Op.BATCHNORM] if _fold(g, bn)]
    if folded:
        g.prune_tensors()
    return bool(folded)
