"""Random quantized CNNs written directly as NCHW QONNX graphs (Conv, ReLU, Quant, MaxPool/AveragePool,
Flatten, Dense head): for the bit-exactness property tests of the Conv2D and pooling ops."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

from l1ml.models.random_mlp import ROUNDING_MODES, LayerSpec, QuantSpec, qonnx_model


class PoolKind(Enum):
    MAX = "MaxPool"
    AVG = "AveragePool"


@dataclass(frozen=True)
class PoolSpec:
    kind: PoolKind
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)  # (top, left, bottom, right); MaxPool only here


@dataclass(frozen=True)
class ConvSpec:
    c_out: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]
    weight: QuantSpec
    bias: QuantSpec | None
    relu: bool
    act: QuantSpec | None  # requantiser after conv (+ relu)
    per_channel_weight: bool = False  # a power-of-two scale per output channel (all equal here: see below)
    pool: PoolSpec | None = None
    pool_act: QuantSpec | None = None  # requantiser after the pool (rounds AvgPool's finer grid)


@dataclass(frozen=True)
class CNNSpec:
    c_in: int
    height: int
    width: int
    inp: QuantSpec
    convs: tuple[ConvSpec, ...] = field(default_factory=tuple)
    head: tuple[LayerSpec, ...] = field(default_factory=tuple)
    flatten_op: str = "Flatten"  # or "Reshape" (to [1, n], batch hard-coded as Brevitas exports it)


def _out_size(n: int, k: int, s: int, p0: int, p1: int) -> int:
    return (n + p0 + p1 - k) // s + 1


def random_cnn_spec(rng: np.random.Generator, max_bits: int = 10, max_side: int = 7, max_channels: int = 4,
                    ) -> CNNSpec:
    def q(signed: bool | None = None, lo: int = 2, hi: int = max_bits) -> QuantSpec:
        s = bool(rng.integers(2)) if signed is None else signed
        bits = int(rng.integers(lo if s else max(lo - 1, 1), hi + 1))
        return QuantSpec(bits, int(rng.integers(-1, bits + 2)), s, bool(rng.random() < 0.2) and s,
                         str(rng.choice(ROUNDING_MODES)))

    h, w = int(rng.integers(3, max_side + 1)), int(rng.integers(3, max_side + 1))
    spec_h, spec_w = h, w
    convs = []
    for _ in range(int(rng.integers(1, 3))):
        k = (int(rng.integers(1, min(3, h) + 1)), int(rng.integers(1, min(3, w) + 1)))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        pads = tuple(int(rng.integers(0, 2)) if rng.random() < 0.5 else 0 for _ in range(4))
        h = _out_size(h, k[0], stride[0], pads[0], pads[2])
        w = _out_size(w, k[1], stride[1], pads[1], pads[3])
        relu = bool(rng.random() < 0.7)
        pool = None
        if h >= 2 and w >= 2 and rng.random() < 0.6:
            kind = PoolKind.AVG if rng.random() < 0.5 else PoolKind.MAX
            pk = ((2, 2), (1, 2), (2, 1))[int(rng.integers(3))]
            ps = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
            pp = (0, 0, min(1, pk[0] - 1), min(1, pk[1] - 1))  # onnxruntime needs pads < kernel
            pp = pp if kind is PoolKind.MAX and rng.random() < 0.3 else (0, 0, 0, 0)
            pool = PoolSpec(kind, pk, ps, pp)
            h, w = _out_size(h, pk[0], ps[0], pp[0], pp[2]), _out_size(w, pk[1], ps[1], pp[1], pp[3])
        convs.append(ConvSpec(int(rng.integers(1, max_channels + 1)), k, stride, pads, q(signed=True),
                              q(signed=True) if rng.random() < 0.7 else None, relu, q(signed=not relu),
                              bool(rng.random() < 0.3), pool, q() if pool and rng.random() < 0.6 else None))
    head = []
    for i in range(int(rng.integers(1, 3))):
        last = i == 0 or rng.random() < 0.5
        relu = not last and bool(rng.random() < 0.6)
        head.append(LayerSpec(int(rng.integers(1, 9)), q(signed=True), q(signed=True) if rng.random() < 0.8
                              else None, relu, q(signed=not relu), gemm=bool(rng.random() < 0.5)))
    return CNNSpec(int(rng.integers(1, max_channels + 1)), spec_h, spec_w, q(), tuple(convs), tuple(head),
                   "Flatten" if rng.random() < 0.5 else "Reshape")


def build_cnn_qonnx(spec: CNNSpec, rng: np.random.Generator):
    """An NCHW onnx.ModelProto for ``spec`` with random float weights (rounded by their Quant nodes)."""
    from onnx import helper, numpy_helper

    nodes, inits = [], []

    def const(name: str, value: np.ndarray, dtype=np.float32) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def quant(src: str, qs: QuantSpec, name: str, scale: np.ndarray | None = None) -> str:
        out = f"{name}_q"
        sc = np.float32(2.0**-qs.frac) if scale is None else scale
        nodes.append(helper.make_node(
            "Quant", [src, const(f"{name}_scale", sc), const(f"{name}_zp", np.float32(0)),
                      const(f"{name}_bits", np.float32(qs.bits))],
            [out], name=f"{name}_quant", domain="qonnx.custom_op.general",
            signed=int(qs.signed), narrow=int(qs.narrow), rounding_mode=qs.rounding))
        return out

    def span(qs: QuantSpec) -> float:
        return 2.0 ** (qs.bits - 1 - qs.frac)

    x = quant("x", spec.inp, "inp")
    c, h, w = spec.c_in, spec.height, spec.width
    for i, cs in enumerate(spec.convs):
        wt = rng.uniform(-1.2, 1.2, size=(cs.c_out, c, *cs.kernel)) * span(cs.weight)
        scale = None
        if cs.per_channel_weight:
            # l1ml needs one grid per tensor after absorb_quant; per-channel power-of-two scales
            # exercise the (cout, 1, 1, 1) layout, with values made to sit on the finest grid
            fr = cs.weight.frac - rng.integers(0, 2, size=cs.c_out)
            scale = (2.0 ** -fr).astype(np.float32).reshape(-1, 1, 1, 1)
            wt = wt * scale / 2.0**-cs.weight.frac
        wq = quant(const(f"cw{i}", wt), cs.weight, f"cw{i}", scale)
        ins = [x, wq]
        if cs.bias is not None:
            ins.append(quant(const(f"cb{i}", rng.uniform(-1.1, 1.1, size=cs.c_out) * span(cs.bias)),
                             cs.bias, f"cb{i}"))
        nodes.append(helper.make_node("Conv", ins, [f"conv{i}"], name=f"conv{i}",
                                      kernel_shape=list(cs.kernel), strides=list(cs.stride),
                                      pads=list(cs.pads)))
        x = f"conv{i}"
        h = _out_size(h, cs.kernel[0], cs.stride[0], cs.pads[0], cs.pads[2])
        w = _out_size(w, cs.kernel[1], cs.stride[1], cs.pads[1], cs.pads[3])
        c = cs.c_out
        if cs.relu:
            nodes.append(helper.make_node("Relu", [x], [f"crelu{i}"], name=f"crelu{i}"))
            x = f"crelu{i}"
        if cs.act is not None:
            x = quant(x, cs.act, f"cact{i}")
        if cs.pool is not None:
            p = cs.pool
            kw = {"count_include_pad": 1} if p.kind is PoolKind.AVG else {}
            nodes.append(helper.make_node(p.kind.value, [x], [f"pool{i}"], name=f"pool{i}",
                                          kernel_shape=list(p.kernel), strides=list(p.stride),
                                          pads=list(p.pads), **kw))
            x = f"pool{i}"
            h = _out_size(h, p.kernel[0], p.stride[0], p.pads[0], p.pads[2])
            w = _out_size(w, p.kernel[1], p.stride[1], p.pads[1], p.pads[3])
            if cs.pool_act is not None:
                x = quant(x, cs.pool_act, f"pact{i}")
    n_in = c * h * w
    if spec.flatten_op == "Flatten":
        nodes.append(helper.make_node("Flatten", [x], ["flat"], name="flatten", axis=1))
    else:
        nodes.append(helper.make_node("Reshape", [x, const("flat_shape", np.array([1, n_in]), np.int64)],
                                      ["flat"], name="flatten"))
    x = "flat"
    for i, ls in enumerate(spec.head):
        wt = rng.uniform(-1.2, 1.2, size=(n_in, ls.n_out)) * span(ls.weight)
        w_name = quant(const(f"w{i}", wt.T if ls.gemm else wt), ls.weight, f"w{i}")
        b_name = None
        if ls.bias is not None:
            b = rng.uniform(-1.1, 1.1, size=ls.n_out) * span(ls.bias)
            b_name = quant(const(f"b{i}", b), ls.bias, f"b{i}")
        if ls.gemm:
            nodes.append(helper.make_node("Gemm", [x, w_name] + ([b_name] if b_name else []), [f"fc{i}"],
                                          name=f"fc{i}", transB=1))
        else:
            nodes.append(helper.make_node("MatMul", [x, w_name], [f"mm{i}"], name=f"mm{i}"))
            if b_name:
                nodes.append(helper.make_node("Add", [f"mm{i}", b_name], [f"fc{i}"], name=f"add{i}"))
            else:
                nodes.append(helper.make_node("Identity", [f"mm{i}"], [f"fc{i}"], name=f"id{i}"))
        x = f"fc{i}"
        if ls.relu:
            nodes.append(helper.make_node("Relu", [x], [f"relu{i}"], name=f"relu{i}"))
            x = f"relu{i}"
        if ls.act is not None:
            x = quant(x, ls.act, f"act{i}")
        n_in = ls.n_out
    nodes.append(helper.make_node("Identity", [x], ["y"], name="out"))
    return qonnx_model(nodes, inits, "random_cnn", [1, spec.c_in, spec.height, spec.width], [1, n_in])


def build_nhwc_transpose_qonnx():
    """A fixed tiny CNN whose graph input is NHWC and which transposes to NCHW and back before its Flatten,
    as models converted from channels-last frameworks do: the frontend must compose those Transposes
    with its own layout change."""
    from onnx import helper, numpy_helper

    inits = [numpy_helper.from_array(np.float32(v), n) for n, v in
             [("s", 0.125), ("z", 0.0), ("b8", 8.0), ("sw", 0.25), ("b4", 4.0)]]
    rng = np.random.default_rng(0)
    inits.append(numpy_helper.from_array(rng.uniform(-2, 2, (3, 2, 2, 2)).astype(np.float32), "w"))
    inits.append(numpy_helper.from_array(rng.uniform(-2, 2, (27, 2)).astype(np.float32), "fc"))
    q = dict(domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND")
    nodes = [
        helper.make_node("Quant", ["x", "s", "z", "b8"], ["xq0"], name="qin", **q),
        helper.make_node("Transpose", ["xq0"], ["xq"], perm=[0, 3, 1, 2], name="to_nchw"),
        helper.make_node("Quant", ["w", "sw", "z", "b4"], ["wq"], name="qw", **q),
        helper.make_node("Conv", ["xq", "wq"], ["c"], name="conv", kernel_shape=[2, 2], pads=[1, 0, 0, 1]),
        helper.make_node("Quant", ["c", "s", "z", "b8"], ["cq"], name="qc", **q),
        helper.make_node("Transpose", ["cq"], ["ct"], perm=[0, 2, 3, 1], name="to_nhwc"),
        helper.make_node("Flatten", ["ct"], ["f"], name="flat"),
        helper.make_node("Quant", ["fc", "sw", "z", "b4"], ["fcq"], name="qfc", **q),
        helper.make_node("MatMul", ["f", "fcq"], ["y"], name="mm"),
    ]
    return qonnx_model(nodes, inits, "nhwc", [1, 3, 3, 2], [1, 2])


def write_random_cnn(path: str | Path, spec: CNNSpec, seed: int = 0) -> Path:
    import onnx

    path = Path(path)
    onnx.save(build_cnn_qonnx(spec, np.random.default_rng(seed)), str(path))
    return path
