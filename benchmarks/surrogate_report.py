"""Validation report of the HGCal generative surrogate (issue 5 item 5).

Simulates single particles with the parametrised HGCal model, trains an ensemble of conditional
normalizing flows, and writes report.md, PNGs, metrics.json and the trained models to OUTDIR.
Fits a shared 2-core machine in a few minutes with the defaults.

    python benchmarks/surrogate_report.py /tmp/surrogate_report
    python benchmarks/surrogate_report.py /tmp/surrogate_report --members 5 --train 60000

Same as ``l1ml surrogate report -o OUTDIR``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from l1ml.simulation.surrogate.report import ReportSettings, run_report


def main() -> None:
    """Parse options, run the report, print the verdict."""
    defaults = ReportSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--train", type=int, default=defaults.n_train, help="training particles")
    parser.add_argument("--test", type=int, default=defaults.n_test, help="hold-out particles")
    parser.add_argument("--members", type=int, default=defaults.members, help="ensemble size")
    parser.add_argument("--epochs", type=int, default=defaults.flow.epochs)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--workers", type=int, default=None, help="processes for the simulation")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    settings = replace(defaults, n_train=args.train, n_test=args.test, members=args.members, seed=args.seed,
                       flow=replace(defaults.flow, epochs=args.epochs))
    start = time.perf_counter()
    result = run_report(args.outdir, settings, workers=args.workers, force=args.overwrite)
    print(f"wrote {args.outdir / 'report.md'} in {time.perf_counter() - start:.0f} s")
    print(f"classifier AUC {result.mean_auc:.3f} (target <= 0.65), worst KS {result.worst_ks:.3f} "
          f"(target <= 0.1), speed-up {result.speedup:.0f}x -> {'PASS' if result.passed else 'FAIL'}")


if __name__ == "__main__":
    main()
