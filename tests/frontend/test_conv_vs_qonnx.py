"""Conv2D and pooling: the emulator equals qonnx's execute_onnx bit for bit on random quantized CNNs, and
the im2col kernel equals a plain integer convolution where float32 (and so qonnx) is not exact."""

import json

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from l1ml.backends.emulate import Emulator, emulate, input_codes
from l1ml.errors import L1MLError
from l1ml.frontend.qonnx import from_qonnx
from l1ml.ir.graph import Graph
from l1ml.ir.ops import Op
from l1ml.models.random_cnn import (
    CNNSpec,
    ConvSpec,
    PoolKind,
    PoolSpec,
    build_cnn_qonnx,
    build_nhwc_transpose_qonnx,
    random_cnn_spec,
)
from l1ml.models.random_mlp import LayerSpec, QuantSpec
from l1ml.passes import run_pipeline
from l1ml.verify.qonnx_level import classify, float32_inexact_nodes, run_qonnx
from l1ml.verify.vectors import corner_vectors, make_vectors


def compile_spec(tmp_path, spec, seed=0):
    path = tmp_path / f"cnn{seed}.onnx"
    onnx.save(build_cnn_qonnx(spec, np.random.default_rng(seed)), str(path))
    return path, run_pipeline(from_qonnx(path))


def check_vs_qonnx(path, g, n, seed=0):
    """Equal to qonnx on every vector, except where qonnx's float32 cannot hold a value (e.g. a negative
    denormal input under FLOOR with a scale above 1 underflows to -0): there its float64 execution must
    equal the emulator (qonnx_level.classify)."""
    x = make_vectors(g, n, seed=seed)  # IR layout (N, H, W, C)
    onnx_x = x.transpose(0, 3, 1, 2)
    ref = run_qonnx(path, onnx_x).astype(np.float64)
    got = emulate(g, x, layout="ir")
    cmp = classify(g, path, {g.inputs[0]: onnx_x}, got, ref)
    assert len(cmp.mismatches) == 0 and not cmp.float64_error, cmp.mismatches


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1))
def test_emulator_equals_qonnx_on_random_cnns(tmp_path, seed):
    spec = random_cnn_spec(np.random.default_rng(seed))
    path, g = compile_spec(tmp_path, spec, seed)
    if float32_inexact_nodes(g):
        return  # qonnx runs in float32: beyond 24-bit sums it is the approximate side
    check_vs_qonnx(path, g, 300, seed)


def test_generator_reaches_every_feature():
    seen = set()
    for seed in range(40):
        spec = random_cnn_spec(np.random.default_rng(seed))
        seen.add(spec.flatten_op)
        for c in spec.convs:
            seen |= {("stride", c.stride), ("padded", any(c.pads)), ("per_channel", c.per_channel_weight),
                     ("kernel", c.kernel)}
            if c.pool:
                seen |= {c.pool.kind, ("pool_padded", any(c.pool.pads)), ("pool_act", c.pool_act is not None)}
    for need in ["Flatten", "Reshape", ("stride", (2, 2)), ("stride", (1, 1)), ("padded", True),
                 ("per_channel", True), ("kernel", (3, 3)), PoolKind.MAX, PoolKind.AVG, ("pool_padded", True),
                 ("pool_act", True), ("pool_act", False)]:
        assert need in seen, need


def hgcal_like(pool: PoolSpec | None = None) -> CNNSpec:
    """The shape of the HGCal CNN export: 8x8x4, 3x3 conv stride 2 pad 1 (or stride 1 + pool), dense head."""
    stride = (1, 1) if pool else (2, 2)
    conv = ConvSpec(8, (3, 3), stride, (1, 1, 1, 1), QuantSpec(6, 7, narrow=True), QuantSpec(8, 10), True,
                    QuantSpec(8, 8, signed=False, rounding="FLOOR"), pool=pool)
    head = (LayerSpec(16, QuantSpec(6, 8, narrow=True), QuantSpec(8, 10), True,
                      QuantSpec(8, 8, signed=False, rounding="FLOOR")),
            LayerSpec(3, QuantSpec(6, 8, narrow=True), QuantSpec(8, 10), False, None))
    return CNNSpec(4, 8, 8, QuantSpec(8, 7), (conv,), head, "Reshape")


@pytest.mark.parametrize("pool", [None, PoolSpec(PoolKind.MAX, (2, 2), (2, 2)),
                                  PoolSpec(PoolKind.AVG, (2, 2), (2, 2))])
def test_hgcal_shaped_cnn_on_1000_vectors(tmp_path, pool):
    path, g = compile_spec(tmp_path, hgcal_like(pool), seed=7)
    assert g.t(g.inputs[0]).shape == (8, 8, 4) and g.meta["input_layout"] == "NCHW"
    assert not any(n.op is Op.TRANSPOSE for n in g.nodes), "the flatten transpose is folded into the Dense"
    check_vs_qonnx(path, g, 1000, seed=1)
    again = Graph.from_json(json.loads(json.dumps(g.to_json())))
    assert [n.attrs for n in again.nodes] == [n.attrs for n in g.nodes]
    x = make_vectors(g, 200, seed=4)
    assert np.array_equal(emulate(again, x, layout="ir"), emulate(g, x, layout="ir"))


def test_corner_vectors_saturate_the_conv_requantiser(tmp_path):
    _, g = compile_spec(tmp_path, hgcal_like(), seed=3)
    x, kinds = corner_vectors(g)
    assert "channel7-max" in kinds
    env = Emulator(g).run({g.inputs[0]: input_codes(g, x)[g.inputs[0]].astype(np.float32)})
    q = next(n for n in g.nodes if n.op is Op.QUANTIZE)
    assert (env[q.outputs[0]] == g.t(q.outputs[0]).type.max_code).any()


def direct_conv(x, w, b, stride, pads):
    """Plain loops over Python integers: the definition of Conv2D, independent of im2col and BLAS."""
    top, left, bottom, right = pads
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0))).astype(object)
    kh, kw, _, cout = w.shape
    ho = (xp.shape[1] - kh) // stride[0] + 1
    wo = (xp.shape[2] - kw) // stride[1] + 1
    out = np.zeros((x.shape[0], ho, wo, cout), dtype=object)
    for i in range(ho):
        for j in range(wo):
            win = xp[:, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw, :]
            out[:, i, j, :] = np.tensordot(win, w.astype(object), axes=([1, 2, 3], [0, 1, 2])) + b
    return out


def test_wide_conv_accumulators_are_exact(tmp_path):
    """16-bit inputs and weights overflow float32; the conv must switch to float64/int64 and stay exact."""
    conv = ConvSpec(3, (3, 2), (2, 1), (1, 0, 1, 1), QuantSpec(16, 12), QuantSpec(16, 2), False, None)
    spec = CNNSpec(2, 5, 4, QuantSpec(16, 8), (conv,), (LayerSpec(2, QuantSpec(4, 2), None, False, None),))
    _, g = compile_spec(tmp_path, spec, seed=11)
    assert float32_inexact_nodes(g)
    x = make_vectors(g, 120, seed=2)
    codes = input_codes(g, x)[g.inputs[0]]
    node = next(n for n in g.nodes if n.op is Op.CONV2D)
    w, b = g.t(node.inputs[1]), g.t(node.inputs[2])
    env = Emulator(g).run({g.inputs[0]: codes})
    fx, fw = g.t(g.inputs[0]).type.frac, w.type.frac
    frac = g.t(node.outputs[0]).type.frac
    want = direct_conv(codes.astype(np.int64), w.data, 0, node.attrs.stride, node.attrs.pads)
    want = want * 2 ** (frac - fx - fw) + b.data.astype(object) * 2 ** (frac - b.type.frac)
    assert np.array_equal(np.asarray(env[node.outputs[0]]).astype(np.int64), want.astype(np.int64))


def value(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_model_transposes_compose_with_the_ir_layout(tmp_path):
    path = tmp_path / "nhwc.onnx"
    onnx.save(build_nhwc_transpose_qonnx(), str(path))
    g = run_pipeline(from_qonnx(path))
    # NCHW->NHWC before Flatten cancels the frontend's flatten transpose: only the input one is left
    assert [n.attrs.perm for n in g.nodes if n.op is Op.TRANSPOSE] == [(2, 0, 1)]
    x = np.random.default_rng(1).uniform(-20, 20, (500, 3, 3, 2)).astype(np.float32)  # the model's layout
    assert np.array_equal(emulate(g, x), run_qonnx(path, x).astype(np.float64))


def pool_model(path, op, kernel, pads=(0, 0, 0, 0), **attrs):
    q = dict(domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND")
    inits = [numpy_helper.from_array(np.float32(v), n) for n, v in [("s", 0.125), ("z", 0.0), ("b", 8.0)]]
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["xq"], name="qin", **q),
             helper.make_node(op, ["xq"], ["y"], name="pool", kernel_shape=list(kernel), pads=list(pads),
                              **attrs)]
    graph = helper.make_graph(nodes, "pool", [value("x", [1, 2, 6, 6])], [value("y", None)],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("qonnx.custom_op.general", 1)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.mark.parametrize("kernel,pads,attrs,words", [
    ((3, 3), (0, 0, 0, 0), {}, ["divides by 9", "power of two", "MaxPool"]),
    ((2, 2), (1, 1, 0, 0), {"count_include_pad": 0}, ["count_include_pad=True"]),
])
def test_inexact_average_pools_are_refused_with_a_remedy(tmp_path, kernel, pads, attrs, words):
    path = tmp_path / "avg.onnx"
    pool_model(path, "AveragePool", kernel, pads, **attrs)
    with pytest.raises(L1MLError) as e:
        run_pipeline(from_qonnx(path))
    assert "pool" in str(e.value) and all(w in str(e.value) for w in words)


@pytest.mark.parametrize("attrs,words", [({"group": 2}, "groups=1"), ({"dilations": [2, 2]}, "dilation=1"),
                                         ({"auto_pad": "SAME_UPPER"}, "explicit padding")])
def test_unsupported_conv_forms_are_refused(tmp_path, attrs, words):
    q = dict(domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND")
    inits = [numpy_helper.from_array(np.float32(v), n) for n, v in [("s", 0.125), ("z", 0.0), ("b", 8.0)]]
    inits.append(numpy_helper.from_array(np.ones((2, 2 // attrs.get("group", 1), 2, 2), np.float32), "w"))
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["xq"], name="qin", **q),
             helper.make_node("Quant", ["w", "s", "z", "b"], ["wq"], name="qw", **q),
             helper.make_node("Conv", ["xq", "wq"], ["y"], name="bad_conv", kernel_shape=[2, 2], **attrs)]
    graph = helper.make_graph(nodes, "c", [value("x", [1, 2, 6, 6])], [value("y", None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("qonnx.custom_op.general", 1)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "c.onnx"))
    with pytest.raises(L1MLError, match=words) as e:
        from_qonnx(tmp_path / "c.onnx")
    assert "bad_conv" in str(e.value)


def test_global_pools_match_qonnx(tmp_path):
    for op in ("GlobalMaxPool", "GlobalAveragePool"):
        q = dict(domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND")
        inits = [numpy_helper.from_array(np.float32(v), n) for n, v in [("s", 0.125), ("z", 0.0), ("b", 8.0)]]
        nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["xq"], name="qin", **q),
                 helper.make_node(op, ["xq"], ["p"], name="pool"),
                 helper.make_node("Flatten", ["p"], ["y"], name="flat")]
        graph = helper.make_graph(nodes, "g", [value("x", [1, 3, 4, 2])], [value("y", [1, 3])],
                                  initializer=inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                        helper.make_opsetid("qonnx.custom_op.general", 1)])
        model.ir_version = 8
        path = tmp_path / f"{op}.onnx"
        onnx.save(model, str(path))
        g = run_pipeline(from_qonnx(path))
        check_vs_qonnx(path, g, 400)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1))
def test_emulator_equals_qonnx_on_many_cnns(tmp_path, seed):
    spec = random_cnn_spec(np.random.default_rng(seed), max_bits=14, max_side=9, max_channels=6)
    path, g = compile_spec(tmp_path, spec, seed)
    if float32_inexact_nodes(g):
        return
    check_vs_qonnx(path, g, 2000, seed)


def test_report_counts_conv_multiplications_without_padding_taps():
    """The count equals the non-zero (window value, weight) pairs when an all-ones image is zero-padded."""
    from l1ml.backends.emulate import _windows
    from l1ml.report import conv_multiplications

    rng = np.random.default_rng(0)
    for _ in range(50):
        h, w, c, o = (int(v) for v in rng.integers(2, 7, 4))
        kh, kw = int(rng.integers(1, min(h, 3) + 1)), int(rng.integers(1, min(w, 3) + 1))
        stride = tuple(int(v) for v in rng.integers(1, 3, 2))
        pads = tuple(int(v) for v in rng.integers(0, 2, 4))
        weight = rng.integers(-1, 2, (kh, kw, c, o))
        win = _windows(np.ones((1, h, w, c)), (kh, kw), stride, pads, 0)[0].transpose(0, 1, 3, 4, 2)
        want = int(((win[..., None] != 0) & (weight[None, None] != 0)).sum())
        assert conv_multiplications((h, w, c), weight, stride, pads) == want
