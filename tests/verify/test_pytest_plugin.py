"""The pytest plugin, exercised the way a user meets it: run examples/plugin with pytest (pytester)."""

from __future__ import annotations

import re
import shutil
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest

from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec, write_random_mlp

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugin"


def _plugin_args() -> list[str]:
    """``-p l1ml.pytest_plugin`` unless the package already registers the plugin as an entry point."""
    installed = any(ep.value == "l1ml.pytest_plugin" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "l1ml.pytest_plugin"]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", "-W",
                                         "always::UserWarning", *args)


@pytest.fixture
def example(pytester: pytest.Pytester) -> Path:
    for f in ("test_model_bitexact.py", "model.onnx", "retrained.onnx"):
        shutil.copy(EXAMPLE / f, pytester.path / f)
    return pytester.path


def test_example_stores_golden_then_passes_then_catches_a_retrained_model(pytester, example):
    first = _run(pytester)
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["*stored 300 golden vectors*"])
    golden = list((example / "l1ml_golden").glob("*.npz"))
    assert len(golden) == 1 and "test_model_is_bit_exact" in golden[0].name

    second = _run(pytester)
    second.assert_outcomes(passed=1)
    assert "stored" not in second.stdout.str()

    shutil.copy(example / "retrained.onnx", example / "model.onnx")
    third = _run(pytester)
    third.assert_outcomes(failed=1)
    out = third.stdout.str()
    assert "is not bit-exact" in out and "--l1ml-update-golden" in out
    assert re.search(r"golden: .*changed", out), out

    updated = _run(pytester, "--l1ml-update-golden")
    updated.assert_outcomes(passed=1)
    _run(pytester).assert_outcomes(passed=1)


def test_a_changed_output_word_with_the_same_types_is_reported_word_by_word(pytester, tmp_path):
    layer = LayerSpec(3, QuantSpec(6, 4), QuantSpec(8, 4), False, QuantSpec(8, 3))
    spec = MLPSpec(4, QuantSpec(8, 4), (layer,))
    write_random_mlp(pytester.path / "m.onnx", spec, seed=0)
    pytester.makepyfile(test_m="""
        def test_m(l1ml_bitexact):
            l1ml_bitexact("m.onnx", levels=["qonnx"], vectors=64)
    """)
    _run(pytester).assert_outcomes(passed=1)
    # same architecture and types, other weights: the stored words no longer come out
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(pytester.path / "m.onnx"))
    init = next(i for i in model.graph.initializer if i.name == "w0")
    w = numpy_helper.to_array(init).copy()
    w.flat[0] = -1.5 if w.flat[0] > 0 else 1.5  # another code of the 6-bit weight for sure
    init.CopyFrom(numpy_helper.from_array(w.astype(np.float32), "w0"))
    onnx.save(model, str(pytester.path / "m.onnx"))
    res = _run(pytester)
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*golden: * output words in * vectors changed*",
                              "*golden '*': vector *, output[[]*[]]: expected *, got *"])


def test_unknown_level_and_missing_model_are_clear_errors(pytester):
    pytester.makepyfile(test_bad="""
        def test_level(l1ml_bitexact):
            l1ml_bitexact("m.onnx", levels=["vhdl"])

        def test_missing(l1ml_bitexact):
            l1ml_bitexact("nope.onnx")
    """)
    res = _run(pytester)
    res.assert_outcomes(failed=2)
    out = res.stdout.str()
    assert "unknown level 'vhdl'" in out
    assert "nope.onnx: no such file" in out


@pytest.mark.slow
def test_all_three_levels_including_hls(pytester, example):
    pytester.makepyfile(test_all="""
        def test_all(l1ml_bitexact):
            r = l1ml_bitexact("model.onnx", levels=["qonnx", "hls", "rtl"], vectors=200)
            assert [o.level for o in r.levels] == ["qonnx", "hls", "rtl"]
            assert all(o.mismatches == 0 for o in r.levels)
    """)
    _run(pytester, "test_all.py").assert_outcomes(passed=1)


def test_a_several_input_gnn_gets_golden_words_and_a_qonnx_check(pytester, small_track_gnn):
    """The track GNN (four inputs: features and validity masks) through the plugin: golden file with one
    array per input, qonnx level on full and empty sectors; a corrupted golden word is caught."""
    shutil.copy(small_track_gnn / "model.onnx", pytester.path / "gnn.onnx")
    pytester.makepyfile(test_gnn="""
        def test_gnn(l1ml_bitexact):
            r = l1ml_bitexact("gnn.onnx", levels=["qonnx"], vectors=60)
            assert r.vectors == 60
    """)
    _run(pytester).assert_outcomes(passed=1)
    (golden,) = (pytester.path / "l1ml_golden").glob("*.npz")
    with np.load(golden) as z:
        stored = dict(z)
    assert {"x_0", "x_1", "x_2", "x_3"} <= set(stored) and "x" not in stored
    assert stored["x_2"].shape == (60, 72, 1)  # node_mask, one bit per slot
    _run(pytester).assert_outcomes(passed=1)
    stored["out_0"][3, 5] += 1
    np.savez_compressed(golden, **stored)
    bad = _run(pytester)
    bad.assert_outcomes(failed=1)
    assert "is not bit-exact" in bad.stdout.str()
