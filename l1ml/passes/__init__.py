"""Graph passes. Each is a plain function ``pass_(graph) -> changed`` in its own file; the pipeline
is the literal list below, run in order on a copy of the frontend's graph."""

from __future__ import annotations

from collections.abc import Callable

from l1ml.ir.graph import Graph
from l1ml.passes.absorb_quant import absorb_quant
from l1ml.passes.fold_batchnorm import fold_batchnorm
from l1ml.passes.fold_transpose_into_dense import fold_transpose_into_dense
from l1ml.passes.fuse_dense_bias import fuse_dense_bias
from l1ml.passes.fuse_transposes import fuse_transposes
from l1ml.passes.infer_types import infer_types
from l1ml.passes.remove_dead import remove_dead
from l1ml.passes.remove_redundant_quantize import remove_redundant_quantize
from l1ml.passes.require_types import require_types
from l1ml.passes.type_constants import type_constants
from l1ml.passes.type_mask_inputs import type_mask_inputs

Pass = Callable[[Graph], bool]

PIPELINE: list[Pass] = [
    fuse_dense_bias,
    absorb_quant,
    type_mask_inputs,
    fuse_transposes,
    fold_transpose_into_dense,
    type_constants,
    infer_types,  # up to any BatchNorm
    fold_batchnorm,
    infer_types,
    remove_redundant_quantize,
    infer_types,
    remove_dead,
    require_types,
]


def run_pipeline(g: Graph, passes: list[Pass] | None = None) -> Graph:
    """Run the passes on a copy of ``g`` and return the typed, verified graph."""
    g = g.copy()
    for p in PIPELINE if passes is None else passes:
        p(g)
        g.verify()
    g.verify(typed=True)
    return g
