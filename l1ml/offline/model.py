"""The MLP classifier and its (de)serialisation; imports torch, so commands import it lazily."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from l1ml.offline.config import Activation, ModelConfig

_ACTIVATIONS: dict[Activation, type[nn.Module]] = {
    Activation.RELU: nn.ReLU,
    Activation.ELU: nn.ELU,
    Activation.SILU: nn.SiLU,
    Activation.TANH: nn.Tanh,
    Activation.LEAKY_RELU: nn.LeakyReLU,
}


def build_mlp(n_inputs: int, n_classes: int, cfg: ModelConfig) -> nn.Sequential:
    """Dense layers of equal width with dropout; one logit for two classes, else one per class."""
    layers: list[nn.Module] = []
    width_in = n_inputs
    for _ in range(cfg.layers):
        layers += [nn.Linear(width_in, cfg.width), _ACTIVATIONS[cfg.activation]()]
        if cfg.dropout > 0:
            layers.append(nn.Dropout(cfg.dropout))
        width_in = cfg.width
    layers.append(nn.Linear(width_in, 1 if n_classes == 2 else n_classes))
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


@torch.no_grad()
def predict_proba(model: nn.Module, x: np.ndarray, n_classes: int, batch: int = 65536) -> np.ndarray:
    """Class probabilities, shape (n, n_classes); binary models give [1 - p, p]."""
    model.eval()
    chunks = []
    for start in range(0, len(x), batch):
        logits = model(torch.from_numpy(np.ascontiguousarray(x[start : start + batch], dtype=np.float32)))
        if n_classes == 2:
            p = torch.sigmoid(logits[:, 0])
            chunks.append(torch.stack([1 - p, p], dim=1))
        else:
            chunks.append(torch.softmax(logits, dim=1))
    if not chunks:
        return np.zeros((0, n_classes))
    return torch.cat(chunks).double().numpy()


def save_model(
    path: Path, model: nn.Module, cfg: ModelConfig, n_inputs: int, n_classes: int, extra: dict[str, Any]
) -> None:
    """Save weights and everything needed to rebuild and apply the model (loadable with weights_only)."""
    torch.save(
        {
            "state_dict": model.state_dict(),
            "n_inputs": n_inputs,
            "n_classes": n_classes,
            "model": {
                "layers": cfg.layers,
                "width": cfg.width,
                "dropout": cfg.dropout,
                "activation": cfg.activation.value,
            },
            **extra,
        },
        path,
    )


def load_model(path: Path) -> tuple[nn.Sequential, dict[str, Any]]:
    """Rebuild a model saved by save_model; returns it with the saved metadata."""
    blob = torch.load(path, weights_only=True)
    m = blob["model"]
    cfg = ModelConfig(m["layers"], m["width"], m["dropout"], Activation(m["activation"]))
    model = build_mlp(blob["n_inputs"], blob["n_classes"], cfg)
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, blob
