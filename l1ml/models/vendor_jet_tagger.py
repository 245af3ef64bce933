"""The vendor fixture's network as a QONNX model: the 16-64-32-32-5 jet tagger of
``../shared/vendor/vitis2022.2_jet_tagger/hls4ml_prj`` (hls4ml 1.0.0, Vitis HLS 2022.2), rebuilt from the
weight files hls4ml wrote (``firmware/weights/{w,b}{2,5,8,11}.txt``) so that l1ml's hls4ml cost model can
be compared with the csynth reports of a real synthesis (docs/estimation.md, "hls4ml estimate against
Vitis HLS csynth").

Every value of the fixture is ``ap_fixed<16,6>`` = AP_TRN (floor), AP_WRAP: a 16-bit signed code at scale
2^-10. The model has a Quant node (scale 2^-10, 16 bits, signed, narrow 0, FLOOR) on the input, on every
weight and bias (so the weight codes are exactly those of the fixture's ``floor(w * 1024)``), after every
MatMul + Add and after every ReLU; the softmax stays outside. What l1ml cannot say in QONNX and therefore
computes differently (l1ml is exact, the fixture is not):

* the fixture casts every product to ``ap_fixed<16,6>`` (floor, wrap) before summing and sums in 16 bits
  with wrap-around; l1ml's Dense sums exact products in an exact (29-bit) accumulator;
* the fixture's casts wrap on overflow; a QONNX Quant saturates, so l1ml's casts saturate.

For the cost comparison ``fixture_precision`` retypes the compiled graph as hls4ml built the fixture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from l1ml.errors import InputFileError
from l1ml.ir.graph import Graph
from l1ml.ir.types import FixedType

if TYPE_CHECKING:
    from l1ml.estimate.result import Estimate

FIXTURE = Path("vitis2022.2_jet_tagger") / "hls4ml_prj"
#: hls4ml layer index of each Dense (w2/b2 ... w11/b11), its (n_in, n_out), the activation after it
LAYERS = ((2, 16, 64, "relu1"), (5, 64, 32, "relu2"), (8, 32, 32, "relu3"), (11, 32, 5, None))
FRAC, BITS = 10, 16  # ap_fixed<16,6>: scale 2^-10, 16 bits
#: the fixture's type as l1ml spells it: ap_fixed<16,6> (AP_TRN, AP_WRAP), used for every value
FIXTURE_TYPE = FixedType(True, BITS, FRAC)
CLOCK_NS = 5.0  # the fixture's clock (part xcu250: the resources of the xcvu13p, l1ml's default part)


def vendor_dir(repo_root: Path) -> Path:
    """Where tests look for the shared vendor fixtures: ``../shared/vendor`` beside the repository."""
    return Path(repo_root).resolve().parent / "shared" / "vendor"


def build_qonnx(project: Path):
    """The onnx.ModelProto of the fixture's network (x: (1, 16) -> y: (1, 5), the logits before softmax),
    read back from the project by ``l1ml.frontend.hls4ml_project``. float32 holds every weight exactly
    enough: floor(w * 1024) of the float32 value equals that of the text's double (checked by
    tests/models/test_vendor_jet_tagger.py against the C++ conversion rule)."""
    from l1ml.frontend.hls4ml_project import read_project_net, to_qonnx

    return to_qonnx(read_project_net(project))


def write_qonnx(project: Path, path: Path) -> Path:
    """Write the fixture's network as a QONNX file at ``path`` (see ``build_qonnx``)."""
    import onnx

    path = Path(path)
    onnx.save(build_qonnx(project), str(path))
    return path


def fixture_precision(g: Graph) -> Graph:
    """``g`` typed as hls4ml typed the fixture: every tensor ``ap_fixed<16,6>`` (see
    ``l1ml.estimate.hls4ml_cost.uniform_precision``)."""
    from l1ml.estimate.hls4ml_cost import uniform_precision

    return uniform_precision(g, FIXTURE_TYPE)


# ---- the comparison with the fixture's csynth reports (docs/estimation.md) ----------------------------

REPORT_DIR = Path("myproject_prj") / "solution1" / "syn" / "report"
TOP_RPT = "myproject_csynth.rpt"
OUTSIDE = ("softmax",)  # layers of the fixture the QONNX model leaves out
# a register of the top module's table in csynth.rpt: `|layer4_out_V_12_reg_1587 |  16|   0|   16|   0|`
_TOP_REG = re.compile(r"^\s*\|\s*layer(\d+)_out\w*\s*\|\s*(\d+)\s*\|", re.M)


@dataclass(frozen=True)
class Figures:
    """One layer (or a total) as the comparison counts it: cycles on the pipeline path, II, resources;
    BRAM in 36 Kb blocks, as l1ml's estimate counts it."""

    cycles: int
    ii: int
    lut: float
    ff: float
    dsp: float
    bram: float

    def values(self) -> dict[str, float]:
        return {"LUT": self.lut, "FF": self.ff, "DSP": self.dsp, "BRAM": self.bram, "latency": self.cycles,
                "II": self.ii}


def hls4ml_layer(onnx_name: str) -> str:
    """The fixture's hls4ml layer name of an l1ml estimate row (its ONNX node name in ``build_qonnx``)."""
    return onnx_name.removesuffix("_matmul")


def csynth_figures(project: Path) -> tuple[dict[str, Figures], Figures, Figures]:
    """Per hls4ml layer (softmax left out), the rest of the top module, and the total without the softmax,
    from the fixture's csynth reports. Vitis HLS puts the register after a layer into the top module: its
    FF are booked to the layer whose output it holds (``layer<index>_out`` in the top's register table of
    ``myproject_csynth.rpt``, which the XML does not list). A layer's cycles on the path are its module
    latency + 1 (its stages) for a Dense; for a 0-latency activation 1 when the output before it is
    registered (a cycle of its own), else 0 (chained into the stage before)."""
    from l1ml.estimate.csynth import read_csynth

    report_dir = Path(project) / REPORT_DIR
    rep = read_csynth(report_dir)
    try:
        table = (report_dir / TOP_RPT).read_text(errors="replace")
    except OSError as e:
        raise InputFileError(f"{report_dir / TOP_RPT}: cannot read the top module's report ({e.strerror}); "
                             "the register table is read from it") from None
    regs: dict[int, int] = {}
    for index, bits in _TOP_REG.findall(table[table.find("* Register:"):]):
        regs[int(index)] = regs.get(int(index), 0) + int(bits)
    layers, outside, before = {}, [], None
    for inst in rep.instances:  # in the order of the top's calls: each layer reads the one before it
        m = rep.module(inst.module)
        if inst.layer in OUTSIDE:
            outside.append(m)
            continue
        r = m.resources
        # a pipelined layer's stages; a 0-latency one has a cycle of its own when its input is registered
        cycles = m.latency_max + 1 if m.latency_max else int(before is not None and before in regs)
        layers[inst.layer] = Figures(cycles, m.interval_max or 1, r.lut, r.ff + regs.get(inst.layer_index, 0),
                                     r.dsp, r.bram_18k / 2)
        before = inst.layer_index
    top = rep.top.resources
    rest_ff = top.ff - sum(rep.module(i.module).resources.ff for i in rep.instances) - sum(regs.values())
    rest_lut = top.lut - sum(rep.module(i.module).resources.lut for i in rep.instances)
    rest = Figures(0, 1, rest_lut, rest_ff, top.dsp - sum(rep.module(i.module).resources.dsp for i in rep.instances),
                   0.0)
    cut = [o.resources for o in outside]
    total = Figures(rep.top.latency_max - sum(o.latency_max for o in outside), rep.top.interval_max,
                    top.lut - sum(c.lut for c in cut), top.ff - sum(c.ff for c in cut),
                    top.dsp - sum(c.dsp for c in cut), (top.bram_18k - sum(c.bram_18k for c in cut)) / 2)
    return layers, rest, total


def estimate_fixture(project: Path, *, exact: bool = False) -> Estimate:
    """l1ml's hls4ml estimate of the fixture's network at its clock and reuse factor: typed as hls4ml built
    the fixture (every value ap_fixed<16,6>), or with ``exact`` as ``l1ml compile`` types the QONNX model."""
    from l1ml.estimate.csynth_compare import project_estimate

    return project_estimate(project, CLOCK_NS, exact=exact)


def estimate_figures(est: Estimate) -> tuple[dict[str, Figures], Figures]:
    """Per hls4ml layer and in total, from an estimate of the fixture (every layer has II 1 at reuse 1)."""
    layers = {hls4ml_layer(r.onnx): Figures(r.latency_cycles, est.ii_cycles, r.res.lut, r.res.ff, r.res.dsp,
                                            r.res.bram) for r in est.layers}
    t = est.total
    return layers, Figures(est.latency_cycles, est.ii_cycles, t.lut, t.ff, t.dsp, t.bram)


def error(est: float, ref: float) -> float | None:
    """Relative error of the estimate in per cent; None where the reference is 0 (compared exactly)."""
    return None if ref == 0 else 100.0 * (est - ref) / ref
