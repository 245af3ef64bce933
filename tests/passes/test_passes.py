"""Passes: BatchNorm folding (exact or refused with the remedy), bias fusion, redundant quantizers."""

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from l1ml.backends.emulate import emulate
from l1ml.errors import NodeError
from l1ml.frontend.qonnx import from_qonnx
from l1ml.ir.ops import Op
from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec, build_qonnx
from l1ml.passes import run_pipeline
from l1ml.verify.qonnx_level import run_qonnx
from l1ml.verify.vectors import make_vectors

SPEC = MLPSpec(6, QuantSpec(8, 4), (LayerSpec(4, QuantSpec(6, 4), QuantSpec(8, 4), True,
                                              QuantSpec(6, 3, signed=False, rounding="ROUND")),))


def with_batchnorm(path, gamma, beta, mean, var, eps=1e-5):
    """Insert a BatchNormalization between the Gemm and the ReLU of SPEC's model."""
    m = build_qonnx(SPEC, np.random.default_rng(2))
    relu = next(n for n in m.graph.node if n.op_type == "Relu")
    relu.input[0] = "bn_out"
    bn = helper.make_node("BatchNormalization", ["fc0", "g", "b", "mu", "var"], ["bn_out"], name="my_bn",
                          epsilon=eps)
    m.graph.node.insert(list(m.graph.node).index(relu), bn)
    for name, v in (("g", gamma), ("b", beta), ("mu", mean), ("var", var)):
        m.graph.initializer.append(numpy_helper.from_array(np.asarray(v, np.float32), name))
    onnx.save(m, str(path))


def test_exact_batchnorm_is_folded_and_stays_bit_exact(tmp_path):
    # var + eps == 4 and 1 in float32 exactly, gamma a power of two times 2 or 1: scales 2, 1, 0.5, 4
    eps = 2.0**-10
    var = np.array([4, 1, 4, 1]) - eps
    gamma = np.array([4.0, 1.0, 1.0, 4.0])
    path = tmp_path / "bn.onnx"
    with_batchnorm(path, gamma, [0.25, -0.5, 0.125, 1.0], [0.5, 0.0, -0.25, 0.75], var, eps)
    g = run_pipeline(from_qonnx(path))
    assert all(n.op is not Op.BATCHNORM for n in g.nodes)
    x = make_vectors(g, 2000, seed=4)
    assert np.array_equal(emulate(g, x), run_qonnx(path, x))


def test_trained_batchnorm_becomes_an_exact_requant(tmp_path):
    # not a power of two: fuse_requant replaces BatchNorm + ReLU + Quant by one proven integer map
    path = tmp_path / "bn.onnx"
    with_batchnorm(path, [0.9, 1.1, -1.0, 0.7], [0.1, 0, 0, 0], [0.3, 0, 0, 0], [1.3, 0.8, 1.0, 1.0])
    g = run_pipeline(from_qonnx(path))
    assert [n.op for n in g.nodes if n.op in (Op.BATCHNORM, Op.QUANTIZE, Op.REQUANT)] == [Op.REQUANT]
    req = next(n for n in g.nodes if n.op is Op.REQUANT)
    assert "BatchNorm" in req.attrs.source and "ReLU" in req.attrs.source
    x = make_vectors(g, 2000, seed=4)
    assert np.array_equal(emulate(g, x), run_qonnx(path, x))


def test_batchnorm_without_a_quantizer_after_it_is_refused_with_the_remedy(tmp_path):
    m = build_qonnx(SPEC, np.random.default_rng(2))
    out = m.graph.output[0].name
    last = next(n for n in m.graph.node if out in n.output)
    last.output[0] = "pre_bn"
    m.graph.node.append(helper.make_node("BatchNormalization", ["pre_bn", "g", "b", "mu", "var"], [out],
                                         name="last_bn"))
    for name, v in (("g", [0.9] * 4), ("b", [0.1] * 4), ("mu", [0.0] * 4), ("var", [1.3] * 4)):
        m.graph.initializer.append(numpy_helper.from_array(np.asarray(v, np.float32), name))
    path = tmp_path / "bn_last.onnx"
    onnx.save(m, str(path))
    with pytest.raises(NodeError) as e:
        run_pipeline(from_qonnx(path))
    assert "last_bn" in str(e.value) and "quantizer" in str(e.value)


@pytest.mark.parametrize("gamma,beta,words", [
    ([2.0**60, 1.0, 1.0, 1.0], [0, 0, 0, 0], "spread the folded weights"),
    ([1.0, 1.0, 1.0, 1.0], [2.0**100, 0, 0, 0], "folded bias needs more than 62 bits"),
])
def test_batchnorm_folding_beyond_62_bits_is_refused_not_wrapped(tmp_path, gamma, beta, words):
    eps = 2.0**-10
    path = tmp_path / "bn.onnx"
    with_batchnorm(path, gamma, beta, [0, 0, 0, 0], np.ones(4) - eps, eps)
    with pytest.raises(NodeError) as e:
        run_pipeline(from_qonnx(path))
    assert "my_bn" in str(e.value) and words in str(e.value) and "merge_bn" in str(e.value)


def test_matmul_add_becomes_dense_with_bias(tmp_path):
    spec = MLPSpec(5, QuantSpec(8, 4), (LayerSpec(3, QuantSpec(6, 4), QuantSpec(8, 4), False, None, gemm=False),))
    path = tmp_path / "mm.onnx"
    onnx.save(build_qonnx(spec, np.random.default_rng(0)), str(path))
    g = run_pipeline(from_qonnx(path))
    assert [n.op for n in g.nodes] == [Op.DENSE] and len(g.nodes[0].inputs) == 3
    assert g.nodes[0].meta["onnx_name"] == "mm0"


def test_redundant_quantizer_is_removed_and_output_unchanged(tmp_path):
    # a 6-bit unsigned activation re-quantized into a wider type on a finer grid: a no-op
    spec = MLPSpec(5, QuantSpec(8, 4), (
        LayerSpec(4, QuantSpec(6, 4), QuantSpec(8, 4), True, QuantSpec(6, 3, signed=False, rounding="FLOOR")),
        LayerSpec(3, QuantSpec(6, 4), QuantSpec(8, 4), False, None),
    ))
    m = build_qonnx(spec, np.random.default_rng(1))
    gemm = next(n for n in m.graph.node if n.name == "fc1")
    gemm.input[0] = "wide_q"
    wide = helper.make_node("Quant", ["act0_q", "ws", "wz", "wb"], ["wide_q"], name="wide",
                            domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND")
    m.graph.node.insert(list(m.graph.node).index(gemm), wide)
    for name, v in (("ws", 2.0**-5), ("wz", 0.0), ("wb", 12.0)):
        m.graph.initializer.append(numpy_helper.from_array(np.float32(v), name))
    path = tmp_path / "r.onnx"
    onnx.save(m, str(path))
    g = run_pipeline(from_qonnx(path))
    assert sum(n.op is Op.QUANTIZE for n in g.nodes) == 1
    x = make_vectors(g, 1000)
    assert np.array_equal(emulate(g, x), run_qonnx(path, x))


def test_float_input_is_refused(tmp_path):
    m = build_qonnx(SPEC, np.random.default_rng(0))
    q = m.graph.node[0]
    assert q.name == "inp_quant"
    gemm = next(n for n in m.graph.node if n.op_type == "Gemm")
    gemm.input[0] = "x"
    m.graph.node.remove(q)
    path = tmp_path / "f.onnx"
    onnx.save(m, str(path))
    with pytest.raises(NodeError, match="QuantIdentity"):
        run_pipeline(from_qonnx(path))
