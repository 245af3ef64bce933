"""The generic cocotb test: stream every vector of the run directory through the DUT back-to-back and
check each output word in order (see ``config`` for the files). One module serves every model; the
runner points it at a run directory through ``L1ML_BENCH_DIR``."""

from __future__ import annotations

import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, SimTimeoutError, with_timeout

from l1ml.verify.cocotb_bench.components import InOrderChecker, StreamDriver, StreamMonitor
from l1ml.verify.cocotb_bench.config import BENCH_DIR_ENV, PROGRESS, BenchConfig, BenchReport, pack

RESET_CYCLES = 3


@cocotb.test()
async def stream_vectors(dut) -> None:
    run_dir = Path(os.environ[BENCH_DIR_ENV])
    cfg = BenchConfig.load(run_dir)
    inputs = {s.name: np.load(run_dir / f"in_{s.name}.npy") for s in cfg.inputs}
    expected = None
    if all((run_dir / f"exp_{s.name}.npy").exists() for s in cfg.outputs):
        expected = {s.name: np.load(run_dir / f"exp_{s.name}.npy") for s in cfg.outputs}
    packed = [pack(inputs[s.name], s.width) for s in cfg.inputs]
    words = [list(w) for w in zip(*packed, strict=True)] if packed else []

    cocotb.start_soon(Clock(dut.clk, cfg.period_ns, unit="ns").start())
    dut.rst.value = 1
    dut.in_valid.value = 0
    for _ in range(RESET_CYCLES):
        await FallingEdge(dut.clk)
    dut.rst.value = 0

    progress = run_dir / PROGRESS

    def note(k: int) -> None:
        if k % 500 == 0 or k == cfg.n:
            progress.write_text(str(k))

    in_ports = [getattr(dut, s.name) for s in cfg.inputs]
    out_ports = [getattr(dut, s.name) for s in cfg.outputs]
    driver = StreamDriver(dut.clk, dut.in_valid, in_ports, cfg.ii, cfg.period_ns)
    monitor = StreamMonitor(dut.clk, dut.out_valid, out_ports, cfg.period_ns, note, pulses=cfg.ii > 1)
    collecting = cocotb.start_soon(monitor.collect(cfg.n))
    error = ""
    await driver.send(words)
    try:
        await with_timeout(collecting, cfg.timeout_cycles * cfg.period_ns, "ns")
    except SimTimeoutError:
        error = f"timeout: {len(monitor.seen)} of {cfg.n} outputs arrived within {cfg.timeout_cycles} cycles"
        collecting.cancel()

    checker = InOrderChecker(cfg.outputs, expected, cfg.max_report)
    actual = checker.decode(monitor.seen)
    for s in cfg.outputs:
        np.save(run_dir / f"out_{s.name}.npy", actual[s.name])
    checker.check(actual)
    seen = [o.cycle for o in monitor.seen]
    lat = [o - i for o, i in zip(seen, driver.sent_cycles, strict=False)]
    gaps = np.diff(seen) if len(seen) > 1 else np.array([], dtype=np.int64)
    report = BenchReport(
        n_vectors=len(seen),
        mismatches=checker.mismatches,
        mismatched_vectors=checker.mismatched_vectors,
        first_mismatches=checker.lines,
        latency_cycles=max(lat) if lat else None,
        latency_min=min(lat) if lat else None,
        ii=int(gaps.max()) if len(gaps) else None,
        checked=expected is not None,
        error=error,
    )
    report.save(run_dir)
    assert not error, error
    assert report.mismatches == 0, f"{report.mismatches} words differ; first: {report.first_mismatches[:3]}"
