"""A constant matrix times a vector as one adder graph whose partial sums are shared by the outputs.

``y[j] = sum_i c[i, j] * x[i] + bias[j]`` for a constant integer matrix ``c`` (a fully parallel Dense
or one output pixel of a Conv2D). Built in three steps, the way multiple-constant-multiplication
algorithms do it (Hcub, Voronenko and Pueschel 2007; da4ml, Sun et al. 2025; see docs/verilog.md):

1. **Digits.** Every weight is written in canonical signed digits (``arith.csd``), so output j is a
   sum of signed, shifted inputs ``+-(x[i] << s)``: its *terms*.
2. **Shared pairs.** Greedily, the two-term pattern ``x[a] +- (x[b] << d)`` that occurs in the most
   places (weighted by the adder bits it saves) becomes one adder, and every occurrence in every output
   is replaced by that adder's result, shifted and signed as the occurrence needs. Patterns of adders
   are found the same way, so a partial sum used by many outputs is built once. A pattern is only taken
   while its adder stays within ``max_depth`` levels of the inputs, so sharing does not make the
   layer deeper than its adder trees would be anyway.
3. **Trees.** What remains of each output (and its bias) is summed by always adding the two terms
   that are ready first (a Huffman tree on arrival level), which keeps each output as shallow as its
   terms allow; an adder that already exists is reused.

Signs never cost inverters: each adder is ``a + (b << s)``, ``a - (b << s)`` or ``(b << s) - a`` and a
term carries its sign to the adder that consumes it. The bits below a shift pass from ``a`` to the
result without logic. The ``AdderGraph`` is the one description of the layer that the renderer
(``dense.py``, ``conv.py``), the cost model (``l1ml.estimate.verilog_cost``) and the tests walk.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

import numpy as np

from l1ml.backends.verilog.arith import csd, signed_width


class AddOp(IntEnum):
    """What ``l1ml_addsub`` computes (its OP parameter)."""

    ADD = 0  # a + (b << s)
    SUB = 1  # a - (b << s)
    RSUB = 2  # (b << s) - a


@dataclass(frozen=True)
class Adder:
    """One two-input adder: operand signals ``a`` and ``b`` (ids), ``b`` shifted left by ``shift``."""

    a: int
    b: int
    shift: int
    op: AddOp


@dataclass(frozen=True)
class Signal:
    """A value of the graph: an input (``adder`` None, ``const`` None), a constant, or an adder's result.
    ``lo``/``hi`` is its exact range over all inputs, ``level`` the adders between it and the inputs."""

    lo: int
    hi: int
    level: int
    adder: Adder | None = None
    const: int | None = None

    @property
    def width(self) -> int:
        """Bits of the signed word that holds every value of the signal."""
        return signed_width(self.lo, self.hi)


@dataclass(frozen=True)
class Output:
    """Output j is ``signal << shift`` (``signal`` None: the constant 0)."""

    signal: int | None
    shift: int


@dataclass(frozen=True)
class AdderGraph:
    """Signals 0 .. n_in - 1 are the inputs; later ones are constants and adders, each after its operands."""

    n_in: int
    signals: tuple[Signal, ...]
    outputs: tuple[Output, ...]
    shared: bool = True  # step 2 ran (False: the layer has too many digit pairs for it, ``PAIR_LIMIT``)

    @property
    def adders(self) -> list[int]:
        return [k for k, s in enumerate(self.signals) if s.adder is not None]

    def depth(self) -> int:
        """Adder levels of the deepest output."""
        return max((self.signals[o.signal].level for o in self.outputs if o.signal is not None), default=0)

    def adder_bits(self) -> int:
        """Bits of carry chain over all adders (the result bits at and above each adder's shift)."""
        total = 0
        for s in self.signals:
            if s.adder is not None:
                total += max(s.width - (0 if s.adder.op is AddOp.RSUB else s.adder.shift), 1)
        return total

    def summary(self, plain: AdderGraph | None = None) -> str:
        """One line for reports: adders, adder bits, levels, and (given the graph built without step 2)
        what sharing saved."""
        text = f"{len(self.adders):,} adders ({self.adder_bits():,} bits), depth {self.depth()}"
        if not self.shared:
            return text + f"; sharing skipped (more than {PAIR_LIMIT:,} term pairs)"
        if plain is not None:
            text += f"; {len(plain.adders):,} adders ({plain.adder_bits():,} bits) without sharing"
        return text

    def used_inputs(self) -> set[int]:
        """The inputs some adder or output reads."""
        read = {o.signal for o in self.outputs if o.signal is not None}
        for s in self.signals:
            if s.adder is not None:
                read.update((s.adder.a, s.adder.b))
        return {i for i in read if i < self.n_in}

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """The graph on integer input codes ``x`` (..., n_in) as Python integers (object array): the
        reference the tests hold against ``x @ c + bias``."""
        x = np.asarray(x, dtype=object)
        vals: list = [x[..., i] for i in range(self.n_in)]
        for s in self.signals[self.n_in:]:
            if s.adder is None:
                vals.append(s.const)
                continue
            a, b = vals[s.adder.a], vals[s.adder.b] * (1 << s.adder.shift)
            vals.append(a + b if s.adder.op is AddOp.ADD else a - b if s.adder.op is AddOp.SUB else b - a)
        zero = np.zeros(x.shape[:-1], dtype=object)
        return np.stack([zero + (vals[o.signal] * (1 << o.shift) if o.signal is not None else 0)
                         for o in self.outputs], axis=-1)


#: Default limit on the level of a shared adder (step 2); the trees above it may go deeper.
MAX_SHARED_DEPTH = 3
#: Step 2 counts every pair of terms of every output; beyond this many pairs (a few seconds of Python) it
#: is skipped and the layer gets its trees alone (the jet MLP's widest layer has 0.4 M pairs).
PAIR_LIMIT = 3_000_000


def adder_graph(c: np.ndarray, bias: np.ndarray, x_lo: int, x_hi: int,
                max_depth: int = MAX_SHARED_DEPTH) -> AdderGraph:
    """The adder graph of ``y = x @ c + bias`` for inputs in [x_lo, x_hi] (cached: the renderer and the
    cost model ask for the same layer)."""
    c = np.asarray(c, dtype=np.int64)
    bias = np.asarray(bias, dtype=np.int64)
    return _cached(c.tobytes(), c.shape, bias.tobytes(), int(x_lo), int(x_hi), int(max_depth))


@lru_cache(maxsize=64)
def _cached(cb: bytes, shape: tuple[int, int], bb: bytes, x_lo: int, x_hi: int, max_depth: int) -> AdderGraph:
    c = np.frombuffer(cb, dtype=np.int64).reshape(shape)
    bias = np.frombuffer(bb, dtype=np.int64)
    return _Builder(c, bias, x_lo, x_hi, max_depth).build()


# A term of an output: (signal, shift, negative).
Term = tuple[int, int, bool]
# A two-term pattern: (a, b, d, opposite signs): a + (b << d) or a - (b << d).
Key = tuple[int, int, int, bool]


def _pair(t: Term, u: Term) -> tuple[Key, Term]:
    """The pattern two terms form, and the occurrence's anchor (the less shifted term): the pattern's
    adder, shifted and signed like the anchor, replaces the two terms."""
    if (t[1], t[0]) > (u[1], u[0]):
        t, u = u, t
    return (t[0], u[0], u[1] - t[1], t[2] != u[2]), t


class _Builder:
    def __init__(self, c: np.ndarray, bias: np.ndarray, x_lo: int, x_hi: int, max_depth: int):
        self.c, self.bias, self.max_depth = c, bias, max_depth
        n_in, n_out = c.shape
        self.n_in = n_in
        # each signal as a linear form over the inputs plus a constant: exact ranges by interval sums
        self.forms: list[tuple[dict[int, int], int]] = [({i: 1}, 0) for i in range(n_in)]
        self.signals: list[Signal] = [Signal(x_lo, x_hi, 0) for _ in range(n_in)]
        self.x_lo, self.x_hi = x_lo, x_hi
        self.known: dict[tuple[int, int, int, AddOp], int] = {}
        self.consts: dict[int, int] = {}
        self.terms: list[dict[tuple[int, int], bool]] = []
        for j in range(n_out):
            t: dict[tuple[int, int], bool] = {}
            for i in range(n_in):
                for s, neg in csd(int(c[i, j])):
                    t[(i, s)] = neg
            self.terms.append(t)

    # ---- signals -------------------------------------------------------------------------------------
    def _range(self, form: tuple[dict[int, int], int]) -> tuple[int, int]:
        coef, k = form
        lo = hi = k
        for v in coef.values():
            a, b = v * self.x_lo, v * self.x_hi
            lo += min(a, b)
            hi += max(a, b)
        return lo, hi

    def const(self, value: int) -> int:
        if value not in self.consts:
            self.consts[value] = len(self.signals)
            self.forms.append(({}, value))
            self.signals.append(Signal(value, value, 0, const=value))
        return self.consts[value]

    def _form(self, a: int, b: int, shift: int, op: AddOp) -> tuple[dict[int, int], int]:
        (ca, ka), (cb, kb) = self.forms[a], self.forms[b]
        sa, sb = (1, 1) if op is AddOp.ADD else (1, -1) if op is AddOp.SUB else (-1, 1)
        coef = {i: sa * v for i, v in ca.items()}
        for i, v in cb.items():
            coef[i] = coef.get(i, 0) + sb * (v << shift)
        return {i: v for i, v in coef.items() if v}, sa * ka + sb * (kb << shift)

    def adder(self, a: int, b: int, shift: int, op: AddOp) -> int:
        key = (a, b, shift, op)
        if key not in self.known:
            form = self._form(a, b, shift, op)
            lo, hi = self._range(form)
            level = max(self.signals[a].level, self.signals[b].level) + 1
            self.known[key] = len(self.signals)
            self.forms.append(form)
            self.signals.append(Signal(lo, hi, level, Adder(a, b, shift, op)))
        return self.known[key]

    def _key_width(self, key: Key) -> int:
        a, b, d, sub = key
        lo, hi = self._range(self._form(a, b, d, AddOp.SUB if sub else AddOp.ADD))
        return max(signed_width(lo, hi) - d, 1)

    # ---- step 2: shared pairs --------------------------------------------------------------------------
    def share(self) -> None:
        occ: dict[Key, dict[int, int]] = {}
        total: dict[Key, int] = {}
        widths: dict[Key, int] = {}
        heap: list[tuple[int, Key]] = []
        banned: set[Key] = set()

        def score(key: Key) -> int:
            if key not in widths:
                widths[key] = self._key_width(key)
            return (total[key] - 1) * widths[key]

        def bump(key: Key, j: int, delta: int) -> None:
            per = occ.setdefault(key, {})
            per[j] = per.get(j, 0) + delta
            if not per[j]:
                del per[j]
            total[key] = total.get(key, 0) + delta
            if total[key] >= 2 and key not in banned:
                heapq.heappush(heap, (-score(key), key))

        def level_ok(key: Key) -> bool:
            return max(self.signals[key[0]].level, self.signals[key[1]].level) + 1 <= self.max_depth

        for j, t in enumerate(self.terms):
            items = [(s, sh, neg) for (s, sh), neg in t.items()]
            counts: dict[Key, int] = {}
            for p in range(len(items)):
                for q in range(p + 1, len(items)):
                    key = _pair(items[p], items[q])[0]
                    counts[key] = counts.get(key, 0) + 1
            for key, n in counts.items():
                occ.setdefault(key, {})[j] = n
                total[key] = total.get(key, 0) + n
        for key, n in total.items():
            if n >= 2 and level_ok(key):
                heap.append((-score(key), key))
        heapq.heapify(heap)

        while heap:
            neg_score, key = heapq.heappop(heap)
            if key in banned or total.get(key, 0) < 2 or -neg_score != score(key):
                continue
            if not level_ok(key):
                banned.add(key)
                continue
            a, b, d, sub = key
            new = self.adder(a, b, d, AddOp.SUB if sub else AddOp.ADD)
            for j in sorted(occ.get(key, {})):
                self._replace(j, key, new, bump)

    def _replace(self, j: int, key: Key, new: int, bump) -> None:
        """Replace the disjoint occurrences of ``key`` in output j by the adder ``new``."""
        a, b, d, sub = key
        t = self.terms[j]
        for (s, sh) in sorted(k for k in t if k[0] == a):
            if (s, sh) not in t or (b, sh + d) not in t or (b, sh + d) == (s, sh):
                continue
            neg_a, neg_b = t[(s, sh)], t[(b, sh + d)]
            if (neg_a != neg_b) != sub:
                continue
            for gone in ((a, sh), (b, sh + d)):
                g = (gone[0], gone[1], t.pop(gone))
                for (us, ush), uneg in t.items():
                    bump(_pair(g, (us, ush, uneg))[0], j, -1)
            if (a, sh) in t or (b, sh + d) in t:  # cannot happen: one digit per (signal, shift)
                raise AssertionError("pattern occurrence overlaps itself")
            n = (new, sh, neg_a)
            for (us, ush), uneg in t.items():
                bump(_pair(n, (us, ush, uneg))[0], j, +1)
            if (new, sh) in t:
                raise AssertionError("an adder appears twice at one shift in one output")
            t[(new, sh)] = neg_a

    # ---- step 3: trees -------------------------------------------------------------------------------
    def combine(self, t: Term, u: Term) -> Term:
        """One adder for two terms: the less shifted is ``a``; signs fold into the operation."""
        (key, anchor) = _pair(t, u)
        other = u if anchor is t else t
        a, b, d, opposite = key
        if not opposite:
            return self.adder(a, b, d, AddOp.ADD), anchor[1], anchor[2]
        # mixed signs: a - (b << d) is negative like a; (b << d) - a is negative like b. Prefer a
        # positive result (an output must end positive).
        if anchor[2]:
            return self.adder(a, b, d, AddOp.RSUB), anchor[1], other[2]
        return self.adder(a, b, d, AddOp.SUB), anchor[1], anchor[2]

    def tree(self, j: int) -> Output:
        terms: list[Term] = [(s, sh, neg) for (s, sh), neg in self.terms[j].items()]
        bj = int(self.bias[j])
        if not terms:  # no non-zero weight: the bias alone
            return Output(self.const(bj), 0) if bj else Output(None, 0)
        if bj:
            tz = (bj & -bj).bit_length() - 1
            terms.append((self.const(abs(bj) >> tz), tz, bj < 0))
        heap = [(self.signals[s].level, sh, s, neg) for s, sh, neg in terms]
        heapq.heapify(heap)
        while len(heap) > 1:
            l1, sh1, s1, n1 = heapq.heappop(heap)
            l2, sh2, s2, n2 = heapq.heappop(heap)
            s, sh, neg = self.combine((s1, sh1, n1), (s2, sh2, n2))
            heapq.heappush(heap, (self.signals[s].level, sh, s, neg))
        _, sh, s, neg = heap[0]
        if neg:  # every term negative: one negation, 0 - s
            s = self.adder(s, self.const(0), 0, AddOp.RSUB)
        return Output(s, sh)

    def build(self) -> AdderGraph:
        pairs = sum(len(t) * (len(t) - 1) // 2 for t in self.terms)
        shared = self.max_depth > 0 and pairs <= PAIR_LIMIT
        if shared:
            self.share()
        outputs = tuple(self.tree(j) for j in range(len(self.terms)))
        return _prune(self.n_in, self.signals, outputs, shared or self.max_depth == 0)


def _prune(n_in: int, signals: list[Signal], outputs: tuple[Output, ...], shared: bool) -> AdderGraph:
    """Drop shared adders no output needs any more (all their occurrences were absorbed) and renumber."""
    live = {o.signal for o in outputs if o.signal is not None}
    for k in range(len(signals) - 1, n_in - 1, -1):
        s = signals[k]
        if k in live and s.adder is not None:
            live |= {s.adder.a, s.adder.b}
    keep = list(range(n_in)) + [k for k in range(n_in, len(signals)) if k in live]
    # operands first: adders were created in dependency order, constants whenever first needed
    order = sorted(keep[n_in:], key=lambda k: (signals[k].level, k))
    new_id = {k: k for k in range(n_in)}
    for k in order:
        new_id[k] = len(new_id)
    out: list[Signal] = list(signals[:n_in])
    for k in order:
        s = signals[k]
        if s.adder is not None:
            ad = s.adder
            s = Signal(s.lo, s.hi, s.level, Adder(new_id[ad.a], new_id[ad.b], ad.shift, ad.op))
        out.append(s)
    outs = tuple(Output(new_id[o.signal] if o.signal is not None else None, o.shift) for o in outputs)
    return AdderGraph(n_in, tuple(out), outs, shared)

