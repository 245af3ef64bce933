"""The exact integer map of a chain of float stages followed by a quantizer, and its proof.

A chain h (Affine, BatchNorm, ReLU/Clip, Sigmoid, Tanh, HardSigmoid) read on integer codes x of a known
range, followed by a quantizer Q (scale 2**-frac, a rounding, saturation), is a monotone integer step
function F(x) = Q(h(x * 2**-x_frac)) per channel. ``search_thresholds`` finds, for every output level k,
the least x with F(x) >= k (or <= k for a decreasing F): a float64 bisection proposes each threshold and
exact evaluations at t - 1 and t confirm or move it. Exact means: ``Fraction`` while every value is
rational (so that rounding ties are decided exactly) and mpmath interval arithmetic, with doubling
precision up to ``MAX_PREC`` bits, once a square root or an exponential makes it irrational.

``prove_multiply`` checks a candidate out = clip((x * mult + add) >> shift) against those thresholds.
Two monotone (same direction) integer step functions on an integer interval are equal iff they agree
at both ends and at t - 1 and t of every threshold t of one of them: between consecutive thresholds
the first is constant, so the second, pinned to that constant at both ends of the stretch, is too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from l1ml.ir.quantize import round_fraction
from l1ml.ir.types import FixedType, Rounding

MAX_PREC = 2000  # bits of interval precision before an exact decision is given up
START_PREC = 64
EXHAUSTIVE = 2**16  # input ranges up to this many codes are also compared code by code


class Undecidable(ValueError):
    """The exact value lies too close to a rounding boundary to decide at MAX_PREC bits."""


def _iv():
    from mpmath import iv

    return iv


def _ivf(v: Fraction):
    iv = _iv()
    return iv.mpf(v.numerator) / iv.mpf(v.denominator)


def _frac_of_mpf(x) -> Fraction:
    """The exact rational value of an mpmath mpf (an interval endpoint)."""
    import mpmath

    v = mpmath.mpf(x)
    if not mpmath.isfinite(v):
        raise Undecidable("an interval bound overflowed")
    sign, man, exp, _ = v._mpf_  # value = (-1)**sign * man * 2**exp (man_exp drops the sign)
    return (-1) ** sign * Fraction(int(man)) * Fraction(2) ** int(exp)


def _perfect_square_root(v: Fraction) -> Fraction | None:
    if v < 0:
        return None
    n, d = v.numerator, v.denominator
    rn, rd = math.isqrt(n), math.isqrt(d)
    return Fraction(rn, rd) if rn * rn == n and rd * rd == d else None


@dataclass(frozen=True)
class Stage:
    """One float stage, parameters per channel (a tuple of length 1 applies to every channel).

    kind: "affine" (a, b), "batchnorm" (gamma, beta, mean, var_eps), "clip" (lo, hi; None unbounded),
    "sigmoid", "tanh". ReLU is clip(0, None); HardSigmoid is affine(alpha, beta) then clip(0, 1).
    """

    kind: str
    params: tuple[tuple[Fraction | None, ...], ...] = ()

    def channels(self) -> int:
        return max((len(p) for p in self.params), default=1)

    def p(self, c: int) -> tuple[Fraction | None, ...]:
        return tuple(q[c] if len(q) > 1 else q[0] for q in self.params)

    def increasing(self, c: int) -> int:
        """+1 non-decreasing, -1 non-increasing, 0 constant."""
        if self.kind == "affine":
            a = self.p(c)[0]
            return (a > 0) - (a < 0)
        if self.kind == "batchnorm":
            g = self.p(c)[0]
            return (g > 0) - (g < 0)
        return 1

    # ---- exact: Fraction where the value is rational, an mpmath interval otherwise -------------------
    def exact(self, v, c: int):
        iv = _iv()
        k, p = self.kind, self.p(c)
        if k == "affine":
            a, b = p
            if a == 0:
                return b
            return v * a + b if isinstance(v, Fraction) else v * _ivf(a) + _ivf(b)
        if k == "batchnorm":
            gamma, beta, mean, var_eps = p
            if isinstance(v, Fraction):
                d = v - mean
                if d == 0 or gamma == 0:
                    return beta
                root = _perfect_square_root(var_eps)
                if root is not None:
                    return d * gamma / root + beta
                return _ivf(d) * _ivf(gamma) / iv.sqrt(_ivf(var_eps)) + _ivf(beta)
            if gamma == 0:
                return beta
            return (v - _ivf(mean)) * _ivf(gamma) / iv.sqrt(_ivf(var_eps)) + _ivf(beta)
        if k == "clip":
            lo, hi = p
            if isinstance(v, Fraction):
                v = v if lo is None else max(v, lo)
                return v if hi is None else min(v, hi)
            a, b = v.a, v.b  # clip is monotone: clip the endpoints of the enclosure
            if lo is not None:
                a, b = iv.mpf(max(a, _ivf(lo).a)), iv.mpf(max(b, _ivf(lo).a))
            if hi is not None:
                a, b = iv.mpf(min(a, _ivf(hi).b)), iv.mpf(min(b, _ivf(hi).b))
            return iv.mpf([a.a, b.b])
        if k == "sigmoid":
            if isinstance(v, Fraction) and v == 0:
                return Fraction(1, 2)
            x = _ivf(v) if isinstance(v, Fraction) else v
            return 1 / (1 + iv.exp(-x))
        if k == "tanh":
            if isinstance(v, Fraction) and v == 0:
                return Fraction(0)
            x = _ivf(v) if isinstance(v, Fraction) else v
            return 1 - 2 / (iv.exp(2 * x) + 1)  # x occurs once: a tight enclosure
        raise ValueError(f"unknown stage {k}")

    # ---- float64, vectorised: only proposes thresholds -------------------------------------------------
    def f64(self, x: np.ndarray, c: int) -> np.ndarray:
        k, p = self.kind, [None if q is None else float(q) for q in self.p(c)]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if k == "affine":
                return x * p[0] + p[1]
            if k == "batchnorm":
                return (x - p[2]) * (p[0] / math.sqrt(p[3])) + p[1]
            if k == "clip":
                return np.clip(x, -np.inf if p[0] is None else p[0], np.inf if p[1] is None else p[1])
            if k == "sigmoid":
                return 1.0 / (1.0 + np.exp(-x))
            if k == "tanh":
                return np.tanh(x)
        raise ValueError(f"unknown stage {k}")


def _round_f64(y: np.ndarray, mode: Rounding) -> np.ndarray:
    if mode is Rounding.TRUNC:
        return np.floor(y)
    if mode is Rounding.TRUNC_ZERO:
        return np.trunc(y)
    if mode is Rounding.HALF_EVEN:
        return np.rint(y)
    a = np.abs(y)
    return np.copysign(np.floor(a + 0.5) if mode is Rounding.HALF_AWAY else np.ceil(a - 0.5), y)


@dataclass
class Chain:
    """h = stages applied in order to x * 2**-x_frac, then the quantizer ``out`` (its frac, rounding, range)."""

    stages: list[Stage]
    x_type: FixedType
    out: FixedType

    def channels(self) -> int:
        return max((s.channels() for s in self.stages), default=1)

    def direction(self, c: int) -> int:
        d = 1
        for s in self.stages:
            d *= s.increasing(c)
        return d

    def exact(self, x: int, c: int) -> int:
        """F(x) exactly: Q(h(x)) for one code of channel c."""
        prec = START_PREC
        iv = _iv()
        while True:
            old = iv.prec
            iv.prec = prec
            try:
                v = Fraction(x) * Fraction(2) ** -self.x_type.frac
                for s in self.stages:
                    v = s.exact(v, c)
                v = v * Fraction(2) ** self.out.frac if isinstance(v, Fraction) else v * iv.mpf(2) ** self.out.frac
                if isinstance(v, Fraction):
                    return self._clip(round_fraction(v, self.out.rounding))
                # rounding and clipping are monotone: if both ends of the enclosure agree, so does the value
                lo = self._clip(round_fraction(_frac_of_mpf(v.a), self.out.rounding))
                hi = self._clip(round_fraction(_frac_of_mpf(v.b), self.out.rounding))
                if lo == hi:
                    return lo
            finally:
                iv.prec = old
            if prec >= MAX_PREC:
                raise Undecidable(f"code {x} (channel {c}) lies within 2^-{MAX_PREC} of a rounding boundary")
            prec = min(2 * prec, MAX_PREC)

    def _clip(self, k: int) -> int:
        return min(max(k, self.out.min_code), self.out.max_code)

    def f64(self, x: np.ndarray, c: int) -> np.ndarray:
        v = x.astype(np.float64) * 2.0**-self.x_type.frac
        for s in self.stages:
            v = s.f64(v, c)
        with np.errstate(over="ignore", invalid="ignore"):
            y = _round_f64(v * 2.0**self.out.frac, self.out.rounding)
        return np.clip(np.nan_to_num(y, nan=0.0), self.out.min_code, self.out.max_code)


@dataclass
class ChannelMap:
    base: int
    step: int  # +1, -1 (0 for a constant map: no thresholds)
    thresholds: tuple[int, ...]


def search_thresholds(chain: Chain, c: int) -> ChannelMap:
    """The exact threshold form of channel c over the whole input type's range."""
    lo, hi = chain.x_type.min_code, chain.x_type.max_code
    memo: dict[int, int] = {}

    def F(x: int) -> int:
        if x not in memo:
            memo[x] = chain.exact(x, c)
        return memo[x]

    f_lo, f_hi = F(lo), F(hi)
    if f_lo == f_hi:
        return ChannelMap(f_lo, 1, ())
    step = 1 if f_hi > f_lo else -1
    levels = np.arange(f_lo + step, f_hi + step, step, dtype=np.int64)
    # vectorised bisection on the float64 map: invariant F64(L) below the level, F64(H) at or past it
    L = np.full(len(levels), lo - 1, dtype=np.int64)
    H = np.full(len(levels), hi, dtype=np.int64)
    while True:
        open_ = H - L > 1
        if not open_.any():
            break
        mid = L + (H - L) // 2
        fm = chain.f64(mid, c)
        reached = (fm >= levels) if step > 0 else (fm <= levels)
        H = np.where(open_ & reached, mid, H)
        L = np.where(open_ & ~reached, mid, L)

    def reached(x: int, k: int) -> bool:
        return x >= lo and (F(x) >= k if step > 0 else F(x) <= k)

    ts = []
    for k, t in zip(levels.tolist(), H.tolist(), strict=True):
        t = int(t)
        t = max(t, ts[-1] if ts else lo)
        for _ in range(64):  # the float proposal is off by a few codes at most
            if not reached(t, k):
                t += 1
            elif t - 1 >= lo and reached(t - 1, k) and (not ts or t - 1 >= ts[-1]):
                t -= 1
            else:
                break
        else:  # a float64 proposal far off: exact bisection between the previous threshold and hi
            a, b = (ts[-1] if ts else lo) - 1, hi
            while b - a > 1:
                m = (a + b) // 2
                a, b = (a, m) if reached(m, k) else (m, b)
            t = b
        ts.append(t)
    return ChannelMap(f_lo, step, tuple(ts))


def eval_thresholds(m: ChannelMap, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    return m.base + m.step * np.searchsorted(np.asarray(m.thresholds, dtype=np.int64), x, side="right")


def eval_multiply(mult: int, add: int, shift: int, out: FixedType, x: np.ndarray) -> np.ndarray:
    """clip((x * mult + add) >> shift): int64 where no product can pass 62 bits, Python integers otherwise."""
    x = np.asarray(x, dtype=np.int64)
    big = int(np.abs(x).max(initial=0)) * abs(mult) + abs(add)
    if big < 2**62:
        z = (x * np.int64(mult) + np.int64(add)) >> np.int64(shift)
        return np.clip(z, out.min_code, out.max_code)
    z = [(v * mult + add) >> shift for v in x.tolist()]
    return np.clip(np.array(z, dtype=object), out.min_code, out.max_code).astype(np.int64)


def proof_points(m: ChannelMap, lo: int, hi: int) -> np.ndarray:
    pts = {lo, hi}
    for t in m.thresholds:
        pts.update(p for p in (t - 1, t) if lo <= p <= hi)
    return np.array(sorted(pts), dtype=np.int64)


def prove_multiply(m: ChannelMap, mult: int, add: int, shift: int, x_type: FixedType, out: FixedType) -> bool:
    """True iff clip((x * mult + add) >> shift) equals the threshold map for every code of ``x_type``.

    The multiply form is monotone in the direction of sign(mult); it must match F's direction (or be
    constant where F is), and then agreement at the proof points is agreement everywhere."""
    lo, hi = x_type.min_code, x_type.max_code
    if m.thresholds and (mult == 0 or (mult > 0) != (m.step > 0)):
        return False
    pts = proof_points(m, lo, hi)
    return bool(np.array_equal(eval_multiply(mult, add, shift, out, pts), eval_thresholds(m, pts)))


def check_exhaustive(m: ChannelMap, mult: int, add: int, shift: int, x_type: FixedType, out: FixedType) -> bool:
    """Both forms compared on every code (ranges below EXHAUSTIVE only; True beyond): a second,
    independent check of the proof."""
    lo, hi = x_type.min_code, x_type.max_code
    if hi - lo >= EXHAUSTIVE:
        return True
    xs = np.arange(lo, hi + 1, dtype=np.int64)
    return bool(np.array_equal(eval_multiply(mult, add, shift, out, xs), eval_thresholds(m, xs)))


def affine_estimate(chain: Chain, c: int) -> tuple[Fraction, Fraction] | None:
    """(A, B) with F(x) ~ round(x * A + B) on the output grid, from the chain's affine parts (ReLU/Clip
    taken as identity, BatchNorm's square root in float64); None when a stage is not affine-like. Only a
    candidate: the proof decides."""
    A, B = Fraction(2) ** -chain.x_type.frac, Fraction(0)
    for s in chain.stages:
        p = s.p(c)
        if s.kind == "affine":
            A, B = A * p[0], B * p[0] + p[1]
        elif s.kind == "batchnorm":
            g = Fraction(float(p[0]) / math.sqrt(float(p[3])))
            A, B = A * g, (B - p[2]) * g + p[1]
        elif s.kind != "clip":
            return None
    scale = Fraction(2) ** chain.out.frac
    return A * scale, B * scale


def multiply_candidates(A: Fraction, B: Fraction, shift: int, mode: Rounding) -> list[tuple[int, int]]:
    """(mult, add) pairs worth proving at this shift for out = round(x * A + B)."""
    S = 2**shift
    half = Fraction(1, 2) if mode in (Rounding.HALF_EVEN, Rounding.HALF_AWAY, Rounding.HALF_ZERO) else 0
    m0 = A * S
    a0 = (B + half) * S
    mults = {math.floor(m0), math.ceil(m0)}
    adds = {math.floor(a0), math.ceil(a0), math.floor(a0) - 1}
    return [(m, a) for m in sorted(mults) for a in sorted(adds)]


MAX_SHIFT_MARGIN = 40  # shifts tried: up to input width + output width + this


def find_multiply(chain: Chain, maps: list[ChannelMap]) -> tuple[list[int], list[int], int] | None:
    """The smallest common shift with a proven (mult, add) for every channel, or None."""
    est = []
    for c in range(len(maps)):
        e = affine_estimate(chain, c)
        if e is None:
            return None
        est.append(e)
    for shift in range(chain.x_type.width + chain.out.width + MAX_SHIFT_MARGIN + 1):
        mults, adds = [], []
        for c, m in enumerate(maps):
            if not m.thresholds:
                mults.append(0)
                adds.append(m.base << shift)
                continue
            for mult, add in multiply_candidates(*est[c], shift, chain.out.rounding):
                if prove_multiply(m, mult, add, shift, chain.x_type, chain.out):
                    mults.append(mult)
                    adds.append(add)
                    break
            else:
                break
        if len(mults) == len(maps):
            if not all(check_exhaustive(m, mu, ad, shift, chain.x_type, chain.out)
                       for m, mu, ad in zip(maps, mults, adds, strict=True)):  # pragma: no cover - a proof bug
                raise RuntimeError("a proven multiplier differs from the thresholds on some code")
            return mults, adds, shift
    return None


# ---- chains with too many output levels for a threshold search ----------------------------------------

MAX_LEVELS = 4096  # output levels per channel the threshold search walks (one proof pair per level)
SAMPLE_CHECK = 512  # codes on which a closed-form multiplier is also compared with the exact chain


def level_count(chain: Chain, c: int) -> int:
    """How many output levels channel c steps through between the two ends of the input range."""
    return abs(chain.exact(chain.x_type.max_code, c) - chain.exact(chain.x_type.min_code, c))


def rational_affine(chain: Chain, c: int) -> tuple[Fraction, Fraction, Fraction | None, Fraction | None] | None:
    """(A, B, L, H) with h(x) * 2**out.frac = clip(x * A + B, L, H) exactly (None: unbounded side), when
    every stage of channel c is rational: affine, clip, or a BatchNorm whose var + eps is a perfect square.
    None when a stage is irrational (Sigmoid, Tanh, a BatchNorm with an irrational square root)."""
    A, B = Fraction(2) ** -chain.x_type.frac, Fraction(0)
    L: Fraction | None = None
    H: Fraction | None = None
    for s in chain.stages:
        p = s.p(c)
        if s.kind in ("affine", "batchnorm"):
            if s.kind == "affine":
                a, b = p
            else:
                gamma, beta, mean, var_eps = p
                root = _perfect_square_root(var_eps)
                if root is None and gamma != 0:
                    return None
                a = Fraction(0) if gamma == 0 else gamma / root
                b = beta - mean * a
            if a == 0:  # a constant: every code lands on b
                A, B, L, H = Fraction(0), b, None, None
                continue
            A, B = A * a, B * a + b
            lo = None if L is None else L * a + b
            hi = None if H is None else H * a + b
            L, H = (lo, hi) if a > 0 else (hi, lo)
        elif s.kind == "clip":
            lo2, hi2 = p

            def clamp(v, lo2=lo2, hi2=hi2):
                v = v if lo2 is None else max(v, lo2)
                return v if hi2 is None else min(v, hi2)

            L = lo2 if L is None else clamp(L)
            H = hi2 if H is None else clamp(H)
        else:
            return None
    scale = Fraction(2) ** chain.out.frac
    return (A * scale, B * scale, None if L is None else L * scale, None if H is None else H * scale)


def _solvable(a: int, b: int, mod: int, lo: int, hi: int) -> bool:
    """Whether a * x = b (mod mod) for some integer x in [lo, hi]."""
    g = math.gcd(a, mod)
    if b % g:
        return False
    a, b, step = a // g, b // g, mod // g
    x0 = b * pow(a, -1, step) % step if step > 1 else 0
    return lo + (x0 - lo) % step <= hi


def _floor_form(A: Fraction, C: Fraction, lo: int, hi: int, shift: int) -> tuple[int, int]:
    """(m, a) with (x * m + a) >> shift == floor(x * A + C) for every integer x in [lo, hi], given
    2**shift >= q * (hi - lo + 1) where q is the common denominator of A and C.

    Every x * A + C is a multiple of 1/q. With m = ceil(A * 2**shift) and the value at lo rounded up, the
    approximation (x * m + a) / 2**shift exceeds x * A + C by at least 0 and less than
    (hi - lo + 1) / 2**shift <= 1/q: never enough to reach the next integer."""
    S = 2**shift
    m = math.ceil(A * S)
    a_lo = math.ceil((lo * A + C) * S)
    return m, a_lo - lo * m


def _den(*vs: Fraction) -> int:
    return math.lcm(*(v.denominator for v in vs))


def closed_form_multiply(chain: Chain) -> tuple[list[int], list[int], int] | None:
    """The exact multiply-add-shift of a rational chain, by algebra rather than by thresholds.

    A rational chain is y = clip(x * A + B, L, H) on the output grid with rational A, B (float32 constants
    and their quotients). Every rounding of y is a floor of y + c for a constant c where the rounding is
    one-sided over the input range: no halfway case (all nearest-roundings agree), a tie rule fixed by the
    sign of y, or toward zero on a one-signed range. ``_floor_form`` makes that floor exact with one shift.
    Inner clips are accepted where the output saturation or the input range makes them inactive. None
    when a channel is irrational, an inner clip binds, or ties to even occur (no single shift expresses
    them)."""
    lo, hi = chain.x_type.min_code, chain.x_type.max_code
    out, mode = chain.out, chain.out.rounding
    half = Fraction(1, 2)
    forms = []
    for c in range(chain.channels()):
        r = rational_affine(chain, c)
        if r is None:
            return None
        A, B, L, H = r
        ys = sorted((lo * A + B, hi * A + B))
        for bound, side in ((L, 0), (H, 1)):
            if bound is None:
                continue
            rb, ry = round_fraction(bound, mode), round_fraction(ys[side], mode)
            if (side == 0 and rb > max(out.min_code, ry)) or (side == 1 and rb < min(out.max_code, ry)):
                return None
        q = _den(A, B)  # x * A + B is a multiple of 1/q
        # a sign the output saturation swallows does not count: with min_code >= 0 every y < 0 lands on
        # min_code whichever way it is rounded (and likewise above zero for max_code <= 0)
        ys = [max(ys[0], Fraction(0)) if out.min_code >= 0 else ys[0],
              min(ys[1], Fraction(0)) if out.max_code <= 0 else ys[1]]
        if mode is Rounding.TRUNC:
            C = B
        elif mode is Rounding.TRUNC_ZERO:
            if ys[0] >= 0:
                C = B
            elif ys[1] <= 0:  # ceil(y) = floor(y + 1 - 1/q)
                C = B + 1 - Fraction(1, q)
            else:
                return None
        else:
            q2 = _den(A, B + half)  # y + 1/2 is a multiple of 1/q2; ties where it is an integer
            tie = _solvable((A * q2).numerator, (-(B + half) * q2).numerator % q2, q2, lo, hi)
            up = B + half  # ties toward +inf: floor(y + 1/2)
            down = B + half - Fraction(1, q2)  # ties toward -inf: ceil(y - 1/2) = floor(y + 1/2 - 1/q2)
            if not tie:
                C = up
            elif mode is Rounding.HALF_EVEN:
                return None
            elif ys[0] >= 0:
                C = up if mode is Rounding.HALF_AWAY else down
            elif ys[1] <= 0:
                C = down if mode is Rounding.HALF_AWAY else up
            else:
                return None
        forms.append((A, C, _den(A, C)))
    shift = max(max(0, (q * (hi - lo + 1) - 1).bit_length()) for _, _, q in forms)
    mults, adds = [], []
    for A, C, _ in forms:
        m, a = _floor_form(A, C, lo, hi, shift)
        mults.append(m)
        adds.append(a)
    return mults, adds, shift


def check_sampled(chain: Chain, mults: list[int], adds: list[int], shift: int, seed: int = 0) -> bool:
    """A second, independent check of a closed form: both ends, the codes around zero and SAMPLE_CHECK
    random codes of every channel, each against the exact chain."""
    lo, hi = chain.x_type.min_code, chain.x_type.max_code
    rng = np.random.default_rng(seed)
    pts = {lo, hi, lo + 1, hi - 1} | {v for v in (-1, 0, 1) if lo <= v <= hi}
    pts.update(int(v) for v in rng.integers(lo, hi, size=SAMPLE_CHECK, endpoint=True))
    xs = np.array(sorted(pts), dtype=np.int64)
    for c, (m, a) in enumerate(zip(mults, adds, strict=True)):
        got = eval_multiply(m, a, shift, chain.out, xs)
        if any(int(g) != chain.exact(int(x), c) for g, x in zip(got, xs, strict=True)):
            return False
    return True
