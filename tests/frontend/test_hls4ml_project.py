"""Reading a plain hls4ml project back into a QONNX model for pricing (l1ml.frontend.hls4ml_project): the
vendor fixture's layers, precision and weights, and a clear refusal of what the reader does not rebuild."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from l1ml.frontend.hls4ml_project import (
    DenseLayer,
    ProjectNotPriced,
    ReluLayer,
    parse_ap_fixed,
    read_project_net,
)
from l1ml.ir.types import FixedType

VENDOR = Path(__file__).resolve().parents[2].parent / "shared" / "vendor" / "vitis2022.2_jet_tagger" / "hls4ml_prj"
needs_fixture = pytest.mark.skipif(not (VENDOR / "firmware").is_dir(), reason=f"vendor fixture {VENDOR} is absent")


@needs_fixture
def test_the_fixture_reads_back_as_four_dense_and_three_relu_at_one_precision():
    net = read_project_net(VENDOR)
    assert net.top == "myproject" and net.n_inputs == 16 and net.n_outputs == 5
    assert [type(la).__name__ for la in net.layers] == ["DenseLayer", "ReluLayer"] * 3 + ["DenseLayer"]
    assert [la.name for la in net.layers] == ["fc1", "relu1", "fc2", "relu2", "fc3", "relu3", "output"]
    assert [la.weights.shape for la in net.layers if isinstance(la, DenseLayer)] == [(16, 64), (64, 32), (32, 32),
                                                                                     (32, 5)]
    first = (VENDOR / "firmware" / "weights" / "w2.txt").read_text().split(",")[0]
    assert net.layers[0].weights[0, 0] == float(first)  # row-major (n_in, n_out), as hls4ml writes it
    assert net.precision == FixedType(True, 16, 10) and net.rounding == "FLOOR" and net.outside == ("softmax",)
    assert isinstance(net.layers[1], ReluLayer)


def test_ap_fixed_types_and_their_rounding():
    assert parse_ap_fixed("ap_fixed", "16,6", "x") == (FixedType(True, 16, 10), "FLOOR")
    assert parse_ap_fixed("ap_ufixed", "8, 0, AP_RND_CONV, AP_SAT", "x") == (FixedType(False, 8, 8), "ROUND")
    with pytest.raises(ProjectNotPriced, match="x: quantization mode AP_RND has no QONNX Quant rounding"):
        parse_ap_fixed("ap_fixed", "18,8,AP_RND,AP_SAT,0", "x")
    with pytest.raises(ProjectNotPriced, match="not an ap_fixed<W,I,...>"):
        parse_ap_fixed("ap_fixed", "W,6", "x")


def _copy(tmp_path: Path) -> Path:
    prj = tmp_path / "prj"
    shutil.copytree(VENDOR / "firmware", prj / "firmware", ignore=shutil.ignore_patterns("nnet_utils", "ap_types"))
    return prj


@needs_fixture
def test_a_layer_it_does_not_rebuild_is_named(tmp_path):
    prj = _copy(tmp_path)
    cpp = prj / "firmware" / "myproject.cpp"
    cpp.write_text(cpp.read_text().replace("nnet::relu<layer5_t, layer7_t, relu_config7>",
                                           "nnet::elu<layer5_t, layer7_t, relu_config7>"))
    with pytest.raises(ProjectNotPriced, match=r"myproject\.cpp: layer 'relu2' is nnet::elu; l1ml rebuilds Dense"):
        read_project_net(prj)


@needs_fixture
def test_a_used_type_with_a_rounding_a_quant_cannot_say_is_refused_and_unused_ones_are_ignored(tmp_path):
    prj = _copy(tmp_path)
    defines = prj / "firmware" / "defines.h"
    text = defines.read_text()
    assert "AP_RND,AP_SAT" in text  # the softmax tables: outside, never parsed
    defines.write_text(text.replace("typedef ap_fixed<16,6> layer8_t;", "typedef ap_fixed<16,6,AP_RND> layer8_t;"))
    with pytest.raises(ProjectNotPriced, match=r"defines\.h \(layer8_t\): quantization mode AP_RND"):
        read_project_net(prj)


@needs_fixture
def test_weights_that_do_not_chain_are_refused(tmp_path):
    prj = _copy(tmp_path)
    w = prj / "firmware" / "weights" / "w5.txt"
    values = np.array([float(s) for s in w.read_text().split(",") if s.strip()])
    cpp = prj / "firmware" / "myproject.cpp"
    cpp.write_text(cpp.read_text().replace("model_default_t, 2048>(w5", "model_default_t, 1024>(w5"))
    w.write_text(", ".join(str(float(v)) for v in values[:1024]))
    with pytest.raises(ProjectNotPriced, match="layer 'fc2' takes 32 inputs after 64 outputs"):
        read_project_net(prj)
