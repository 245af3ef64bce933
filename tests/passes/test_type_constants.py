"""type_constants: float constants of integer ops get their exact dyadic type; float stages keep theirs;
a constant too wide for 62 bits is refused naming the node and the remedy. And a float stage that no
pass turned into an integer map is refused by require_types, not left to crash a backend."""

from fractions import Fraction

import numpy as np
import onnx
import pytest

from l1ml.errors import NodeError
from l1ml.frontend.qonnx import from_qonnx
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import AffineAttrs, BatchNormAttrs, NoAttrs, Op
from l1ml.ir.types import FixedType
from l1ml.passes import run_pipeline
from l1ml.passes.type_constants import type_constants
from tests.onnx_build import Builder

X = FixedType(True, 8, 4)


def graph(op: Op, const: np.ndarray, extra_reader: Op | None = None) -> Graph:
    t = {"x": Tensor("x", (3,), X), "c": Tensor("c", const.shape, None, const.astype(np.float64)),
         "y": Tensor("y", (3,))}
    nodes = [Node("n", op, ["x", "c"], ["y"], NoAttrs())]
    if extra_reader is not None:  # a float stage reading the same constant
        t["z"] = Tensor("z", (3,))
        nodes.append(Node("f", extra_reader, ["y", "c"], ["z"], AffineAttrs(("1",), ("0",))))
    return Graph("g", t, nodes, ["x"], ["z" if extra_reader else "y"])


@pytest.mark.parametrize("op", [Op.ADD, Op.SUB, Op.MUL, Op.MAX, Op.MIN])
def test_codes_are_the_exact_values(op):
    c = np.array([0.375, -6.0, float(np.float32(0.1))])
    g = graph(op, c)
    assert type_constants(g)
    t = g.t("c")
    assert t.type.frac == 27  # float32 0.1 = 13421773 * 2**-27
    assert [Fraction(int(k)) / 2**t.type.frac for k in t.data] == [Fraction(float(v)) for v in c]
    assert t.data.dtype == np.int64 and t.type.min_code <= t.data.min() and t.data.max() <= t.type.max_code
    assert not type_constants(g), "a second run changes nothing"


def test_a_constant_shared_with_a_float_stage_is_copied():
    g = graph(Op.ADD, np.array([0.5, 1.0, -2.0]), extra_reader=Op.AFFINE)
    type_constants(g)
    assert g.t("c").type is None and g.t("c").data.dtype == np.float64, "the float stage keeps its float constant"
    typed = g.t(g.node("n").inputs[1])
    assert typed.name != "c" and typed.type is not None and typed.data.tolist() == [1, 2, -4]


def test_float_stage_constants_stay_float():
    t = {"x": Tensor("x", (3,), X), "y": Tensor("y", (3,))}
    for k in ("g", "b", "m", "v"):
        t[k] = Tensor(k, (3,), None, np.ones(3))
    g = Graph("g", t, [Node("bn", Op.BATCHNORM, ["x", "g", "b", "m", "v"], ["y"], BatchNormAttrs(1e-5))], ["x"], ["y"])
    assert not type_constants(g)
    assert all(g.t(k).type is None for k in "gbmv")


def test_a_constant_wider_than_62_bits_is_refused():
    g = graph(Op.ADD, np.array([2.0**40, 2.0**-30, 1.0]))
    g.node("n").meta["onnx_name"] = "my_add"
    with pytest.raises(NodeError) as e:
        type_constants(g)
    msg = str(e.value)
    assert "my_add" in msg and "'c'" in msg and "71 bits" in msg and "fewer significant bits" in msg


def test_mul_by_a_float_constant_compiles(tmp_path):
    b = Builder([1, 4])
    y = b.op("Mul", [b.quant("x", 6, 2), b.const([0.375, -1.25, 3.0, 0.1])])
    onnx.save(b.model(y), str(tmp_path / "m.onnx"))
    g = run_pipeline(from_qonnx(tmp_path / "m.onnx"))
    assert g.t(g.outputs[0]).type.frac == 2 + 27


@pytest.mark.parametrize("op", ["Sigmoid", "Tanh", "HardSigmoid", "ReduceMean"])
def test_a_float_stage_without_its_integer_map_is_refused(tmp_path, op):
    b = Builder([1, 3])
    x = b.quant("x", 6, 2)
    y = b.op(op, [x], name="my_stage", **({"axes": [1]} if op == "ReduceMean" else {}))
    onnx.save(b.model(y), str(tmp_path / "m.onnx"))
    with pytest.raises(NodeError) as e:
        run_pipeline(from_qonnx(tmp_path / "m.onnx"))
    assert "my_stage" in str(e.value) and "QuantIdentity" in str(e.value)
