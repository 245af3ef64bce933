"""l1ml's hls4ml estimate beside the vendor's C-synthesis numbers, per layer and in total.

The rows pair each estimated layer with the RTL instance Vitis/Vivado HLS made from it (the instance's
hls4ml layer name, read from the ``// name`` comment of the project's firmware C++, is the l1ml node
name). A layer the tool inlined has no instance: its vendor cells are empty and its logic is counted in
the top module's own row (registers, multiplexers and inlined code). Ratios are vendor / estimate, so
above 1 means the estimate is low. BRAM is compared in 18 Kb blocks, the unit of the vendor report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from l1ml.estimate.csynth import CsynthModule, CsynthReport
from l1ml.estimate.result import Estimate
from l1ml.names import markdown_text

METRICS = ("latency", "II", "LUT", "FF", "DSP", "BRAM_18K")
TOP_ROW = "(top: registers, muxes, inlined layers)"


@dataclass(frozen=True)
class Figures:
    """One side of a row: latency and II in cycles, resources; None where that side has no number."""

    latency: int | None
    ii: int | None
    lut: int | None
    ff: int | None
    dsp: int | None
    bram_18k: float | None

    def get(self, metric: str) -> float | None:
        return {"latency": self.latency, "II": self.ii, "LUT": self.lut, "FF": self.ff, "DSP": self.dsp,
                "BRAM_18K": self.bram_18k}[metric]

    def to_json(self) -> dict:
        return {m: self.get(m) for m in METRICS}


@dataclass(frozen=True)
class CompareRow:
    """One layer (or the top module's own logic, or the total): the estimate, the vendor, the instance."""

    layer: str
    op: str
    estimate: Figures | None
    vendor: Figures | None
    instance: str | None = None
    module: str | None = None

    def ratio(self, metric: str) -> float | None:
        e = self.estimate.get(metric) if self.estimate else None
        v = self.vendor.get(metric) if self.vendor else None
        if e is None or v is None or e == 0:
            return None
        return v / e

    def to_json(self) -> dict:
        return {"layer": self.layer, "op": self.op, "instance": self.instance, "module": self.module,
                "estimate": self.estimate.to_json() if self.estimate else None,
                "vendor": self.vendor.to_json() if self.vendor else None,
                "ratio": {m: self.ratio(m) for m in METRICS}}


def vendor_figures(m: CsynthModule) -> Figures:
    r = m.resources
    return Figures(m.latency_max, m.interval_max, r.lut, r.ff, r.dsp, r.bram_18k)


def _estimate_figures(latency: int, ii: int | None, res: dict) -> Figures:
    # the estimate counts BRAM in 36 Kb blocks (an 18 Kb half as 0.5); the vendor counts 18 Kb blocks
    return Figures(latency, ii, res["LUT"], res["FF"], res["DSP"], res["BRAM"] * 2)


def compare(report: CsynthReport, est: Estimate | None) -> list[CompareRow]:
    """Rows: each estimated layer with its vendor instance, vendor instances no estimated layer claims,
    the top module's own logic, and the total. ``est`` None gives the vendor column alone."""
    rows: list[CompareRow] = []
    by_layer: dict[str, list] = {}
    for inst in report.instances:
        by_layer.setdefault(inst.layer or inst.name, []).append(inst)
    claimed: set[str] = set()
    for lc in (est.layers if est else []):
        e = _estimate_figures(lc.latency_cycles, None, lc.res.to_json())
        insts = by_layer.get(lc.node, [])
        if len(insts) == 1:
            i = insts[0]
            rows.append(CompareRow(lc.node, lc.op, e, vendor_figures(report.module(i.module)), i.name, i.module))
            claimed.add(i.name)
        else:  # inlined (no instance), or one layer in several instances: the total still compares
            rows.append(CompareRow(lc.node, lc.op, e, None))
    for inst in report.instances:
        if inst.name not in claimed:
            op = re.sub(r"\W", "", inst.module.split("_")[0])  # dense, relu, softmax...
            rows.append(CompareRow(inst.layer or inst.config or inst.name, op, None,
                                   vendor_figures(report.module(inst.module)), inst.name, inst.module))
    top = report.top.resources
    used = [report.module(i.module).resources for i in report.instances]
    own = Figures(None, None, top.lut - sum(r.lut for r in used), top.ff - sum(r.ff for r in used),
                  top.dsp - sum(r.dsp for r in used), top.bram_18k - sum(r.bram_18k for r in used))
    rows.append(CompareRow(TOP_ROW, "", None, own, None, report.top.name))
    total_est = _estimate_figures(est.latency_cycles, est.ii_cycles, est.total.to_json()) if est else None
    rows.append(CompareRow("total", "", total_est, vendor_figures(report.top), None, report.top.name))
    return rows


def _n(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:,.1f}" if isinstance(x, float) and not x.is_integer() else f"{int(x):,}"


def _cell(row: CompareRow, metric: str, with_estimate: bool) -> str:
    v = row.vendor.get(metric) if row.vendor else None
    if not with_estimate:
        return _n(v)
    e = row.estimate.get(metric) if row.estimate else None
    r = row.ratio(metric)
    return f"{_n(e)} / {_n(v)}" + (f" (×{r:.2f})" if r is not None else "")


def _label(row: CompareRow, from_l1ml: bool) -> str:
    if row.layer in (TOP_ROW, "total"):
        return f"**{row.layer}**" if row.layer == "total" else row.layer
    return row.layer if from_l1ml else markdown_text(row.layer)


def comparison_markdown(report: CsynthReport, rows: list[CompareRow], with_estimate: bool, where: str) -> str:
    """The side-by-side table (estimate / vendor (×vendor/estimate) per cell) or the vendor column alone;
    ``where`` names the report directory for the reader (relative to the output, for a stable report.md)."""
    t = report.top
    heading = "## Vendor C synthesis beside l1ml's hls4ml estimate" if with_estimate else "## Vendor C synthesis"
    lines = [heading, "",
             f"HLS {report.tool_version} C synthesis of {markdown_text(t.name)} on {markdown_text(report.part)}: "
             f"clock target {t.clock_target_ns:g} ns, estimated {t.clock_estimated_ns:g} ns "
             f"(reports: {markdown_text(where)}).", ""]
    if with_estimate:
        lines += ["Each cell: l1ml estimate / vendor (×vendor÷estimate; above 1 the estimate is low). Latency "
                  "and II in cycles, BRAM in 18 Kb blocks. A layer without vendor numbers was inlined by the "
                  "tool; its logic is in the top row.", ""]
    else:
        lines += ["Vendor numbers only. Latency and II in cycles, BRAM in 18 Kb blocks.", ""]
    lines += ["| layer | op | " + " | ".join(METRICS) + " |", "|---|---|" + "---:|" * len(METRICS)]
    for row in rows:
        from_l1ml = row.estimate is not None
        lines.append(f"| {_label(row, from_l1ml)} | {row.op} | "
                     + " | ".join(_cell(row, m, with_estimate) for m in METRICS) + " |")
    return "\n".join(lines)


def project_estimate(project: Path, clock_ns: float, *, exact: bool = False) -> Estimate:
    """l1ml's hls4ml estimate of a plain hls4ml project (one l1ml did not write): its Dense/ReLU network read
    back by ``l1ml.frontend.hls4ml_project``, compiled, typed as hls4ml built it (its one default precision;
    with ``exact``, as ``l1ml compile`` types the QONNX model) and priced at ``clock_ns`` with the reuse
    factor and strategy of its hls4ml_config.yml. Rows are named by hls4ml layer (``fc1``), as the csynth
    instances are. Raises ProjectNotPriced for a project the reader does not rebuild."""
    import tempfile

    import onnx
    import yaml

    from l1ml.estimate import estimate
    from l1ml.estimate.hls4ml_cost import uniform_precision
    from l1ml.frontend.hls4ml_project import ProjectNotPriced, read_project_net, to_qonnx
    from l1ml.load import compile_graph

    net = read_project_net(project)
    model: dict = {}
    cfg = Path(project) / "hls4ml_config.yml"
    if cfg.is_file():
        try:
            doc = yaml.safe_load(cfg.read_text(errors="replace")) or {}
        except yaml.YAMLError:
            doc = {}
        found = doc.get("HLSConfig", {}).get("Model", {}) if isinstance(doc, dict) else {}
        model = found if isinstance(found, dict) else {}
    strategy = str(model.get("Strategy", "Latency")).capitalize()
    if strategy not in ("Latency", "Resource"):
        raise ProjectNotPriced(f"{cfg}: strategy {strategy}; l1ml's hls4ml cost model prices Latency and Resource")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{net.top}.onnx"
        onnx.save(to_qonnx(net), str(path))
        g = compile_graph(path)
    est = estimate(g if exact else uniform_precision(g, net.precision), backend="hls4ml", clock_ns=clock_ns,
                   reuse_factor=int(model.get("ReuseFactor", 1)), strategy=strategy)
    est.layers = [replace(lc, node=lc.onnx.removesuffix("_matmul")) for lc in est.layers]
    return est
