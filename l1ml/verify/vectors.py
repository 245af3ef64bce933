"""Test vectors that exercise what breaks bit-exactness: saturation, rounding ties, extremes.

Every level (qonnx, hls4ml C-sim, RTL) is driven with the same float vectors; the corner cases come
first so that even a short run sees them.
"""

from __future__ import annotations

import numpy as np

from l1ml.errors import L1MLError
from l1ml.ir.graph import Graph
from l1ml.ir.ops import Op


def corner_vectors(g: Graph) -> tuple[np.ndarray, list[str]]:
    """Float vectors for the model input, with a label for each kind."""
    if len(g.inputs) != 1:
        raise L1MLError("test vectors are generated for single-input models")
    t = g.t(g.inputs[0])
    shape, ty = t.shape, t.type
    lsb, lo, hi = ty.lsb, ty.min_code * ty.lsb, ty.max_code * ty.lsb
    rows: list[np.ndarray] = []
    kinds: list[str] = []

    def add(v: np.ndarray | float, kind: str) -> None:
        rows.append(np.broadcast_to(np.asarray(v, dtype=np.float64), shape).astype(np.float32))
        kinds.append(kind)

    add(0.0, "all-zero")
    add(hi, "all-max")
    add(lo, "all-min")
    add(hi * 4 + 1.0, "saturate-high")
    add(lo * 4 - 1.0, "saturate-low")
    add(np.inf, "+inf")
    add(-np.inf, "-inf")
    add(3.0e38, "float32-max")
    n = int(np.prod(shape))
    k = np.arange(n).reshape(shape)
    # exact rounding ties of the input quantizer, both signs and both parities
    for off in (0.5, 1.5, -0.5, -1.5):
        add(np.clip((k % 7 - 3 + off) * lsb, lo, hi), f"tie{off:+}")
    add(np.where(k % 2 == 0, hi, lo), "alternate-max-min")
    # drive each first-layer neuron to its extremes: that saturates the quantizers after it
    first = next((m for m in g.nodes if m.inputs and m.inputs[0] == g.inputs[0]), None)
    if first is not None and first.op is Op.DENSE and len(shape) == 1:
        w = g.t(first.inputs[1]).data
        for j in range(min(w.shape[1], 64)):
            s = np.sign(w[:, j])
            add(np.where(s > 0, hi, np.where(s < 0, lo, 0.0)), f"neuron{j}-max")
            add(np.where(s > 0, lo, np.where(s < 0, hi, 0.0)), f"neuron{j}-min")
    if first is not None and first.op is Op.CONV2D and len(shape) == 3:
        # tile each output channel's kernel sign pattern over the image: every window that lines up
        # with the tiling (the top-left one at least) then reaches that channel's extreme sum
        w = g.t(first.inputs[1]).data
        kh, kw = w.shape[:2]
        top, left = first.attrs.pads[:2]
        rows_idx = (np.arange(shape[0]) + top) % kh
        cols_idx = (np.arange(shape[1]) + left) % kw
        for o in range(min(w.shape[3], 64)):
            s = np.sign(w[rows_idx][:, cols_idx][..., o])
            add(np.where(s > 0, hi, np.where(s < 0, lo, 0.0)), f"channel{o}-max")
            add(np.where(s > 0, lo, np.where(s < 0, hi, 0.0)), f"channel{o}-min")
    return np.stack(rows), kinds


def make_vectors(g: Graph, n: int, seed: int = 0, data: np.ndarray | None = None) -> np.ndarray:
    """``n`` float32 vectors: the corner cases, then rows of ``data`` (real events), then random
    values spread over (and beyond) the input quantizer's range, a share of them exact ties."""
    corners, _ = corner_vectors(g)
    parts = [corners[:n]]
    left = n - len(parts[0])
    if data is not None and left > 0:
        d = np.asarray(data, dtype=np.float32)[:left]
        parts.append(d)
        left -= len(d)
    if left > 0:
        t = g.t(g.inputs[0])
        rng = np.random.default_rng(seed)
        span = (t.type.max_code - t.type.min_code + 1) * t.type.lsb
        centre = (t.type.max_code + t.type.min_code) / 2 * t.type.lsb
        x = centre + rng.uniform(-0.7, 0.7, size=(left, *t.shape)) * span
        ties = rng.random(left) < 0.25
        x[ties] = (np.floor(x[ties] / t.type.lsb) + 0.5) * t.type.lsb
        parts.append(x.astype(np.float32))
    return np.concatenate(parts)[:n]
