"""The issue's "Must show" items on Gaussian mixtures with a known density ratio.

Each reweighter is fitted on one pair of samples and judged on an independent pair, against the true
weights and with the hold-out classifier check.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from l1ml.reweighting import (
    BinsReweighter,
    ClassifierReweighter,
    GBReweighter,
    Reweighter,
    effective_sample_size,
    holdout_auc,
    ks_distances,
)


def ks_noise_level(weights: np.ndarray, n_target: int) -> float:
    """95% KS critical value for samples of these effective sizes: 1.36 sqrt(1/n_eff + 1/n_target)."""
    return 1.36 * np.sqrt(1 / effective_sample_size(weights) + 1 / n_target)


@pytest.mark.parametrize("make", [GBReweighter, ClassifierReweighter], ids=["gb", "classifier"])
def test_learned_weights_match_truth_and_fool_the_classifier(toy4, make: type[Reweighter]) -> None:
    reweighter = make().fit(toy4.train_original, toy4.train_target)
    weights = reweighter.predict_weights(toy4.test_original)

    assert spearmanr(weights, toy4.true_weights).statistic >= 0.9
    assert toy4.auc_before >= 0.8
    assert holdout_auc(toy4.test_original, toy4.test_target, weights) <= 0.55

    ks_before = ks_distances(toy4.test_original, toy4.test_target)
    ks_after = ks_distances(toy4.test_original, toy4.test_target, weights)
    assert ks_before.max() > 5 * ks_noise_level(np.ones(len(weights)), len(toy4.test_target))
    # After reweighting every variable agrees within twice the 95% statistical KS level.
    assert (ks_after <= 2 * ks_noise_level(weights, len(toy4.test_target))).all()
    assert ks_after.max() < ks_before.max() / 5


def test_the_true_weights_pass_the_same_checks(toy4) -> None:
    """Guards the thresholds above: perfect weights must reach AUC ~ 0.5 with this classifier."""
    auc = holdout_auc(toy4.test_original, toy4.test_target, toy4.true_weights)
    assert abs(auc - 0.5) < 0.02


def gap_closed(toy, weights: np.ndarray) -> float:
    """Fraction of the AUC excess over 0.5 that reweighting removed (1 = perfect, 0 = none)."""
    after = holdout_auc(toy.test_original, toy.test_target, weights)
    return (toy.auc_before - after) / (toy.auc_before - 0.5)


def test_binned_reweighter_degrades_with_dimension(toy_factory) -> None:
    """Same events per sample and toy family: bins work in 2 variables and fail in 6; GB does not fail."""
    closed = {}
    for dim in (2, 6):
        toy = toy_factory(dim, 20_000, 20_000)
        weights = BinsReweighter().fit(toy.train_original, toy.train_target).predict_weights(toy.test_original)
        closed[dim] = gap_closed(toy, weights)
        corr = spearmanr(weights, toy.true_weights).statistic
        if dim == 2:
            assert closed[dim] > 0.8 and corr > 0.9
        else:
            assert corr < 0.8
    assert closed[6] < 0.3

    toy6 = toy_factory(6, 20_000, 20_000)
    gb = GBReweighter().fit(toy6.train_original, toy6.train_target).predict_weights(toy6.test_original)
    assert gap_closed(toy6, gb) > 0.6
