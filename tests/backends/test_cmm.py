"""The shared adder graph of a constant matrix (l1ml/backends/verilog/cmm.py) and its pipeline plan.

The graph is checked as integer arithmetic against ``x @ c + bias`` (extreme and random codes,
exhaustively where the input range is small); the Verilog it becomes is checked in Verilator by
tests/verify/test_rtl.py and tests/verify/test_primitives.py (``l1ml_addsub``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l1ml.backends.verilog.arith import csd, signed_width
from l1ml.backends.verilog.cmm import AddOp, _cached, adder_graph
from l1ml.backends.verilog.pipeline import PipelineConfig, plan_graph


def _vectors(n_in: int, lo: int, hi: int, n: int = 600, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    corners = [np.full(n_in, lo), np.full(n_in, hi), np.where(np.arange(n_in) % 2, lo, hi),
               np.where(np.arange(n_in) % 2, hi, lo)]
    return np.concatenate([np.stack(corners), rng.integers(lo, hi + 1, size=(n, n_in))])


def _check(c: np.ndarray, bias: np.ndarray, lo: int, hi: int, **kw) -> None:
    g = adder_graph(c, bias, lo, hi, **kw)
    x = _vectors(c.shape[0], lo, hi)
    want = x.astype(object) @ c.astype(object) + bias.astype(object)
    assert (g.evaluate(x) == want).all()
    for s in g.signals[g.n_in:]:  # every signal's range is exact and its word holds it
        if s.adder is not None:
            assert s.width == signed_width(s.lo, s.hi)
            assert s.adder.shift < s.width or s.adder.op is AddOp.RSUB


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 10), st.integers(0, 2**31 - 1), st.booleans(), st.sampled_from([0, 1, 3]))
def test_graph_equals_the_matrix_product(n_in, n_out, seed, signed, max_depth):
    rng = np.random.default_rng(seed)
    c = rng.integers(-200, 201, size=(n_in, n_out)) * (rng.random((n_in, n_out)) < 0.7)
    bias = rng.integers(-5000, 5000, size=n_out) * (rng.random(n_out) < 0.5)
    lo, hi = (-128, 127) if signed else (0, 255)
    _check(c, bias, lo, hi, max_depth=max_depth)


def test_exhaustive_on_three_two_bit_inputs():
    c = np.array([[3, -3, 0, 5], [-7, 1, 0, 5], [2, 6, 0, -1]])
    bias = np.array([0, -4, 9, 0])
    g = adder_graph(c, bias, -2, 1)
    x = np.array(np.meshgrid(*[np.arange(-2, 2)] * 3)).reshape(3, -1).T
    assert (g.evaluate(x) == x @ c + bias).all()


@pytest.mark.parametrize("case", ["all negative", "bias only", "powers of two", "zero matrix", "one input"])
def test_corner_matrices(case):
    rng = np.random.default_rng(1)
    c = {"all negative": -rng.integers(1, 100, size=(6, 4)),
         "bias only": np.zeros((5, 3), dtype=np.int64),
         "powers of two": np.array([[1, -2, 0], [0, 4, -8], [16, 0, 1]]),
         "zero matrix": np.zeros((3, 2), dtype=np.int64),
         "one input": np.array([[-1, 3, -5, 683]])}[case]
    bias = {"bias only": np.array([7, -8, 0]), "zero matrix": np.zeros(2, dtype=np.int64)}.get(
        case, rng.integers(-50, 50, size=c.shape[1]))
    _check(c, bias, -128, 127)
    _check(c, bias, 0, 255)


def test_sharing_needs_fewer_adders_than_separate_products():
    """Outputs with common digit patterns share partial sums: fewer adders (and bits) than the digits
    alone need, and never more than without sharing."""
    rng = np.random.default_rng(3)
    base = rng.integers(-127, 128, size=(24, 4))
    c = np.concatenate([base, base * 2, -base, base + 1], axis=1)  # 16 related columns
    bias = np.zeros(c.shape[1], dtype=np.int64)
    digits = sum(len(csd(int(v))) for v in c.ravel())
    per_output = digits - c.shape[1]  # one adder per digit past the first of each output
    shared, plain = adder_graph(c, bias, -128, 127), adder_graph(c, bias, -128, 127, max_depth=0)
    assert len(shared.adders) < len(plain.adders) <= per_output
    assert shared.adder_bits() < plain.adder_bits()
    assert len(shared.adders) < 0.6 * per_output


def test_graph_is_deterministic_and_cached():
    rng = np.random.default_rng(5)
    c, bias = rng.integers(-99, 100, size=(20, 9)), rng.integers(-9, 9, size=9)
    a = adder_graph(c, bias, 0, 255)
    assert adder_graph(c.copy(), bias.copy(), 0, 255) is a
    _cached.cache_clear()
    assert adder_graph(c, bias, 0, 255) == a


def test_trees_stay_as_shallow_as_balanced_trees_of_their_terms():
    """The Huffman trees over arrival levels keep each output within one level of a balanced tree
    over its digits when the shared adders are shallow (max_depth 1)."""
    rng = np.random.default_rng(8)
    c, bias = rng.integers(-127, 128, size=(32, 8)), np.zeros(8, dtype=np.int64)
    g = adder_graph(c, bias, 0, 255, max_depth=1)
    digits = max(sum(len(csd(int(v))) for v in c[:, j]) for j in range(c.shape[1]))
    assert g.depth() <= math.ceil(math.log2(digits)) + 1


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.0, 4.0), st.floats(0.9, 8.0))
def test_clock_plan_keeps_every_adder_within_the_period(seed, delay_in, clock):
    rng = np.random.default_rng(seed)
    c = rng.integers(-127, 128, size=(10, 6))
    g = adder_graph(c, np.zeros(6, dtype=np.int64), 0, 255)
    cfg = PipelineConfig(clock_ns=clock)
    plan = plan_graph(g, cfg, delay_in)
    step = cfg.delays.adder_ns
    arrive = {}
    for k, s in enumerate(g.signals):
        if s.adder is None:
            arrive[k] = delay_in if s.const is None else 0.0
            assert plan.stage[k] == 0
            continue
        ops = (s.adder.a, s.adder.b)
        assert all(plan.stage[o] <= plan.stage[k] for o in ops)
        # operands from the same stage are combinational before it: the chain fits the period unless
        # a single adder is longer than the period
        t = max((arrive[o] if plan.stage[o] == plan.stage[k] else 0.0) for o in ops) + step
        assert t <= clock + 1e-9 or t == step
        arrive[k] = t
    outs = [o.signal for o in g.outputs if o.signal is not None]
    assert plan.latency == max(plan.stage[o] for o in outs)
    for k in range(len(g.signals)):  # every read signal is delayed to its latest reader, no further
        readers = [plan.stage[j] for j, s in enumerate(g.signals) if s.adder and k in (s.adder.a, s.adder.b)]
        readers += [plan.latency] * outs.count(k)
        if g.signals[k].const is None:
            assert plan.lags[k] == (max(readers) - plan.stage[k] if readers else -1)


@settings(deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 12))
def test_stage_plan_places_min_of_stages_and_levels_registers(seed, stages):
    rng = np.random.default_rng(seed)
    c = rng.integers(-127, 128, size=(12, 5))
    g = adder_graph(c, np.zeros(5, dtype=np.int64), -128, 127)
    plan = plan_graph(g, PipelineConfig(clock_ns=None, stages=stages), 0.0)
    assert plan.latency == min(stages, g.depth())
    assert all(plan.stage[o.signal] < plan.latency or stages == 0 for o in g.outputs if o.signal is not None)
