"""Random valid Requant nodes in small typed graphs, with input codes that reach every corner of them.

For the backend and estimator tests of the Requant node and for property checks: ``random_attrs``
draws a RequantAttrs that is valid for its input and output types (thresholds ascending, some below
and above the input range and some repeated, with a base that keeps every output in range; or any
multiplier, addend and shift, the clip keeps the output in range). ``requant_codes_for`` draws input
codes: every code where the input has at most as many codes as there are vectors, otherwise the
extremes, the codes around each threshold and around each clip boundary, and random codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import Op, RequantAttrs
from l1ml.ir.types import FixedType


@dataclass(frozen=True)
class RequantInput:
    """A graph input and the Requant nodes that read it: (form, per channel, output type) each."""

    name: str
    type: FixedType
    shape: tuple[int, ...]
    nodes: tuple[tuple[str, bool, FixedType], ...]


def _big(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A uniform integer in [lo, hi] (Python ints: the range may pass 64 bits)."""
    span = hi - lo + 1
    bits = span.bit_length() + 8
    return lo + int.from_bytes(rng.bytes((bits + 7) // 8), "little") % span


def _thresholds(rng: np.random.Generator, x: FixedType, out: FixedType) -> tuple[tuple[int, ...], int, int]:
    lo, hi = x.min_code, x.max_code
    span = out.max_code - out.min_code
    m = int(rng.integers(0, min(12, span) + 1))
    margin = max((hi - lo) // 8, 2)
    special = [lo, lo + 1, hi, hi + 1, lo - 1]
    ts = [special[int(rng.integers(len(special)))] if rng.random() < 0.25 else _big(rng, lo - margin, hi + margin)
          for _ in range(m)]
    if m >= 2 and rng.random() < 0.5:
        ts[1] = ts[0]  # a repeated threshold
    ts.sort()
    step = 1 if rng.random() < 0.5 else -1
    base = _big(rng, out.min_code, out.max_code - m) if step > 0 else _big(rng, out.min_code + m, out.max_code)
    return tuple(ts), base, step


def _multiply(rng: np.random.Generator, x: FixedType, out: FixedType) -> tuple[int, int, int]:
    kind = rng.random()
    if kind < 0.08:
        mult = 0
    elif kind < 0.2:
        mult = (1 << int(rng.integers(0, 12))) * (1 if rng.random() < 0.5 else -1)
    else:
        bits = int(rng.integers(1, 31))
        mult = _big(rng, 1 << (bits - 1), (1 << bits) - 1) * (1 if rng.random() < 0.7 else -1)
    reach = x.width + max(mult.bit_length(), 1)
    shift = max(0, reach - out.width + int(rng.integers(-3, 4)))
    if rng.random() < 0.1:
        shift = int(rng.integers(0, 70))
    add = 0 if rng.random() < 0.2 else _big(rng, -(1 << (shift + out.width)), 1 << (shift + out.width))
    if shift and rng.random() < 0.2:
        add = 1 << (shift - 1)  # round half up, as a requantiser writes it
    return mult, add, shift


def random_attrs(rng: np.random.Generator, x: FixedType, out: FixedType, channels: int, form: str) -> RequantAttrs:
    """A valid RequantAttrs of ``form`` with ``channels`` entries for input type ``x`` and output ``out``."""
    if form == "thresholds":
        chans = [_thresholds(rng, x, out) for _ in range(channels)]
        return RequantAttrs("thresholds", thresholds=tuple(c[0] for c in chans), base=tuple(c[1] for c in chans),
                            step=tuple(c[2] for c in chans), source="random")
    chans_m = [_multiply(rng, x, out) for _ in range(channels)]
    shift = chans_m[0][2]  # one shift per node
    return RequantAttrs("multiply", mult=tuple(c[0] for c in chans_m), add=tuple(c[1] for c in chans_m),
                        shift=shift, source="random")


def random_out_type(rng: np.random.Generator) -> FixedType:
    """An output type of 1 to 16 bits, signed or unsigned, sometimes narrow range."""
    signed = rng.random() < 0.5
    width = int(rng.integers(2 if signed else 1, 17))
    narrow = width >= 2 and rng.random() < 0.25
    return FixedType(signed, width, int(rng.integers(-2, 7)), narrow=narrow)


def requant_graph(inputs: list[RequantInput], seed: int, name: str = "requant") -> Graph:
    """One graph: each input read by its Requant nodes, every node's output a graph output."""
    rng = np.random.default_rng(seed)
    tensors: dict[str, Tensor] = {}
    nodes: list[Node] = []
    outputs: list[str] = []
    for inp in inputs:
        tensors[inp.name] = Tensor(inp.name, inp.shape, inp.type)
        for k, (form, per_channel, out) in enumerate(inp.nodes):
            channels = inp.shape[-1] if per_channel else 1
            y = f"{inp.name}_{form[0]}{k}"
            tensors[y] = Tensor(y, inp.shape, out)
            nodes.append(Node(f"rq_{y}", Op.REQUANT, [inp.name], [y], random_attrs(rng, inp.type, out, channels, form),
                              {"onnx_name": f"/{y}/Requant"}))
            outputs.append(y)
    g = Graph(name, tensors, nodes, [i.name for i in inputs], outputs)
    g.verify(typed=True)
    return g


def _specials(node: Node, x: FixedType, channel: int, out: FixedType) -> list[int]:
    """Input codes where a node's output changes: around each threshold and each clip boundary."""
    a: RequantAttrs = node.attrs
    pts: list[int] = []
    if a.form == "thresholds":
        for t in a.thresholds[channel if len(a.thresholds) > 1 else 0]:
            pts += [t - 1, t, t + 1]
    else:
        c = channel if len(a.mult) > 1 else 0
        m, add = a.mult[c], a.add[c]
        if m:
            for bound in (out.min_code, out.max_code + 1):
                x0 = ((bound << a.shift) - add) // m
                pts += [x0 - 1, x0, x0 + 1, x0 + 2]
    return [v for v in pts if x.min_code <= v <= x.max_code]


def requant_codes_for(g: Graph, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` input code vectors per graph input (int64, (n, *shape)); see the module docstring."""
    rng = np.random.default_rng(seed)
    codes = {}
    for name in g.inputs:
        t = g.t(name)
        x = t.type
        size = t.size
        cols = np.empty((n, size), dtype=np.int64)
        count = x.max_code - x.min_code + 1
        for j in range(size):
            if count <= n:  # every code, in a different order per element
                col = np.resize(np.arange(x.min_code, x.max_code + 1, dtype=np.int64), n)
                cols[:, j] = np.roll(col, int(rng.integers(count)))
                continue
            col = [_big(rng, x.min_code, x.max_code) for _ in range(n)]
            special = [x.min_code, x.max_code, x.min_code + 1, x.max_code - 1] + \
                [v for v in (-1, 0, 1) if x.min_code <= v <= x.max_code]
            channel = j % t.shape[-1]
            for node in g.users(name):
                special += _specials(node, x, channel, g.t(node.outputs[0]).type)
            special = sorted(set(special))[:n]
            col[: len(special)] = special
            cols[:, j] = np.asarray(col, dtype=np.int64)
        codes[name] = cols.reshape(n, *t.shape)
    return codes
