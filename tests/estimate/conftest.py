"""Small typed graphs for the estimator tests, built from random QONNX MLPs."""

from __future__ import annotations

from pathlib import Path

import pytest

from l1ml.ir.graph import Graph
from l1ml.load import load_graph
from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec, write_random_mlp


def mlp_spec(n_in: int, widths: tuple[int, ...], in_bits: int = 8, w_bits: int = 6, act_bits: int = 8,
             relu: bool = True) -> MLPSpec:
    layers = tuple(LayerSpec(w, QuantSpec(w_bits, w_bits - 1), QuantSpec(8, 4), relu,
                             QuantSpec(act_bits, act_bits - 3, signed=not relu, rounding="FLOOR"))
                   for w in widths)
    return MLPSpec(n_in, QuantSpec(in_bits, in_bits - 3), layers)


@pytest.fixture
def make_graph(tmp_path: Path):
    """``make_graph(spec, seed)`` -> the typed graph of a random MLP with that shape."""
    counter = iter(range(10_000))

    def build(spec: MLPSpec, seed: int = 0) -> Graph:
        path = write_random_mlp(tmp_path / f"m{next(counter)}.onnx", spec, seed=seed)
        return load_graph(path)

    return build
