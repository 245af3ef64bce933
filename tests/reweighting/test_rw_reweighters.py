"""Behaviour shared by all reweighters, and properties specific to each algorithm."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from l1ml.errors import L1MLError
from l1ml.reweighting import (
    BinsReweighter,
    ClassifierReweighter,
    FoldingReweighter,
    GBReweighter,
    Method,
    holdout_auc,
    make_reweighter,
    mixture_problem,
)
from l1ml.reweighting.methods import parse_settings

FAST = {
    "bins": lambda: BinsReweighter(n_bins=8),
    "gb": lambda: GBReweighter(n_estimators=15),
    "classifier": lambda: ClassifierReweighter(n_estimators=40),
    "folding": lambda: FoldingReweighter(GBReweighter(n_estimators=10), n_folds=3),
}


@pytest.fixture(scope="module")
def small():
    return mixture_problem(2).samples(3000, 2500, seed=5)


@pytest.mark.parametrize("name", FAST)
def test_training_original_is_normalised_to_the_target_total(name: str, small) -> None:
    original, target = small
    prior = np.random.default_rng(0).uniform(0.5, 1.5, len(original))
    target_weight = np.full(len(target), 0.2)
    reweighter = FAST[name]().fit(original, target, prior, target_weight)
    weights = reweighter.predict_weights(original, prior)
    assert weights.sum() == pytest.approx(target_weight.sum(), rel=1e-9)
    assert (weights >= 0).all()


@pytest.mark.parametrize("name", FAST)
def test_misuse_is_reported_as_user_errors(name: str, small) -> None:
    original, target = small
    with pytest.raises(L1MLError, match="not fitted"):
        FAST[name]().predict_weights(original)
    reweighter = FAST[name]().fit(original, target)
    with pytest.raises(L1MLError, match="fitted on 2"):
        reweighter.predict_weights(original[:, :1])
    bad = original.copy()
    bad[7, 1] = np.nan
    with pytest.raises(L1MLError, match="non-finite"):
        FAST[name]().fit(bad, target)
    with pytest.raises(L1MLError, match="negative weights"):
        FAST[name]().fit(original, target, original_weight=-np.ones(len(original)))


def test_target_weights_are_honoured() -> None:
    """A target given as original-distribution events weighted by the true ratio must be learned like q."""
    problem = mixture_problem(2)
    original, _ = problem.samples(20_000, 1, seed=6)
    stand_in, _ = problem.samples(20_000, 1, seed=7)
    reweighter = GBReweighter().fit(original, stand_in, target_weight=problem.true_weights(stand_in))
    test_o, test_t = problem.samples(10_000, 10_000, seed=8)
    weights = reweighter.predict_weights(test_o)
    assert spearmanr(weights, problem.true_weights(test_o)).statistic > 0.9
    assert holdout_auc(test_o, test_t, weights) < 0.56


def test_prior_weights_that_already_match_need_no_correction() -> None:
    """If the prior weights are the true ratio, the learned correction stays close to one."""
    problem = mixture_problem(2)
    original, target = problem.samples(20_000, 20_000, seed=9)
    prior = problem.true_weights(original)
    weights = ClassifierReweighter().fit(original, target, prior).predict_weights(original, prior)
    correction = weights / prior
    correction /= np.average(correction, weights=prior)
    assert np.average(np.abs(np.log(correction)), weights=prior) < 0.15


def test_binned_reweighter_recovers_a_one_dimensional_ratio() -> None:
    problem = mixture_problem(1)
    original, target = problem.samples(100_000, 100_000, seed=10)
    reweighter = BinsReweighter(n_bins=30, smoothing=0.0, pseudocount=0.0).fit(original, target)
    grid = np.linspace(-1.5, 1.5, 13)[:, None]
    learned = reweighter.predict_weights(grid)
    assert np.allclose(learned, problem.true_weights(grid), rtol=0.12)


def test_binned_reweighter_refuses_an_impossible_histogram() -> None:
    x = np.random.default_rng(0).normal(size=(2000, 8))
    with pytest.raises(L1MLError, match="fewer bins"):
        BinsReweighter(n_bins=20).fit(x, x)


def test_gb_trees_split_where_the_symmetrised_chi2_is_largest() -> None:
    """The squared-error tree must choose the same first split as a brute-force chi-square search."""
    rng = np.random.default_rng(11)
    original = rng.normal(size=(3000, 2))
    target = np.column_stack([rng.normal(0.0, 1.0, 3000), rng.normal(0.6, 0.8, 3000)])
    tree = GBReweighter(n_estimators=1, max_depth=1, min_samples_leaf=50).fit(original, target).trees_[0]
    feature, threshold = tree.tree_.feature[0], tree.tree_.threshold[0]

    def chi2(j: int, cut: float) -> float:
        total = 0.0
        for side in (np.less_equal, np.greater):
            w_o, w_t = side(original[:, j], cut).sum(), side(target[:, j], cut).sum()
            total += (w_t - w_o) ** 2 / (w_t + w_o)
        return total

    candidates = [(j, c) for j in range(2) for c in np.quantile(np.r_[original[:, j], target[:, j]],
                                                               np.linspace(0.02, 0.98, 400))]
    best = max(candidates, key=lambda jc: chi2(*jc))
    assert feature == best[0]
    assert chi2(feature, threshold) >= chi2(*best) * (1 - 1e-9)


def test_classifier_ratios_are_clipped() -> None:
    rng = np.random.default_rng(12)
    original, target = rng.normal(size=(3000, 1)), rng.normal(2.5, size=(3000, 1))
    reweighter = ClassifierReweighter(n_estimators=50, max_ratio=10.0).fit(original, target)
    ratio = reweighter.predict_weights(original) / reweighter.normalisation_
    assert ratio.max() == pytest.approx(10.0) and ratio.min() == pytest.approx(0.1)


def test_clone_is_unfitted_with_the_same_settings(small) -> None:
    fitted = GBReweighter(n_estimators=7, seed=3).fit(*small)
    copy = fitted.clone()
    assert copy.n_estimators == 7 and copy.seed == 3 and not hasattr(copy, "trees_")


def test_settings_from_the_command_line() -> None:
    assert parse_settings(Method.GB, ["n_estimators=20", "learning-rate=0.1"]) == {
        "n_estimators": 20, "learning_rate": 0.1}
    with pytest.raises(L1MLError, match="min_samples_leaf"):
        parse_settings(Method.GB, ["depth=3"])
    with pytest.raises(L1MLError, match="needs a int"):
        parse_settings(Method.GB, ["n_estimators=many"])
    assert isinstance(make_reweighter(Method.BINS, {}, folds=3), FoldingReweighter)
    with pytest.raises(L1MLError, match="folds"):
        make_reweighter(Method.GB, {}, folds=1)
