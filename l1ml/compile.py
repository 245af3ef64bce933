"""``l1ml compile``: QONNX -> typed IR -> hls4ml project, emulator graph and report, written atomically."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from l1ml import defaults, names
from l1ml.atomic import atomic_dir, check_output_dir
from l1ml.backends.emulate import Emulator, input_codes
from l1ml.backends.hls4ml_da import check_da_reuse, is_da, require_da4ml
from l1ml.backends.verilog import write_rtl
from l1ml.ir.graph import Graph
from l1ml.ir.quantize import to_real
from l1ml.load import compile_graph
from l1ml.report import build_report, write_report
from l1ml.verify.hls_level import csim_inputs
from l1ml.verify.vectors import make_vectors

TB_VECTORS = 1000  # written into hls/tb_data for a user's Vitis csim/cosim
HLS_BACKENDS = names.HLS_BACKENDS
AUTO_REUSE = 0  # reuse_factor meaning "the cheapest setting of AUTO_REUSE_GRID that meets the budget"
AUTO_REUSE_GRID = (1, 2, 4, 8, 16, 24, 32, 48, 64, 104, 128, 208, 256)


@dataclass(frozen=True)
class CompileOptions:
    part: str = defaults.PART
    clock_ns: float = defaults.CLOCK_NS
    hls_backend: str = "Vitis"
    reuse_factor: int = 1  # AUTO_REUSE (0): chosen by a sweep against the budget
    strategy: str = "Latency"
    project: str = "myproject"
    pipeline_stages: int | None = None  # Verilog: registers per Dense layer; None = by the clock period
    latency_budget_ns: float = defaults.ALGORITHM_BUDGET_NS  # this algorithm's share of the Level-1 latency
    total_budget_ns: float = defaults.TOTAL_BUDGET_NS  # the whole CMS Phase-2 Level-1 trigger
    tmux: int = defaults.TMUX  # time-multiplexing period in bunch crossings: allowed II = tmux x 25 ns

    def __post_init__(self) -> None:
        # part, clock, backend, strategy and project are written into tcl, shell and C++: each must match
        # its grammar before anything is written
        names.check_script_options(self.part, self.clock_ns, self.hls_backend, self.strategy, self.project)
        if is_da(self.strategy):
            check_da_reuse(self.reuse_factor)

    def budget(self):
        from l1ml.estimate import Budget

        return Budget(total_ns=self.total_budget_ns, algorithm_ns=self.latency_budget_ns, tmux=self.tmux)

    def estimate(self, g: Graph, backend: str):
        """This compile's estimate of ``g``: "verilog" prices l1ml's RTL with its pipeline setting, "hls4ml"
        the hls4ml project with its strategy; both at this part, clock, reuse factor and budget."""
        from l1ml.estimate import estimate

        common = dict(part=self.part, clock_ns=self.clock_ns, reuse_factor=self.reuse_factor, budget=self.budget())
        if backend == "verilog":
            return estimate(g, backend="verilog", pipeline_stages=self.pipeline_stages, **common)
        return estimate(g, backend=backend, strategy=self.strategy, **common)


def choose_reuse(g: Graph, opts: CompileOptions) -> tuple[int, list]:
    """The reuse factor of AUTO_REUSE_GRID with the fewest LUT-equivalents among those whose Verilog
    estimate meets the budget, and the sweep it was chosen from. When none fits the part, the cheapest
    that still meets the latency and II budget (the report says which resources it exceeds); when none
    meets those either, the fastest."""
    from l1ml.estimate.sweep import SweepKey, best_point, run_sweep

    points = run_sweep(g, {SweepKey.REUSE: list(AUTO_REUSE_GRID)}, backend="verilog", part=opts.part,
                       clock_ns=opts.clock_ns, reuse_factor=1, strategy=opts.strategy, budget=opts.budget(),
                       pipeline_stages=opts.pipeline_stages)
    best = best_point(points)
    if best is None:
        timely = [p for p in points if not {"latency_ns", "ii_ns"} & set(p.est.check.failed)]
        best = (min(timely, key=lambda p: p.est.total.lut + 100 * p.est.total.dsp) if timely
                else min(points, key=lambda p: (p.est.latency_ns, p.reuse)))
    return best.reuse, points


def write_hls(g: Graph, prj: Path, final: Path, opts: CompileOptions) -> None:
    """Write the hls4ml project into ``prj`` (which will be renamed to ``final``)."""
    from l1ml.backends.hls4ml import build_hls_model

    hm = build_hls_model(g, prj, backend=opts.hls_backend, part=opts.part, clock_ns=opts.clock_ns,
                         project=opts.project, reuse_factor=opts.reuse_factor, strategy=opts.strategy)
    hm.write()
    cfg = prj / "hls4ml_config.yml"
    if cfg.exists():  # re-dumped, not text-replaced: the final path may hold any character
        import yaml

        doc = yaml.safe_load(cfg.read_text())
        doc["OutputDir"] = str(final)
        cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    # golden vectors for the project's own C++ testbench: emulator outputs for corner + random inputs
    x = make_vectors(g, TB_VECTORS, seed=12345)
    codes = input_codes(g, x)
    out = Emulator(g).run_codes(codes)[g.outputs[0]]
    tb = prj / "tb_data"
    tb.mkdir(exist_ok=True)
    n = len(out)
    # one line per event; a model with several inputs has them side by side in input order, which is how
    # hls4ml's testbench splits the line. The float inputs themselves (inf as "inf", which atof reads): the
    # project's input layer quantizes them, as `l1ml verify --levels hls` feeds them (hls_level.csim_inputs)
    xs = csim_inputs(g, x)
    xin = np.concatenate([xs[i].reshape(n, -1) for i in g.inputs], axis=1)
    yout = to_real(out, g.t(g.outputs[0]).type).reshape(n, -1)
    np.savetxt(tb / "tb_input_features.dat", xin, fmt="%.17g")
    np.savetxt(tb / "tb_output_predictions.dat", yout, fmt="%.17g")


def compile_model(onnx_path: Path, outdir: Path, opts: CompileOptions,
                  step: Callable[[str], None] = lambda s: None, force: bool = False) -> dict:
    """Compile; nothing is written unless every step succeeds, and ``outdir`` only under the policy of
    ``l1ml.atomic`` (``force`` replaces a directory l1ml did not write). Returns the report."""
    onnx_path = Path(onnx_path)
    check_output_dir(outdir, [onnx_path], force)
    if is_da(opts.strategy):  # an optional extra: refused with its remedy before any work
        require_da4ml()
    step("reading QONNX and running passes")
    g = compile_graph(onnx_path)
    sweep = None
    if opts.reuse_factor == AUTO_REUSE:
        step("choosing the reuse factor: estimating a sweep against the budget")
        r, sweep = choose_reuse(g, opts)
        opts = replace(opts, reuse_factor=r)
    outdir = Path(outdir).absolute()
    with atomic_dir(outdir, "compile", [onnx_path], force) as tmp:
        import onnx

        # re-saved with any external tensor data inlined, so the copy stands alone
        onnx.save(onnx.load(str(onnx_path)), str(tmp / "model.onnx"))
        g.save(tmp / "model.l1ml.json", source=tmp / "model.onnx")  # records both files' sha256
        step(f"writing the hls4ml project ({opts.hls_backend})")
        write_hls(g, tmp / "hls", outdir / "hls", opts)
        step("writing the Verilog")
        # a stage count places the registers itself; the clock period then only converts cycles to ns
        design = write_rtl(g, tmp / "rtl", reuse_factor=opts.reuse_factor, pipeline_stages=opts.pipeline_stages,
                           clock_ns=opts.clock_ns if opts.pipeline_stages is None else None)
        (tmp / "compile.json").write_text(json.dumps(asdict(opts), indent=1, sort_keys=True) + "\n")
        step("estimating latency and resources")
        rep = build_report(g, asdict(opts))
        chosen = next((p.est for p in sweep or [] if p.reuse == opts.reuse_factor), None)
        add_estimates(rep, g, opts, tmp, verilog=chosen)
        if sweep is not None:
            from l1ml.estimate.sweep import sweep_markdown

            rep["sweep"] = {"chosen_reuse_factor": opts.reuse_factor, "points": [p.to_json() for p in sweep]}
            why = ("the fewest LUT-equivalents among the settings that meet the budget" if any(p.est.fits for p in sweep)
                   else "no setting fits the part; the cheapest that meets the latency and II budget, else the fastest")
            rep["sections"].append(sweep_markdown(sweep, "Verilog") + f"\nChosen: reuse factor {opts.reuse_factor} "
                                   f"({why}).\n")
        rep["rtl"] = {"top": design.top, "latency_cycles": design.latency_cycles, "ii": design.ii,
                      "files": list(design.files)}
        write_report(tmp, rep)
    return rep


def add_estimates(rep: dict, g: Graph, opts: CompileOptions, outdir: Path, verilog=None) -> None:
    """Latency, II, resources and the budget verdict for both backends; the Verilog one (whose RTL
    l1ml writes and simulates) is the headline, the hls4ml one is the estimate for Vitis. ``verilog``: the
    Verilog estimate at these options when the reuse sweep already made it."""
    from l1ml.estimate import markdown, plot_budget

    ests = {"verilog": verilog or opts.estimate(g, "verilog"), "hls4ml": opts.estimate(g, "hls4ml")}
    head = ests["verilog"].to_json()
    rep.update({k: head[k] for k in ("latency", "ii", "resources", "utilisation", "budget")})
    rep["estimates"] = {k: e.to_json() for k, e in ests.items()}
    rep.setdefault("sections", []).extend(markdown(e) for e in ests.values())
    plot_budget(ests["verilog"], outdir / "budget.png")
