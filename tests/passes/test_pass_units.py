"""Each pass of ``l1ml.passes.PIPELINE`` run alone on a tiny hand-built graph: the exact nodes, wiring,
types and constants it leaves, the NodeError (naming the node and the remedy) where it refuses, and
``False`` where it has nothing to do."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from l1ml.backends.emulate import Emulator
from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import (
    AffineAttrs,
    BatchNormAttrs,
    ConcatAttrs,
    NoAttrs,
    Op,
    QuantAttrs,
    ReshapeAttrs,
    TransposeAttrs,
)
from l1ml.ir.types import FixedType, Overflow, Rounding
from l1ml.passes.absorb_quant import absorb_quant
from l1ml.passes.fold_batchnorm import fold_batchnorm
from l1ml.passes.fold_transpose_into_dense import fold_transpose_into_dense
from l1ml.passes.fuse_dense_bias import fuse_dense_bias
from l1ml.passes.fuse_requant import fuse_requant
from l1ml.passes.fuse_transposes import fuse_transposes
from l1ml.passes.infer_types import infer_types
from l1ml.passes.materialise_affine import materialise_affine
from l1ml.passes.push_affine import push_affine
from l1ml.passes.remove_dead import remove_dead
from l1ml.passes.remove_redundant_quantize import remove_redundant_quantize
from l1ml.passes.require_types import require_types
from l1ml.passes.type_constants import type_constants
from l1ml.passes.type_mask_inputs import MASK_TYPE, type_mask_inputs

S8_4 = FixedType(True, 8, 4)
S4_0 = FixedType(True, 4, 0)


def tensor(name: str, shape: tuple[int, ...], ty: FixedType | None = None, data=None) -> Tensor:
    if data is not None:
        data = np.asarray(data, dtype=np.float64 if ty is None else np.int64)
    return Tensor(name, shape, ty, data)


def node(name: str, op: Op, ins: list[str], outs: list[str], attrs: object = None) -> Node:
    return Node(name, op, list(ins), list(outs), attrs or NoAttrs(), {"onnx_name": f"/{name}/{op.value}"})


def graph(tensors: list[Tensor], nodes: list[Node], inputs: list[str], outputs: list[str]) -> Graph:
    g = Graph("g", {t.name: t for t in tensors}, nodes, inputs, outputs)
    g.verify()
    return g


def quant(name: str, src: str, dst: str, scale: tuple[float, ...] = (2.0**-4,), bits: int = 8, signed: bool = True,
          rounding: str = "ROUND", zero_point: float = 0.0, narrow: bool = False) -> Node:
    return node(name, Op.QUANT, [src], [dst], QuantAttrs(scale, zero_point, bits, signed, narrow, rounding))


def affine(name: str, src: str, dst: str, a: tuple[str, ...], b: tuple[str, ...] = ("0",)) -> Node:
    return node(name, Op.AFFINE, [src], [dst], AffineAttrs(a, b))


def names(g: Graph) -> list[str]:
    return [n.name for n in g.nodes]


def refused(fn, g: Graph, *words: str) -> None:
    with pytest.raises(NodeError) as e:
        fn(g)
    msg = str(e.value)
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


def run_codes(g: Graph, x: np.ndarray, out: str | None = None) -> np.ndarray:
    return Emulator(g).run({g.inputs[0]: np.asarray(x, dtype=np.int64)})[out or g.outputs[0]]


# ---- fuse_dense_bias --------------------------------------------------------------------------------


def dense_add_graph(bias_shape: tuple[int, ...] = (3,), bias_first: bool = False, outputs=("y",)) -> Graph:
    bias = np.arange(math.prod(bias_shape), dtype=np.float64).reshape(bias_shape) * 0.5 - 0.5
    add_ins = ["b", "d"] if bias_first else ["d", "b"]
    y_shape = np.broadcast_shapes((3,), bias_shape)
    return graph(
        [tensor("x", (2,), S8_4), tensor("W", (2, 3), S4_0, [[1, 2, 3], [4, 5, 6]]), tensor("b", bias_shape, None, bias),
         tensor("d", (3,)), tensor("y", y_shape)],
        [node("fc", Op.DENSE, ["x", "W"], ["d"]), node("add", Op.ADD, add_ins, ["y"])],
        ["x"], list(outputs))


@pytest.mark.parametrize("bias_first", [False, True])
def test_fuse_dense_bias_moves_the_constant_into_the_dense(bias_first):
    g = dense_add_graph(bias_first=bias_first)
    assert fuse_dense_bias(g) is True
    assert names(g) == ["fc"]
    assert g.node("fc").inputs == ["x", "W", "b"] and g.node("fc").outputs == ["d"]
    assert g.outputs == ["d"] and "y" not in g.tensors
    assert g.t("b").data.tolist() == [-0.5, 0.0, 0.5]


def test_fuse_dense_bias_squeezes_a_broadcast_bias_to_a_vector():
    g = dense_add_graph(bias_shape=(1, 3))
    assert fuse_dense_bias(g)
    assert g.t("b").shape == (3,) and g.t("b").data.shape == (3,)
    assert g.t("b").data.tolist() == [-0.5, 0.0, 0.5]


def test_fuse_dense_bias_takes_a_quantized_constant_bias():
    g = dense_add_graph()
    g.tensors["bq"] = tensor("bq", (3,))
    g.nodes.insert(0, quant("bias_q", "b", "bq"))
    g.node("add").inputs = ["d", "bq"]
    assert fuse_dense_bias(g)
    assert names(g) == ["bias_q", "fc"] and g.node("fc").inputs == ["x", "W", "bq"]


@pytest.mark.parametrize("case", ["output", "second_user", "row_varying_bias", "bias_is_activation"])
def test_fuse_dense_bias_leaves_what_it_cannot_fuse(case):
    g = dense_add_graph(bias_shape=(2, 3) if case == "row_varying_bias" else (3,),
                        outputs=("d", "y") if case == "output" else ("y",))
    if case == "second_user":
        g.tensors["r"] = tensor("r", (3,))
        g.nodes.append(node("relu", Op.RELU, ["d"], ["r"]))
        g.outputs.append("r")
    if case == "bias_is_activation":
        g.inputs.append("b")
        g.t("b").data = None
    before = g.to_json()
    assert fuse_dense_bias(g) is False
    assert g.to_json() == before


# ---- absorb_quant ------------------------------------------------------------------------------------


def test_absorb_quant_input_quantizer_becomes_the_input_type():
    g = graph([tensor("x", (3,)), tensor("xq", (3,)), tensor("y", (3,))],
              [quant("inq", "x", "xq", bits=8, rounding="ROUND"), node("relu", Op.RELU, ["xq"], ["y"])],
              ["x"], ["y"])
    assert absorb_quant(g) is True
    assert names(g) == ["relu"] and g.node("relu").inputs == ["x"]
    assert g.t("x").type == FixedType(True, 8, 4, Rounding.HALF_EVEN, Overflow.SAT)
    assert "xq" not in g.tensors


def test_absorb_quant_folds_a_weight_into_codes():
    w = [[0.5, -0.25], [1.0, 0.125], [0.3, 0.0]]
    g = graph([tensor("x", (3,), S8_4), tensor("W", (3, 2), None, w), tensor("Wq", (3, 2)), tensor("y", (2,))],
              [quant("wq", "W", "Wq", scale=(2.0**-3,)), node("fc", Op.DENSE, ["x", "Wq"], ["y"])], ["x"], ["y"])
    assert absorb_quant(g)
    assert names(g) == ["fc"] and "W" not in g.tensors
    wq = g.t("Wq")
    assert wq.data.dtype == np.int64 and wq.data.tolist() == [[4, -2], [8, 1], [2, 0]]
    assert wq.type == FixedType(True, 5, 3)


def test_absorb_quant_puts_per_channel_weight_codes_on_the_finest_grid():
    g = graph([tensor("x", (2,), S8_4), tensor("W", (2, 2), None, [[0.5, -1.5], [0.25, 2.0]]), tensor("Wq", (2, 2)),
               tensor("y", (2,))],
              [quant("wq", "W", "Wq", scale=(2.0**-3, 2.0**-1)), node("fc", Op.DENSE, ["x", "Wq"], ["y"])],
              ["x"], ["y"])
    assert absorb_quant(g)
    assert g.t("Wq").data.tolist() == [[4, -12], [2, 16]]
    assert g.t("Wq").type == FixedType(True, 6, 3)


def test_absorb_quant_inner_activation_quant_becomes_a_quantize():
    g = graph([tensor("x", (3,), S8_4), tensor("r", (3,)), tensor("q", (3,))],
              [node("relu", Op.RELU, ["x"], ["r"]), quant("act", "r", "q", (2.0**-2,), 4, False, "FLOOR")],
              ["x"], ["q"])
    assert absorb_quant(g)
    act = g.node("act")
    assert act.op is Op.QUANTIZE and act.attrs == NoAttrs() and act.inputs == ["r"] and act.outputs == ["q"]
    assert g.t("q").type == FixedType(False, 4, 2, Rounding.TRUNC, Overflow.SAT)


def test_absorb_quant_float_scale_activation_becomes_affine_quantize_affine():
    s = Fraction(0.1)
    g = graph([tensor("x", (3,), S8_4), tensor("r", (3,)), tensor("q", (3,))],
              [node("relu", Op.RELU, ["x"], ["r"]), quant("act", "r", "q", (0.1,))], ["x"], ["q"])
    assert absorb_quant(g)
    assert [(n.name, n.op) for n in g.nodes] == [
        ("relu", Op.RELU), ("act_inv_scale", Op.AFFINE), ("act", Op.QUANTIZE), ("act_scale", Op.AFFINE)]
    inv, q, scale = g.nodes[1:]
    assert inv.inputs == ["r"] and inv.attrs == AffineAttrs((str(1 / s),), ("0",))
    assert q.inputs == inv.outputs and scale.inputs == q.outputs and scale.outputs == ["q"]
    assert g.t(q.outputs[0]).type == FixedType(True, 8, 0, Rounding.HALF_EVEN, Overflow.SAT)
    assert scale.attrs == AffineAttrs((str(s),), ("0",))


def test_absorb_quant_float_scale_input_records_the_scale():
    g = graph([tensor("x", (3,)), tensor("xq", (3,)), tensor("y", (3,))],
              [quant("inq", "x", "xq", (0.1,), bits=6), node("relu", Op.RELU, ["xq"], ["y"])], ["x"], ["y"])
    assert absorb_quant(g)
    assert g.t("x").type == FixedType(True, 6, 0, Rounding.HALF_EVEN, Overflow.SAT)
    assert g.meta["scale"] == {"x": str(Fraction(0.1))}
    assert [(n.name, n.op, n.inputs, n.outputs) for n in g.nodes] == [
        ("inq_scale", Op.AFFINE, ["x"], ["xq"]), ("relu", Op.RELU, ["xq"], ["y"])]
    assert g.node("inq_scale").attrs == AffineAttrs((str(Fraction(0.1)),), ("0",))


def test_absorb_quant_float_scale_weight_gets_an_affine_after_the_layer():
    g = graph([tensor("x", (2,), S8_4), tensor("W", (2, 2), None, [[0.3, -0.2], [0.1, 0.5]]), tensor("Wq", (2, 2)),
               tensor("b", (2,), None, [0.75, -1.5]), tensor("y", (2,))],
              [quant("wq", "W", "Wq", (0.1,)), node("fc", Op.DENSE, ["x", "Wq", "b"], ["y"])], ["x"], ["y"])
    assert absorb_quant(g)
    assert g.t("Wq").data.tolist() == [[3, -2], [1, 5]] and g.t("Wq").type == FixedType(True, 4, 0)
    assert [(n.name, n.op) for n in g.nodes] == [("fc", Op.DENSE), ("fc_affine", Op.AFFINE)]
    fc, aff = g.nodes
    assert fc.inputs == ["x", "Wq"] and aff.inputs == fc.outputs and aff.outputs == ["y"]
    assert aff.attrs == AffineAttrs((str(Fraction(0.1)),), ("3/4", "-3/2"))
    assert "b" not in g.tensors


@pytest.mark.parametrize("attrs,words", [
    (dict(zero_point=1.0), ("symmetric (zero point 0)", "Int8ActPerTensorFixedPoint")),
    (dict(scale=(2.0**-2, 2.0**-3)), ("per-channel activation scales", "per-tensor")),
    (dict(bits=30), ("30-bit quantization", "bit_width in range")),
    (dict(rounding="STOCHASTIC"), ("rounding mode STOCHASTIC", "ROUND or FLOOR")),
    (dict(scale=(2.0**-40,)), ("scale 2^-40 is outside the supported range",)),
])
def test_absorb_quant_refuses_an_activation_quantizer_with_the_remedy(attrs, words):
    g = graph([tensor("x", (2,), S8_4), tensor("r", (2,)), tensor("q", (2,))],
              [node("relu", Op.RELU, ["x"], ["r"]), quant("my_quant", "r", "q", **attrs)], ["x"], ["q"])
    refused(absorb_quant, g, "Quant node 'my_quant'", "/my_quant/Quant", *words)


def test_absorb_quant_refuses_a_quantized_constant_as_model_output():
    g = graph([tensor("x", (2,), S8_4), tensor("y", (2,)), tensor("c", (2,), None, [0.5, 1.0]), tensor("q", (2,))],
              [node("relu", Op.RELU, ["x"], ["y"]), quant("my_quant", "c", "q")], ["x"], ["y", "q"])
    refused(absorb_quant, g, "Quant node 'my_quant'", "the model's output is a quantized constant",
            "whose output its layers produce")


def test_absorb_quant_without_quant_changes_nothing():
    g = graph([tensor("x", (3,), S8_4), tensor("y", (3,))], [node("relu", Op.RELU, ["x"], ["y"])], ["x"], ["y"])
    before = g.to_json()
    assert absorb_quant(g) is False and g.to_json() == before


# ---- type_mask_inputs ------------------------------------------------------------------------------


def mask_graph(mask_also_added: bool = False) -> Graph:
    ts = [tensor("x", (4,), S8_4), tensor("m", (4,)), tensor("y", (4,)), tensor("z", (4,))]
    nodes = [node("mul", Op.MUL, ["x", "m"], ["y"])]
    nodes.append(node("add", Op.ADD, ["m" if mask_also_added else "y", "x"], ["z"]))
    return graph(ts, nodes, ["x", "m"], ["y", "z"])


def test_type_mask_inputs_gives_a_mask_one_bit():
    g = mask_graph()
    assert type_mask_inputs(g) is True
    assert g.t("m").type == MASK_TYPE == FixedType(False, 1, 0, Rounding.TRUNC, Overflow.SAT)
    assert g.meta["mask_inputs"] == ["m"]
    assert g.t("x").type == S8_4
    assert type_mask_inputs(g) is False and g.meta["mask_inputs"] == ["m"]


def test_type_mask_inputs_leaves_an_input_that_is_not_only_multiplied():
    g = mask_graph(mask_also_added=True)
    assert type_mask_inputs(g) is False
    assert g.t("m").type is None and "mask_inputs" not in g.meta


# ---- fuse_transposes ----------------------------------------------------------------------------------


def transposes(p1: tuple[int, ...], p2: tuple[int, ...], share_first: bool = False) -> Graph:
    shape = (2, 3, 4)
    mid = tuple(shape[i] for i in p1)
    out = tuple(mid[i] for i in p2)
    ts = [tensor("x", shape, S8_4), tensor("a", mid), tensor("b", out), tensor("y", out)]
    nodes = [node("t1", Op.TRANSPOSE, ["x"], ["a"], TransposeAttrs(p1)),
             node("t2", Op.TRANSPOSE, ["a"], ["b"], TransposeAttrs(p2)), node("relu", Op.RELU, ["b"], ["y"])]
    outputs = ["y"]
    if share_first:
        ts.append(tensor("r", mid))
        nodes.append(node("relu_a", Op.RELU, ["a"], ["r"]))
        outputs.append("r")
    return graph(ts, nodes, ["x"], outputs)


def test_fuse_transposes_merges_two_into_their_composition():
    g = transposes((1, 0, 2), (0, 2, 1))
    assert fuse_transposes(g) is True
    assert names(g) == ["t2", "relu"] and "a" not in g.tensors
    assert g.node("t2").inputs == ["x"] and g.node("t2").attrs == TransposeAttrs((1, 2, 0))
    x = np.arange(24).reshape(2, 3, 4)
    assert np.array_equal(x.transpose(1, 0, 2).transpose(0, 2, 1), x.transpose(g.node("t2").attrs.perm))


def test_fuse_transposes_drops_a_pair_that_cancels():
    g = transposes((1, 0, 2), (1, 0, 2))
    assert fuse_transposes(g)
    assert names(g) == ["relu"] and g.node("relu").inputs == ["x"]
    assert set(g.tensors) == {"x", "y"}


def test_fuse_transposes_keeps_a_transpose_read_twice():
    g = transposes((1, 0, 2), (0, 2, 1), share_first=True)
    before = g.to_json()
    assert fuse_transposes(g) is False and g.to_json() == before


# ---- fold_transpose_into_dense -------------------------------------------------------------------------

W6 = np.array([[1, -1], [2, 0], [3, 5], [-4, 1], [5, 2], [-6, 7]])


def transpose_dense(share_w: bool = False) -> Graph:
    ts = [tensor("x", (2, 3), S4_0), tensor("t", (3, 2)), tensor("r", (6,)), tensor("rr", (6,)),
          tensor("W", (6, 2), S4_0, W6), tensor("y", (2,))]
    nodes = [node("tr", Op.TRANSPOSE, ["x"], ["t"], TransposeAttrs((1, 0))),
             node("flat", Op.RESHAPE, ["t"], ["r"], ReshapeAttrs((6,))),
             node("relu", Op.RELU, ["r"], ["rr"]), node("fc", Op.DENSE, ["rr", "W"], ["y"])]
    inputs, outputs = ["x"], ["y"]
    if share_w:
        ts += [tensor("v", (6,), S4_0), tensor("z", (2,))]
        nodes.append(node("fc2", Op.DENSE, ["v", "W"], ["z"]))
        inputs.append("v")
        outputs.append("z")
    g = graph(ts, nodes, inputs, outputs)
    infer_types(g)
    return g


def test_fold_transpose_into_dense_permutes_the_weight_rows():
    g = transpose_dense()
    x = np.random.default_rng(0).integers(-8, 8, size=(300, 2, 3))
    before = run_codes(g, x)
    assert fold_transpose_into_dense(g) is True
    assert names(g) == ["flat", "relu", "fc"] and "t" not in g.tensors
    assert g.node("flat").inputs == ["x"] and g.node("flat").attrs == ReshapeAttrs((6,))
    assert g.t("W").data.tolist() == W6[[0, 2, 4, 1, 3, 5]].tolist()
    assert np.array_equal(run_codes(g, x), before)


def test_fold_transpose_into_dense_leaves_a_weight_another_dense_reads():
    g = transpose_dense(share_w=True)
    before = g.to_json()
    assert fold_transpose_into_dense(g) is False and g.to_json() == before


def test_fold_transpose_into_dense_needs_a_flattening_reshape():
    g = graph([tensor("x", (2, 3), S4_0), tensor("t", (3, 2)), tensor("r", (2, 3)),
               tensor("W", (3, 2), S4_0, W6[:3]), tensor("y", (2, 2))],
              [node("tr", Op.TRANSPOSE, ["x"], ["t"], TransposeAttrs((1, 0))),
               node("flat", Op.RESHAPE, ["t"], ["r"], ReshapeAttrs((2, 3))),
               node("fc", Op.DENSE, ["r", "W"], ["y"])], ["x"], ["y"])
    before = g.to_json()
    assert fold_transpose_into_dense(g) is False and g.to_json() == before


# ---- type_constants ------------------------------------------------------------------------------------


def concat_graph(c) -> Graph:
    c = np.asarray(c, dtype=np.float64)
    return graph([tensor("x", (2,), FixedType(True, 4, 1)), tensor("c", c.shape, None, c), tensor("y", (4,))],
                 [node("cat", Op.CONCAT, ["x", "c"], ["y"], ConcatAttrs(0))], ["x"], ["y"])


def test_type_constants_gives_a_concat_constant_its_exact_codes():
    g = concat_graph([0.75, -2.0])
    assert type_constants(g) is True
    assert g.t("c").data.dtype == np.int64 and g.t("c").data.tolist() == [3, -8]
    assert g.t("c").type == FixedType(True, 4, 2)
    assert g.node("cat").inputs == ["x", "c"]
    assert type_constants(g) is False


def test_type_constants_refuses_a_constant_that_is_not_finite():
    g = concat_graph([0.5, math.nan])
    refused(type_constants, g, "Concat node 'cat'", "/cat/Concat", "constant 'c' is not finite",
            "export finite constants")


# ---- push_affine ----------------------------------------------------------------------------------------


def test_push_affine_moves_a_positive_scale_below_a_relu():
    g = graph([tensor("x", (3,), S8_4), tensor("s", (3,)), tensor("y", (3,))],
              [affine("scale", "x", "s", ("3/5",)), node("relu", Op.RELU, ["s"], ["y"])], ["x"], ["y"])
    assert push_affine(g) is True
    assert [(n.name, n.inputs, n.outputs) for n in g.nodes] == [("relu", ["x"], ["s"]), ("scale", ["s"], ["y"])]
    assert g.node("scale").attrs == AffineAttrs(("3/5",), ("0",))
    assert g.t("s").type == FixedType(False, 7, 4)


@pytest.mark.parametrize("a,b", [(("-3/5",), ("0",)), (("3/5",), ("1/4",))])
def test_push_affine_keeps_a_negative_or_offset_affine_above_a_relu(a, b):
    g = graph([tensor("x", (3,), S8_4), tensor("s", (3,)), tensor("y", (3,))],
              [affine("scale", "x", "s", a, b), node("relu", Op.RELU, ["s"], ["y"])], ["x"], ["y"])
    assert push_affine(g) is False
    assert [(n.name, n.inputs) for n in g.nodes] == [("scale", ["x"]), ("relu", ["s"])]


def test_push_affine_composes_adjacent_affines():
    g = graph([tensor("x", (3,), S8_4), tensor("s", (3,)), tensor("y", (3,))],
              [affine("first", "x", "s", ("2/3",), ("1/5",)), affine("second", "s", "y", ("3",), ("-1",))],
              ["x"], ["y"])
    assert push_affine(g) is True
    assert names(g) == ["first"] and g.node("first").outputs == ["y"] and "s" not in g.tensors
    assert g.node("first").attrs == AffineAttrs(("2",), ("-2/5",))


def test_push_affine_moves_a_scale_through_a_dense_and_takes_its_bias():
    g = graph([tensor("x", (2,), S8_4), tensor("s", (2,)), tensor("W", (2, 2), S4_0, [[1, 2], [3, 4]]),
               tensor("b", (2,), FixedType(True, 4, 2), [3, -5]), tensor("y", (2,))],
              [affine("scale", "x", "s", ("3/5",)), node("fc", Op.DENSE, ["s", "W", "b"], ["y"])], ["x"], ["y"])
    assert push_affine(g) is True
    assert [(n.name, n.op) for n in g.nodes] == [("fc", Op.DENSE), ("fc_affine", Op.AFFINE)]
    fc, aff = g.nodes
    assert fc.inputs == ["x", "W"] and aff.inputs == fc.outputs and aff.outputs == ["y"]
    assert aff.attrs == AffineAttrs(("3/5",), ("3/4", "-5/4"))
    assert "s" not in g.tensors and "b" not in g.tensors


@pytest.mark.parametrize("op,bias", [(Op.ADD, "1/8"), (Op.SUB, "3/8")])
def test_push_affine_moves_equal_scales_below_an_add_or_sub(op, bias):
    g = graph([tensor("x1", (3,), S8_4), tensor("x2", (3,), S4_0), tensor("s1", (3,)), tensor("s2", (3,)),
               tensor("y", (3,))],
              [affine("a1", "x1", "s1", ("3/5",), ("1/4",)), affine("a2", "x2", "s2", ("3/5",), ("-1/8",)),
               node("sum", op, ["s1", "s2"], ["y"])], ["x1", "x2"], ["y"])
    assert push_affine(g) is True
    assert names(g) == ["sum", "a1"]
    assert g.node("sum").inputs == ["x1", "x2"] and g.node("a1").inputs == g.node("sum").outputs
    assert g.node("a1").outputs == ["y"] and g.node("a1").attrs == AffineAttrs(("3/5",), (bias,))


def test_push_affine_keeps_an_affine_on_a_float_tensor():
    g = graph([tensor("x", (3,)), tensor("s", (3,)), tensor("y", (3,))],
              [affine("scale", "x", "s", ("3/5",)), node("relu", Op.RELU, ["s"], ["y"])], ["x"], ["y"])
    assert push_affine(g) is False and names(g) == ["scale", "relu"]


# ---- infer_types ------------------------------------------------------------------------------------------


def dense_graph(w_type: FixedType | None = FixedType(True, 3, 1), bias_shape: tuple[int, ...] | None = None) -> Graph:
    ts = [tensor("x", (2,), FixedType(True, 4, 2)), tensor("W", (2, 2), w_type, [[1, -2], [3, 0]]),
          tensor("d", (2,)), tensor("r", (2,)), tensor("y", (2,))]
    ins = ["x", "W"]
    if bias_shape is not None:
        ts.append(tensor("b", bias_shape, FixedType(True, 4, 0), np.ones(bias_shape)))
        ins.append("b")
    return graph(ts, [node("fc", Op.DENSE, ins, ["d"]), node("relu", Op.RELU, ["d"], ["r"]),
                      node("add", Op.ADD, ["r", "x"], ["y"])], ["x"], ["y"])


def test_infer_types_gives_exact_interval_types():
    g = dense_graph()
    assert infer_types(g) is True
    # column 0: x*1 + x*3 in [-32, 28]; column 1: x*-2 in [-14, 16]; on grid 2^-3
    assert g.t("d").type == FixedType(True, 6, 3)
    assert g.t("r").type == FixedType(False, 5, 3)
    assert g.t("y").type == FixedType(True, 7, 3)
    assert infer_types(g) is False


def test_infer_types_leaves_tensors_after_a_float_input_untyped():
    g = dense_graph()
    g.t("x").type = None
    assert infer_types(g) is False
    assert all(g.t(k).type is None for k in ("d", "r", "y"))


def test_infer_types_refuses_a_float_weight():
    refused(infer_types, dense_graph(w_type=None), "Dense node 'fc'", "/fc/Dense", "the weight is not quantized",
            "Int8WeightPerTensorFixedPoint")


def test_infer_types_refuses_a_bias_of_the_wrong_shape():
    refused(infer_types, dense_graph(bias_shape=(3,)), "Dense node 'fc'", "/fc/Dense",
            "the bias has shape (3,) but the layer has 2 outputs", "one bias per output")


def test_infer_types_refuses_a_product_wider_than_62_bits():
    g = graph([tensor("x", (2,), FixedType(True, 32, 0)), tensor("z", (2,), FixedType(True, 32, 0)),
               tensor("y", (2,))], [node("prod", Op.MUL, ["x", "z"], ["y"])], ["x", "z"], ["y"])
    refused(infer_types, g, "Mul node 'prod'", "needs 64 bits, more than 62", "split the layer")


def test_infer_types_refuses_a_quantize_that_shifts_beyond_62_bits():
    g = graph([tensor("x", (2,), FixedType(True, 40, 0)), tensor("q", (2,), FixedType(True, 8, 30))],
              [node("rq", Op.QUANTIZE, ["x"], ["q"])], ["x"], ["q"])
    refused(infer_types, g, "Quantize node 'rq'", "shifts 40-bit codes left by 30 bits", "scales closer together")


# ---- fold_batchnorm -----------------------------------------------------------------------------------------

EPS = 2.0**-10
W_BN = [[1, -2], [3, 0]]


def bn_graph(gamma, beta, mean, var, eps=EPS, bias=None, outputs=("y",), share_w=False) -> Graph:
    ts = [tensor("x", (2,), FixedType(True, 4, 2)), tensor("W", (2, 2), FixedType(True, 3, 1), W_BN),
          tensor("d", (2,)), tensor("y", (2,))]
    for k, v in zip(("gamma", "beta", "mean", "var"), (gamma, beta, mean, var), strict=True):
        ts.append(tensor(k, (2,), None, v))
    ins = ["x", "W"]
    if bias is not None:
        ts.append(tensor("b", (2,), FixedType(True, 4, 2), bias))
        ins.append("b")
    nodes = [node("fc", Op.DENSE, ins, ["d"]),
             node("bn", Op.BATCHNORM, ["d", "gamma", "beta", "mean", "var"], ["y"], BatchNormAttrs(eps))]
    outputs = list(outputs)
    if share_w:
        ts.append(tensor("z", (2,)))
        nodes.append(node("fc2", Op.DENSE, ["x", "W"], ["z"]))
        outputs.append("z")
    g = graph(ts, nodes, ["x"], outputs)
    infer_types(g)
    return g


ALL_X = np.array([[a, b] for a in range(-8, 8) for b in range(-8, 8)])


def real_dense(codes: np.ndarray, bias=None) -> np.ndarray:
    d = (codes * 2.0**-2) @ (np.array(W_BN) * 2.0**-1)
    return d if bias is None else d + np.asarray(bias) * 2.0**-2


def real_bn(d: np.ndarray, gamma, beta, mean, var, eps=EPS) -> np.ndarray:
    return (d - np.asarray(mean)) * (np.asarray(gamma) / np.sqrt(np.asarray(var) + eps)) + np.asarray(beta)


def real_out(g: Graph, name: str) -> np.ndarray:
    infer_types(g)
    return run_codes(g, ALL_X, name) * 2.0**-g.t(name).type.frac


def test_fold_batchnorm_folds_a_power_of_two_batchnorm_exactly():
    # var + eps == 4 in float32 and float64: factors gamma / 2 = 2 and 1/2
    params = ([4.0, 1.0], [0.25, -0.5], [0.5, 0.0], [4 - EPS] * 2)
    g = bn_graph(*params)
    assert fold_batchnorm(g) is True
    assert names(g) == ["fc"] and g.outputs == ["d"]
    assert g.node("fc").inputs == ["x", "fc_weight_folded", "fc_bias_folded"]
    w = g.t("fc_weight_folded")
    assert w.data.tolist() == [[4, -2], [12, 0]] and w.type == FixedType(True, 5, 2)
    bias = g.t("fc_bias_folded")
    assert (bias.data * 2.0**-bias.type.frac).tolist() == [-0.75, -0.5]
    assert bias.type.min_code <= bias.data.min() and bias.data.max() <= bias.type.max_code
    assert not {"y", "gamma", "beta", "mean", "var"} & set(g.tensors)
    assert np.array_equal(real_out(g, "d"), real_bn(real_dense(ALL_X), *params))


def test_fold_batchnorm_leaves_a_trained_batchnorm_for_fuse_requant():
    g = bn_graph([0.9, 1.1], [0.1, 0.0], [0.3, 0.0], [1.3, 0.8])
    before = g.to_json()
    assert fold_batchnorm(g) is False and g.to_json() == before


def test_fold_batchnorm_refuses_factors_spread_beyond_62_bits():
    g = bn_graph([2.0**61, 1.0], [0.0, 0.0], [0.0, 0.0], [1 - EPS] * 2)
    refused(fold_batchnorm, g, "BatchNorm node 'bn'", "/bn/BatchNorm", "2^0 .. 2^61", "spread the folded weights",
            "merge_bn")


def test_fold_batchnorm_refuses_a_signed_weight_spread_to_63_bits_with_the_remedy():
    g = bn_graph([2.0**60, 1.0], [0.0, 0.0], [0.0, 0.0], [1 - EPS] * 2)
    refused(fold_batchnorm, g, "BatchNorm node 'bn'", "spread the folded weights", "merge_bn")


@pytest.mark.parametrize("params,bias", [
    (([0.5, 0.5], [0.0, 0.0], [0.5, 0.5], [1.0, 1.0]), None),
    (([0.125, 0.125], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]), [1, -1]),
])
def test_fold_batchnorm_folds_an_exact_factor_below_one(params, bias):
    g = bn_graph(*params, eps=0.0, bias=bias)
    assert fold_batchnorm(g) is True
    assert names(g) == ["fc"]
    assert np.array_equal(real_out(g, "d"), real_bn(real_dense(ALL_X, bias), *params, eps=0.0))


def test_fold_batchnorm_keeps_a_dense_output_that_is_also_a_model_output():
    params = ([4.0, 1.0], [0.25, -0.5], [0.5, 0.0], [4 - EPS] * 2)
    g = bn_graph(*params, outputs=("d", "y"))
    fold_batchnorm(g)
    if all(n.op is not Op.BATCHNORM for n in g.nodes):
        assert len(set(g.outputs)) == 2
        assert np.array_equal(real_out(g, g.outputs[0]), real_dense(ALL_X))


def test_fold_batchnorm_leaves_a_shared_weight_intact_for_its_other_reader():
    params = ([4.0, 1.0], [0.25, -0.5], [0.5, 0.0], [4 - EPS] * 2)
    g = bn_graph(*params, share_w=True)
    fold_batchnorm(g)
    assert np.array_equal(real_out(g, "z"), real_dense(ALL_X))


# ---- fuse_requant ---------------------------------------------------------------------------------------------

Q4 = FixedType(True, 4, 0, Rounding.HALF_EVEN, Overflow.SAT)
CODES4 = np.arange(-8, 8).reshape(-1, 1)


def requant_graph(a: tuple[str, ...] = ("1/3",), b: tuple[str, ...] = ("0",), relu: bool = False,
                  q_type: FixedType = Q4) -> Graph:
    ts = [tensor("x", (1,), S4_0), tensor("s", (1,)), tensor("q", (1,), q_type)]
    nodes = [affine("scale", "x", "s", a, b)]
    if relu:
        ts.append(tensor("r", (1,)))
        nodes.append(node("relu", Op.RELU, ["s"], ["r"]))
    nodes.append(node("act", Op.QUANTIZE, ["r" if relu else "s"], ["q"]))
    return graph(ts, nodes, ["x"], ["q"])


def test_fuse_requant_replaces_affine_and_quantize_by_a_proven_requant():
    g = requant_graph()
    assert fuse_requant(g) is True
    assert [(n.name, n.op, n.inputs, n.outputs) for n in g.nodes] == [("requant_act", Op.REQUANT, ["x"], ["q"])]
    rq = g.nodes[0]
    assert rq.meta["fused"] == ["/scale/Affine"] and rq.meta["onnx_name"] == "/act/Quantize"
    assert rq.attrs.source == f"Affine(x*0.333333) + Quant(to {Q4})"
    assert set(g.tensors) == {"x", "q"}
    want = [round(Fraction(int(k), 3)) for k in CODES4[:, 0]]
    assert run_codes(g, CODES4)[:, 0].tolist() == want


def test_fuse_requant_absorbs_a_relu_on_a_real_tensor():
    u3 = FixedType(False, 3, 0, Rounding.TRUNC, Overflow.SAT)
    g = requant_graph(b=("-1/2",), relu=True, q_type=u3)
    assert fuse_requant(g) is True
    assert names(g) == ["requant_act"] and g.nodes[0].meta["fused"] == ["/scale/Affine", "/relu/ReLU"]
    want = [min(math.floor(max(Fraction(int(k), 3) - Fraction(1, 2), 0)), 7) for k in CODES4[:, 0]]
    assert run_codes(g, CODES4)[:, 0].tolist() == want


def test_fuse_requant_leaves_a_chain_whose_value_is_read_elsewhere():
    g = requant_graph()
    g.tensors["z"] = tensor("z", (1,))
    g.nodes.append(node("relu2", Op.RELU, ["s"], ["z"]))
    g.outputs.append("z")
    before = g.to_json()
    assert fuse_requant(g) is False and g.to_json() == before


def test_fuse_requant_leaves_a_quantize_of_an_integer_tensor():
    g = graph([tensor("x", (1,), S8_4), tensor("q", (1,), Q4)], [node("act", Op.QUANTIZE, ["x"], ["q"])],
              ["x"], ["q"])
    assert fuse_requant(g) is False and names(g) == ["act"]


def test_fuse_requant_refuses_per_channel_parameters_off_the_last_axis():
    g = requant_graph(a=("1/3", "1/5", "1/7"))
    refused(fuse_requant, g, "Affine node 'scale'", "3 per-channel parameters for a last axis of 1",
            "along the channel (last) axis")


def test_fuse_requant_refuses_a_batchnorm_with_nonpositive_variance():
    ts = [tensor("x", (2,), S4_0), tensor("s", (2,)), tensor("q", (2,), Q4)]
    for k, v in (("gamma", [1.0, 1.0]), ("beta", [0.0, 0.0]), ("mean", [0.0, 0.0]), ("var", [1.0, -1.0])):
        ts.append(tensor(k, (2,), None, v))
    g = graph(ts, [node("bn", Op.BATCHNORM, ["x", "gamma", "beta", "mean", "var"], ["s"], BatchNormAttrs(1e-5)),
                   node("act", Op.QUANTIZE, ["s"], ["q"])], ["x"], ["q"])
    refused(fuse_requant, g, "BatchNorm node 'bn'", "var + epsilon is not positive", "trained statistics")


# ---- materialise_affine --------------------------------------------------------------------------------------


def output_affine(a: tuple[str, ...] = ("1/4",), b: tuple[str, ...] = ("0",)) -> Graph:
    g = graph([tensor("x", (2,), S8_4), tensor("r", (2,)), tensor("y", (2,))],
              [node("relu", Op.RELU, ["x"], ["r"]), affine("out_scale", "r", "y", a, b)], ["x"], ["y"])
    infer_types(g)
    return g


def test_materialise_affine_turns_an_output_scale_into_meta():
    g = output_affine(("1/4",))
    assert materialise_affine(g) is True
    assert names(g) == ["relu"] and g.outputs == ["r"] and "y" not in g.tensors
    assert g.meta["scale"] == {"r": "1/4"}


def test_materialise_affine_multiplies_a_scale_already_recorded():
    g = output_affine(("1/4",))
    g.meta["scale"] = {"r": "3"}
    assert materialise_affine(g)
    assert g.meta["scale"] == {"r": "3/4"}


@pytest.mark.parametrize("a,b", [(("1/4",), ("1/2",)), (("1/4", "1/2"), ("0",)), (("1/3",), ("0",))])
def test_materialise_affine_refuses_an_output_affine_with_no_exact_value(a, b):
    refused(materialise_affine, output_affine(a, b), "Affine node 'out_scale'", "/out_scale/Affine",
            "has no exact fixed-point value", "QuantIdentity")


def test_materialise_affine_refuses_an_inner_float_stage():
    g = graph([tensor("x", (2,), S8_4), tensor("s", (2,)), tensor("y", (2,))],
              [node("sig", Op.SIGMOID, ["x"], ["s"]), node("relu", Op.RELU, ["s"], ["y"])], ["x"], ["y"])
    refused(materialise_affine, g, "Sigmoid node 'sig'", "Sigmoid is not followed by a quantizer", "QuantIdentity")


def test_materialise_affine_without_affine_changes_nothing():
    g = graph([tensor("x", (2,), S8_4), tensor("y", (2,))], [node("relu", Op.RELU, ["x"], ["y"])], ["x"], ["y"])
    before = g.to_json()
    assert materialise_affine(g) is False and g.to_json() == before


def test_materialise_affine_names_a_second_output_scale_for_what_it_is():
    g = graph([tensor("x", (2,), S8_4), tensor("r", (2,)), tensor("y1", (2,)), tensor("y2", (2,))],
              [node("relu", Op.RELU, ["x"], ["r"]), affine("s1", "r", "y1", ("1/2",)),
               affine("s2", "r", "y2", ("1/2",))], ["x"], ["y1", "y2"])
    infer_types(g)
    with pytest.raises(NodeError, match="a second output scale of a tensor that already leaves the model"):
        materialise_affine(g)


# ---- remove_redundant_quantize ------------------------------------------------------------------------------


def quantize_graph(src: FixedType, dst: FixedType, q_is_output: bool = False) -> Graph:
    ts = [tensor("x", (3,), src), tensor("q", (3,), dst), tensor("y", (3,))]
    nodes = [node("rq", Op.QUANTIZE, ["x"], ["q"]), node("relu", Op.RELU, ["q"], ["y"])]
    return graph(ts, nodes, ["x"], ["y", "q"] if q_is_output else ["y"])


def test_remove_redundant_quantize_drops_a_quantize_that_holds_every_code():
    g = quantize_graph(FixedType(False, 6, 3), FixedType(True, 8, 4, Rounding.HALF_EVEN, Overflow.SAT))
    assert remove_redundant_quantize(g) is True
    assert names(g) == ["relu"] and g.node("relu").inputs == ["x"] and "q" not in g.tensors


@pytest.mark.parametrize("src,dst,q_is_output", [
    (FixedType(False, 6, 3), FixedType(True, 7, 4, Rounding.HALF_EVEN, Overflow.SAT), False),  # 63 << 1 > 63
    (FixedType(True, 8, 5), FixedType(True, 8, 4, Rounding.HALF_EVEN, Overflow.SAT), False),  # rounds
    (FixedType(True, 8, 4), FixedType(True, 8, 4, Rounding.TRUNC, Overflow.SAT, narrow=True), False),  # -128
    (FixedType(False, 6, 3), FixedType(True, 8, 4), True),  # a model output
])
def test_remove_redundant_quantize_keeps_a_quantize_that_acts(src, dst, q_is_output):
    g = quantize_graph(src, dst, q_is_output)
    assert remove_redundant_quantize(g) is False and names(g) == ["rq", "relu"]


# ---- remove_dead ---------------------------------------------------------------------------------------------


def test_remove_dead_drops_unread_chains_and_their_tensors():
    g = graph([tensor("x", (2,), S8_4), tensor("y", (2,)), tensor("a", (2,)), tensor("b", (2,)),
               tensor("unused", (2,), S8_4, [1, 2])],
              [node("relu", Op.RELU, ["x"], ["y"]), node("dead1", Op.NEG, ["x"], ["a"]),
               node("dead2", Op.ABS, ["a"], ["b"])], ["x"], ["y"])
    assert remove_dead(g) is True
    assert names(g) == ["relu"] and set(g.tensors) == {"x", "y"}
    assert remove_dead(g) is False


# ---- require_types ---------------------------------------------------------------------------------------------


def test_require_types_accepts_a_typed_graph_and_changes_nothing():
    g = dense_graph()
    infer_types(g)
    before = g.to_json()
    assert require_types(g) is False and g.to_json() == before


def test_require_types_refuses_a_float_input():
    g = graph([tensor("x", (2,)), tensor("y", (2,))], [node("relu", Op.RELU, ["x"], ["y"])], ["x"], ["y"])
    refused(require_types, g, "node 'x'", "the model input is float", "QuantIdentity")


@pytest.mark.parametrize("op,words", [
    (Op.BATCHNORM, ("BatchNorm node 'f'", "could not be folded")),
    (Op.AFFINE, ("Affine node 'f'", "real-valued (a float stage)", "QuantIdentity")),
    (Op.TANH, ("Tanh node 'f'", "real-valued (a float stage)", "QuantIdentity")),
])
def test_require_types_refuses_a_float_stage(op, words):
    attrs = {Op.BATCHNORM: BatchNormAttrs(1e-5), Op.AFFINE: AffineAttrs(("1",), ("0",)), Op.TANH: NoAttrs()}[op]
    g = graph([tensor("x", (2,), S8_4), tensor("y", (2,))], [node("f", op, ["x"], ["y"], attrs)], ["x"], ["y"])
    refused(require_types, g, *words)


def test_require_types_refuses_a_float_constant():
    g = graph([tensor("x", (2,), S8_4), tensor("c", (2,), None, [0.5, 1.5]), tensor("y", (2,), S8_4)],
              [node("add", Op.ADD, ["x", "c"], ["y"])], ["x"], ["y"])
    refused(require_types, g, "Add node 'add'", "reads the float constant 'c'", "quantize it")


def test_require_types_refuses_a_grid_finer_than_float32():
    g = graph([tensor("x", (2,), FixedType(True, 8, 64)), tensor("y", (2,), FixedType(True, 16, 128))],
              [node("sq", Op.MUL, ["x", "x"], ["y"])], ["x"], ["y"])
    refused(require_types, g, "Mul node 'sq'", "outside float32's normal range", "add an activation quantizer")
