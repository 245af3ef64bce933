"""Early stopping on a validation loss, shared by every zoo trainer."""

from __future__ import annotations


class EarlyStopping:
    """Keeps the weights of the best epoch; says stop after ``patience`` epochs without improvement."""

    def __init__(self, patience: int, min_delta: float = 1e-4):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.bad, self.state = float("inf"), 0, None

    def step(self, model, val_loss: float) -> bool:
        """Record an epoch; True when training should stop."""
        if val_loss < self.best - self.min_delta:
            self.best, self.bad = val_loss, 0
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.bad += 1
        return self.bad >= self.patience

    def restore(self, model) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)
