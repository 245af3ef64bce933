"""Fuzz profiles and the reliability table.

FAST (``make test``, tests/fuzz/test_fuzz_fast.py): 18 cases, a few through hls C-simulation.
LONG (``make fuzz``): 329 cases across every family, run on a process pool of at most 2 workers, counts
printed and the table written into docs/reliability.md:

    python -m tests.fuzz.profile --profile long --workers 2 --doc docs/reliability.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from tests.fuzz.cases import FAMILIES, Case, draw_cases
from tests.fuzz.harness import ROOT, Outcome, Result, run_case

FAST = {
    "Brevitas MLP (fixed point)": 2, "QONNX MLP (bits 1-24, all roundings)": 1,
    "residual (Add of two branches)": 1, "float scales (Brevitas defaults)": 1, "graph structure": 2,
    "shapes": 1, "non-finite constants": 1, "Quant bit widths": 1, "extreme scales": 1, "names (injection)": 1,
    "files that are not models": 2, "CLI options": 2, "output directories": 2,
}
LONG = {  # 329 cases; valid models (hls C-sim, ~10 s each unloaded) are 184 of them, refusals ~3 s
    "Brevitas MLP (fixed point)": 30, "Brevitas CNN": 12, "residual (Add of two branches)": 10,
    "float scales (Brevitas defaults)": 10, "QONNX MLP (bits 1-24, all roundings)": 35, "QONNX CNN": 12,
    "graph structure": 30, "shapes": 20, "non-finite constants": 12, "Quant bit widths": 24, "extreme scales": 27,
    "names (injection)": 30, "files that are not models": 20, "CLI options": 24, "output directories": 33,
}
PROFILES = {"fast": FAST, "long": LONG}
COLUMNS = [Outcome.REFUSAL, Outcome.EXACT, Outcome.CRASH, Outcome.HANG, Outcome.PARTIAL, Outcome.WRONG,
           Outcome.INJECTED, Outcome.DESTROYED, Outcome.OTHER]


def _job(args: tuple[int, Case, str, str | None]) -> Result:
    index, case, root, keep = args
    return run_case(index, case, Path(root), Path(keep) if keep else None)


def run_profile(cases: list[tuple[int, Case]], workers: int = 2, keep: Path | None = None,
                progress=print) -> list[Result]:
    """Run every (index, case) (``workers`` processes, at most 2 on this machine); results in order."""
    with tempfile.TemporaryDirectory(prefix="l1ml-fuzz-") as root:
        jobs = [(i, c, root, str(keep) if keep else None) for i, c in cases]
        results: list[Result] = []
        if workers <= 1:
            it = map(_job, jobs)
            for r in it:
                results.append(r)
                progress(_line(r, len(cases)))
            return results
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            for r in pool.map(_job, jobs):
                results.append(r)
                progress(_line(r, len(cases)))
    return results


def _line(r: Result, n: int) -> str:
    tail = "" if r.outcome.ok else f"  <- {r.reasons[0][:160]}"
    return f"[#{r.index:4d}, {n} to run] {r.outcome.value:>16}  {r.seconds:6.1f} s  {r.case.label()[:70]}{tail}"


def table(results: list[Result]) -> str:
    """The reliability table in Markdown: one row per family, one column per outcome, and totals."""
    by: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        by[r.case.family][r.outcome] += 1
    fams = [f for f in FAMILIES if f in by]
    head = "| family | cases | " + " | ".join(c.value for c in COLUMNS) + " |"
    rows = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    total: Counter = Counter()
    for f in fams:
        total.update(by[f])
        rows.append(f"| {f} | {sum(by[f].values())} | " + " | ".join(str(by[f][c]) for c in COLUMNS) + " |")
    rows.append(f"| **all** | **{len(results)}** | " + " | ".join(f"**{total[c]}**" for c in COLUMNS) + " |")
    return "\n".join(rows)


def timing(results: list[Result]) -> str:
    """Mean and max seconds per family (case setup + every CLI call), for planning the profile."""
    by: dict[str, list[float]] = defaultdict(list)
    for r in results:
        by[r.case.family].append(r.seconds)
    rows = ["| family | cases | mean s | max s |", "|---|---|---|---|"]
    for f in [f for f in FAMILIES if f in by]:
        v = by[f]
        rows.append(f"| {f} | {len(v)} | {sum(v) / len(v):.1f} | {max(v):.1f} |")
    return "\n".join(rows)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_doc(path: Path, results: list[Result], command: str, wall: float, workers: int) -> None:
    """Replace the generated part of docs/reliability.md (between the markers) with this run's table."""
    start, end = "<!-- fuzz-table:start -->", "<!-- fuzz-table:end -->"
    failures = [r for r in results if not r.outcome.ok]
    lines = [start, "",
             f"Generated by `{command}` on {datetime.date.today().isoformat()} (commit {_commit()}, "
             f"{len(results)} cases, {workers} workers, {wall / 60:.1f} min wall time on {os.cpu_count()} cores, "
             f"Python {platform.python_version()}). Do not edit by hand: rerun the command.", "",
             table(results), "", "Seconds per case (setup, compile, verify, scans):", "", timing(results), ""]
    if failures:
        lines += [f"### Failing cases ({len(failures)})", "",
                  "Each replays from the saved model in `fuzz_out/failures/INDEX-family/` (`repro.sh`).", ""]
        for r in failures:
            lines.append(f"- #{r.index} {r.case.label()[:90]}: **{r.outcome.value}**: {r.reasons[0][:220]}")
        lines.append("")
    lines.append(end)
    block = "\n".join(lines)
    text = path.read_text() if path.exists() else ""
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = (text.rstrip() + "\n\n" if text else "") + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="long")
    ap.add_argument("--workers", type=int, default=2, help="parallel cases (the machine has 2 cores)")
    ap.add_argument("--limit", type=int, default=0, help="run only every k-th case so that about N remain")
    ap.add_argument("--only", type=str, default="", help="comma-separated case indices to replay")
    ap.add_argument("--doc", type=Path, help="write the table into this Markdown file")
    ap.add_argument("--keep", type=Path, default=ROOT / "fuzz_out", help="failing cases and results.jsonl")
    a = ap.parse_args(argv)
    cases = draw_cases(PROFILES[a.profile])
    picked = list(range(len(cases)))
    if a.only:
        picked = [int(i) for i in a.only.split(",")]
    elif a.limit and a.limit < len(cases):
        picked = [round(i * len(cases) / a.limit) for i in range(a.limit)]
    a.keep.mkdir(parents=True, exist_ok=True)
    print(f"{a.profile} profile: {len(picked)} of {len(cases)} cases, {a.workers} workers", flush=True)
    t0 = time.perf_counter()
    shutil.rmtree(a.keep / "failures", ignore_errors=True)
    results = run_profile([(i, cases[i]) for i in picked], a.workers, a.keep / "failures",
                          progress=lambda s: print(s, flush=True))
    wall = time.perf_counter() - t0
    with open(a.keep / "results.jsonl", "w") as f:
        for r in results:
            f.write(json.dumps(r.to_json()) + "\n")
    print(table(results))
    print(f"{len(results)} cases in {wall / 60:.1f} min; details in {a.keep / 'results.jsonl'}")
    if a.doc:
        cmd = "make fuzz" if a.profile == "long" and not a.only and not a.limit else " ".join(
            ["python -m tests.fuzz.profile", *(argv if argv is not None else sys.argv[1:])])
        write_doc(a.doc, results, cmd, wall, a.workers)
        print(f"table written to {a.doc}")
    return 0 if all(r.outcome.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
