"""l1ml: quantized neural networks into bit-exact Level-1 trigger firmware."""

from __future__ import annotations

__version__ = "0.1.0"


def emulate(model, x):
    """Bit-exact emulation of a QONNX/IR model on float inputs (see ``l1ml.backends.emulate``)."""
    from l1ml.backends.emulate import emulate as _emulate

    return _emulate(model, x)
