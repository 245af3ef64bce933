"""The validated frontend: every broken or out-of-range model of issue 13 ends as a named refusal
(the node or file, what is wrong, the remedy) before anything is written, and the limits that
are accepted are exact."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from l1ml.backends.emulate import emulate
from l1ml.errors import InputFileError, L1MLError
from l1ml.frontend.qonnx import from_qonnx
from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec, build_qonnx
from l1ml.passes import run_pipeline
from l1ml.passes.absorb_quant import QUANT_BITS, SCALE_EXPONENTS

# x -> inp_quant -> fc0 (Gemm, w0_quant, b0_quant) -> relu0 -> act0_quant -> out (Identity) -> y
SPEC = MLPSpec(4, QuantSpec(8, 4), (LayerSpec(3, QuantSpec(6, 4), QuantSpec(8, 4), True,
                                              QuantSpec(6, 2, signed=False, rounding="FLOOR")),))


def base() -> onnx.ModelProto:
    return build_qonnx(SPEC, np.random.default_rng(0))


def set_init(m: onnx.ModelProto, name: str, value) -> None:
    for t in m.graph.initializer:
        if t.name == name:
            t.CopyFrom(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
            return
    raise KeyError(name)


def init(m: onnx.ModelProto, name: str) -> np.ndarray:
    return numpy_helper.to_array(next(t for t in m.graph.initializer if t.name == name)).copy()


def node(m: onnx.ModelProto, name: str):
    return next(n for n in m.graph.node if n.name == name)


def deleted_node(m):
    m.graph.node.remove(node(m, "fc0"))


def output_unproduced(m):
    m.graph.output[0].name = "nobody"


def self_loop(m):
    n = node(m, "relu0")
    n.input[0] = n.output[0]


def cycle(m):
    node(m, "relu0").input[0] = "act0_q"  # relu0 -> act0_quant -> relu0


def two_writers(m):
    node(m, "relu0").output[0] = "fc0"


def writes_an_input(m):
    node(m, "relu0").output[0] = "x"


def input_shadowed(m):
    m.graph.initializer.append(numpy_helper.from_array(np.zeros((1, 4), np.float32), "x"))


def hidden_output(m):
    m.graph.output.append(helper.make_tensor_value_info("fc0", TensorProto.FLOAT, [1, 3]))


def output_is_input(m):
    m.graph.output[0].CopyFrom(helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]))


def dim(value):
    def mutate(m):
        d = m.graph.input[0].type.tensor_type.shape.dim[1]
        if isinstance(value, str):
            d.dim_param = value
        else:
            d.dim_value = value
    return mutate


def nan_weight(m):
    w = init(m, "w0")
    w[0, 0] = np.nan
    set_init(m, "w0", w)


def inf_bias(m):
    b = init(m, "b0")
    b[1] = -np.inf
    set_init(m, "b0", b)


def unused_input(m):
    m.graph.input.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 2]))


def int_input(m):
    m.graph.input[0].type.tensor_type.elem_type = TensorProto.INT64


def no_input(m):
    del m.graph.input[:]


def output_shape_disagrees(m):
    m.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 5


def string_bits(m):
    t = next(t for t in m.graph.initializer if t.name == "act0_bits")
    t.CopyFrom(helper.make_tensor("act0_bits", TensorProto.STRING, [], [b"8"]))


def transpose_without_perm(m):
    out = node(m, "out")
    out.op_type = "Transpose"  # ONNX's default perm reverses the axes, the batch axis included
    m.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 1]))


def scalar_bias(m):
    node(m, "b0_quant").input[0] = "inp_scale"  # a quantized 0-d constant as the Gemm's bias


def reshape_loses_values(m):
    """A Reshape whose constant target holds fewer values than its input (ONNX inference accepts it)."""
    m.graph.initializer.append(numpy_helper.from_array(np.array([1, 2], np.int64), "two"))
    m.graph.node.insert(len(m.graph.node) - 1, helper.make_node("Reshape", ["act0_q", "two"], ["r"], name="resh"))
    node(m, "out").input[0] = "r"
    m.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2]))


def output_is_quantized_constant(m):
    node(m, "out").input[0] = "w0_q"
    m.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, None))


def global_pool_on_a_vector(m):
    node(m, "relu0").op_type = "GlobalAveragePool"


def custom_op(m):
    node(m, "relu0").domain = "com.example"


def scale_from_a_constant_node(m):
    """The scale comes from a Constant node rather than an initializer (older exporters do this)."""
    m.graph.initializer.remove(next(t for t in m.graph.initializer if t.name == "inp_scale"))
    value = numpy_helper.from_array(np.float32(2.0**-130), "v")
    m.graph.node.insert(0, helper.make_node("Constant", [], ["inp_scale"], name="scale_const", value=value))


def quant_input(quant: str, what: str, value):
    def mutate(m):
        set_init(m, f"{quant}_{what}", value)
    return mutate


REMEDY = "re-export"
CASES = {
    # structure
    "deleted_node": (deleted_node, ["relu0", "'fc0'", "no node produces", REMEDY]),
    "output_unproduced": (output_unproduced, ["'nobody'", "produced by no node", REMEDY]),
    "self_loop": (self_loop, ["relu0", "its own output", "feed-forward"]),
    "cycle": (cycle, ["cycle", "relu0", "act0_quant", "feed-forward"]),
    "two_writers": (two_writers, ["relu0", "'fc0'", "also writes", "another name"]),
    "writes_an_input": (writes_an_input, ["relu0", "'x'", "graph input", "another name"]),
    "input_shadowed": (input_shadowed, ["(x)", "no input", "rename"]),
    "hidden_output": (hidden_output, ["2 outputs", "y, fc0", "torch.cat"]),
    "output_is_input": (output_is_input, ["'x'", "graph input itself", "computes nothing"]),
    "unused_input": (unused_input, ["'z'", "read by no node", "remove it"]),
    "int_input": (int_input, ["'x'", "int64", "float32 example input"]),
    "no_input": (no_input, ["declares no input", REMEDY]),
    "output_shape_disagrees": (output_shape_disagrees, ["'out'", "(3) vs (5)", "example input"]),
    "batch_2": (lambda m: m.graph.input[0].type.tensor_type.shape.dim[0].__setattr__("dim_value", 2),
                ["'x'", "[2, 4]", "single-event example"]),
    "custom_op": (custom_op, ["relu0", "com.example.Relu", "Supported:"]),
    # shapes
    "symbolic_dim": (dim("N"), ["'x'", "symbolic dimension 'N'", "dynamic_axes"]),
    "dim_17": (dim(17), ["fc0", "Gemm", "17", "example input of the size"]),
    "dim_0": (dim(0), ["'x'", "[1, 0]", "positive"]),
    "dim_negative": (dim(-3), ["'x'", "[1, -3]", "positive"]),
    # constants
    "nan_weight": (nan_weight, ["w0_quant", "'w0'", "NaN", "finite"]),
    "inf_bias": (inf_bias, ["b0_quant", "'b0'", "infinite", "finite"]),
    "nan_scale": (quant_input("w0", "scale", np.nan), ["w0_quant", "w0_scale", "NaN"]),
    "negative_scale": (quant_input("w0", "scale", -0.25), ["w0_quant", "-0.25", "power-of-two"]),
    # bit widths (the 0, -3, NaN, inf, and 32, the silently wrong one)
    "bits_0": (quant_input("act0", "bits", 0), ["act0_quant", "bit width 0", "from 1 to 24"]),
    "bits_-3": (quant_input("inp", "bits", -3), ["inp_quant", "bit width -3", "from 2 to 24"]),
    "bits_nan": (quant_input("w0", "bits", np.nan), ["w0_quant", "w0_bits", "NaN"]),
    "bits_inf": (quant_input("act0", "bits", np.inf), ["act0_quant", "act0_bits", "infinite"]),
    "bits_2.5": (quant_input("inp", "bits", 2.5), ["inp_quant", "bit width 2.5", "integer"]),
    "input_bits_32": (quant_input("inp", "bits", 32), ["inp_quant", "bit width 32", "from 2 to 24"]),
    "weight_bits_25": (quant_input("w0", "bits", 25), ["w0_quant", "bit width 25", "from 2 to 24"]),
    "scale_from_a_constant_node": (scale_from_a_constant_node, ["inp_quant", "scale 2^-130", "2^-32 .. 2^32"]),
    "per_channel_spread": (quant_input("w0", "scale", np.float32([[2.0**-32], [2.0**32], [1.0]])),
                           ["w0_quant", "per-channel scales", "closer together"]),
    "transpose_without_perm": (transpose_without_perm, ["'out'", "moves the batch axis"]),
    "scalar_bias": (scalar_bias, ["fc0", "bias has shape ()", "one bias per output"]),
    "computed_weight_scale": (lambda m: node(m, "w0_quant").input.__setitem__(1, "inp_q"),
                              ["w0_quant", "('inp_q') must be a constant", "export them as constants"]),
    "reshape_loses_values": (reshape_loses_values, ["resh", "(3 values per event)", "keep every value"]),
    "output_is_quantized_constant": (output_is_quantized_constant, ["w0_quant", "quantized constant"]),
    "global_pool_on_a_vector": (global_pool_on_a_vector, ["relu0", "pools an image"]),
    "string_bits": (string_bits, ["act0_quant", "must be numbers", REMEDY]),
    "bias_bits_1_signed": (quant_input("b0", "bits", 1), ["b0_quant", "bit width 1", "from 2 to 24"]),
}
# scales: the 2^-60 (traceback) and 2^-130, 2^-149, 2^100 (silently wrong), at every kind of Quant
for _k in (-60, -130, -149, 100, 33, -33):
    for _q in ("inp", "w0", "b0", "act0"):
        CASES[f"scale_2^{_k}_{_q}"] = (quant_input(_q, "scale", np.float32(2.0**_k)),
                                       [f"{_q}_quant", f"scale 2^{_k}", "2^-32 .. 2^32", "rescale"])


def refusal(tmp_path, mutate) -> str:
    m = base()
    mutate(m)
    path = tmp_path / "model.onnx"
    onnx.save(m, str(path))
    with pytest.raises(L1MLError) as e:
        run_pipeline(from_qonnx(path))
    return str(e.value)


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_models_are_refused_with_the_node_and_a_remedy(tmp_path, case):
    mutate, needles = CASES[case]
    text = refusal(tmp_path, mutate)
    for n in needles:
        assert n in text, text
    assert "\n" not in text.strip()


def test_the_unmutated_model_compiles(tmp_path):
    """The mutations above start from a model that is accepted (so each refusal is the mutation's)."""
    path = tmp_path / "model.onnx"
    onnx.save(base(), str(path))
    g = run_pipeline(from_qonnx(path))
    assert [n.op.value for n in g.nodes] == ["Dense", "ReLU", "Quantize"]


def test_nodes_out_of_order_are_sorted_not_refused(tmp_path):
    m, ref = base(), base()
    nodes = list(m.graph.node)[::-1]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    a, b = tmp_path / "reversed.onnx", tmp_path / "ref.onnx"
    onnx.save(m, str(a))
    onnx.save(ref, str(b))
    x = np.random.default_rng(1).uniform(-9, 9, (200, 4))
    assert np.array_equal(emulate(run_pipeline(from_qonnx(a)), x), emulate(run_pipeline(from_qonnx(b)), x))


def wide_spec(inp: QuantSpec, w: QuantSpec, b: QuantSpec | None, act: QuantSpec) -> MLPSpec:
    return MLPSpec(4, inp, (LayerSpec(3, w, b, False, act),))


def test_an_accumulator_wider_than_62_bits_is_refused(tmp_path):
    m = build_qonnx(wide_spec(QuantSpec(24, 32), QuantSpec(24, 32), QuantSpec(24, -32), QuantSpec(8, 0)),
                    np.random.default_rng(0))
    # biases on the 2^32 grid, aligned to the 2^-64 grid of the products: 96 bits more
    set_init(m, "b0", [2.0**50, -(2.0**52), 3 * 2.0**40])
    path = tmp_path / "wide.onnx"
    onnx.save(m, str(path))
    with pytest.raises(L1MLError) as e:
        run_pipeline(from_qonnx(path))
    assert "fc0" in str(e.value) and "bits, more than 62" in str(e.value) and "narrower" in str(e.value)


def test_a_requantiser_shifting_beyond_62_bits_is_refused(tmp_path):
    spec = wide_spec(QuantSpec(8, -32), QuantSpec(6, 4), None, QuantSpec(8, 32))  # 2^-28 grid -> 2^-32 ... x2^60
    path = tmp_path / "shift.onnx"
    onnx.save(build_qonnx(spec, np.random.default_rng(0)), str(path))
    with pytest.raises(L1MLError) as e:
        run_pipeline(from_qonnx(path))
    assert "act0_quant" in str(e.value) and "shifts" in str(e.value) and "closer together" in str(e.value)


@pytest.mark.parametrize("k", [SCALE_EXPONENTS[0], SCALE_EXPONENTS[1]])
def test_the_ends_of_the_scale_range_are_exact_against_qonnx(tmp_path, k):
    """Scales 2^-32 and 2^32 on inputs, weights and activations: products on the 2^-64 / 2^64 grid.
    The emulator equals qonnx's execute_onnx code for code (float32 holds every value here)."""
    from l1ml.verify.qonnx_level import float32_inexact_nodes, run_qonnx
    from l1ml.verify.vectors import make_vectors

    q = QuantSpec(8, -k)
    spec = MLPSpec(5, q, (LayerSpec(4, QuantSpec(6, -k), None, True, QuantSpec(8, -k, signed=False)),
                          LayerSpec(3, QuantSpec(5, -k), None, False, QuantSpec(10, -k))))
    path = tmp_path / "ends.onnx"
    onnx.save(build_qonnx(spec, np.random.default_rng(3)), str(path))
    g = run_pipeline(from_qonnx(path))
    assert not float32_inexact_nodes(g)
    assert g.t(g.inputs[0]).type.frac == -k and g.t(g.outputs[0]).type.frac == -k
    x = make_vectors(g, 400, seed=0)
    assert np.array_equal(emulate(g, x), run_qonnx(path, x).astype(np.float64))


def test_widest_quantizers_are_exact_against_qonnx(tmp_path):
    """24-bit input and activation quantizers (the widest accepted) equal qonnx's codes."""
    from l1ml.verify.qonnx_level import run_qonnx
    from l1ml.verify.vectors import make_vectors

    spec = MLPSpec(3, QuantSpec(QUANT_BITS[1], 12), (LayerSpec(2, QuantSpec(2, 0), None, False,
                                                               QuantSpec(QUANT_BITS[1], 12)),))
    path = tmp_path / "w24.onnx"
    m = build_qonnx(spec, np.random.default_rng(0))
    set_init(m, "w0", np.eye(3, 2, dtype=np.float32).T)  # Gemm(transB): y = (x0, x1), exact in float32
    onnx.save(m, str(path))
    g = run_pipeline(from_qonnx(path))
    x = make_vectors(g, 400, seed=0)
    assert np.array_equal(emulate(g, x), run_qonnx(path, x).astype(np.float64))


# ---- the model path ---------------------------------------------------------------------------------

def run_cli(*args, timeout=120):
    exe = [sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)]
    return subprocess.run(exe, capture_output=True, text=True, timeout=timeout)


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    r = run_cli("compile", fifo, "-o", out, timeout=60)  # a regression hangs in open(): the timeout fails it
    assert r.returncode == 2 and "FIFO" in r.stderr and "regular file" in " ".join(r.stderr.split())
    assert "Traceback" not in r.stderr and not out.exists()


@pytest.mark.parametrize("kind", ["device", "directory", "dangling_link", "huge"])
def test_model_paths_that_are_not_regular_files_are_refused(tmp_path, kind):
    path = tmp_path / "model.onnx"
    if kind == "device":
        path = "/dev/zero"
    elif kind == "directory":
        path.mkdir()
    elif kind == "dangling_link":
        path.symlink_to(tmp_path / "gone.onnx")
    else:
        with open(path, "wb") as f:  # sparse: no disk used, and nothing may read it
            f.truncate(2**31)
    with pytest.raises(InputFileError) as e:
        from_qonnx(path)
    words = {"device": "a device", "directory": "directory", "dangling_link": "does not exist",
             "huge": "2 GiB"}[kind]
    assert words in str(e.value) and str(path) in str(e.value)


def test_a_symlink_to_a_model_is_fine(tmp_path):
    real = tmp_path / "real.onnx"
    onnx.save(base(), str(real))
    link = tmp_path / "link.onnx"
    link.symlink_to(real)
    assert len(run_pipeline(from_qonnx(link)).nodes) == 3


@pytest.mark.parametrize("case", ["two_writers", "input_bits_32", "scale_2^-130_inp", "scale_2^100_w0",
                                  "nan_weight", "dim_17"])
def test_cli_refusals_exit_2_without_traceback_or_output(tmp_path, case):
    mutate, needles = CASES[case]
    m = base()
    mutate(m)
    model, out = tmp_path / "model.onnx", tmp_path / "out"
    onnx.save(m, str(model))
    r = run_cli("compile", model, "-o", out)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    text = " ".join(r.stderr.split())
    assert text.startswith("error:") and all(n in text for n in needles), text
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


@pytest.mark.slow
@pytest.mark.parametrize("k", [SCALE_EXPONENTS[0], SCALE_EXPONENTS[1]])
def test_24_bit_quantizers_at_the_ends_of_the_scale_range_are_exact_in_hls(tmp_path, k):
    """The widest accepted quantizers at the extreme scales: 24-bit codes on 2^-32 or 2^32 grids,
    products on 2^-64 or 2^-32 grids, a 50-57-bit accumulator (ap_fixed with I far from W)."""
    w = QuantSpec(24, -k) if k < 0 else QuantSpec(24, 0)
    b = QuantSpec(24, -k) if k < 0 else None
    spec = MLPSpec(4, QuantSpec(24, -k), (LayerSpec(3, w, b, k < 0, QuantSpec(24, -k, signed=k > 0)),))
    model, out = tmp_path / "m.onnx", tmp_path / "out"
    onnx.save(build_qonnx(spec, np.random.default_rng(0)), str(model))
    r = run_cli("compile", model, "-o", out, timeout=600)
    assert r.returncode == 0, r.stderr
    r = run_cli("verify", out, "--vectors", "300", "--levels", "hls", timeout=600)
    assert r.returncode == 0 and "hls: 300 vectors, 0 mismatches" in r.stdout, r.stdout + r.stderr


def conv_model(path, x_shape, w_shape, **attrs):
    """x -> Quant -> Conv(quantized weight) -> y, the output shape left to inference."""
    q = dict(domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND")
    w = np.random.default_rng(0).uniform(-1, 1, w_shape).astype(np.float32)
    inits = [numpy_helper.from_array(np.float32(v), n) for n, v in [("s", 0.125), ("z", 0.0), ("b", 8.0)]]
    inits.append(numpy_helper.from_array(w, "w"))
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["xq"], name="qin", **q),
             helper.make_node("Quant", ["w", "s", "z", "b"], ["wq"], name="qw", **q),
             helper.make_node("Conv", ["xq", "wq"], ["y"], name="conv", **attrs)]
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("qonnx.custom_op.general", 1)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.mark.parametrize("x_shape,w_shape,attrs,words", [
    ([1, 3, 6, 6], [4, 2, 3, 3], {}, ["conv", "weights take 2 channels"]),
    ([1, 2, 6, 1], [4, 2, 1, 2], {"strides": [1, 2]}, ["conv", "1x2 window does not fit the padded 6x1 image"]),
    ([1, 2, 6, 6], [4, 2, 3, 3], {"strides": [0, 1]}, ["conv", "strides", "positive"]),
])
def test_convolutions_whose_windows_do_not_fit_are_refused(tmp_path, x_shape, w_shape, attrs, words):
    path = tmp_path / "conv.onnx"
    conv_model(path, x_shape, w_shape, **attrs)
    with pytest.raises(L1MLError) as e:
        run_pipeline(from_qonnx(path))
    assert all(w in str(e.value) for w in words), str(e.value)


def test_a_fitting_convolution_is_accepted(tmp_path):
    path = tmp_path / "conv.onnx"
    conv_model(path, [1, 2, 6, 5], [4, 2, 3, 2], strides=[1, 2])
    g = run_pipeline(from_qonnx(path))
    assert g.t(g.outputs[0]).shape == (4, 2, 4)


def test_a_grid_beyond_float32_is_refused(tmp_path):
    """Four layers at weight scale 2^-32 without activation quantizers put the result on the 2^-136 grid,
    below float32's smallest normal number, where the exported model itself rounds."""
    layers = tuple(LayerSpec(2, QuantSpec(2, 32), None, False, None) for _ in range(4))
    path = tmp_path / "deep.onnx"
    onnx.save(build_qonnx(MLPSpec(2, QuantSpec(2, 8), layers), np.random.default_rng(0)), str(path))
    with pytest.raises(L1MLError) as e:
        run_pipeline(from_qonnx(path))
    assert "fc3" in str(e.value) and "float32's normal range" in str(e.value) and "activation quantizer" in str(e.value)
