"""FPGA parts used in Level-1 trigger boards, with their resources from the vendor data sheets.

Counts are the device totals of AMD/Xilinx DS890 ("UltraScale Architecture and Product Data Sheet:
Overview"), feature-summary tables of Kintex UltraScale+ and Virtex UltraScale+ (see
docs/estimation.md). BRAM counts 36 Kb blocks, URAM 288 Kb blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

from l1ml.errors import L1MLError
from l1ml.names import PART_GRAMMAR, comment_text

#: DSP48E2 multiplier port widths (signed): A:B = 27 x 18 (UG579); the DSP slices of every UltraScale+ part
DSP_A_BITS, DSP_B_BITS = 27, 18


@dataclass(frozen=True)
class Part:
    """One device and what it offers."""

    device: str  # the prefix a full part string starts with, e.g. "xcvu13p"
    family: str
    lut: int
    ff: int
    dsp: int
    bram: int  # 36 Kb block RAMs
    uram: int  # 288 Kb UltraRAMs
    note: str = ""

    def capacity(self) -> dict[str, int]:
        """Resources by the names the estimates use."""
        return {"LUT": self.lut, "FF": self.ff, "DSP": self.dsp, "BRAM": self.bram, "URAM": self.uram}


PARTS: dict[str, Part] = {p.device: p for p in (
    Part("xcku15p", "Kintex UltraScale+", 522_720, 1_045_440, 1_968, 984, 128,
         "CMS L1 track trigger / Phase-2 demonstrator boards"),
    Part("xcvu7p", "Virtex UltraScale+", 788_160, 1_576_320, 4_560, 1_440, 640),
    Part("xcvu9p", "Virtex UltraScale+", 1_182_240, 2_364_480, 6_840, 2_160, 960,
         "CMS Phase-2 Serenity/APx prototypes, ATLAS gFEX-class boards, VCU118"),
    Part("xcvu13p", "Virtex UltraScale+", 1_728_000, 3_456_000, 12_288, 2_688, 1_280,
         "CMS Phase-2 L1 trigger production boards (APx, Serenity)"),
    Part("xcvu37p", "Virtex UltraScale+ HBM", 1_303_680, 2_607_360, 9_024, 2_016, 960,
         "with 8 GB HBM2; Alveo U280-class"),
)}


def get_part(name: str) -> Part:
    """The part for a device name or a full part string (``xcvu13p-flga2577-2-e`` -> ``xcvu13p``).
    The string must match ``l1ml.names.PART_GRAMMAR``: it is written into the hls4ml project's tcl."""
    known = ", ".join(sorted(PARTS))
    if not isinstance(name, str) or not PART_GRAMMAR.fullmatch(name):
        raise L1MLError(f"FPGA part {comment_text(name)} is not a part name (letters, digits and '-', such as "
                        f"xcvu13p-flga2577-2-e); l1ml knows the resources of {known}")
    key = name.lower()
    for device in sorted(PARTS, key=len, reverse=True):
        if key == device or key.startswith(device + "-"):
            return PARTS[device]
    raise L1MLError(f"unknown FPGA part '{name}'; l1ml knows the resources of {known} (a full part string "
                    "such as xcvu13p-flga2577-2-e is matched by its device prefix). Ask for a part to be added "
                    "with its data-sheet figures.")
