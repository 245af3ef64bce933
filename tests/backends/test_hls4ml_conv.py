"""Conv2D and pooling through hls4ml: the C-simulation (real g++ build) equals the emulator bit for bit."""

import shutil

import numpy as np
import onnx
import pytest

from l1ml.backends.ap_fixed import ap_type
from l1ml.backends.emulate import Emulator, input_codes
from l1ml.backends.hls4ml import build_hls_model
from l1ml.compile import CompileOptions, write_hls
from l1ml.errors import L1MLError
from l1ml.frontend.qonnx import from_qonnx
from l1ml.ir.ops import Op
from l1ml.ir.quantize import to_real
from l1ml.models.random_cnn import (
    CNNSpec,
    ConvSpec,
    PoolKind,
    PoolSpec,
    build_cnn_qonnx,
    build_nhwc_transpose_qonnx,
)
from l1ml.models.random_mlp import LayerSpec, QuantSpec
from l1ml.passes import run_pipeline
from l1ml.verify.hls_level import csim_inputs, run_csim
from l1ml.verify.qonnx_level import run_qonnx
from l1ml.verify.vectors import make_vectors

# small enough for a quick g++ build, yet it has a padded conv, an average pool (exact finer grid, then a
# HALF_UP requantiser), a bias-free conv, a signed max pool, a flatten in NCHW order and the dense head
SPEC = CNNSpec(2, 5, 5, QuantSpec(6, 3), (
    ConvSpec(3, (3, 3), (1, 1), (1, 1, 1, 1), QuantSpec(5, 4), QuantSpec(6, 4), True,
             QuantSpec(6, 3, signed=False, rounding="ROUND"), pool=PoolSpec(PoolKind.AVG, (2, 2), (2, 2)),
             pool_act=QuantSpec(5, 2, signed=False, rounding="HALF_UP")),
    ConvSpec(4, (2, 2), (1, 1), (0, 0, 0, 0), QuantSpec(5, 4), None, False,
             QuantSpec(6, 2, rounding="FLOOR"), pool=PoolSpec(PoolKind.MAX, (1, 2), (1, 1), (0, 0, 0, 1))),
), (LayerSpec(3, QuantSpec(6, 4), QuantSpec(6, 3), False, None),), "Flatten")
N_VECTORS = 2000


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    d = tmp_path_factory.mktemp("hlsconv")
    onnx.save(build_cnn_qonnx(SPEC, np.random.default_rng(1)), str(d / "model.onnx"))
    g = run_pipeline(from_qonnx(d / "model.onnx"))
    write_hls(g, d / "hls", d / "hls", CompileOptions())
    return d, g


def csim_vs_emulator(prj, g, n, seed):
    x = make_vectors(g, n, seed=seed)
    codes = input_codes(g, x)
    out_t = g.t(g.outputs[0]).type
    expected = to_real(Emulator(g).run_codes(codes)[g.outputs[0]], out_t).reshape(n, -1)
    actual = run_csim(prj, csim_inputs(g, x), expected.shape[1])  # the floats: the input layer quantizes
    return x, expected, actual


def test_csim_equals_emulator_and_qonnx(project):
    d, g = project
    assert {n.op for n in g.nodes} >= {Op.CONV2D, Op.AVGPOOL2D, Op.MAXPOOL2D}
    x, expected, actual = csim_vs_emulator(d / "hls", g, N_VECTORS, seed=5)
    assert int((expected != actual).any(axis=1).sum()) == 0
    assert len(np.unique(expected, axis=0)) > N_VECTORS // 4, "the vectors must reach many outputs"
    ref = run_qonnx(d / "model.onnx", x.transpose(0, 3, 1, 2)).astype(np.float64)
    assert np.array_equal(ref, expected)
    # the HALF_UP requantiser after the average pool meets exact ties (the case where rounding modes differ)
    pool = next(n for n in g.nodes if n.op is Op.AVGPOOL2D)
    probe = g.copy()
    probe.outputs.append(pool.outputs[0])  # a graph output is never overwritten in place
    env = Emulator(probe).run({g.inputs[0]: input_codes(g, x)[g.inputs[0]].astype(np.float32)})
    quant = g.users(pool.outputs[0])[0]
    drop = g.t(pool.outputs[0]).type.frac - g.t(quant.outputs[0]).type.frac
    assert quant.op is Op.QUANTIZE and drop > 0
    assert (np.mod(env[pool.outputs[0]], 2**drop) == 2 ** (drop - 1)).sum() > 100


def test_every_precision_is_set_by_l1ml(project):
    d, g = project
    text = (d / "hls/firmware/parameters.h").read_text() + (d / "hls/firmware/defines.h").read_text()
    text = text.replace(",0>", ">")
    for n in g.nodes:
        assert ap_type(g.t(n.outputs[0]).type) in text, n.name
        if n.op is Op.CONV2D:
            assert ap_type(g.t(n.inputs[1]).type) in text, n.name
    assert "ap_fixed<16,6>" not in text
    cpp = (d / "hls/firmware/myproject.cpp").read_text()
    assert cpp.count("conv_2d_cl<") == 2 and cpp.count("pooling2d_cl<") == 2


def test_convolutions_compute_every_pixel_in_parallel(project):
    """hls4ml's default is one output pixel per clock; a trigger needs II = 1, so l1ml sets the
    parallelization factor to the pixel count and hls4ml makes a single partition."""
    d, _ = project
    params = (d / "hls/firmware/parameters.h").read_text()
    assert params.count("n_partitions = 1;") == 2


def test_a_changed_conv_weight_is_caught(project, tmp_path):
    d, g = project
    bad = tmp_path / "hls"
    shutil.copytree(d / "hls", bad)
    first_conv = sorted((bad / "firmware/weights").glob("w*.txt"), key=lambda p: int(p.stem[1:]))[0]
    vals = first_conv.read_text().split(",")
    vals[0] = repr(-float(vals[0]) if float(vals[0]) else 0.5)
    first_conv.write_text(",".join(vals))
    _, expected, actual = csim_vs_emulator(bad, g, 300, seed=1)
    assert (expected != actual).any()


def test_a_model_transpose_lowers_exactly(tmp_path):
    onnx.save(build_nhwc_transpose_qonnx(), str(tmp_path / "m.onnx"))
    g = run_pipeline(from_qonnx(tmp_path / "m.onnx"))
    assert any(n.op is Op.TRANSPOSE for n in g.nodes)
    write_hls(g, tmp_path / "hls", tmp_path / "hls", CompileOptions())
    _, expected, actual = csim_vs_emulator(tmp_path / "hls", g, 1000, seed=2)
    assert np.array_equal(expected, actual)


def test_padded_max_pool_of_unsigned_values_is_refused(tmp_path):
    spec = CNNSpec(1, 4, 4, QuantSpec(4, 2), (
        ConvSpec(2, (1, 1), (1, 1), (0, 0, 0, 0), QuantSpec(4, 2), None, True,
                 QuantSpec(4, 2, signed=False), pool=PoolSpec(PoolKind.MAX, (2, 2), (2, 2), (0, 0, 1, 1))),
    ), (LayerSpec(2, QuantSpec(4, 2), None, False, None),))
    onnx.save(build_cnn_qonnx(spec, np.random.default_rng(0)), str(tmp_path / "m.onnx"))
    g = run_pipeline(from_qonnx(tmp_path / "m.onnx"))
    with pytest.raises(L1MLError, match="without padding"):
        build_hls_model(g, tmp_path / "hls")
