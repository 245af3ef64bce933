"""cocotb driver and monitor for the block protocol of an HLS top (hls4ml ``io_parallel``), and the files
the vendor bench reads and writes in its run directory (beside ``config``'s streaming bench).

vendor.json     the top's interface (``vendor_ports.TopInterface``), signedness per argument, vector count
in_<arg>.npy    int64 codes (n, elements) per input argument
exp_<arg>.npy   expected int64 codes per output argument
out_<arg>.npy   the codes the RTL produced (written by the bench)
report.json     ``BenchReport`` (as the streaming bench), latency measured from ap_start to ap_done

Timing convention as in ``components``: inputs change on the falling edge; ap_ready, ap_done and the
ap_vld outputs are sampled after the falling edge once the inputs settled (ReadOnly), i.e. in the cycle
whose rising edge registers them. ap_start stays high while vectors remain; a vector is accepted in a
cycle where ap_ready is high, so the block itself sets the pace (its II).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from cocotb.handle import SimHandleBase
from cocotb.triggers import FallingEdge, ReadOnly

from l1ml.verify.cocotb_bench.components import cycle_of
from l1ml.verify.cocotb_bench.config import pack, unpack
from l1ml.verify.vendor_ports import ArgPorts, Control, DataPort, Protocol, TopInterface

CONFIG = "vendor.json"


def _arg_from_json(d: dict) -> ArgPorts:
    return ArgPorts(d["arg"], d["direction"], d["elements"], d["element_width"], Protocol(d["protocol"]),
                    tuple(DataPort(**p) for p in d["ports"]))


@dataclass(frozen=True)
class VendorBenchConfig:
    interface: TopInterface
    signed: dict[str, bool]  # per argument
    n: int
    ii: int | None = None  # the csynth interval: the pace for a block without ap_start (ap_ctrl_none)
    period_ns: int = 10
    max_report: int = 10
    timeout_cycles: int = 10_000
    reset_cycles: int = 5

    def save(self, run_dir: Path) -> None:
        d = asdict(self)
        for side in ("inputs", "outputs"):
            for a in d["interface"][side]:
                a["protocol"] = a["protocol"].value
        (run_dir / CONFIG).write_text(json.dumps(d, indent=1, sort_keys=True))

    @classmethod
    def load(cls, run_dir: Path) -> VendorBenchConfig:
        d = json.loads((run_dir / CONFIG).read_text())
        i = d["interface"]
        d["interface"] = TopInterface(i["top"], Control(**i["control"]),
                                      tuple(map(_arg_from_json, i["inputs"])),
                                      tuple(map(_arg_from_json, i["outputs"])))
        return cls(**d)


def port_words(arg: ArgPorts, codes: np.ndarray) -> list[list[int]]:
    """Per data port of ``arg``, the unsigned word of each vector (element ``first`` in the low bits)."""
    codes = np.asarray(codes, dtype=np.int64).reshape(len(codes), arg.elements)
    return [pack(codes[:, p.first:p.first + p.elements], arg.element_width) for p in arg.ports]


def port_codes(arg: ArgPorts, words: list[list[int]], signed: bool) -> np.ndarray:
    """The inverse of ``port_words`` for as many vectors as every port delivered."""
    n = min(len(w) for w in words)
    return np.concatenate([unpack(w[:n], p.elements, arg.element_width, signed)
                           for p, w in zip(arg.ports, words, strict=True)], axis=1) \
        if arg.ports else np.zeros((n, 0), np.int64)


class BlockDriver:
    """Presents one vector after the other with ap_start (and the inputs' ap_vld) high, moving on in each
    cycle the block raises ap_ready; records the cycle each vector was accepted."""

    def __init__(self, dut: SimHandleBase, cfg: VendorBenchConfig):
        self.dut, self.cfg = dut, cfg
        self.control = cfg.interface.control
        self.clk = getattr(dut, self.control.clk)
        self.accepted: list[int] = []

    def _set_valid(self, value: int) -> None:
        if self.control.start:
            getattr(self.dut, self.control.start).value = value
        for a in self.cfg.interface.inputs:
            for p in a.ports:
                if p.vld:
                    getattr(self.dut, p.vld).value = value

    async def send(self, words: dict[str, list[list[int]]]) -> None:
        """``words[arg][port][k]``: the word of ``arg``'s port in vector k."""
        handles = {a.arg: [getattr(self.dut, p.name) for p in a.ports] for a in self.cfg.interface.inputs}
        gap = max(1, self.cfg.ii or 1) if not self.control.start else 1
        for k in range(self.cfg.n):
            await FallingEdge(self.clk)
            for arg, ports in handles.items():
                for h, w in zip(ports, words[arg], strict=True):
                    h.value = w[k]
            self._set_valid(1)
            if self.control.start:
                ready = getattr(self.dut, self.control.ready)
                while True:
                    await ReadOnly()
                    if ready.value == 1:
                        break
                    await FallingEdge(self.clk)
            self.accepted.append(cycle_of(self.cfg.period_ns))
            for _ in range(gap - 1):
                await FallingEdge(self.clk)
                self._set_valid(0)
        await FallingEdge(self.clk)
        self._set_valid(0)


class BlockMonitor:
    """Collects each output port's word in every cycle its ap_vld (for ap_none outputs: ap_done) is high,
    and the cycles of ap_done, until every port delivered ``n`` words."""

    def __init__(self, dut: SimHandleBase, cfg: VendorBenchConfig, on_vector=None):
        self.dut, self.cfg = dut, cfg
        self.control = cfg.interface.control
        self.clk = getattr(dut, self.control.clk)
        self.words: dict[str, list[list[int]]] = {a.arg: [[] for _ in a.ports] for a in cfg.interface.outputs}
        self.done_cycles: list[int] = []
        self.vld_cycles: list[int] = []  # the cycle each vector's last output word came
        self.on_vector = on_vector

    def count(self) -> int:
        return min(len(w) for ws in self.words.values() for w in ws)

    async def collect(self) -> None:
        c = self.control
        done = getattr(self.dut, c.done) if c.done else None
        watch = [(a.arg, i, getattr(self.dut, p.name), getattr(self.dut, p.vld) if p.vld else None)
                 for a in self.cfg.interface.outputs for i, p in enumerate(a.ports)]
        n = self.cfg.n
        while self.count() < n or (done is not None and len(self.done_cycles) < n):
            await FallingEdge(self.clk)
            await ReadOnly()
            before = self.count()
            is_done = done is not None and done.value == 1
            for arg, i, data, vld in watch:
                if (vld.value == 1) if vld is not None else is_done:
                    self.words[arg][i].append(int(data.value.to_unsigned()))
            if is_done:
                self.done_cycles.append(cycle_of(self.cfg.period_ns))
            after = self.count()
            if after > before:
                self.vld_cycles += [cycle_of(self.cfg.period_ns)] * (after - before)
                if self.on_vector is not None:
                    self.on_vector(after)
