"""Our reweighters against hep_ml's implementations of the same algorithms, on the same data.

We compare quality (Spearman correlation with the true weights, hold-out AUC after reweighting), not
weights number by number.
"""

from __future__ import annotations

import hep_ml.reweight as hep_reweight  # a dependency: its absence must fail, not skip
import numpy as np
from scipy.stats import spearmanr

from l1ml.reweighting import BinsReweighter, FoldingReweighter, GBReweighter, holdout_auc, ks_distances


def quality(toy, weights: np.ndarray) -> tuple[float, float]:
    return (spearmanr(weights, toy.true_weights).statistic,
            holdout_auc(toy.test_original, toy.test_target, weights))


def test_hep_ml_imports_and_runs_with_numpy_2() -> None:
    assert int(np.__version__.split(".")[0]) >= 2
    x = np.random.default_rng(0).normal(size=(500, 2))
    weights = hep_reweight.GBReweighter(n_estimators=3).fit(x, x + 0.5).predict_weights(x)
    assert weights.shape == (500,) and np.isfinite(weights).all()


def test_gradient_boosted_matches_hep_ml_quality(toy_factory) -> None:
    toy = toy_factory(3, 10_000, 10_000)
    ours = GBReweighter(n_estimators=60, min_samples_leaf=200)
    theirs = hep_reweight.GBReweighter(n_estimators=60, learning_rate=0.2, max_depth=3, min_samples_leaf=200,
                                       loss_regularization=5.0)
    q_ours = quality(toy, ours.fit(toy.train_original, toy.train_target).predict_weights(toy.test_original))
    q_theirs = quality(toy, theirs.fit(toy.train_original, toy.train_target).predict_weights(toy.test_original))
    assert q_ours[0] > 0.9 and abs(q_ours[0] - q_theirs[0]) < 0.02
    assert q_ours[1] < 0.56 and abs(q_ours[1] - q_theirs[1]) < 0.02


def test_binned_matches_hep_ml_quality_in_two_variables(toy_factory) -> None:
    toy = toy_factory(2, 20_000, 20_000)
    ours = BinsReweighter(n_bins=20, smoothing=1.0)
    theirs = hep_reweight.BinsReweighter(n_bins=20, n_neighs=1.0)
    q_ours = quality(toy, ours.fit(toy.train_original, toy.train_target).predict_weights(toy.test_original))
    q_theirs = quality(toy, theirs.fit(toy.train_original, toy.train_target).predict_weights(toy.test_original))
    assert q_ours[0] > 0.9 and q_ours[0] > q_theirs[0] - 0.02
    assert q_ours[1] < q_theirs[1] + 0.02


def test_folding_matches_hep_ml_quality_on_the_training_events(toy_factory) -> None:
    """Both wrappers weight the training original out-of-fold; compare against an independent target."""
    toy = toy_factory(3, 10_000, 10_000)
    ours = FoldingReweighter(GBReweighter(n_estimators=40, min_samples_leaf=200), n_folds=2)
    theirs = hep_reweight.FoldingReweighter(hep_reweight.GBReweighter(n_estimators=40), n_folds=2,
                                            random_state=0, verbose=False)
    x, t = toy.train_original, toy.train_target
    w_ours = ours.fit(x, t).predict_weights(x)
    w_theirs = theirs.fit(x, t).predict_weights(x)
    true = toy.problem.true_weights(x)
    assert abs(spearmanr(w_ours, true).statistic - spearmanr(w_theirs, true).statistic) < 0.02
    auc_ours = holdout_auc(x, toy.test_target, w_ours)
    auc_theirs = holdout_auc(x, toy.test_target, w_theirs)
    assert auc_ours < 0.56 and abs(auc_ours - auc_theirs) < 0.02
    ks_ours = ks_distances(x, toy.test_target, w_ours)
    ks_theirs = ks_distances(x, toy.test_target, w_theirs)
    assert np.all(np.abs(ks_ours - ks_theirs) < 0.015)
