"""The training loop: learning, early stopping with restore, L2, multi-class, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from l1ml.offline.config import ModelConfig, NegativeWeights, TrainConfig, parse_config
from l1ml.offline.dataset import prepare
from l1ml.offline.fit import fit_mlp
from l1ml.offline.metrics import class_auc, weighted_log_loss
from l1ml.offline.model import load_model, predict_proba, save_model

SMALL = ModelConfig(layers=2, width=16, dropout=0.0)


@pytest.fixture(scope="module")
def binary(feature_table):
    config = parse_config(
        {"data": {"path": str(feature_table), "label": "label", "weight": "weight"}},
        feature_table.parent / "c.yaml",
    )
    return prepare(config)


def test_learns_and_restores_the_best_epoch(binary):
    train, val, test = binary.labeled()
    result = fit_mlp(
        train, val, SMALL, TrainConfig(epochs=40, batch_size=256, learning_rate=3e-3, patience=3)
    )
    assert len(result.history) < 40, "a small network on this toy should stop early"
    assert result.best_epoch == min(result.history, key=lambda e: e.val_loss).epoch
    # the returned weights are those of the best epoch: recompute its validation loss from predictions
    restored = weighted_log_loss(result.predict(val.x), val.y, val.w_fit)
    assert restored == pytest.approx(result.best_val_loss, rel=1e-4)
    assert class_auc(result.predict(test.x), test.y, test.w_eval) > 0.85


def test_l2_shrinks_the_weights(binary):
    train, val, _ = binary.labeled()
    cfg = TrainConfig(epochs=8, batch_size=512, patience=100)
    norms = []
    for l2 in (0.0, 0.05):
        model = fit_mlp(train, val, SMALL, TrainConfig(**{**cfg.__dict__, "l2": l2})).model
        norms.append(sum(float(p.detach().pow(2).sum()) for p in model.parameters() if p.dim() > 1))
    assert norms[1] < 0.7 * norms[0]


def test_keep_negative_weights_trains_finitely(feature_table):
    config = parse_config(
        {
            "data": {
                "path": str(feature_table),
                "label": "label",
                "weight": "weight",
                "negative_weights": "keep",
            }
        },
        feature_table.parent / "c.yaml",
    )
    prepared = prepare(config)
    assert prepared.mode is NegativeWeights.KEEP and prepared.negative_fraction() > 0.05
    train, val, test = prepared.labeled()
    assert (train.w_fit < 0).any()
    result = fit_mlp(train, val, SMALL, TrainConfig(epochs=5, batch_size=512))
    assert np.isfinite([e.val_loss for e in result.history]).all()
    assert class_auc(result.predict(test.x), test.y, test.w_eval) > 0.8


def test_multiclass_and_save_load(multibackground_table, tmp_path):
    config = parse_config(
        {"data": {"path": str(multibackground_table), "label": "process", "weight": "weight"}},
        tmp_path / "c.yaml",
    )
    prepared = prepare(config)
    assert prepared.class_names == ["signal", "ttbar", "wjets"]
    train, val, test = prepared.labeled()
    result = fit_mlp(train, val, SMALL, TrainConfig(epochs=8, batch_size=256))
    prob = result.predict(test.x)
    assert prob.shape == (len(test.y), 3)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, rtol=1e-6)
    assert class_auc(prob, test.y, test.w_eval) > 0.8
    save_model(tmp_path / "m.pt", result.model, SMALL, train.x.shape[1], 3, {"features": prepared.features})
    model, meta = load_model(tmp_path / "m.pt")
    assert meta["features"] == prepared.features
    torch.testing.assert_close(torch.from_numpy(predict_proba(model, test.x, 3)), torch.from_numpy(prob))
