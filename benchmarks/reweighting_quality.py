"""Print the reweighting "Must show" numbers of issue 9 as Markdown tables.

Gaussian-mixture toys with a known density ratio (l1ml.reweighting.toys): every reweighter is fitted on
one pair of samples and judged on an independent pair. Runs in about two minutes on one core.

    .venv/bin/python benchmarks/reweighting_quality.py
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from scipy.stats import spearmanr

from l1ml.reweighting import (
    BinsReweighter,
    ClassifierReweighter,
    FoldingReweighter,
    GBReweighter,
    Reweighter,
    effective_sample_size,
    holdout_auc,
    ks_distances,
    mixture_problem,
)


def row(*cells: object) -> str:
    return "| " + " | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in cells) + " |"


def table(headers: list[str]) -> None:
    print(row(*headers))
    print(row(*["---"] * len(headers)))


def judge(name: str, make: Callable[[], object], dim: int, n: int) -> list[object]:
    """Fit on seed 1, evaluate on seed 2; returns one table row."""
    problem = mixture_problem(dim)
    train_o, train_t = problem.samples(n, n, seed=1)
    test_o, test_t = problem.samples(n, n, seed=2)
    start = time.perf_counter()
    weights = make().fit(train_o, train_t).predict_weights(test_o)
    seconds = time.perf_counter() - start
    auc_before = holdout_auc(test_o, test_t)
    auc_after = holdout_auc(test_o, test_t, weights)
    ks_before = ks_distances(test_o, test_t)
    ks_after = ks_distances(test_o, test_t, weights)
    return [name, dim, spearmanr(weights, problem.true_weights(test_o)).statistic, auc_before, auc_after,
            (auc_before - auc_after) / (auc_before - 0.5), ks_before.max(), ks_after.max(),
            effective_sample_size(weights) / n, f"{seconds:.1f}"]


HEADERS = ["method", "vars", "Spearman(w, true)", "AUC before", "AUC after", "AUC gap closed",
           "max KS before", "max KS after", "ESS / N", "fit+predict s"]


def must_show_main(n: int) -> None:
    print(f"\n## 1. Four variables, {n} events per sample: weights vs truth, hold-out AUC, KS\n")
    problem = mixture_problem(4)
    test_o, test_t = problem.samples(n, n, seed=2)
    truth = problem.true_weights(test_o)
    print(f"True weights: hold-out AUC {holdout_auc(test_o, test_t, truth):.3f}, "
          f"ESS/N {effective_sample_size(truth) / n:.3f}\n")
    table(HEADERS)
    for name, make in [("gb", GBReweighter), ("classifier", ClassifierReweighter), ("bins", BinsReweighter)]:
        print(row(*judge(name, make, 4, n)))
    test_ks = ks_distances(test_o, test_t)
    print("\nPer-variable KS before: " + ", ".join(f"{k:.3f}" for k in test_ks))


def binned_vs_dimension(n: int) -> None:
    print(f"\n## 2. Binned reweighter vs number of variables ({n} events per sample, 10 bins per axis)\n")
    table(HEADERS)
    for dim in (1, 2, 3, 4, 6):
        print(row(*judge("bins", BinsReweighter, dim, n)))
    for dim in (2, 6):
        print(row(*judge("gb", GBReweighter, dim, n)))


def folding_overfit(n: int, repeats: int) -> None:
    print(f"\n## 3. Folding vs plain GB on small samples ({n} events, 2 variables, {repeats} repetitions)\n")
    print("Means over variables and repetitions. KS: the reweighted training original against the "
          "training target (A) and against an independent target of the same size (B); (C) new original "
          "events weighted by the same reweighter against the independent target, i.e. what the model "
          "really does. ESS/N: on the training events (D) and on new events (E).\n")
    table(["reweighter", "GB settings", "A: KS vs training target", "B: KS vs independent target", "A/B",
           "C: KS new events", "D: ESS/N training", "E: ESS/N new", "D/E"])
    problem = mixture_problem(2)
    gentle = {"n_estimators": 30, "min_samples_leaf": 200}
    makers: list[tuple[str, dict[str, int], Callable[[dict[str, int]], Reweighter]]] = [
        ("plain", {}, lambda kw: GBReweighter(**kw)),
        ("2 folds", {}, lambda kw: FoldingReweighter(GBReweighter(**kw), 2)),
        ("5 folds", {}, lambda kw: FoldingReweighter(GBReweighter(**kw), 5)),
        ("plain", gentle, lambda kw: GBReweighter(**kw)),
        ("2 folds", gentle, lambda kw: FoldingReweighter(GBReweighter(**kw), 2)),
    ]
    for name, settings, make in makers:
        sums = np.zeros(5)
        for seed in range(repeats):
            original, target = problem.samples(n, n, seed=seed)
            new_original, independent = problem.samples(n, n, seed=1000 + seed)
            reweighter = make(settings).fit(original, target)
            weights = reweighter.predict_weights(original)
            new_weights = reweighter.predict_weights(new_original)
            sums += [ks_distances(original, target, weights).mean(),
                     ks_distances(original, independent, weights).mean(),
                     ks_distances(new_original, independent, new_weights).mean(),
                     effective_sample_size(weights) / n, effective_sample_size(new_weights) / n]
        m = sums / repeats
        label = ", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults"
        print(row(name, label, m[0], m[1], m[0] / m[1], m[2], m[3], m[4], m[3] / m[4]))


def versus_hep_ml(n: int) -> None:
    try:
        from hep_ml import reweight as hep
    except ImportError as exc:  # pragma: no cover - hep_ml is a declared dependency
        print(f"\n## 4. hep_ml comparison skipped: {exc}")
        return
    print(f"\n## 4. Ours vs hep_ml 0.8 on the same data ({n} events per sample)\n")
    table(HEADERS)
    pairs = [
        ("gb (ours)", lambda: GBReweighter(n_estimators=60, min_samples_leaf=200), 3),
        ("hep_ml GBReweighter", lambda: hep.GBReweighter(n_estimators=60), 3),
        ("bins 20, smoothing 1 (ours)", lambda: BinsReweighter(n_bins=20, smoothing=1.0), 2),
        ("hep_ml BinsReweighter(20, n_neighs=1)", lambda: hep.BinsReweighter(n_bins=20, n_neighs=1.0), 2),
        ("hep_ml BinsReweighter defaults (200, 3)", lambda: hep.BinsReweighter(), 2),
    ]
    for name, make, dim in pairs:
        print(row(*judge(name, make, dim, n)))

    print("\nFolding, 2 folds of GB (40 trees), weights predicted on the training original (3 variables), "
          "judged against an independent target:\n")
    table(["wrapper", "Spearman(w, true)", "AUC after", "max KS after", "ESS / N"])
    problem = mixture_problem(3)
    original, target = problem.samples(n, n, seed=1)
    _, independent = problem.samples(n, n, seed=2)
    wrappers = [
        ("FoldingReweighter (ours)",
         lambda: FoldingReweighter(GBReweighter(n_estimators=40, min_samples_leaf=200), n_folds=2)),
        ("hep_ml FoldingReweighter",
         lambda: hep.FoldingReweighter(hep.GBReweighter(n_estimators=40), n_folds=2, random_state=0,
                                       verbose=False)),
    ]
    for name, make in wrappers:
        weights = make().fit(original, target).predict_weights(original)
        print(row(name, spearmanr(weights, problem.true_weights(original)).statistic,
                  holdout_auc(original, independent, weights),
                  ks_distances(original, independent, weights).max(), effective_sample_size(weights) / n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per sample (default 20000)")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions of the folding study")
    args = parser.parse_args()
    print("# Reweighting quality (issue 9)")
    must_show_main(args.events)
    binned_vs_dimension(args.events)
    folding_overfit(2000, args.repeats)
    versus_hep_ml(args.events // 2)


if __name__ == "__main__":
    main()
