"""The fuzz oracle: run one case through the real CLI in subprocesses and classify what happened.

Each case gets a fresh directory with a canary tree of user files (hashed before and after), the model
(valid or mutated) and an output directory. ``l1ml compile`` runs first; a compiled model then goes
through ``l1ml verify`` (levels qonnx,hls by default), its generated Verilog/C++/tcl is scanned for
injected code and the Verilog is linted with Verilator. One outcome per case, the first that applies:

files destroyed > broken or injected generated code > hang > crash > silently wrong > partial output >
other > named refusal | bit-exact.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from tests.fuzz import mutations as mu
from tests.fuzz.cases import Case

ROOT = Path(__file__).resolve().parents[2]
COMPILE_TIMEOUT = 60.0  # a tiny model compiles in ~2 s; a refusal takes ~1 s
VERIFY_TIMEOUT = 300.0  # hls C-sim builds with g++: ~5-15 s here, more on a loaded machine
MEMORY_LIMIT = 6 << 30  # bytes of address space per CLI process: /dev/zero must not eat the machine
TEMP_LEFTOVER = re.compile(r"^\..*\.(tmp|old)-")


class Outcome(Enum):
    REFUSAL = "named refusals"
    EXACT = "bit-exact"
    CRASH = "crashes"
    HANG = "hangs"
    PARTIAL = "partial outputs"
    WRONG = "silently wrong"
    INJECTED = "broken or injected generated code"
    DESTROYED = "files destroyed"
    OTHER = "other"

    @property
    def ok(self) -> bool:
        return self in (Outcome.REFUSAL, Outcome.EXACT)


SEVERITY = [Outcome.DESTROYED, Outcome.INJECTED, Outcome.HANG, Outcome.CRASH, Outcome.WRONG, Outcome.PARTIAL,
            Outcome.OTHER, Outcome.REFUSAL, Outcome.EXACT]


@dataclass
class Step:
    argv: list[str]
    cwd: str
    rc: int | None  # None: timed out
    seconds: float
    stderr: str


@dataclass
class Result:
    index: int
    case: Case
    outcome: Outcome
    reasons: list[str]
    steps: list[Step] = field(default_factory=list)
    seconds: float = 0.0
    repro: str = ""

    def to_json(self) -> dict:
        return {"index": self.index, "family": self.case.family, "label": self.case.label(),
                "outcome": self.outcome.value, "reasons": self.reasons, "seconds": round(self.seconds, 2),
                "case": repr(self.case), "repro": self.repro,
                "steps": [{"argv": s.argv, "cwd": s.cwd, "rc": s.rc, "seconds": round(s.seconds, 2),
                           "stderr_tail": s.stderr[-2000:]} for s in self.steps]}


@dataclass
class Plan:
    """What to run for a case, after its files are in place."""

    cwd: Path
    model: str
    out: str
    compile_extra: list[str] = field(default_factory=list)
    verify_extra: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    precompile: bool = False  # compile once before the snapshot (the output is then l1ml's own)


# ------------------------------------------------------------------------------------- setup
def _canary(work: Path, seed: int) -> None:
    """The user's own files: they must be byte-identical after every command."""
    import numpy as np

    user = work / "user"
    (user / "sub").mkdir(parents=True)
    (user / "notes.txt").write_text("my notes: do not delete\n")
    (user / "data.csv").write_text("a,b\n1,2\n")
    (user / "sub" / "deep.bin").write_bytes(np.random.default_rng(seed).bytes(512))


def prepare(case: Case, work: Path, seed: int) -> Plan:
    """Write the canary tree and the case's model into ``work``; return the commands' arguments."""
    import onnx

    from tests.fuzz.strategies import write_model

    _canary(work, seed)
    mdir = work / "m"
    mdir.mkdir()
    (mdir / "README.txt").write_text("the user's notes beside the model\n")
    valid = write_model(case.model, mdir / "model.onnx")
    plan = Plan(cwd=work, model=str(valid), out=str(work / "out"))
    if case.kind in mu.MODEL_MUTATIONS:
        onnx.save(mu.mutate_model(onnx.load(str(valid)), case.kind, case.param), str(valid))
    elif case.kind == "file":
        plan.model = mu.write_bad_file(case.param, valid, mdir / f"bad_{case.param}.onnx", seed)
    elif case.kind == "cli":
        cmd, opt, value = mu.CLI_OPTIONS[int(case.param)]
        (plan.compile_extra if cmd == "compile" else plan.verify_extra).extend([opt, value])
    elif case.kind == "outdir":
        _outdir(case.param, work, plan)
    elif case.kind:
        raise ValueError(f"unknown mutation kind {case.kind}")
    return plan


def _outdir(kind: str, work: Path, plan: Plan) -> None:
    user = work / "user"
    if kind == "dot":
        plan.out = "."
    elif kind == "dotdot":
        plan.cwd, plan.out = user / "sub", ".."
    elif kind == "model_dir":
        plan.out = str(work / "m")
    elif kind == "user_dir":
        plan.out = str(user)
    elif kind == "symlink":
        (work / "link").symlink_to(user, target_is_directory=True)
        plan.out = str(work / "link")
    elif kind == "existing_file":
        plan.out = str(user / "notes.txt")
    elif kind == "home":
        plan.env["HOME"] = str(user)
        plan.out = str(user)
    elif kind == "recompile":
        plan.precompile = True
    elif kind == "nested_new":
        plan.out = str(work / "new" / "a" / "b")
    elif kind == "inside_user_dir":
        plan.out = str(user / "fresh_out")
    elif kind == "model_file":
        plan.out = plan.model
    else:
        raise ValueError(kind)


# ------------------------------------------------------------------------------------- running
def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cli(args: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> Step:
    """``l1ml ARGS`` as a user runs it (this checkout's l1ml), in its own process group, killed on timeout."""
    argv = [sys.executable, "-m", "l1ml.cli", *args]
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cache = Path(tempfile.gettempdir()) / "l1ml-fuzz-cache"  # not $HOME: the home case points it at user files
    e.update({"OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "COLUMNS": "200", "MPLCONFIGDIR": str(cache / "mpl"),
              "XDG_CACHE_HOME": str(cache), **(env or {})})
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, cwd=cwd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_limits)
    try:
        _, err = p.communicate(timeout=timeout)
        rc: int | None = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
        rc = None
    return Step(["l1ml", *args], str(cwd), rc, time.perf_counter() - t0, err.decode(errors="replace"))


def snapshot(top: Path) -> dict[str, tuple]:
    """Every path under ``top`` (symlinks not followed) with its kind and content hash."""
    out: dict[str, tuple] = {}
    if not top.exists():
        return out
    for dirpath, dirs, files in os.walk(top):
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = str(p.relative_to(top))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir",)
            elif p.is_file():
                out[rel] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[rel] = ("special",)
    return out


def _step_failure(step: Step) -> tuple[Outcome, str] | None:
    """HANG/CRASH for a step, or None if it exited 0/1/2 without a traceback."""
    if step.rc is None:
        return Outcome.HANG, f"{step.argv[1]} timed out after {step.seconds:.0f} s"
    if "Traceback (most recent call last)" in step.stderr:
        last = [ln for ln in step.stderr.strip().splitlines() if ln.strip()][-1]
        return Outcome.CRASH, f"{step.argv[1]} exit {step.rc} with a traceback: {last.strip()[:300]}"
    if step.rc not in (0, 1, 2):
        return Outcome.CRASH, f"{step.argv[1]} exit {step.rc}: {step.stderr.strip()[-300:]}"
    return None


def named_error(stderr: str) -> str | None:
    """The one-line `error: ...` (or Click's `Error: ...` usage error) of a refusal, else None."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("error: ") or ln.startswith("Error: "):
            return ln
    return None


# C-like comments (and, for the keyword patterns, string literals) are removed before the marker search;
# tcl comments too. A preprocessor line is matched with its string kept: `#include "L1MLFUZZ.h"`.
_CLIKE = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"', re.S)
_TCL_COMMENT = re.compile(r"^\s*#[^\n]*", re.M)
_VERILOG = re.compile(rf"\bmodule\s+{mu.MARKER}")
_CXX = re.compile(rf"\bint\s+{mu.MARKER}")
_CXX_INCLUDE = re.compile(rf'^[ \t]*#\s*include\s*"{mu.MARKER}', re.M)
_TCL = re.compile(rf"\bputs\s+{mu.MARKER}")
LANGUAGE = {".v": "verilog", ".sv": "verilog", ".cpp": "cxx", ".cc": "cxx", ".h": "cxx", ".hpp": "cxx",
            ".tcl": "tcl"}


def _strip_clike(text: str, keep_strings: bool) -> str:
    return _CLIKE.sub(lambda m: m.group(0) if keep_strings and m.group(0).startswith('"') else " ", text)


def injected_lines(out: Path) -> list[str]:
    """Generated Verilog, C++ and tcl that is code written by a model name or an option, not by us."""
    hits = []
    for p in sorted(out.rglob("*")):
        lang = LANGUAGE.get(p.suffix)
        if lang is None or not p.is_file() or p.is_symlink():
            continue
        text = p.read_text(errors="replace")
        if lang == "tcl":
            found = [(_TCL_COMMENT.sub("", text), _TCL)]
        elif lang == "verilog":
            found = [(_strip_clike(text, False), _VERILOG)]
        else:
            found = [(_strip_clike(text, False), _CXX), (_strip_clike(text, True), _CXX_INCLUDE)]
        for code, pat in found:
            for m in pat.finditer(code):
                hits.append(f"{p.relative_to(out)}: {code[max(0, m.start() - 20): m.end() + 20]!r}")
    return hits


def lint_verilog(out: Path) -> str | None:
    """Verilator --lint-only on the generated RTL (errors only); the error text, or None if clean."""
    flist = out / "rtl" / "filelist.f"
    tool = Path(sys.executable).parent / "verilator-cli"
    if not flist.exists() or not tool.exists():
        return None
    files = [str(out / "rtl" / f) for f in flist.read_text().split() if f.endswith((".v", ".sv"))]
    try:
        r = subprocess.run([str(tool), "--lint-only", "-Wno-fatal", *files], cwd=out / "rtl", timeout=120,
                           capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        return "verilator lint timed out"
    if r.returncode != 0:
        errs = [ln for ln in r.stderr.splitlines() if "%Error" in ln]
        return (errs[0] if errs else r.stderr.strip()[-300:])[:300]
    return None


def verify_outcome(out: Path, step: Step) -> tuple[Outcome, str]:
    """Classify a finished ``l1ml verify`` from its exit code and verify.json."""
    if step.rc == 2:
        msg = named_error(step.stderr)
        return (Outcome.REFUSAL, f"verify refused: {msg}") if msg else (
            Outcome.CRASH, f"verify exit 2 without a named error: {step.stderr.strip()[-200:]}")
    doc_path = out / "verify.json"
    if not doc_path.exists():
        return Outcome.CRASH, f"verify exit {step.rc} and no verify.json"
    try:
        levels = json.loads(doc_path.read_text())["levels"]
    except (ValueError, KeyError) as e:
        return Outcome.CRASH, f"unreadable verify.json ({e})"
    explained, wrong = [], []
    for name, lv in sorted(levels.items()):
        if not lv.get("mismatches"):
            continue
        rounding = any("round" in k and v for k, v in lv.items() if k != "mismatches") or \
            ("float32" in str(lv.get("note", "")) and "round" in str(lv.get("note", "")))
        if name == "qonnx" and rounding:
            explained.append(f"qonnx {lv['mismatches']}/{lv['vectors']} explained as float32 rounding")
        else:
            wrong.append(f"{name}: {lv['mismatches']}/{lv['vectors']} mismatches; "
                         + "; ".join(lv.get("first_mismatches", [])[:2]))
    if wrong:
        return Outcome.WRONG, " | ".join(wrong)
    if step.rc == 0:
        return Outcome.EXACT, "; ".join(["0 mismatches", *explained])
    if explained:
        return Outcome.OTHER, "verify exits 1 on differences it explains: " + "; ".join(explained)
    return Outcome.CRASH, "verify exit 1 with 0 mismatches at every level"


def run_case(index: int, case: Case, root: Path, keep: Path | None = None) -> Result:
    """Run ``case`` in ``root/case-INDEX`` and classify it; failing cases are copied to ``keep``. A case
    the harness itself cannot set up (a generator bug, not l1ml's) is reported as OTHER, never dropped."""
    t0 = time.perf_counter()
    work = root / f"case-{index:04d}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        plan = prepare(case, work, seed=index)
    except Exception as e:  # noqa: BLE001 - any setup failure is reported with the case
        shutil.rmtree(work, ignore_errors=True)
        return Result(index, case, Outcome.OTHER, [f"OTHER: case setup failed: {type(e).__name__}: {e}"[:400]],
                      seconds=time.perf_counter() - t0)
    steps: list[Step] = []
    found: list[tuple[Outcome, str]] = []
    compile_args = ["compile", plan.model, "-o", plan.out, *plan.compile_extra]
    if plan.precompile:
        steps.append(run_cli(compile_args, plan.cwd, COMPILE_TIMEOUT, plan.env))
    before = snapshot(work)
    if plan.precompile:  # l1ml's own earlier output may be replaced
        rel = str(Path(plan.out).resolve().relative_to(work.resolve()))
        before = {k: v for k, v in before.items() if k != rel and not k.startswith(rel + os.sep)}
    step = run_cli(compile_args, plan.cwd, COMPILE_TIMEOUT, plan.env)
    steps.append(step)
    out = (plan.cwd / plan.out).resolve() if not Path(plan.out).is_absolute() else Path(plan.out)
    fail = _step_failure(step)
    if fail:
        found.append(fail)
    elif step.rc == 1:
        found.append((Outcome.CRASH, f"compile exit 1: {step.stderr.strip()[-300:]}"))
    elif step.rc == 2:
        msg = named_error(step.stderr)
        found.append((Outcome.REFUSAL, msg) if msg else
                     (Outcome.CRASH, f"compile exit 2 without a named error: {step.stderr.strip()[-300:]}"))
        new = sorted(set(snapshot(work)) - set(before))
        if new:
            found.append((Outcome.PARTIAL, f"refused compile left {new[:5]}"))
    else:
        hits = injected_lines(out) if out.is_dir() else []
        if hits:
            found.append((Outcome.INJECTED, f"injected code in {hits[:3]}"))
        lint = lint_verilog(out) if out.is_dir() else None
        if lint:
            found.append((Outcome.INJECTED, f"generated Verilog does not lint: {lint}"))
        vargs = ["verify", plan.out, "--levels", case.levels, "--vectors", str(case.vectors), *plan.verify_extra]
        vstep = run_cli(vargs, plan.cwd, VERIFY_TIMEOUT, plan.env)
        steps.append(vstep)
        found.append(_step_failure(vstep) or verify_outcome(out, vstep))
    after = snapshot(work)
    changed = sorted(k for k, v in before.items() if after.get(k) != v)
    if changed:
        found.append((Outcome.DESTROYED, f"pre-existing paths changed or removed: {changed[:6]}"))
    leftovers = sorted(k for k in set(after) - set(before) if TEMP_LEFTOVER.match(Path(k).name))
    if leftovers:
        found.append((Outcome.PARTIAL, f"temporary files left: {leftovers[:4]}"))
    found.sort(key=lambda f: SEVERITY.index(f[0]))
    outcome = found[0][0]
    res = Result(index, case, outcome, [f"{o.name}: {r}" for o, r in found], steps, time.perf_counter() - t0)
    res.repro = reproducer(case, plan, work)
    if keep is not None and not outcome.ok:
        _keep(res, work, plan, keep)
    shutil.rmtree(work, ignore_errors=True)
    return res


def reproducer(case: Case, plan: Plan, work: Path) -> str:
    """Shell lines that replay the case from a directory holding its saved model (./m/...)."""
    def rel(p: str) -> str:
        return p.replace(str(work) + os.sep, "").replace(str(work), ".")

    env = "".join(f"{k}={rel(v)} " for k, v in plan.env.items())
    cd = f"cd {rel(str(plan.cwd))} && " if plan.cwd != work else ""
    model = rel(plan.model)
    cmd = [f"{cd}{env}l1ml compile {_q(model)} -o {_q(rel(plan.out))} {' '.join(map(_q, plan.compile_extra))}".rstrip(),
           f"{cd}{env}l1ml verify {_q(rel(plan.out))} --levels {case.levels} --vectors {case.vectors} "
           f"{' '.join(map(_q, plan.verify_extra))}".rstrip()]
    return "\n".join(cmd)


def _q(s: str) -> str:
    import shlex

    return shlex.quote(s)


def _keep(res: Result, work: Path, plan: Plan, keep: Path) -> None:
    """Save the failing case's model and its reproducer under ``keep/INDEX-family``."""
    dest = keep / f"{res.index:04d}-{re.sub(r'[^a-z0-9]+', '-', res.case.family.lower()).strip('-')}"
    dest.mkdir(parents=True, exist_ok=True)
    model = Path(plan.model)
    if model.is_file() and not model.is_symlink() and model.stat().st_size < 8 << 20 and str(model).startswith(
            str(work)):
        (dest / "m").mkdir(exist_ok=True)
        shutil.copy2(model, dest / "m" / model.name)
    setup = ("# the case directory held user files (user/notes.txt, user/data.csv, user/sub/deep.bin), "
             "m/README.txt and the model m/model.onnx (saved here when it is a regular file)\n")
    (dest / "repro.sh").write_text("# " + res.case.label() + "\n# " + repr(res.case) + "\n# "
                                   + "\n# ".join(res.reasons) + "\n" + setup + res.repro + "\n")
