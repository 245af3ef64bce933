"""Random quantized MLPs written directly as QONNX graphs: for property tests, fuzzing and the
estimator sweeps. Unlike a Brevitas export they reach every corner of QONNX Quant: any bit width,
signed or unsigned, narrow range, every rounding mode, MatMul+Add as well as Gemm(transB)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROUNDING_MODES = ("ROUND", "FLOOR", "DOWN", "HALF_UP", "HALF_DOWN")


@dataclass(frozen=True)
class QuantSpec:
    bits: int
    frac: int
    signed: bool = True
    narrow: bool = False
    rounding: str = "ROUND"


@dataclass(frozen=True)
class LayerSpec:
    n_out: int
    weight: QuantSpec
    bias: QuantSpec | None
    relu: bool
    act: QuantSpec | None  # requantiser after the layer (None: exact accumulator passes on)
    gemm: bool = True  # Gemm(transB=1) as Brevitas exports; False: MatMul + Add


@dataclass(frozen=True)
class MLPSpec:
    n_in: int
    inp: QuantSpec
    layers: tuple[LayerSpec, ...] = field(default_factory=tuple)


def random_spec(rng: np.random.Generator, max_bits: int = 16, max_width: int = 16, depth: int | None = None,
                ) -> MLPSpec:
    def q(signed: bool | None = None, lo: int = 2, hi: int = max_bits) -> QuantSpec:
        s = bool(rng.integers(2)) if signed is None else signed
        bits = int(rng.integers(lo if s else max(lo - 1, 1), hi + 1))
        return QuantSpec(bits, int(rng.integers(-2, bits + 3)), s, bool(rng.random() < 0.2) and s,
                         str(rng.choice(ROUNDING_MODES)))

    n_layers = int(rng.integers(1, 4)) if depth is None else depth
    layers = []
    for i in range(n_layers):
        relu = bool(rng.random() < 0.6)
        act = q(signed=not relu) if (rng.random() < 0.8 or i < n_layers - 1) else None
        layers.append(LayerSpec(int(rng.integers(1, max_width + 1)), q(signed=True),
                                q(signed=True) if rng.random() < 0.8 else None, relu, act,
                                gemm=bool(rng.random() < 0.5)))
    return MLPSpec(int(rng.integers(1, max_width + 1)), q(), tuple(layers))


def build_qonnx(spec: MLPSpec, rng: np.random.Generator):
    """An onnx.ModelProto for ``spec`` with random float weights (rounded by their Quant nodes)."""
    from onnx import helper, numpy_helper

    nodes, inits = [], []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def quant(src: str, qs: QuantSpec, name: str) -> str:
        out = f"{name}_q"
        nodes.append(helper.make_node(
            "Quant", [src, const(f"{name}_scale", np.float32(2.0**-qs.frac)), const(f"{name}_zp", np.float32(0)),
                      const(f"{name}_bits", np.float32(qs.bits))],
            [out], name=f"{name}_quant", domain="qonnx.custom_op.general",
            signed=int(qs.signed), narrow=int(qs.narrow), rounding_mode=qs.rounding))
        return out

    x = quant("x", spec.inp, "inp")
    n_in = spec.n_in
    for i, ls in enumerate(spec.layers):
        wq = ls.weight
        span = 2.0 ** (wq.bits - 1 - wq.frac)
        w = rng.uniform(-1.2, 1.2, size=(n_in, ls.n_out)) * span
        w_name = quant(const(f"w{i}", w.T if ls.gemm else w), wq, f"w{i}")
        b_name = None
        if ls.bias is not None:
            bspan = 2.0 ** (ls.bias.bits - 1 - ls.bias.frac)
            b_name = quant(const(f"b{i}", rng.uniform(-1.1, 1.1, size=ls.n_out) * bspan), ls.bias, f"b{i}")
        if ls.gemm:
            ins = [x, w_name] + ([b_name] if b_name else [])
            nodes.append(helper.make_node("Gemm", ins, [f"fc{i}"], name=f"fc{i}", transB=1))
            x = f"fc{i}"
        else:
            nodes.append(helper.make_node("MatMul", [x, w_name], [f"mm{i}"], name=f"mm{i}"))
            x = f"mm{i}"
            if b_name:
                nodes.append(helper.make_node("Add", [x, b_name], [f"fc{i}"], name=f"add{i}"))
                x = f"fc{i}"
        if ls.relu:
            nodes.append(helper.make_node("Relu", [x], [f"relu{i}"], name=f"relu{i}"))
            x = f"relu{i}"
        if ls.act is not None:
            x = quant(x, ls.act, f"act{i}")
        n_in = ls.n_out
    nodes.append(helper.make_node("Identity", [x], ["y"], name="out"))
    return qonnx_model(nodes, inits, "random_mlp", [1, spec.n_in], [1, n_in])


def qonnx_model(nodes: list, inits: list, name: str, in_shape: list[int], out_shape: list[int]):
    """A float32 model x -> y with the qonnx custom-op domain, at an IR version onnxruntime accepts."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("qonnx.custom_op.general", 1)])
    model.ir_version = 8
    return model


def write_random_mlp(path: str | Path, spec: MLPSpec, seed: int = 0) -> Path:
    import onnx

    path = Path(path)
    onnx.save(build_qonnx(spec, np.random.default_rng(seed)), str(path))
    return path
