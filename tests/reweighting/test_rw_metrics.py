"""Quality measures: weighted KS, effective sample size, hold-out AUC, and the toy's known ratio."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp, norm

from l1ml.errors import L1MLError
from l1ml.reweighting import effective_sample_size, holdout_auc, mixture_problem, weighted_ks


def test_unit_weight_ks_equals_scipy_including_ties() -> None:
    rng = np.random.default_rng(0)
    a = np.round(rng.normal(size=700), 1)
    b = np.round(rng.normal(0.2, 1.1, size=900), 1)
    assert weighted_ks(a, b) == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)


def test_integer_weights_act_like_repeated_events() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=300), rng.normal(0.3, size=400)
    counts = rng.integers(0, 4, size=300)
    expected = ks_2samp(np.repeat(a, counts), b).statistic
    assert weighted_ks(a, b, counts.astype(float) * 2.5) == pytest.approx(expected, abs=1e-12)


def test_negative_weights_are_refused_with_a_remedy() -> None:
    with pytest.raises(L1MLError, match="negative weights"):
        weighted_ks([1.0, 2.0], [1.0, 2.0], [1.0, -1.0])


def test_effective_sample_size() -> None:
    assert effective_sample_size(np.full(50, 3.0)) == pytest.approx(50)
    assert effective_sample_size(np.r_[1.0, np.zeros(9)]) == pytest.approx(1)
    # Half the events at weight 2, half at 0: effectively half the sample.
    assert effective_sample_size(np.r_[np.full(10, 2.0), np.zeros(10)]) == pytest.approx(10)


def test_holdout_auc_of_identical_samples_is_one_half() -> None:
    rng = np.random.default_rng(2)
    auc = holdout_auc(rng.normal(size=(8000, 2)), rng.normal(size=(8000, 2)))
    assert abs(auc - 0.5) < 0.03


def test_holdout_auc_reaches_the_analytic_value_for_shifted_gaussians() -> None:
    """For unit Gaussians a distance d apart the best possible AUC is Phi(d / sqrt 2)."""
    rng = np.random.default_rng(3)
    shift = 1.0
    auc = holdout_auc(rng.normal(size=(10_000, 1)), rng.normal(shift, size=(10_000, 1)))
    assert auc == pytest.approx(norm.cdf(shift / np.sqrt(2)), abs=0.015)


def test_toy_true_weights_turn_original_moments_into_target_moments() -> None:
    """Checks the sampler against the densities: E_original[r] = 1 and r-weighted means equal the target's."""
    problem = mixture_problem(3)
    original, target = problem.samples(200_000, 200_000, seed=4)
    r = problem.true_weights(original)
    assert r.mean() == pytest.approx(1.0, abs=0.02)
    weighted_mean = (r[:, None] * original).sum(0) / r.sum()
    assert np.allclose(weighted_mean, target.mean(0), atol=0.02)
    exact_mean = np.einsum("k,kd->d", problem.target.fractions, problem.target.means)
    assert np.allclose(target.mean(0), exact_mean, atol=0.01)


def test_holdout_auc_refuses_tiny_samples() -> None:
    with pytest.raises(L1MLError, match="at least 40 events"):
        holdout_auc(np.zeros((10, 1)), np.ones((100, 1)))
