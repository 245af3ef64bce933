"""A thin Verilog text emitter: lines, indentation, identifiers and sized literals.

Every generated file goes through ``Emitter`` so that layout and literal spelling live in one place
and the output is byte-identical for the same input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

#: Verilog-2005 / SystemVerilog keywords a tensor name could collide with (after sanitising).
KEYWORDS = frozenset("""
always and assign automatic begin buf case casex casez cell config deassign default defparam design
disable edge else end endcase endconfig endfunction endgenerate endmodule endprimitive endspecify
endtable endtask event for force forever fork function generate genvar highz0 highz1 if ifnone
incdir include initial inout input instance integer join large liblist library localparam macromodule
medium module nand negedge nmos nor noshowcancelled not notif0 notif1 or output parameter pmos posedge
primitive pull0 pull1 pulldown pullup pulsestyle_ondetect pulsestyle_onevent rcmos real realtime reg
release repeat rnmos rpmos rtran rtranif0 rtranif1 scalared showcancelled signed small specify
specparam strong0 strong1 supply0 supply1 table task time tran tranif0 tranif1 tri tri0 tri1 triand
trior trireg unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor logic bit byte
int shortint longint string type var
""".split())


def ident(name: str) -> str:
    """A legal, readable Verilog identifier for an IR or ONNX name (``/fc1/MatMul`` -> ``fc1_MatMul``)."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_")
    s = re.sub(r"__+", "_", s) or "x"
    if s[0].isdigit():
        s = "n" + s
    return s + "_" if s in KEYWORDS else s


class Names:
    """Hands out unique identifiers within one module, derived from readable bases."""

    def __init__(self, reserved: Iterable[str] = ()):
        self._taken: set[str] = set(reserved)

    def reserve(self, name: str) -> None:
        """Claim an exact name (a port) before any other is handed out."""
        if name in self._taken:
            raise ValueError(f"identifier '{name}' is already taken")
        self._taken.add(name)

    def fresh(self, base: str) -> str:
        base = ident(base)
        name, k = base, 1
        while name in self._taken:
            name = f"{base}_{k}"
            k += 1
        self._taken.add(name)
        return name


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
        self.lines.append(("    " * self._level + text) if text else "")

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
