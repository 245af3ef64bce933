"""Synthesizable Verilog from the typed IR: ``write_rtl(graph, outdir)``.

The design is fully parallel and pipelined by default (one input per clock, II = 1) and built only
from the reviewed primitives in ``firmware_templates/verilog``. Ports of the top module:

    clk, rst (synchronous, active high; clears the valid pipeline only)
    in_valid, in_<input>    one packed bus per model input: element k (row-major) at bits [W*k +: W]
    out_valid, out_<output> the same for each model output, all valid in the same cycle

``rtl.json`` records the ports with their fixed-point types, the latency in cycles and the II, so
that testbenches and the CLI never parse Verilog. Output is byte-identical for the same input.

Lint: the generated RTL passes ``verilator --lint-only -Wall``. The only waivers are
``UNUSEDSIGNAL`` in the primitives, each on a named ``unused_*`` wire with the reason beside it
(high bits a type guarantees to be sign copies, a clock a combinational variant does not need).
A GNN design (``rows``) adds one such wire per module for the rows no lane reads (idle lane slots,
rows no Gather reads, rows in no segment); the top module one per Slice and per Mul by constants with
zeros, for the elements they do not read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from l1ml.atomic import atomic_dir
from l1ml.backends.verilog.emitter import Emitter, Names
from l1ml.backends.verilog.pipeline import PipelineConfig
from l1ml.backends.verilog.primitives import Primitive, copy_primitives
from l1ml.backends.verilog.render import Bus, VerilogRenderer
from l1ml.backends.verilog.rows import RowsRenderer
from l1ml.backends.verilog.rows_plan import has_rows
from l1ml.errors import L1MLError
from l1ml.ir.graph import Graph
from l1ml.ir.types import FixedType
from l1ml.names import comment_text, is_identifier

RTL_FORMAT = "l1ml-rtl"
RTL_VERSION = 1


@dataclass(frozen=True)
class Port:
    """One data port of the top module and the tensor it carries."""

    port: str  # Verilog port name
    tensor: str  # IR tensor name
    shape: tuple[int, ...]
    type: dict  # FixedType.to_json()
    elements: int
    element_width: int

    @property
    def width(self) -> int:
        return self.elements * self.element_width


@dataclass(frozen=True)
class RTLDesign:
    """What ``write_rtl`` produced: the files, the ports and the timing facts (also in rtl.json)."""

    top: str
    files: tuple[str, ...]  # file names in outdir, dependencies first
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    latency_cycles: int
    ii: int
    reuse_factor: int
    clock_ns: float | None
    pipeline_stages: int | None

    def to_json(self) -> dict:
        d = asdict(self)
        d["files"] = list(self.files)
        for key in ("inputs", "outputs"):
            d[key] = [dict(p, shape=list(p["shape"])) for p in d[key]]
        return {"format": RTL_FORMAT, "version": RTL_VERSION, **d,
                "element_order": "row-major; element k at bits [W*k +: W] of its port",
                "handshake": "in_valid/out_valid; a new input at most every ii cycles; rst clears valid"}

    @classmethod
    def from_json(cls, d: dict) -> RTLDesign:
        if d.get("format") != RTL_FORMAT or d.get("version") != RTL_VERSION:
            raise L1MLError("rtl.json is not an l1ml RTL description of a version this l1ml reads; "
                            "regenerate the RTL with `l1ml compile`")

        def ports(items: list[dict]) -> tuple[Port, ...]:
            return tuple(Port(p["port"], p["tensor"], tuple(p["shape"]), p["type"], p["elements"],
                              p["element_width"]) for p in items)

        design = cls(d["top"], tuple(d["files"]), ports(d["inputs"]), ports(d["outputs"]), d["latency_cycles"],
                     d["ii"], d["reuse_factor"], d["clock_ns"], d["pipeline_stages"])
        # the top, file and port names go into Verilator, cocotb and yosys command lines and scripts
        names = [design.top, *(p.port for p in (*design.inputs, *design.outputs))]
        files = [f.removesuffix(".v") for f in design.files if f.endswith(".v")]
        if len(files) != len(design.files) or not all(map(is_identifier, names + files)):
            raise L1MLError("rtl.json names a top module, port or file that is not a plain identifier; "
                            "regenerate the RTL with `l1ml compile`")
        return design

    @classmethod
    def load(cls, rtl_dir: Path) -> RTLDesign:
        from l1ml.jsonfile import JSONFileError, read_json

        path = Path(rtl_dir) / "rtl.json"
        if not path.exists():
            raise L1MLError(f"{path}: no such file; generate the RTL first (l1ml compile, or write_rtl)")
        remedy = "regenerate the RTL (l1ml compile, or l1ml rtl write)"
        try:
            return cls.from_json(read_json(path, "RTL description", remedy))
        except (KeyError, TypeError, ValueError) as e:  # a key missing or a value of the wrong kind
            raise JSONFileError(f"{path}: not a complete RTL description ({type(e).__name__}: {e}); {remedy}") from e


def _ports(g: Graph, names: list[str], prefix: str, taken: Names) -> tuple[Port, ...]:
    out = []
    for name in names:
        t = g.t(name)
        out.append(Port(taken.fresh(f"{prefix}_{name}"), name, tuple(t.shape), t.type.to_json(), t.size,
                        t.type.width))
    return tuple(out)


def _top_module(r: VerilogRenderer, top: str, inputs: tuple[Port, ...], outputs: tuple[Port, ...],
                latency: int, ii: int) -> str:
    e = Emitter()
    e.comment(f"{top}: generated by l1ml from model {comment_text(r.graph.name)}. Do not edit; regenerate instead.")
    e.comment(f"latency {latency} cycle(s), one input every {ii} cycle(s); "
              "element k of a port at bits [W*k +: W]")
    e.line("`default_nettype none")
    e.line()
    e.line(f"module {top} (")
    with e.indent():
        decl = ["input  wire clk", "input  wire rst", "input  wire in_valid"]
        for p in inputs:
            decl.append(f"input  wire [{p.width - 1}:0] {p.port}")
        decl.append("output wire out_valid")
        for p in outputs:
            decl.append(f"output wire [{p.width - 1}:0] {p.port}")
        comments = [""] * 3 + [f"  // {comment_text(p.tensor)}: {p.elements} x {_type_str(p)}" for p in inputs] + [""] + \
                   [f"  // {comment_text(p.tensor)}: {p.elements} x {_type_str(p)}" for p in outputs]
        for k, (d, c) in enumerate(zip(decl, comments, strict=True)):
            e.line(d + ("," if k < len(decl) - 1 else "") + c)
    e.line(");")
    with e.indent():
        e.lines.extend(("    " + line) if line else "" for line in r.e.lines)
    e.line("endmodule")
    e.line()
    e.line("`default_nettype wire")
    return e.text()


def _type_str(p: Port) -> str:
    return str(FixedType.from_json(p.type))


def _module_file(text: str) -> str:
    return "`default_nettype none\n\n" + text + "\n`default_nettype wire\n"


def write_rtl(g: Graph, outdir: Path, *, reuse_factor: int = 1, clock_ns: float | None = None,
              pipeline_stages: int | None = None, top: str = "l1ml_top", force: bool = False) -> RTLDesign:
    """Write the model's Verilog, the primitives it uses, ``filelist.f`` and ``rtl.json`` to ``outdir``.

    ``reuse_factor`` R > 1 time-multiplexes each Dense multiplier over R weights (II = R); in a graph
    with Gather or SegmentSum (a GNN) it is the number of rows each lane computes per graph (II = R,
    see ``rows_plan``).
    ``clock_ns`` or ``pipeline_stages`` choose the pipeline registers (see ``pipeline``); by default
    a 5 ns target. The directory is written next to its destination and renamed into place.
    """
    if reuse_factor < 1:
        raise L1MLError(f"reuse_factor must be 1 or more, got {reuse_factor}")
    if not is_identifier(top) or top in {p.value for p in Primitive}:
        raise L1MLError(f"top module name '{top}' is not a free Verilog identifier; use letters, digits and "
                        "underscores, not a keyword or a primitive's name")
    g.verify(typed=True)
    cfg = PipelineConfig.from_options(clock_ns, pipeline_stages)
    r = (RowsRenderer if has_rows(g) else VerilogRenderer)(g, top, cfg, reuse_factor)
    port_names = Names(["clk", "rst", "in_valid", "out_valid"])
    inputs = _ports(g, g.inputs, "in", port_names)
    outputs = _ports(g, g.outputs, "out", port_names)
    for p in (*inputs, *outputs):
        r.names.reserve(p.port)
    env = r.run({p.tensor: Bus(p.port, g.t(p.tensor).type, p.elements, 0) for p in inputs})
    latency = r.connect_outputs(env, {p.tensor: p.port for p in outputs})

    with atomic_dir(outdir, "rtl write", force=force) as tmp:
        files = copy_primitives(r.used, tmp)
        for m in r.modules:
            (tmp / f"{m.name}.v").write_text(_module_file(m.text))
            files.append(f"{m.name}.v")
        (tmp / f"{top}.v").write_text(_top_module(r, top, inputs, outputs, latency, reuse_factor))
        files.append(f"{top}.v")
        design = RTLDesign(top, tuple(files), inputs, outputs, latency, reuse_factor, reuse_factor,
                           cfg.clock_ns, cfg.stages)
        (tmp / "filelist.f").write_text("".join(f"{f}\n" for f in files))
        (tmp / "rtl.json").write_text(json.dumps(design.to_json(), indent=1, sort_keys=True) + "\n")
        tmp.chmod(0o755)  # a temporary directory starts private; the RTL is meant to be shared
    return design


__all__ = ["Port", "RTLDesign", "write_rtl"]
