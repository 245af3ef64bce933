"""Every backend and estimator has a rule for every op a model can reach them with, and each generator
and its estimator cover the same ops: adding an op to one and not the other fails here, not in a user's
compile. The ops a model reaches them with are all of ``Op`` but the float ops of the frontend
(``l1ml.ir.ops.FLOAT_OPS``), which the passes turn into integer ops or refuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from l1ml.backends.emulate import Emulator
from l1ml.backends.hls4ml import HLSLowering
from l1ml.backends.verilog.render import VerilogRenderer
from l1ml.backends.verilog.rows import RowsRenderer
from l1ml.estimate.hls4ml_cost import HLSCost
from l1ml.estimate.verilog_cost import VerilogCost
from l1ml.estimate.verilog_rows_cost import RowsCost
from l1ml.ir.ops import FLOAT_OPS, Op
from l1ml.load import compile_graph
from l1ml.models.random_cnn import build_cnn_qonnx, random_cnn_spec
from l1ml.models.random_mlp import random_spec, write_random_mlp
from l1ml.passes.infer_types import TypeInference

#: ops only a graph with row-wise regions (a GNN) has; write_rtl and the Verilog estimate hand such a graph
#: to RowsRenderer / RowsCost, so the flat renderer and its cost model never see them
ROW_OPS = frozenset({Op.GATHER, Op.SEGMENT_SUM})
ALL = frozenset(Op)
#: each class, the ops it must have a rule for
EXPECTED = {
    Emulator: ALL - FLOAT_OPS,
    HLSLowering: ALL - FLOAT_OPS,
    HLSCost: ALL - FLOAT_OPS,
    RowsRenderer: ALL - FLOAT_OPS,
    RowsCost: ALL - FLOAT_OPS,
    VerilogRenderer: ALL - FLOAT_OPS - ROW_OPS,
    VerilogCost: ALL - FLOAT_OPS - ROW_OPS,
    TypeInference: ALL,  # types every op, float ones as "still float"
}
#: (generator, its estimator): the estimate prices what the generator builds, rule for rule
PAIRS = [(HLSLowering, HLSCost), (VerilogRenderer, VerilogCost), (RowsRenderer, RowsCost), (Emulator, HLSLowering)]


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_every_backend_and_estimator_has_a_rule_for_every_op_after_the_passes(cls):
    have = frozenset(cls.rules)
    assert sorted(o.name for o in EXPECTED[cls] - have) == [], "ops without a rule"
    assert sorted(o.name for o in have - EXPECTED[cls]) == [], "rules for ops that cannot reach it"


@pytest.mark.parametrize(("gen", "est"), PAIRS, ids=lambda c: c.__name__)
def test_each_generator_and_its_estimator_cover_the_same_ops(gen, est):
    assert set(gen.rules) == set(est.rules)


def _models(tmp: Path) -> list[Path]:
    import onnx

    paths = [Path(__file__).resolve().parents[2] / "examples" / "jet_mlp.onnx"]
    for seed in range(6):
        paths.append(write_random_mlp(tmp / f"mlp{seed}.onnx", random_spec(np.random.default_rng(seed)), seed))
        rng = np.random.default_rng(100 + seed)
        p = tmp / f"cnn{seed}.onnx"
        onnx.save(build_cnn_qonnx(random_cnn_spec(rng), rng), str(p))
        paths.append(p)
    return paths


def test_no_float_op_survives_the_passes(tmp_path):
    seen: set[Op] = set()
    for path in _models(tmp_path):
        g = compile_graph(path)
        ops = {n.op for n in g.nodes}
        assert not ops & FLOAT_OPS, f"{path.name}: {sorted(o.name for o in ops & FLOAT_OPS)}"
        seen |= ops
    assert {Op.DENSE, Op.CONV2D} <= seen  # the models did reach the layers whose rules are checked above
