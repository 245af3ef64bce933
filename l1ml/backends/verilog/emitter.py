"""A thin Verilog text emitter: lines, indentation, identifiers and sized literals.

Every generated file goes through ``Emitter`` so that layout and literal spelling live in one place
and the output is byte-identical for the same input. Identifiers and comment text come from
``l1ml.names``; a line holding a control character (an unsanitised name) is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from l1ml import names

if TYPE_CHECKING:  # pragma: no cover
    from l1ml.ir.graph import Node

#: Names no generated identifier may take (Verilog, SystemVerilog and C++ keywords).
KEYWORDS = names.KEYWORDS

#: Unique identifiers within one module; every wire, instance and port name comes from one.
Names = names.Namespace


def ident(name: str) -> str:
    """A legal, readable Verilog identifier for an IR or ONNX name (``/fc1/MatMul`` -> ``fc1_MatMul``)."""
    return names.identifier(name)


def tag(node: Node) -> str:
    """The provenance comment of everything generated for ``node``: its l1ml and ONNX names, escaped."""
    return f"node: {names.comment_text(node.name)} (onnx: {names.comment_text(node.meta.get('onnx_name') or '-')})"


def literal(value: int, width: int) -> str:
    """A sized hexadecimal literal holding ``value`` modulo 2**width (two's complement for negatives).

    >>> literal(-3, 6), literal(5, 4), literal(0, 1)
    ("6'h3d", "4'h5", "1'h0")
    """
    if width < 1:
        raise ValueError(f"literal width must be positive, got {width}")
    return f"{width}'h{int(value) & ((1 << width) - 1):x}"


def packed(values: Iterable[int], width: int) -> str:
    """One literal packing ``values`` as ``width``-bit fields, the first value in the low bits.

    >>> packed([1, -1], 4)
    "8'hf1"
    """
    vals = list(values)
    word = 0
    for k, v in enumerate(vals):
        word |= (int(v) & ((1 << width) - 1)) << (k * width)
    return literal(word, width * len(vals))


class Emitter:
    """Collects lines of text with a current indentation (four spaces per level)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._level = 0

    def line(self, text: str = "") -> None:
        self.lines.append(("    " * self._level + names.check_line(text)) if text else "")

    def comment(self, text: str) -> None:
        for part in text.splitlines() or [""]:
            self.line(f"// {part}".rstrip())

    @contextmanager
    def indent(self) -> Iterator[None]:
        self._level += 1
        try:
            yield
        finally:
            self._level -= 1

    def instance(self, module: str, name: str, params: dict[str, object], ports: dict[str, str],
                 comment: str) -> None:
        """A module instance with named parameters and ports, preceded by its provenance comment."""
        self.comment(comment)
        if params:
            self.line(f"{module} #(")
            with self.indent():
                items = [f".{k}({v})" for k, v in params.items()]
                for k, item in enumerate(items):
                    self.line(item + ("," if k < len(items) - 1 else ""))
            self.line(f") {name} (")
        else:
            self.line(f"{module} {name} (")
        with self.indent():
            items = [f".{k}({v})" for k, v in ports.items()]
            for k, item in enumerate(items):
                self.line(item + ("," if k < len(items) - 1 else ""))
        self.line(");")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"
