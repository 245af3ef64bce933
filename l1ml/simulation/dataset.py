"""Dataset directories: Parquet tables + ``manifest.json`` + validation plots, written atomically.

A dataset directory looks like::

    DIR/manifest.json        generator settings, seed, versions, row counts, file checksums
    DIR/<table>.parquet      one file per table
    DIR/plots/*.png          validation plots

Everything is written into a temporary sibling directory and renamed into place at the end, so a
failed run never leaves a half-written dataset (``l1ml.atomic``: an existing directory is replaced only
if l1ml wrote it or with ``force``). Nothing depends on the clock, so rerunning with the
same seed reproduces every file byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from l1ml.atomic import atomic_dir
from l1ml.errors import InputFileError
from l1ml.hashing import file_sha256

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

MANIFEST = "manifest.json"
PLOTS_DIR = "plots"
FORMAT_VERSION = 1

_VERSIONED_PACKAGES = ("l1ml", "pythia8mc", "fastjet", "numpy", "pandas", "pyarrow")


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of the packages that shape the output (``"not installed"`` if absent)."""
    versions = {}
    for name in sorted(set(_VERSIONED_PACKAGES + extra)):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_table(df: pd.DataFrame, path: Path) -> None:
    """Write one table as Parquet, deterministically (no index, fixed compression, no timestamps)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, compression="zstd", write_statistics=True)


def read_table(path: Path) -> pd.DataFrame:
    """Read one Parquet table, with a user-facing error for missing or broken files."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path} does not exist; generate it with `l1ml simulate ... -o {path.parent}`")
    try:
        return pq.read_table(path).to_pandas()
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputFileError(f"{path} is not a readable Parquet file ({exc}); regenerate the dataset") from exc


def write_dataset(dest: Path, tables: Mapping[str, pd.DataFrame], manifest: Mapping[str, Any],
                  plots: Callable[[Mapping[str, pd.DataFrame], Path], list[Path]] | None = None,
                  force: bool = False) -> Path:
    """Write ``tables`` + manifest (+ plots made by ``plots(tables, plots_dir)``) atomically to ``dest``.

    ``manifest`` holds the caller's description (kind, generator settings, seed, ...); this function
    adds format version, package versions, row counts and SHA-256 checksums of the tables.
    """
    dest = Path(dest)
    with atomic_dir(dest, f"simulate {manifest.get('kind', '')}".strip(), force=force) as tmp:
        files = {}
        for name in sorted(tables):
            path = tmp / f"{name}.parquet"
            write_table(tables[name], path)
            files[f"{name}.parquet"] = file_sha256(path)
        plot_names: list[str] = []
        if plots is not None:
            plot_dir = tmp / PLOTS_DIR
            plot_dir.mkdir()
            plot_names = sorted(p.relative_to(tmp).as_posix() for p in plots(tables, plot_dir))
        full = {
            **manifest,
            "format_version": FORMAT_VERSION,
            "versions": package_versions(),
            "counts": {name: len(tables[name]) for name in sorted(tables)},
            "files": files,
            "plots": plot_names,
        }
        (tmp / MANIFEST).write_text(json.dumps(full, indent=2, sort_keys=True, default=_json_default) + "\n")
    return dest


def _json_default(obj: Any) -> Any:
    """JSON encoding for numpy scalars, enums and paths in manifests."""
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "value"):
        return obj.value
    if isinstance(obj, Path):
        return obj.as_posix()
    raise TypeError(f"cannot write {type(obj).__name__} to a manifest")


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a dataset directory."""
    file = Path(path) / MANIFEST
    if not file.is_file():
        raise InputFileError(f"{path} is not an l1ml dataset (no {MANIFEST}); "
                             "generate one with `l1ml simulate {jets,tracks,hgcal} -o DIR`")
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{file} is not valid JSON ({exc}); regenerate the dataset") from exc


def load_dataset(path: Path, verify: bool = False) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Load every table of a dataset directory and its manifest; ``verify`` checks the checksums."""
    path = Path(path)
    manifest = read_manifest(path)
    tables = {}
    for file, digest in sorted(manifest.get("files", {}).items()):
        if verify and file_sha256(path / file) != digest:
            raise InputFileError(f"{path / file} does not match the checksum in {MANIFEST}; "
                                 "the file was modified or truncated, regenerate the dataset")
        tables[file.removesuffix(".parquet")] = read_table(path / file)
    return tables, manifest
