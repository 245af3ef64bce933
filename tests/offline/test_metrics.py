"""Weighted metrics against independent definitions (sklearn, pair sums, replication)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from l1ml.offline.metrics import background_efficiency_at, effective_size, weighted_auc, weighted_ks

_scores = st.lists(st.integers(0, 6), min_size=4, max_size=40)


@settings(max_examples=60, deadline=None, database=None)
@given(scores=_scores, data=st.data())
def test_auc_matches_sklearn_for_positive_weights(scores, data):
    n = len(scores)
    labels = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    weights = data.draw(st.lists(st.floats(0.1, 5.0), min_size=n, max_size=n))
    labels = np.array(labels)
    if labels.all() or not labels.any():
        labels[0] = not labels[0]
    expected = roc_auc_score(labels, scores, sample_weight=weights)
    assert weighted_auc(np.array(scores, float), labels, np.array(weights)) == pytest.approx(expected)


@settings(max_examples=60, deadline=None, database=None)
@given(scores=_scores, data=st.data())
def test_auc_equals_the_pair_sum_with_negative_weights(scores, data):
    n = len(scores)
    labels = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    weights = np.array(data.draw(st.lists(st.floats(-1.0, 3.0), min_size=n, max_size=n)))
    s = np.array(scores, float)
    pos, neg = labels, ~labels
    wp, wn = weights[pos].sum(), weights[neg].sum()
    if wp <= 0 or wn <= 0:
        assert np.isnan(weighted_auc(s, labels, weights))
        return
    assume(wp > 0.05 and wn > 0.05)  # keep the reference division well conditioned
    pairs = sum(
        weights[i] * weights[j] * (1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0)
        for i in np.flatnonzero(pos)
        for j in np.flatnonzero(neg)
    )
    assert weighted_auc(s, labels, weights) == pytest.approx(pairs / (wp * wn), abs=1e-9)


def test_integer_weights_equal_replicated_events():
    rng = np.random.default_rng(3)
    score = rng.normal(size=200)
    labels = rng.random(200) < 0.4
    counts = rng.integers(1, 4, size=200)
    replicated = weighted_auc(np.repeat(score, counts), np.repeat(labels, counts))
    assert weighted_auc(score, labels, counts.astype(float)) == pytest.approx(replicated)


def test_background_efficiency_working_point():
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    signal = np.array([True, False, True, False, False, True])
    # thresholds from the top: after 0.9 and 0.8, 1/3 signal and 1/3 background; after 0.7, 2/3 and 1/3
    assert background_efficiency_at(score, signal, np.ones(6), 0.6) == pytest.approx(1 / 3)


def test_weighted_ks():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=3000), rng.normal(size=3000)
    same = weighted_ks(a, np.ones(3000), b, np.ones(3000))
    assert same.pvalue > 0.01
    shifted = weighted_ks(a, np.ones(3000), b + 0.2, np.ones(3000))
    assert shifted.pvalue < 1e-6 and shifted.statistic > same.statistic
    # weights make b look like a shifted sample: w = exp(0.3 b) tilts N(0,1) to N(0.3,1)
    tilted = weighted_ks(a + 0.3, np.ones(3000), b, np.exp(0.3 * b))
    assert tilted.pvalue > 0.01
    assert effective_size(np.ones(10)) == pytest.approx(10) and effective_size(np.r_[1.0, 0, 0]) == 1
