"""Reading HGCal cluster datasets: ``image_columns``, ``load_hgcal`` and ``load_hgcal_table``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from l1ml.errors import InputFileError
from l1ml.simulation.hgcal_clusters import IMAGE_SIZE, LAYER_GROUPS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def image_columns(n_channels: int = len(LAYER_GROUPS)) -> list[str]:
    """Names of the flattened image columns, ``img_<channel>_<row>_<col>`` in C-order."""
    return [f"img_{c}_{r}_{k}" for c in range(n_channels) for r in range(IMAGE_SIZE) for k in range(IMAGE_SIZE)]


def load_hgcal(path: Path) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Images (N, C, 8, 8) float32, labels (N,) int64 and the other columns, from a dataset or Parquet file."""
    from l1ml.simulation.dataset import read_table

    path = Path(path)
    return load_hgcal_table(read_table(path / "clusters.parquet" if path.is_dir() else path), path)


def load_hgcal_table(table: pd.DataFrame, source: Path | str = "the table"
                     ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """``load_hgcal`` for a clusters DataFrame already in memory."""
    names = image_columns()
    missing = [c for c in ["label", *names] if c not in table.columns]
    if missing:
        raise InputFileError(f"{source} has no column(s) {', '.join(missing[:5])}"
                             f"{' ...' if len(missing) > 5 else ''}; it is not an HGCal clusters table - "
                             "regenerate it with `l1ml simulate hgcal --events N -o DIR`")
    return _images_of(table), table["label"].to_numpy(np.int64), table.drop(columns=names)


def _images_of(df: pd.DataFrame) -> np.ndarray:
    """The (N, C, 8, 8) float32 images of a clusters table."""
    images = df[image_columns()].to_numpy(np.float32)
    return images.reshape(len(df), len(LAYER_GROUPS), IMAGE_SIZE, IMAGE_SIZE)
