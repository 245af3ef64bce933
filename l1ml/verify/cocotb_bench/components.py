"""Reusable cocotb components for a valid-qualified streaming DUT (cocotb's driver/monitor/scoreboard
roles): ``StreamDriver`` feeds words, ``StreamMonitor`` collects them, ``InOrderChecker`` compares.

Timing convention: inputs change on the falling clock edge, so they are stable at the rising edge
that samples them; outputs are read on the falling edge after the new inputs settled (ReadOnly).
A word driven in cycle c and read in cycle c + L therefore has latency L (L = 0: combinational).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from cocotb.handle import SimHandleBase
from cocotb.simtime import get_sim_time
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer

from l1ml.verify.cocotb_bench.config import PortSpec, unpack


def cycle_of(period_ns: int) -> int:
    """The current clock cycle, counted in periods of the bench clock."""
    return int(get_sim_time(unit="ns")) // period_ns


class StreamDriver:
    """Drives one word per transaction on the data ports with ``valid`` high, one every ``ii`` cycles."""

    def __init__(self, clk: SimHandleBase, valid: SimHandleBase, ports: list[SimHandleBase], ii: int,
                 period_ns: int):
        self.clk, self.valid, self.ports, self.ii, self.period_ns = clk, valid, ports, ii, period_ns
        self.sent_cycles: list[int] = []

    async def send(self, words: list[list[int]]) -> None:
        """``words[k][p]`` is the packed value of port p in transaction k."""
        for word in words:
            await FallingEdge(self.clk)
            for port, value in zip(self.ports, word, strict=True):
                port.value = value
            self.valid.value = 1
            self.sent_cycles.append(cycle_of(self.period_ns))
            if self.ii > 1:
                await FallingEdge(self.clk)
                self.valid.value = 0
            if self.ii > 2:  # one timer instead of a Python wake-up per cycle (long IIs of a GNN)
                await Timer((self.ii - 2) * self.period_ns + self.period_ns // 4, unit="ns")
        await FallingEdge(self.clk)
        self.valid.value = 0


@dataclass
class Observed:
    cycle: int
    words: list[int]


class StreamMonitor:
    """Samples the data ports in every cycle in which ``valid`` is high, until ``expect`` words arrived.

    With ``pulses`` (an II above 1, so that valid is high for single cycles) it wakes on valid's rising
    edge instead of on every clock, which is what makes long-II designs quick to simulate."""

    def __init__(self, clk: SimHandleBase, valid: SimHandleBase, ports: list[SimHandleBase], period_ns: int,
                 on_word: Callable[[int], None] | None = None, pulses: bool = False):
        self.clk, self.valid, self.ports, self.period_ns = clk, valid, ports, period_ns
        self.seen: list[Observed] = []
        self.on_word = on_word
        self.pulses = pulses

    async def collect(self, expect: int) -> None:
        while len(self.seen) < expect:
            if self.pulses and self.valid.value != 1:
                await RisingEdge(self.valid)
            await FallingEdge(self.clk)
            await ReadOnly()
            if self.valid.value == 1:
                words = [int(p.value.to_unsigned()) for p in self.ports]
                self.seen.append(Observed(cycle_of(self.period_ns), words))
                if self.on_word is not None:
                    self.on_word(len(self.seen))


@dataclass
class InOrderChecker:
    """Compares observed words with the expected codes in order, element by element."""

    specs: tuple[PortSpec, ...]
    expected: dict[str, np.ndarray] | None  # port name -> (n, elements) codes
    max_report: int = 10
    mismatches: int = 0
    mismatched_vectors: int = 0
    lines: list[str] = field(default_factory=list)

    def decode(self, seen: list[Observed]) -> dict[str, np.ndarray]:
        """Observed words -> codes per port."""
        return {s.name: unpack([o.words[p] for o in seen], s.elements, s.width, s.signed)
                for p, s in enumerate(self.specs)}

    def check(self, actual: dict[str, np.ndarray]) -> None:
        if self.expected is None:
            return
        n = min(len(next(iter(actual.values()), [])), len(next(iter(self.expected.values()), [])))
        bad_rows = np.zeros(n, dtype=bool)
        diffs = []
        for s in self.specs:
            exp, got = self.expected[s.name][:n], actual[s.name][:n]
            bad = exp != got
            bad_rows |= bad.any(axis=1)
            self.mismatches += int(bad.sum())
            for r, k in zip(*np.nonzero(bad), strict=True):
                diffs.append((int(r), s, int(k), int(exp[r, k]), int(got[r, k])))
        self.mismatched_vectors = int(bad_rows.sum())
        for r, s, k, e, g in sorted(diffs, key=lambda d: (d[0], d[1].name, d[2]))[: self.max_report]:
            label = f" ({s.label}[{k}])" if s.label else ""
            self.lines.append(f"vector {r}: {s.name}[{k}]{label} expected {e}, got {g}")
