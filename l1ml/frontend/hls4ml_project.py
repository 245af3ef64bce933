"""An hls4ml ``io_parallel`` project of Dense and ReLU layers read back into a QONNX model, so that l1ml's
hls4ml cost model can price a project that l1ml did not write (``l1ml build --reports-only`` on a plain
hls4ml project, and the vendor fixture of docs/estimation.md).

What is read, all from the files hls4ml writes:

* ``firmware/<top>.cpp``: the layer calls in order, ``nnet::dense<in_t, out_t, config2>(x, y, w2, b2); // fc1``
  and ``nnet::relu<in_t, out_t, relu_config4>(x, y); // relu1``, and the weight loads
  ``nnet::load_weights_from_txt<weight_t, 1024>(w2, "w2.txt")`` (type and size of each weight array);
* ``firmware/defines.h``: ``typedef ap_fixed<16,6> layer2_t;`` for every type named above;
* ``firmware/weights/<name>.txt``: the float weights, row-major (n_in, n_out).

A final softmax or sigmoid stays outside (l1ml prices the logits). Anything else (convolutions, other
activations, io_stream) is refused with the layer named, and the caller falls back to the vendor numbers
alone. Every ap_fixed type must be the same one (hls4ml's ``Precision: default`` with nothing overridden):
the model is then priced as hls4ml built it (``l1ml.estimate.hls4ml_cost.uniform_precision``).

A QONNX Quant cannot say what an ap_fixed cast with AP_WRAP does, nor that hls4ml casts every product
before summing; the model therefore computes something else than the project on overflow. It exists to be
priced, not run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l1ml.errors import InputFileError
from l1ml.ir.types import FixedType

#: layers a project may end with that l1ml leaves outside the priced model
OUTSIDE = ("softmax", "sigmoid")
_CALL = re.compile(r"nnet::(\w+)<([^;>]*)>\s*\(([^;]*)\);[ \t]*//[ \t]*(\S+)")
_LOAD = re.compile(r"load_weights_from_txt<\s*(\w+)\s*,\s*(\d+)\s*>\s*\(\s*(\w+)\s*,\s*\"([^\"]+)\"")
_TYPEDEF = re.compile(r"typedef\s+(ap_u?fixed)<([^>]*)>\s+(\w+)\s*;")
_VOID = re.compile(r"^void\s+(\w+)\s*\(", re.M)


class ProjectNotPriced(InputFileError):
    """The project holds something l1ml's reader does not rebuild; says what, so the caller can say why
    only the vendor numbers are shown."""


@dataclass(frozen=True)
class DenseLayer:
    name: str  # the hls4ml layer name (the ``// fc1`` comment)
    weights: np.ndarray  # (n_in, n_out) floats
    bias: np.ndarray  # (n_out,)


@dataclass(frozen=True)
class ReluLayer:
    name: str


@dataclass(frozen=True)
class ProjectNet:
    """The priced part of an hls4ml project: its Dense/ReLU layers in order, the one ap_fixed type of every
    value, and the layers left outside."""

    project: Path
    top: str
    n_inputs: int
    layers: tuple[DenseLayer | ReluLayer, ...]
    precision: FixedType
    rounding: str  # QONNX rounding mode of the type's quantization mode: FLOOR (AP_TRN) or ROUND (AP_RND_CONV)
    outside: tuple[str, ...]

    @property
    def n_outputs(self) -> int:
        return [la for la in self.layers if isinstance(la, DenseLayer)][-1].bias.size


def parse_ap_fixed(kind: str, args: str, where: str) -> tuple[FixedType, str]:
    """``ap_fixed<W,I[,Q[,O[,N]]]>`` -> (FixedType, QONNX rounding); the rounding modes a Quant can say."""
    parts = [a.strip() for a in args.split(",")]
    try:
        width, integer = int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        raise ProjectNotPriced(f"{where}: {kind}<{args}> is not an ap_fixed<W,I,...> with numeric W and I") from None
    mode = parts[2] if len(parts) > 2 else "AP_TRN"
    rounding = {"AP_TRN": "FLOOR", "AP_RND_CONV": "ROUND"}.get(mode)
    if rounding is None:
        raise ProjectNotPriced(f"{where}: quantization mode {mode} has no QONNX Quant rounding (AP_TRN and "
                               "AP_RND_CONV do)")
    return FixedType(kind == "ap_fixed", width, width - integer), rounding


def read_floats(path: Path, size: int) -> np.ndarray:
    """One hls4ml ``WriteWeightsTxt`` file: ``size`` comma-separated floats."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise InputFileError(f"{path}: cannot read the hls4ml weight file ({e.strerror}); point at an hls4ml "
                             "project written with WriteWeightsTxt") from None
    try:
        values = np.array([float(s) for s in text.replace("\n", ",").split(",") if s.strip()])
    except ValueError:
        raise InputFileError(f"{path}: not a comma-separated list of numbers; point at the weights/*.txt of an "
                             "hls4ml project") from None
    if values.size != size:
        raise InputFileError(f"{path}: {values.size} values where the project's C++ loads {size}")
    return values


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError as e:
        raise ProjectNotPriced(f"{path}: cannot read it ({e.strerror})") from None


def read_project_net(project: Path) -> ProjectNet:
    """The Dense/ReLU network of an hls4ml project directory (see the module docstring)."""
    project = Path(project)
    fw = project / "firmware"
    tops = [p for p in sorted(fw.glob("*.cpp")) if _VOID.search(_read(p)) and "nnet::" in _read(p)]
    if len(tops) != 1:
        raise ProjectNotPriced(f"{fw}: expected one top-level C++ file with nnet:: calls, found {len(tops)}")
    cpp = tops[0]
    src = _read(cpp)
    top = _VOID.search(src).group(1)
    defines = _read(fw / "defines.h")
    typedefs = {name: (kind, args) for kind, args, name in _TYPEDEF.findall(defines)}
    loads = {array: (typ, int(size), fname) for typ, size, array, fname in _LOAD.findall(src)}
    signature = re.search(rf"void\s+{top}\s*\(\s*(\w+)\s+\w+\s*\[\s*(\w+)\s*\]", src)
    if not signature:
        raise ProjectNotPriced(f"{cpp}: cannot read the input array of {top}(...) (io_parallel projects only)")
    in_type, in_size = signature.groups()
    size_def = re.search(rf"#define\s+{in_size}\s+(\d+)", defines)
    n_inputs = int(size_def.group(1)) if size_def else int(in_size) if in_size.isdigit() else None
    if n_inputs is None:
        raise ProjectNotPriced(f"{fw / 'defines.h'}: no #define of the input size {in_size}")

    used: set[str] = {in_type}
    layers: list[DenseLayer | ReluLayer] = []
    outside: list[str] = []
    calls = _CALL.findall(src)
    if not calls:
        raise ProjectNotPriced(f"{cpp}: no hls4ml layer calls (`nnet::<layer><...>(...); // name`)")
    for i, (kind, targs, args, name) in enumerate(calls):
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise ProjectNotPriced(f"{cpp}: layer name {name!r} in a `// name` comment is not an identifier")
        tnames = [t.strip() for t in targs.split(",")]
        if kind in OUTSIDE and i == len(calls) - 1:
            outside.append(name)
            continue
        if kind == "dense":
            arrays = [a.strip() for a in args.split(",")]
            if len(arrays) != 4 or arrays[2] not in loads or arrays[3] not in loads:
                raise ProjectNotPriced(f"{cpp}: layer '{name}': cannot find its weight and bias loads "
                                       "(load_weights_from_txt)")
            (wt, wsize, wfile), (bt, bsize, bfile) = loads[arrays[2]], loads[arrays[3]]
            if any(Path(f).name != f for f in (wfile, bfile)):
                raise ProjectNotPriced(f"{cpp}: layer '{name}' loads {wfile!r}/{bfile!r}; weight files are read "
                                       "only from the project's firmware/weights/")
            w = read_floats(fw / "weights" / wfile, wsize)
            b = read_floats(fw / "weights" / bfile, bsize)
            n_in = wsize // bsize
            if n_in * bsize != wsize:
                raise ProjectNotPriced(f"{cpp}: layer '{name}': {wsize} weights for {bsize} outputs")
            layers.append(DenseLayer(name, w.reshape(n_in, bsize), b))
            used.update({tnames[0], tnames[1], wt, bt})
        elif kind == "relu":
            layers.append(ReluLayer(name))
            used.update(tnames[:2])
        else:
            raise ProjectNotPriced(f"{cpp}: layer '{name}' is nnet::{kind}; l1ml rebuilds Dense and ReLU layers "
                                   "(a final softmax or sigmoid is left outside)")
    if not any(isinstance(la, DenseLayer) for la in layers):
        raise ProjectNotPriced(f"{cpp}: no Dense layer to price")
    missing = sorted(t for t in used if t not in typedefs)
    if missing:
        raise ProjectNotPriced(f"{fw / 'defines.h'}: no ap_fixed typedef of {', '.join(missing)}")
    types = {t: parse_ap_fixed(*typedefs[t], f"{fw / 'defines.h'} ({t})") for t in used}
    kinds = {types[t] for t in used}
    if len(kinds) != 1:
        shown = ", ".join(f"{t}={types[t][0]}" for t in sorted(used))
        raise ProjectNotPriced(f"{fw / 'defines.h'}: the layers use several precisions ({shown}); l1ml prices a "
                               "plain hls4ml project with one default precision only")
    (precision, rounding), = kinds
    n_in = n_inputs
    for la in layers:
        if isinstance(la, DenseLayer):
            if la.weights.shape[0] != n_in:
                raise ProjectNotPriced(f"{cpp}: layer '{la.name}' takes {la.weights.shape[0]} inputs after "
                                       f"{n_in} outputs")
            n_in = la.weights.shape[1]
    return ProjectNet(project, top, n_inputs, tuple(layers), precision, rounding, tuple(outside))


def to_qonnx(net: ProjectNet):
    """The onnx.ModelProto of ``net``: a Quant (the project's precision) on the input, on every weight and
    bias, after every MatMul + Add and after every ReLU. Node names: ``<layer>_matmul`` / ``<layer>_bias`` for
    a Dense, the layer's name for a ReLU."""
    from onnx import helper, numpy_helper

    from l1ml.models.random_mlp import qonnx_model

    t = net.precision
    nodes, inits = [], []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def quant(src: str, name: str) -> str:
        ins = [src, const(f"{name}_scale", np.float32(2.0**-t.frac)), const(f"{name}_zp", np.float32(0)),
               const(f"{name}_bits", np.float32(t.width))]
        nodes.append(helper.make_node("Quant", ins, [f"{name}_q"], name=f"{name}_quant",
                                      domain="qonnx.custom_op.general", signed=int(t.signed), narrow=0,
                                      rounding_mode=net.rounding))
        return f"{name}_q"

    x = quant("x", "input")
    for la in net.layers:
        if isinstance(la, DenseLayer):
            wq = quant(const(f"{la.name}_w", la.weights), f"{la.name}_w")
            bq = quant(const(f"{la.name}_b", la.bias), f"{la.name}_b")
            nodes.append(helper.make_node("MatMul", [x, wq], [f"{la.name}_mm"], name=f"{la.name}_matmul"))
            nodes.append(helper.make_node("Add", [f"{la.name}_mm", bq], [f"{la.name}_add"], name=f"{la.name}_bias"))
            x = quant(f"{la.name}_add", la.name)
        else:
            nodes.append(helper.make_node("Relu", [x], [f"{la.name}_out"], name=la.name))
            x = quant(f"{la.name}_out", la.name)
    nodes.append(helper.make_node("Identity", [x], ["y"], name="out"))
    return qonnx_model(nodes, inits, net.top, [1, net.n_inputs], [1, net.n_outputs])
