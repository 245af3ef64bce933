"""Validation statistics of the surrogate report on distributions whose answers are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from l1ml.simulation.surrogate import metrics

N = 20000


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def test_ks_of_identical_gaussians_is_small(rng):
    # The two-sample KS statistic of equal distributions scales like 1.36 sqrt(2 / N) at 95 % confidence.
    assert metrics.ks_distance(rng.normal(size=N), rng.normal(size=N)) < 1.36 * np.sqrt(2 / N)


@pytest.mark.parametrize("shift", [0.25, 0.5, 1.0])
def test_ks_of_shifted_gaussians_matches_the_cdf_gap(rng, shift):
    # max_x |Phi(x) - Phi(x - d)| is reached at x = d / 2: 2 Phi(d / 2) - 1.
    expected = 2 * norm.cdf(shift / 2) - 1
    assert metrics.ks_distance(rng.normal(size=N), rng.normal(shift, 1, N)) == pytest.approx(expected, abs=0.02)


def test_wasserstein_of_a_shift_is_the_shift(rng):
    a = rng.normal(size=N)
    assert metrics.wasserstein(a, a + 0.7) == pytest.approx(0.7, abs=1e-9)
    assert metrics.wasserstein(rng.normal(size=N), rng.normal(0.7, 1, N)) == pytest.approx(0.7, abs=0.03)


def test_wasserstein_of_a_wider_gaussian(rng):
    # W1(N(0, 1), N(0, s^2)) = |s - 1| E|Z| = |s - 1| sqrt(2 / pi).
    expected = np.sqrt(2 / np.pi)
    assert metrics.wasserstein(rng.normal(size=N), rng.normal(0, 2, N)) == pytest.approx(expected, abs=0.03)


def test_classifier_cannot_separate_identical_samples(rng):
    result = metrics.c2st_auc(rng.normal(size=(6000, 3)), rng.normal(size=(6000, 3)))
    assert abs(result.auc - 0.5) < 0.03
    assert result.n_per_sample == 6000


@pytest.mark.parametrize("shift", [0.5, 1.0])
def test_classifier_auc_of_shifted_gaussians_is_the_bayes_optimum(rng, shift):
    # For N(0, 1) vs N(d, 1) the optimal score is x itself: AUC = P(X' > X) = Phi(d / sqrt 2). Extra
    # noise dimensions carry no information and must not change it.
    real = rng.normal(size=(6000, 3))
    fake = rng.normal(size=(6000, 3))
    fake[:, 0] += shift
    expected = norm.cdf(shift / np.sqrt(2))
    assert metrics.c2st_auc(real, fake).auc == pytest.approx(expected, abs=0.025)


def test_binned_moments_recover_mean_and_width(rng):
    by = rng.uniform(0, 10, N)
    values = rng.normal(3.0 + 0.5 * np.floor(by / 2), 2.0)
    result = metrics.binned_moments(values, by, np.array([0.0, 2, 4, 6, 8, 10, 12]))
    np.testing.assert_allclose(result.mean[:5], 3.0 + 0.5 * np.arange(5), atol=0.1)
    np.testing.assert_allclose(result.std[:5], 2.0, atol=0.1)
    assert result.count[:5].sum() == N
    assert result.count[5] == 0 and np.isnan(result.mean[5])
    np.testing.assert_allclose(result.centres, [1, 3, 5, 7, 9, 11])
