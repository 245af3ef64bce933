"""The hls4ml C-simulation (real g++ build) equals the emulator bit for bit."""

import json

import numpy as np
import onnx
import pytest

from l1ml.backends.ap_fixed import ap_type
from l1ml.compile import CompileOptions, compile_model
from l1ml.ir.graph import Graph
from l1ml.ir.types import FixedType, Overflow, Rounding
from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec, build_qonnx
from l1ml.verify.levels import Level, run_levels, write_verify_json

# every rounding mode and both overflow kinds appear in one small model, plus narrow range and a
# MatMul+Add layer, so one g++ build covers all ap_fixed spellings
SPEC = MLPSpec(10, QuantSpec(8, 4, rounding="ROUND"), (
    LayerSpec(12, QuantSpec(6, 5), QuantSpec(8, 5), True, QuantSpec(5, 2, signed=False, rounding="FLOOR")),
    LayerSpec(9, QuantSpec(5, 4), QuantSpec(7, 3), False, QuantSpec(6, 3, narrow=True, rounding="ROUND"),
              gemm=False),
    LayerSpec(8, QuantSpec(4, 3), None, False, QuantSpec(5, 1, rounding="HALF_UP")),
    LayerSpec(7, QuantSpec(6, 4), QuantSpec(6, 3), True, QuantSpec(4, 0, signed=False, rounding="DOWN")),
    LayerSpec(6, QuantSpec(6, 4), QuantSpec(6, 3), False, QuantSpec(7, 2, rounding="HALF_DOWN")),
    LayerSpec(3, QuantSpec(6, 5), QuantSpec(8, 4), False, None),
))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    d = tmp_path_factory.mktemp("hls")
    model = d / "model.onnx"
    onnx.save(build_qonnx(SPEC, np.random.default_rng(7)), str(model))
    out = d / "out"
    compile_model(model, out, CompileOptions())
    return out


def test_compile_writes_the_contract_files(compiled):
    for f in ("model.l1ml.json", "model.onnx", "report.json", "report.md", "compile.json",
              "hls/build_prj.tcl", "hls/firmware/myproject.cpp", "hls/tb_data/tb_input_features.dat"):
        assert (compiled / f).exists(), f
    rep = json.loads((compiled / "report.json").read_text())
    assert rep["totals"]["multiplications"] > 0
    assert any("not run" in s for s in rep["not_run"])
    g = Graph.load(compiled / "model.l1ml.json")
    assert len(g.nodes) == len(rep["layers"])


def test_every_precision_is_set_by_l1ml(compiled):
    """No 'auto' or default type: each layer's types in the generated C++ come from the IR."""
    params = (compiled / "hls/firmware/parameters.h").read_text() + (compiled / "hls/firmware/defines.h").read_text()
    params = params.replace(",0>", ">")  # hls4ml spells out the (zero) saturation-bits parameter
    g = Graph.load(compiled / "model.l1ml.json")
    for n in g.nodes:
        assert ap_type(g.t(n.outputs[0]).type) in params, n.name
    assert "ap_fixed<16,6>" not in params  # hls4ml's model default never reaches a layer


def test_hls_csim_equals_emulator_on_thousands_of_vectors(compiled):
    res = run_levels(compiled, [Level.HLS, Level.QONNX], 3000, seed=3)
    write_verify_json(compiled, res)
    for r in res:
        assert r.vectors == 3000 and r.mismatches == 0, r.first_mismatches
    doc = json.loads((compiled / "verify.json").read_text())
    assert doc["passed"] and doc["levels"]["hls"]["mismatches"] == 0


def test_a_changed_weight_in_the_hls_project_is_caught(compiled, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(compiled, bad)
    # the C-simulation reads its weights from these text files at run time
    wfile = sorted((bad / "hls/firmware/weights").glob("w*.txt"))[0]
    vals = wfile.read_text().split(",")
    vals[3] = repr(-float(vals[3]) if float(vals[3]) else 0.5)
    wfile.write_text(",".join(vals))
    res = run_levels(bad, [Level.HLS], 500, seed=1)
    assert res[0].mismatches > 0
    assert "vector" in res[0].first_mismatches[0] and "expected" in res[0].first_mismatches[0]


def test_ap_type_spelling():
    assert ap_type(FixedType(True, 6, 3, Rounding.HALF_EVEN, Overflow.SAT, narrow=True)) == \
        "ap_fixed<6,3,AP_RND_CONV,AP_SAT_SYM>"
    assert ap_type(FixedType(False, 4, 0, Rounding.TRUNC_ZERO, Overflow.SAT)) == "ap_ufixed<4,4,AP_TRN_ZERO,AP_SAT>"
