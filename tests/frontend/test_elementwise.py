"""The elementwise, reduction and slicing ops through the CLI: each model compiles and `l1ml verify --levels
qonnx --vectors 10000` finds 0 mismatches; the refusals name the node and the remedy, exit 2 and write
nothing. The models are built with onnx.helper around power-of-two Quant nodes, as Brevitas exports them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest

from l1ml.frontend.qonnx import from_qonnx
from l1ml.ir.ops import Op
from tests.onnx_build import Builder

I64 = np.int64
END = np.iinfo(np.int64).max  # torch's "to the end" in an exported Slice


def l1ml(*args):
    return subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True)


def dense(b: Builder, x: str, n_in: int, n_out: int, seed: int) -> str:
    w = np.random.default_rng(seed).uniform(-1, 1, size=(n_in, n_out))
    return b.op("MatMul", [x, b.quant(b.const(w), 6, 4)])


def autoencoder_score() -> onnx.ModelProto:
    """Encoder-decoder with the squared-distance score: Sub, Pow 2 and Mul(x, x), ReduceSum over features."""
    b = Builder([1, 8])
    x = b.quant("x", 8, 4)
    h = b.quant(b.op("Relu", [dense(b, x, 8, 4, 1)]), 6, 3, signed=False)
    r = b.quant(dense(b, h, 4, 8, 2), 8, 4)
    d = b.op("Sub", [x, r], name="diff")
    sq = b.op("Add", [b.op("Pow", [d, b.const(2.0)], name="square"), b.op("Mul", [d, d])])
    return b.model(b.op("ReduceSum", [sq, b.const([1], dtype=I64)], keepdims=0, name="score"))


def arithmetic() -> onnx.ModelProto:
    """Neg, Abs, a three-input Max, Min with a broadcast constant, Clip (opset 13 inputs, one side open),
    Sub and Mul by float constants (typed exactly by type_constants)."""
    b = Builder([1, 6])
    x = b.quant("x", 7, 3)
    a = b.op("Abs", [b.op("Neg", [x])])
    m = b.op("Max", [x, a, b.const(-0.625)])
    m = b.op("Min", [m, b.const(np.linspace(-1, 3, 6) * 0.5)])
    c = b.op("Clip", [m, b.const(-0.75), ""])
    c = b.op("Clip", [c, b.const(-2.0), b.const(1.375)])
    s = b.op("Sub", [b.const(0.1), c])
    return b.model(b.quant(b.op("Mul", [s, b.const([[0.375, -1.5, 2.0, 0.0, 1.0, -0.25]])]), 10, 6))


def clip_attributes() -> onnx.ModelProto:
    """Clip with min/max attributes (opsets 6-10, as HardTanh exported then) and without a max."""
    b = Builder([1, 5], opset=10)
    x = b.quant("x", 8, 4)
    y = b.op("Clip", [x], min=-1.0, max=1.0)
    return b.model(b.op("Clip", [b.op("Mul", [y, x])], min=0.0625))


def slices_1d() -> onnx.ModelProto:
    """Split by sizes (an input), Slice with negative and out-of-range indices and steps, Concat, a
    power-of-two ReduceMean keeping its axis."""
    b = Builder([1, 12])
    x = b.quant("x", 6, 2)
    p0, p1 = b.op("Split", [x, b.const([5, 7], dtype=I64)], n_out=2, axis=1)
    s0 = b.op("Slice", [p0, b.const([-4], dtype=I64), b.const([END], dtype=I64), b.const([1], dtype=I64),
                        b.const([2], dtype=I64)])  # [1, 3]
    s1 = b.op("Slice", [p1, b.const([-100], dtype=I64), b.const([-1], dtype=I64), b.const([-1], dtype=I64)])  # [0:6]
    cat = b.op("Concat", [s1, s0, p0, p1], axis=-1)  # 6 + 2 + 5 + 7 = 20
    mean = b.op("ReduceMean", [b.op("Slice", [cat, b.const([4], dtype=I64), b.const([20], dtype=I64),
                                                 b.const([1], dtype=I64)])],
                axes=[1], keepdims=1)  # 16 values
    return b.model(b.op("Concat", [mean, cat], axis=1))


def images_4d() -> onnx.ModelProto:
    """NCHW: Slice of H and W, Max with a per-channel constant, Sum and power-of-two Mean over H, W,
    Concat on the channel axis and, without keepdims, on features."""
    b = Builder([1, 3, 6, 5])
    x = b.quant("x", 6, 2)
    s = b.op("Slice", [x, b.const([1, 0], dtype=I64), b.const([5, 4], dtype=I64), b.const([2, -1], dtype=I64)])
    m = b.op("Max", [s, b.const(np.array([0.5, -0.25, 1.0]).reshape(3, 1, 1))])
    c = b.op("Concat", [m, s], axis=1)  # (1, 6, 4, 4)
    r = b.op("ReduceSum", [c, b.const([2, 3], dtype=I64)], keepdims=0)  # (1, 6)
    h = b.op("ReduceMean", [c], axes=[-1], keepdims=0)  # (1, 6, 4): no longer an image
    h = b.op("ReduceSum", [b.op("Neg", [h]), b.const([2], dtype=I64)], keepdims=0)  # (1, 6)
    return b.model(b.op("Concat", [r, h], axis=1))


def rows_3d() -> onnx.ModelProto:
    """(1, rows, features), opset 18: Split by num_outputs (uneven), Sub of parts, Concat along rows and
    features, ReduceSum with axes as an input, a Slice on the rows."""
    b = Builder([1, 4, 7], opset=18)
    x = b.quant("x", 6, 3)
    p = b.op("Split", [x], n_out=3, axis=2, num_outputs=3)  # 3, 3, 1
    d = b.op("Sub", [p[0], p[1]])
    rows = b.op("Concat", [d, p[1]], axis=1)  # (1, 8, 3)
    feats = b.op("Concat", [rows, b.op("Slice", [rows, b.const([0], dtype=I64), b.const([1], dtype=I64),
                                                 b.const([-1], dtype=I64)])], axis=-1)  # (1, 8, 4)
    r = b.op("ReduceSum", [feats, b.const([1], dtype=I64)], keepdims=0)  # (1, 4)
    return b.model(b.op("Concat", [r, b.op("ReduceSum", [p[2], b.const([-1], dtype=I64)], keepdims=0)], axis=1))


MODELS = {f.__name__: f for f in (autoencoder_score, arithmetic, clip_attributes, slices_1d, images_4d, rows_3d)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_compile_and_verify_qonnx(tmp_path, name):
    path = tmp_path / f"{name}.onnx"
    onnx.save(MODELS[name](), str(path))
    r = l1ml("compile", path, "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    r = l1ml("verify", tmp_path / "out", "--levels", "qonnx", "--vectors", "10000")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "qonnx: 10000 vectors, 0 mismatches" in r.stdout


def test_ops_map_to_the_ir():
    """What each ONNX op becomes (the models above, read by the frontend only)."""
    import tempfile
    from pathlib import Path

    want = {"autoencoder_score": {Op.SUB, Op.MUL, Op.ADD, Op.REDUCE_SUM},
            "arithmetic": {Op.NEG, Op.ABS, Op.MAX, Op.MIN, Op.CLIP, Op.SUB, Op.MUL},
            "slices_1d": {Op.SLICE, Op.CONCAT, Op.REDUCE_SUM},
            "images_4d": {Op.SLICE, Op.MAX, Op.CONCAT, Op.REDUCE_SUM, Op.TRANSPOSE}}
    with tempfile.TemporaryDirectory() as d:
        for name, ops in want.items():
            path = Path(d) / f"{name}.onnx"
            onnx.save(MODELS[name](), str(path))
            g = from_qonnx(path)
            assert ops <= {n.op for n in g.nodes}, name
            if name == "autoencoder_score":
                sq = g.node("mul_0")
                assert sq.inputs[0] == sq.inputs[1], "Pow 2 is the square Mul(x, x)"
            if name == "arithmetic":
                assert sum(n.op is Op.MAX for n in g.nodes) == 2, "a three-input Max is a chain of two"
                assert [n.attrs.hi for n in g.nodes if n.op is Op.CLIP][0] is None


def test_float_stages_and_inexact_mean(tmp_path):
    """Sigmoid, Tanh, HardSigmoid become float stages; a mean over 5 values is a sum and an Affine(1/5)."""
    b = Builder([1, 5])
    x = b.quant("x", 6, 2)
    t = b.op("Tanh", [b.op("Sigmoid", [x])])
    h = b.op("HardSigmoid", [t], alpha=0.25, beta=0.5)
    m = b.op("ReduceMean", [h], axes=[1], keepdims=1)
    path = tmp_path / "m.onnx"
    onnx.save(b.model(m), str(path))
    g = from_qonnx(path)
    ops = [n.op for n in g.nodes]
    assert ops[1:] == [Op.SIGMOID, Op.TANH, Op.HARDSIGMOID, Op.REDUCE_SUM, Op.AFFINE]
    assert g.nodes[3].attrs.alpha == 0.25 and not g.nodes[4].attrs.mean
    assert g.nodes[5].attrs.a == ("1/5",) and g.nodes[5].attrs.b == ("0",)


def _computed_clip_bound() -> onnx.ModelProto:
    b = Builder([1, 4])
    x = b.quant("x", 6, 2)
    lo = b.quant(b.const(np.float32(-0.5)), 4, 2)  # not an initializer: the bound would be computed
    return b.model(b.op("Clip", [x, lo, b.const(1.0)], name="my_clip"))


def _pow3() -> onnx.ModelProto:
    b = Builder([1, 4])
    return b.model(b.op("Pow", [b.quant("x", 6, 2), b.const(3.0)], name="my_pow"))


def _reversed_slice() -> onnx.ModelProto:
    b = Builder([1, 6])
    x = b.quant("x", 6, 2)
    return b.model(b.op("Slice", [x, b.const([-1], dtype=I64), b.const([-END], dtype=I64), b.const([1], dtype=I64),
                                  b.const([-1], dtype=I64)], name="my_slice"))


def _batch_sum() -> onnx.ModelProto:
    b = Builder([1, 6])
    return b.model(b.op("ReduceSum", [b.quant("x", 6, 2), b.const([0], dtype=I64)], name="my_sum"))


@pytest.mark.parametrize("build,node,words", [
    (_pow3, "my_pow", "x * x * x"),
    (_reversed_slice, "my_slice", "step -1"),
    (_batch_sum, "my_sum", "batch axis"),
    (_computed_clip_bound, "my_clip", "export constant bounds"),
])
def test_refusals(tmp_path, build, node, words):
    path = tmp_path / "m.onnx"
    onnx.save(build(), str(path))
    out = tmp_path / "out"
    r = l1ml("compile", path, "-o", out)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert f"'{node}'" in lines[0] and words in lines[0]
    assert not out.exists()
