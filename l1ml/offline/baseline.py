"""LightGBM baseline trained on the same prepared inputs and fit weights as the network."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from l1ml.offline.config import BaselineConfig
from l1ml.offline.dataset import Labeled


def fit_lightgbm(
    train: Labeled, val: Labeled, cfg: BaselineConfig, seed: int, threads: int = 1
) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """Fit with the fit weights, stop on the weighted validation loss; return predict_proba and trees used."""
    import lightgbm as lgb

    model = lgb.LGBMClassifier(
        n_estimators=cfg.n_estimators,
        learning_rate=cfg.learning_rate,
        num_leaves=cfg.num_leaves,
        random_state=seed,
        verbose=-1,
        n_jobs=threads,
        deterministic=True,
    )
    model.fit(
        train.x,
        train.y,
        sample_weight=train.w_fit,
        eval_X=(val.x,),
        eval_y=(val.y,),
        eval_sample_weight=[val.w_fit],
        callbacks=[lgb.early_stopping(cfg.early_stopping, verbose=False)],
    )
    best = int(model.best_iteration_ or cfg.n_estimators)

    def predict(x: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_proba(x, num_iteration=best), dtype=np.float64)

    return predict, best
