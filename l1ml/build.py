"""``l1ml build``: run Vitis/Vivado HLS on the hls4ml project of a compile output, and read its reports.

The tool runs the project's own ``build_prj.tcl`` in ``OUTDIR/hls`` with the step switches hls4ml's
``build()`` passes (``reset csim synth cosim validation export vsynth fifo_opt``): written into
``build_opt.tcl`` for the projects that source it (hls4ml >= 1.1 Vitis, as ``VitisBackend.build`` does),
given as the tcl argument otherwise (``vivado_hls -f build_prj.tcl "reset=0 csim=1 ..."``, as
``VivadoBackend.build`` does). The tool's output goes to ``OUTDIR/build/<tool>.log``; the csynth
reports are read into ``OUTDIR/build.json`` and a side-by-side table of l1ml's hls4ml estimate and the
vendor's numbers in ``report.md``. Without the tool nothing is written: a one-line error says which
tool is missing and how to point at it; ``--dry-run`` prints the exact command instead.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated

import typer

from l1ml.atomic import atomic_file, check_output_file
from l1ml.console import console as console_for
from l1ml.errors import InputFileError, L1MLError
from l1ml.estimate.csynth import CsynthReport, find_report_dirs, locate_report_dir, read_csynth
from l1ml.estimate.csynth_compare import CompareRow, compare, comparison_markdown

BUILD_JSON = "build.json"
BUILD_DIR = "build"
# HLS tools by project backend (project.tcl's `set backend`), in the order they are looked for: vitis_hls
# (Vitis HLS 2020.2-2024.2), vitis-run (Vitis 2024.2+, the command hls4ml 1.3 runs)
TOOLS = {"vitis": ("vitis_hls", "vitis-run"), "vivado": ("vivado_hls",)}
ARGV_TOOLS = {"vitis": ("vitis_hls",), "vivado": ("vivado_hls",)}  # for projects that read their steps from argv
INSTALL_HINT = {"vitis_hls": "source <Xilinx>/Vitis_HLS/<version>/settings64.sh",
                "vivado_hls": "source <Xilinx>/Vivado/<version>/settings64.sh",
                "vivado": "source <Xilinx>/Vivado/<version>/settings64.sh"}
_PHASE = re.compile(r"^\*{5} (.+?) \*{5}\s*$")  # build_prj.tcl's `puts "***** C/RTL SYNTHESIS *****"`


class BuildError(L1MLError):
    """The vendor tool is missing or failed, or the project cannot be built; one line with the remedy."""


@dataclass(frozen=True)
class Steps:
    """Which parts of build_prj.tcl run; ``vsynth`` is --vivado-synth (Vivado synthesis of the RTL)."""

    csim: bool = False
    synth: bool = False
    cosim: bool = False
    export: bool = False
    vsynth: bool = False

    def chosen(self) -> Steps:
        """Nothing asked for means hls4ml's ``build()`` defaults: C simulation and C synthesis."""
        return self if any(getattr(self, f.name) for f in fields(self)) else Steps(csim=True, synth=True)

    def tcl_options(self) -> dict[str, int]:
        """The ``opt`` array of build_prj.tcl, in its order; validation compares csim with cosim results,
        so it runs when both do (hls4ml's ``build(validation=...)``). The order matters for projects that
        read the switches from argv: their ``regexp "$o=+(\\w+)"`` finds ``synth=`` inside ``vsynth=`` too,
        so ``synth`` must come first, as in hls4ml's own command line."""
        return {"reset": 0, "csim": int(self.csim), "synth": int(self.synth), "cosim": int(self.cosim),
                "validation": int(self.csim and self.cosim), "export": int(self.export),
                "vsynth": int(self.vsynth), "fifo_opt": 0}

    def names(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name)]


@dataclass(frozen=True)
class HlsProject:
    """An hls4ml project directory: its top function, the HLS backend it was written for, and whether its
    build_prj.tcl reads the step switches from build_opt.tcl (else from the tcl argument)."""

    dir: Path
    name: str
    backend: str  # "vitis" or "vivado" (hls4ml's lower-case backend name)
    uses_build_opt: bool


def read_project(hls_dir: Path) -> HlsProject:
    """Project name and backend from ``project.tcl`` (where hls4ml records them), else hls4ml_config.yml."""
    hls_dir = Path(hls_dir)
    tcl = hls_dir / "build_prj.tcl"
    if not tcl.is_file():
        raise BuildError(f"{tcl}: no such file; {hls_dir} is not an hls4ml project (run `l1ml compile MODEL.onnx "
                         f"-o OUTDIR` and build OUTDIR)")
    values: dict[str, str] = {}
    project_tcl = hls_dir / "project.tcl"
    if project_tcl.is_file():
        values = dict(re.findall(r'^set (project_name|backend) "([^"]*)"', project_tcl.read_text(errors="replace"),
                                 re.M))
    elif (hls_dir / "hls4ml_config.yml").is_file():
        import yaml

        try:
            doc = yaml.safe_load((hls_dir / "hls4ml_config.yml").read_text(errors="replace")) or {}
        except yaml.YAMLError:
            doc = {}
        if isinstance(doc, dict):
            values = {"project_name": str(doc.get("ProjectName", "")), "backend": str(doc.get("Backend", ""))}
    name, backend = values.get("project_name", ""), values.get("backend", "").lower()
    if not name or backend not in TOOLS:
        raise BuildError(f"{project_tcl}: cannot tell the project's name and HLS backend (need `set project_name "
                         f"\"...\"` and `set backend \"vitis\"` or \"vivado\"); compile the project again with "
                         "`l1ml compile --hls-backend Vitis|Vivado`")
    uses_opt = bool(re.search(r"source \[file join \$tcldir build_opt\.tcl\]", tcl.read_text(errors="replace")))
    return HlsProject(hls_dir, name, backend, uses_opt)


def find_tool(names: tuple[str, ...], tool_path: Path | None) -> Path | None:
    """The first of ``names`` at ``tool_path`` (the program itself, or a directory holding it or a bin/
    holding it) or, without ``tool_path``, on PATH."""
    if tool_path is not None:
        p = Path(tool_path).expanduser()
        if p.is_file():
            return p.absolute() if os.access(p, os.X_OK) else None
        for d in (p, p / "bin"):
            for n in names:
                if (d / n).is_file() and os.access(d / n, os.X_OK):
                    return (d / n).absolute()
        return None
    for n in names:
        found = shutil.which(n)
        if found:
            return Path(found)
    return None


@dataclass(frozen=True)
class BuildPlan:
    """Exactly what ``l1ml build`` runs: the program, its arguments, the directory and build_opt.tcl."""

    project: HlsProject
    steps: Steps
    tool: str  # the program's name
    executable: Path | None  # where it was found; None: not found (a dry run prints the bare name)
    argv: tuple[str, ...]
    build_opt: str | None  # the build_opt.tcl the project gets first, for projects that source it
    vivado: Path | None  # `vivado`, which build_prj.tcl execs for --vivado-synth; None when not needed or missing

    def shell(self) -> str:
        """The commands a user types to run the same build by hand."""
        lines = [f"cd {shlex.quote(str(self.project.dir))}"]
        if self.build_opt is not None:
            lines.append(f"cat > build_opt.tcl <<'EOF'\n{self.build_opt.rstrip()}\nEOF")
        lines.append(shlex.join(self.argv))
        return "\n".join(lines)


def build_opt_text(steps: Steps) -> str:
    """build_opt.tcl as hls4ml's ``VitisBackend.build`` writes it."""
    body = "".join(f"    {k:<10} {v}\n" for k, v in steps.tcl_options().items())
    return "array set opt {\n" + body + "}\n"


def plan_build(hls_dir: Path, steps: Steps, tool_path: Path | None = None, require: bool = True) -> BuildPlan:
    """The build to run for ``steps``; with ``require``, BuildError (one line) when a tool is missing."""
    prj = read_project(hls_dir)
    steps = steps.chosen()
    names = TOOLS[prj.backend] if prj.uses_build_opt else ARGV_TOOLS[prj.backend]
    exe = find_tool(names, tool_path)
    tool = exe.name if exe is not None else names[0]
    vivado = None
    if steps.vsynth:
        vivado = find_tool(("vivado",), exe.parent if exe is not None and tool_path is not None else None)
        vivado = vivado or find_tool(("vivado",), None)
    if require and exe is None:
        raise BuildError(_missing(names, prj, tool_path))
    if require and steps.vsynth and vivado is None:
        raise BuildError(f"vivado not found on PATH (--vivado-synth runs `vivado -mode batch -source vivado_synth.tcl` "
                         f"from the HLS build); {INSTALL_HINT['vivado']} or leave out --vivado-synth")
    prog = str(exe) if exe is not None else tool
    if tool == "vitis-run" and not prj.uses_build_opt:
        raise BuildError(f"{exe}: this project ({prj.dir}) takes its steps as the tcl argument of "
                         "`vitis_hls -f build_prj.tcl`, which vitis-run has no form of; pass --tool-path to vitis_hls")
    if tool == "vitis-run":
        argv: tuple[str, ...] = (prog, "--mode", "hls", "--tcl", "build_prj.tcl")
    elif prj.uses_build_opt:
        argv = (prog, "-f", "build_prj.tcl")
    else:
        argv = (prog, "-f", "build_prj.tcl", " ".join(f"{k}={v}" for k, v in steps.tcl_options().items()))
    return BuildPlan(prj, steps, tool, exe, argv, build_opt_text(steps) if prj.uses_build_opt else None, vivado)


def _missing(names: tuple[str, ...], prj: HlsProject, tool_path: Path | None) -> str:
    kind = "Vitis HLS" if prj.backend == "vitis" else "Vivado HLS"
    alts = " or ".join(names)
    if tool_path is not None:
        where = f"--tool-path {tool_path}: no executable {alts} there (looked at it, in it and in its bin/)"
    else:
        where = f"{alts} not found on PATH"
    return (f"{where}; the project {prj.dir} is a {kind} project. Put the tool on PATH "
            f"({INSTALL_HINT.get(names[0], 'source the Xilinx settings64.sh')}) or pass --tool-path "
            f"/path/to/{names[0]} (or its bin directory); `--dry-run` prints the command without running it")


def run_plan(plan: BuildPlan, log_path: Path, on_line: Callable[[str], None] = lambda s: None) -> int:
    """Run the tool in the project directory; every output line goes to ``log_path`` (put in place when the
    tool ends, whatever its exit code) and to ``on_line``. Returns the exit code."""
    if plan.build_opt is not None:
        with atomic_file(plan.project.dir / "build_opt.tcl") as tmp:
            tmp.write_text(plan.build_opt)
    env = dict(os.environ)
    extra = [str(p.parent) for p in (plan.executable, plan.vivado) if p is not None]
    env["PATH"] = os.pathsep.join([*extra, env.get("PATH", "")])
    with atomic_file(log_path) as tmp, tmp.open("w", encoding="utf-8") as log:
        log.write(f"# {shlex.join(plan.argv)}\n# in {plan.project.dir}\n")
        with subprocess.Popen(plan.argv, cwd=plan.project.dir, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                              bufsize=1) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                on_line(line.rstrip("\n"))
            rc = proc.wait()
    return rc


def phase_of(line: str) -> str | None:
    """The build phase a build_prj.tcl banner line starts ("C/RTL SYNTHESIS"), else None."""
    m = _PHASE.match(line)
    return m.group(1) if m and "COMPLETED IN" not in m.group(1) else None


def l1ml_estimate(outdir: Path):
    """l1ml's hls4ml estimate of a compile output, with its compile options; None for a directory that is
    not one (a plain hls4ml project)."""
    from l1ml.compiled import IR_FILE, OPTIONS_FILE, load_compiled, load_options

    outdir = Path(outdir)
    if not (outdir / IR_FILE).is_file() or not (outdir / OPTIONS_FILE).is_file():
        return None
    return load_options(outdir).estimate(load_compiled(outdir), "hls4ml")


def _shown(path: Path, outdir: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(outdir).resolve()))
    except ValueError:
        return str(path)


def hls4ml_project_of(path: Path, report_dir: Path) -> Path | None:
    """The hls4ml project directory (the one holding ``firmware/``) of ``path`` or of the report directory
    (``<project>/<prj>/solution1/syn/report``); None when neither sits in one."""
    for d in (Path(path), *Path(report_dir).resolve().parents[:4]):
        if (d / "firmware" / "defines.h").is_file():
            return d
    return None


def comparison(outdir: Path, report_dir: Path | None = None) -> tuple[CsynthReport, list[CompareRow], str, str]:
    """Read the reports of ``outdir`` (or ``report_dir``) and pair them with l1ml's estimate: that of the
    compile output ``outdir``, else that of the plain hls4ml project the reports belong to, read back from its
    firmware (``l1ml.frontend.hls4ml_project``). Returns (report, rows, Markdown table, source) where source
    says where the estimate came from, or why there is none ("no estimate: ...")."""
    from l1ml.estimate.csynth_compare import project_estimate
    from l1ml.frontend.hls4ml_project import ProjectNotPriced, read_project_net

    outdir = Path(outdir)
    rdir = locate_report_dir(report_dir if report_dir is not None else outdir)
    report = read_csynth(rdir)
    est = l1ml_estimate(outdir)
    source = "l1ml compile output"
    if est is None:
        project = hls4ml_project_of(outdir, rdir)
        if project is None:
            source = f"no estimate: {outdir} is neither an l1ml compile output nor inside an hls4ml project"
        else:
            try:
                outside = read_project_net(project).outside
                est = project_estimate(project, report.top.clock_target_ns)
                source = (f"hls4ml project {_shown(project, Path.cwd())} read back from its firmware "
                          f"(estimated at its {report.top.clock_target_ns:g} ns clock"
                          + (f"; {', '.join(outside)} left outside the estimate, inside the vendor total" if outside
                             else "") + ")")
            except ProjectNotPriced as e:
                source = f"no estimate: {e}"
    rows = compare(report, est)
    return report, rows, comparison_markdown(report, rows, est is not None, _shown(rdir, outdir)), source


NOT_RUN_SYNTH = "Vitis/Vivado HLS synthesis was not run by l1ml"
NOT_RUN_VIVADO = ("Vivado synthesis and implementation were not run by l1ml: the vendor numbers above are the HLS "
                  "tool's estimates (`l1ml build OUTDIR --vivado-synth` runs Vivado synthesis where it is installed).")


def record(outdir: Path, report: CsynthReport | None, rows: list[CompareRow], table: str | None,
           build: dict | None) -> list[str]:
    """Write ``build.json`` and, with a report, the table into report.md (through report.json, which keeps it
    for later renders); each file replaced in one rename, all checked before the first is written. Returns
    the names written."""
    from l1ml.jsonfile import read_json
    from l1ml.report import render_markdown

    outdir = Path(outdir)
    rep = read_json(outdir / "report.json", "compile report", "run `l1ml compile` again to write it")
    for name in (BUILD_JSON, "report.json", "report.md"):
        check_output_file(outdir / name)
    csynth = None
    if report is not None:
        csynth = report.to_json()
        csynth["report_dir"] = _shown(report.report_dir, outdir)
    doc = {"build": build, "csynth": csynth, "comparison": [r.to_json() for r in rows]}
    files = [(BUILD_JSON, json.dumps(doc, indent=1, sort_keys=True) + "\n")]
    if table is not None:
        rep["vendor_build"] = {"file": BUILD_JSON, "markdown": table}
        kept = [s for s in rep.get("not_run", []) if not s.startswith(NOT_RUN_SYNTH) and s != NOT_RUN_VIVADO]
        rep["not_run"] = [*kept, NOT_RUN_VIVADO]
        files += [("report.json", json.dumps(rep, indent=1, sort_keys=True) + "\n"), ("report.md", render_markdown(rep))]
    for name, text in files:
        with atomic_file(outdir / name) as tmp:
            tmp.write_text(text)
    return [name for name, _ in files]


def check_compile_output(outdir: Path) -> Path:
    """OUTDIR/hls of a compile output, or one line saying what OUTDIR is missing."""
    outdir = Path(outdir)
    if not outdir.is_dir():
        raise InputFileError(f"{outdir}: no such directory; run `l1ml compile MODEL.onnx -o {outdir}` first")
    if not (outdir / "report.json").is_file() or not (outdir / "hls" / "build_prj.tcl").is_file():
        raise InputFileError(f"{outdir}: not an l1ml compile output (needs hls/build_prj.tcl and report.json); run "
                             f"`l1ml compile MODEL.onnx -o {outdir}`, or read an existing report directory with "
                             f"`l1ml build --reports-only {outdir}`")
    return outdir / "hls"



def _console():

    return console_for(), console_for(stderr=True)


def _reports_only(outdir: Path, reports: Path | None) -> None:
    console, _ = _console()
    report, rows, table, source = comparison(outdir, reports)
    console.print(f"estimate: {source}" if not source.startswith("no estimate") else
                  f"{source}; vendor numbers only", markup=False, highlight=False, soft_wrap=True)
    console.print(table, markup=False, highlight=False, soft_wrap=True)
    if source == "l1ml compile output" and (Path(outdir) / "report.json").is_file():
        written = record(outdir, report, rows, table, None)
        console.print(f"recorded in {outdir}/: {', '.join(written)}", markup=False, highlight=False, soft_wrap=True)


def build_cmd(
    outdir: Annotated[Path, typer.Argument(help=(
        "An l1ml compile output (its hls/ holds the hls4ml project); with --reports-only also any hls4ml project "
        "or csynth report directory."))],
    csim: Annotated[bool, typer.Option("--csim", help="C simulation of the project's testbench (tb_data/).")] = False,
    synth: Annotated[bool, typer.Option("--synth", help="C synthesis: RTL and the csynth reports.")] = False,
    cosim: Annotated[bool, typer.Option("--cosim", help="C/RTL co-simulation in the vendor simulator (with --csim "
                                        "also compares both results).")] = False,
    export: Annotated[bool, typer.Option("--export", help="Export the RTL as a Vivado IP (ip_catalog).")] = False,
    vivado_synth: Annotated[bool, typer.Option("--vivado-synth", help=(
        "Vivado synthesis of the HLS RTL (vivado_synth.tcl; needs `vivado` on PATH).")) ] = False,
    tool_path: Annotated[Path | None, typer.Option("--tool-path", help=(
        "The HLS program (vitis_hls, vitis-run or vivado_hls) or the directory holding it, when it is not on "
        "PATH."))] = None,
    reports_only: Annotated[bool, typer.Option("--reports-only", help=(
        "Run nothing: read the csynth reports under OUTDIR (or --reports DIR) and print them beside l1ml's "
        "estimate."))] = False,
    reports: Annotated[Path | None, typer.Option("--reports", help=(
        "With --reports-only: the report directory (*_prj/solution1/syn/report) to read."))] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=(
        "Print the exact commands the build would run, and run nothing (works without the tool)."))] = False,
) -> None:
    """Run Vitis HLS (or Vivado HLS for `--hls-backend Vivado`) on OUTDIR/hls, save the tool log in
    OUTDIR/build/, and put the csynth numbers beside l1ml's hls4ml estimate in OUTDIR/build.json and
    report.md. No step given: --csim --synth (hls4ml's build() defaults).

    Examples: l1ml build out --synth · l1ml build out --synth --tool-path /tools/Xilinx/Vitis_HLS/2023.2/bin ·
    l1ml build --reports-only ../shared/vendor/vitis2022.2_jet_tagger/hls4ml_prj
    """
    steps = Steps(csim, synth, cosim, export, vivado_synth)
    if reports_only:
        if steps.names() or tool_path is not None or dry_run:
            raise L1MLError("--reports-only runs nothing: leave out --csim/--synth/--cosim/--export/--vivado-synth, "
                            "--tool-path and --dry-run, or drop --reports-only to run the tool")
        _reports_only(outdir, reports)
        return
    if reports is not None:
        raise L1MLError("--reports DIR goes with --reports-only (a build reads the reports it writes under OUTDIR/hls)")
    hls = check_compile_output(outdir)
    plan = plan_build(hls, steps, tool_path, require=not dry_run)
    console, _ = _console()
    if dry_run:
        state = f"found at {plan.executable}" if plan.executable else "NOT found here"
        console.print(f"dry run: nothing was run or written. {plan.tool} {state}; steps "
                      f"{', '.join(plan.steps.names())}. The build is:", markup=False, highlight=False, soft_wrap=True)
        console.print(plan.shell(), markup=False, highlight=False, soft_wrap=True)
        return
    _run(outdir, plan, console)


def _run(outdir: Path, plan: BuildPlan, console) -> None:
    outdir = Path(outdir)
    log = outdir / BUILD_DIR / f"{plan.tool}.log"
    for p in (log, outdir / BUILD_JSON, outdir / "report.json", outdir / "report.md"):
        check_output_file(p)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    phase, last, error = "project setup", "", ""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        # one unit per step; each ends with build_prj.tcl's "***** <STEP> COMPLETED IN 0h1m5s *****"
        task = bar.add_task(f"{plan.tool}: {phase}", total=len(plan.steps.names()))

        def on_line(line: str) -> None:
            nonlocal phase, last, error
            text = line.strip()
            if not error and (text.startswith("ERROR") or text == "while executing"):
                # the vendor's "ERROR: [HLS ...]" line, or the message above a tcl error trace
                error = text if text.startswith("ERROR") else last
            if text:
                last = text
            phase = phase_of(line) or phase
            if "COMPLETED IN" in line:
                bar.advance(task)
                bar.console.print(f"  {text.strip(' *').lower()}", markup=False, highlight=False)
            bar.update(task, description=f"{plan.tool}: {phase} · {last[:60]}")

        rc = run_plan(plan, log, on_line)
    build = {"tool": plan.tool, "executable": str(plan.executable), "argv": list(plan.argv), "cwd": "hls",
             "steps": plan.steps.names(), "tcl_options": plan.steps.tcl_options(), "returncode": rc,
             "log": f"{BUILD_DIR}/{log.name}"}
    if rc != 0:
        record(outdir, None, [], None, build)
        raise BuildError(f"{plan.tool} exited with code {rc} during {phase}; the log is {log} (first error: "
                         f"{(error or last)[:200]})")
    report = rows = table = None
    if find_report_dirs(outdir / "hls"):
        report, rows, table, _ = comparison(outdir)
    elif plan.steps.synth:
        raise BuildError(f"{plan.tool} finished but wrote no csynth report under {outdir}/hls; see {log}")
    written = record(outdir, report, rows or [], table, build)
    console.print(f"{plan.tool} finished ({', '.join(plan.steps.names())}); log {log}; wrote "
                  f"{', '.join(written)}", markup=False, highlight=False, soft_wrap=True)
    if table is not None:
        console.print(table, markup=False, highlight=False, soft_wrap=True)
