"""Hypothesis strategies for valid quantized models, and the code that writes them as QONNX files.

Two sources, because each reaches corners the other cannot: Brevitas modules exported with
``brevitas.export.export_qonnx`` (what users hand us: fixed-point or Brevitas' default float-scale
quantizers, ROUND/FLOOR, residual branches joined by Add, small convolutions), and QONNX graphs written
directly with onnx.helper (any bit width 1-24, signed/unsigned, every rounding mode, MatMul+Add).
A spec is a small frozen dataclass so that a case is picklable, printable and replayable.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from l1ml.models.random_cnn import build_cnn_qonnx, random_cnn_spec
from l1ml.models.random_mlp import ROUNDING_MODES, LayerSpec, MLPSpec, QuantSpec, build_qonnx, qonnx_model

# Brevitas quantizers that may carry a float scale (compiled by exact requantisation, docs/requantization.md)
FLOAT_SCALE_SITES = ("input", "weight", "act", "all")


@dataclass(frozen=True)
class BrevQuant:
    """An activation/input quantizer: bits, sign, rounding and the power-of-two range 2**log2_max."""

    bits: int
    signed: bool
    rounding: str  # "ROUND" or "FLOOR" (Brevitas float_to_int_impl_type)
    log2_max: int


@dataclass(frozen=True)
class BrevitasSpec:
    """A Brevitas MLP, a residual MLP (two branches joined by Add) or a one-conv CNN."""

    kind: str  # "mlp", "residual" or "cnn"
    n_in: int  # MLP inputs; for the CNN the image side (input 1 x channels x side x side)
    widths: tuple[int, ...]  # hidden widths (mlp), branch width (residual), conv channels (cnn)
    n_out: int
    inp: BrevQuant
    weight_bits: int
    weight_log2: int  # weights drawn uniformly in +-2**weight_log2
    bias_bits: int | None
    act: BrevQuant  # after each hidden layer: QuantReLU if unsigned, QuantIdentity if signed
    float_scale: str | None = None  # one of FLOAT_SCALE_SITES: Brevitas' float-scale default there
    channels: int = 1  # CNN input channels
    kernel: int = 2  # CNN kernel side
    seed: int = 0


@dataclass(frozen=True)
class QonnxMLPSpec:
    """A direct QONNX MLP (l1ml.models.random_mlp) with random weights from ``seed``."""

    mlp: MLPSpec
    seed: int = 0


@dataclass(frozen=True)
class QonnxCNNSpec:
    """A direct QONNX CNN drawn by l1ml.models.random_cnn.random_cnn_spec from ``seed`` (tiny images)."""

    seed: int
    max_bits: int = 10


@dataclass(frozen=True)
class QonnxResidualSpec:
    """x -> Quant -> two Gemm+Relu+Quant branches -> Add -> Quant -> Gemm -> y, written directly."""

    n_in: int
    width: int
    n_out: int
    bits: int
    seed: int = 0


ModelSpec = BrevitasSpec | QonnxMLPSpec | QonnxCNNSpec | QonnxResidualSpec


# ---------------------------------------------------------------------------------------- strategies
ROUNDINGS = st.sampled_from(("ROUND", "FLOOR"))


def bit_widths(lo: int, hi: int) -> st.SearchStrategy[int]:
    """lo..hi with lo rare: 1-bit unsigned Brevitas quantizers export as BipolarQuant (a named refusal),
    which would otherwise crowd out the bit-exact cases (hypothesis favours boundary values)."""
    return st.sampled_from([*range(lo + 1, hi + 1)] * 3 + [lo]) if lo < hi else st.just(lo)


@st.composite
def brev_quant(draw, signed: bool | None = None, max_bits: int = 24) -> BrevQuant:
    s = draw(st.booleans()) if signed is None else signed
    bits = draw(bit_widths(2 if s else 1, max_bits))
    return BrevQuant(bits, s, draw(ROUNDINGS), draw(st.integers(-3, 4)))


@st.composite
def brevitas_specs(draw, kind: str | None = None, float_scale: bool = False) -> BrevitasSpec:
    """Valid Brevitas models, tiny: <= 16 inputs, <= 3 layers, <= 16 neurons, images 1-2 x 3..5 x 3..5."""
    kind = kind or draw(st.sampled_from(("mlp", "mlp", "residual", "cnn")))
    if kind == "cnn":
        n_in, widths = draw(st.integers(3, 5)), (draw(st.integers(1, 3)),)
    elif kind == "residual":
        n_in, widths = draw(st.integers(1, 16)), (draw(st.integers(1, 16)),)
    else:
        n_in = draw(st.integers(1, 16))
        widths = tuple(draw(st.lists(st.integers(1, 16), min_size=0, max_size=2)))
    return BrevitasSpec(
        kind=kind, n_in=n_in, widths=widths, n_out=draw(st.integers(1, 8 if kind == "cnn" else 16)),
        inp=draw(brev_quant()), weight_bits=draw(st.integers(2, 24)), weight_log2=draw(st.integers(-4, 3)),
        bias_bits=draw(st.none() | st.integers(8, 24)), act=draw(brev_quant(signed=False)),
        float_scale=draw(st.sampled_from(FLOAT_SCALE_SITES)) if float_scale else None,
        channels=draw(st.integers(1, 2)), kernel=draw(st.integers(1, 3)), seed=draw(st.integers(0, 2**16)))


@st.composite
def quant_specs(draw, signed: bool | None = None, max_bits: int = 24) -> QuantSpec:
    s = draw(st.booleans()) if signed is None else signed
    bits = draw(st.integers(2 if s else 1, max_bits))
    return QuantSpec(bits, draw(st.integers(-3, bits + 3)), s, s and draw(st.booleans()),
                     draw(st.sampled_from(ROUNDING_MODES)))


@st.composite
def qonnx_mlp_specs(draw, max_bits: int = 24) -> QonnxMLPSpec:
    layers = []
    depth = draw(st.integers(1, 3))
    for i in range(depth):
        relu = draw(st.booleans())
        act = draw(quant_specs(signed=not relu, max_bits=max_bits))
        if i == depth - 1 and draw(st.booleans()):
            act = None  # the exact accumulator is the output
        bias = draw(st.none() | quant_specs(signed=True, max_bits=max_bits))
        layers.append(LayerSpec(draw(st.integers(1, 16)), draw(quant_specs(signed=True, max_bits=max_bits)),
                                bias, relu, act, gemm=draw(st.booleans())))
    return QonnxMLPSpec(MLPSpec(draw(st.integers(1, 16)), draw(quant_specs(max_bits=max_bits)), tuple(layers)),
                        draw(st.integers(0, 2**16)))


def qonnx_cnn_specs() -> st.SearchStrategy[QonnxCNNSpec]:
    return st.builds(QonnxCNNSpec, seed=st.integers(0, 2**16), max_bits=st.integers(2, 12))


def qonnx_residual_specs() -> st.SearchStrategy[QonnxResidualSpec]:
    return st.builds(QonnxResidualSpec, n_in=st.integers(1, 16), width=st.integers(1, 16),
                     n_out=st.integers(1, 8), bits=st.integers(2, 12), seed=st.integers(0, 2**16))


def valid_specs() -> st.SearchStrategy[ModelSpec]:
    """Any valid model, both sources."""
    return st.one_of(brevitas_specs(), qonnx_mlp_specs(), qonnx_cnn_specs(), qonnx_residual_specs())


def base_specs() -> st.SearchStrategy[QonnxMLPSpec]:
    """Cheap valid models (no torch) for the invalid mutations to start from."""
    return qonnx_mlp_specs(max_bits=12)


# ---------------------------------------------------------------------------------------- writers
def write_model(spec: ModelSpec, path: Path) -> Path:
    """Write ``spec`` as a QONNX file at ``path`` (Brevitas specs go through export_qonnx)."""
    import onnx

    path = Path(path)
    if isinstance(spec, BrevitasSpec):
        export_brevitas(spec, path)
    else:
        onnx.save(build_direct(spec), str(path))
    return path


def build_direct(spec: QonnxMLPSpec | QonnxCNNSpec | QonnxResidualSpec):
    """The onnx.ModelProto of a directly written spec."""
    if isinstance(spec, QonnxMLPSpec):
        return build_qonnx(spec.mlp, np.random.default_rng(spec.seed))
    if isinstance(spec, QonnxCNNSpec):
        rng = np.random.default_rng(spec.seed)
        return build_cnn_qonnx(random_cnn_spec(rng, max_bits=spec.max_bits, max_side=4, max_channels=2), rng)
    return _build_residual(spec)


def _build_residual(spec: QonnxResidualSpec):
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(spec.seed)
    nodes, inits = [], []
    q = {"domain": "qonnx.custom_op.general", "narrow": 0, "rounding_mode": "ROUND"}

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    const("zp", 0.0)
    const("bits", float(spec.bits))
    const("s_in", 2.0**-3)
    const("s_w", 2.0**-(spec.bits - 2))

    def quant(src: str, scale: str, out: str, signed: int) -> str:
        nodes.append(helper.make_node("Quant", [src, scale, "zp", "bits"], [out], name=f"{out}_quant",
                                      signed=signed, **q))
        return out

    def dense(src: str, n_in: int, n_out: int, name: str) -> str:
        w = quant(const(f"{name}_w", rng.uniform(-1.5, 1.5, (n_out, n_in))), "s_w", f"{name}_wq", 1)
        nodes.append(helper.make_node("Gemm", [src, w], [name], name=name, transB=1))
        return name

    x = quant("x", "s_in", "xq", 1)
    branches = []
    for b in ("a", "b"):
        d = dense(x, spec.n_in, spec.width, f"fc_{b}")
        nodes.append(helper.make_node("Relu", [d], [f"relu_{b}"], name=f"relu_{b}"))
        branches.append(quant(f"relu_{b}", "s_in", f"act_{b}", 0))
    nodes.append(helper.make_node("Add", branches, ["sum"], name="join"))
    s = quant("sum", "s_in", "sum_q", 0)
    nodes.append(helper.make_node("Identity", [dense(s, spec.width, spec.n_out, "fc_out")], ["y"], name="out"))
    return qonnx_model(nodes, inits, "residual", [1, spec.n_in], [1, spec.n_out])


def _brevitas_quantizers(spec: BrevitasSpec):
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8ActPerTensorFloat,
        Int8BiasPerTensorFixedPointInternalScaling,
        Int8WeightPerTensorFixedPoint,
        Int8WeightPerTensorFloat,
        Uint8ActPerTensorFixedPoint,
        Uint8ActPerTensorFloat,
    )

    def act(qs: BrevQuant, site: str):
        if spec.float_scale in (site, "all"):
            base = Int8ActPerTensorFloat if qs.signed else Uint8ActPerTensorFloat
            return base.let(bit_width=qs.bits, float_to_int_impl_type=qs.rounding)
        base = Int8ActPerTensorFixedPoint if qs.signed else Uint8ActPerTensorFixedPoint
        return base.let(bit_width=qs.bits, max_val=2.0**qs.log2_max, float_to_int_impl_type=qs.rounding)

    wbase = Int8WeightPerTensorFloat if spec.float_scale in ("weight", "all") else Int8WeightPerTensorFixedPoint
    bias = (None if spec.bias_bits is None
            else Int8BiasPerTensorFixedPointInternalScaling.let(bit_width=spec.bias_bits))
    return act(spec.inp, "input"), wbase.let(bit_width=spec.weight_bits), bias, act(spec.act, "act")


def brevitas_module(spec: BrevitasSpec):
    """The torch module of ``spec``, weights seeded, in eval mode."""
    import brevitas.nn as qnn
    import torch
    from torch import nn

    torch.manual_seed(spec.seed)
    inp, w, b, act = _brevitas_quantizers(spec)
    lin = {"weight_quant": w, "bias_quant": b, "bias": b is not None, "return_quant_tensor": False}

    def act_layer(rqt: bool = True):
        cls = qnn.QuantIdentity if spec.act.signed else qnn.QuantReLU
        return cls(act_quant=act, return_quant_tensor=rqt)

    layers: list[nn.Module] = [qnn.QuantIdentity(act_quant=inp, return_quant_tensor=True)]
    if spec.kind == "cnn":
        c, side, k = spec.widths[0], spec.n_in, min(spec.kernel, spec.n_in)
        layers += [qnn.QuantConv2d(spec.channels, c, k, **lin), act_layer(), nn.Flatten(),
                   qnn.QuantLinear(c * (side - k + 1) ** 2, spec.n_out, **lin)]
        net: nn.Module = nn.Sequential(*layers)
    elif spec.kind == "residual":
        net = _Residual(layers[0], qnn.QuantLinear(spec.n_in, spec.widths[0], **lin),
                        qnn.QuantLinear(spec.n_in, spec.widths[0], **lin), act_layer(False), act_layer(False),
                        act_layer(), qnn.QuantLinear(spec.widths[0], spec.n_out, **lin))
    else:
        prev = spec.n_in
        for h in spec.widths:
            layers += [qnn.QuantLinear(prev, h, **lin), act_layer()]
            prev = h
        layers.append(qnn.QuantLinear(prev, spec.n_out, **lin))
        net = nn.Sequential(*layers)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear | nn.Conv2d):
                m.weight.uniform_(-(2.0**spec.weight_log2), 2.0**spec.weight_log2)
                if m.bias is not None:
                    m.bias.uniform_(-1.0, 1.0)
    return net.eval()


def _residual_cls():
    from torch import nn

    class Residual(nn.Module):
        """Two quantized branches joined by Add, then a requantiser and a Dense head."""

        def __init__(self, inp, fa, fb, ra, rb, join, head):
            super().__init__()
            self.inp, self.fa, self.fb, self.ra, self.rb, self.join, self.head = inp, fa, fb, ra, rb, join, head

        def forward(self, x):
            x = self.inp(x)
            return self.head(self.join(self.ra(self.fa(x)) + self.rb(self.fb(x))))

    return Residual


def _Residual(*mods):  # noqa: N802 - reads as the class it builds
    return _residual_cls()(*mods)


def export_brevitas(spec: BrevitasSpec, path: Path) -> None:
    """export_qonnx of the spec's module (its chatter silenced), without a stray external-data file."""
    import logging

    import onnx
    import torch
    from brevitas.export import export_qonnx

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    torch.set_num_threads(1)
    net = brevitas_module(spec)
    shape = (1, spec.channels, spec.n_in, spec.n_in) if spec.kind == "cnn" else (1, spec.n_in)
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        export_qonnx(net, torch.zeros(*shape), str(path))
    stray = Path(str(path) + ".data")
    if stray.exists():  # torch's exporter may leave the weights beside the model: store them inline
        onnx.save(onnx.load(str(path)), str(path))
        stray.unlink()


def describe(spec: ModelSpec) -> str:
    """A one-line description for tables and reproducers."""
    return repr(spec)
