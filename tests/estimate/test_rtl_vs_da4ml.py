"""The bit-exactness part of benchmarks/rtl_vs_da4ml.py: an l1ml graph replayed in da4ml must give the
emulator's output codes, and a changed weight must be caught (no Yosys, no Verilator)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from l1ml.backends.emulate import input_codes
from l1ml.errors import NodeError
from l1ml.ir.ops import Op
from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec
from l1ml.verify.vectors import make_vectors

from .conftest import mlp_spec

pytest.importorskip("da4ml", reason="da4ml is not installed (the optional extra: pip install 'l1ml[da4ml]')")

FLOW = Path(__file__).resolve().parents[2] / "benchmarks" / "da4ml_flow.py"


@pytest.fixture(scope="module")
def flow():
    spec = importlib.util.spec_from_file_location("da4ml_flow", FLOW)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["da4ml_flow"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_da4ml_replay_is_bit_exact_and_a_wrong_weight_is_caught(flow, make_graph):
    g = make_graph(mlp_spec(8, (6, 4), in_bits=6, w_bits=5), seed=3)
    codes = input_codes(g, make_vectors(g, 2000, seed=1))[g.inputs[0]]
    ty = g.t(g.inputs[0]).type
    assert codes.min() == ty.min_code and codes.max() == ty.max_code  # the extreme codes are among them
    design = flow.design_for_levels(g, 4)
    assert design.register_levels == design.stages + 1 and 1 <= design.stages <= 3
    assert design.lut_estimate > 0 and design.ff_estimate > 0
    res = flow.check_bit_exact(g, design, codes)
    assert res.ok and res.n_vectors == 2000 and res.mismatched_words == 0

    wrong = g.copy()
    dense = next(n for n in wrong.nodes if n.op is Op.DENSE)
    w = wrong.t(dense.inputs[1])
    w.data = w.data.copy()
    w.data[np.unravel_index(np.argmax(np.abs(w.data)), w.data.shape)] -= 1  # one weight one code smaller
    bad = flow.check_bit_exact(g, flow.design_for_levels(wrong, 4), codes)
    assert not bad.ok and bad.mismatched_vectors > 0


def test_rounding_da4ml_cannot_replay_is_refused_by_name(flow, make_graph):
    act = QuantSpec(8, 4, signed=True, rounding="ROUND")  # half to even: da4ml rounds half up only
    spec = MLPSpec(6, QuantSpec(6, 3), (LayerSpec(4, QuantSpec(5, 4), None, False, act),))
    g = make_graph(spec, seed=1)
    with pytest.raises(NodeError, match="TRUNC rounding"):
        flow.trace(g, -1)
