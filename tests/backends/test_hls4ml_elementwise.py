"""Elementwise integer ops, reductions, slices and concatenations through hls4ml: hand-built typed graphs,
lowered, compiled with g++ and run in C-simulation, equal to the emulator bit for bit on thousands of
vectors that include every input's extreme codes (the saturation corners) and signed/unsigned mixes."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys

import numpy as np
import pytest

from l1ml.backends.emulate import Emulator
from l1ml.backends.hls4ml import build_hls_model
from l1ml.backends.hls4ml_elementwise import broadcast_index, merge_broadcasts, reduce_table, slice_rows
from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import ClipAttrs, ConcatAttrs, NoAttrs, Op, ReduceAttrs, ReshapeAttrs, SliceAttrs
from l1ml.ir.types import FixedType, Overflow, Rounding
from l1ml.passes.infer_types import infer_types
from l1ml.verify.hls_level import build_csim


class Builder:
    """A typed graph written op by op: each call adds a node and returns its output tensor's name."""

    def __init__(self, name: str):
        self.g = Graph(name, {}, [], [], [])

    def input(self, name: str, shape: tuple[int, ...], t: FixedType) -> str:
        self.g.tensors[name] = Tensor(name, shape, t)
        self.g.inputs.append(name)
        return name

    def const(self, name: str, codes, t: FixedType) -> str:
        codes = np.asarray(codes, dtype=np.int64)
        self.g.tensors[name] = Tensor(name, codes.shape, t, codes)
        return name

    def op(self, op: Op, inputs: list[str], shape: tuple[int, ...], attrs=None, name: str = "",
           out_type: FixedType | None = None) -> str:
        name = name or f"{op.value.lower()}{len(self.g.nodes)}"
        self.g.tensors[name] = Tensor(name, shape, out_type)
        self.g.nodes.append(Node(name, op, inputs, [name], attrs if attrs is not None else NoAttrs()))
        return name

    def build(self, outputs: list[str]) -> Graph:
        self.g.outputs = list(outputs)
        self.g.verify()
        infer_types(self.g)
        self.g.verify(typed=True)
        return self.g


def corner_codes(g: Graph, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` events per input: all codes at the minimum, all at the maximum, then events whose every code is
    drawn from the extremes {min, min + 1, 0, max - 1, max} (each input independently, so every pairing
    of corners occurs), then uniform codes over the whole range."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in g.inputs:
        t = g.t(name)
        lo, hi = t.type.min_code, t.type.max_code
        c = rng.integers(lo, hi + 1, size=(n, *t.shape))
        c[0], c[1] = lo, hi
        k = n // 3
        corners = np.array(sorted({lo, min(lo + 1, hi), 0, max(hi - 1, lo), hi}))
        c[2:k] = rng.choice(corners, size=(k - 2, *t.shape))
        out[name] = c
    return out


def run_csim_codes(g: Graph, prj, codes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every output's codes from the C-simulation, fed exact input values (one bridge call per event)."""
    lib = ctypes.CDLL(str(build_csim(prj)))
    fn = lib.myproject_double
    n = len(codes[g.inputs[0]])
    xs = [np.ascontiguousarray(codes[i].reshape(n, -1) * g.t(i).type.lsb, dtype=np.float64) for i in g.inputs]
    ys = [np.zeros((n, g.t(o).size), dtype=np.float64) for o in g.outputs]
    ptr = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
    fn.argtypes, fn.restype = [ptr] * (len(xs) + len(ys)), None
    for e in range(n):
        fn(*(x[e] for x in xs), *(y[e] for y in ys))
    return {o: np.rint(y * 2.0 ** g.t(o).type.frac).astype(np.int64).reshape(n, *g.t(o).shape)
            for o, y in zip(g.outputs, ys, strict=True)}


def assert_csim_equals_emulator(g: Graph, prj, n: int, seed: int) -> dict[str, np.ndarray]:
    codes = corner_codes(g, n, seed)
    expected = Emulator(g).run_codes(codes)
    actual = run_csim_codes(g, prj, codes)
    for o in g.outputs:
        t = g.t(o).type
        assert t.width <= 53, "the bridge's doubles hold the codes exactly"
        bad = np.flatnonzero((expected[o] != actual[o]).reshape(n, -1).any(axis=1))
        assert len(bad) == 0, f"{o}: {len(bad)} of {n} events differ, first {bad[:5]}: " \
                              f"{expected[o][bad[0]].ravel()} != {actual[o][bad[0]].ravel()}"
        assert len(np.unique(expected[o])) > 1, f"{o} is constant on these vectors: nothing was compared"
    return expected


S6 = FixedType(True, 6, 2)  # codes -32..31 on a 1/4 grid
U5 = FixedType(False, 5, 3)  # codes 0..31 on a 1/8 grid: unsigned, a different grid
S4 = FixedType(True, 4, 0)
S7 = FixedType(True, 7, 5, Rounding.HALF_EVEN, Overflow.SAT)  # an input quantizer's type


def elementwise_ops(b: Builder) -> list[str]:
    """Every binary op with equal shapes (hls4ml's Merge), per-row broadcasting (L1MLBinary), a broadcast
    row vector, a constant on either side; -x, |x|, x * x, Clip; ReduceSum and a mean; Slice."""
    a, u, r, v = b.input("a", (3, 4), S6), b.input("u", (3, 4), U5), b.input("r", (3, 1), S4), b.input("v", (1, 4), S7)
    c = b.const("c", [[-16, 15, 0, 7]], FixedType(True, 5, 3))  # (1, 4) with both extremes
    k = b.const("k", -3, FixedType(True, 3, -1))  # a scalar -6 on a coarse grid
    outs = [
        b.op(Op.SUB, [a, u], (3, 4)),
        b.op(Op.SUB, [u, r], (3, 4)),  # unsigned minus signed, per-row broadcast
        b.op(Op.ADD, [a, v], (3, 4)),  # a row vector repeated: Merge's i % n
        b.op(Op.ADD, [r, u], (3, 4)),
        b.op(Op.MUL, [a, u], (3, 4)),
        b.op(Op.MUL, [r, v], (3, 4)),  # both operands broadcast: an outer product
        b.op(Op.MUL, [a, a], (3, 4)),  # a square
        b.op(Op.MUL, [u, c], (3, 4)),
        b.op(Op.SUB, [k, a], (3, 4)),  # constant first
        b.op(Op.ADD, [v, k], (1, 4)),
        b.op(Op.MAX, [a, u], (3, 4)),
        b.op(Op.MIN, [a, r], (3, 4)),
        b.op(Op.MAX, [c, v], (1, 4)),
        b.op(Op.MIN, [u, c], (3, 4)),
        b.op(Op.NEG, [a], (3, 4)),
        b.op(Op.NEG, [u], (3, 4)),
        b.op(Op.ABS, [a], (3, 4)),
        b.op(Op.CLIP, [a], (3, 4), ClipAttrs(-2.25, 3.5)),
        b.op(Op.CLIP, [v], (1, 4), ClipAttrs(-0.8125, None)),  # a bound on a finer grid than the input
        b.op(Op.CLIP, [u], (3, 4), ClipAttrs(None, 1.125)),
        b.op(Op.CLIP, [a], (3, 4), ClipAttrs(-100.0, 100.0)),  # bounds no value passes
        b.op(Op.REDUCE_SUM, [a], (3,), ReduceAttrs((1,), False)),
        b.op(Op.REDUCE_SUM, [u], (1, 1), ReduceAttrs((0, 1), True)),
        b.op(Op.REDUCE_SUM, [a], (1, 4), ReduceAttrs((0,), True)),
        b.op(Op.REDUCE_SUM, [u], (3,), ReduceAttrs((1,), False, mean=True)),  # / 4: a finer grid
        b.op(Op.SLICE, [a], (3, 2), SliceAttrs(1, 1, 4, 2)),
        b.op(Op.SLICE, [u], (1, 4), SliceAttrs(0, 2, 3)),
    ]
    return outs


def concat_ops(b: Builder) -> list[str]:
    """Concatenations along every axis of 3-D tensors, of 1-D tensors (five inputs: nested groups) and of
    inputs on different grids, signed and unsigned, some read by other layers too, some constant."""
    t = b.input("t", (2, 3, 2), S6)
    w = b.input("w", (2, 1, 2), U5)
    x, y = b.input("x", (3,), S4), b.input("y", (2,), S7)
    z = b.op(Op.NEG, [x], (3,))
    outs = [
        b.op(Op.CONCAT, [t, w], (2, 4, 2), ConcatAttrs(1)),
        b.op(Op.CONCAT, [t, t], (4, 3, 2), ConcatAttrs(0)),
        b.op(Op.CONCAT, [t, b.op(Op.ABS, [t], (2, 3, 2))], (2, 3, 4), ConcatAttrs(2)),
        b.op(Op.CONCAT, [x, y, z, y, x], (13,), ConcatAttrs(0)),
        b.op(Op.RESHAPE, [b.op(Op.CONCAT, [w, w], (2, 2, 2), ConcatAttrs(1))], (8,), ReshapeAttrs((8,))),
        # constant parts, in their own types: weights of the layer; neighbouring ones joined first
        b.op(Op.CONCAT, [b.const("k3", [[[-9, 8]], [[3, 0]]], FixedType(True, 5, 1)), t], (2, 4, 2), ConcatAttrs(1)),
        b.op(Op.CONCAT, [x, b.const("k4", [5, -1], FixedType(True, 4, 4)), y, b.const("k5", [7], FixedType(False, 3, -2)),
                         b.const("k6", [1, 2, 3], S4), z], (14,), ConcatAttrs(0)),
    ]
    return outs


def autoencoder_ops(b: Builder) -> list[str]:
    """An autoencoder's anomaly score: sum over features of (x - y)^2 with y the decoder's (Dense) output on
    another grid; also the mean over the features (a finer grid) and a weighted sum (x - y)^2 * w."""
    rng = np.random.default_rng(5)
    x = b.input("x", (8,), S7)
    w1 = rng.integers(-32, 32, size=(8, 4))
    w1[0] = [-32, 31, -32, 31]  # the weights' extremes too
    enc = b.op(Op.DENSE, [x, b.const("w1", w1, FixedType(True, 6, 4)), b.const("b1", rng.integers(-8, 8, 4),
               FixedType(True, 4, 3))], (4,))
    h = b.op(Op.RELU, [b.op(Op.QUANTIZE, [enc], (4,), out_type=FixedType(True, 6, 3, Rounding.HALF_EVEN,
                                                                                       Overflow.SAT))], (4,))
    dec = b.op(Op.DENSE, [h, b.const("w2", rng.integers(-32, 32, size=(4, 8)), FixedType(True, 6, 5))], (8,))
    y = b.op(Op.QUANTIZE, [dec], (8,), out_type=FixedType(True, 8, 5, Rounding.HALF_EVEN, Overflow.SAT))
    d = b.op(Op.SUB, [x, y], (8,))
    sq = b.op(Op.MUL, [d, d], (8,))
    weights = b.const("fw", [1, 2, 3, 0, 7, 1, 1, 4], FixedType(False, 3, 2))
    return [
        b.op(Op.REDUCE_SUM, [sq], (), ReduceAttrs((0,), False), name="score"),
        b.op(Op.REDUCE_SUM, [sq], (1,), ReduceAttrs((0,), True, mean=True), name="mean_score"),
        b.op(Op.REDUCE_SUM, [b.op(Op.MUL, [sq, weights], (8,))], (1,), ReduceAttrs((0,), True), name="weighted"),
    ]


def random_type(rng: np.random.Generator) -> FixedType:
    """Signed or unsigned, 2 to 10 bits, the binary point anywhere from 3 bits right of the LSB to 9 left of it
    (ap_fixed with negative or more-than-width integer bits), any rounding and overflow (input conversion)."""
    signed = bool(rng.integers(2))
    return FixedType(signed, int(rng.integers(2, 11)), int(rng.integers(-3, 10)),
                     rng.choice(list(Rounding)), rng.choice(list(Overflow)))


def random_graph(seed: int) -> Graph:
    b = Builder(f"random{seed}")
    return b.build(random_ops(b, seed))


def random_ops(b: Builder, seed: int) -> list[str]:
    """Every op on operands of random types (``random_type``), random constants and random clip bounds."""
    rng = np.random.default_rng(seed)
    x = [b.input(f"x{k}", (2, 3), random_type(rng)) for k in range(6)]
    col = b.input("col", (2, 1), random_type(rng))

    def const(shape):
        t = random_type(rng).plain()
        return b.const(f"c{len(b.g.tensors)}", rng.integers(t.min_code, t.max_code + 1, size=shape), t)

    def bound(t: FixedType) -> float:
        f = int(rng.integers(-2, 11))
        return float(int(rng.integers(t.min_code - 2, t.max_code + 3)) * 2.0 ** (f - t.frac) / 2.0 ** f)

    def pick():
        return x[int(rng.integers(len(x)))]

    def two():  # distinct operands: x - x would be a constant, nothing compared
        i, j = rng.choice(len(x), 2, replace=False)
        return [x[i], x[j]]

    outs = []
    for op in (Op.ADD, Op.SUB, Op.MUL, Op.MAX, Op.MIN):
        outs += [b.op(op, two(), (2, 3)), b.op(op, [pick(), col], (2, 3)),
                 b.op(op, [pick(), const((3,))], (2, 3)), b.op(op, [const((2, 1)), pick()], (2, 3))]
    for k in range(3):
        a = pick()
        t = b.g.t(a).type
        lo, hi = sorted([bound(t), bound(t)])
        outs += [b.op(Op.NEG, [a], (2, 3)), b.op(Op.ABS, [pick()], (2, 3)), b.op(Op.MUL, [a, a], (2, 3)),
                 b.op(Op.CLIP, [a], (2, 3), ClipAttrs(lo if k != 1 else None, hi if k != 2 else None))]
    outs += [b.op(Op.REDUCE_SUM, [pick()], (2,), ReduceAttrs((1,), False)),
             b.op(Op.REDUCE_SUM, [outs[2]], (1, 1), ReduceAttrs((0, 1), True)),
             b.op(Op.REDUCE_SUM, [pick()], (3,), ReduceAttrs((0,), False, mean=True)),
             b.op(Op.SLICE, [pick()], (2, 2), SliceAttrs(1, 0, 3, 2)),
             b.op(Op.CONCAT, [*two(), col], (2, 7), ConcatAttrs(1)),
             b.op(Op.CONCAT, two(), (4, 3), ConcatAttrs(0))]
    return outs


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """Two projects (a g++ build each is the slow part): every op and concatenation; the autoencoder score
    beside every op on random types."""
    d = tmp_path_factory.mktemp("elementwise")
    ops, mixed = Builder("ops"), Builder("mixed")
    out = {}
    for g in (ops.build(elementwise_ops(ops) + concat_ops(ops)),
              mixed.build(autoencoder_ops(mixed) + random_ops(mixed, 0))):
        build_hls_model(g, d / g.name).write()
        out[g.name] = (g, d / g.name)
    return out


def test_every_elementwise_op_and_concatenation_equals_the_emulator(projects):
    g, prj = projects["ops"]
    expected = assert_csim_equals_emulator(g, prj, 3000, seed=1)
    src = (prj / "firmware/myproject.cpp").read_text()
    for fn in ("nnet::subtract<", "nnet::add<", "nnet::multiply<", "nnet::maximum<", "l1ml_binary<",
               "l1ml_binary_const<", "l1ml_unary<", "l1ml_reduce_sum<", "l1ml_gather<"):
        assert fn in src, fn
    assert "l1ml_concat4<" in src and "l1ml_concat2<" in src  # five inputs: a group of four, then one more
    assert "_const1_t" in src and "_const2_t" not in src  # k5 and k6 joined into one constant part
    assert len(np.unique(expected["sub0"].reshape(3000, -1), axis=0)) > 2000  # the outputs vary


def test_autoencoder_score_and_random_types_equal_the_emulator(projects):
    g, prj = projects["mixed"]
    expected = assert_csim_equals_emulator(g, prj, 3000, seed=3)
    assert g.t("score").type.frac == 2 * g.t("x").type.frac and not g.t("score").type.signed
    assert g.t("mean_score").type.frac == g.t("score").type.frac + 3  # / 8: three bits finer
    assert len(np.unique(expected["score"])) > 1000


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_more_random_types_equal_the_emulator(tmp_path, seed):
    g = random_graph(seed)
    build_hls_model(g, tmp_path / g.name).write()
    assert_csim_equals_emulator(g, tmp_path / g.name, 2000, seed=seed)


def test_broadcast_tables_follow_numpy():
    rng = np.random.default_rng(0)
    for shape, out in [((3, 1), (3, 4)), ((1, 4), (3, 4)), ((2, 1, 3), (2, 5, 3)), ((), (2, 2)), ((4,), (2, 3, 4))]:
        data = rng.integers(-9, 9, size=shape)
        assert np.array_equal(np.asarray(data).ravel()[broadcast_index(shape, out)],
                              np.broadcast_to(data, out).ravel())
    assert merge_broadcasts((1, 4), (3, 4)) and not merge_broadcasts((3, 1), (3, 4))


def test_reduce_and_slice_tables_follow_numpy():
    x = np.arange(24).reshape(2, 3, 4)
    for axes in [(0,), (1,), (2,), (0, 2), (0, 1, 2)]:
        n, table = reduce_table(x.shape, axes)
        assert np.array_equal(x.ravel()[table].reshape(-1, n).sum(axis=1), x.sum(axis=axes).ravel())
    rows_in, rows_out, feat, table = slice_rows(x.shape, 1, 0, 3, 2)
    assert np.array_equal(x.reshape(rows_in, feat)[table].reshape(2, 2, 4), x[:, 0:3:2])


def test_both_operands_constant_is_refused_by_name(tmp_path):
    b = Builder("consts")
    x = b.input("x", (2,), S4)
    s = b.op(Op.SUB, [b.const("p", [1, 2], S4), b.const("q", [3, 4], S4)], (2,), name="both_const")
    g = b.build([b.op(Op.ADD, [x, s], (2,))])
    with pytest.raises(NodeError, match="both_const.*both operands are constants"):
        build_hls_model(g, tmp_path / "p")


def autoencoder_model(path, seed: int = 0):
    """A Brevitas autoencoder exported to QONNX: 8 inputs -> 4 -> 8, score = sum over features of (x - y)^2
    (ONNX Sub, Mul(d, d), ReduceSum)."""
    import torch
    from brevitas.export import export_qonnx
    from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8BiasPerTensorFixedPointInternalScaling,
        Int8WeightPerTensorFixedPoint,
        Uint8ActPerTensorFixedPoint,
    )
    from torch import nn

    torch.manual_seed(seed)
    lin = dict(weight_quant=Int8WeightPerTensorFixedPoint,
               bias_quant=Int8BiasPerTensorFixedPointInternalScaling.let(bit_width=12))

    class Autoencoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint)
            self.enc = QuantLinear(8, 4, **lin)
            self.relu = QuantReLU(act_quant=Uint8ActPerTensorFixedPoint.let(bit_width=6))
            self.dec = QuantLinear(4, 8, **lin)
            self.out = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint)

        def forward(self, x):
            x = self.inp(x)
            d = x - self.out(self.dec(self.relu(self.enc(x))))
            return (d * d).sum(dim=1, keepdim=True)

    m = Autoencoder()
    m.train()
    with torch.no_grad():  # calibrate the activation scales
        for _ in range(20):
            m(torch.randn(64, 8) * 2)
    m.eval()
    export_qonnx(m, torch.zeros(1, 8), str(path))
    return path


def l1ml(*args):
    return subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True)


def test_qonnx_autoencoder_score_compiles_and_verifies_at_hls(tmp_path):
    import onnx

    model = autoencoder_model(tmp_path / "ae.onnx")
    assert {"Sub", "Mul", "ReduceSum"} <= {n.op_type for n in onnx.load(str(model)).graph.node}
    r = l1ml("compile", model, "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    src = (tmp_path / "out/hls/firmware/myproject.cpp").read_text()
    assert "nnet::subtract<" in src and "nnet::l1ml_unary<" in src and "nnet::l1ml_reduce_sum<" in src
    r = l1ml("verify", tmp_path / "out", "--levels", "hls", "--vectors", "2000")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hls: 2000 vectors, 0 mismatches" in r.stdout
    assert json.loads((tmp_path / "out/verify.json").read_text())["passed"]


def mixed_model(path, seed: int = 1):
    """A Brevitas model with Sub, Abs, Max, Min, Neg, Clip, Slice (with a step), Mul by a float constant,
    ReduceMean, ReduceSum, Sub of a constant and a Concat of six parts, exported to QONNX."""
    import torch
    from brevitas.export import export_qonnx
    from brevitas.nn import QuantIdentity, QuantLinear
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8BiasPerTensorFixedPointInternalScaling,
        Int8WeightPerTensorFixedPoint,
    )
    from torch import nn

    torch.manual_seed(seed)

    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint)
            self.fc = QuantLinear(8, 8, weight_quant=Int8WeightPerTensorFixedPoint,
                                  bias_quant=Int8BiasPerTensorFixedPointInternalScaling.let(bit_width=12))
            self.q = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint.let(bit_width=6))

        def forward(self, x):
            x = self.inp(x)
            y = self.q(self.fc(x))
            a = torch.abs(x - y)
            m = torch.maximum(x, y)
            c = torch.clamp(-y, -0.5, 0.75)
            return torch.cat([a[:, 0:4] * 0.5, m, c[:, ::2], a.mean(dim=1, keepdim=True) - 1.0,
                              y.sum(dim=1, keepdim=True), torch.minimum(m, c)[:, 6:8]], dim=1)

    m = Mixed()
    m.train()
    with torch.no_grad():
        for _ in range(20):
            m(torch.randn(64, 8) * 2)
    m.eval()
    export_qonnx(m, torch.zeros(1, 8), str(path))
    return path


@pytest.mark.slow
def test_qonnx_model_mixing_every_op_verifies_at_qonnx_and_hls(tmp_path):
    r = l1ml("compile", mixed_model(tmp_path / "mixed.onnx"), "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    r = l1ml("verify", tmp_path / "out", "--levels", "qonnx,hls", "--vectors", "3000")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "qonnx: 3000 vectors, 0 mismatches" in r.stdout and "hls: 3000 vectors, 0 mismatches" in r.stdout
