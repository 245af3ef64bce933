"""Vitis/Vivado HLS C-synthesis reports, read into frozen dataclasses.

A csynth run writes ``<prj>/solution1/syn/report/``: ``csynth.xml`` (the top function, and in Vitis HLS
also the RTL instance hierarchy and every module's numbers) plus one ``<module>_csynth.xml`` per RTL
module. ``read_csynth(report_dir)`` reads them into a :class:`CsynthReport`: latency and interval (II)
in cycles, clock target and estimate, LUT/FF/DSP/BRAM_18K/URAM per module and in total, the part and
its available resources, and which RTL instance is which hls4ml layer.

hls4ml's own readers (``hls4ml.report.parse_vivado_report``) need the project's ``project.tcl`` and
``hls.app``, print instead of raising, read only the top module and return strings in loose dicts; the
numbers here come from the same XML elements (``Best-caseLatency``, ``Interval-min``, ``Resources``...),
read with ``xml.etree`` so that a missing or malformed report is a one-line error naming the file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from l1ml.errors import InputFileError

TOP_XML = "csynth.xml"
MODULE_XML_SUFFIX = "_csynth.xml"
REPORT_SUBDIR = Path("syn") / "report"
REMEDY = ("run C synthesis first (`l1ml build OUTDIR --synth`, or vitis_hls/vivado_hls on the hls4ml project's "
          "build_prj.tcl) and point at its <prj>/solution1/syn/report directory")
# Vivado HLS calls the DSP count DSP48E, Vitis HLS calls it DSP (hls4ml's reader renames it the same way)
_RESOURCE_TAGS = {"LUT": ("LUT",), "FF": ("FF",), "DSP": ("DSP", "DSP48E"), "BRAM_18K": ("BRAM_18K",),
                  "URAM": ("URAM",)}
# an hls4ml call in firmware/<top>.cpp: `nnet::dense<input_t, layer2_t, config2>(...); // fc1`
_CALL = re.compile(r"nnet::\w+<[^;]*?,\s*(\w+)\s*>\s*\([^;]*\);\s*//\s*(\S+)")


class CsynthReportError(InputFileError):
    """A csynth report is missing or not what Vitis/Vivado HLS writes; names the file and the remedy."""


@dataclass(frozen=True)
class CsynthResources:
    """Resource counts as the tool reports them (BRAM in 18 Kb blocks)."""

    lut: int
    ff: int
    dsp: int
    bram_18k: int
    uram: int

    def to_json(self) -> dict[str, int]:
        return {"LUT": self.lut, "FF": self.ff, "DSP": self.dsp, "BRAM_18K": self.bram_18k, "URAM": self.uram}


@dataclass(frozen=True)
class CsynthModule:
    """One RTL module's C-synthesis estimate. Latencies and intervals are None where the tool writes
    ``undef`` (data-dependent loops)."""

    name: str
    latency_min: int | None
    latency_max: int | None
    interval_min: int | None
    interval_max: int | None
    pipeline_type: str
    clock_target_ns: float
    clock_uncertainty_ns: float | None
    clock_estimated_ns: float
    resources: CsynthResources
    source: Path  # the XML file the numbers came from

    def to_json(self) -> dict:
        return {"module": self.name, "latency_min": self.latency_min, "latency_max": self.latency_max,
                "interval_min": self.interval_min, "interval_max": self.interval_max,
                "pipeline_type": self.pipeline_type, "clock_target_ns": self.clock_target_ns,
                "clock_uncertainty_ns": self.clock_uncertainty_ns, "clock_estimated_ns": self.clock_estimated_ns,
                **self.resources.to_json(), "source": self.source.name}


@dataclass(frozen=True)
class CsynthInstance:
    """One RTL instance in the design hierarchy: the instance name, the module it instantiates, the hls4ml
    config struct it was made from (``config2``, ``relu_config4``), the layer index hls4ml gave it and, when
    the project's firmware C++ is at hand, the layer's name (the ``// fc1`` comment hls4ml writes)."""

    name: str
    module: str
    config: str | None
    layer_index: int | None
    layer: str | None
    children: tuple[CsynthInstance, ...] = ()

    def to_json(self) -> dict:
        return {"instance": self.name, "module": self.module, "config": self.config, "layer_index": self.layer_index,
                "layer": self.layer, "children": [c.to_json() for c in self.children]}


@dataclass(frozen=True)
class CsynthPort:
    """One RTL port of the top from the report's interface table: name, direction, width, the C argument it
    carries (``Object``), its protocol (``ap_ctrl_hs``, ``ap_vld``, ``ap_none``) and data or control."""

    name: str
    direction: str
    bits: int
    c_object: str
    protocol: str
    attribute: str

    def to_json(self) -> dict:
        return {"name": self.name, "dir": self.direction, "bits": self.bits, "object": self.c_object,
                "protocol": self.protocol, "attribute": self.attribute}


@dataclass(frozen=True)
class CsynthReport:
    """A whole C-synthesis report directory: the top module, every module by name, the top's instances."""

    report_dir: Path
    tool_version: str
    part: str
    product_family: str
    top: CsynthModule
    available: CsynthResources
    modules: tuple[CsynthModule, ...]
    instances: tuple[CsynthInstance, ...]  # the top's direct instances, in the order of the hierarchy
    hierarchy_source: str  # "csynth.xml" (Vitis RTLDesignHierarchy) or "module reports" (no hierarchy given)
    ports: tuple[CsynthPort, ...] = ()  # the top's RTL ports (InterfaceSummary), in report order

    def module(self, name: str) -> CsynthModule:
        for m in self.modules:
            if m.name == name:
                return m
        raise KeyError(name)

    def to_json(self) -> dict:
        return {"report_dir": str(self.report_dir), "tool_version": self.tool_version, "part": self.part,
                "product_family": self.product_family, "top": self.top.to_json(),
                "available": self.available.to_json(), "hierarchy_source": self.hierarchy_source,
                "instances": [i.to_json() for i in self.instances],
                "modules": [m.to_json() for m in self.modules], "ports": [p.to_json() for p in self.ports]}


def _parse(path: Path) -> ET.Element:
    if not path.is_file():
        raise CsynthReportError(f"{path}: no such csynth report file; {REMEDY}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise CsynthReportError(f"{path}: not a well-formed XML csynth report ({e}); the run was probably cut "
                                f"short, {REMEDY}") from None
    except OSError as e:
        raise CsynthReportError(f"{path}: cannot read it ({e.strerror}); {REMEDY}") from None
    if root.tag != "profile":
        raise CsynthReportError(f"{path}: the root element is <{root.tag}>, not the <profile> of a Vitis/Vivado "
                                f"HLS csynth report; {REMEDY}")
    return root


def _text(el: ET.Element, xpath: str, path: Path) -> str:
    found = el.find(xpath)
    if found is None or found.text is None or not found.text.strip():
        raise CsynthReportError(f"{path}: element {xpath} is missing or empty; this is not a complete csynth "
                                f"report, {REMEDY}")
    return found.text.strip()


def _number(el: ET.Element, xpath: str, path: Path, kind: type, optional: bool = False):
    if optional and el.find(xpath) is None:
        return None
    text = _text(el, xpath, path)
    if text == "undef":
        return None
    try:
        return kind(text)
    except ValueError:
        raise CsynthReportError(f"{path}: element {xpath} holds '{text}', not a number; {REMEDY}") from None


def _resources(el: ET.Element | None, path: Path, what: str) -> CsynthResources:
    if el is None:
        raise CsynthReportError(f"{path}: no AreaEstimates/{what} element; {REMEDY}")
    values = {}
    for key, tags in _RESOURCE_TAGS.items():
        tag = next((t for t in tags if el.find(t) is not None), None)
        values[key] = 0 if tag is None else _number(el, tag, path, int)  # an absent resource is an unused one
    return CsynthResources(values["LUT"], values["FF"], values["DSP"], values["BRAM_18K"], values["URAM"])


def _module(root: ET.Element, path: Path) -> CsynthModule:
    lat = "PerformanceEstimates/SummaryOfOverallLatency/"
    interval_min = _number(root, lat + "Interval-min", path, int, optional=True)
    interval_max = _number(root, lat + "Interval-max", path, int, optional=True)
    if interval_min is None and interval_max is None:  # older reports give only the pipeline II
        interval_min = interval_max = _number(root, lat + "PipelineInitiationInterval", path, int, optional=True)
    return CsynthModule(
        name=_text(root, "UserAssignments/TopModelName", path),
        latency_min=_number(root, lat + "Best-caseLatency", path, int),
        latency_max=_number(root, lat + "Worst-caseLatency", path, int),
        interval_min=interval_min, interval_max=interval_max,
        pipeline_type=(root.findtext("PerformanceEstimates/PipelineType") or "").strip(),
        clock_target_ns=_number(root, "UserAssignments/TargetClockPeriod", path, float),
        clock_uncertainty_ns=_number(root, "UserAssignments/ClockUncertainty", path, float, optional=True),
        clock_estimated_ns=_number(root, "PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod",
                                   path, float),
        resources=_resources(root.find("AreaEstimates/Resources"), path, "Resources"),
        source=path,
    )


def _layer_names(report_dir: Path, top: str) -> dict[str, str]:
    """hls4ml config struct -> layer name, from the ``// name`` comments of ``firmware/<top>.cpp`` when the
    report sits in an hls4ml project (``<project>/<prj>/solution1/syn/report``); empty otherwise."""
    for up in report_dir.resolve().parents[:4]:  # report -> syn -> solution1 -> <prj> -> the project
        cpp = up / "firmware" / f"{top}.cpp"
        if cpp.is_file():
            try:
                return {cfg: name for cfg, name in _CALL.findall(cpp.read_text(errors="replace"))}
            except OSError:
                return {}
    return {}


def _config_of(module: str, names: dict[str, str]) -> tuple[str | None, int | None, str | None]:
    """The hls4ml config struct a module was made from: its name ends in ``_<config>_s`` (or ``_<config>``)."""
    for cfg in sorted(names, key=len, reverse=True):
        if re.search(rf"(^|_){re.escape(cfg)}(_s)?(_\d+)?$", module):
            m = re.search(r"config(\d+)$", cfg)
            return cfg, int(m.group(1)) if m else None, names[cfg]
    m = re.search(r"((?:[a-z]+_)?config(\d+))(_s)?(_\d+)?$", module)
    if m:
        return m.group(1), int(m.group(2)), None
    return None, None, None


def _instances(lst: ET.Element | None, names: dict[str, str], path: Path) -> tuple[CsynthInstance, ...]:
    if lst is None:
        return ()
    out = []
    for inst in lst.findall("Instance"):
        module = _text(inst, "ModuleName", path)
        cfg, index, layer = _config_of(module, names)
        out.append(CsynthInstance(_text(inst, "InstName", path), module, cfg, index, layer,
                                  _instances(inst.find("InstancesList"), names, path)))
    return tuple(out)


def _ports(root: ET.Element, path: Path) -> tuple[CsynthPort, ...]:
    return tuple(CsynthPort(_text(p, "name", path), _text(p, "Dir", path), _number(p, "Bits", path, int),
                            (p.findtext("Object") or "").strip(), (p.findtext("IOProtocol") or "").strip(),
                            (p.findtext("Attribute") or "").strip())
                 for p in root.findall("InterfaceSummary/RtlPorts"))


def read_ports(xml_path: Path) -> tuple[CsynthPort, ...]:
    """The top's RTL ports from the interface table of one csynth XML (``csynth.xml``)."""
    path = Path(xml_path)
    return _ports(_parse(path), path)


def read_csynth(report_dir: Path) -> CsynthReport:
    """Read ``report_dir`` (a ``syn/report`` directory holding ``csynth.xml`` and per-module
    ``<module>_csynth.xml``); raises CsynthReportError naming the file when one is missing or malformed."""
    report_dir = Path(report_dir)
    if not report_dir.is_dir():
        raise CsynthReportError(f"{report_dir}: no such report directory; {REMEDY}")
    top_path = report_dir / TOP_XML
    root = _parse(top_path)
    top = _module(root, top_path)
    available = _resources(root.find("AreaEstimates/AvailableResources"), top_path, "AvailableResources")
    modules = {top.name: top}
    for path in sorted(report_dir.glob(f"*{MODULE_XML_SUFFIX}")):
        m = _module(_parse(path), path)
        if m.name != top.name:  # <top>_csynth.xml repeats csynth.xml's numbers
            modules[m.name] = m
    names = _layer_names(report_dir, top.name)
    hierarchy = root.find("RTLDesignHierarchy/TopModule")
    if hierarchy is not None:
        instances = _instances(hierarchy.find("InstancesList"), names, top_path)
        source = TOP_XML
    else:  # Vivado HLS: no hierarchy in the XML; every per-module report below the top stands for one instance
        instances = tuple(CsynthInstance(name, name, *_config_of(name, names)) for name in modules if name != top.name)
        source = "module reports"
    missing = sorted({i.module for i in _walk(instances)} - set(modules))
    if missing:
        raise CsynthReportError(f"{report_dir}: {missing[0]}{MODULE_XML_SUFFIX} is missing (the hierarchy in "
                                f"{TOP_XML} names module {missing[0]}); copy the whole report directory, or {REMEDY}")
    return CsynthReport(report_dir=report_dir, tool_version=_text(root, "ReportVersion/Version", top_path),
                        part=_text(root, "UserAssignments/Part", top_path),
                        product_family=(root.findtext("UserAssignments/ProductFamily") or "").strip(),
                        top=top, available=available, modules=tuple(modules.values()), instances=instances,
                        hierarchy_source=source, ports=_ports(root, top_path))


def _walk(instances: tuple[CsynthInstance, ...]):
    for i in instances:
        yield i
        yield from _walk(i.children)


def find_report_dirs(path: Path) -> list[Path]:
    """Every ``*_prj/solution*/syn/report`` directory holding a csynth.xml under ``path`` (an hls4ml
    project, an l1ml compile output with ``hls/`` in it, or a report directory itself), sorted."""
    path = Path(path)
    if (path / TOP_XML).is_file():
        return [path]
    found: list[Path] = []
    for base in (path, path / "hls"):
        found += [p.parent for p in base.glob(f"*_prj/solution*/{REPORT_SUBDIR.as_posix()}/{TOP_XML}")]
    return sorted(set(found))


def locate_report_dir(path: Path) -> Path:
    """The one csynth report directory under ``path``; CsynthReportError when there is none or several."""
    found = find_report_dirs(path)
    if not found:
        raise CsynthReportError(f"{path}: no csynth report found (looked for {TOP_XML} in it and under "
                                f"*_prj/solution*/syn/report and hls/*_prj/...); {REMEDY}")
    if len(found) > 1:
        listed = ", ".join(str(p) for p in found)
        raise CsynthReportError(f"{path}: {len(found)} csynth report directories ({listed}); name one with --reports DIR")
    return found[0]
