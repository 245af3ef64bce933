"""``l1ml.emulate`` and ``l1ml emulate -i`` take the same layout (the exported model's, NCHW for images);
``layout="ir"`` takes the IR's channels-last arrays. With C = H = W a wrong layout has the right shape, so
only the numbers can tell: the test model is such a CNN."""

import subprocess
import sys

import numpy as np
import onnx
import pytest

import l1ml
from l1ml.backends.emulate import NaNInputError
from l1ml.errors import L1MLError
from l1ml.load import load_graph
from l1ml.models.random_cnn import CNNSpec, ConvSpec, build_cnn_qonnx
from l1ml.models.random_mlp import LayerSpec, QuantSpec
from l1ml.verify.qonnx_level import run_qonnx


@pytest.fixture(scope="module")
def cube_cnn(tmp_path_factory):
    """A CNN whose input is 3 x 3 x 3 (C = H = W)."""
    conv = ConvSpec(2, (2, 2), (1, 1), (0, 0, 0, 0), QuantSpec(6, 4), QuantSpec(8, 6), True,
                    QuantSpec(8, 4, signed=False, rounding="FLOOR"))
    spec = CNNSpec(3, 3, 3, QuantSpec(8, 4), (conv,), (LayerSpec(4, QuantSpec(6, 4), None, False, None),))
    path = tmp_path_factory.mktemp("cube") / "cube.onnx"
    onnx.save(build_cnn_qonnx(spec, np.random.default_rng(5)), str(path))
    return path


def test_api_equals_cli_and_qonnx_in_the_model_layout(cube_cnn, tmp_path):
    g = load_graph(cube_cnn)
    assert g.meta["input_layout"] == "NCHW" and g.t(g.inputs[0]).shape == (3, 3, 3)
    x = np.random.default_rng(0).uniform(-8, 8, (200, 3, 3, 3)).astype(np.float32)  # NCHW
    np.save(tmp_path / "x.npy", x)
    r = subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", "emulate", str(cube_cnn),
                        "-i", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cli = np.load(tmp_path / "y.npy")
    api = l1ml.emulate(cube_cnn, x)
    assert np.array_equal(api, cli)
    assert np.array_equal(api, run_qonnx(cube_cnn, x).astype(np.float64))  # the model's own meaning
    # the IR keyword: the same events, channels-last, give the same outputs ...
    assert np.array_equal(l1ml.emulate(cube_cnn, x.transpose(0, 2, 3, 1), layout="ir"), api)
    # ... and the NCHW array read as channels-last gives other numbers: the layout matters here
    assert not np.array_equal(l1ml.emulate(cube_cnn, x, layout="ir"), api)


def test_wrong_shape_and_layout_are_named(cube_cnn):
    with pytest.raises(L1MLError, match=r"expects events of shape \(3, 3, 3\) in the onnx layout"):
        l1ml.emulate(cube_cnn, np.zeros((2, 3, 3, 4), np.float32))
    with pytest.raises(ValueError):
        l1ml.emulate(cube_cnn, np.zeros((2, 3, 3, 3), np.float32), layout="nhwc")


def test_nan_is_refused_with_event_and_element(cube_cnn, tmp_path):
    x = np.zeros((5, 3, 3, 3), np.float32)
    x[3, 2, 0, 1] = np.nan
    with pytest.raises(NaNInputError, match=r"event 3, element \(2, 0, 1\) is NaN"):
        l1ml.emulate(cube_cnn, x)
    np.save(tmp_path / "nan.npy", x)
    r = subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", "emulate", str(cube_cnn),
                        "-i", str(tmp_path / "nan.npy"), "-o", str(tmp_path / "y.npy")], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "nan.npy: input" in r.stdout + r.stderr and "event 3, element (2, 0, 1) is NaN" in r.stdout + r.stderr
    assert not (tmp_path / "y.npy").exists()
