"""Config validation: defaults, relative paths, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from l1ml.errors import InputFileError, L1MLError
from l1ml.offline.config import (
    Activation,
    LogMode,
    NegativeWeights,
    PrunerKind,
    SamplerKind,
    load_config,
    parse_config,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "offline"


@pytest.mark.parametrize("name", ["features.yaml", "cascade.yaml"])
def test_example_configs_load(name):
    config = load_config(EXAMPLES / name)
    assert config.data.path == (EXAMPLES / config.data.path.name).resolve()
    assert config.data.signal is not None


def test_example_values_are_read():
    config = load_config(EXAMPLES / "features.yaml")
    assert config.data.negative_weights is NegativeWeights.ABS
    assert config.search.sampler is SamplerKind.TPE and config.search.pruner is PrunerKind.HYPERBAND
    assert config.search.space.activation == (
        Activation.RELU,
        Activation.ELU,
        Activation.SILU,
        Activation.TANH,
    )
    assert config.prep.log_mode is LogMode.AUTO and config.prep.no_log == ()
    cascade = load_config(EXAMPLES / "cascade.yaml")
    assert cascade.data.backgrounds == ("wjets", "ttbar")
    assert cascade.cascade.super_model.width == 16


def test_paths_are_relative_to_the_config(tmp_path):
    config = parse_config(
        {"data": {"path": "sub/t.parquet", "label": "y"}, "output": "out"}, tmp_path / "c.yaml"
    )
    assert config.data.path == tmp_path / "sub" / "t.parquet"
    assert config.output == tmp_path / "out"


def test_log_list_and_string_numbers(tmp_path):
    config = parse_config(
        {
            "data": {"path": "t.csv", "label": "y"},
            "prep": {"log": ["a", "b"]},
            "train": {"learning_rate": "1e-3"},
        },
        tmp_path / "c.yaml",
    )
    assert config.prep.log_mode is LogMode.LIST and config.prep.log_columns == ("a", "b")
    assert config.train.learning_rate == pytest.approx(1e-3)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({}, "data section is required"),
        ({"data": {"label": "y"}}, "data.path is required"),
        ({"data": {"path": "t", "label": "y", "negative_weight": "abs"}}, "did you mean 'negative_weights'"),
        ({"data": {"path": "t", "label": "y", "negative_weights": "flip"}}, "must be one of abs, keep, drop"),
        ({"data": {"path": "t", "label": "y", "split": {"train": 0.9}}}, "sum to 1"),
        ({"data": {"path": "t", "label": "y"}, "model": {"layers": 0}}, "model.layers must be at least 1"),
        ({"data": {"path": "t", "label": "y"}, "model": {"width": 2.5}}, "model.width must be an integer"),
        ({"data": {"path": "t", "label": "y"}, "search": {"space": {"l2": [0.0, 0.1]}}}, "log scale"),
        ({"data": {"path": "t", "label": "y"}, "search": {"space": {"width": [64, 8]}}}, "low > high"),
        ({"data": {"path": "t", "label": "y"}, "selection": {"scan": [0.1, 1.5]}}, "selection.scan"),
        ({"data": {"path": "t", "label": "y", "backgrounds": ["b"]}}, "needs data.signal"),
        (
            {"data": {"path": "t", "label": "y"}, "train": {"epochs": 10, "epoch": 3}},
            "train.epoch is not a known",
        ),
    ],
)
def test_bad_configs_name_the_key(tmp_path, raw, fragment):
    with pytest.raises(L1MLError, match=fragment.replace("(", r"\(").replace(")", r"\)")) as info:
        parse_config(raw, tmp_path / "bad.yaml")
    assert "bad.yaml" in str(info.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(InputFileError, match="config file not found"):
        load_config(tmp_path / "none.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: [unclosed\n")
    with pytest.raises(InputFileError, match="not valid YAML"):
        load_config(broken)
