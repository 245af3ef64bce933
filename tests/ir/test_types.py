import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l1ml.ir.types import FixedType, Overflow, Rounding, add_type, bits_for_range, mul_type, relu_type


def small_types():
    return st.builds(
        lambda s, w, f: FixedType(s, max(w, 2 if s else 1), f),
        st.booleans(), st.integers(1, 6), st.integers(-3, 6),
    )


def codes(t):
    return range(t.min_code, t.max_code + 1)


@given(small_types(), small_types())
def test_mul_type_holds_every_product_and_is_tight(a, b):
    p = mul_type(a, b)
    prods = [x * y for x, y in itertools.product(codes(a), codes(b))]
    assert p.frac == a.frac + b.frac
    assert p.min_code <= min(prods) and max(prods) <= p.max_code
    # one bit less would not hold them
    assert bits_for_range(min(prods), max(prods)) == (p.signed, p.width)


@given(small_types(), small_types())
def test_add_type_holds_every_sum_exactly(a, b):
    s = add_type(a, b)
    f = s.frac
    sums = [(x << (f - a.frac)) + (y << (f - b.frac)) for x, y in itertools.product(codes(a), codes(b))]
    assert s.min_code <= min(sums) and max(sums) <= s.max_code
    assert bits_for_range(min(sums), max(sums)) == (s.signed, s.width)


@given(small_types())
def test_relu_type(a):
    r = relu_type(a)
    assert not r.signed and r.frac == a.frac
    assert r.max_code >= max(0, a.max_code)


@pytest.mark.parametrize("lo,hi,expect", [(0, 1, (False, 1)), (-1, 0, (True, 2)), (-129, 0, (True, 9)),
                                          (0, 256, (False, 9)), (-2, 2, (True, 3))])
def test_bits_for_range(lo, hi, expect):
    assert bits_for_range(lo, hi) == expect


def test_invalid_types_are_refused():
    with pytest.raises(ValueError):
        FixedType(True, 1, 0)
    with pytest.raises(ValueError):
        FixedType(False, 0, 0)
    with pytest.raises(ValueError):
        FixedType(True, 70, 0)


def test_json_round_trip_and_str():
    t = FixedType(True, 9, 11, Rounding.HALF_EVEN, Overflow.SAT, narrow=True)
    assert FixedType.from_json(t.to_json()) == t
    assert str(t) == "fixed<9,-2,HALF_EVEN,SAT,NARROW>"
    assert t.min_code == -255
