"""Toy tables with a known answer, to check the method end to end.

`features`: binary signal/background with planted informative features (of decreasing strength), pure
noise, and near-copies of some of them; background weights grow with the strongest feature so the
weighted problem is harder than the unweighted one; a fraction of events carry negative weights.

`multibackground`: a signal and two backgrounds that differ from it in different features (W+jets in
w_*, tt-bar in t_*), with W+jets dominating the background weight; the case a cascade is built for.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from l1ml.errors import L1MLError
from l1ml.offline.config import ToyKind

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass(frozen=True)
class ToyTruth:
    """What the toy was built to contain, for tests and reports to compare against."""

    kind: str
    informative: list[str]  # strongest first
    noise: list[str]
    duplicates: dict[str, str]  # near-copy -> the feature it copies
    groups: list[list[str]]  # features a correlation clustering should put together
    weighted_auc_expected: str  # "lower" or "higher" than the unweighted AUC
    notes: list[str] = field(default_factory=list)


# A fixed, interleaved column order so nothing can be read off the position of a column.
_FEATURE_ORDER = [
    "noise_0",
    "inf_0",
    "dup_0a",
    "noise_1",
    "inf_1",
    "noise_2",
    "dup_1",
    "inf_2",
    "dup_noise_0",
    "noise_3",
    "inf_3",
    "dup_0b",
]


def feature_toy(
    n_events: int = 20000, seed: int = 0, negative_fraction: float = 0.1, weight_slope: float = 0.4
) -> tuple[pd.DataFrame, ToyTruth]:
    """Binary toy with informative, noise and duplicated-correlated features and physics weights."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_sig = n_events // 2
    label = np.r_[np.ones(n_sig, np.int64), np.zeros(n_events - n_sig, np.int64)]
    sig = label == 1
    sign = np.where(sig, 1.0, -1.0)
    cols: dict[str, np.ndarray] = {}
    cols["inf_0"] = rng.normal(0.75 * sign, 1.0)  # 1.5 sigma apart (1.1 sigma once weighted)
    cols["inf_1"] = np.exp(rng.normal(0.35 * sign, 0.8))  # log-normal, 0.9 sigma apart in log
    cols["inf_2"] = rng.normal(0.3 * sign, 1.0)  # 0.6 sigma
    cols["inf_3"] = rng.normal(0.0, np.where(sig, 1.5, 1.0))  # differs only in width: needs a nonlinearity
    cols["noise_0"] = rng.normal(0.0, 1.0, n_events)
    cols["noise_1"] = rng.exponential(1.0, n_events)
    cols["noise_2"] = rng.uniform(0.0, 1.0, n_events)
    cols["noise_3"] = rng.normal(2.0, 0.5, n_events)
    cols["dup_0a"] = cols["inf_0"] + rng.normal(0.0, 0.3, n_events)
    cols["dup_0b"] = 0.8 * cols["inf_0"] + 1.0 + rng.normal(0.0, 0.3, n_events)
    cols["dup_1"] = cols["inf_1"] * np.exp(rng.normal(0.0, 0.15, n_events))
    cols["dup_noise_0"] = cols["noise_0"] + rng.normal(0.0, 0.2, n_events)
    # Background weights rise where background looks like signal (large inf_0): the weighted background
    # is shifted towards the signal, so any classifier's weighted AUC is lower than its unweighted AUC.
    weight = np.where(sig, rng.uniform(0.5, 1.5, n_events), 2.0 * np.exp(weight_slope * cols["inf_0"]))
    flip = rng.random(n_events) < negative_fraction
    weight = np.where(flip, -weight, weight)  # feature-independent, like NLO subtraction events
    order = rng.permutation(n_events)
    frame = pd.DataFrame({name: cols[name][order] for name in _FEATURE_ORDER})
    frame["label"] = label[order]
    frame["weight"] = weight[order]
    truth = ToyTruth(
        kind=ToyKind.FEATURES.value,
        informative=["inf_0", "inf_1", "inf_2", "inf_3"],
        noise=["noise_0", "noise_1", "noise_2", "noise_3", "dup_noise_0"],
        duplicates={"dup_0a": "inf_0", "dup_0b": "inf_0", "dup_1": "inf_1", "dup_noise_0": "noise_0"},
        groups=[["dup_0a", "dup_0b", "inf_0"], ["dup_1", "inf_1"], ["dup_noise_0", "noise_0"]],
        weighted_auc_expected="lower",
        notes=[
            f"background weight 2 exp({weight_slope} inf_0); {negative_fraction:.0%} of events have "
            "their weight negated independently of the features",
            "inf_1, dup_1 and noise_1 are positive and heavy-tailed (log-transform candidates)",
        ],
    )
    return frame, truth


def multibackground_toy(
    n_events: int = 30000, seed: int = 0, negative_fraction: float = 0.05
) -> tuple[pd.DataFrame, ToyTruth]:
    """Signal, W+jets and tt-bar that differ in different features; W+jets dominates the weight."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    counts = {"signal": int(0.4 * n_events), "wjets": int(0.4 * n_events)}
    counts["ttbar"] = n_events - counts["signal"] - counts["wjets"]
    per_event_weight = {"signal": 1.0, "wjets": 2.0, "ttbar": 0.5}
    frames = []
    for process, n in counts.items():
        w_shift = 1.5 if process == "wjets" else 0.0
        t_shift = 1.5 if process == "ttbar" else 0.0
        log_ht = {"signal": 0.0, "wjets": -0.3, "ttbar": 0.5}[process]
        part = {
            "w_0": rng.normal(w_shift, 1.0, n),
            "w_1": rng.normal(w_shift, 1.0, n),
            "t_0": rng.normal(-t_shift, 1.0, n),
            "t_1": rng.normal(t_shift, 1.0 + 0.3 * (process == "ttbar"), n),
            "ht": np.exp(rng.normal(log_ht, 0.5, n)),
            "noise_0": rng.normal(0.0, 1.0, n),
            "noise_1": rng.uniform(0.0, 1.0, n),
        }
        w = per_event_weight[process] * rng.uniform(0.8, 1.2, n)
        part["weight"] = np.where(rng.random(n) < negative_fraction, -w, w)
        frame = pd.DataFrame(part)
        frame.insert(len(part) - 1, "process", process)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    truth = ToyTruth(
        kind=ToyKind.MULTIBACKGROUND.value,
        informative=["w_0", "w_1", "t_0", "t_1", "ht"],
        noise=["noise_0", "noise_1"],
        duplicates={},
        groups=[],
        weighted_auc_expected="same",
        notes=[
            "wjets differs from signal in w_0, w_1 only; ttbar in t_0, t_1 only; ht mildly in both",
            "per-event weights: signal 1, wjets 2, ttbar 0.5 (x U(0.8, 1.2))",
        ],
    )
    return frame, truth


def make_toy(kind: ToyKind, n_events: int, seed: int) -> tuple[pd.DataFrame, ToyTruth]:
    if n_events < 100:
        raise L1MLError(f"--events {n_events} is too small for a toy; use at least 100")
    if kind is ToyKind.FEATURES:
        return feature_toy(n_events, seed)
    return multibackground_toy(n_events, seed)


def _replace_atomically(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_toy(kind: ToyKind, path: Path, n_events: int, seed: int) -> tuple[Path, Path]:
    """Write the toy table (.parquet or .csv) and its truth as <name>.truth.yaml next to it."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise L1MLError(f"{path}: toy tables are written as .parquet or .csv; change the file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame, truth = make_toy(kind, n_events, seed)
    if suffix == ".parquet":
        _replace_atomically(path, lambda p: frame.to_parquet(p, index=False))
    else:
        _replace_atomically(path, lambda p: frame.to_csv(p, index=False))
    truth_path = path.with_name(path.stem + ".truth.yaml")
    _replace_atomically(truth_path, lambda p: p.write_text(yaml.safe_dump(asdict(truth), sort_keys=False)))
    return path, truth_path
