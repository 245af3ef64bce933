"""The interface of a Vitis/Vivado HLS top module, read from its Verilog (and checked against the csynth
XML interface table when one is there), mapped onto the C++ top function's arguments.

hls4ml's ``io_parallel`` projects produce one block protocol, ``ap_ctrl_hs`` (ap_start, ap_done, ap_idle,
ap_ready; or ``ap_ctrl_none`` without them), and data ports that are either ``ap_vld`` (a ``<port>_ap_vld``
beside each data port) or ``ap_none``. An array argument is either packed into one bus (ARRAY_RESHAPE:
element 0 in the low bits) or split into one port per element (ARRAY_PARTITION: ``<arg>_<k>``). Vivado HLS
(2019-2020) adds a ``_V`` suffix to ap_fixed ports (``fc1_input_V``, ``layer13_out_0_V``); Vitis HLS does
not. Nothing here is guessed from conventions alone: every port name, direction and width comes from the
RTL, and a port that maps onto no argument is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from l1ml.errors import L1MLError


class Protocol(Enum):
    AP_VLD = "ap_vld"
    AP_NONE = "ap_none"


@dataclass(frozen=True)
class RTLPort:
    name: str
    direction: str  # "in" or "out"
    width: int


@dataclass(frozen=True)
class Control:
    """The block-level control ports (``start`` None: ap_ctrl_none, the block runs every cycle)."""

    clk: str
    rst: str | None
    rst_active_low: bool
    start: str | None = None
    done: str | None = None
    idle: str | None = None
    ready: str | None = None
    ce: str | None = None  # clock enable, held high

    @property
    def protocol(self) -> str:
        return "ap_ctrl_hs" if self.start else "ap_ctrl_none"


@dataclass(frozen=True)
class DataPort:
    """One RTL data port carrying ``elements`` consecutive elements of its argument from ``first``."""

    name: str
    width: int
    first: int
    elements: int
    vld: str | None  # the port's ap_vld, if any


@dataclass(frozen=True)
class ArgPorts:
    """A C++ argument of the top function and the RTL ports that carry it."""

    arg: str
    direction: str
    elements: int
    element_width: int
    protocol: Protocol
    ports: tuple[DataPort, ...]

    @property
    def layout(self) -> str:
        return "packed bus" if len(self.ports) == 1 and self.elements > 1 else \
            ("one port per element" if self.elements > 1 else "scalar")


@dataclass(frozen=True)
class TopInterface:
    top: str
    control: Control
    inputs: tuple[ArgPorts, ...]
    outputs: tuple[ArgPorts, ...]


_CONTROL = {"ap_clk", "ap_rst", "ap_rst_n", "ap_start", "ap_done", "ap_idle", "ap_ready", "ap_ce"}
_TOKEN = re.compile(r"\[[^\]]*\]|[A-Za-z_][\w$]*|[;,()#=]")


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"\(\*.*?\*\)", " ", text, flags=re.S)  # attributes
    return re.sub(r"//[^\n]*", " ", text)


def _range_width(rng: str, where: str) -> int:
    m = re.fullmatch(r"\[\s*(\d+)\s*:\s*(\d+)\s*\]", rng)
    if not m:
        raise L1MLError(f"{where}: port range {rng} is not numeric; l1ml reads HLS-generated tops, whose "
                        "port ranges are plain numbers")
    return abs(int(m.group(1)) - int(m.group(2))) + 1


def parse_verilog_ports(path: Path, top: str) -> list[RTLPort]:
    """The ports of module ``top`` in ``path``, in declaration order (non-ANSI and ANSI headers)."""
    text = _strip_comments(Path(path).read_text(errors="replace"))
    m = re.search(rf"\bmodule\s+{re.escape(top)}\b(.*?)\bendmodule\b", text, flags=re.S)
    if not m:
        raise L1MLError(f"{path}: no module '{top}' in it; the HLS top module is named after the project")
    tokens = _TOKEN.findall(m.group(1))
    ports: dict[str, RTLPort] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok not in ("input", "output", "inout"):
            i += 1
            continue
        if tok == "inout":
            raise L1MLError(f"{path}: module '{top}' has an inout port; hls4ml io_parallel tops have none")
        direction, width = ("in" if tok == "input" else "out"), 1
        i += 1
        while i < len(tokens) and tokens[i] in ("wire", "reg", "logic", "signed", "unsigned"):
            i += 1
        if i < len(tokens) and tokens[i].startswith("["):
            width = _range_width(tokens[i], f"{path}: module '{top}'")
            i += 1
        while i < len(tokens) and tokens[i] not in (";", ")", "input", "output", "inout"):
            if tokens[i] != ",":
                ports[tokens[i]] = RTLPort(tokens[i], direction, width)
            i += 1
    if not ports:
        raise L1MLError(f"{path}: module '{top}' declares no ports")
    return list(ports.values())


def csynth_ports(xml_path: Path) -> dict[str, tuple[str, int, str]]:
    """The csynth report's interface table: port name -> (direction, bits, IOProtocol)."""
    from l1ml.estimate.csynth import read_ports

    return {p.name: (p.direction, p.bits, p.protocol) for p in read_ports(xml_path)}


def check_against_csynth(ports: list[RTLPort], table: dict[str, tuple[str, int, str]], where: str) -> None:
    """The RTL and the report must describe the same interface (a stale report would mislead)."""
    have = {p.name: (p.direction, p.width) for p in ports}
    want = {n: (d, b) for n, (d, b, _) in table.items()}
    if have != want:
        diff = sorted(set(have.items()) ^ set(want.items()))[:4]
        raise L1MLError(f"{where}: the Verilog top and the csynth report's interface table disagree "
                        f"(e.g. {diff}); re-run synthesis so that both come from the same run")


def read_control(ports: list[RTLPort], where: str) -> Control:
    names = {p.name for p in ports}
    if "ap_clk" not in names:
        raise L1MLError(f"{where}: no ap_clk port; not an HLS-generated top module")
    unsupported = sorted(n for n in names if n.endswith(("_ap_ack", "_ap_hs")) or n.startswith("s_axi_")
                         or n.endswith(("_TVALID", "_TDATA")) or n == "ap_return")
    if unsupported:
        raise L1MLError(f"{where}: ports {unsupported[:4]} use a protocol l1ml does not drive (ap_hs, AXI, "
                        "a return value); l1ml handles the io_parallel tops of hls4ml: ap_ctrl_hs/ap_ctrl_none "
                        "with ap_vld or ap_none data ports")
    has = {n for n in _CONTROL if n in names}
    if "ap_start" in has and not {"ap_done", "ap_ready"} <= has:
        raise L1MLError(f"{where}: ap_start without ap_done/ap_ready; not an ap_ctrl_hs block")
    rst = "ap_rst" if "ap_rst" in has else "ap_rst_n" if "ap_rst_n" in has else None
    return Control("ap_clk", rst, rst == "ap_rst_n", *(n if n in has else None for n in
                                                       ("ap_start", "ap_done", "ap_idle", "ap_ready", "ap_ce")))


def port_owner(port: str, args: list[str]) -> tuple[str, int | None] | None:
    """The argument a data port carries and its element index (None: the whole argument, one bus):
    ``<arg>``, ``<arg>_V``, ``<arg>_<k>``, ``<arg>_<k>_V`` or ``<arg>_V_<k>``. The longest argument name
    is tried first, so that port ``x_1`` of an argument ``x_1`` is not read as element 1 of ``x``."""
    for a in sorted(args, key=len, reverse=True):
        m = re.fullmatch(rf"{re.escape(a)}(?:_V)?(?:_(\d+))?(?:_V)?", port)
        if m:
            return a, int(m.group(1)) if m.group(1) is not None else None
    return None


def arg_directions(ports: list[RTLPort], args: list[str], where: str) -> tuple[list[str], list[str]]:
    """``args`` split into (inputs, outputs) by the direction of their RTL ports, in the given order."""
    dirs: dict[str, set[str]] = {a: set() for a in args}
    for p in ports:
        if p.name not in _CONTROL and not p.name.endswith("_ap_vld"):
            own = port_owner(p.name, args)
            if own:
                dirs[own[0]].add(p.direction)
    for a, d in dirs.items():
        if len(d) != 1:
            raise L1MLError(f"{where}: argument '{a}' of the top function has "
                            f"{'no port' if not d else 'ports of both directions'} in the RTL")
    return [a for a in args if dirs[a] == {"in"}], [a for a in args if dirs[a] == {"out"}]


def map_ports(ports: list[RTLPort], args: list[tuple[str, int, int | None]], top: str, where: str,
              protocols: dict[str, str] | None = None) -> TopInterface:
    """Assign the RTL data ports to the C++ arguments.

    ``args``: (name, elements, element width or None) per argument in the top function's order; a width
    of None is taken from the ports (a packed bus divides evenly by the element count). ``protocols``:
    the csynth table's IOProtocol per port, when there is one (otherwise a port has ap_vld exactly when
    a ``<port>_ap_vld`` port exists). Raises naming the ports that fit no argument."""
    control = read_control(ports, where)
    by_name = {p.name: p for p in ports}
    data = [p for p in ports if p.name not in _CONTROL and not p.name.endswith("_ap_vld")]
    claimed: dict[str, list[tuple[int | None, RTLPort]]] = {a: [] for a, _, _ in args}
    for p in data:
        own = port_owner(p.name, list(claimed))
        if own:
            claimed[own[0]].append((own[1], p))
        else:
            raise L1MLError(f"{where}: port '{p.name}' of '{top}' belongs to no argument of the C++ top "
                            f"function ({', '.join(a for a, _, _ in args)}); is the RTL from this project?")
    inputs, outputs = [], []
    for a, n, w in args:
        got = sorted(claimed[a], key=lambda t: -1 if t[0] is None else t[0])
        if not got:
            raise L1MLError(f"{where}: argument '{a}' of the C++ top function has no port in '{top}'")
        dirs = {p.direction for _, p in got}
        if len(dirs) != 1:
            raise L1MLError(f"{where}: the ports of '{a}' have mixed directions")
        if len(got) == 1 and got[0][0] is None or (len(got) == 1 and n == 1):
            p = got[0][1]
            if w is None:
                if p.width % n:
                    raise L1MLError(f"{where}: port '{p.name}' ({p.width} bits) does not hold {n} equal elements")
                w = p.width // n
            if p.width != n * w:
                raise L1MLError(f"{where}: port '{p.name}' is {p.width} bits, argument '{a}' is {n} x {w} bits; "
                                "the RTL was synthesised from another version of the project")
            dports = [DataPort(p.name, p.width, 0, n, None)]
        else:
            idx = [k for k, _ in got]
            if idx != list(range(n)):
                raise L1MLError(f"{where}: argument '{a}' has {n} elements but ports "
                                f"{[p.name for _, p in got][:6]}; l1ml handles one port per element or one "
                                "packed bus (complete partition or reshape)")
            widths = {p.width for _, p in got}
            if len(widths) != 1 or (w is not None and widths != {w}):
                raise L1MLError(f"{where}: ports of '{a}' are {sorted(widths)} bits, the element type is {w}")
            w = widths.pop()
            dports = [DataPort(p.name, p.width, k, 1, None) for k, p in got]
        vlds = []
        for dp in dports:
            v = f"{dp.name}_ap_vld"
            proto = (protocols or {}).get(dp.name)
            if proto not in (None, "", "ap_vld", "ap_none"):
                raise L1MLError(f"{where}: port '{dp.name}' uses {proto}; l1ml drives ap_vld and ap_none data ports")
            if v in by_name and proto == "ap_none":
                raise L1MLError(f"{where}: the csynth report calls '{dp.name}' ap_none but it has {v}")
            vlds.append(v if v in by_name else None)
        if len(set(map(bool, vlds))) != 1:
            raise L1MLError(f"{where}: only some ports of '{a}' have an ap_vld")
        dports = [DataPort(d.name, d.width, d.first, d.elements, v) for d, v in zip(dports, vlds, strict=True)]
        ap = ArgPorts(a, dirs.pop(), n, w, Protocol.AP_VLD if vlds[0] else Protocol.AP_NONE, tuple(dports))
        (inputs if ap.direction == "in" else outputs).append(ap)
    known = {d.name for ap in inputs + outputs for d in ap.ports} | {d.vld for ap in inputs + outputs
                                                                      for d in ap.ports if d.vld}
    stray = [p.name for p in ports if p.name not in known and p.name not in _CONTROL]
    if stray:
        raise L1MLError(f"{where}: ports {stray[:4]} of '{top}' are not the ap_vld of any data port")
    if not inputs or not outputs:
        raise L1MLError(f"{where}: '{top}' needs input and output data ports; found "
                        f"{[a.arg for a in inputs]} -> {[a.arg for a in outputs]}")
    if control.start is None and not any(a.protocol is Protocol.AP_VLD for a in outputs):
        raise L1MLError(f"{where}: '{top}' has neither ap_start/ap_done nor output ap_vld: nothing says when "
                        "an output is valid")
    return TopInterface(top, control, tuple(inputs), tuple(outputs))


def prototype_args(header: Path, top: str) -> list[tuple[str, str, str | None]]:
    """The top function's parameters in ``header``: (declaration without ``&``/``const``, name, array
    length expression or None for a scalar), in order."""
    text = _strip_comments(Path(header).read_text(errors="replace"))
    m = re.search(rf"\bvoid\s+{re.escape(top)}\s*\((.*?)\)\s*;", text, flags=re.S)
    if not m:
        raise L1MLError(f"{header}: no prototype 'void {top}(...)'; is this an hls4ml project's top header?")
    params, depth, cur = [], 0, ""
    for ch in m.group(1):
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "," and depth == 0:
            params.append(cur)
            cur = ""
        else:
            cur += ch
    params.append(cur)
    out = []
    for p in (" ".join(p.split()) for p in params if p.strip()):
        pm = re.fullmatch(r"(?:const\s+)?(.+?)\s*&?\s*([A-Za-z_]\w*)\s*(?:\[\s*([^\]]+?)\s*\])?", p)
        if not pm or "[" in (pm.group(3) or ""):
            raise L1MLError(f"{header}: cannot read parameter '{p}' of '{top}'; l1ml handles scalars and "
                            "one-dimensional arrays (io_parallel)")
        typ, name, dim = pm.group(1).replace("&", "").strip(), pm.group(2), pm.group(3)
        out.append((f"{typ} {name}" + (f"[{dim}]" if dim else ""), name, dim))
    return out
