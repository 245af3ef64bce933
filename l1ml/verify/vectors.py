"""Test vectors that exercise what breaks bit-exactness: saturation, rounding ties, extremes.

Every level (qonnx, hls4ml C-sim, RTL) is driven with the same float vectors; the corner cases come
first so that even a short run sees them. A one-input model gets an array (events first); a model with
several inputs (the track GNN: features and validity masks) a dict of arrays by input name.
"""

from __future__ import annotations

import numpy as np

from l1ml.errors import L1MLError
from l1ml.ir.graph import Graph, Tensor
from l1ml.ir.ops import Op
from l1ml.limits import check_vector_values

Vectors = np.ndarray | dict[str, np.ndarray]


def n_events(x: Vectors) -> int:
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def as_dict(g: Graph, x: Vectors) -> dict[str, np.ndarray]:
    """Vectors by input name (a plain array is the one input's)."""
    if isinstance(x, dict):
        missing = [i for i in g.inputs if i not in x]
        if missing:
            raise L1MLError(f"vectors for inputs {missing} are missing; the model has inputs {g.inputs}")
        return {i: x[i] for i in g.inputs}
    if len(g.inputs) != 1:
        raise L1MLError(f"the model has inputs {g.inputs}; pass a dict of arrays (or an .npz with those keys)")
    return {g.inputs[0]: x}


def input_lsb(g: Graph, name: str) -> float:
    """The real value of one input code: 2**-frac, times the input quantizer's float scale if it has one."""
    from l1ml.ir.quantize import graph_scale

    s = graph_scale(g.meta, name)
    return g.t(name).type.lsb * (1.0 if s is None else float(s))


def _generic_corners(t: Tensor, lsb: float | None = None) -> list[tuple[np.ndarray, str]]:
    """Patterns every input gets: zeros, extremes, saturation, non-finite values, rounding ties (exact
    for a power-of-two ``lsb``, within float32's rounding of a float scale's)."""
    shape, ty = t.shape, t.type
    lsb = ty.lsb if lsb is None else lsb
    lo, hi = ty.min_code * lsb, ty.max_code * lsb
    k = np.arange(int(np.prod(shape))).reshape(shape)
    f32 = np.finfo(np.float32)
    pats: list[tuple[np.ndarray | float, str]] = [
        (0.0, "all-zero"), (hi, "all-max"), (lo, "all-min"), (hi * 4 + 1.0, "saturate-high"),
        (lo * 4 - 1.0, "saturate-low"),
        # non-finite and huge values saturate like the input quantizer (docs/verify.md, "Non-finite inputs")
        (np.inf, "+inf"), (-np.inf, "-inf"), (1e30, "+1e30"), (-1e30, "-1e30"),
        (float(f32.max), "+float32-max"), (-float(f32.max), "-float32-max"),
        (np.where(k % 2 == 0, np.inf, -np.inf), "alternate-inf"),
        # denormals: far below any LSB, they round to 0 (or to -1 LSB under FLOOR when negative)
        (float(f32.smallest_subnormal), "+denormal"), (-float(f32.smallest_subnormal), "-denormal"),
        (float(f32.smallest_normal) * (1 - 2.0**-23), "+denormal-max"),
        (-float(f32.smallest_normal) * (1 - 2.0**-23), "-denormal-max"),
        (0.5 * lsb, "+half-lsb"), (-0.5 * lsb, "-half-lsb"),
    ]
    # exact rounding ties of the input quantizer, both signs and both parities
    pats += [(np.clip((k % 7 - 3 + off) * lsb, lo, hi), f"tie{off:+}") for off in (0.5, 1.5, -0.5, -1.5)]
    pats.append((np.where(k % 2 == 0, hi, lo), "alternate-max-min"))
    return [(np.broadcast_to(np.asarray(v, dtype=np.float64), shape).astype(np.float32), kind) for v, kind in pats]


def corner_vectors(g: Graph) -> tuple[np.ndarray, list[str]]:
    """Float vectors for the model input, with a label for each kind."""
    if len(g.inputs) != 1:
        raise L1MLError("corner_vectors is for one-input models; use multi_corner_vectors")
    t = g.t(g.inputs[0])
    shape, ty = t.shape, t.type
    lsb = input_lsb(g, t.name)
    lo, hi = ty.min_code * lsb, ty.max_code * lsb
    generic = _generic_corners(t, lsb)
    rows: list[np.ndarray] = [v for v, _ in generic]
    kinds: list[str] = [k for _, k in generic]

    def add(v: np.ndarray | float, kind: str) -> None:
        rows.append(np.broadcast_to(np.asarray(v, dtype=np.float64), shape).astype(np.float32))
        kinds.append(kind)

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


def multi_corner_vectors(g: Graph) -> tuple[dict[str, np.ndarray], list[str]]:
    """Corner cases of a several-input model: every generic pattern on all feature inputs at once with
    the validity masks all set (a full sector), then the same with the masks all clear (an empty one)."""
    masks = set(g.meta.get("mask_inputs", ()))
    feats = [i for i in g.inputs if i not in masks]
    per_input = {i: _generic_corners(g.t(i), input_lsb(g, i)) for i in feats}
    kinds = [k for _, k in per_input[feats[0]]] if feats else ["masks"]
    out: dict[str, list[np.ndarray]] = {i: [] for i in g.inputs}
    labels: list[str] = []
    for fill, label in ((1.0, "full"), (0.0, "empty")):
        for j, kind in enumerate(kinds):
            for i in g.inputs:
                if i in masks:
                    out[i].append(np.full(g.t(i).shape, fill, np.float32))
                else:
                    out[i].append(per_input[i][j][0])
            labels.append(f"{label}:{kind}")
    return {i: np.stack(v) for i, v in out.items()}, labels


def _random_inputs(t: Tensor, rng: np.random.Generator, n: int, lsb: float | None = None) -> np.ndarray:
    """Values over (and beyond) the quantizer's range, a quarter of them rounding ties."""
    lsb = t.type.lsb if lsb is None else lsb
    span = (t.type.max_code - t.type.min_code + 1) * lsb
    centre = (t.type.max_code + t.type.min_code) / 2 * lsb
    x = centre + rng.uniform(-0.7, 0.7, size=(n, *t.shape)) * span
    ties = rng.random(n) < 0.25
    x[ties] = (np.floor(x[ties] / lsb) + 0.5) * lsb
    return x.astype(np.float32)


def make_vectors(g: Graph, n: int, seed: int = 0, data: Vectors | None = None) -> Vectors:
    """``n`` float32 vectors: the corner cases, then rows of ``data`` (real events), then random
    values spread over (and beyond) the input quantizer's range, a share of them exact ties.

    For a model with several inputs the result is a dict by input name; random events there draw each
    validity-mask bit with probability 1/2 (partly filled sectors)."""
    check_vector_values(n, sum(g.t(i).size for i in g.inputs))  # before anything is allocated
    if len(g.inputs) != 1:
        return _make_multi(g, n, seed, data)
    corners, _ = corner_vectors(g)
    parts = [corners[:n]]
    left = n - len(parts[0])
    if data is not None and left > 0:
        d = np.asarray(data, dtype=np.float32)[:left]
        parts.append(d)
        left -= len(d)
    if left > 0:
        parts.append(_random_inputs(g.t(g.inputs[0]), np.random.default_rng(seed), left, input_lsb(g, g.inputs[0])))
    return np.concatenate(parts)[:n]


def _make_multi(g: Graph, n: int, seed: int, data: Vectors | None) -> dict[str, np.ndarray]:
    corners, _ = multi_corner_vectors(g)
    parts = [{i: v[:n] for i, v in corners.items()}]
    left = n - n_events(parts[0])
    if data is not None and left > 0:
        d = {i: np.asarray(v, dtype=np.float32)[:left].reshape(-1, *g.t(i).shape)
             for i, v in as_dict(g, data).items()}
        parts.append(d)
        left -= n_events(d)
    if left > 0:
        rng = np.random.default_rng(seed)
        masks = set(g.meta.get("mask_inputs", ()))
        parts.append({i: (rng.random((left, *g.t(i).shape)) < 0.5).astype(np.float32) if i in masks
                      else _random_inputs(g.t(i), rng, left, input_lsb(g, i)) for i in g.inputs})
    return {i: np.concatenate([p[i] for p in parts])[:n] for i in g.inputs}
