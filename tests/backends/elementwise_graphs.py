"""Hand-built typed graphs of the elementwise and reduction ops, shared by the Verilog tests and the
Verilog cost model's tests, and the corner-code vectors that drive them."""

from __future__ import annotations

import itertools

import numpy as np

from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import ClipAttrs, ConcatAttrs, NoAttrs, Op, ReduceAttrs, SliceAttrs
from l1ml.ir.types import FixedType, Overflow, Rounding, covering
from l1ml.passes.infer_types import infer_types


class GraphBuilder:
    """Tensors and nodes of a small typed graph, named as they are made."""

    def __init__(self) -> None:
        self.t: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []

    def input(self, name: str, shape: tuple[int, ...], ty: FixedType) -> str:
        self.t[name] = Tensor(name, shape, ty)
        self.inputs.append(name)
        return name

    def const(self, name: str, codes, frac: int) -> str:
        data = np.asarray(codes, dtype=np.int64)
        self.t[name] = Tensor(name, data.shape, covering(int(data.min()), int(data.max()), frac), data)
        return name

    def node(self, op: Op, ins: list[str], attrs: object = None, name: str = "", shape: tuple[int, ...] | None = None) -> str:
        name = name or f"{op.value.lower()}{len(self.nodes)}"
        out = f"t_{name}"
        self.t[out] = Tensor(out, shape if shape is not None else np.broadcast_shapes(*(self.t[i].shape for i in ins)))
        self.nodes.append(Node(name, op, ins, [out], attrs or NoAttrs(), {"onnx_name": f"/{name}/{op.value}"}))
        return out

    def graph(self, name: str, outputs: list[str]) -> Graph:
        g = Graph(name, self.t, self.nodes, self.inputs, outputs)
        infer_types(g)
        g.verify(typed=True)
        return g


def arith_graph() -> Graph:
    """Every elementwise op on mixed signed/unsigned operands of different grids, with constants."""
    b = GraphBuilder()
    a = b.input("a", (4,), FixedType(True, 6, 2, Rounding.HALF_EVEN, Overflow.SAT))
    u = b.input("u", (4,), FixedType(False, 5, 1, Rounding.TRUNC, Overflow.SAT))
    s = b.input("s", (1,), FixedType(True, 4, 0, Rounding.TRUNC, Overflow.SAT))  # broadcast over 4
    outs = [
        b.node(Op.SUB, [a, u]),
        b.node(Op.SUB, [u, s], shape=(4,)),
        b.node(Op.SUB, [b.const("c0", [3, -40, 0, 7], 3), a]),
        b.node(Op.SUB, [u, b.const("c1", [5], 0)]),
        b.node(Op.NEG, [a]),
        b.node(Op.NEG, [u]),
        b.node(Op.ABS, [a]),
        b.node(Op.ABS, [s]),
        b.node(Op.MAX, [a, u]),
        b.node(Op.MIN, [u, s], shape=(4,)),
        b.node(Op.MAX, [a, b.const("c2", [-3], 1)]),
        b.node(Op.MIN, [b.const("c3", [1, 2, -2, 30], 2), u]),
        b.node(Op.CLIP, [a], ClipAttrs(-1.25, 0.625)),
        b.node(Op.CLIP, [u], ClipAttrs(3.0, None)),
        b.node(Op.CLIP, [a], ClipAttrs(None, -0.5)),
        b.node(Op.CLIP, [u], ClipAttrs(-1e30, 3 * 2.0**-20)),  # a bound that never acts, one on a fine grid
        b.node(Op.MUL, [a, u]),
        b.node(Op.MUL, [u, s], shape=(4,)),
        b.node(Op.MUL, [a, a]),
        b.node(Op.MUL, [u, u]),
        b.node(Op.MUL, [a, b.const("c4", [3, -7, 683, 0], 4)]),  # shift-add, negative, DSP, zero
        b.node(Op.MUL, [b.const("c5", [-5], 0), u]),
    ]
    d = b.node(Op.SUB, [a, u])
    outs.append(b.node(Op.REDUCE_SUM, [b.node(Op.MUL, [d, d])], ReduceAttrs((0,), False), shape=()))
    outs.append(b.node(Op.SLICE, [b.node(Op.ABS, [d])], SliceAttrs(0, 1, 4, 2), shape=(2,)))
    return b.graph("arith", outs)


def tensor_graph() -> Graph:
    """ReduceSum, Slice and Concat over the axes of a (3, 4) tensor, a power-of-two mean, constants."""
    b = GraphBuilder()
    x = b.input("x", (3, 4), FixedType(True, 7, 3, Rounding.TRUNC, Overflow.SAT))
    y = b.input("y", (3, 2), FixedType(False, 6, 4, Rounding.TRUNC, Overflow.SAT))
    outs = [
        b.node(Op.REDUCE_SUM, [x], ReduceAttrs((0,), False), shape=(4,)),
        b.node(Op.REDUCE_SUM, [x], ReduceAttrs((1,), True), shape=(3, 1)),
        b.node(Op.REDUCE_SUM, [x], ReduceAttrs((0, 1), False), shape=()),
        b.node(Op.REDUCE_SUM, [x], ReduceAttrs((1,), False, mean=True), shape=(3,)),
        b.node(Op.REDUCE_SUM, [y], ReduceAttrs((0,), False), shape=(2,)),
        b.node(Op.SLICE, [x], SliceAttrs(0, 0, 3, 2), shape=(2, 4)),
        b.node(Op.SLICE, [x], SliceAttrs(1, 1, 3, 1), shape=(3, 2)),
        b.node(Op.CONCAT, [x, b.const("row", [[1, -2, 3, -4]], 1)], ConcatAttrs(0), shape=(4, 4)),
        b.node(Op.CONCAT, [y, x, y], ConcatAttrs(1), shape=(3, 8)),
        b.node(Op.CONCAT, [b.node(Op.SLICE, [x], SliceAttrs(0, 2, 3, 1), shape=(1, 4)), x], ConcatAttrs(0),
               shape=(4, 4)),
    ]
    return b.graph("tensors", outs)


def autoencoder_graph(seed: int = 0) -> Graph:
    """The anomaly score: sum over features of (x - y)**2, y a two-layer Dense reconstruction of x."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder()
    x = b.input("x", (8,), FixedType(True, 8, 5, Rounding.HALF_EVEN, Overflow.SAT))
    h = b.node(Op.DENSE, [x, b.const("w0", rng.integers(-60, 61, (8, 5)), 6),
                          b.const("b0", rng.integers(-300, 300, 5), 8)], name="enc", shape=(5,))
    h = b.node(Op.RELU, [h], name="enc_relu")
    b.t["q"] = Tensor("q", (5,), FixedType(False, 6, 3, Rounding.HALF_EVEN, Overflow.SAT))
    b.nodes.append(Node("enc_q", Op.QUANTIZE, [h], ["q"], NoAttrs(), {"onnx_name": "/enc/Quant"}))
    y = b.node(Op.DENSE, ["q", b.const("w1", rng.integers(-100, 101, (5, 8)), 6)], name="dec", shape=(8,))
    b.t["yq"] = Tensor("yq", (8,), FixedType(True, 8, 5, Rounding.HALF_EVEN, Overflow.SAT))
    b.nodes.append(Node("dec_q", Op.QUANTIZE, [y], ["yq"], NoAttrs(), {"onnx_name": "/dec/Quant"}))
    d = b.node(Op.SUB, [x, "yq"], name="diff")
    sq = b.node(Op.MUL, [d, d], name="square")
    score = b.node(Op.REDUCE_SUM, [sq], ReduceAttrs((0,), False), name="score", shape=())
    return b.graph("autoencoder", [score, "yq"])


MAX_COMBOS = 600


def corner_codes(g: Graph, n_random: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Every combination of the extreme codes (min, max, 0, -1, +1) of the inputs (up to ``MAX_COMBOS`` of
    them), each input's elements all set alike, then each element alone at each extreme code over random
    others, followed by ``n_random`` uniformly random code vectors."""
    rng = np.random.default_rng(seed)
    special = {}
    for name in g.inputs:
        ty = g.t(name).type
        special[name] = sorted({c for c in (ty.min_code, ty.max_code, 0, -1, 1) if ty.min_code <= c <= ty.max_code})
    combos = list(itertools.product(*(special[n] for n in g.inputs)))
    if len(combos) > MAX_COMBOS:  # many inputs: the all-minimum and all-maximum corners and a random sample
        keep = rng.choice(np.arange(1, len(combos) - 1), MAX_COMBOS - 2, replace=False)
        combos = [combos[0], *(combos[int(k)] for k in sorted(keep)), combos[-1]]
    out: dict[str, list[np.ndarray]] = {n: [] for n in g.inputs}
    for combo in combos:
        for name, c in zip(g.inputs, combo, strict=True):
            out[name].append(np.full(g.t(name).shape, c, dtype=np.int64))
    for k, name in enumerate(g.inputs):  # one extreme element at a time over random others
        t = g.t(name)
        for idx in range(t.size):
            for c in special[name]:
                for m, other in enumerate(g.inputs):
                    ty = g.t(other).type
                    v = rng.integers(ty.min_code, ty.max_code + 1, g.t(other).shape)
                    if m == k:
                        v.reshape(-1)[idx] = c
                    out[other].append(v)
    for name in g.inputs:
        ty = g.t(name).type
        out[name].extend(rng.integers(ty.min_code, ty.max_code + 1, (n_random, *g.t(name).shape)))
    return {n: np.stack(v) for n, v in out.items()}
