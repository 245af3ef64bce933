"""The vendor fixture's jet tagger as a QONNX model (../shared/vendor): it compiles to the fixture's layers
with the fixture's weight codes, and retyped as hls4ml built it, every value is ap_fixed<16,6>."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from l1ml.errors import InputFileError
from l1ml.frontend.hls4ml_project import read_floats
from l1ml.ir.ops import Op
from l1ml.load import compile_graph
from l1ml.models.vendor_jet_tagger import (
    FIXTURE,
    FIXTURE_TYPE,
    LAYERS,
    fixture_precision,
    vendor_dir,
    write_qonnx,
)

PROJECT = vendor_dir(Path(__file__).resolve().parents[2]) / FIXTURE
needs_fixture = pytest.mark.skipif(not (PROJECT / "firmware" / "weights").is_dir(),
                                   reason=f"vendor fixture {PROJECT} is absent (see ../shared/vendor/README.md)")


def _fixture_codes(name: str, size: int) -> np.ndarray:
    """The codes the fixture's C++ holds: a float literal converted to ap_fixed<16,6> is floored (AP_TRN)."""
    return np.array([math.floor(v * 2**10) for v in read_floats(PROJECT / "firmware" / "weights" / name, size)])


@needs_fixture
def test_the_model_compiles_to_the_fixture_layers_and_weight_codes(tmp_path):
    path = write_qonnx(PROJECT, tmp_path / "vendor_jet_tagger.onnx")
    assert path.is_file()
    g = compile_graph(path)
    dense = [n for n in g.nodes if n.op is Op.DENSE]
    assert [n.op for n in g.nodes].count(Op.RELU) == 3 and len(dense) == 4
    assert g.t(g.inputs[0]).shape == (16,) and g.t(g.outputs[0]).shape == (5,)
    assert g.t(g.inputs[0]).type.width == 16 and g.t(g.inputs[0]).type.frac == 10
    for node, (k, n_in, n_out, _) in zip(dense, LAYERS, strict=True):
        w, b = g.t(node.inputs[1]), g.t(node.inputs[2])
        assert w.shape == (n_in, n_out)
        # l1ml narrows the weight type to the codes' range; on the fixture's grid the codes are the same
        np.testing.assert_array_equal(w.data.ravel() * 2 ** (10 - w.type.frac), _fixture_codes(f"w{k}.txt", n_in * n_out))
        np.testing.assert_array_equal(b.data * 2 ** (10 - b.type.frac), _fixture_codes(f"b{k}.txt", n_out))
    # the logits leave through a 16-bit cast, as the fixture's layer11_t
    assert g.t(g.outputs[0]).type.width == 16 and g.t(g.outputs[0]).type.frac == 10


@needs_fixture
def test_fixture_precision_types_every_value_as_the_fixture(tmp_path):
    g = compile_graph(write_qonnx(PROJECT, tmp_path / "m.onnx"))
    f = fixture_precision(g)
    assert all(t.type == FIXTURE_TYPE for t in f.tensors.values())
    assert Op.QUANTIZE in {n.op for n in g.nodes} and Op.QUANTIZE not in {n.op for n in f.nodes}
    assert [n.op for n in f.nodes] == [Op.DENSE, Op.RELU] * 3 + [Op.DENSE]
    dense = [[n for n in h.nodes if n.op is Op.DENSE] for h in (g, f)]
    for a, b in zip(*dense, strict=True):
        w0, w1 = g.t(a.inputs[1]), f.t(b.inputs[1])
        np.testing.assert_array_equal(w0.data * 2 ** (10 - w0.type.frac), w1.data)
    assert f.outputs and f.t(f.outputs[0]).shape == (5,)


def test_a_weight_file_of_the_wrong_size_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "w2.txt"
    bad.write_text("0.5, 0.25, -1.0")
    with pytest.raises(InputFileError, match=r"w2\.txt: 3 values where the project's C\+\+ loads 1024") as e:
        read_floats(bad, 1024)
    assert "\n" not in str(e.value)
    bad.write_text("0.5, abc")
    with pytest.raises(InputFileError, match="not a comma-separated list of numbers"):
        read_floats(bad, 2)
    with pytest.raises(InputFileError, match="cannot read the hls4ml weight file"):
        read_floats(tmp_path / "missing.txt", 2)
