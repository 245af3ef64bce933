"""Shared fixtures: small toy tables written once per session, single-threaded torch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from l1ml.offline.config import ToyKind
from l1ml.offline.toy import write_toy


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def feature_table(tmp_path_factory) -> Path:
    path, _ = write_toy(ToyKind.FEATURES, tmp_path_factory.mktemp("toy") / "features.parquet", 16000, 3)
    return path


@pytest.fixture(scope="session")
def multibackground_table(tmp_path_factory) -> Path:
    path, _ = write_toy(ToyKind.MULTIBACKGROUND, tmp_path_factory.mktemp("toy") / "multi.parquet", 15000, 5)
    return path


@pytest.fixture
def config_file(tmp_path):
    """A function writing a YAML config into tmp_path and returning its path."""

    def write(raw: dict, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path

    return write
