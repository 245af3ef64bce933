"""Failures the fuzzer found, kept as explicit cases (one per failure kind) with the outcome each must now
have. The comment on each says what the code did when the fuzzer found it (December, before issue 13)."""

from __future__ import annotations

import pytest

from l1ml.models.random_mlp import LayerSpec, MLPSpec, QuantSpec
from tests.fuzz import mutations as mu
from tests.fuzz.cases import Case, levels_for
from tests.fuzz.harness import Outcome, run_case
from tests.fuzz.strategies import BrevitasSpec, BrevQuant, QonnxMLPSpec, QonnxResidualSpec

# 4 -> 3 (ReLU, FLOOR requantiser) QONNX MLP: the smallest base that has every Quant site
TINY = QonnxMLPSpec(MLPSpec(4, QuantSpec(6, 3), (LayerSpec(3, QuantSpec(4, 2), QuantSpec(8, 4), True,
                                                           QuantSpec(5, 2, False, rounding="FLOOR")),)))
# hypothesis' minimal base: 1 input, unsigned 1-bit input quantizer, MatMul without a bias
MINIMAL = QonnxMLPSpec(MLPSpec(1, QuantSpec(1, 0, False), (LayerSpec(1, QuantSpec(2, 0), None, False,
                                                                     QuantSpec(2, 0), gemm=False),)))
SAFE = {Outcome.REFUSAL, Outcome.EXACT}
EXACT = {Outcome.EXACT}
REFUSED = {Outcome.REFUSAL}


def _cli(option: str, value: str) -> str:
    return str(next(i for i, (_, o, v) in enumerate(mu.CLI_OPTIONS) if (o, v) == (option, value)))


def _mut(family: str, kind: str, param: str = "", base: QonnxMLPSpec = TINY) -> Case:
    return Case(family, base, kind, param, levels_for(family, kind, param))


REGRESSIONS: list[tuple[str, Case, set[Outcome]]] = [
    # compile exit 1 inside hls4ml: "Layer Add not found in registry"
    ("brevitas_residual", Case("residual (Add of two branches)", BrevitasSpec(
        "residual", 4, (3,), 2, BrevQuant(6, True, "ROUND", 1), 4, 0, 10, BrevQuant(4, False, "FLOOR", 0))), SAFE),
    ("qonnx_residual", Case("residual (Add of two branches)", QonnxResidualSpec(4, 3, 2, 6)), SAFE),
    # verify exit 1 although qonnx's only differences are its float32 rounding, which verify explains
    ("qonnx_float32_rounding", Case("Brevitas MLP (fixed point)", BrevitasSpec(
        "mlp", 15, (6,), 9, BrevQuant(22, True, "ROUND", 0), 14, 2, 19, BrevQuant(19, False, "ROUND", 1),
        seed=1433)), EXACT),
    # tracebacks: AssertionError "Multiple ValueInfoProto", ValueError "never produced", a BackendError,
    # "input contains NaN", "FixedType width must be a positive integer"
    ("output_is_input", _mut("graph structure", "output_is_input"), REFUSED),
    ("dangling_output", _mut("graph structure", "dangling_output"), REFUSED),
    ("symbolic_input_dim", _mut("shapes", "input_dim", "sym"), REFUSED),
    ("nan_bias", _mut("non-finite constants", "nonfinite", "bias:nan"), REFUSED),
    ("bit_width_0", _mut("Quant bit widths", "quant_bits", "input:0", MINIMAL), REFUSED),
    ("bit_width_minus_3", _mut("Quant bit widths", "quant_bits", "act:-3"), REFUSED),
    # the hls C-simulation aborts (ap_private get_bit assertion): exit -6
    ("weight_scale_2^-149", _mut("extreme scales", "quant_scale", "weight:2^-149"), SAFE),
    # found after the issue-13 fixes: a requantiser whose source lies wholly below the target's LSB
    # (ap_fixed<3,-1> -> ap_fixed<2,2,AP_RND_CONV,AP_SAT>) aborts the C-simulation inside ap_types
    ("cast_below_lsb", Case("QONNX MLP (bits 1-24, all roundings)", QonnxMLPSpec(MLPSpec(
        4, QuantSpec(1, 2, False), (
            LayerSpec(4, QuantSpec(2, 0), None, True, QuantSpec(1, 3, False), gemm=False),
            LayerSpec(1, QuantSpec(2, 0), None, False, QuantSpec(2, 0), gemm=False),
            LayerSpec(1, QuantSpec(2, 4, narrow=True), None, False, QuantSpec(2, 0), gemm=False))),
        seed=9)), EXACT),
    # compile exits 0, then the qonnx level disagrees with the emulator
    ("input_scale_2^-130", _mut("extreme scales", "quant_scale", "input:2^-130"), SAFE),
    # newline in a node name: raw text in the generated Verilog
    ("newline_node_name", _mut("names (injection)", "rename", "node:newline_module"), SAFE),
    # the part name is written verbatim into hls/project.tcl
    ("part_tcl_injection", _mut("CLI options", "cli", _cli("--part", mu.CLI_OPTIONS[0][2])), REFUSED),
    # runs on and on (hang)
    ("reuse_factor_huge", _mut("CLI options", "cli", _cli("--reuse-factor", "99999999999")), REFUSED),
    # verify dies allocating 119 GiB
    ("vectors_huge", _mut("CLI options", "cli", _cli("--vectors", "1000000000")), REFUSED),
    # refused for every N because --clock-ns has a default
    ("pipeline_stages", _mut("CLI options", "cli", _cli("--pipeline-stages", "2")), EXACT),
    # a FIFO as the model hangs forever; /dev/zero gives a MemoryError traceback
    ("fifo_model", _mut("files that are not models", "file", "fifo"), REFUSED),
    ("dev_zero_model", _mut("files that are not models", "file", "dev_zero"), REFUSED),
    # user files destroyed or a traceback
    ("out_dot", _mut("output directories", "outdir", "dot"), REFUSED),
    ("out_dotdot", _mut("output directories", "outdir", "dotdot"), REFUSED),
    ("out_model_dir", _mut("output directories", "outdir", "model_dir"), REFUSED),
    ("out_user_dir", _mut("output directories", "outdir", "user_dir"), REFUSED),
    ("out_symlink", _mut("output directories", "outdir", "symlink"), REFUSED),
    ("out_existing_file", _mut("output directories", "outdir", "existing_file"), REFUSED),
    ("out_model_file", _mut("output directories", "outdir", "model_file"), REFUSED),
    ("out_home", _mut("output directories", "outdir", "home"), REFUSED),
    # what must keep working: l1ml replaces its own earlier output; a new nested directory is made
    ("out_recompile", _mut("output directories", "outdir", "recompile"), EXACT),
    ("out_nested_new", _mut("output directories", "outdir", "nested_new"), EXACT),
]


SLOW = {"pipeline_stages"}  # verifies at the rtl level too (Verilator build, ~40 s)


@pytest.mark.parametrize("name,case,allowed", [
    pytest.param(*r, id=r[0], marks=[pytest.mark.slow] if r[0] in SLOW else []) for r in REGRESSIONS])
def test_fuzz_regression(name: str, case: Case, allowed: set[Outcome], tmp_path) -> None:
    res = run_case(0, case, tmp_path)
    assert res.outcome in allowed, (f"{name}: {res.outcome.value}, expected {sorted(o.value for o in allowed)}\n"
                                    + "\n".join(res.reasons) + f"\nreproduce:\n{res.repro}")
