"""The catalogue of reviewed Verilog primitives in ``firmware_templates/verilog`` and their encodings.

The generator only instantiates these modules; a design's output directory gets copies of the ones
it uses, so that it is self-contained.
"""

from __future__ import annotations

import shutil
from enum import Enum
from pathlib import Path

from l1ml.backends.templates import templates_root
from l1ml.ir.types import Rounding


class Primitive(Enum):
    """One reviewed module; the value is its module (and file) name."""

    REQUANT = "l1ml_requant"
    RELU = "l1ml_relu"
    ADD = "l1ml_add"
    SHIFT_ADD = "l1ml_shift_add"
    MULT_CONST = "l1ml_mult_const"
    ADDER_TREE = "l1ml_adder_tree"
    DELAY = "l1ml_delay"
    VALID_DELAY = "l1ml_valid_delay"
    REUSE_CTRL = "l1ml_reuse_ctrl"
    HOLD = "l1ml_hold"
    MUX = "l1ml_mux"
    ROM_MULT = "l1ml_rom_mult"
    ACCUM = "l1ml_accum"
    MAX_TREE = "l1ml_max_tree"
    THRESHOLDS = "l1ml_thresholds"  # a Requant's comparators (form "thresholds")
    ADD_SHIFT_CLIP = "l1ml_add_shift_clip"  # a Requant's tail after its product (form "multiply")
    SUB = "l1ml_sub"
    NEGATE = "l1ml_negate"
    MINMAX = "l1ml_minmax"
    CLIP = "l1ml_clip"
    MULT = "l1ml_mult"
    ADDSUB = "l1ml_addsub"  # one adder of a constant-matrix multiplication (cmm.py)
    TABLE_MUX = "l1ml_table_mux"  # a GNN lane's input rows, picked by a step table (rows.py)
    STREAM_SUM = "l1ml_stream_sum"  # a GNN SegmentSum accumulated over the steps (segsum.py)

    @property
    def filename(self) -> str:
        return f"{self.value}.v"


#: Width of the REG_MASK parameter of l1ml_adder_tree and l1ml_max_tree (``parameter [31:0] REG_MASK``):
#: bit l registers tree level l.
REG_MASK_W = 32

#: Width of one field of l1ml_shift_add's SHIFTS parameter (``parameter [8*N_TERMS-1:0] SHIFTS``): one
#: 8-bit shift per term, term 0 in the low byte.
SHIFT_FIELD_W = 8

#: Primitives that instantiate other primitives.
DEPENDS: dict[Primitive, tuple[Primitive, ...]] = {
    Primitive.ROM_MULT: (Primitive.MUX,),
    Primitive.STREAM_SUM: (Primitive.ADDER_TREE, Primitive.DELAY),
}

#: The ROUNDING parameter of l1ml_requant (documented in its header).
ROUNDING_CODE: dict[Rounding, int] = {
    Rounding.TRUNC: 0,
    Rounding.HALF_EVEN: 1,
    Rounding.TRUNC_ZERO: 2,
    Rounding.HALF_AWAY: 3,
    Rounding.HALF_ZERO: 4,
}


def template_dir() -> Path:
    """Where the primitives live: ``verilog/`` of the firmware templates (``templates_root``)."""
    return templates_root() / "verilog"


def with_dependencies(used: set[Primitive]) -> list[Primitive]:
    """The used primitives plus those they instantiate, in a fixed (catalogue) order."""
    need = set(used)
    for p in list(used):
        need.update(DEPENDS.get(p, ()))
    return [p for p in Primitive if p in need]


def copy_primitives(used: set[Primitive], outdir: Path) -> list[str]:
    """Copy the used primitive files into ``outdir``; returns their file names in catalogue order."""
    src = template_dir()
    names = []
    for p in with_dependencies(used):
        shutil.copyfile(src / p.filename, outdir / p.filename)
        names.append(p.filename)
    return names


def all_primitive_files() -> list[Path]:
    """Every primitive file, for linting and for the primitive testbenches."""
    return [template_dir() / p.filename for p in Primitive]
