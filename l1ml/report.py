"""The compile report: per-layer types, shapes and multiplications, as JSON and Markdown."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np

from l1ml.ir.graph import Graph
from l1ml.ir.ops import Op
from l1ml.names import markdown_text


def layer_rows(g: Graph) -> list[dict]:
    rows = []
    for n, ins, outs in g.ops():
        row = {
            "node": n.name,
            "onnx": n.meta.get("onnx_name", ""),
            "op": n.op.value,
            "input": str(ins[0].type) if ins else "",
            "output": str(outs[0].type),
            "shape": list(outs[0].shape),
            "multiplications": 0,
            "parameters": 0,
        }
        if n.op is Op.DENSE:
            w = ins[1]
            batch = int(np.prod(ins[0].shape[:-1], dtype=np.int64))
            row["weight"] = str(w.type)
            row["bias"] = str(ins[2].type) if len(ins) > 2 else None
            row["multiplications"] = batch * int(np.count_nonzero(w.data))
            row["parameters"] = int(w.data.size + (ins[2].data.size if len(ins) > 2 else 0))
        if n.op is Op.CONV2D:
            w = ins[1]
            row["weight"] = str(w.type)
            row["bias"] = str(ins[2].type) if len(ins) > 2 else None
            row["multiplications"] = conv_multiplications(ins[0].shape, w.data, n.attrs.stride, n.attrs.pads)
            row["parameters"] = int(w.data.size + (ins[2].data.size if len(ins) > 2 else 0))
        rows.append(row)
    return rows


def conv_multiplications(in_shape: tuple[int, ...], w: np.ndarray, stride: tuple[int, int],
                         pads: tuple[int, int, int, int]) -> int:
    """Constant multiplications of a fully parallel Conv2D: taps on padding and zero weights cost nothing."""
    h, wd = in_shape[:2]
    kh, kw = w.shape[:2]
    top, left, bottom, right = pads
    rows = np.arange(0, h + top + bottom - kh + 1, stride[0])  # window starts in padded coordinates
    cols = np.arange(0, wd + left + right - kw + 1, stride[1])
    total = 0
    for a in range(kh):
        inside_r = int(np.count_nonzero((rows + a >= top) & (rows + a < h + top)))
        for b in range(kw):
            inside_c = int(np.count_nonzero((cols + b >= left) & (cols + b < wd + left)))
            total += inside_r * inside_c * int(np.count_nonzero(w[a, b]))
    return total


def requant_rows(g: Graph) -> list[dict]:
    """One row per Requant node: what it replaces, its form and size, its cost and how it was proven."""
    from l1ml.ir.requant import describe_form, requant_cost
    from l1ml.passes.requant_search import EXHAUSTIVE

    rows = []
    for n, ins, outs in g.ops():
        if n.op is not Op.REQUANT:
            continue
        x = ins[0].type
        span = x.max_code - x.min_code + 1
        how = "exact thresholds" if n.attrs.form == "thresholds" else "proven at every threshold t-1, t and both ends"
        if span <= EXHAUSTIVE:
            how += f"; all {span} input codes checked"
        rows.append({"node": n.name, "onnx": n.meta.get("onnx_name", ""), "source": n.attrs.source,
                     "form": describe_form(n.attrs), "input": str(x), "output": str(outs[0].type),
                     "cost": requant_cost(n.attrs, x, outs[0].type), "proof": how})
    return rows


def requant_markdown(rows: list[dict], scales: dict) -> str:
    """The report.md section on exact requantisation (docs/requantization.md explains it)."""
    lines = ["## Requantisation", "",
             "Each Requant replaces float stages and the quantizer after them by an exact integer map, proven "
             "equal to the real-number function for every input code (docs/requantization.md). Cost in bit-cells "
             "(comparator, adder or partial-product bits; l1ml.ir.requant).", "",
             "| node | onnx | replaces | form | input | output | cost | proof |", "|---|---|---|---|---|---|---:|---|"]
    for r in rows:
        source = r["source"].replace("`", "'").replace("|", "/")  # l1ml's own text: numbers and op names
        lines.append(f"| {r['node']} | {markdown_text(r['onnx'])} | `{source}` | {r['form']} | "
                     f"`{r['input']}` | `{r['output']}` | {r['cost']} | {r['proof']} |")
    for name, s in sorted(scales.items()):
        lines += ["", f"Float scale of {markdown_text(name)}: its codes are worth code × {float(Fraction(s)):.9g} "
                      f"(exactly {s})."]
    return "\n".join(lines)


def strategy_note(options: dict) -> str:
    """Which implementation each artefact holds: the hls4ml strategy applies to hls/ only (and to the hls4ml
    estimate); rtl/ is always l1ml's own Verilog."""
    strategy = options.get("strategy")
    if not strategy:
        return ""
    if strategy == "distributed_arithmetic":
        hls = ("hls/: Dense and Conv2D layers are da4ml adder graphs (hls4ml's distributed_arithmetic strategy; "
               "Sun et al., arXiv:2507.04535), every other layer is hls4ml's Latency implementation; the hls4ml "
               "estimate prices da4ml's own solution of each layer (LUT = da4ml's cost), not the Latency model")
    else:
        hls = f"hls/: hls4ml's {strategy} strategy"
    return f"{hls}. rtl/: l1ml's own Verilog, whatever the strategy."


def build_report(g: Graph, options: dict) -> dict:
    rows = layer_rows(g)
    requants = requant_rows(g)
    inp, out = g.t(g.inputs[0]), g.t(g.outputs[0])
    return {
        "model": g.name,
        "source": g.meta.get("source", ""),
        "options": options,
        "input": {"name": inp.name, "shape": list(inp.shape), "type": str(inp.type)},
        "inputs": [{"name": t.name, "shape": list(t.shape), "type": str(t.type)} for t in map(g.t, g.inputs)],
        "output": {"name": out.name, "shape": list(out.shape), "type": str(out.type)},
        "layers": rows,
        "requant": requants,
        "scales": dict(g.meta.get("scale", {})),
        "totals": {
            "multiplications": sum(r["multiplications"] for r in rows),
            "parameters": sum(r["parameters"] for r in rows),
        },
        "strategy": strategy_note(options),
        "not_run": [
            "Vitis/Vivado HLS synthesis was not run by l1ml; `l1ml build OUTDIR` runs it where `vitis_hls` "
            "(or `vivado_hls` for the Vivado backend) is installed and adds the vendor numbers to this report.",
        ],
    }


def render_markdown(rep: dict) -> str:
    o = rep["options"]
    lines = [
        f"# l1ml report: {markdown_text(rep['model'])}",
        "",
        f"Source {markdown_text(rep['source'])} · part `{o.get('part')}` · clock {o.get('clock_ns')} ns · "
        f"hls4ml backend {o.get('hls_backend')} (io_parallel, {o.get('strategy')}, reuse {o.get('reuse_factor')})",
        "",
        *([rep["strategy"], ""] if rep.get("strategy") else []),
        "Input" + ("s " if len(rep.get("inputs", [])) > 1 else " ")
        + ", ".join(f"{markdown_text(i['name'])} {i['shape']} as `{i['type']}`" for i in rep.get("inputs", [rep["input"]]))
        + f"; output {markdown_text(rep['output']['name'])} {rep['output']['shape']} as `{rep['output']['type']}`.",
        "",
        "| node | onnx | op | input type | output type | shape | weight | mults |",
        "|---|---|---|---|---|---|---|---:|",
    ]
    for r in rep["layers"]:
        lines.append(f"| {r['node']} | {markdown_text(r['onnx'])} | {r['op']} | `{r['input']}` | `{r['output']}` | "
                     f"{r['shape']} | {('`' + r['weight'] + '`') if r.get('weight') else ''} | {r['multiplications']} |")
    t = rep["totals"]
    lines += ["", f"Total: {t['multiplications']} multiplications, {t['parameters']} parameters.", ""]
    if rep.get("requant") or rep.get("scales"):
        lines += [requant_markdown(rep.get("requant", []), rep.get("scales", {})), ""]
    for extra in rep.get("sections", []):
        lines += [extra, ""]
    if rep.get("vendor_build"):  # written by `l1ml build` (l1ml/build.py): csynth beside the estimate
        lines += [rep["vendor_build"]["markdown"], ""]
    lines += ["## Not run here", ""] + [f"- {s}" for s in rep["not_run"]] + [""]
    return "\n".join(lines)


def write_report(outdir: Path, rep: dict) -> None:
    (outdir / "report.json").write_text(json.dumps(rep, indent=1, sort_keys=True) + "\n")
    (outdir / "report.md").write_text(render_markdown(rep))
