"""The cocotb test for vendor HLS RTL: drive every vector of the run directory through the block protocol
back-to-back, collect the outputs by ap_vld / ap_done and check them in order (see ``vendor_bench``)."""

from __future__ import annotations

import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, SimTimeoutError, with_timeout

from l1ml.verify.cocotb_bench.components import InOrderChecker
from l1ml.verify.cocotb_bench.config import BENCH_DIR_ENV, PROGRESS, BenchReport, PortSpec
from l1ml.verify.cocotb_bench.vendor_bench import (
    BlockDriver,
    BlockMonitor,
    VendorBenchConfig,
    port_codes,
    port_words,
)

IDLE_CYCLES = 4


@cocotb.test()
async def vendor_block(dut) -> None:
    run_dir = Path(os.environ[BENCH_DIR_ENV])
    cfg = VendorBenchConfig.load(run_dir)
    itf, c = cfg.interface, cfg.interface.control
    words = {a.arg: port_words(a, np.load(run_dir / f"in_{a.arg}.npy")) for a in itf.inputs}
    expected = {a.arg: np.load(run_dir / f"exp_{a.arg}.npy") for a in itf.outputs}

    clk = getattr(dut, c.clk)
    cocotb.start_soon(Clock(clk, cfg.period_ns, unit="ns").start())
    if c.ce:
        getattr(dut, c.ce).value = 1
    if c.start:
        getattr(dut, c.start).value = 0
    for a in itf.inputs:
        for p in a.ports:
            if p.vld:
                getattr(dut, p.vld).value = 0
    if c.rst:
        getattr(dut, c.rst).value = 0 if c.rst_active_low else 1
    for _ in range(cfg.reset_cycles):
        await FallingEdge(clk)
    if c.rst:
        getattr(dut, c.rst).value = 1 if c.rst_active_low else 0

    progress = run_dir / PROGRESS

    def note(k: int) -> None:
        if k % 500 == 0 or k == cfg.n:
            progress.write_text(str(k))

    driver = BlockDriver(dut, cfg)
    monitor = BlockMonitor(dut, cfg, note)
    collecting = cocotb.start_soon(monitor.collect())
    error = ""
    await driver.send(words)
    try:
        await with_timeout(collecting, cfg.timeout_cycles * cfg.period_ns, "ns")
    except SimTimeoutError:
        error = (f"timeout: {monitor.count()} of {cfg.n} outputs ({len(monitor.done_cycles)} ap_done) arrived "
                 f"within {cfg.timeout_cycles} cycles after the last ap_start")
        collecting.cancel()
    if c.idle and not error:  # ap_ctrl_hs: with ap_start low and every output delivered, the block is idle
        idle = getattr(dut, c.idle)
        for _ in range(IDLE_CYCLES):
            await FallingEdge(clk)
            await ReadOnly()
            if idle.value == 1:
                break
        else:
            error = f"protocol: ap_idle stayed low {IDLE_CYCLES} cycles after the last output"

    specs = tuple(PortSpec(a.arg, a.elements, a.element_width, cfg.signed[a.arg]) for a in itf.outputs)
    actual = {a.arg: port_codes(a, monitor.words[a.arg], cfg.signed[a.arg]) for a in itf.outputs}
    n_seen = min(len(v) for v in actual.values())
    actual = {k: v[:n_seen] for k, v in actual.items()}
    for k, v in actual.items():
        np.save(run_dir / f"out_{k}.npy", v)
    checker = InOrderChecker(specs, expected, cfg.max_report)
    checker.check(actual)
    ends = monitor.done_cycles if c.done else monitor.vld_cycles
    lat = [e - s for e, s in zip(ends, driver.accepted, strict=False)]
    starts = np.diff(driver.accepted) if len(driver.accepted) > 1 else np.array([], np.int64)
    report = BenchReport(
        n_vectors=n_seen,
        mismatches=checker.mismatches,
        mismatched_vectors=checker.mismatched_vectors,
        first_mismatches=checker.lines,
        latency_cycles=max(lat) if lat else None,
        latency_min=min(lat) if lat else None,
        ii=int(starts.max()) if len(starts) else None,  # the largest spacing of accepted ap_starts
        checked=True,
        error=error,
    )
    report.save(run_dir)
    assert not error, error
    assert report.mismatches == 0, f"{report.mismatches} words differ; first: {report.first_mismatches[:3]}"
