"""The fused emulator plan against the node-by-node interpreter (bit for bit), and the emulator bugs found
while building it: HALF_AWAY rounding for long right shifts, and a Slice that shared its input's memory."""

from __future__ import annotations

import numpy as np

from l1ml.backends.emulate import Emulator
from l1ml.ir.ops import Op, SliceAttrs
from l1ml.ir.quantize import requantize, round_fraction
from l1ml.ir.types import FixedType, Overflow, Rounding
from tests.backends.elementwise_graphs import GraphBuilder


# ---- bug: HALF_AWAY / HALF_ZERO on float codes shifted right by 25 bits or more ------------------------
def test_half_away_long_right_shift_is_exact():
    from fractions import Fraction

    for mode in (Rounding.HALF_AWAY, Rounding.HALF_ZERO, Rounding.HALF_EVEN, Rounding.TRUNC, Rounding.TRUNC_ZERO):
        t = FixedType(True, 8, 0, mode, Overflow.SAT)
        for dt, width in ((np.float32, 24), (np.float64, 53)):
            top = 2**width - 1
            codes = np.array([top, -top, 2**(width - 1), -2**(width - 1), 2**(width - 1) - 1, 3 * 2**(width - 2),
                              1, -1, 0], dtype=np.int64)
            for s in (width - 1, width, width + 1, width + 5):
                got = requantize(codes.astype(dt), s, t)
                want = [min(max(round_fraction(Fraction(int(c), 2**s), mode), t.min_code), t.max_code) for c in codes]
                assert got.tolist() == want, (mode, dt, s)
                assert requantize(codes.copy(), s, t).tolist() == want  # the int64 path agrees


# ---- bug: Slice returned its input's memory, which an in-place op after it then changed -------------------
def test_slice_does_not_share_its_input():
    b = GraphBuilder()
    x = b.input("x", (4,), FixedType(True, 8, 2, Rounding.TRUNC, Overflow.SAT))
    r = b.node(Op.RELU, [b.node(Op.SLICE, [x], SliceAttrs(0, 0, 4, 1), shape=(4,))])  # the whole axis: contiguous
    n = b.node(Op.NEG, [x])  # reads x after the ReLU ran
    g = b.graph("slice_view", [r, n])
    codes = np.array([[-5, 3, -128, 127]] * 3, dtype=np.int64)
    for fused in (False, True):
        out = Emulator(g, fused=fused).run_codes({"x": codes})
        assert out[r].tolist() == np.maximum(codes, 0).tolist()
        assert out[n].tolist() == (-codes).tolist()


# ---- the fused plan against the interpreter ---------------------------------------------------------------
import pytest  # noqa: E402

from l1ml.backends.emulate import input_codes  # noqa: E402
from l1ml.backends.emulate_fused import FusedConcatDense, FusedDense, FusedPlan, NodeStep  # noqa: E402
from l1ml.errors import L1MLError  # noqa: E402
from l1ml.ir.graph import Node, Tensor  # noqa: E402
from l1ml.ir.ops import ConcatAttrs, GatherAttrs, NoAttrs, SegmentSumAttrs  # noqa: E402
from l1ml.load import load_graph  # noqa: E402

ROUNDINGS = list(Rounding)


def _quant(b: GraphBuilder, x: str, shape: tuple[int, ...], ty: FixedType, name: str) -> str:
    b.t[name] = Tensor(name, shape, ty)
    b.nodes.append(Node(f"{name}_q", Op.QUANTIZE, [x], [name], NoAttrs(), {"onnx_name": f"/{name}/Quant"}))
    return name


def mlp(seed: int, rounding: Rounding = Rounding.HALF_EVEN, overflow: Overflow = Overflow.SAT, relu: bool = True,
        x_bits: int = 8, w_bits: int = 6, out_bits: int = 6, drop: int = 2, widths=(12, 10, 8, 5)):
    """x -> [Dense (+ReLU) -> Quantize]* -> Dense: each Quantize drops ``drop`` bits of the accumulator's
    grid (negative: moves to a finer grid) onto ``out_bits`` codes, so that ties and saturation are common."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder()
    h = b.input("x", (widths[0],), FixedType(True, x_bits, x_bits // 2, Rounding.HALF_EVEN, Overflow.SAT))
    frac = x_bits // 2
    for i, (k, m) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        wmax = 2 ** (w_bits - 1)
        w = b.const(f"w{i}", rng.integers(-wmax, wmax, (k, m)), w_bits - 2)
        bias = b.const(f"b{i}", rng.integers(-wmax * 4, wmax * 4, (m,)), w_bits)
        h = b.node(Op.DENSE, [h, w, bias], name=f"fc{i}", shape=(m,))
        acc_frac = frac + w_bits - 2
        if i == len(widths) - 2:
            break
        if relu:
            h = b.node(Op.RELU, [h])
        frac = acc_frac - drop
        h = _quant(b, h, (m,), FixedType(not relu, out_bits, frac, rounding, overflow), f"q{i}")
    return b.graph("mlp", [h])


def extreme_codes(g, n: int, seed: int) -> dict[str, np.ndarray]:
    """Random codes over each input's range, the first events at its ends and at zero."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in g.inputs:
        t = g.t(name)
        c = rng.integers(t.type.min_code, t.type.max_code + 1, size=(n, *t.shape))
        c[0], c[1], c[2] = t.type.min_code, t.type.max_code, 0
        c[3] = np.where(np.arange(t.size).reshape(t.shape) % 2, t.type.min_code, t.type.max_code)
        out[name] = c
    return out


def same(g, codes, plan: FusedPlan | None = None) -> dict[str, np.ndarray]:
    ref = Emulator(g, fused=False).run_codes(codes)
    emu = Emulator(g)
    if plan is not None:
        plan.emulator = emu
        emu.plan = plan
    got = emu.run_codes(codes)
    for o in g.outputs:
        assert got[o].dtype == np.int64
        np.testing.assert_array_equal(got[o], ref[o], err_msg=o)
    return ref


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("relu", [True, False])
def test_fused_mlp_equals_interpreter(rounding, relu):
    g = mlp(1, rounding, relu=relu)
    assert len(Emulator(g).plan.fused) == 3
    same(g, extreme_codes(g, 5000, 2))


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_fused_hits_ties_and_saturation(rounding):
    """Quantizers one bit below the accumulator: half of the values are exact ties (x.5 LSB); 3-bit codes
    saturate often. The interpreter's intermediate values show that both happen."""
    g = mlp(3, rounding, drop=1, out_bits=3)
    codes = extreme_codes(g, 4000, 4)
    env = Emulator(g, fused=False).run({k: v.astype(np.float64) for k, v in codes.items()})
    acc = env[g.node("fc0").outputs[0]]
    assert (np.mod(acc, 2) == 1).mean() > 0.3  # a tie after dropping one bit
    q = g.t("q0").type
    assert (env["q0"] == q.max_code).any() and (env["q0"] == q.min_code).any()
    same(g, codes)


@pytest.mark.parametrize("overflow", list(Overflow))
@pytest.mark.parametrize("drop", [-3, 0, 1, 7, 14])
def test_fused_shifts_and_overflow(overflow, drop):
    """Left shifts (a finer grid), no shift, right shifts that leave a few bits, saturating and wrapping
    quantizers."""
    g = mlp(5, Rounding.HALF_AWAY, overflow, drop=drop, out_bits=5)
    same(g, extreme_codes(g, 3000, 6))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("rounding", [Rounding.HALF_EVEN, Rounding.TRUNC, Rounding.HALF_AWAY])
def test_each_dtype_path_forced(dtype, rounding):
    g = mlp(7, rounding, drop=2)
    emu = Emulator(g)
    assert {s.layer.dtype for s in emu.plan.fused} == {np.float32}  # the cheapest exact dtype by default
    plan = FusedPlan(emu, dtype=dtype)
    assert {s.layer.dtype for s in plan.fused} == {dtype}
    same(g, extreme_codes(g, 3000, 8), plan)


def test_wide_layers_choose_float64_and_int64():
    g64 = mlp(9, x_bits=16, w_bits=12, out_bits=16, widths=(20, 8, 4))  # |acc| beyond 2**24
    assert Emulator(g64).plan.fused[0].layer.dtype is np.float64
    same(g64, extreme_codes(g64, 2000, 1))
    gi = mlp(9, x_bits=30, w_bits=26, out_bits=20, widths=(6, 5, 3))  # |acc| beyond 2**53
    assert Emulator(gi).plan.fused[0].layer.dtype is np.int64
    same(gi, extreme_codes(gi, 2000, 2))
    with pytest.raises(L1MLError, match="not exact"):
        FusedPlan(Emulator(g64), dtype=np.float32)


def test_left_shift_counts_in_the_dtype_choice():
    """Moving sums of up to 17 bits to a grid 10 bits finer needs up to 27 bits: float64, though the sums
    fit float32."""
    g = mlp(11, drop=-10, x_bits=8, w_bits=6, out_bits=28, widths=(8, 6, 3))
    assert int(max(abs(v) for v in (g.t("t_fc0").type.min_code, g.t("t_fc0").type.max_code))) < 2**24
    layer = Emulator(g).plan.fused[0].layer
    assert layer.dtype is np.float64
    same(g, extreme_codes(g, 2000, 3))


def test_many_blocks_on_threads():
    g = mlp(13)
    same(g, extreme_codes(g, 50_000, 5))  # 25 blocks of 2048 over two threads, written in place


def test_a_tensor_read_twice_is_not_fused_away():
    """A Dense output that is also a graph output (or read by a second node) stays a node of its own."""
    b = GraphBuilder()
    x = b.input("x", (5,), FixedType(True, 8, 4, Rounding.HALF_EVEN, Overflow.SAT))
    h = b.node(Op.DENSE, [x, b.const("w", np.arange(20).reshape(5, 4) - 9, 3)], name="fc", shape=(4,))
    r = b.node(Op.RELU, [h])
    q = _quant(b, r, (4,), FixedType(False, 6, 3, Rounding.HALF_EVEN, Overflow.SAT), "q")
    n = b.node(Op.NEG, [h])
    g = b.graph("shared", [q, n, h])
    steps = Emulator(g).plan.steps
    assert [s.nodes for s in steps if isinstance(s, FusedDense)] == [("fc",)]
    assert sum(isinstance(s, NodeStep) for s in steps) == 3
    same(g, extreme_codes(g, 2000, 7))


def gnn_like(seed: int):
    """Node features through a Dense, gathered onto edges at both ends, concatenated with edge features,
    an edge Dense times an edge validity mask, summed back onto the nodes and a node Dense: the track
    GNN's shape in miniature."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder()
    nodes, edges = 6, 11
    x = b.input("nodes", (nodes, 3), FixedType(True, 8, 6, Rounding.HALF_EVEN, Overflow.SAT))
    e = b.input("edges", (edges, 2), FixedType(True, 6, 5, Rounding.TRUNC, Overflow.SAT))
    h = b.node(Op.DENSE, [x, b.const("w0", rng.integers(-31, 32, (3, 4)), 4), b.const("b0", rng.integers(-9, 9, (4,)), 3)],
               name="fc0", shape=(nodes, 4))
    h = _quant(b, b.node(Op.RELU, [h]), (nodes, 4), FixedType(False, 6, 3, Rounding.TRUNC, Overflow.SAT), "h0")
    src, dst = tuple(int(i) for i in rng.integers(0, nodes, edges)), tuple(int(i) for i in rng.integers(0, nodes, edges))
    gs = b.node(Op.GATHER, [h], GatherAttrs(src), shape=(edges, 4))
    gd = b.node(Op.GATHER, [h], GatherAttrs(dst), shape=(edges, 4))
    c = b.node(Op.CONCAT, [gs, gd, e], ConcatAttrs(1), shape=(edges, 10))
    m = b.node(Op.DENSE, [c, b.const("w1", rng.integers(-31, 32, (10, 5)), 5), b.const("b1", rng.integers(-9, 9, (5,)), 2)],
               name="fc1", shape=(edges, 5))
    m = _quant(b, b.node(Op.RELU, [m]), (edges, 5), FixedType(False, 6, 2, Rounding.HALF_EVEN, Overflow.SAT), "m")
    mask = b.input("edge_mask", (edges, 1), FixedType(False, 1, 0, Rounding.TRUNC, Overflow.SAT))
    m = b.node(Op.MUL, [m, mask], name="masked", shape=(edges, 5))
    agg = b.node(Op.SEGMENT_SUM, [m], SegmentSumAttrs(dst, nodes), shape=(nodes, 5))
    y = b.node(Op.DENSE, [agg, b.const("w2", rng.integers(-31, 32, (5, 2)), 4)], name="fc2", shape=(nodes, 2))
    return b.graph("gnn_like", [y])


def test_gnn_like_graph_fuses_gather_concat_dense():
    g = gnn_like(1)
    plan = Emulator(g).plan
    split = [s for s in plan.steps if isinstance(s, FusedConcatDense)]
    assert len(split) == 1 and [r is not None for _, r, _ in split[0].blocks] == [True, True, False]
    assert split[0].mask == "edge_mask" and "masked" in split[0].nodes  # the mask Mul is part of the step
    assert not any(isinstance(s, NodeStep) and s.node.op in (Op.GATHER, Op.CONCAT) for s in plan.steps)
    same(g, extreme_codes(g, 4000, 2))
    for dtype in (np.float64, np.int64):
        same(g, extreme_codes(g, 1000, 3), FusedPlan(Emulator(g), dtype=dtype))
    same(g, extreme_codes(g, 1000, 4), FusedPlan(Emulator(g), concat=False))


def test_jet_mlp_fused_equals_interpreter(example_model):
    g = load_graph(example_model)
    plan = Emulator(g).plan
    assert len(plan.fused) == 4 and not any(isinstance(s, NodeStep) for s in plan.steps)
    x = np.random.default_rng(0).normal(scale=3.0, size=(20_000, 16)).astype(np.float32)
    x[:4] = [[1e9] * 16, [-1e9] * 16, [0.0] * 16, [np.inf] * 16]
    same(g, input_codes(g, x))
    a, b = Emulator(g).run_float({g.inputs[0]: x}), Emulator(g, fused=False).run_float({g.inputs[0]: x})
    np.testing.assert_array_equal(a[g.outputs[0]], b[g.outputs[0]])


def test_track_gnn_fused_equals_interpreter(small_track_gnn):
    """The trained track GNN (the session fixture, about 15 s when no other test built it)."""
    from l1ml.verify.levels import load_vectors

    g = load_graph(small_track_gnn / "model.onnx")
    plan = Emulator(g).plan
    assert any(isinstance(s, FusedConcatDense) for s in plan.steps)
    x = load_vectors(small_track_gnn / "test_graphs.npz", g)
    codes = input_codes(g, x)
    codes.update({k: v for k, v in extreme_codes(g, len(x["nodes"]), 9).items() if k not in g.meta["mask_inputs"]})
    same(g, codes)


def test_empty_and_single_event_batches():
    g = mlp(15)
    for n in (0, 1):
        out = Emulator(g).run_codes({"x": extreme_codes(g, 4, 1)["x"][:n]})[g.outputs[0]]
        assert out.shape == (n, 5) and out.dtype == np.int64
    same(g, {"x": extreme_codes(g, 4, 1)["x"][:1]})
