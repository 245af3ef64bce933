"""Reading event tables (Parquet, CSV, ROOT) and turning the label column into classes and splits."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd

from l1ml.errors import InputFileError, L1MLError
from l1ml.offline.config import DataConfig, SplitConfig


class Task(Enum):
    """Binary (signal vs the rest) or multi-class classification."""

    BINARY = "binary"
    MULTICLASS = "multiclass"


@dataclass(frozen=True)
class Table:
    """Raw events: features as float64, the process (distinct label value) of each event, signed weights."""

    x: np.ndarray
    process: np.ndarray
    process_names: list[str]
    weight: np.ndarray
    features: list[str]
    path: Path


@dataclass(frozen=True)
class Target:
    """Which class each process belongs to (-1: not used) and the class names in output order."""

    class_of_process: np.ndarray
    class_names: list[str]
    task: Task
    signal_process: int | None


@dataclass(frozen=True)
class Split:
    """Row indices of the three splits."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".csv.gz", ".tsv")
_ROOT = (".root",)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in _PARQUET + _CSV + _ROOT:
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _available_columns(path: Path, tree: str | None) -> tuple[list[str], str | None]:
    suffix = _suffix(path)
    if suffix in _PARQUET:
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names), None
    if suffix in _CSV:
        sep = "\t" if suffix == ".tsv" else ","
        return list(pd.read_csv(path, sep=sep, nrows=0).columns), None
    if suffix in _ROOT:
        import uproot

        with uproot.open(path) as file:
            trees = sorted(
                {
                    k.split(";")[0]
                    for k, c in file.classnames().items()
                    if c.startswith("TTree") or c.endswith("RNTuple")
                }
            )
            if tree is None:
                if len(trees) != 1:
                    raise InputFileError(f"{path}: holds trees {trees}; set data.tree to the one to read")
                tree = trees[0]
            if tree not in trees:
                raise InputFileError(f"{path}: no tree '{tree}'; trees in the file: {trees}")
            return [str(k) for k in file[tree].keys()], tree
    raise InputFileError(f"{path}: unknown table format '{suffix}'; use .parquet, .csv, .tsv or .root")


def _read_columns(path: Path, columns: list[str], tree: str | None) -> pd.DataFrame:
    suffix = _suffix(path)
    if suffix in _PARQUET:
        return pd.read_parquet(path, columns=columns)
    if suffix in _CSV:
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", usecols=columns)[columns]
    import uproot

    with uproot.open(path) as file:
        arrays = file[tree].arrays(columns, library="np")
    for name, values in arrays.items():
        if values.dtype == object:
            raise InputFileError(
                f"{path}: column '{name}' holds variable-length entries; flatten it to one "
                "number per event (e.g. the leading jet's value) before training"
            )
    return pd.DataFrame({name: arrays[name] for name in columns})


def _missing(path: Path, what: str, names: list[str], available: list[str]) -> InputFileError:
    hints = []
    for name in names:
        close = difflib.get_close_matches(name, available, n=1)
        hints.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    return InputFileError(
        f"{path}: {what} {', '.join(hints)} not found; available columns: {', '.join(available)}"
    )


def read_table(cfg: DataConfig) -> Table:
    """Read the configured columns, checking that they exist, are numeric and finite."""
    path = cfg.path
    if not path.is_file():
        raise InputFileError(f"{path}: table not found; set data.path in the config or pass --data")
    try:
        available, tree = _available_columns(path, cfg.tree)
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: cannot read the table ({exc})") from exc
    fixed = [cfg.label] + ([cfg.weight] if cfg.weight else [])
    missing = [c for c in fixed if c not in available]
    if missing:
        raise _missing(path, "label/weight column", missing, available)
    if cfg.features is None:
        features = [c for c in available if c not in fixed]
    else:
        features = list(cfg.features)
        missing = [c for c in features if c not in available]
        if missing:
            raise _missing(path, "feature column", missing, available)
        clash = [c for c in features if c in fixed]
        if clash:
            raise L1MLError(
                f"{path}: {clash} are the label/weight and cannot also be features; "
                "remove them from data.features"
            )
    frame = _read_columns(path, features + fixed, tree)
    if cfg.features is None:
        features = [c for c in features if pd.api.types.is_numeric_dtype(frame[c])]
    if not features:
        raise InputFileError(f"{path}: no numeric feature columns; list them in data.features")
    bad = [c for c in features + fixed[1:] if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise InputFileError(
            f"{path}: columns {bad} are not numeric; encode them as numbers or drop them from data.features"
        )
    x = frame[features].to_numpy(dtype=np.float64)
    weight = frame[cfg.weight].to_numpy(dtype=np.float64) if cfg.weight else np.ones(len(frame))
    for name, values in [*zip(features, x.T, strict=True), (cfg.weight or "weight", weight)]:
        n_bad = int(np.count_nonzero(~np.isfinite(values)))
        if n_bad:
            raise InputFileError(
                f"{path}: column '{name}' has {n_bad} NaN/inf values; fill or drop those rows before training"
            )
    labels = frame[cfg.label]
    if labels.isna().any():
        raise InputFileError(
            f"{path}: label column '{cfg.label}' has {int(labels.isna().sum())} empty values"
        )
    values = np.sort(labels.unique())
    names = [_label_name(v) for v in values]
    process = np.searchsorted(values, labels.to_numpy())
    return Table(
        x=x,
        process=process.astype(np.int64),
        process_names=names,
        weight=weight,
        features=features,
        path=path,
    )


def _label_name(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    return str(value)


def _process_index(table: Table, name: str, key: str) -> int:
    if name not in table.process_names:
        raise L1MLError(
            f"{table.path}: {key} '{name}' is not a value of the label column; values present: "
            f"{', '.join(table.process_names)}"
        )
    return table.process_names.index(name)


def make_target(table: Table, cfg: DataConfig) -> Target:
    """Map label values to classes: signal vs backgrounds (binary) or one class per value (multi-class)."""
    n = len(table.process_names)
    if cfg.signal is None and cfg.classes is None and sorted(table.process_names) == ["0", "1"]:
        cfg_signal: str | None = "1"
    else:
        cfg_signal = cfg.signal
    if cfg_signal is not None:
        signal = _process_index(table, cfg_signal, "data.signal")
        if cfg.backgrounds is None:
            backgrounds = [i for i in range(n) if i != signal]
        else:
            backgrounds = [_process_index(table, b, "data.backgrounds") for b in cfg.backgrounds]
            if signal in backgrounds:
                raise L1MLError(f"{cfg.path}: data.backgrounds must not contain the signal '{cfg_signal}'")
        if not backgrounds:
            raise L1MLError(f"{table.path}: the label column only holds the signal '{cfg_signal}'")
        mapping = np.full(n, -1, dtype=np.int64)
        mapping[backgrounds] = 0
        mapping[signal] = 1
        return Target(mapping, ["background", "signal"], Task.BINARY, signal)
    wanted = list(cfg.classes) if cfg.classes else table.process_names
    indices = [_process_index(table, c, "data.classes") for c in wanted]
    if len(indices) < 2:
        raise L1MLError(f"{table.path}: need at least two classes, found {wanted}")
    mapping = np.full(n, -1, dtype=np.int64)
    mapping[indices] = np.arange(len(indices))
    task = Task.BINARY if len(indices) == 2 else Task.MULTICLASS
    return Target(
        mapping, [table.process_names[i] for i in indices], task, indices[1] if len(indices) == 2 else None
    )


def stratified_split(process: np.ndarray, cfg: SplitConfig) -> Split:
    """Split rows so that every process keeps its share in train, validation and test."""
    rng = np.random.default_rng(cfg.seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for p in np.unique(process):
        rows = rng.permutation(np.flatnonzero(process == p))
        if len(rows) < 3:
            raise L1MLError(
                f"process with index {p} has only {len(rows)} events; each process needs at least "
                "3 to appear in every split"
            )
        n_train = max(1, int(round(cfg.train * len(rows))))
        n_val = max(1, int(round(cfg.validation * len(rows))))
        n_train = min(n_train, len(rows) - 2)
        n_val = min(n_val, len(rows) - n_train - 1)
        for part, chunk in zip(parts, np.split(rows, [n_train, n_train + n_val]), strict=True):
            part.append(chunk)
    train, val, test = (np.sort(np.concatenate(p)) for p in parts)
    return Split(train=train, validation=val, test=test)
