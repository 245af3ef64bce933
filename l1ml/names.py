"""The one sanitiser for names that reach generated code: identifiers and comment text.

ONNX node and tensor names are arbitrary strings (newlines, quotes, ``*/``, unicode). Every name
that l1ml writes into Verilog, C++, tcl, yaml or a shell script as an identifier comes from
``identifier`` (or a ``Namespace`` built on it); the original name appears only inside a comment,
rendered by ``comment_text`` so that it cannot end the comment early.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

#: Verilog-2005 and SystemVerilog keywords.
VERILOG_KEYWORDS = frozenset("""
accept_on alias always always_comb always_ff always_latch and assert assign assume automatic before begin
bind bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle checker class clocking cmos
config const constraint context continue cover covergroup coverpoint cross deassign default defparam design
disable dist do edge else end endcase endchecker endclass endclocking endconfig endfunction endgenerate
endgroup endinterface endmodule endpackage endprimitive endprogram endproperty endspecify endsequence
endtable endtask enum event eventually expect export extends extern final first_match for force foreach
forever fork forkjoin function generate genvar global highz0 highz1 if iff ifnone ignore_bins illegal_bins
implements implies import incdir include initial inout input inside instance int integer interconnect
interface intersect join join_any join_none large let liblist library local localparam logic longint
macromodule matches medium modport module nand negedge nettype new nexttime nmos nor noshowcancelled not
notif0 notif1 null or output package packed parameter pmos posedge primitive priority program property
protected pull0 pull1 pulldown pullup pulsestyle_ondetect pulsestyle_onevent pure rand randc randcase
randsequence rcmos real realtime ref reg reject_on release repeat restrict return rnmos rpmos rtran
rtranif0 rtranif1 s_always s_eventually s_nexttime s_until s_until_with scalared sequence shortint
shortreal showcancelled signed small soft solve specify specparam static string strong strong0 strong1
struct super supply0 supply1 sync_accept_on sync_reject_on table tagged task this throughout time
timeprecision timeunit tran tranif0 tranif1 tri tri0 tri1 triand trior trireg type typedef union unique
unique0 unsigned until until_with untyped use uwire var vectored virtual void wait wait_order wand weak
weak0 weak1 while wildcard wire with within wor xnor xor
""".split())

#: C++20 keywords and alternative tokens, plus names a generated hls4ml project defines itself.
CPP_KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t
class compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield
decltype default delete do double dynamic_cast else enum explicit export extern false float for friend
goto if inline int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private
protected public register reinterpret_cast requires return short signed sizeof static static_assert
static_cast struct switch template this thread_local throw true try typedef typeid typename union
unsigned using virtual void volatile wchar_t while xor xor_eq
main std nnet hls ap_fixed ap_ufixed ap_int ap_uint input_t result_t model_default_t
""".split())

KEYWORDS = VERILOG_KEYWORDS | CPP_KEYWORDS

#: Longest identifier handed out; longer names keep a readable head and a hash of the whole name.
MAX_IDENT = 48

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_identifier(s: str) -> bool:
    """True for a plain ASCII identifier that is not a keyword of Verilog, SystemVerilog or C++ and
    has no double underscore or leading underscore (reserved in C++).

    >>> is_identifier("fc1_MatMul"), is_identifier("wire"), is_identifier("1x"), is_identifier("a__b")
    (True, False, False, False)
    """
    return _IDENT.fullmatch(s) is not None and s not in KEYWORDS and "__" not in s and not s.startswith("_")


def identifier(name: str) -> str:
    """A valid Verilog and C++ identifier derived deterministically from ``name``.

    Runs of other characters become one ``_``; a leading digit gets an ``n`` in front, a keyword a
    ``_`` behind; a name longer than ``MAX_IDENT`` keeps its head plus 8 hex digits of its SHA-256.
    Different names can map to the same identifier: ``Namespace.fresh`` makes them unique.

    >>> identifier("/fc1/MatMul"), identifier("module"), identifier("2nd layer"), identifier("\\n")
    ('fc1_MatMul', 'module_', 'n2nd_layer', 'x')
    """
    s = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "x"
    if s[0].isdigit():
        s = "n" + s
    if len(s) > MAX_IDENT:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        s = s[:MAX_IDENT].rstrip("_") + "_" + digest
    if s in KEYWORDS:
        s += "_"
    return s


class Namespace:
    """Hands out unique identifiers within one scope (a module, a C++ project), in call order.

    The same sequence of requests always yields the same identifiers; a collision after sanitising
    is resolved by the first free suffix ``_1``, ``_2``, ...
    """

    def __init__(self, reserved: Iterable[str] = ()):
        self._taken: set[str] = set(reserved)

    def __contains__(self, name: str) -> bool:
        return name in self._taken

    def reserve(self, name: str) -> None:
        """Claim an exact identifier (a port, a generated name) before any other is handed out."""
        if not is_identifier(name) and name not in KEYWORDS:
            raise ValueError(f"'{name}' is not an identifier")
        if name in self._taken:
            raise ValueError(f"identifier '{name}' is already taken")
        self._taken.add(name)

    def fresh(self, base: str) -> str:
        """A new identifier derived from ``base`` (any string)."""
        base = identifier(base)
        name, k = base, 1
        while name in self._taken:
            name = f"{base}_{k}"
            k += 1
        self._taken.add(name)
        return name


_KEEP = frozenset(chr(c) for c in range(0x20, 0x7F)) - set("\\'*?")


def comment_text(name: object) -> str:
    """``name`` quoted and escaped for any comment of Verilog, C++, tcl, yaml or shell.

    Printable ASCII stays (but for ``\\``, ``'``, ``*`` and ``?``); everything else, including
    newlines, control characters and non-ASCII, becomes ``\\xNN``/``\\uNNNN``/``\\UNNNNNNNN``. So
    the text has no line break, no ``*/`` or ``/*`` (``*`` is escaped), no ``??/`` trigraph, and it
    ends with a quote, never with a backslash that would continue a ``//`` comment.

    >>> print(comment_text("fc1\\nmodule x; endmodule */"))
    'fc1\\x0amodule x; endmodule \\x2a/'
    """
    out = []
    for c in str(name):
        if c in _KEEP:
            out.append(c)
        elif ord(c) < 0x100:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return "'" + "".join(out) + "'"


def markdown_text(name: object) -> str:
    """``name`` for a Markdown report: ``comment_text`` with the characters Markdown acts on in a table
    cell or code span (``|``, backtick, ``<``, ``>``, ``[``, ``]``) escaped as well.

    >>> print(markdown_text("a|b`<x>"))
    'a\\x7cb\\x60\\x3cx\\x3e'
    """
    text = comment_text(name)
    return "'" + "".join(f"\\x{ord(c):02x}" if c in "|`<>[]" else c for c in text[1:-1]) + "'"


def check_line(text: str) -> str:
    """``text`` if it holds no line break or other control character; a generator calls this on
    every line it writes, so that a name that escaped sanitising fails loudly instead of injecting."""
    bad = [c for c in text if (ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F or c in "\u0085\u2028\u2029"]
    if bad:
        raise ValueError(f"generated line holds control character(s) {bad!r}: {text[:80]!r}")
    return text


# ---- option values written into generated scripts (project.tcl, build_prj.tcl, build_lib.sh, yaml) ----

HLS_BACKENDS = ("Vitis", "Vivado")
HLS_STRATEGIES = ("Latency", "Resource", "distributed_arithmetic")  # the last needs da4ml (backends/hls4ml_da.py)
#: A part string: letters, digits and '-' (the capital L of low-power speed grades, xcvu9p-flga2104-2L-e).
PART_GRAMMAR = re.compile(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*")


def check_part(part: object) -> str:
    """``part`` if it matches ``PART_GRAMMAR`` and l1ml knows its device (``estimate.parts.get_part``,
    which applies the grammar itself); otherwise an ``L1MLError`` naming the known devices."""
    from l1ml.estimate.parts import get_part

    get_part(part)
    return part


def check_script_options(part: object, clock_ns: object, hls_backend: object, strategy: object,
                         project: object) -> None:
    """Refuse (``L1MLError``, exit 2 from the CLI) any option value that does not match its grammar:
    a known part, a finite positive clock period, a backend and strategy from fixed sets, a project name
    that is an identifier. These values are written verbatim into tcl, shell and C++."""
    import math

    from l1ml.errors import L1MLError

    check_part(part)
    if isinstance(clock_ns, bool) or not isinstance(clock_ns, int | float) or not (
            math.isfinite(clock_ns) and clock_ns > 0):
        raise L1MLError(f"clock period {comment_text(clock_ns)} ns is not a finite positive number of nanoseconds")
    if hls_backend not in HLS_BACKENDS:
        raise L1MLError(f"unknown hls backend {comment_text(hls_backend)}; choose {' or '.join(HLS_BACKENDS)}")
    if strategy not in HLS_STRATEGIES:
        raise L1MLError(f"unknown hls4ml strategy {comment_text(strategy)}; choose {', '.join(HLS_STRATEGIES)}")
    if not isinstance(project, str) or not is_identifier(project) or len(project) > MAX_IDENT:
        raise L1MLError(f"project name {comment_text(project)} is not an identifier (letters, digits and single "
                        f"underscores, not starting with a digit, not a C++ or Verilog keyword, at most "
                        f"{MAX_IDENT} characters)")
