"""The exact threshold search and the multiply proof of ``requant_search`` against code-by-code exact
evaluation: increasing and decreasing maps, ties under HALF_EVEN, narrow and saturating ranges,
transcendental stages, and a wrong multiplier that the proof must reject."""

from fractions import Fraction as F

import numpy as np
import pytest

from l1ml.ir.types import FixedType, Overflow, Rounding
from l1ml.passes.requant_search import (
    Chain,
    Stage,
    check_exhaustive,
    eval_multiply,
    eval_thresholds,
    find_multiply,
    prove_multiply,
    search_thresholds,
)


def out_type(signed=False, bits=8, rounding=Rounding.HALF_EVEN, narrow=False, frac=0):
    return FixedType(signed, bits, frac, rounding, Overflow.SAT, narrow)


def affine(a, b=0):
    return Stage("affine", ((F(a),), (F(b),)))


RELU = Stage("clip", ((F(0),), (None,)))


def exhaustive(chain: Chain, c: int = 0) -> np.ndarray:
    xs = range(chain.x_type.min_code, chain.x_type.max_code + 1)
    return np.array([chain.exact(x, c) for x in xs])


def codes(t: FixedType) -> np.ndarray:
    return np.arange(t.min_code, t.max_code + 1)


CHAINS = {
    "affine-relu": Chain([affine(0.37, 1.25), RELU, affine(1 / F(0.0123))], FixedType(True, 10, 3), out_type()),
    "batchnorm-negative-gamma": Chain(
        [Stage("batchnorm", ((F(-0.9),), (F(0.1),), (F(0.3),), (F(1.3) + F(1e-5),))), RELU, affine(1 / F(0.07))],
        FixedType(True, 9, 4), out_type(bits=4)),
    "sigmoid": Chain([affine(0.02, -0.4), Stage("sigmoid"), affine(255)], FixedType(True, 10, 0), out_type()),
    "tanh-signed-narrow": Chain([affine(0.013), Stage("tanh"), affine(127)], FixedType(True, 10, 0),
                                out_type(signed=True, narrow=True)),
    "hardsigmoid": Chain([affine(0.2, 0.5), Stage("clip", ((F(0),), (F(1),))), affine(15)], FixedType(True, 6, 2),
                         out_type(bits=4, rounding=Rounding.TRUNC)),
    "per-channel": Chain([Stage("affine", ((F(0.5), F(-0.25), F(0)), (F(1, 3), F(0), F(2))))],
                         FixedType(True, 8, 0), out_type(signed=True, bits=6)),
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_thresholds_equal_exact_evaluation_of_every_code(name):
    chain = CHAINS[name]
    for c in range(chain.channels()):
        m = search_thresholds(chain, c)
        assert np.array_equal(eval_thresholds(m, codes(chain.x_type)), exhaustive(chain, c))
        assert list(m.thresholds) == sorted(m.thresholds)


def test_decreasing_map_has_step_minus_one():
    chain = CHAINS["batchnorm-negative-gamma"]
    m = search_thresholds(chain, 0)
    assert m.step == -1 and m.base == chain.exact(chain.x_type.min_code, 0) and len(m.thresholds) > 3


def test_half_even_ties_are_exact_and_refuse_the_multiplier():
    # x / 2 rounds half to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2. No floor((x*m + a) >> s) has that pattern
    chain = Chain([affine(0.5)], FixedType(True, 8, 0), out_type(signed=True, bits=8))
    m = search_thresholds(chain, 0)
    ref = exhaustive(chain)
    assert ref[np.searchsorted(codes(chain.x_type), [1, 3, 5])].tolist() == [0, 2, 2]
    assert np.array_equal(eval_thresholds(m, codes(chain.x_type)), ref)
    assert find_multiply(chain, [m]) is None
    # HALF_AWAY at the same ties is a plain floor((x + 1) >> 1) in disguise: a multiplier exists
    away = Chain([affine(0.5)], FixedType(True, 8, 0), out_type(signed=True, rounding=Rounding.HALF_AWAY))
    ma = search_thresholds(away, 0)
    assert find_multiply(away, [ma]) is None  # ties away from zero are not monotone-affine on both signs
    up = Chain([affine(0.5), RELU], FixedType(False, 8, 0), out_type(rounding=Rounding.HALF_AWAY))
    mu = search_thresholds(up, 0)
    mult, add, shift = find_multiply(up, [mu])
    assert np.array_equal(eval_multiply(mult[0], add[0], shift, up.out, codes(up.x_type)), exhaustive(up))


def test_sigmoid_at_zero_is_an_exact_tie():
    # sigmoid(0) * 255 = 127.5 exactly: decided in rationals, not by intervals that never separate
    for mode, want in ((Rounding.HALF_EVEN, 128), (Rounding.HALF_ZERO, 127), (Rounding.TRUNC, 127)):
        chain = Chain([Stage("sigmoid"), affine(255)], FixedType(True, 4, 0), out_type(rounding=mode))
        assert chain.exact(0, 0) == want


def test_found_multiplier_is_proven_and_equal_everywhere():
    chain = CHAINS["affine-relu"]
    m = search_thresholds(chain, 0)
    mult, add, shift = find_multiply(chain, [m])
    assert np.array_equal(eval_multiply(mult[0], add[0], shift, chain.out, codes(chain.x_type)), exhaustive(chain))


def test_a_wrong_multiplier_is_rejected_by_the_proof():
    chain = CHAINS["affine-relu"]
    m = search_thresholds(chain, 0)
    (mult,), (add,), shift = find_multiply(chain, [m])
    for bad in ((mult + 2**max(shift - 8, 0), add), (mult, add + 2**shift // 2), (-mult, add)):
        assert not prove_multiply(m, *bad, shift, chain.x_type, chain.out)
        assert not check_exhaustive(m, *bad, shift, chain.x_type, chain.out)


@pytest.mark.parametrize("seed", range(4))
def test_the_proof_points_decide_exactly_what_an_exhaustive_check_decides(seed):
    """Completeness and soundness: for candidates around the right multiplier (some right, most wrong),
    agreement at the proof points is agreement on every code."""
    rng = np.random.default_rng(seed)
    a = F(float(rng.uniform(0.01, 0.3)))
    b = F(float(rng.uniform(-3, 3)))
    chain = Chain([affine(a, b)], FixedType(True, 9, 0), out_type(signed=True, bits=5,
                                                                 rounding=Rounding.HALF_AWAY, narrow=bool(seed % 2)))
    m = search_thresholds(chain, 0)
    shift = 16
    m0, a0 = int(a * 2**shift), int((b + F(1, 2)) * 2**shift)
    agree = 0
    for dm in range(-3, 4):
        for da in (-(2**12), -7, -1, 0, 1, 7, 2**12):
            proven = prove_multiply(m, m0 + dm, a0 + da, shift, chain.x_type, chain.out)
            full = np.array_equal(eval_multiply(m0 + dm, a0 + da, shift, chain.out, codes(chain.x_type)),
                                  exhaustive(chain))
            assert proven == full
            agree += full
    assert 0 < agree < 49  # both outcomes occurred, so the comparison above tested something


def test_wide_input_range_uses_the_proof_not_enumeration():
    # a 40-bit accumulator: far too many codes to enumerate, thresholds from the float search + exact checks
    chain = Chain([affine(F(0.37) * 2**-30, F(1, 5)), RELU, affine(1 / F(0.013))], FixedType(True, 40, 10),
                  out_type())
    m = search_thresholds(chain, 0)
    for t in m.thresholds[::17]:
        assert chain.exact(t, 0) > chain.exact(t - 1, 0)
    mult, add, shift = find_multiply(chain, [m])
    pts = np.array(sorted({int(v) for t in m.thresholds for v in (t - 1, t, t + 5)}))
    assert np.array_equal(eval_multiply(mult[0], add[0], shift, chain.out, pts),
                          np.array([chain.exact(int(p), 0) for p in pts]))
