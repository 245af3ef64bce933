"""l1ml: quantized neural networks into bit-exact Level-1 trigger firmware."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from l1ml.ir.graph import Graph

__version__ = "0.1.0"


def emulate(model: Graph | str | Path, x: np.ndarray | dict[str, np.ndarray],
            layout: str = "onnx") -> np.ndarray | tuple[np.ndarray, ...]:
    """Bit-exact emulation of a QONNX/IR model on float inputs, in the exported model's layout (NCHW for
    images, as ``l1ml emulate -i``); ``layout="ir"`` takes channels-last arrays. ±inf and out-of-range
    values saturate like the input quantizer; NaN is refused. See ``l1ml.backends.emulate.emulate``."""
    from l1ml.backends.emulate import emulate as _emulate

    return _emulate(model, x, layout=layout)
