"""The HGCal cluster CNN: real Brevitas QAT on a small simulated cluster sample, the QONNX graph it
exports, and the Brevitas <-> emulator link (run once the compiler reads convolutions)."""

import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from l1ml.errors import InputFileError, L1MLError
from l1ml.models.hgcal_cnn import CNNShape, Downsample
from l1ml.train.hgcal_cnn import HGCalCNNConfig, Preprocessing, preprocess, train_hgcal_cnn


@pytest.fixture(scope="module")
def clusters():
    """300 clusters with pileup (a modest mean keeps the overlay cheap; the pileup class only needs > 0)."""
    from l1ml.simulation.hgcal import simulate_hgcal
    from l1ml.simulation.hgcal_io import load_hgcal_table

    table = simulate_hgcal(300, seed=5, pileup=50, workers=1, progress=False)["clusters"]
    images, labels, _ = load_hgcal_table(table)
    return images, labels


def _quant_attrs(model: onnx.ModelProto) -> list[dict]:
    return [{a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            for n in model.graph.node if n.op_type == "Quant"]


def _activation_quants(model: onnx.ModelProto) -> list[dict]:
    """Quant nodes whose input is computed (not an initializer): the input and the activation quantizers."""
    inits = {t.name for t in model.graph.initializer}
    out = []
    for n in model.graph.node:
        if n.op_type == "Quant" and n.input[0] not in inits:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            bits = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == n.input[3]))
            out.append({**attrs, "bits": int(bits), "rounding_mode": attrs["rounding_mode"].decode()})
    return out


def test_train_export_and_brevitas_equals_emulator(tmp_path, clusters):
    import torch

    torch.set_num_threads(1)
    cfg = HGCalCNNConfig(conv_channels=(4,), dense=(8,), max_epochs=2, qat_epochs=1, act_bits=6, seed=2)
    out = tmp_path / "cnn"
    res = train_hgcal_cnn(cfg, out, dataset=clusters)
    for f in ("model.onnx", "float_model.pt", "training.json", "test_inputs.npy", "all_inputs.npy",
              "test_labels.npy", "brevitas_test_outputs.npy", "roc.png"):
        assert (out / f).exists(), f
    assert not (out / "model.onnx.data").exists()  # the exporter's stray external-data file is removed
    assert not list(tmp_path.glob(".cnn.tmp-*"))  # the temporary directory was renamed into place
    doc = json.loads((out / "training.json").read_text())
    assert doc == json.loads(json.dumps(res))
    assert doc["class_names"] == ["EM", "hadronic", "pileup"] and sum(doc["class_counts"]) == 300
    assert doc["preprocessing"] == {**doc["preprocessing"], "kind": cfg.preprocessing.value, "e0_gev": cfg.e0_gev}
    for part in ("float", "qat"):
        assert set(doc[part]["roc_auc"]) == {"EM", "hadronic", "pileup"}
        assert all(0.0 <= v <= 1.0 for v in doc[part]["roc_auc"].values())
    # the stored inputs are the preprocessed images the exported model takes
    x_test = np.load(out / "test_inputs.npy")
    assert x_test.shape == (doc["test_events"], 4, 8, 8) and x_test.dtype == np.float32
    np.testing.assert_array_equal(np.load(out / "all_inputs.npy"), preprocess(clusters[0], cfg))
    # Brevitas outputs re-computed from the exported QONNX by qonnx itself
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    wrapper = ModelWrapper(str(out / "model.onnx"))
    qout = np.load(out / "brevitas_test_outputs.npy")
    for i in range(5):
        y = execute_onnx(wrapper, {wrapper.graph.input[0].name: x_test[i:i + 1]})[wrapper.graph.output[0].name]
        np.testing.assert_array_equal(y[0].astype(np.float32), qout[i])
    check = doc["brevitas_vs_emulator"]
    assert check["status"] == "ran", check  # the compiler reads the zoo CNN: this link must be checked
    assert check["mismatches"] == 0 == doc["brevitas_vs_emulator_mismatches"]
    assert check["emulator_accuracy"] == pytest.approx(doc["qat_accuracy"])


def test_exported_graph_has_the_configured_quantizers(tmp_path, clusters):
    import torch

    torch.set_num_threads(1)
    cfg = HGCalCNNConfig(conv_channels=(4,), dense=(8,), max_epochs=1, qat_epochs=1, act_bits=5, weight_bits=4,
                         input_bits=7)
    train_hgcal_cnn(cfg, tmp_path / "cnn", dataset=clusters)
    model = onnx.load(str(tmp_path / "cnn" / "model.onnx"))
    ops = [n.op_type for n in model.graph.node if n.op_type != "Quant"]
    assert ops == ["Conv", "Relu", "Reshape", "Gemm", "Relu", "Gemm"]
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in conv.attribute}
    assert attrs["strides"] == [2, 2] and attrs["kernel_shape"] == [3, 3] and attrs["pads"] == [1, 1, 1, 1]
    acts = _activation_quants(model)
    assert acts[0] == {**acts[0], "rounding_mode": "ROUND", "signed": 1, "bits": 7}  # the input quantizer
    assert all(a["rounding_mode"] == "FLOOR" and a["signed"] == 0 and a["bits"] == 5 for a in acts[1:])
    assert len(acts) == 3  # input, after the convolution, after the hidden dense layer; none on the output
    narrow = [a for a in _quant_attrs(model) if a["narrow"] == 1]
    assert len(narrow) == 3  # the three weight tensors, symmetric narrow range
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for n in (n for n in model.graph.node if n.op_type == "Quant"):  # fixed point: 2^k scales, zero offsets
        assert inits[n.input[1]].size == 1 and float(np.log2(inits[n.input[1]])).is_integer(), n.name
        assert inits[n.input[2]] == 0, n.name


@pytest.mark.parametrize("shape", [CNNShape(downsample=Downsample.MAXPOOL, conv_channels=(4,), dense=(8,)),
                                   CNNShape(conv_channels=(4, 4), dense=(8,))], ids=["maxpool", "two-conv"])
def test_variants_export_and_match_emulator(tmp_path, shape):
    """Both alternative layouts export; where the compiler reads them, the emulator equals Brevitas."""
    import torch

    from l1ml.models.hgcal_cnn import export, qat_cnn

    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    q = qat_cnn(shape)
    x = np.log1p(rng.exponential(20.0, (200, 4, 8, 8)) * (rng.random((200, 4, 8, 8)) < 0.3)).astype(np.float32)
    q.train()
    with torch.no_grad():  # a few forward passes let the activation quantizers collect their ranges
        for i in range(0, 200, 50):
            q(torch.from_numpy(x[i:i + 50]))
    q.eval()
    with torch.no_grad():
        ref = q(torch.from_numpy(x)).numpy()
    path = tmp_path / "m.onnx"
    export(q, shape, str(path))
    model = onnx.load(str(path))
    ops = [n.op_type for n in model.graph.node]
    side = 4 if shape.downsample is Downsample.MAXPOOL else 2
    assert ops.count("Conv") == len(shape.conv_channels)
    assert ("MaxPool" in ops) == (shape.downsample is Downsample.MAXPOOL)
    reshape = next(n for n in model.graph.node if n.op_type == "Reshape")
    target = next(numpy_helper.to_array(t) for t in model.graph.initializer if t.name == reshape.input[1])
    assert target.tolist() == [1, shape.conv_channels[-1] * side * side] == [1, shape.flat_features()]
    from l1ml.backends.emulate import emulate
    from l1ml.load import load_graph

    g = load_graph(path)
    emu = np.asarray(emulate(g, x))
    assert int((emu.astype(np.float32) != ref).any(axis=1).sum()) == 0


def test_preprocessing_fits_an_8_bit_input_and_keeps_order():
    """ln(1 + E / 0.1 GeV) stays below 8 up to 200 GeV in one cell (4 integer bits suffice), is 0 for an
    empty cell and keeps the order of energies; negative noise is clipped to an empty cell."""
    cfg = HGCalCNNConfig(preprocessing=Preprocessing.LOG1P, e0_gev=0.1)
    e = np.array([-0.05, 0.0, 0.01, 0.1, 1.0, 10.0, 200.0], dtype=np.float32).reshape(1, 1, 1, -1)
    x = preprocess(e, cfg).ravel()
    assert x[0] == 0.0 and x[1] == 0.0 and np.all(np.diff(x[1:]) > 0) and x[-1] < 8.0
    lin = preprocess(e, HGCalCNNConfig(preprocessing=Preprocessing.LINEAR, e0_gev=10.0)).ravel()
    assert lin[-1] == pytest.approx(20.0) and lin[0] == 0.0


def test_user_errors_name_the_remedy(tmp_path, clusters):
    with pytest.raises(InputFileError, match="l1ml simulate hgcal"):
        train_hgcal_cnn(HGCalCNNConfig(), tmp_path / "o", data=tmp_path / "missing")
    images, labels = clusters
    keep = labels != 2
    with pytest.raises(L1MLError, match="--pileup 200"):
        train_hgcal_cnn(HGCalCNNConfig(), tmp_path / "o", dataset=(images[keep], labels[keep]))
    assert not (tmp_path / "o").exists()


def test_command_help_and_bad_options():
    import typer
    from typer.testing import CliRunner

    from l1ml.train.hgcal_cnn import train_hgcal_cnn_cmd

    app = typer.Typer()
    app.command("hgcal-cnn")(train_hgcal_cnn_cmd)
    app.command("other")(lambda: None)  # two commands, so the sub-command name is parsed as in `l1ml train`
    runner = CliRunner()
    res = runner.invoke(app, ["hgcal-cnn", "--help"])
    assert res.exit_code == 0 and "Example: l1ml train hgcal-cnn" in res.output
    res = runner.invoke(app, ["hgcal-cnn", "--conv", "8,x"])
    assert res.exit_code == 2 and "--conv" in res.output
    res = runner.invoke(app, ["hgcal-cnn", "--e0", "0"])
    assert res.exit_code == 2 and "--e0" in res.output
