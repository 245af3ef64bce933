"""l1ml's hls4ml estimate of the vendor fixture (16-64-32-32-5 jet tagger, Vitis HLS 2022.2) beside its
csynth reports, per layer and in total: the table of docs/estimation.md.

    python benchmarks/hls4ml_vs_csynth.py [--vendor ../shared/vendor] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from l1ml.models.vendor_jet_tagger import (
    FIXTURE,
    csynth_figures,
    error,
    estimate_figures,
    estimate_fixture,
    vendor_dir,
)

KEYS = ("LUT", "FF", "DSP", "BRAM", "latency", "II")


def cell(est: float, ref: float) -> str:
    e = error(est, ref)
    if e is None:
        return f"{ref:,.0f} / {est:,.0f}" + ("" if round(est) == 0 else " (ref. 0)")
    return f"{ref:,.0f} / {est:,.0f} ({e:+.1f} %)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vendor", type=Path, default=vendor_dir(Path(__file__).resolve().parents[1]))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    project = args.vendor / FIXTURE
    ref_layers, rest, ref_total = csynth_figures(project)
    est_layers, est_total = estimate_figures(estimate_fixture(project))
    exact_total = estimate_figures(estimate_fixture(project, exact=True))[1]
    print("| layer | " + " | ".join(f"{k} csynth / est." for k in KEYS) + " |")
    print("|---" * (len(KEYS) + 1) + "|")
    doc = {"layers": {}, "rest_of_top": rest.values(), "total": {}}
    for name, ref in ref_layers.items():
        est = est_layers[name]
        print(f"| {name} | " + " | ".join(cell(est.values()[k], ref.values()[k]) for k in KEYS) + " |")
        doc["layers"][name] = {"csynth": ref.values(), "estimate": est.values()}
    print("| top (input hold register, control) | " + " | ".join(cell(0, rest.values()[k]) if k in ("LUT", "FF")
                                                               else "" for k in KEYS) + " |")
    print("| **total** | " + " | ".join(cell(est_total.values()[k], ref_total.values()[k]) for k in KEYS) + " |")
    print("\nl1ml's own exact types (29-bit accumulators, saturating casts): "
          + ", ".join(f"{k} {v:,.0f}" for k, v in exact_total.values().items()))
    doc["total"] = {"csynth": ref_total.values(), "estimate": est_total.values(), "exact_types": exact_total.values()}
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
