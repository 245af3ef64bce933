"""Fuzz cases: a family (a row of the reliability table), a model spec and an optional mutation, drawn by
hypothesis. ``draw_cases`` turns a strategy into a fixed, seeded list (hypothesis derandomized) so the
long profile can run it on a process pool and print the same table every time."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.fuzz import mutations as mu
from tests.fuzz.strategies import (
    ModelSpec,
    base_specs,
    brevitas_specs,
    qonnx_cnn_specs,
    qonnx_mlp_specs,
    qonnx_residual_specs,
)

LEVELS = "qonnx,hls"
VECTORS = 200


@dataclass(frozen=True)
class Case:
    """One run of the CLI: compile ``model`` (mutated by ``kind``/``param``), then verify it."""

    family: str
    model: ModelSpec
    kind: str = ""  # mutation kind ('' = the valid model itself)
    param: str = ""
    levels: str = LEVELS
    vectors: int = VECTORS

    def label(self) -> str:
        param = " ".join(mu.CLI_OPTIONS[int(self.param)][1:]) if self.kind == "cli" else self.param
        return f"{self.family}: {self.kind or 'valid'}" + (f" {param!r}" if param else "")


def levels_for(family: str, kind: str, param: str) -> str:
    """Verify levels of a case: qonnx,hls; the output-directory cases only need the cheap qonnx level (they
    test the file system, not the arithmetic); --pipeline-stages changes the Verilog, so rtl too."""
    if kind == "outdir":
        return "qonnx"
    if kind == "cli" and mu.CLI_OPTIONS[int(param)][1] == "--pipeline-stages":
        return "qonnx,hls,rtl"
    return LEVELS


def _mut(family: str, kinds: st.SearchStrategy[tuple[str, str]]):
    return st.builds(lambda spec, kp: Case(family, spec, kp[0], kp[1], levels_for(family, *kp)), base_specs(),
                     kinds)


def _pairs(kind: str, params) -> list[tuple[str, str]]:
    return [(kind, p) for p in params]


STRUCTURE_KINDS = [(k, "") for k in mu.STRUCTURE if k not in mu.STRUCTURE_PARAMS] + [
    p for k, ps in mu.STRUCTURE_PARAMS.items() for p in _pairs(k, ps)]
SHAPE_KINDS = [p for k, ps in mu.SHAPE_PARAMS.items() for p in _pairs(k, ps)]
NONFINITE_KINDS = _pairs("nonfinite", [f"{s}:{v}" for s in mu.NONFINITE_SITES for v in mu.NONFINITE])
BITS_KINDS = _pairs("quant_bits", [f"{s}:{b}" for s in mu.QUANT_SITES for b in mu.BIT_WIDTHS])
SCALE_KINDS = _pairs("quant_scale", [f"{s}:{v}" for s in mu.QUANT_SITES for v in mu.SCALES])
NAME_KINDS = _pairs("rename", [f"{t}:{k}" for k in mu.INJECTIONS for t in mu.NAME_TARGETS])
FILE_KINDS = _pairs("file", mu.FILE_KINDS)
CLI_KINDS = _pairs("cli", [str(i) for i in range(len(mu.CLI_OPTIONS))])
OUTDIR_KINDS = _pairs("outdir", mu.OUTDIR_KINDS)

# family -> strategy of cases. Valid families first; every mutation family starts from a cheap QONNX MLP.
FAMILIES: dict[str, st.SearchStrategy[Case]] = {
    "Brevitas MLP (fixed point)": brevitas_specs("mlp").map(lambda s: Case("Brevitas MLP (fixed point)", s)),
    "Brevitas CNN": brevitas_specs("cnn").map(lambda s: Case("Brevitas CNN", s)),
    "residual (Add of two branches)": st.one_of(brevitas_specs("residual"), qonnx_residual_specs()).map(
        lambda s: Case("residual (Add of two branches)", s)),
    "float scales (Brevitas defaults)": brevitas_specs(float_scale=True).map(
        lambda s: Case("float scales (Brevitas defaults)", s)),
    "QONNX MLP (bits 1-24, all roundings)": qonnx_mlp_specs().map(
        lambda s: Case("QONNX MLP (bits 1-24, all roundings)", s)),
    "QONNX CNN": qonnx_cnn_specs().map(lambda s: Case("QONNX CNN", s)),
    "graph structure": _mut("graph structure", st.sampled_from(STRUCTURE_KINDS)),
    "shapes": _mut("shapes", st.sampled_from(SHAPE_KINDS)),
    "non-finite constants": _mut("non-finite constants", st.sampled_from(NONFINITE_KINDS)),
    "Quant bit widths": _mut("Quant bit widths", st.sampled_from(BITS_KINDS)),
    "extreme scales": _mut("extreme scales", st.sampled_from(SCALE_KINDS)),
    "names (injection)": _mut("names (injection)", st.sampled_from(NAME_KINDS)),
    "files that are not models": _mut("files that are not models", st.sampled_from(FILE_KINDS)),
    "CLI options": _mut("CLI options", st.sampled_from(CLI_KINDS)),
    "output directories": _mut("output directories", st.sampled_from(OUTDIR_KINDS)),
}
# families whose mutation list is small enough to enumerate: every kind once before repeats
ENUMERATED = {"graph structure": STRUCTURE_KINDS, "shapes": SHAPE_KINDS, "non-finite constants": NONFINITE_KINDS,
              "Quant bit widths": BITS_KINDS, "extreme scales": SCALE_KINDS, "names (injection)": NAME_KINDS,
              "files that are not models": FILE_KINDS, "CLI options": CLI_KINDS,
              "output directories": OUTDIR_KINDS}


def draw(strategy: st.SearchStrategy, n: int) -> list:
    """``n`` examples of ``strategy``, the same on every run (derandomized hypothesis, no database)."""
    out: list = []
    pool = max(4 * n, 12)  # hypothesis starts with minimal examples: draw more, keep an even spread

    @settings(max_examples=2 * pool, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), deadline=None)
    @given(strategy)
    def collect(x) -> None:
        if len(out) < pool and x not in out:
            out.append(x)

    collect()
    return [out[(2 * i + 1) * len(out) // (2 * n)] for i in range(min(n, len(out)))]  # centred picks


def draw_cases(quota: dict[str, int]) -> list[Case]:
    """The cases of a profile: ``quota[family]`` per family. Enumerable families list every mutation kind
    (on hypothesis-drawn base models) before any repeats; the others are drawn by their strategy."""
    cases: list[Case] = []
    for family, n in quota.items():
        if n <= 0:
            continue
        if family in ENUMERATED:
            kinds = ENUMERATED[family]
            bases = draw(base_specs(), max(1, min(n, 40)))
            for i in range(n):  # evenly spread over the kinds when n < len(kinds)
                k, p = kinds[i * len(kinds) // n] if n < len(kinds) else kinds[i % len(kinds)]
                cases.append(Case(family, bases[i % len(bases)], k, p, levels_for(family, k, p)))
        else:
            cases += draw(FAMILIES[family], n)
    return cases
