"""Input preparation: automatic log choice, overrides, standardisation."""

from __future__ import annotations

import numpy as np
import pytest

from l1ml.errors import L1MLError
from l1ml.offline.config import LogMode, PrepConfig
from l1ml.offline.prep import Preprocessor, fit_preprocessor

FEATURES = ["gauss", "lognormal", "exponential", "shifted_positive", "signed_tail"]


def _columns(n: int = 4000) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.column_stack(
        [
            rng.normal(size=n),
            np.exp(rng.normal(0, 1, n)),
            rng.exponential(size=n),
            rng.normal(10, 1, n),  # positive but symmetric: no log
            rng.standard_t(3, n),  # heavy tails but signed: cannot be logged
        ]
    )


def test_auto_log_picks_positive_skewed_columns():
    prep = fit_preprocessor(_columns(), FEATURES, PrepConfig())
    assert prep.log_columns == ["lognormal", "exponential"]


def test_overrides():
    x = _columns()
    assert fit_preprocessor(x, FEATURES, PrepConfig(no_log=("exponential",))).log_columns == ["lognormal"]
    listed = fit_preprocessor(
        x, FEATURES, PrepConfig(log_mode=LogMode.LIST, log_columns=("shifted_positive",))
    )
    assert listed.log_columns == ["shifted_positive"]
    assert fit_preprocessor(x, FEATURES, PrepConfig(log_mode=LogMode.NONE)).log_columns == []
    with pytest.raises(L1MLError, match="'gauss', but it has values <= 0"):
        fit_preprocessor(x, FEATURES, PrepConfig(log_mode=LogMode.LIST, log_columns=("gauss",)))
    with pytest.raises(L1MLError, match="not features"):
        fit_preprocessor(x, FEATURES, PrepConfig(no_log=("nope",)))


def test_standardised_on_train_and_round_trips():
    x = _columns()
    prep = fit_preprocessor(x, FEATURES, PrepConfig())
    z = prep.transform(x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(
        z[:, 1], (np.log(x[:, 1]) - np.log(x[:, 1]).mean()) / np.log(x[:, 1]).std(), rtol=1e-4, atol=1e-5
    )
    assert Preprocessor.from_dict(prep.to_dict()) == prep
    # values below the training range of a log column are clipped to the floor, never NaN
    unseen = x[:3].copy()
    unseen[:, 1] = [0.0, -1.0, 1e-9]
    assert np.isfinite(prep.transform(unseen)).all()
    sub = prep.subset([2, 0])
    np.testing.assert_allclose(sub.transform(x[:, [2, 0]]), z[:, [2, 0]], rtol=1e-6)
