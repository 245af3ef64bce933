"""Reading and writing event tables (Parquet, CSV, ROOT) and fitted reweighting models.

Every writer goes through ``staged_output``: files are written into a temporary directory beside the
destination and renamed into place only after everything succeeded, so a failure never leaves a
half-written table, model or report behind.
"""

from __future__ import annotations

import json
import pickle
from contextlib import AbstractContextManager
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from l1ml.atomic import atomic_dir, atomic_file
from l1ml.errors import InputFileError, L1MLError
from l1ml.reweighting.base import Reweighter

MODEL_FORMAT = 1
MODEL_FILE = "model.pkl"
META_FILE = "model.json"


class TableFormat(Enum):
    """Supported table formats, chosen by file suffix."""

    PARQUET = (".parquet", ".pq")
    CSV = (".csv",)
    ROOT = (".root",)


def input_files(*tables: Path | str) -> list[Path]:
    """The files behind table paths (``events.root:tree`` is the file ``events.root``)."""
    return [split_root_path(t)[0] for t in tables]


def split_root_path(path: Path | str) -> tuple[Path, str | None]:
    """Split ``events.root:tree`` into the file and the tree name (``None`` when not given)."""
    text = str(path)
    head, sep, tree = text.rpartition(":")
    if sep and head.endswith(".root") and tree:
        return Path(head), tree
    return Path(text), None


def table_format(path: Path | str) -> TableFormat:
    """The format of a table path from its suffix."""
    file, _ = split_root_path(path)
    suffix = file.suffix.lower()
    for fmt in TableFormat:
        if suffix in fmt.value:
            return fmt
    known = ", ".join(s for fmt in TableFormat for s in fmt.value)
    raise InputFileError(f"{file}: unknown table format '{suffix}'; use one of {known} (ROOT: file.root:tree)")


def _root_tree(file: Path, tree: str | None) -> Any:
    import uproot

    handle = uproot.open(file)
    trees = sorted({key.split(";")[0] for key, cls in handle.classnames().items()
                    if cls == "TTree" or cls.startswith("ROOT::RNTuple")})
    if tree is None:
        if len(trees) != 1:
            raise InputFileError(f"{file}: holds {len(trees)} trees ({', '.join(trees) or 'none'}); "
                                 f"name one as {file}:TREE")
        tree = trees[0]
    if tree not in trees:
        raise InputFileError(f"{file}: no tree '{tree}'; trees in the file: {', '.join(trees) or 'none'}")
    return handle[tree]


def read_table(path: Path | str, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a table (all columns, or only ``columns``), naming the file and column in any error."""
    file, tree = split_root_path(path)
    fmt = table_format(path)
    if not file.is_file():
        raise InputFileError(f"{file}: no such file")
    try:
        if fmt is TableFormat.PARQUET:
            import pyarrow.parquet as pq

            available = pq.read_schema(file).names
        elif fmt is TableFormat.CSV:
            available = list(pd.read_csv(file, nrows=0).columns)
        else:
            available = list(_root_tree(file, tree).keys())
    except L1MLError:
        raise
    except Exception as exc:  # a corrupt file: any library error becomes a user error naming the file
        raise InputFileError(f"{file}: cannot be read as {fmt.name} ({exc})") from exc
    wanted = available if columns is None else columns
    missing = [c for c in wanted if c not in available]
    if missing:
        raise InputFileError(f"{path}: no column(s) {', '.join(missing)}; available: {', '.join(available)}")
    try:
        if fmt is TableFormat.PARQUET:
            return pd.read_parquet(file, columns=wanted)
        if fmt is TableFormat.CSV:
            return pd.read_csv(file, usecols=wanted)[wanted]
        arrays = _root_tree(file, tree).arrays(wanted, library="np")
        return pd.DataFrame({c: _flat_column(arrays[c], path, c) for c in wanted})
    except L1MLError:
        raise
    except Exception as exc:
        raise InputFileError(f"{file}: cannot be read as {fmt.name} ({exc})") from exc


def _flat_column(values: np.ndarray, path: Path | str, column: str) -> np.ndarray:
    if values.dtype == object:
        raise InputFileError(f"{path}: column '{column}' holds a variable-length array per event; "
                             "reweighting needs one number per event, so flatten or pick an element first")
    return values


def feature_matrix(frame: pd.DataFrame, columns: list[str], source: Path | str) -> np.ndarray:
    """The chosen columns as a float64 matrix; a non-numeric or non-finite column is a user error."""
    out = np.empty((len(frame), len(columns)))
    for j, column in enumerate(columns):
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            raise InputFileError(f"{source}: column '{column}' has {int(bad.sum())} missing, non-numeric or "
                                 f"infinite values (first at row {int(np.argmax(bad))}); clean or drop them")
        out[:, j] = values
    return out


def ensure_replaceable(destination: Path | str) -> None:
    """Fail early if the output *file* ``destination`` is an existing directory (never replaced by a table).

    Output directories follow ``l1ml.atomic`` instead."""
    dest = Path(destination)
    if dest.is_dir():
        raise L1MLError(f"{dest}: is a directory, not a table file; choose another path")


def staged_output(destination: Path | str) -> AbstractContextManager[Path]:
    """Yield a scratch path for an output file; on success move it to ``destination`` (an older file is
    replaced), on failure it vanishes (``l1ml.atomic.atomic_file``)."""
    ensure_replaceable(destination)
    return atomic_file(destination)


def write_table(frame: pd.DataFrame, path: Path | str) -> None:
    """Write a table in the format of its suffix (ROOT: one flat tree, named in ``file.root:tree``)."""
    file, tree = split_root_path(path)
    fmt = table_format(path)
    with staged_output(file) as staged:
        if fmt is TableFormat.PARQUET:
            frame.to_parquet(staged, index=False)
        elif fmt is TableFormat.CSV:
            frame.to_csv(staged, index=False)
        else:
            import uproot

            arrays = {c: frame[c].to_numpy() for c in frame.columns}
            text = [c for c, a in arrays.items() if a.dtype.kind not in "biuf"]
            if text:
                raise L1MLError(f"{path}: ROOT output holds numeric columns only, but {', '.join(text)} "
                                "are not numeric; write Parquet or CSV instead")
            with uproot.recreate(staged) as out:
                out.mktree(tree or "events", {c: a.dtype for c, a in arrays.items()}).extend(arrays)


def save_model(reweighter: Reweighter, meta: dict[str, Any], directory: Path | str, force: bool = False,
               inputs: tuple[Path | str, ...] = ()) -> None:
    """Write a fitted reweighter and its description (columns, method, settings) to a directory
    (``l1ml.atomic``: replaced only if l1ml wrote it or with ``force``; never one holding ``inputs``)."""
    with atomic_dir(directory, "reweight fit", input_files(*inputs), force) as staged:
        with open(staged / MODEL_FILE, "wb") as handle:
            pickle.dump(reweighter, handle, protocol=pickle.HIGHEST_PROTOCOL)
        full = {"format": MODEL_FORMAT, **meta}
        (staged / META_FILE).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")


def load_model(directory: Path | str) -> tuple[Reweighter, dict[str, Any]]:
    """Read a model directory written by ``save_model``. Only load models you trust: it is a pickle."""
    root = Path(directory)
    if not (root / META_FILE).is_file() or not (root / MODEL_FILE).is_file():
        raise InputFileError(f"{root}: not a reweighting model (expected {META_FILE} and {MODEL_FILE}); "
                             "create one with `l1ml reweight fit`")
    meta = json.loads((root / META_FILE).read_text())
    if meta.get("format") != MODEL_FORMAT:
        raise InputFileError(f"{root}: model format {meta.get('format')} is not {MODEL_FORMAT}; "
                             "refit it with this version of l1ml")
    try:
        with open(root / MODEL_FILE, "rb") as handle:
            reweighter = pickle.load(handle)
    except Exception as exc:
        raise InputFileError(f"{root / MODEL_FILE}: cannot be loaded ({exc}); refit the model") from exc
    if not isinstance(reweighter, Reweighter):
        raise InputFileError(f"{root / MODEL_FILE}: does not hold a reweighter; refit the model")
    return reweighter, meta
