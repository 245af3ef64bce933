"""Training loop: weighted cross-entropy, Adam with L2 on the weight matrices, early stopping."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from l1ml.offline.config import ModelConfig, TrainConfig
from l1ml.offline.dataset import Labeled
from l1ml.offline.model import build_mlp, predict_proba


@dataclass(frozen=True)
class Epoch:
    """Losses after one epoch (both weighted with the fit weights)."""

    epoch: int
    train_loss: float
    val_loss: float


@dataclass
class FitResult:
    """The trained model (best validation epoch restored) and its loss history."""

    model: nn.Sequential
    n_classes: int
    history: list[Epoch] = field(default_factory=list)
    best_epoch: int = 0

    @property
    def best_val_loss(self) -> float:
        return min(e.val_loss for e in self.history)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return predict_proba(self.model, x, self.n_classes)


def _per_event_loss(logits: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    if n_classes == 2:
        return nn.functional.binary_cross_entropy_with_logits(logits[:, 0], y.float(), reduction="none")
    return nn.functional.cross_entropy(logits, y, reduction="none")


@torch.no_grad()
def _weighted_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, n_classes: int
) -> float:
    model.eval()
    per_event = _per_event_loss(model(x), y, n_classes)
    return float((w * per_event).sum() / w.sum())


def fit_mlp(
    train: Labeled,
    val: Labeled,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    on_epoch: Callable[[Epoch, nn.Module], None] | None = None,
) -> FitResult:
    """Train on `train`, stop when the validation loss has not improved for `patience` epochs.

    `on_epoch` sees every epoch and the current model; it may raise (Optuna's TrialPruned) to stop.
    """
    torch.set_num_threads(train_cfg.threads)
    torch.manual_seed(train_cfg.seed)
    n_classes = train.n_classes
    model = build_mlp(train.x.shape[1], n_classes, model_cfg)
    matrices = [p for p in model.parameters() if p.dim() > 1]
    biases = [p for p in model.parameters() if p.dim() <= 1]
    # Adam's weight_decay adds l2 * w to the gradient, i.e. an L2 penalty (l2/2)|W|^2; biases are exempt.
    optimiser = torch.optim.Adam(
        [{"params": matrices, "weight_decay": train_cfg.l2}, {"params": biases, "weight_decay": 0.0}],
        lr=train_cfg.learning_rate,
    )
    x = torch.from_numpy(np.ascontiguousarray(train.x, dtype=np.float32))
    y = torch.from_numpy(train.y.astype(np.int64))
    w = torch.from_numpy(train.w_fit.astype(np.float32))
    xv = torch.from_numpy(np.ascontiguousarray(val.x, dtype=np.float32))
    yv = torch.from_numpy(val.y.astype(np.int64))
    wv = torch.from_numpy(val.w_fit.astype(np.float32))
    generator = torch.Generator().manual_seed(train_cfg.seed)
    result = FitResult(model=model, n_classes=n_classes)
    best_state = copy.deepcopy(model.state_dict())
    best, waited = float("inf"), 0
    n = len(y)
    for epoch in range(1, train_cfg.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, train_cfg.batch_size):
            idx = order[start : start + train_cfg.batch_size]
            per_event = _per_event_loss(model(x[idx]), y[idx], n_classes)
            # Fit weights average to one over the training split, so dividing by the batch size gives
            # an unbiased estimate of the weighted mean loss even when a batch's weights nearly cancel.
            loss = (w[idx] * per_event).sum() / len(idx)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
        record = Epoch(epoch, total / n, _weighted_loss(model, xv, yv, wv, n_classes))
        result.history.append(record)
        if record.val_loss < best - 1e-6:
            best, waited, result.best_epoch = record.val_loss, 0, epoch
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
        if on_epoch is not None:
            on_epoch(record, model)
        if waited >= train_cfg.patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return result
