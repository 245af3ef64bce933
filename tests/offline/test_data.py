"""Reading tables in three formats, label handling, stratified splits and weight treatments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import uproot

from l1ml.errors import InputFileError, L1MLError
from l1ml.offline.config import NegativeWeights, SplitConfig, parse_config
from l1ml.offline.data import Task, make_target, read_table, stratified_split
from l1ml.offline.dataset import fit_weights, normalise_per_class


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.exponential(size=n),
            "cls": rng.choice([0, 1, 2], size=n, p=[0.5, 0.3, 0.2]),
            "w": rng.normal(1.0, 0.5, size=n),
        }
    )


def _data_cfg(tmp_path, name, **data):
    return parse_config(
        {"data": {"path": name, "label": "cls", "weight": "w", **data}}, tmp_path / "c.yaml"
    ).data


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".root"])
def test_formats_read_the_same_numbers(tmp_path, suffix):
    frame = _frame()
    path = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        with uproot.recreate(path) as file:
            file["Events"] = {c: frame[c].to_numpy() for c in frame.columns}
    table = read_table(_data_cfg(tmp_path, path.name))
    assert table.features == ["a", "b"]
    np.testing.assert_allclose(table.x, frame[["a", "b"]].to_numpy())
    np.testing.assert_allclose(table.weight, frame["w"].to_numpy())
    assert table.process_names == ["0", "1", "2"]
    np.testing.assert_array_equal(table.process, frame["cls"].to_numpy())


def test_missing_column_names_file_and_suggests(tmp_path):
    _frame().to_parquet(tmp_path / "t.parquet")
    with pytest.raises(InputFileError, match=r"t\.parquet.*'bb' \(did you mean 'b'\?\)"):
        read_table(_data_cfg(tmp_path, "t.parquet", features=["a", "bb"]))
    with pytest.raises(InputFileError, match="label/weight column 'klass'"):
        read_table(parse_config({"data": {"path": "t.parquet", "label": "klass"}}, tmp_path / "c.yaml").data)


def test_nan_and_missing_file_errors(tmp_path):
    frame = _frame()
    frame.loc[3, "b"] = np.nan
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(InputFileError, match="column 'b' has 1 NaN/inf"):
        read_table(_data_cfg(tmp_path, "t.csv"))
    with pytest.raises(InputFileError, match="table not found"):
        read_table(_data_cfg(tmp_path, "absent.parquet"))


def test_targets_binary_and_multiclass(tmp_path):
    _frame().to_parquet(tmp_path / "t.parquet")
    table = read_table(_data_cfg(tmp_path, "t.parquet"))
    multi = make_target(table, _data_cfg(tmp_path, "t.parquet"))
    assert multi.task is Task.MULTICLASS and multi.class_names == ["0", "1", "2"]
    binary = make_target(table, _data_cfg(tmp_path, "t.parquet", signal=2, backgrounds=[0]))
    assert binary.task is Task.BINARY
    np.testing.assert_array_equal(binary.class_of_process, [0, -1, 1])
    with pytest.raises(L1MLError, match="data.signal '7' is not a value"):
        make_target(table, _data_cfg(tmp_path, "t.parquet", signal=7))


def test_split_is_stratified_and_disjoint():
    rng = np.random.default_rng(1)
    process = rng.choice(3, size=2000, p=[0.7, 0.25, 0.05])
    split = stratified_split(process, SplitConfig(0.5, 0.25, 0.25, seed=4))
    parts = [split.train, split.validation, split.test]
    assert sum(len(p) for p in parts) == len(process)
    assert len(np.unique(np.concatenate(parts))) == len(process)
    for p in range(3):
        share = np.mean(process == p)
        for rows, fraction in zip(parts, (0.5, 0.25, 0.25), strict=True):
            assert np.mean(process[rows] == p) == pytest.approx(share, abs=0.01)
            assert np.sum(process[rows] == p) == pytest.approx(fraction * np.sum(process == p), abs=1)


def test_weight_treatments():
    y = np.array([0, 0, 0, 1, 1])
    w = np.array([2.0, -1.0, 3.0, 1.0, 1.0])
    for mode in NegativeWeights:
        fitted = fit_weights(w, y, 2, mode)
        assert fitted[y == 0].sum() == pytest.approx(2.5) and fitted[y == 1].sum() == pytest.approx(2.5)
    assert fit_weights(w, y, 2, NegativeWeights.ABS)[1] > 0
    assert fit_weights(w, y, 2, NegativeWeights.DROP)[1] == 0
    assert fit_weights(w, y, 2, NegativeWeights.KEEP)[1] < 0
    with pytest.raises(L1MLError, match="class 1 has total weight"):
        normalise_per_class(np.array([1.0, 1.0, -1.0, -1.0]), np.array([0, 0, 1, 1]), 2)


def test_root_tree_choice_and_jagged_branches(tmp_path):
    import awkward as ak

    path = tmp_path / "t.root"
    with uproot.recreate(path) as file:
        file.mktree("Events", {"a": "f8", "cls": "i4", "w": "f8"})
        file["Events"].extend({"a": np.arange(6.0), "cls": np.arange(6, dtype=np.int32) % 2, "w": np.ones(6)})
        file["Jets"] = {"pt": ak.Array([[1.0, 2.0], [3.0], []]), "cls": np.array([0, 1, 0]), "w": np.ones(3)}
    with pytest.raises(InputFileError, match=r"holds trees \['Events', 'Jets'\]; set data.tree"):
        read_table(_data_cfg(tmp_path, "t.root"))
    table = read_table(_data_cfg(tmp_path, "t.root", tree="Events"))
    assert table.features == ["a"] and table.process_names == ["0", "1"]
    with pytest.raises(InputFileError, match="'pt' holds variable-length entries"):
        read_table(_data_cfg(tmp_path, "t.root", tree="Jets", features=["pt"]))
