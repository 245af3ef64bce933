"""Shared fixtures: small Brevitas-free QONNX models built on the fly, and the example model."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "jet_mlp.onnx"


@pytest.fixture(scope="session")
def example_model() -> Path:
    assert EXAMPLE.exists(), "examples/jet_mlp.onnx is committed with the repository"
    return EXAMPLE
