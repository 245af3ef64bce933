"""The surrogate model: a conditional neural spline flow (zuko) over compartment energies.

A spline flow rather than an affine one (MAF): with the same training budget on one core, MAF reached
a classifier AUC of 0.66 where the spline flow reached 0.55 (zeros and long tails make the marginals
far from Gaussian). Coupling layers (``passes=2``) instead of a fully autoregressive spline flow:
the same quality (AUC 0.54 vs 0.55) at half the sampling cost, because sampling inverts each layer
in two network passes instead of one per feature.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import zuko

from l1ml.errors import InputFileError
from l1ml.simulation.surrogate.data import COMPARTMENTS, ResponseSet, TargetTransform, encode_conditions

_CONTEXT = 8  # log E, |eta|, cos phi, sin phi, 4 type one-hot


@dataclass(frozen=True)
class FlowConfig:
    """Architecture and training settings of one surrogate."""

    transforms: int = 6
    hidden: tuple[int, ...] = (128, 128)
    bins: int = 8
    passes: int | None = 2  # 2: coupling layers; None: fully autoregressive (2x slower sampling)
    epochs: int = 12
    batch_size: int = 512
    learning_rate: float = 3e-3
    seed: int = 0
    bootstrap: bool = False  # train on a resample of the training set (for ensembles)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return {**asdict(self), "hidden": list(self.hidden)}


def _build(config: FlowConfig) -> zuko.flows.Flow:
    """An untrained flow for ``config``."""
    return zuko.flows.NSF(features=len(COMPARTMENTS), context=_CONTEXT, transforms=config.transforms,
                          hidden_features=tuple(config.hidden), bins=config.bins, passes=config.passes)


class Surrogate:
    """A trained flow plus the target transform: samples cluster energies given particle conditions."""

    def __init__(self, flow: zuko.flows.Flow, target: TargetTransform, config: FlowConfig,
                 history: list[float] | None = None):
        self.flow = flow.eval()
        self.target = target
        self.config = config
        self.history = history or []

    @classmethod
    def train(cls, train: ResponseSet, val: ResponseSet, config: FlowConfig = FlowConfig(),
              progress: bool = False) -> Surrogate:
        """Fit by maximum likelihood; keep the weights of the epoch with the best validation loss."""
        rng = np.random.default_rng(config.seed)
        if config.bootstrap:
            train = train.subset(rng.integers(0, len(train), len(train)))
        target = TargetTransform.fit(train.response, train.energy)
        torch.manual_seed(config.seed)
        flow = _build(config)
        x_val = torch.from_numpy(target.forward(val.response, val.energy, rng))
        c_val = torch.from_numpy(encode_conditions(val.energy, val.abs_eta, val.phi, val.ptype))
        c_train = torch.from_numpy(encode_conditions(train.energy, train.abs_eta, train.phi, train.ptype))
        n = len(train)
        steps = config.epochs * max(1, n // config.batch_size)
        optimiser = torch.optim.Adam(flow.parameters(), lr=config.learning_rate)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.learning_rate, total_steps=steps)
        generator = torch.Generator().manual_seed(config.seed)
        best, best_state, history = np.inf, copy.deepcopy(flow.state_dict()), []
        with _bar(progress, config.epochs, f"training flow (seed {config.seed})") as advance:
            for _ in range(config.epochs):
                # Fresh dequantization noise every epoch: the flow sees a density, not repeated points.
                x_train = torch.from_numpy(target.forward(train.response, train.energy, rng))
                flow.train()
                order = torch.randperm(n, generator=generator)
                for start in range(0, n - config.batch_size + 1, config.batch_size):
                    idx = order[start:start + config.batch_size]
                    loss = -flow(c_train[idx]).log_prob(x_train[idx]).mean()
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
                    schedule.step()
                flow.eval()
                with torch.no_grad():
                    val_loss = float(-flow(c_val).log_prob(x_val).mean())
                history.append(val_loss)
                if val_loss < best:
                    best, best_state = val_loss, copy.deepcopy(flow.state_dict())
                advance()
        flow.load_state_dict(best_state)
        return cls(flow, target, config, history)

    def sample(self, energy: np.ndarray, abs_eta: np.ndarray, phi: np.ndarray, ptype: np.ndarray,
               seed: int = 0, batch_size: int = 16384) -> np.ndarray:
        """(N, K) compartment energies in GeV, one draw per condition row."""
        context = torch.from_numpy(encode_conditions(energy, abs_eta, phi, ptype))
        torch.manual_seed(seed)
        out = []
        with torch.no_grad():
            for start in range(0, len(context), batch_size):
                out.append(self.flow(context[start:start + batch_size]).sample().numpy())
        features = np.concatenate(out) if out else np.zeros((0, len(COMPARTMENTS)), np.float32)
        return self.target.inverse(features, np.asarray(energy, np.float64))

    def generate(self, conditions: ResponseSet, seed: int = 0) -> ResponseSet:
        """The conditions of ``conditions`` with the surrogate's response."""
        c = conditions
        return c.with_response(self.sample(c.energy, c.abs_eta, c.phi, c.ptype, seed=seed))

    def save(self, path: Path) -> Path:
        """Write weights and settings to one ``.pt`` file (loadable with ``weights_only``)."""
        path = Path(path)
        state = {"weights": self.flow.state_dict(),
                 "meta": json.dumps({"config": self.config.to_dict(), "target": self.target.to_dict(),
                                     "compartments": [list(c) for c in COMPARTMENTS], "history": self.history})}
        torch.save(state, path)
        return path

    @classmethod
    def load(cls, path: Path) -> Surrogate:
        """A surrogate saved by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise InputFileError(f"{path} does not exist; train a surrogate with `l1ml surrogate train -o DIR`")
        try:
            state = torch.load(path, weights_only=True)
            meta = json.loads(state["meta"])
        except Exception as exc:  # torch raises several types for foreign or corrupt files
            raise InputFileError(f"{path} is not a surrogate saved by l1ml ({exc}); retrain it") from exc
        if [list(c) for c in COMPARTMENTS] != meta["compartments"]:
            raise InputFileError(f"{path} was trained for other compartments {meta['compartments']}; retrain it")
        settings = meta["config"]
        config = FlowConfig(**{**settings, "hidden": tuple(settings["hidden"])})
        flow = _build(config)
        flow.load_state_dict(state["weights"])
        return cls(flow, TargetTransform.from_dict(meta["target"]), config, meta["history"])


class _bar:
    """Context manager yielding ``advance()``: a rich progress bar if enabled."""

    def __init__(self, enabled: bool, total: int, description: str):
        self.enabled, self.total, self.description = enabled, total, description
        self._progress: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda: None
        from rich.progress import Progress

        self._progress = Progress(transient=True)
        self._progress.__enter__()
        task = self._progress.add_task(self.description, total=self.total)
        return lambda: self._progress.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
