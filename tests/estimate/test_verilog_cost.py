"""The Verilog cost model follows the generator: exact latency, II and DSP count; sensible scaling."""

from __future__ import annotations

import doctest
import re

import pytest

from l1ml.backends.verilog import write_rtl
from l1ml.estimate import Budget, bits, estimate
from l1ml.estimate.bits import Word, add_words

from .conftest import mlp_spec


def test_bits_doctests():
    assert doctest.testmod(bits).failed == 0


@pytest.mark.parametrize(("spec", "kw"), [
    (mlp_spec(16, (8,)), {"clock_ns": 5.0}),
    (mlp_spec(12, (8, 4)), {"clock_ns": 2.5}),
    (mlp_spec(8, (6, 6, 4), in_bits=10, w_bits=10), {"clock_ns": 3.0}),
    (mlp_spec(10, (6, 3), in_bits=6, w_bits=4), {"clock_ns": 20.0}),
    (mlp_spec(16, (8, 4)), {"reuse_factor": 3}),
    (mlp_spec(9, (5,), relu=False), {"reuse_factor": 8}),
    (mlp_spec(12, (8, 4)), {"pipeline_stages": 0}),
    (mlp_spec(12, (8, 4)), {"pipeline_stages": 2}),
])
def test_latency_and_ii_are_the_generators(make_graph, tmp_path, spec, kw):
    g = make_graph(spec, seed=3)
    rtl = write_rtl(g, tmp_path / "rtl", reuse_factor=kw.get("reuse_factor", 1), clock_ns=kw.get("clock_ns"),
                    pipeline_stages=kw.get("pipeline_stages"))
    est = estimate(g, backend="verilog", reuse_factor=kw.get("reuse_factor", 1), clock_ns=kw.get("clock_ns", 5.0),
                   pipeline_stages=kw.get("pipeline_stages"))
    assert (est.latency_cycles, est.ii_cycles) == (rtl.latency_cycles, rtl.ii)
    assert est.latency_ns == pytest.approx(est.latency_cycles * est.clock_ns)


def _dsp_instances(rtl_dir) -> int:
    text = "".join(p.read_text() for p in rtl_dir.glob("l1ml_top_*.v"))
    return len(re.findall(r"^\s*l1ml_(?:mult_const|rom_mult) #", text, flags=re.M))


def test_dsp_count_is_the_number_of_wide_constant_products(make_graph, tmp_path):
    # 10-bit inputs and weights: every product is wide enough for a DSP, so each DSP-style multiplier
    # instance of the RTL is one DSP48E2; at reuse 1 the layers are adder graphs (cmm) without any
    g = make_graph(mlp_spec(8, (8, 4), in_bits=10, w_bits=10), seed=1)
    for reuse in (1, 2, 4):
        rtl = tmp_path / f"rtl{reuse}"
        write_rtl(g, rtl, reuse_factor=reuse)
        assert estimate(g, reuse_factor=reuse).resources()["DSP"] == _dsp_instances(rtl)
        assert (_dsp_instances(rtl) == 0) == (reuse == 1)


def test_more_neurons_cost_more_and_reuse_trades_luts_for_latency(make_graph):
    small = estimate(make_graph(mlp_spec(16, (4,)), seed=2)).resources()
    big = estimate(make_graph(mlp_spec(16, (16,)), seed=2)).resources()
    assert big["LUT"] > 3 * small["LUT"] and big["FF"] > small["FF"]

    g = make_graph(mlp_spec(32, (16,), in_bits=10, w_bits=10), seed=4)
    points = [estimate(g, reuse_factor=r) for r in (2, 4, 8)]
    dsps = [p.resources()["DSP"] for p in points]
    assert dsps[0] > dsps[1] > dsps[2] > 0
    assert [p.ii_cycles for p in points] == [2, 4, 8]
    assert points[0].latency_cycles < points[1].latency_cycles < points[2].latency_cycles


def test_a_faster_clock_adds_registers_not_logic(make_graph):
    g = make_graph(mlp_spec(16, (8,)), seed=5)
    slow, fast = estimate(g, clock_ns=10.0), estimate(g, clock_ns=2.0)
    assert fast.latency_cycles > slow.latency_cycles
    assert fast.resources()["FF"] > slow.resources()["FF"]
    assert fast.resources()["LUT"] == slow.resources()["LUT"]


def test_adder_bits_follow_the_operands():
    x = Word(-128, 127)  # an 8-bit signed input
    # x + (x << 4) on 14 bits: bits 0-3 pass x through; bits 4-7 add two value bits and 8-11 a value bit
    # to x's sign (8 LUTs); bits 12-13 repeat one sign XOR (1 shared LUT)
    _, cost = add_words(x, Word.shifted(-128, 127, 16), 14)
    assert cost.luts == 9 and cost.chain == 14
    # adding a constant costs LUTs only where its bits are ones
    _, c1 = add_words(Word(0, 255), Word.constant(1), 10)
    _, c255 = add_words(Word(0, 255), Word.constant(255), 10)
    assert c1.luts < c255.luts


def test_too_large_model_is_an_answer_not_an_error(make_graph):
    # 12-bit weights on 64 x 64 at reuse 2: 2,048 wide shared multipliers, more DSPs than a KU15P has
    g = make_graph(mlp_spec(64, (64,), in_bits=12, w_bits=12), seed=6)
    est = estimate(g, part="xcku15p-ffva1156-2-e", budget=Budget(), reuse_factor=2)
    assert not est.fits
    assert est.check.overflows == ["DSP"]
    doc = est.to_json()["budget"]
    assert doc["fits"] is False and doc["criteria"]["DSP"] == "FAIL" and doc["margins"]["DSP"] < 0
