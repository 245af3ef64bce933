"""The algebraic multiplier of ``requant_search.closed_form_multiply``, used when a quantizer steps
through more output levels than the threshold search walks (e.g. a 24-bit activation with a float
scale): equal to the exact chain on every code of small ranges and on sampled codes of wide ones, for
every rounding; refused where it cannot be exact (ties to even, a binding inner clip, irrational stages);
and the compile of such a layer ends in seconds with a multiplier or a named refusal."""

from fractions import Fraction as F

import numpy as np
import pytest

from l1ml.errors import NodeError
from l1ml.ir.graph import Graph, Node
from l1ml.ir.ops import Op
from l1ml.ir.types import FixedType, Overflow, Rounding
from l1ml.passes.fuse_requant import build_requant
from l1ml.passes.requant_search import (
    MAX_LEVELS,
    Chain,
    Stage,
    check_sampled,
    closed_form_multiply,
    eval_multiply,
    level_count,
)


def affine(a, b=0):
    return Stage("affine", ((F(a),), (F(b),)))


RELU = Stage("clip", ((F(0),), (None,)))
ROUNDINGS = list(Rounding)


def f32(v: float) -> F:
    return F(float(np.float32(v)))


def exact_all(chain: Chain, c: int = 0) -> np.ndarray:
    xs = range(chain.x_type.min_code, chain.x_type.max_code + 1)
    return np.array([chain.exact(x, c) for x in xs])


def random_chain(rng, rounding: Rounding, in_bits: int, out_bits: int) -> Chain:
    """x * a + b, then division by a float32 scale (a quotient of float32s: not dyadic)."""
    a, b = f32(rng.uniform(-2, 2)), f32(rng.uniform(-1, 1))
    scale = f32(rng.uniform(0.001, 0.5))
    signed = bool(rng.integers(2))
    stages = [affine(a, b), affine(1 / scale)]
    return Chain(stages, FixedType(True, in_bits, int(rng.integers(0, in_bits))),
                 FixedType(signed, out_bits, int(rng.integers(-2, 4)), rounding, Overflow.SAT))


@pytest.mark.parametrize("rounding", ROUNDINGS, ids=[r.value for r in ROUNDINGS])
def test_closed_form_equals_every_code_on_small_ranges(rounding):
    rng = np.random.default_rng(7)
    found = 0
    for _ in range(12):
        chain = random_chain(rng, rounding, in_bits=9, out_bits=int(rng.integers(3, 12)))
        form = closed_form_multiply(chain)
        if form is None:
            continue
        (m,), (a,), shift = form
        xs = np.arange(chain.x_type.min_code, chain.x_type.max_code + 1)
        assert np.array_equal(eval_multiply(m, a, shift, chain.out, xs), exact_all(chain)), chain
        found += 1
    assert found >= 4  # the algebra applied to many draws, so the comparison above tested something


@pytest.mark.parametrize("rounding", ROUNDINGS, ids=[r.value for r in ROUNDINGS])
def test_closed_form_is_exact_where_values_land_on_integers_and_halves(rounding):
    # small denominators put x * A + B exactly on integers and on halfway points for many codes: the
    # cases where a multiplier rounded the wrong way, or a tie rule off by one, would show
    found = 0
    for q in (1, 2, 3, 4, 6, 12):
        for p in (1, 5, -7):
            for b in (F(0), F(1, 2), F(-1, 3), F(5, 4)):
                for x_type in (FixedType(True, 9, 0), FixedType(False, 9, 0)):
                    out = FixedType(bool(p < 0 or x_type.signed), 8, 0, rounding, Overflow.SAT)
                    chain = Chain([affine(F(p, q), b)], x_type, out)
                    form = closed_form_multiply(chain)
                    if form is None:
                        continue
                    (m,), (a,), shift = form
                    xs = np.arange(x_type.min_code, x_type.max_code + 1)
                    assert np.array_equal(eval_multiply(m, a, shift, out, xs), exact_all(chain)), (p, q, b, x_type)
                    found += 1
    assert found >= 20


@pytest.mark.parametrize("rounding", ROUNDINGS, ids=[r.value for r in ROUNDINGS])
def test_closed_form_equals_sampled_codes_of_a_40_bit_range(rounding):
    rng = np.random.default_rng(11)
    for _ in range(4):
        chain = random_chain(rng, rounding, in_bits=40, out_bits=24)
        form = closed_form_multiply(chain)
        if form is not None:
            assert check_sampled(chain, *form, seed=3)


def test_ties_to_even_refuse_the_closed_form_but_not_without_ties():
    # x / 2 rounded: every odd code is a tie, and no single shift rounds ties to even
    chain = Chain([affine(F(1, 2))], FixedType(True, 8, 0), FixedType(True, 8, 0, Rounding.HALF_EVEN, Overflow.SAT))
    assert closed_form_multiply(chain) is None
    # x / 3: the thirds are never halfway, so every nearest-rounding is floor(y + 1/2)
    chain = Chain([affine(F(1, 3))], FixedType(True, 8, 0), FixedType(True, 8, 0, Rounding.HALF_EVEN, Overflow.SAT))
    (m,), (a,), shift = closed_form_multiply(chain)
    assert np.array_equal(eval_multiply(m, a, shift, chain.out, np.arange(-128, 128)), exact_all(chain))


def test_ties_away_on_a_one_signed_range_are_a_floor():
    chain = Chain([affine(F(1, 4)), RELU], FixedType(False, 8, 0),
                  FixedType(False, 8, 0, Rounding.HALF_AWAY, Overflow.SAT))
    (m,), (a,), shift = closed_form_multiply(chain)
    assert np.array_equal(eval_multiply(m, a, shift, chain.out, np.arange(0, 256)), exact_all(chain))


def test_a_binding_inner_clip_and_irrational_stages_refuse_the_closed_form():
    x = FixedType(True, 8, 0)
    out = FixedType(True, 8, 0, Rounding.TRUNC, Overflow.SAT)
    assert closed_form_multiply(Chain([affine(F(1, 3)), Stage("clip", ((F(-5),), (F(5),)))], x, out)) is None
    assert closed_form_multiply(Chain([affine(F(1, 3)), Stage("sigmoid"), affine(100)], x, out)) is None
    bn = Stage("batchnorm", ((F(0.9),), (F(0.1),), (F(0.3),), (F(2),)))  # sqrt(2): irrational
    assert closed_form_multiply(Chain([bn], x, out)) is None
    bn4 = Stage("batchnorm", ((F(0.9),), (F(0.1),), (F(0.3),), (F(4),)))  # sqrt(4) = 2: rational
    form = closed_form_multiply(Chain([bn4], x, out))
    assert form is not None
    assert np.array_equal(eval_multiply(form[0][0], form[1][0], form[2], out, np.arange(-128, 128)),
                          exact_all(Chain([bn4], x, out)))


def _graph(sigmoid: bool, x_type: FixedType, out: FixedType) -> tuple[Graph, Node]:
    """x (integer codes) -> Affine(x / 0.0123) [-> Sigmoid] -> Quantize(out)."""
    from l1ml.ir.graph import Tensor
    from l1ml.ir.ops import AffineAttrs

    tensors = {"x": Tensor("x", (4,), x_type), "y": Tensor("y", (4,)), "q": Tensor("q", (4,), out)}
    nodes = [Node("aff", Op.AFFINE, ["x"], ["y"], AffineAttrs((str(1 / f32(0.0123)),), ("0",)))]
    last = "y"
    if sigmoid:
        tensors["s"] = Tensor("s", (4,))
        nodes.append(Node("sig", Op.SIGMOID, ["y"], ["s"], None))
        last = "s"
    q = Node("quant", Op.QUANTIZE, [last], ["q"], None)
    return Graph("g", tensors, [*nodes, q], ["x"], ["q"]), q


def test_a_24_bit_float_scale_quantizer_compiles_to_the_algebraic_multiplier():
    # the fuzz case that hung: about 2**24 output levels, far beyond a threshold search
    x = FixedType(True, 26, 3)
    out = FixedType(False, 24, 0, Rounding.TRUNC, Overflow.SAT)
    g, q = _graph(False, x, out)
    chain = Chain([affine(1 / f32(0.0123))], x, out)
    assert level_count(chain, 0) > MAX_LEVELS
    attrs = build_requant(g, q, "x", [g.producer("y")])
    assert attrs.form == "multiply"
    assert check_sampled(chain, list(attrs.mult), list(attrs.add), attrs.shift, seed=5)


def test_a_wide_sigmoid_quantizer_is_refused_with_the_node_and_the_remedy():
    x = FixedType(True, 26, 10)
    out = FixedType(False, 16, 16, Rounding.HALF_EVEN, Overflow.SAT)
    g, q = _graph(True, x, out)
    with pytest.raises(NodeError) as e:
        build_requant(g, q, "x", [g.producer("y"), g.producer("s")])
    msg = str(e.value)
    assert "quant" in msg and "output levels" in msg and f"at most {MAX_LEVELS.bit_length() - 1} bits" in msg
