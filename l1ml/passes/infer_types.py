"""Give every tensor its exact fixed-point type: no arithmetic ever overflows or rounds silently.

Dense accumulators come from exact intervals over the constant weights (tighter than the textbook
w + x + ceil(log2 n) bound). Tensors fed by something still float (an unfolded BatchNorm, an
unquantized input) stay untyped; ``require_types`` then reports them.
"""

from __future__ import annotations

from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.interpreter import BackendError, Interpreter, rule
from l1ml.ir.ops import Op
from l1ml.ir.semantics import (
    clip_codes,
    concat_type,
    conv_weight_matrix,
    dense_terms,
    pool_shift,
    reduce_count,
)
from l1ml.ir.types import (
    MAX_WIDTH,
    FixedType,
    WidthError,
    add_type,
    aligned_range,
    covering,
    mul_type,
    relu_type,
)

T = FixedType | None


class TypeInference(Interpreter[T]):
    what = "type inference"

    def step(self, node: Node, ins: list[Tensor], outs: list[Tensor], env: dict[str, T]) -> dict[str, T]:
        try:
            return super().step(node, ins, outs, env)
        except BackendError as e:  # an exact result wider than l1ml computes: the user's model, not a bug
            if not isinstance(e.__cause__, WidthError):
                raise
            raise NodeError(node, f"the exact result needs {e.__cause__.width} bits, more than {MAX_WIDTH}, the widest type l1ml "
                            "computes exactly (the emulator's int64); use narrower weights or activations, "
                            "quantize the input of this layer more coarsely, or split the layer") from None

    def const(self, t: Tensor) -> T:
        return t.type

    @rule(Op.DENSE)
    def dense(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        x, w = v[0], ins[1]
        if not w.is_const:
            raise NodeError(node, "the weight is not a constant; l1ml compiles fixed weights only")
        if w.type is None:
            raise NodeError(node, "the weight is not quantized; give the layer a fixed-point weight "
                            "quantizer such as Int8WeightPerTensorFixedPoint")
        b = ins[2] if len(ins) > 2 else None
        if b is not None and (not b.is_const or b.type is None):
            raise NodeError(node, "the bias is not a quantized constant; use a fixed-point bias quantizer "
                            "such as Int8BiasPerTensorFixedPointInternalScaling, or bias=False")
        if b is not None and tuple(b.shape) != (w.shape[-1],):
            raise NodeError(node, f"the bias has shape {tuple(b.shape)} but the layer has {w.shape[-1]} outputs; "
                            "export one bias per output (as nn.Linear and nn.Conv2d do)")
        if x is None:
            return [None]
        frac, lo, hi, _ = dense_terms(x, w, b)
        return [covering(int(lo.min()), int(hi.max()), frac)]

    @rule(Op.CONV2D)
    def conv2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        if len(ins[1].shape) != 4:
            raise NodeError(node, f"the weight has shape {ins[1].shape}, not (kh, kw, cin, cout)")
        # zero padding only shrinks a window's sum toward 0, so the full-window interval bounds every pixel
        return self.dense(node, [ins[0], conv_weight_matrix(ins[1]), *ins[2:]], outs, v)

    @rule(Op.MAXPOOL2D)
    def maxpool2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [None if v[0] is None else v[0].plain()]

    @rule(Op.AVGPOOL2D)
    def avgpool2d(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        s = pool_shift(node)
        if v[0] is None:
            return [None]
        k = 1 << s
        lo, hi = min(k * v[0].min_code, 0), max(k * v[0].max_code, 0)
        return [covering(lo, hi, v[0].frac + s)]

    @rule(Op.TRANSPOSE)
    def transpose(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [None if v[0] is None else v[0].plain()]

    @rule(Op.RELU)
    def relu(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [None if v[0] is None else relu_type(v[0])]

    @rule(Op.ADD)
    def add(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        if v[0] is None or v[1] is None:
            return [None]
        return [add_type(v[0].plain(), v[1].plain())]

    @rule(Op.MUL)
    def mul(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        for t, ty in zip(ins, v, strict=True):
            if t.is_const and ty is None:
                # type_constants gives every finite float constant of a Mul its exact type first
                raise NodeError(node, f"'{t.name}' is a float constant without a fixed-point type; run the "
                                "type_constants pass before type inference (l1ml's pipeline does), or quantize it "
                                "with a fixed-point quantizer")
        if v[0] is None or v[1] is None:
            return [None]
        if node.inputs[0] == node.inputs[1]:  # a square: never negative
            lo, hi = v[0].min_code, v[0].max_code
            least = 0 if lo <= 0 <= hi else min(lo * lo, hi * hi)
            return [covering(least, max(lo * lo, hi * hi), 2 * v[0].frac)]
        return [mul_type(v[0].plain(), v[1].plain())]

    @rule(Op.CONCAT)
    def concat(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        if any(t is None for t in v):
            return [None]
        return [concat_type(v)]  # type: ignore[arg-type]

    @rule(Op.GATHER)
    def gather(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [None if v[0] is None else v[0].plain()]

    @rule(Op.SEGMENT_SUM)
    def segment_sum(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        if v[0] is None:
            return [None]
        d = node.attrs.degree()
        # an empty segment is 0, so 0 is always in range; the sum grows by ceil(log2(d + 1)) bits at most
        return [covering(min(d * v[0].min_code, 0), max(d * v[0].max_code, 0), v[0].frac)]

    # ---- elementwise integer arithmetic: exact intervals on the finer grid of the operands -------------

    @rule(Op.SUB)
    def sub(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        if v[0] is None or v[1] is None:
            return [None]
        frac = max(v[0].frac, v[1].frac)
        (alo, ahi), (blo, bhi) = aligned_range(v[0], frac), aligned_range(v[1], frac)
        return [covering(alo - bhi, ahi - blo, frac)]

    @rule(Op.NEG)
    def neg(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [None if v[0] is None else covering(-v[0].max_code, -v[0].min_code, v[0].frac)]

    @rule(Op.ABS)
    def abs_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        if v[0] is None:
            return [None]
        lo, hi = v[0].min_code, v[0].max_code
        least = 0 if lo <= 0 <= hi else min(abs(lo), abs(hi))
        return [covering(least, max(abs(lo), abs(hi)), v[0].frac)]

    @rule(Op.MAX)
    def max_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        if v[0] is None or v[1] is None:
            return [None]
        frac = max(v[0].frac, v[1].frac)
        (alo, ahi), (blo, bhi) = aligned_range(v[0], frac), aligned_range(v[1], frac)
        return [covering(max(alo, blo), max(ahi, bhi), frac)]

    @rule(Op.MIN)
    def min_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        if v[0] is None or v[1] is None:
            return [None]
        frac = max(v[0].frac, v[1].frac)
        (alo, ahi), (blo, bhi) = aligned_range(v[0], frac), aligned_range(v[1], frac)
        return [covering(min(alo, blo), min(ahi, bhi), frac)]

    @rule(Op.CLIP)
    def clip(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        if v[0] is None:
            return [None]
        frac, lo_code, hi_code = clip_codes(node, v[0])
        lo, hi = aligned_range(v[0], frac)
        if lo_code is not None:
            lo, hi = max(lo, lo_code), max(hi, lo_code)
        if hi_code is not None:
            lo, hi = min(lo, hi_code), min(hi, hi_code)
        return [covering(lo, hi, frac)]

    @rule(Op.REDUCE_SUM)
    def reduce_sum(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        if v[0] is None:
            return [None]
        n, shift = reduce_count(node, ins[0])
        return [covering(min(n * v[0].min_code, 0), max(n * v[0].max_code, 0), v[0].frac + shift)]

    @rule(Op.SLICE)
    def slice_(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [None if v[0] is None else v[0].plain()]

    @rule(Op.REQUANT)
    def requant(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [outs[0].type]  # fuse_requant sets the output type; the map is proven for the input's range

    @rule(Op.AFFINE)
    def affine(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [None]  # real-valued until fuse_requant or materialise_affine removes it

    @rule(Op.SIGMOID)
    def sigmoid(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [None]

    @rule(Op.TANH)
    def tanh(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [None]

    @rule(Op.HARDSIGMOID)
    def hardsigmoid(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [None]

    @rule(Op.QUANTIZE)
    def quantize(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        src, dst = v[0], outs[0].type
        if src is not None and dst is not None and src.width + max(dst.frac - src.frac, 0) > MAX_WIDTH:
            # moving to a finer grid shifts the codes left before they saturate
            raise NodeError(node, f"requantising {src} to {dst} shifts {src.width}-bit codes left by "
                            f"{dst.frac - src.frac} bits, beyond the {MAX_WIDTH} bits l1ml computes exactly; use "
                            "scales closer together for this quantizer and the value it reads")
        return [dst]

    @rule(Op.RESHAPE)
    def reshape(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [None if v[0] is None else v[0].plain()]

    @rule(Op.BATCHNORM)
    def batchnorm(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [None]  # float until fold_batchnorm removes it

    @rule(Op.QUANT)
    def quant(self, node: Node, ins: list[Tensor], outs: list[Tensor], v: list[T]) -> list[T]:
        return [None]


def infer_types(g: Graph) -> bool:
    env = TypeInference(g).run({i: g.t(i).type for i in g.inputs})
    changed = False
    for name, t in env.items():
        if g.tensors[name].type != t:
            g.tensors[name].type = t
            changed = True
    return changed
