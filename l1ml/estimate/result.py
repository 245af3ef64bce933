"""What an estimate is: resources, per-layer rows, latency and II, and the budget verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from l1ml.estimate.budget import Budget, BudgetCheck
from l1ml.estimate.parts import Part


class Backend(Enum):
    VERILOG = "verilog"
    HLS4ML = "hls4ml"


class Strategy(Enum):
    """hls4ml's Dense implementations: all multipliers unrolled, reused over ``reuse_factor`` cycles, or
    da4ml's adder graphs (``l1ml.backends.hls4ml_da``)."""

    LATENCY = "Latency"
    RESOURCE = "Resource"
    DISTRIBUTED_ARITHMETIC = "distributed_arithmetic"


@dataclass
class Resources:
    """Additive FPGA resource counts (floats while summing; rounded when reported).

    ``carry8`` counts UltraScale+ CARRY8 blocks (8 bits of carry chain); ``carry4`` the same chains in
    4-bit CARRY4 cells, the cell Yosys maps to, so that estimates and Yosys counts can stand side by side.
    """

    lut: float = 0.0
    ff: float = 0.0
    dsp: float = 0.0
    bram: float = 0.0
    carry8: float = 0.0
    carry4: float = 0.0

    def __add__(self, o: Resources) -> Resources:
        return Resources(self.lut + o.lut, self.ff + o.ff, self.dsp + o.dsp, self.bram + o.bram,
                         self.carry8 + o.carry8, self.carry4 + o.carry4)

    def __iadd__(self, o: Resources) -> Resources:
        self.lut += o.lut
        self.ff += o.ff
        self.dsp += o.dsp
        self.bram += o.bram
        self.carry8 += o.carry8
        self.carry4 += o.carry4
        return self

    def scaled(self, k: float) -> Resources:
        return Resources(self.lut * k, self.ff * k, self.dsp * k, self.bram * k, self.carry8 * k, self.carry4 * k)

    def adder(self, bits: float, lut_per_bit: float = 1.0) -> None:
        """Add one carry-chain adder of ``bits`` result bits."""
        if bits <= 0:
            return
        self.lut += lut_per_bit * bits
        self.carry8 += math.ceil(bits / 8)
        self.carry4 += math.ceil(bits / 4)

    def to_json(self) -> dict[str, int]:
        return {"LUT": round(self.lut), "FF": round(self.ff), "DSP": round(self.dsp),
                "BRAM": _half_up(self.bram), "CARRY": round(self.carry8)}


def _half_up(x: float) -> float:
    """BRAM counts in 36 Kb blocks, where an 18 Kb half counts 0.5."""
    return math.ceil(x * 2 - 1e-9) / 2


@dataclass
class LayerCost:
    """One node's row of the estimate."""

    node: str
    onnx: str
    op: str
    latency_cycles: int
    res: Resources
    detail: str = ""  # e.g. "128 shift-add, 3 DSP, tree depth 7, 2 registers"

    def to_json(self) -> dict:
        r = self.res.to_json()
        return {"node": self.node, "onnx": self.onnx, "op": self.op, "latency_cycles": self.latency_cycles,
                "LUT": r["LUT"], "FF": r["FF"], "DSP": r["DSP"], "BRAM": r["BRAM"], "CARRY": r["CARRY"],
                "detail": self.detail}


@dataclass
class Estimate:
    """The answer to "does it fit, and in how many nanoseconds?" for one model, backend and part."""

    model: str
    backend: Backend
    part: Part
    part_name: str
    clock_ns: float
    reuse_factor: int
    strategy: Strategy | None
    latency_cycles: int
    ii_cycles: int
    total: Resources
    layers: list[LayerCost]
    check: BudgetCheck
    assumptions: list[str]
    pipeline_stages: int | None = None
    synth: dict | None = None  # measured by Yosys, when asked (see synth.py)
    extra: dict = field(default_factory=dict)

    @property
    def latency_ns(self) -> float:
        return self.latency_cycles * self.clock_ns

    @property
    def ii_ns(self) -> float:
        return self.ii_cycles * self.clock_ns

    @property
    def budget(self) -> Budget:
        return self.check.budget

    @property
    def fits(self) -> bool:
        return self.check.fits

    def resources(self) -> dict[str, float]:
        return dict(self.total.to_json())

    def utilisation(self) -> dict[str, float]:
        cap = self.part.capacity()
        res = self.resources()
        return {k: res[k] / cap[k] for k in ("LUT", "FF", "DSP", "BRAM")}

    def to_json(self) -> dict:
        d = {
            "model": self.model,
            "backend": self.backend.value,
            "part": {"name": self.part_name, "device": self.part.device, "family": self.part.family,
                     "capacity": self.part.capacity()},
            "clock_ns": self.clock_ns,
            "reuse_factor": self.reuse_factor,
            "strategy": self.strategy.value if self.strategy else None,
            "pipeline_stages": self.pipeline_stages,
            "latency": {"cycles": self.latency_cycles, "ns": self.latency_ns},
            "ii": {"cycles": self.ii_cycles, "ns": self.ii_ns},
            "resources": self.resources(),
            "utilisation": {k: round(v, 6) for k, v in self.utilisation().items()},
            "budget": self.check.to_json(),
            "layers": [row.to_json() for row in self.layers],
            "assumptions": "\n".join(self.assumptions),
        }
        if self.synth is not None:
            d["synth"] = self.synth
        return d
