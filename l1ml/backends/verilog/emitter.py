"""A thin Verilog text emitter: lines, indentation, identifiers and sized literals.

Every generated file goes through ``Emitter`` so that layout and literal spelling live in one place
and the output is byte-identical for the same input. Identifiers and comment text come from
``l1ml.names``; a line holding a control character (an unsanitised name) is refused.

A reviewed primitive is instantiated only through ``Emitter.instance`` or ``Emitter.inline``, which take
its ``Primitive`` and record it in ``Emitter.used``: the set a module reports, from which the design's
``filelist.f`` is written, so a primitive cannot be instantiated without its file being copied.
Generated modules (a Dense layer's, a lane's) are instantiated with ``Emitter.submodule``.
tests/backends/test_emitter_primitives.py checks that the renderers name no primitive module otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from l1ml import names
from l1ml.backends.verilog.primitives import Primitive

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


_PRIMITIVE_NAMES = frozenset(p.value for p in Primitive)


def _connections(items: dict[str, object]) -> str:
    """Named parameters or ports on one line: ``.K(v), .K2(v2)``."""
    return ", ".join(f".{k}({v})" for k, v in items.items())


class Emitter:
    """Collects lines of text with a current indentation (four spaces per level), and the primitives
    instantiated in them (``used``)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.used: set[Primitive] = set()
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

    def instance(self, prim: Primitive, name: str, params: dict[str, object], ports: dict[str, str],
                 comment: str) -> None:
        """A primitive instance with named parameters and ports, one per line, preceded by its provenance
        comment; records ``prim`` in ``used``. (A primitive's module name, as tests/verify spells them, is
        read as its ``Primitive``; any other name is refused.)"""
        prim = Primitive(prim)
        self._instance(prim.value, name, params, ports, comment)
        self.used.add(prim)

    def inline(self, prim: Primitive, name: str, params: dict[str, object], ports: dict[str, str],
               comment: str) -> None:
        """A primitive instance on one line, its provenance comment at the end:
        ``l1ml_delay #(.W(8), .DEPTH(1)) u_x (.clk(clk), .d(a), .q(b));  // comment``; records ``prim``."""
        prim = Primitive(prim)
        head = f"{prim.value} #({_connections(params)})" if params else prim.value
        self.line(f"{head} {name} ({_connections(ports)});  // {comment}")
        self.used.add(prim)

    def submodule(self, module: str, name: str, params: dict[str, object], ports: dict[str, str],
                  comment: str) -> None:
        """An instance of a generated module (not a primitive: those go through ``instance``), laid out
        as ``instance`` lays out a primitive's."""
        if module in _PRIMITIVE_NAMES:
            raise ValueError(f"{module} is a primitive; instantiate it with Emitter.instance or Emitter.inline")
        self._instance(module, name, params, ports, comment)

    def _instance(self, module: str, name: str, params: dict[str, object], ports: dict[str, str],
                  comment: str) -> None:
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
