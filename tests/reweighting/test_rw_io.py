"""Table and model files: round trips, user errors naming the file, and all-or-nothing writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from l1ml.errors import InputFileError, L1MLError
from l1ml.reweighting import GBReweighter, mixture_problem
from l1ml.reweighting.io import (
    feature_matrix,
    load_model,
    read_table,
    save_model,
    staged_output,
    write_table,
)


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"pt": rng.exponential(20.0, 50), "eta": rng.normal(size=50),
                         "n": rng.integers(0, 9, 50)})


@pytest.mark.parametrize("name", ["t.parquet", "t.csv", "t.root", "t.root:jets"])
def test_tables_round_trip(tmp_path, frame, name: str) -> None:
    path = f"{tmp_path}/{name}"
    write_table(frame, path)
    back = read_table(path)
    assert list(back.columns) == list(frame.columns)
    assert np.array_equal(back.to_numpy(dtype=float), frame.to_numpy(dtype=float))
    assert list(read_table(path, ["eta", "pt"]).columns) == ["eta", "pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [name.split(":")[0]]


def test_missing_column_names_the_file_and_the_available_columns(tmp_path, frame) -> None:
    write_table(frame, tmp_path / "t.parquet")
    with pytest.raises(InputFileError, match=r"t\.parquet: no column\(s\) mass; available: pt, eta, n"):
        read_table(tmp_path / "t.parquet", ["pt", "mass"])


def test_bad_paths_are_user_errors(tmp_path, frame) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        read_table(tmp_path / "absent.csv")
    with pytest.raises(InputFileError, match="unknown table format '.txt'"):
        read_table(tmp_path / "t.txt")
    (tmp_path / "broken.parquet").write_text("not parquet")
    with pytest.raises(InputFileError, match="cannot be read as PARQUET"):
        read_table(tmp_path / "broken.parquet")
    write_table(frame, f"{tmp_path}/two.root:a")
    with pytest.raises(InputFileError, match="no tree 'b'"):
        read_table(f"{tmp_path}/two.root:b")


def test_non_numeric_values_are_reported_by_column_and_row(tmp_path) -> None:
    frame = pd.DataFrame({"pt": ["1.0", "2.5", "n/a"]})
    with pytest.raises(InputFileError, match="column 'pt' has 1 missing.*row 2"):
        feature_matrix(frame, ["pt"], tmp_path / "t.csv")


def test_a_failed_write_leaves_nothing_behind(tmp_path) -> None:
    destination = tmp_path / "t.parquet"
    with pytest.raises(RuntimeError, match="boom"):
        with staged_output(destination) as staged:
            staged.write_text("half a table")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_only_our_own_output_directories_are_replaced(tmp_path) -> None:
    original, target = mixture_problem(2).samples(500, 500, seed=0)
    model = GBReweighter(n_estimators=2).fit(original, target)
    unrelated = tmp_path / "home"
    unrelated.mkdir()
    (unrelated / "thesis.tex").write_text("keep me")
    with pytest.raises(L1MLError, match="pass --force"):
        save_model(model, {"columns": ["a", "b"]}, unrelated)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    assert (unrelated / "thesis.tex").read_text() == "keep me"
    (tmp_path / "t.parquet").mkdir()
    with pytest.raises(L1MLError, match="is a directory"):
        write_table(pd.DataFrame({"pt": [1.0]}), tmp_path / "t.parquet")
    (tmp_path / "data").mkdir()
    with pytest.raises(L1MLError, match="contains the input"):
        save_model(model, {"columns": ["a", "b"]}, tmp_path / "data", force=True,
                   inputs=(f"{tmp_path}/data/mc.root:events",))


def test_models_round_trip(tmp_path) -> None:
    original, target = mixture_problem(2).samples(2000, 2000, seed=0)
    model = GBReweighter(n_estimators=5).fit(original, target)
    save_model(model, {"columns": ["a", "b"]}, tmp_path / "m")
    save_model(model, {"columns": ["a", "b"]}, tmp_path / "m")  # replacing an older model is fine
    loaded, meta = load_model(tmp_path / "m")
    assert meta["columns"] == ["a", "b"]
    assert np.array_equal(loaded.predict_weights(original), model.predict_weights(original))
    with pytest.raises(InputFileError, match="not a reweighting model"):
        load_model(tmp_path)


def test_root_output_refuses_text_columns(tmp_path) -> None:
    with pytest.raises(L1MLError, match="numeric columns only, but name"):
        write_table(pd.DataFrame({"pt": [1.0], "name": ["jet"]}), tmp_path / "t.root")
    assert list(tmp_path.iterdir()) == []
