"""The files a streaming bench reads and writes in its run directory; shared by both sides of the runner.

bench.json     ports, vector count, II, clock period
in_<port>.npy  int64 codes (n, elements) per input port
exp_<port>.npy int64 codes (n, elements) per output port (optional: without them the bench only records)
out_<port>.npy the codes the DUT produced (written by the bench)
report.json    mismatches, first mismatch lines, measured latency and II (written by the bench)
progress       vectors seen so far (rewritten while the bench runs)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

CONFIG = "bench.json"
REPORT = "report.json"
PROGRESS = "progress"
#: The environment variable through which the runner tells the cocotb test where its run directory is.
BENCH_DIR_ENV = "L1ML_BENCH_DIR"


@dataclass(frozen=True)
class PortSpec:
    """A packed port: ``elements`` codes of ``width`` bits, element k at bits [width*k +: width]."""

    name: str
    elements: int
    width: int
    signed: bool
    label: str = ""  # what to call it in reports (the IR tensor)


@dataclass(frozen=True)
class BenchConfig:
    inputs: tuple[PortSpec, ...]
    outputs: tuple[PortSpec, ...]
    n: int
    ii: int = 1
    period_ns: int = 10  # the bench clock; any period works, the design is checked cycle by cycle
    max_report: int = 10  # mismatch lines kept in the report
    timeout_cycles: int = 100_000  # after the last input, how long to wait for outputs

    def save(self, run_dir: Path) -> None:
        (run_dir / CONFIG).write_text(json.dumps(asdict(self), indent=1, sort_keys=True))

    @classmethod
    def load(cls, run_dir: Path) -> BenchConfig:
        d = json.loads((run_dir / CONFIG).read_text())
        d["inputs"] = tuple(PortSpec(**p) for p in d["inputs"])
        d["outputs"] = tuple(PortSpec(**p) for p in d["outputs"])
        return cls(**d)


@dataclass
class BenchReport:
    n_vectors: int  # output words observed
    mismatches: int  # output elements that differ from the expectation
    mismatched_vectors: int
    first_mismatches: list[str]
    latency_cycles: int | None  # largest input-to-output delay seen
    latency_min: int | None
    ii: int | None  # largest spacing between consecutive outputs
    checked: bool  # whether expectations were given
    error: str = ""  # a timeout or protocol failure, empty if none

    def save(self, run_dir: Path) -> None:
        (run_dir / REPORT).write_text(json.dumps(asdict(self), indent=1, sort_keys=True))

    @classmethod
    def load(cls, run_dir: Path) -> BenchReport:
        return cls(**json.loads((run_dir / REPORT).read_text()))


def pack(codes: np.ndarray, width: int) -> list[int]:
    """Rows of codes -> one unsigned integer per row, element k at bits [width*k +: width]."""
    mask = (1 << width) - 1
    rows = []
    for row in np.asarray(codes, dtype=np.int64).tolist():
        word = 0
        for k, v in enumerate(row):
            word |= (v & mask) << (width * k)
        rows.append(word)
    return rows


def unpack(words: list[int], elements: int, width: int, signed: bool) -> np.ndarray:
    """The inverse of ``pack``: (n, elements) int64 codes."""
    mask = (1 << width) - 1
    top = 1 << (width - 1)
    out = np.empty((len(words), elements), dtype=np.int64)
    for r, word in enumerate(words):
        for k in range(elements):
            v = (word >> (width * k)) & mask
            out[r, k] = v - (1 << width) if signed and v & top else v
    return out
