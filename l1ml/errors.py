"""User-facing errors.

Anything a user can cause (a bad file, an op we cannot map, a float-scale quantizer) raises an
``L1MLError``; the CLI prints its message and exits with code 2, without a traceback. Bugs in l1ml
itself are ordinary exceptions and keep their traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from l1ml.ir.graph import Node


class L1MLError(Exception):
    """An error the user can fix; its message says how."""


class InputFileError(L1MLError):
    """A file the user gave is missing or is not what it should be."""


class NodeError(L1MLError):
    """Something about one graph node; the message names the node and its ONNX origin."""

    def __init__(self, node: Node | str, msg: str, onnx_name: str | None = None):
        if isinstance(node, str):
            label = f"node '{node}'"
            if onnx_name and onnx_name != node:
                label += f" (onnx '{onnx_name}')"
        else:
            label = node.describe()
        super().__init__(f"{label}: {msg}")


class UnsupportedOp(NodeError):
    """An op the frontend or a backend cannot map exactly."""

    def __init__(self, node: Node | str, op_type: str, supported: Iterable[str], where: str,
                 onnx_name: str | None = None):
        names = ", ".join(sorted(supported))
        super().__init__(
            node,
            f"op '{op_type}' is not supported by {where}. Supported: {names}. "
            "Remove it from the model or open an issue with the exported ONNX file.",
            onnx_name=onnx_name,
        )
