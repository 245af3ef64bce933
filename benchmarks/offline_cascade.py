"""Cascade-vs-single comparison and feature-selection findings on the offline toys, as Markdown.

Runs the real `l1ml offline select` and `cascade` workflows on freshly generated toys for several
seeds (everything is written to a temporary directory and deleted) and prints tables to paste into
an issue note.

    python benchmarks/offline_cascade.py                 # 3 selection seeds, 5 cascade seeds
    python benchmarks/offline_cascade.py --seeds 2 --quick
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from l1ml.offline.cascade import run_cascade  # noqa: E402
from l1ml.offline.config import ToyKind, load_config  # noqa: E402
from l1ml.offline.select import run_select  # noqa: E402
from l1ml.offline.toy import write_toy  # noqa: E402


def _config(directory: Path, name: str, raw: dict) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _pm(values: list[float], digits: int = 4) -> str:
    arr = np.asarray(values)
    return f"{arr.mean():.{digits}f} ± {arr.std(ddof=1) if len(arr) > 1 else 0.0:.{digits}f}"


def selection_findings(work: Path, seeds: int, events: int, epochs: int) -> None:
    print(f"## Feature selection on the `features` toy ({events} events, {seeds} seeds)\n")
    rows, first = [], None
    for seed in range(seeds):
        table, truth_path = write_toy(ToyKind.FEATURES, work / f"features_{seed}.parquet", events, seed)
        truth = yaml.safe_load(truth_path.read_text())
        config = _config(
            work,
            f"select_{seed}.yaml",
            {
                "data": {"path": str(table), "label": "label", "weight": "weight", "signal": 1},
                "model": {"layers": 2, "width": 32, "dropout": 0.1},
                "train": {"epochs": epochs, "batch_size": 256, "patience": 6, "seed": seed},
                "selection": {
                    "threshold": 0.2,
                    "scan": [0.0, 0.2, 0.6, 0.8, 0.9],
                    "repeats": 5,
                    "seed": seed,
                },
            },
        )
        start = time.time()
        m = run_select(load_config(config), work / f"select_{seed}")
        order = [i["name"] for i in m["importance_all"]]
        informative_first = max(order.index(f) for f in truth["informative"]) < min(
            order.index(f) for f in truth["noise"]
        )
        groups = sorted(sorted(c) for c in m["clusters"] if len(c) > 1)
        reduced = [i["name"] for i in m["importance_selected"]]
        k = len(truth["informative"])
        dup_of = {**{f: f for f in truth["informative"]}, **truth["duplicates"]}
        reduced_first = all(dup_of.get(f) in truth["informative"] for f in reduced[:k])
        full = next(p for p in m["scan"] if p["threshold"] == 0.0)["test"]
        planted = sorted(sorted(g) for g in truth["groups"])
        rows.append(
            [
                seed,
                informative_first,
                groups == planted,
                reduced_first,
                full["auc"],
                full["auc_unweighted"],
                time.time() - start,
            ]
        )
        first = first or (m, truth)
    print(
        "| seed | informative above all noise (all features) | clusters == planted groups "
        "| informative first (reduced set) | test AUC weighted | test AUC unweighted | seconds |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.4f} | {r[5]:.4f} | {r[6]:.0f} |")
    m, truth = first
    print(
        f"\nPlanted: informative {truth['informative']} (strongest first, unweighted), "
        f"noise {truth['noise']}, duplicate groups {truth['groups']}; weighted AUC expected "
        f"{truth['weighted_auc_expected']}.\n"
    )
    print("Seed 0, permutation importance (weighted AUC drop on the validation split, mean ± std of 5):\n")
    print("| feature | all features | | reduced set |\n|---|---|---|---|")
    reduced = {i["name"]: i for i in m["importance_selected"]}
    for i in m["importance_all"]:
        r = reduced.get(i["name"])
        red = f"{r['mean']:.4f} ± {r['std']:.4f}" if r else "(dropped)"
        print(f"| {i['name']} | {i['mean']:.4f} ± {i['std']:.4f} | | {red} |")
    print("\nSeed 0, clusters at cut 0.2: " + "; ".join("{" + ", ".join(c) + "}" for c in m["clusters"]))
    print("\nSeed 0, cut scan (test split):\n\n| cut 1-abs(rho) | features | weighted AUC | accuracy |")
    print("|---|---|---|---|")
    for p in m["scan"]:
        test = p["test"]
        print(f"| {p['threshold']:g} | {p['n_features']} | {test['auc']:.4f} | {test['accuracy']:.4f} |")
    print()


def cascade_comparison(work: Path, seeds: int, events: int, epochs: int) -> None:
    print(f"## Cascade vs single network on the `multibackground` toy ({events} events, {seeds} seeds)\n")
    print(
        "Same architecture (2 x 32, ReLU, dropout 0.1) for the single network and each sub-network; "
        "super-network 1 x 16. Test split, weighted; bkg eff at 50% signal efficiency.\n"
    )
    keys = ["all", "wjets", "ttbar"]
    results: dict[str, dict[str, list[float]]] = {}
    params: dict[str, int] = {}
    for seed in range(seeds):
        table, _ = write_toy(ToyKind.MULTIBACKGROUND, work / f"multi_{seed}.parquet", events, 100 + seed)
        for use_inputs in (False, True):
            config = _config(
                work,
                f"cascade_{seed}.yaml",
                {
                    "data": {
                        "path": str(table),
                        "label": "process",
                        "weight": "weight",
                        "signal": "signal",
                        "backgrounds": ["wjets", "ttbar"],
                        "split": {"seed": seed},
                    },
                    "model": {"layers": 2, "width": 32, "dropout": 0.1},
                    "train": {"epochs": epochs, "batch_size": 256, "patience": 6, "seed": seed},
                    "cascade": {"use_inputs": use_inputs, "compare_single": not use_inputs},
                },
            )
            m = run_cascade(load_config(config), work / f"cascade_{seed}_{use_inputs}")
            for slug, metrics in m.items():
                name = "cascade + inputs" if slug == "cascade" and use_inputs else slug
                params[name] = metrics["parameters"]
                for key in keys:
                    for what in ("auc", "bkg_eff"):
                        results.setdefault(name, {}).setdefault(f"{what}_{key}", []).append(
                            metrics["per_background"][key][what]
                        )
        print(f"seed {seed} done", file=sys.stderr)
    header = [f"AUC vs {k}" for k in keys] + [f"bkg eff vs {k}" for k in keys]
    print("| classifier | parameters | " + " | ".join(header) + " |")
    print("|---|---|" + "---|" * len(header))
    for name in ("single", "cascade", "cascade + inputs"):
        cells = [_pm(results[name][f"{what}_{k}"]) for what in ("auc", "bkg_eff") for k in keys]
        print(f"| {name} | {params[name]} | " + " | ".join(cells) + " |")
    print("\nPer-seed difference cascade − single (AUC; positive favours the cascade):\n")
    print("| seed | " + " | ".join(f"Δ AUC vs {k}" for k in keys) + " |\n|---|" + "---|" * len(keys))
    for seed in range(seeds):
        deltas = [results["cascade"][f"auc_{k}"][seed] - results["single"][f"auc_{k}"][seed] for k in keys]
        print(f"| {seed} | " + " | ".join(f"{d:+.4f}" for d in deltas) + " |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds", type=int, default=None, help="seeds per study (default 3 selection, 5 cascade)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer events and epochs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sel_seeds = args.seeds or 3
    cas_seeds = args.seeds or 5
    events, epochs = (8000, 20) if args.quick else (20000, 60)
    with tempfile.TemporaryDirectory(prefix="l1ml_offline_bench_") as tmp:
        work = Path(tmp)
        selection_findings(work, sel_seeds, events, epochs)
        cascade_comparison(work, cas_seeds, int(events * 1.5), epochs)


if __name__ == "__main__":
    main()
