import numpy as np
import onnx
import pytest

from l1ml.backends.emulate import emulate
from l1ml.frontend.qonnx import from_qonnx
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import NoAttrs, Op
from l1ml.ir.types import FixedType
from l1ml.models.random_mlp import build_qonnx, random_spec
from l1ml.passes import run_pipeline


@pytest.mark.parametrize("seed", range(5))
def test_json_round_trip_is_identical(tmp_path, seed):
    rng = np.random.default_rng(seed)
    path = tmp_path / "m.onnx"
    onnx.save(build_qonnx(random_spec(rng, max_bits=10, max_width=8), rng), str(path))
    g = run_pipeline(from_qonnx(path))
    g.save(tmp_path / "model.l1ml.json")
    h = Graph.load(tmp_path / "model.l1ml.json")
    assert h.to_json() == g.to_json()
    h.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "model.l1ml.json").read_bytes()
    x = np.random.default_rng(1).normal(size=(64, *g.t(g.inputs[0]).shape)).astype(np.float32) * 4
    assert np.array_equal(emulate(g, x), emulate(h, x))


def test_verify_catches_structural_errors():
    t = FixedType(True, 8, 0)
    g = Graph("g", {"x": Tensor("x", (2,), t), "y": Tensor("y", (2,), t)},
              [Node("r", Op.RELU, ["x"], ["y"], NoAttrs()), Node("r2", Op.RELU, ["x"], ["y"], NoAttrs())],
              ["x"], ["y"])
    with pytest.raises(ValueError, match="written twice"):
        g.verify()
    g.nodes = [Node("r", Op.RELU, ["z"], ["y"], NoAttrs())]
    with pytest.raises(ValueError, match="not a tensor"):
        g.verify()
    g.nodes = [Node("r", Op.RELU, ["x"], ["y"], NoAttrs())]
    g.verify(typed=True)
    g.tensors["y"].type = None
    with pytest.raises(ValueError, match="no fixed-point type"):
        g.verify(typed=True)
