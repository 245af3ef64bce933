"""Folding: fold assignment by event values, and the overfit it prevents on small samples."""

from __future__ import annotations

import numpy as np
import pytest

from l1ml.errors import L1MLError
from l1ml.reweighting import (
    BinsReweighter,
    FoldingReweighter,
    GBReweighter,
    Reweighter,
    effective_sample_size,
    fold_of,
    ks_distances,
    mixture_problem,
)


def test_folds_are_balanced_and_follow_the_values_not_the_row_order() -> None:
    x = np.random.default_rng(0).normal(size=(30_000, 3))
    folds = fold_of(x, 3, seed=7)
    counts = np.bincount(folds, minlength=3)
    expected = len(x) / 3
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected))
    order = np.random.default_rng(1).permutation(len(x))
    assert np.array_equal(fold_of(x[order], 3, seed=7), folds[order])
    assert not np.array_equal(fold_of(x, 3, seed=8), folds)


def test_negative_zero_shares_the_fold_of_zero() -> None:
    x = np.array([[0.0, 1.0], [-0.0, 1.0]])
    assert fold_of(x, 5)[0] == fold_of(x, 5)[1]


def test_training_events_get_the_same_weight_in_any_order() -> None:
    original, target = mixture_problem(2).samples(3000, 3000, seed=3)
    folded = FoldingReweighter(BinsReweighter(n_bins=8), n_folds=3).fit(original, target)
    order = np.random.default_rng(0).permutation(len(original))
    assert np.allclose(folded.predict_weights(original[order]), folded.predict_weights(original)[order])


class SeenProbe(Reweighter):
    """A deliberately memorising reweighter: ratio 2 for event values it was fitted on, 1 otherwise."""

    def _fit(self, x_o, x_t, w_o, w_t, progress) -> None:
        self.seen_ = {row.tobytes() for row in x_o}

    def _log_ratio(self, x: np.ndarray) -> np.ndarray:
        return np.log(np.array([2.0 if row.tobytes() in self.seen_ else 1.0 for row in x]))


def test_each_training_event_is_weighted_by_a_model_that_did_not_see_it() -> None:
    rng = np.random.default_rng(4)
    original, new_events, target = (rng.normal(size=(500, 2)) for _ in range(3))
    both = np.concatenate([original, new_events])
    trained = np.arange(len(both)) < len(original)
    folds = fold_of(both, 2)

    plain = SeenProbe().fit(original, target).predict_weights(both)
    assert np.allclose(plain[trained], 2 * plain[~trained][0])

    folded = FoldingReweighter(SeenProbe(), n_folds=2).fit(original, target).predict_weights(both)
    for k in range(2):
        in_fold = folds == k
        # Training events weigh the same as never-seen events of their fold: their model did not see them.
        assert np.allclose(folded[in_fold], folded[in_fold][0])


def test_too_few_folds_is_a_user_error() -> None:
    with pytest.raises(L1MLError, match="at least 2 folds"):
        FoldingReweighter(GBReweighter(), n_folds=1)


def test_folding_prevents_the_overfit_of_a_plain_reweighter_on_small_samples() -> None:
    """Must show: small samples (2000 events), default GB settings, five independent repetitions.

    On its own training events a plain reweighter looks far better than it is: the reweighted original
    matches the training target (KS a) much more closely than an independent target (KS b) or than new
    events weighted by the same model match it (KS c), and the training events keep more effective
    events than new events do. Folded weights of the training events behave like weights of new events.
    """
    problem = mixture_problem(2)
    n = 2000
    sums: dict[str, np.ndarray] = {"plain": np.zeros(5), "folded": np.zeros(5)}
    for seed in range(5):
        original, target = problem.samples(n, n, seed=seed)
        new_original, independent_target = problem.samples(n, n, seed=1000 + seed)
        for name, reweighter in (("plain", GBReweighter()), ("folded", FoldingReweighter(GBReweighter(), 2))):
            reweighter.fit(original, target)
            weights = reweighter.predict_weights(original)
            new_weights = reweighter.predict_weights(new_original)
            sums[name] += [
                ks_distances(original, target, weights).mean(),
                ks_distances(original, independent_target, weights).mean(),
                ks_distances(new_original, independent_target, new_weights).mean(),
                effective_sample_size(weights),
                effective_sample_size(new_weights),
            ]
    ks_a, ks_b, ks_c, ess_train, ess_new = sums["plain"]
    assert ks_a / ks_b < 0.5 and ks_a / ks_c < 0.3 and ess_train / ess_new > 1.2, sums["plain"]
    ks_a, ks_b, ks_c, ess_train, ess_new = sums["folded"]
    assert ks_a / ks_b > 0.8 and ks_a / ks_c > 0.7 and ess_train / ess_new < 1.15, sums["folded"]
