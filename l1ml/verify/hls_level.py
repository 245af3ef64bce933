"""The hls level: the written hls4ml project's C-simulation, built with g++, driven through ctypes."""

from __future__ import annotations

import ctypes
import hashlib
import subprocess
from pathlib import Path

import numpy as np

from l1ml.errors import L1MLError
from l1ml.ir.graph import Graph
from l1ml.ir.quantize import graph_scale, quantize_input, to_real
from l1ml.verify.vectors import Vectors, as_dict


def _sources_digest(prj: Path) -> str:
    h = hashlib.sha256(str(prj.resolve()).encode())  # the library reads its weights by absolute path
    # nnet_utils/ too: the distributed_arithmetic strategy writes its adder graphs into nnet_code_gen.h there
    for p in sorted(prj.glob("firmware/*.h")) + sorted(prj.glob("firmware/*.cpp")) + \
            sorted(p for p in prj.glob("firmware/nnet_utils/*") if p.is_file()) + sorted(prj.glob("firmware/weights/*")) + \
            [prj / f"{_project_name(prj)}_bridge.cpp"]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _project_name(prj: Path) -> str:
    bridges = sorted(prj.glob("*_bridge.cpp"))
    if not bridges:
        raise L1MLError(f"{prj}: no hls4ml project here (no *_bridge.cpp); run `l1ml compile` first")
    return bridges[0].name[: -len("_bridge.cpp")]


def build_csim(prj: Path) -> Path:
    """Compile the project's C-simulation library with its own build_lib.sh (cached by source hash).

    The library is returned under a name that holds the source hash (``<project>-l1ml-<hash>.so``): build_lib.sh
    names it by hls4ml's project stamp, which does not change when a source does, and the dynamic loader
    hands a process the library it already loaded from the same path, so a rebuilt project would otherwise
    run its old code until the process ends."""
    name = _project_name(prj)
    digest = _sources_digest(prj)
    lib = prj / "firmware" / f"{name}-l1ml-{digest}.so"
    if lib.exists():
        return lib
    for old in (prj / "firmware").glob(f"{name}-*.so"):
        old.unlink()
    r = subprocess.run(["bash", "build_lib.sh"], cwd=prj, capture_output=True, text=True)
    if r.returncode != 0:
        raise L1MLError(f"{prj}: g++ failed to build the C-simulation:\n{r.stderr[-3000:]}")
    built = sorted((prj / "firmware").glob(f"{name}-*.so"))
    if not built:
        raise L1MLError(f"{prj}: build_lib.sh finished but wrote no firmware/{name}-*.so")
    built[-1].replace(lib)
    for m in (prj / "firmware").glob(".l1ml-csim-*"):  # the markers of earlier l1ml versions
        m.unlink()
    return lib


def csim_inputs(g: Graph, x: Vectors) -> dict[str, np.ndarray]:
    """What the C-simulation is fed for float32 vectors ``x`` (IR layout), by input name: the floats
    themselves (as exact doubles), so that the project's own input conversion quantizes them, except
    for an input whose quantizer ap_fixed cannot express (unsigned narrow range), which gets its exact
    codes from the emulator's quantizer instead, as the host would send them."""
    from l1ml.backends.hls4ml import converts_input

    out = {}
    for name, v in as_dict(g, x).items():
        t = g.t(name).type
        v = np.asarray(v, dtype=np.float32)
        scale = graph_scale(g.meta, name)  # a float-scale input: the host sends the codes, as for rtl
        out[name] = v.astype(np.float64) if converts_input(t) and scale is None else \
            to_real(quantize_input(v, t, scale), t)
    return out


def run_csim(prj: Path, x: np.ndarray | dict[str, np.ndarray], n_out: int) -> np.ndarray:
    """Outputs (float64) of the C-simulation for inputs ``x`` given as real values.

    Give the float32 test vectors themselves: they become doubles exactly, and the input layer's
    ap_fixed type (``backends.hls4ml.input_precision``) quantizes them as the model's input Quant does,
    rounding once and saturating (±inf included). Values already on an input's grid pass unchanged.
    ``x`` is one array (n, *shape) for a one-input model, or a dict {input name: array (n, *shape)}
    in the graph's input order, which is the order of the bridge function's input arrays.
    """
    lib = ctypes.CDLL(str(build_csim(prj)))
    fn = getattr(lib, f"{_project_name(prj)}_double")
    arrays = list(x.values()) if isinstance(x, dict) else [x]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise L1MLError(f"{prj}: the C-simulation inputs have different numbers of vectors: "
                        f"{[len(a) for a in arrays]}")
    xs = [np.ascontiguousarray(np.asarray(a).reshape(n, -1), dtype=np.float64) for a in arrays]
    if any(np.isnan(a).any() for a in xs):
        raise L1MLError("NaN among the C-simulation inputs: ap_fixed has no NaN (refuse it before, as the "
                        "emulator does)")
    ptr = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
    fn.argtypes, fn.restype = [ptr] * (len(xs) + 1), None
    y = np.zeros((n, n_out), dtype=np.float64)
    for i in range(n):
        fn(*(x[i] for x in xs), y[i])
    return y
