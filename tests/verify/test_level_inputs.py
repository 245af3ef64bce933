"""Honest checks: every verify level starts from the same float vectors and quantizes them where the
firmware would (qonnx: its Quant; hls: the input layer's ap_fixed conversion; rtl: the host, i.e. the
emulator's ``input_codes``), non-finite and out-of-range inputs saturate like the input quantizer at every
level, NaN is refused, and qonnx's float32 rounding is reported without failing the run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from l1ml.backends.emulate import NaNInputError, input_codes
from l1ml.compile import CompileOptions, compile_model
from l1ml.errors import L1MLError
from l1ml.load import load_graph
from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec, build_qonnx
from l1ml.verify.hls_level import build_csim, csim_inputs, run_csim
from l1ml.verify.levels import Level, run_levels
from l1ml.verify.qonnx_level import classify, float32_inexact_nodes, run_qonnx
from l1ml.verify.vectors import corner_vectors, make_vectors

NON_FINITE_KINDS = ("+inf", "-inf", "+1e30", "-1e30", "+float32-max", "-float32-max", "alternate-inf",
                    "+denormal", "-denormal", "+denormal-max", "-denormal-max", "+half-lsb", "-half-lsb")


def l1ml(*args):
    return subprocess.run([sys.executable, "-c", "from l1ml.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True)


def compiled(tmp: Path, spec: MLPSpec, seed: int = 1) -> Path:
    onnx.save(build_qonnx(spec, np.random.default_rng(seed)), str(tmp / "m.onnx"))
    compile_model(tmp / "m.onnx", tmp / "out", CompileOptions())
    return tmp / "out"


# FLOOR and narrow range on the input: AP_TRN and AP_SAT_SYM in the project; -inf saturates to -127
FLOOR_NARROW = MLPSpec(6, QuantSpec(8, 4, narrow=True, rounding="FLOOR"),
                       (LayerSpec(4, QuantSpec(6, 4), QuantSpec(8, 6), True, QuantSpec(8, 4, signed=False)),
                        LayerSpec(3, QuantSpec(6, 4), None, False, None)))


@pytest.fixture(scope="module")
def floor_narrow(tmp_path_factory) -> Path:
    return compiled(tmp_path_factory.mktemp("floor"), FLOOR_NARROW)


def test_corner_vectors_are_non_finite_huge_denormal_and_ties(floor_narrow):
    g = load_graph(floor_narrow / "model.l1ml.json")
    x, kinds = corner_vectors(g)
    assert set(NON_FINITE_KINDS) <= set(kinds)
    assert np.array_equal(make_vectors(g, len(kinds)), x), "every verify run starts with the corners"
    codes = input_codes(g, x)[g.inputs[0]]
    row = {k: codes[kinds.index(k)] for k in kinds}
    # the definition: saturate like the quantizer (narrow: -127), round the exact value once (FLOOR)
    for k, want in [("+inf", 127), ("-inf", -127), ("+1e30", 127), ("-1e30", -127), ("+float32-max", 127),
                    ("-float32-max", -127), ("+denormal", 0), ("-denormal", -1), ("+denormal-max", 0),
                    ("-denormal-max", -1), ("+half-lsb", 0), ("-half-lsb", -1)]:
        assert (row[k] == want).all(), (k, row[k])
    assert set(row["alternate-inf"].tolist()) == {127, -127}


def test_hls_level_quantizes_the_float_inputs_itself(floor_narrow, tmp_path):
    """The C-simulation gets the floats, so a wrong input conversion in the project shows as mismatches
    (fed the emulator's codes, as before, it could not)."""
    assert "ap_fixed<8,4,AP_TRN,AP_SAT_SYM" in (floor_narrow / "hls/firmware/defines.h").read_text()
    res = {r.level: r for r in run_levels(floor_narrow, [Level.QONNX, Level.HLS], 400)}
    assert res["qonnx"].mismatches == 0 and res["qonnx"].qonnx_rounding == 0
    assert res["hls"].mismatches == 0 and res["hls"].vectors == 400
    # the user's Vitis testbench data holds the same floats: inf as atof reads it, not a code
    tb = (floor_narrow / "hls/tb_data/tb_input_features.dat").read_text().splitlines()
    assert tb[5].split()[0] == "inf" and tb[6].split()[0] == "-inf"
    for wrong, kind in [("AP_RND_CONV,AP_SAT_SYM", "rounding"), ("AP_TRN,AP_WRAP", "saturation")]:
        bad = tmp_path / kind
        shutil.copytree(floor_narrow, bad)
        defines = bad / "hls/firmware/defines.h"
        text = defines.read_text()
        defines.write_text(text.replace("ap_fixed<8,4,AP_TRN,AP_SAT_SYM", f"ap_fixed<8,4,{wrong}", 1))
        r = run_levels(bad, [Level.HLS], 400)[0]
        assert r.mismatches > 0, f"a wrong input {kind} must show at the hls level"


def test_a_project_rebuilt_in_place_runs_its_new_code_in_the_same_process(floor_narrow, tmp_path):
    """build_lib.sh names the library by hls4ml's project stamp, which an edit does not change, and the
    loader returns the library already loaded from a path: run_csim must load the rebuilt one instead."""
    prj = tmp_path / "p"
    shutil.copytree(floor_narrow, prj)
    g = load_graph(prj / "model.l1ml.json")
    x = csim_inputs(g, make_vectors(g, 200))
    before, lib_before = run_csim(prj / "hls", x, 3), build_csim(prj / "hls")
    defines = prj / "hls/firmware/defines.h"
    defines.write_text(defines.read_text().replace("ap_fixed<8,4,AP_TRN,AP_SAT_SYM", "ap_fixed<8,4,AP_RND_CONV,AP_SAT_SYM", 1))
    after, lib_after = run_csim(prj / "hls", x, 3), build_csim(prj / "hls")
    assert not np.array_equal(before, after), "the edited input rounding must change some outputs"
    assert lib_after != lib_before and lib_after.exists() and not lib_before.exists()


def test_nan_is_refused_at_every_level(floor_narrow, tmp_path):
    g = load_graph(floor_narrow / "model.l1ml.json")
    x = make_vectors(g, 20)
    x[7, 4] = np.nan
    with pytest.raises(NaNInputError, match=r"input 'x', event 7, element \(4,\) is NaN"):
        input_codes(g, x)  # the emulator, and through it the rtl level's codes
    with pytest.raises(L1MLError, match="NaN"):
        run_csim(floor_narrow / "hls", csim_inputs(g, x), 3)
    with pytest.raises(NaNInputError, match="event "):  # data rows come after the corners
        run_levels(floor_narrow, [Level.QONNX], len(corner_vectors(g)[1]) + 20, data=x)
    np.save(tmp_path / "nan.npy", x)
    before = sorted(p.name for p in floor_narrow.iterdir())
    r = l1ml("verify", floor_narrow, "--levels", "qonnx", "--data", tmp_path / "nan.npy", "--vectors", 40)
    out = r.stdout + r.stderr
    assert r.returncode == 2 and "Traceback" not in out
    assert "nan.npy: input 'x', event 7, element (4,) is NaN" in " ".join(out.split())
    assert sorted(p.name for p in floor_narrow.iterdir()) == before


@pytest.mark.slow
def test_rtl_level_saturates_non_finite_inputs_on_the_host(floor_narrow):
    """l1ml's Verilog top takes fixed-point codes, as the upstream firmware sends them: the rtl level's input
    quantization is the host's (``input_codes``); the corners still reach the DUT as saturated codes."""
    r = run_levels(floor_narrow, [Level.RTL], 300)[0]
    assert r.mismatches == 0 and r.vectors == 300


@pytest.mark.slow
def test_unsigned_and_unsigned_narrow_inputs(tmp_path):
    """ap_ufixed with AP_RND_CONV/AP_SAT converts an unsigned ROUND input; an unsigned narrow-range input has no
    ap_fixed equivalent, so the C-simulation gets its host codes (hls_level.csim_inputs) and stays exact."""
    for narrow in (False, True):
        spec = MLPSpec(5, QuantSpec(7, 3, signed=False, narrow=narrow),
                       (LayerSpec(3, QuantSpec(6, 4), QuantSpec(8, 6), False, None),))
        (tmp_path / str(narrow)).mkdir()
        out = compiled(tmp_path / str(narrow), spec)
        defines = (out / "hls/firmware/defines.h").read_text()
        assert ("ap_ufixed<7,4,AP_RND_CONV,AP_SAT" in defines) != narrow
        res = run_levels(out, [Level.QONNX, Level.HLS], 300)
        assert [r.mismatches for r in res] == [0, 0]


# 16-bit inputs and weights over 32 inputs: the Dense sums need more than float32's 24 bits
WIDE = MLPSpec(32, QuantSpec(16, 8), (LayerSpec(4, QuantSpec(16, 12), QuantSpec(16, 10), False, QuantSpec(16, 4)),
                                      LayerSpec(3, QuantSpec(16, 12), None, False, None)))


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> Path:
    return compiled(tmp_path_factory.mktemp("wide"), WIDE, seed=3)


def test_qonnx_float32_rounding_is_reported_not_failed(wide):
    g = load_graph(wide / "model.l1ml.json")
    assert float32_inexact_nodes(g)
    r = l1ml("verify", wide, "--levels", "qonnx", "--vectors", 500)
    assert r.returncode == 0, r.stdout + r.stderr
    text = " ".join(r.stdout.split())
    m = re.search(r"qonnx: 500 vectors, 0 mismatches, (\d+) qonnx float32 rounding differences \(explained: "
                  r"qonnx executes in float32", text)
    assert m and int(m.group(1)) > 0, text
    doc = json.loads((wide / "verify.json").read_text())
    assert doc["passed"] and doc["levels"]["qonnx"]["qonnx_rounding"] == int(m.group(1))


def test_a_real_difference_in_a_wide_model_is_still_a_mismatch(wide, tmp_path):
    """One weight of the exported model moved by one step: float64 no longer equals the emulator there,
    so those vectors are mismatches even though qonnx's float32 rounds elsewhere too."""
    g = load_graph(wide / "model.l1ml.json")
    model = onnx.load(str(wide / "model.onnx"))
    w = next(i for i in model.graph.initializer if numpy_helper.to_array(i).ndim == 2)
    arr = numpy_helper.to_array(w).copy()
    arr[0, 0] += 2.0**-12 * 7  # seven weight steps
    w.CopyFrom(numpy_helper.from_array(arr, w.name))
    onnx.save(model, str(tmp_path / "bad.onnx"))
    x = make_vectors(g, 300, seed=2)
    from l1ml import emulate

    expected = emulate(g, x, layout="ir")
    cmp = classify(g, tmp_path / "bad.onnx", {g.inputs[0]: x}, expected,
                   run_qonnx(tmp_path / "bad.onnx", x).astype(np.float64))
    assert len(cmp.mismatches) > 0 and not cmp.float64_error
    good = classify(g, wide / "model.onnx", {g.inputs[0]: x}, expected,
                    run_qonnx(wide / "model.onnx", x).astype(np.float64))
    assert len(good.mismatches) == 0 and len(good.rounding) > 0


def test_output_grid_comparison_still_sees_a_one_code_difference(wide):
    """With ``lsb`` the float64 re-execution is compared code by code (outputs wider than float64's
    significand); an emulator output one code off on one vector must remain a mismatch."""
    g = load_graph(wide / "model.l1ml.json")
    out_t = g.t(g.outputs[0]).type
    lsb = 2.0**-out_t.frac
    x = make_vectors(g, 300, seed=2)
    from l1ml import emulate

    expected = emulate(g, x, layout="ir").astype(np.float64)
    actual = run_qonnx(wide / "model.onnx", x).astype(np.float64)
    good = classify(g, wide / "model.onnx", {g.inputs[0]: x}, expected, actual, lsb=lsb)
    assert len(good.mismatches) == 0
    bad_rows = np.nonzero((expected != actual).reshape(len(x), -1).any(axis=1))[0]
    assert len(bad_rows) > 0  # qonnx's float32 differs somewhere: those rows go through float64
    off = expected.copy().reshape(len(x), -1)
    off[bad_rows[0], 0] += lsb
    cmp = classify(g, wide / "model.onnx", {g.inputs[0]: x}, off.reshape(expected.shape), actual, lsb=lsb)
    assert list(cmp.mismatches) == [bad_rows[0]]
