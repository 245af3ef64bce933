"""Where the firmware templates (reviewed Verilog primitives, the GNN's HLS header) are read from.

``firmware_templates/`` sits at the top of the repository and is shipped in the wheel as the package
``l1ml._firmware_templates`` (setup.py maps it). Both backends find it through ``templates_root``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from l1ml.errors import L1MLError

PACKAGE = "l1ml._firmware_templates"


def templates_root() -> Path:
    """The directory holding ``verilog/`` and ``hls/``.

    In a source checkout (run from it, or installed with ``pip install -e .``) that is the checkout's own
    ``firmware_templates/`` beside the imported ``l1ml`` package, so that a worktree never reads another
    checkout's templates; in an installed wheel it is the package data, found with ``importlib.resources``.
    """
    checkout = Path(__file__).resolve().parents[2] / "firmware_templates"
    if (checkout / "verilog").is_dir():
        return checkout
    try:
        root = resources.files(PACKAGE)
    except ModuleNotFoundError:
        root = None
    if root is not None and root.joinpath("verilog").is_dir():
        return Path(str(root))  # a wheel installs plain files, so the traversable is a directory
    raise L1MLError(f"the firmware templates are missing: neither {checkout} nor the package {PACKAGE} holds "
                    "them. Reinstall l1ml (pip install l1ml, or pip install -e . in a checkout).")
