"""l1ml's Verilog against da4ml's on the same QONNX models, at the same pipeline depth.

For each model this compiles l1ml's RTL through the public path ``l1ml compile`` takes (``compile_graph``,
``CompileOptions`` defaults: 5 ns clock, reuse 1, ``write_rtl``), so it measures whatever generator the
checkout has; replays the same typed graph in da4ml 0.6.0 (``benchmarks/da4ml_flow.py``) with the latency
cutoff that gives da4ml as many register levels as l1ml's design has cycles; checks both bit for bit
against l1ml's emulator on >= 10,000 vectors (``make_vectors``: corner cases with the extreme codes and
every first-layer neuron driven to its extremes, then random codes): l1ml's RTL in Verilator under cocotb
(``l1ml verify --levels rtl``'s ``check_rtl``), da4ml's solution in its own bit-exact interpreter and, with
``--da4ml-verilator``, its Verilog in Verilator too. Then both are synthesised by Yosys ``synth_xilinx
-family xcup`` through ``l1ml.estimate.synth.synth_files`` (the script of ``l1ml estimate --synth yosys``)
in up to three flows:

- ``flat``: ``-flatten`` with nothing kept: one netlist, optimised across every module boundary;
- ``blocks``: exactly the flow of ``l1ml estimate --synth yosys`` (``synth_yosys``'s default): ``-flatten``,
  but each generated top-level block keeps its hierarchy (l1ml's layer modules; da4ml's stage modules,
  which the same file-name rule picks), so nothing is optimised across a layer or stage boundary;
- ``hier``: without ``-flatten``: every module, primitives included, is mapped on its own.

and the table of LUT1-6, INV, FF and CARRY4 with each generator's own LUT estimate is printed (l1ml:
``l1ml estimate``; da4ml: the cost its RTL model reports, ``Pipeline.cost``), with the ratios l1ml/da4ml.

    python benchmarks/rtl_vs_da4ml.py --skip-synth                 # bit-exactness and estimates, ~5 min
    python benchmarks/rtl_vs_da4ml.py --models jet_mlp --flows flat,blocks --jobs 2
    python benchmarks/rtl_vs_da4ml.py --hgcal-onnx hgcal_cnn/model.onnx   # a trained zoo CNN

Results go to ``--out`` (results.json, results.md); Yosys results are cached under ~/.cache/l1ml/yosys, so
an interrupted run resumes. Measured times are in docs/rtl_vs_da4ml.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from l1ml.backends.emulate import input_codes
from l1ml.backends.verilog import write_rtl
from l1ml.compile import CompileOptions
from l1ml.estimate.synth import synth_files
from l1ml.ir.graph import Graph
from l1ml.load import compile_graph
from l1ml.verify.rtl import check_rtl
from l1ml.verify.vectors import make_vectors

sys.path.insert(0, str(Path(__file__).resolve().parent))
import da4ml_flow  # noqa: E402  (beside this script)

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("jet_mlp", "hgcal_cnn")
FLOWS = ("flat", "blocks", "hier")
#: flow -> (keep: None = synth_yosys's default blocks, flatten)
FLOW_ARGS = {"flat": ([], True), "blocks": (None, True), "hier": ([], False)}
LUT16 = tuple(f"LUT{k}" for k in range(1, 7))
_print_lock = threading.Lock()


def say(msg: str) -> None:
    with _print_lock:
        print(msg, flush=True)


def model_file(name: str, work: Path, hgcal_onnx: Path | None) -> tuple[Path, str]:
    """The QONNX file of a benchmark model and a line saying where it came from."""
    if name == "jet_mlp":
        return ROOT / "examples" / "jet_mlp.onnx", "examples/jet_mlp.onnx (16-64-32-32-5, trained by l1ml demo)"
    if hgcal_onnx is not None:
        return hgcal_onnx, f"{hgcal_onnx} (given with --hgcal-onnx)"
    # the zoo architecture with seeded initial weights, as benchmarks/output_identity.py builds it: training
    # (l1ml simulate hgcal + l1ml train hgcal-cnn, ~8 min) changes the weight values, not the structure
    import torch

    from l1ml.models.hgcal_cnn import CNNShape, export, qat_cnn

    path = work / "hgcal_cnn.onnx"
    if not path.exists():
        torch.manual_seed(0)
        shape = CNNShape()
        export(qat_cnn(shape), shape, str(path))
    return path, ("zoo HGCal CNN (4x8x8 -> conv 3x3/2 8ch -> 128 -> 16 -> 3), untrained: torch seed 0 "
                  "initial weights, as benchmarks/output_identity.py builds it")


def l1ml_rtl(g: Graph, outdir: Path, opts: CompileOptions):
    """l1ml's Verilog as ``l1ml compile`` writes it (compile.py: a stage count or the clock places the registers)."""
    return write_rtl(g, outdir, reuse_factor=opts.reuse_factor, pipeline_stages=opts.pipeline_stages,
                     clock_ns=opts.clock_ns if opts.pipeline_stages is None else None, force=True)


def prepare(name: str, args, work: Path) -> dict:
    """Both designs of one model, their register levels, estimates and bit-exactness checks."""
    path, origin = model_file(name, work, args.hgcal_onnx)
    say(f"== {name}: {origin}")
    g = compile_graph(path)
    opts = CompileOptions()
    d = work / name
    t0 = time.monotonic()
    design = l1ml_rtl(g, d / "l1ml_rtl", opts)
    est = opts.estimate(g, "verilog")
    say(f"{name}: l1ml RTL written ({design.latency_cycles} register levels at {opts.clock_ns:g} ns), "
        f"estimate LUT {est.resources()['LUT']:,} FF {est.resources()['FF']:,}")
    dd = da4ml_flow.design_for_levels(g, design.latency_cycles)
    say(f"{name}: da4ml traced and pipelined in {dd.trace_seconds:.0f} s: latency cutoff {dd.cutoff:g}, "
        f"{dd.stages} stages = {dd.register_levels} register levels (l1ml: {design.latency_cycles}); "
        f"its estimate {dd.lut_estimate:,.0f} LUTs, {dd.ff_estimate:,} register bits")
    src, files = da4ml_flow.write_verilog(dd, d / "da4ml_prj", opts.clock_ns)

    x = make_vectors(g, args.vectors, seed=1)
    codes = input_codes(g, x)[g.inputs[0]]
    checks = {}
    exact = da4ml_flow.check_bit_exact(g, dd, codes)
    checks["da4ml"] = exact.to_json()
    say(f"{name}: da4ml vs emulator ({exact.how}): {exact.n_vectors} vectors, {exact.mismatched_vectors} "
        f"mismatched ({exact.seconds:.1f} s)")
    if args.da4ml_verilator:
        say(f"{name}: da4ml Verilog in Verilator (building with da4ml's binder)...")
        try:
            v = da4ml_flow.check_verilator(g, dd, d / "da4ml_verilator", codes, opts.clock_ns)
        except RuntimeError as e:  # da4ml's binder build failed; its output was printed above
            checks["da4ml_verilator"] = {"error": f"{e}; see the make output above"}
            say(f"{name}: da4ml Verilator build failed ({e}); the other checks go on")
        else:
            checks["da4ml_verilator"] = v.to_json()
            say(f"{name}: da4ml Verilog vs emulator ({v.how}): {v.n_vectors} vectors, {v.mismatched_vectors} "
                f"mismatched ({v.seconds:.0f} s)")
    if not args.skip_l1ml_rtl:
        say(f"{name}: l1ml RTL in Verilator (cocotb bench of `l1ml verify --levels rtl`)...")
        r = check_rtl(g, d / "l1ml_rtl", x, d / "l1ml_sim")
        checks["l1ml_rtl"] = r.to_json()
        say(f"{name}: l1ml RTL vs emulator: {r.summary()} ({r.seconds:.0f} s, build {r.build_seconds:.0f} s)")
    conv = any(n.op.name == "CONV2D" for n in g.nodes)
    return {
        "model": name, "origin": origin, "graph": g, "seconds_prepare": round(time.monotonic() - t0, 1),
        "conv_note": ("da4ml has no Conv2D op and no QONNX frontend: the convolution was replayed as one constant "
                      "matrix-vector product (CMVM) per output pixel over its window, padding taps dropped "
                      "(benchmarks/da4ml_flow.py)") if conv else "",
        "l1ml": {"rtl": d / "l1ml_rtl", "files": list(design.files), "top": design.top,
                 "register_levels": design.latency_cycles, "estimate": est.resources()},
        "da4ml": {"rtl": src, "files": files, "top": da4ml_flow.TOP, "register_levels": dd.register_levels,
                  "stages": dd.stages, "cutoff": dd.cutoff, "estimate": {"LUT": dd.lut_estimate, "FF": dd.ff_estimate}},
        "checks": checks,
    }


def measured(cells: dict[str, int]) -> dict[str, int]:
    """The table's columns from Yosys's cell counts."""
    lut, inv = sum(cells.get(k, 0) for k in LUT16), cells.get("INV", 0)
    return {"LUT": lut, "INV": inv, "LUT+INV": lut + inv,
            "FF": sum(v for k, v in cells.items() if k.startswith("FD")), "CARRY4": cells.get("CARRY4", 0),
            "DSP": cells.get("DSP48E2", 0)}


def synthesise(model: dict, gen: str, flow: str, logs: Path, timeout_s: float | None) -> dict:
    side = model[gen]
    tag = f"{model['model']}/{gen}/{flow}"
    say(f"{tag}: Yosys started")
    keep, flatten = FLOW_ARGS[flow]
    res = synth_files(side["rtl"], side["files"], side["top"], keep=keep, flatten=flatten, timeout_s=timeout_s,
                      log_to=logs / f"{model['model']}_{gen}_{flow}.log",
                      progress=lambda s: say(f"{tag}: Yosys {s}"))
    say(f"{tag}: done in {res.seconds / 60:.1f} min{' (cached)' if res.cached else ''}")
    return {**measured(res.cells), "cells": res.cells, "seconds": round(res.seconds, 1), "cached": res.cached}


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "—"


def _n(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def table(models: list[dict], flows: list[str]) -> str:
    """The markdown table: per model and flow a row per generator and a ratio row l1ml/da4ml."""
    head = ("| model | generator | flow | LUT (LUT1–6) | INV | LUT+INV | FF | CARRY4 "
            "| own LUT estimate (error vs LUT+INV) |\n"
            "|---|---|---|---:|---:|---:|---:|---:|---|\n")
    rows = []
    for m in models:
        for flow in flows:
            got = {}
            for gen in ("l1ml", "da4ml"):
                s = m["synth"].get(f"{gen}/{flow}")
                est = m[gen]["estimate"]["LUT"]
                err = f" ({(est / (s['LUT'] + s['INV']) - 1) * 100:+.1f} %)" if s and s["LUT"] + s["INV"] else ""
                got[gen] = (s, est)
                rows.append(f"| {m['model']} | {gen} | {flow} | {_n(s and s['LUT'])} | {_n(s and s['INV'])} | "
                            f"{_n(s and s['LUT'] + s['INV'])} | {_n(s and s['FF'])} | {_n(s and s['CARRY4'])} | {est:,.0f}{err} |")
            (a, ea), (b, eb) = got["l1ml"], got["da4ml"]
            cols = [_ratio(a and a[k], b and b[k]) for k in ("LUT", "INV", "LUT+INV", "FF", "CARRY4")]
            rows.append(f"| {m['model']} | **l1ml/da4ml** | {flow} | {' | '.join(cols)} | {_ratio(ea, eb)} |")
    return head + "\n".join(rows) + "\n"


def facts(m: dict) -> str:
    lines = [f"- **{m['model']}**: {m['origin']}",
             f"  register levels: l1ml {m['l1ml']['register_levels']}, da4ml {m['da4ml']['register_levels']} "
             f"({m['da4ml']['stages']} stages at latency cutoff {m['da4ml']['cutoff']:g}; clock 5 ns)"]
    for k, c in m["checks"].items():
        if "error" in c:
            lines.append(f"  bit-exact {k}: not run: {c['error']}")
            continue
        lines.append(f"  bit-exact {k}: {c['n_vectors']:,} vectors, "
                     f"{c.get('mismatched_vectors', c.get('mismatches'))} mismatched")
    if m["conv_note"]:
        lines.append(f"  {m['conv_note']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    ap.add_argument("--flows", default="flat,blocks", help=f"comma-separated, of {', '.join(FLOWS)}")
    ap.add_argument("--skip-synth", action="store_true", help="bit-exactness and estimates only (no Yosys)")
    ap.add_argument("--jobs", type=int, default=1, help="Yosys runs side by side (each one core)")
    ap.add_argument("--out", type=Path, default=Path("rtl_vs_da4ml_results"), help="results directory")
    ap.add_argument("--work", type=Path, default=Path("/tmp/l1ml_rtl_vs_da4ml"), help="designs and simulators")
    ap.add_argument("--vectors", type=int, default=10_000, help="test vectors per model (corners first)")
    ap.add_argument("--hgcal-onnx", type=Path, default=None, help="a trained zoo CNN instead of the seeded one")
    ap.add_argument("--da4ml-verilator", action="store_true", help="also simulate da4ml's Verilog in Verilator")
    ap.add_argument("--skip-l1ml-rtl", action="store_true", help="skip the Verilator check of l1ml's RTL")
    ap.add_argument("--timeout-min", type=float, default=None, help="limit per Yosys run")
    args = ap.parse_args(argv)
    names = [s for s in args.models.split(",") if s]
    flows = [s for s in args.flows.split(",") if s]
    bad = [n for n in names if n not in MODELS] + [f for f in flows if f not in FLOWS]
    if bad:
        print(f"error: unknown model or flow {bad}; models: {', '.join(MODELS)}; flows: {', '.join(FLOWS)}",
              file=sys.stderr)
        return 2
    try:
        import da4ml
    except ImportError:
        print("error: da4ml is not installed; pip install 'l1ml[da4ml]' (da4ml==0.6.0)", file=sys.stderr)
        return 2
    say(f"da4ml {da4ml.__version__}")
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    models = [prepare(n, args, args.work) for n in names]
    for m in models:
        m["synth"] = {}
    if not args.skip_synth:
        jobs = [(m, gen, flow) for flow in flows for m in models for gen in ("da4ml", "l1ml")]
        timeout = args.timeout_min * 60 if args.timeout_min else None
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            futs = {pool.submit(synthesise, m, gen, flow, args.out, timeout): (m, gen, flow) for m, gen, flow in jobs}
            for f, (m, gen, flow) in futs.items():
                m["synth"][f"{gen}/{flow}"] = f.result()
    shown = flows if not args.skip_synth else ["not synthesised"]
    times = [f"{m['model']} {k}: Yosys {v['seconds'] / 60:.1f} min{' (cached)' if v['cached'] else ''}"
             for m in models for k, v in sorted(m["synth"].items())]
    md = ("# l1ml vs da4ml RTL\n\n" + "\n".join(facts(m) for m in models) + "\n\n" + table(models, shown)
          + ("\n" + "; ".join(times) + "\n" if times else ""))
    print("\n" + md)
    doc = {"da4ml": da4ml.__version__, "seconds": round(time.monotonic() - t0, 1), "flows": flows,
           "models": [{k: (str(v) if isinstance(v, Path) else v) for k, v in m.items() if k != "graph"}
                      for m in models]}
    (args.out / "results.json").write_text(json.dumps(doc, indent=1, sort_keys=True, default=str) + "\n")
    (args.out / "results.md").write_text(md)
    say(f"wrote {args.out}/results.json and results.md ({(time.monotonic() - t0) / 60:.1f} min)")
    ok = all(c.get("mismatched_vectors", c.get("mismatches", 1)) == 0 for m in models for c in m["checks"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
