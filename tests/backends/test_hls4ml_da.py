"""hls4ml's distributed_arithmetic strategy (da4ml adder graphs): the C-simulation (real g++ build) equals the
emulator bit for bit, the estimate prices da4ml's own solution, and da4ml stays an optional extra."""

import json
import subprocess
import sys
from importlib.util import find_spec

import numpy as np
import onnx
import pytest

from l1ml.backends.hls4ml import build_hls_model
from l1ml.backends.hls4ml_da import DA_STRATEGY, da_solution
from l1ml.compile import CompileOptions, write_hls
from l1ml.errors import L1MLError, NodeError
from l1ml.estimate import estimate
from l1ml.ir.ops import Op
from l1ml.ir.quantize import to_real
from l1ml.ir.types import FixedType, Overflow, Rounding
from l1ml.load import compile_graph
from l1ml.models.random_cnn import build_cnn_qonnx
from l1ml.models.random_mlp import build_qonnx
from l1ml.verify.levels import Level, run_levels
from tests.backends.elementwise_graphs import GraphBuilder

# SPEC: every rounding mode, both overflows, narrow range, bias-free layers; CNN_SPEC: a padded conv, pools,
# a bias-free conv, a dense head
from tests.backends.test_hls4ml import SPEC
from tests.backends.test_hls4ml_conv import SPEC as CNN_SPEC
from tests.backends.test_hls4ml_conv import csim_vs_emulator

# installed by `make setup` (the da4ml extra); the refusal without it is tested in any case
needs_da4ml = pytest.mark.skipif(find_spec("da4ml") is None, reason="da4ml (the optional extra) is not installed")

# a process in which `import da4ml` fails, as in an installation without the extra
NO_DA4ML = "import sys; sys.modules['da4ml'] = None; from l1ml.cli import main; main()"


def l1ml(*args, code="from l1ml.cli import main; main()"):
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    d = tmp_path_factory.mktemp("hls_da")
    model = d / "model.onnx"
    onnx.save(build_qonnx(SPEC, np.random.default_rng(7)), str(model))
    return model


@pytest.fixture(scope="module")
def compiled(mlp):
    out = mlp.parent / "out"
    r = l1ml("compile", mlp, "-o", out, "--strategy", DA_STRATEGY)
    assert r.returncode == 0, r.stderr
    return out


@needs_da4ml
def test_every_dense_is_a_da4ml_adder_graph(compiled):
    g = compile_graph(compiled / "model.onnx")
    top = (compiled / "hls/firmware/myproject.cpp").read_text()
    n_dense = sum(n.op is Op.DENSE for n in g.nodes)
    assert top.count("::dense_da_") == n_dense > 0
    assert "dense_latency" not in top.lower() and "DenseLatency" not in (compiled / "hls/firmware/parameters.h").read_text()
    cfg = (compiled / "hls/hls4ml_config.yml").read_text()
    assert cfg.count(f"Strategy: {DA_STRATEGY}") == n_dense  # the activations keep Latency


@needs_da4ml
def test_verify_hls_level_is_bit_exact_on_thousands_of_vectors(compiled):
    """`l1ml verify --levels hls`: the corner cases (saturation, +-inf, extremes, rounding ties of the input
    quantizer) then random vectors, whose inner casts hit every rounding mode's ties and both overflows."""
    r = l1ml("verify", compiled, "--vectors", "5000", "--levels", "hls", "--seed", "4")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hls: 5000 vectors, 0 mismatches" in r.stdout
    assert json.loads((compiled / "verify.json").read_text())["levels"]["hls"]["mismatches"] == 0


@needs_da4ml
def test_a_changed_shift_in_the_adder_graph_is_caught(compiled, tmp_path):
    """The check can fail: da4ml writes the weights as shifts and adds in nnet_utils/nnet_code_gen.h; one
    shift changed there changes the C-simulation's cache key and gives mismatches."""
    import re
    import shutil

    from l1ml.verify.hls_level import _sources_digest

    bad = tmp_path / "bad"
    shutil.copytree(compiled, bad)
    before = _sources_digest(bad / "hls")
    src = bad / "hls/firmware/nnet_utils/nnet_code_gen.h"
    text = src.read_text()
    m = re.search(r"bit_shift<(-?\d+)>", text)
    assert m, "no shifted operand in da4ml's code"
    src.write_text(text[:m.start(1)] + str(int(m.group(1)) + 1) + text[m.end(1):])
    assert _sources_digest(bad / "hls") != before
    res = run_levels(bad, [Level.HLS], 300, seed=1)
    assert res[0].mismatches > 0


@needs_da4ml
def test_cnn_conv_and_dense_as_adder_graphs_are_bit_exact(tmp_path):
    onnx.save(build_cnn_qonnx(CNN_SPEC, np.random.default_rng(1)), str(tmp_path / "model.onnx"))
    g = compile_graph(tmp_path / "model.onnx")
    write_hls(g, tmp_path / "hls", tmp_path / "hls", CompileOptions(strategy=DA_STRATEGY))
    assert "nnet_da_wrappers.h" in (tmp_path / "hls/firmware/parameters.h").read_text()
    _, expected, actual = csim_vs_emulator(tmp_path / "hls", g, 2000, seed=5)
    bad = np.flatnonzero((expected != actual).any(axis=1))
    assert len(bad) == 0, (bad[:5], expected[bad[:1]], actual[bad[:1]])


@needs_da4ml
def test_the_estimate_prices_the_solution_hls4ml_computes(mlp, tmp_path, monkeypatch):
    """Each Dense row's LUT is da4ml's cost of the same problem hls4ml's pass solved (its da_kernel_cost),
    not the Latency strategy's multiplier model; DSP 0."""
    monkeypatch.delenv("DA_HARD_DC", raising=False)
    g = compile_graph(mlp)
    hm = build_hls_model(g, tmp_path / "hls", strategy=DA_STRATEGY)
    hls_cost = {lay.name: lay.get_attr("da_kernel_cost") for lay in hm.get_layers() if lay.class_name == "Dense"}
    est = estimate(g, backend="hls4ml", strategy=DA_STRATEGY)
    latency = estimate(g, backend="hls4ml", strategy="Latency")
    rows = {r.node: r for r in est.layers if r.op == "Dense"}
    assert set(rows) == set(hls_cost) and len(rows) == 6
    for name, row in rows.items():
        assert row.res.lut == hls_cost[name] > 0, name
        assert row.res.dsp == 0 and "da4ml adder graph" in row.detail
    lat_rows = {r.node: r for r in latency.layers if r.op == "Dense"}
    assert any(rows[n].res.lut != lat_rows[n].res.lut for n in rows)
    text = "\n".join(est.assumptions)
    assert "Vitis HLS was not run" in text and "NOT priced" in text and "arXiv:2507.04535" in text
    assert est.to_json()["strategy"] == DA_STRATEGY


@needs_da4ml
def test_da_solution_counts_adders_and_depth():
    """x0 + x1 + x2 + x3 (weights 1): three adders, two levels; x0 * 3 = x0 + (x0 << 1): one adder."""
    t = FixedType(True, 6, 2, Rounding.HALF_EVEN, Overflow.SAT)
    s = da_solution(t, np.ones((4, 1)), None)
    assert (s.adders, s.depth) == (3, 2) and s.cost > 0
    one = da_solution(t, np.array([[3.0]]), None)
    assert one.adders == 1 and one.cost < s.cost


@needs_da4ml
def test_report_says_which_strategy_made_what(compiled):
    rep = json.loads((compiled / "report.json").read_text())
    md = (compiled / "report.md").read_text()
    assert rep["options"]["strategy"] == DA_STRATEGY
    assert "da4ml adder graphs" in rep["strategy"] and "rtl/: l1ml's own Verilog" in rep["strategy"]
    assert rep["strategy"] in md
    assert rep["estimates"]["hls4ml"]["strategy"] == DA_STRATEGY
    assert rep["estimates"]["verilog"]["strategy"] is None
    assert "distributed_arithmetic strategy" in md and "Vitis HLS was not run" in md
    assert any("not run" in s for s in rep["not_run"])


@pytest.mark.parametrize("reuse", ["2", "auto"])
def test_a_reuse_factor_other_than_1_is_refused_before_any_work(mlp, tmp_path, reuse):
    out = tmp_path / "out"
    r = l1ml("compile", mlp, "-o", out, "--strategy", DA_STRATEGY, "--reuse-factor", reuse)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"--reuse-factor {reuse}" in r.stderr and "must be 1" in " ".join(r.stderr.split())
    assert not out.exists()
    with pytest.raises(L1MLError, match="must be 1"):
        estimate(compile_graph(mlp), backend="hls4ml", strategy=DA_STRATEGY, reuse_factor=4)


@needs_da4ml
def test_a_row_wise_dense_is_refused_with_the_remedy(tmp_path):
    """A GNN's Dense on (rows, F) is l1ml's own extension layer, which hls4ml's DA pass does not implement."""
    b = GraphBuilder()
    x = b.input("x", (3, 4), FixedType(True, 6, 2, Rounding.HALF_EVEN, Overflow.SAT))
    y = b.node(Op.DENSE, [x, b.const("w", np.arange(8).reshape(4, 2) - 3, 1)], name="edge_net", shape=(3, 2))
    g = b.graph("rows", [y])
    with pytest.raises(NodeError, match="edge_net.*--strategy Latency"):
        build_hls_model(g, tmp_path / "hls", strategy=DA_STRATEGY)
    with pytest.raises(NodeError, match="edge_net.*--strategy Latency"):
        estimate(g, backend="hls4ml", strategy=DA_STRATEGY)


def test_without_da4ml_only_this_strategy_is_refused(mlp, tmp_path):
    """da4ml is an optional extra: without it the strategy is one line naming the remedy, exit 2, nothing
    written; the Latency strategy compiles as before."""
    out = tmp_path / "out"
    for cmd in (["compile", mlp, "-o", out, "--strategy", DA_STRATEGY],
                ["estimate", mlp, "--backend", "hls4ml", "--strategy", DA_STRATEGY]):
        r = l1ml(*cmd, code=NO_DA4ML)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "pip install 'l1ml[da4ml]'" in r.stderr
        assert not out.exists()
    r = l1ml("compile", mlp, "-o", out, code=NO_DA4ML)
    assert r.returncode == 0, r.stderr
    assert (out / "hls/firmware/myproject.cpp").exists()


@needs_da4ml
@pytest.mark.slow
def test_jet_mlp_with_distributed_arithmetic_is_bit_exact(example_model, tmp_path):
    out = tmp_path / "out"
    r = l1ml("compile", example_model, "-o", out, "--strategy", DA_STRATEGY)
    assert r.returncode == 0, r.stderr
    r = l1ml("verify", out, "--vectors", "10000", "--levels", "hls")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hls: 10000 vectors, 0 mismatches" in r.stdout
    g = compile_graph(example_model)
    w = [to_real(g.t(n.inputs[1]).data, g.t(n.inputs[1]).type) for n in g.nodes if n.op is Op.DENSE]
    assert (out / "hls/firmware/myproject.cpp").read_text().count("::dense_da_") == len(w) == 4


@needs_da4ml
@pytest.mark.slow
def test_the_vivado_backend_is_bit_exact_too(mlp, tmp_path):
    g = compile_graph(mlp)
    write_hls(g, tmp_path / "hls", tmp_path / "hls", CompileOptions(hls_backend="Vivado", strategy=DA_STRATEGY))
    assert "::dense_da_" in (tmp_path / "hls/firmware/myproject.cpp").read_text()
    _, expected, actual = csim_vs_emulator(tmp_path / "hls", g, 3000, seed=6)
    assert not (expected != actual).any()
