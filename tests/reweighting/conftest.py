"""Shared toy samples: Gaussian mixtures whose true density ratio is known."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from l1ml.reweighting.metrics import holdout_auc
from l1ml.reweighting.toys import ToyProblem, mixture_problem


@dataclass(frozen=True)
class ToyData:
    """Training samples, an independent evaluation pair, and the true weights of the evaluation original."""

    problem: ToyProblem
    train_original: np.ndarray
    train_target: np.ndarray
    test_original: np.ndarray
    test_target: np.ndarray
    true_weights: np.ndarray
    auc_before: float


def make_toy(dim: int, n_train: int, n_test: int) -> ToyData:
    problem = mixture_problem(dim)
    train_o, train_t = problem.samples(n_train, n_train, seed=1)
    test_o, test_t = problem.samples(n_test, n_test, seed=2)
    return ToyData(problem, train_o, train_t, test_o, test_t, problem.true_weights(test_o),
                   holdout_auc(test_o, test_t))


@pytest.fixture(scope="session")
def toy4() -> ToyData:
    """Four variables, 20k events per sample: the main demonstration of the issue."""
    return make_toy(4, 20_000, 20_000)


@pytest.fixture(scope="session")
def toy_factory():
    """Cached toys by (dim, n_train, n_test)."""
    cache: dict[tuple[int, int, int], ToyData] = {}

    def get(dim: int, n_train: int, n_test: int) -> ToyData:
        key = (dim, n_train, n_test)
        if key not in cache:
            cache[key] = make_toy(*key)
        return cache[key]

    return get
