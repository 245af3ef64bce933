"""Fold a BatchNorm into the Dense before it, where that is exact (the fast path).

BatchNorm is a float affine y*a + c per channel. Folded into a fixed-point accumulator it stays exact
only when a = gamma / sqrt(var + eps) is a power of two and the shifts are dyadic. A trained BatchNorm
almost never is: it is left in place for ``fuse_requant``, which replaces it and the quantizer after it
by an exact integer map (``materialise_affine`` refuses one that no quantizer follows).
"""

from __future__ import annotations

import math

import numpy as np

from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node
from l1ml.ir.ops import Op
from l1ml.ir.types import MAX_WIDTH, covering

MAX_FRAC = 40

REMEDY = ("merge it into the preceding layer before quantization-aware fine-tuning "
          "(brevitas.nn.utils.merge_bn(layer, bn)) and export again")


def _pow2(v: float) -> int | None:
    m, e = math.frexp(v)
    return e - 1 if m == 0.5 else None


def _dyadic_frac(v: float) -> int | None:
    """Smallest f with v * 2**f an integer (f <= MAX_FRAC), else None."""
    for f in range(-MAX_FRAC, MAX_FRAC + 1):
        s = v * 2.0**f
        if s == math.floor(s):
            return f
    return None


def _fold(g: Graph, bn: Node) -> bool:
    """Fold ``bn`` if it is exact to; False (left for fuse_requant) otherwise."""
    x = bn.inputs[0]
    dense = g.producer(x)
    if dense is None or dense.op is not Op.DENSE or len(g.users(x)) != 1 or g.t(x).type is None:
        return False
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
    fr = [_dyadic_frac(float(v)) for v in np.concatenate([mean, beta])]
    if any(f is None for f in fr):
        return False
    w, b = g.t(dense.inputs[1]), (g.t(dense.inputs[2]) if len(dense.inputs) > 2 else None)
    kmin = min(ks)
    shift = np.array(ks) - kmin
    if int(np.abs(w.data).max(initial=0)).bit_length() + int(shift.max(initial=0)) > MAX_WIDTH:
        raise NodeError(bn, f"the per-channel factors 2^{kmin} .. 2^{max(ks)} spread the folded weights over "
                        f"more than {MAX_WIDTH} bits; {REMEDY}")
    # new bias in real numbers: (b - mean) * 2**k + beta, put on one exact grid
    bf = max(max(f for f in fr if f is not None), (b.type.frac if b else 0) + max(ks), 0)
    bias_real = [((int(b.data[c]) * 2.0**-b.type.frac if b else 0.0) - mean[c]) * 2.0**ks[c] + beta[c]
                 for c in range(gamma.size)]
    scaled = [v * 2.0**bf for v in bias_real]
    if not all(math.isfinite(v) and abs(v) < 2.0**MAX_WIDTH for v in scaled):
        raise NodeError(bn, f"the folded bias needs more than {MAX_WIDTH} bits on its grid 2^-{bf}; {REMEDY}")
    codes = np.array([round(v) for v in scaled], dtype=np.int64)
    if not np.array_equal(codes * 2.0**-bf, np.array(bias_real)):
        return False  # the graph is still untouched: fuse_requant takes it
    w.data = w.data << shift[None, :]
    w.type = covering(int(w.data.min(initial=0)), int(w.data.max(initial=0)), w.type.frac - kmin)
    name = g.fresh_name(f"{dense.name}_bias_folded")
    from l1ml.ir.graph import Tensor

    g.tensors[name] = Tensor(name, (gamma.size,), covering(int(codes.min(initial=0)),
                                                           int(codes.max(initial=0)), bf), codes)
    dense.inputs[2:] = [name]
    g.replace_all_uses_with(bn.outputs[0], x)
    g.remove_node(bn)
    g.t(x).type = None  # re-inferred by the next infer_types
    return True


def fold_batchnorm(g: Graph) -> bool:
    folded = [bn for bn in [n for n in g.nodes if n.op is Op.BATCHNORM] if _fold(g, bn)]
    if folded:
        g.prune_tensors()
    return bool(folded)
