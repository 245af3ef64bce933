"""pytest plugin: a two-line bit-exactness regression test for a QONNX model.

    def test_my_model(l1ml_bitexact):
        l1ml_bitexact("my_model.onnx", levels=["qonnx", "rtl"])

The fixture compiles the model, runs corner-case plus random vectors through the bit-exact emulator
and through each chosen level (``qonnx``: qonnx execute_onnx; ``hls``: the hls4ml C-simulation;
``rtl``: the generated Verilog under Verilator), and fails on any output word that differs from the
emulator. On its first run it stores the input vectors and the emulator's output words as a golden
file beside the test (``l1ml_golden/``); later runs reuse those inputs and fail if any output word
changed, so a new compiler version or a swapped model file shows up as a regression. After an
intended change, rerun with ``--l1ml-update-golden``.

Options: ``--l1ml-update-golden``; ``--l1ml-build-dir`` (ini ``l1ml_build_dir``, default
``<rootdir>/.l1ml_cache/rtl``) for cached Verilator builds; ini ``l1ml_golden_dir`` for golden files
in one place instead of beside each test. Heavy imports happen inside the fixture only.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from l1ml.verify.vectors import n_events

if TYPE_CHECKING:  # pragma: no cover
    from l1ml.ir.graph import Graph
    from l1ml.verify.vectors import Vectors

GOLDEN_FORMAT = "l1ml-golden-1"
MAX_LINES = 8  # differing words listed per failure


class Level(Enum):
    """What the emulator is compared with."""

    QONNX = "qonnx"
    HLS = "hls"
    RTL = "rtl"


class GoldenStored(UserWarning):
    """A golden file was written (first run or --l1ml-update-golden): commit it."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("l1ml", "l1ml bit-exactness regression tests")
    group.addoption("--l1ml-update-golden", action="store_true", default=False,
                    help="rewrite the golden vectors of l1ml_bitexact tests (after an intended change)")
    group.addoption("--l1ml-build-dir", default=None,
                    help="cache directory for Verilator builds (default: <rootdir>/.l1ml_cache/rtl)")
    parser.addini("l1ml_build_dir", "cache directory for Verilator builds of l1ml_bitexact", default="")
    parser.addini("l1ml_golden_dir", "directory for l1ml_bitexact golden files (default: l1ml_golden/ "
                  "beside each test file)", default="")


@dataclass
class LevelOutcome:
    level: str
    vectors: int
    mismatches: int  # vectors with a differing word
    lines: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class BitExactResult:
    """What one ``l1ml_bitexact(...)`` call checked."""

    model: Path
    golden: Path
    golden_created: bool
    vectors: int
    levels: list[LevelOutcome]

    def summary(self) -> str:
        parts = [f"{o.level}: {o.vectors} vectors, {o.mismatches} mismatches" for o in self.levels]
        return f"{self.model.name}: " + "; ".join(parts)


def _levels(levels: Sequence[str | Level]) -> list[Level]:
    out = []
    for lv in levels:
        try:
            out.append(lv if isinstance(lv, Level) else Level(str(lv).lower()))
        except ValueError:
            names = ", ".join(x.value for x in Level)
            pytest.fail(f"l1ml_bitexact: unknown level '{lv}'; choose from {names}", pytrace=False)
    return out


def _diff_lines(what: str, expected: np.ndarray, actual: np.ndarray,
                rows: np.ndarray | None = None) -> tuple[int, list[str]]:
    """Vectors that differ and the first differing words, as 'vector k, output[j]: expected e, got a'
    (``rows``: each given vector's index in the whole run, when they are a selection)."""
    e = expected.reshape(len(expected), int(np.prod(expected.shape[1:])))  # no -1: the selection may be empty
    a = actual.reshape(e.shape)
    bad = np.nonzero((e != a).any(axis=1))[0]
    lines = []
    for k in bad[:MAX_LINES]:
        j = int(np.nonzero(e[k] != a[k])[0][0])
        at = int(k if rows is None else rows[k])
        lines.append(f"{what}: vector {at}, output[{j}]: expected {e[k, j].item()}, got {a[k, j].item()}")
    return int(len(bad)), lines


class BitExact:
    """The ``l1ml_bitexact`` fixture: call it with a model path and the levels to check."""

    def __init__(self, request: pytest.FixtureRequest):
        self.request = request
        self.config = request.config

    # ---- paths ---------------------------------------------------------------------------------------
    def _golden_path(self, model: Path) -> Path:
        ini = self.config.getini("l1ml_golden_dir")
        base = (self.config.rootpath / ini) if ini else self.request.path.parent / "l1ml_golden"
        test = re.sub(r"[^\w.-]", "_", self.request.node.name)
        return base / f"{self.request.path.stem}__{test}__{model.stem}.npz"

    def _build_dir(self) -> Path:
        opt = self.config.getoption("--l1ml-build-dir") or self.config.getini("l1ml_build_dir")
        return Path(opt) if opt else self.config.rootpath / ".l1ml_cache" / "rtl"

    def _workdir(self, name: str) -> Path:
        tmp = self.request.getfixturevalue("tmp_path")
        d = tmp / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    # ---- golden files --------------------------------------------------------------------------------
    def _load_golden(self, path: Path) -> dict:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != GOLDEN_FORMAT:
                pytest.fail(f"{path}: not an l1ml golden file of this version; delete it or rerun with "
                            "--l1ml-update-golden", pytrace=False)
            outputs = {k: z[f"out_{i}"] for i, k in enumerate(meta["outputs"])}
            x = {k: z[f"x_{i}"] for i, k in enumerate(meta["inputs"])} if "inputs" in meta else z["x"]
            return {"x": x, "meta": meta, "outputs": outputs}

    @staticmethod
    def _save_golden(path: Path, model: Path, g: Graph, x: Vectors, codes: dict[str, np.ndarray]) -> None:
        meta = {"format": GOLDEN_FORMAT, "model": model.name, "outputs": list(g.outputs),
                "types": {o: g.t(o).type.to_json() for o in g.outputs}}
        if isinstance(x, dict):  # a model with several inputs: one array each
            meta["inputs"] = list(x)
            arrays = {f"x_{i}": v for i, v in enumerate(x.values())}
        else:
            arrays = {"x": x}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays, meta=np.array(json.dumps(meta, sort_keys=True)),
                            **{f"out_{i}": codes[o] for i, o in enumerate(g.outputs)})
        tmp.replace(path)

    # ---- levels --------------------------------------------------------------------------------------
    def _qonnx(self, model: Path, g: Graph, x: Vectors, outputs: dict[str, np.ndarray]) -> LevelOutcome:
        """qonnx computes in float32: compare real values; a vector whose difference disappears when the
        same graph runs in float64 is qonnx's rounding (reported in the note), not a mismatch."""
        from l1ml.backends.emulate import to_onnx_layout
        from l1ml.ir.quantize import to_real
        from l1ml.verify.qonnx_level import classify, run_qonnx
        from l1ml.verify.vectors import as_dict

        out = g.outputs[0]
        expected = to_real(outputs[out], g.t(out).type)
        onnx_x = {i: to_onnx_layout(g, v) for i, v in as_dict(g, x).items()}
        actual = run_qonnx(model, onnx_x).astype(np.float64).reshape(expected.shape)
        cmp = classify(g, model, onnx_x, expected, actual)
        _, lines = _diff_lines("qonnx", expected[cmp.mismatches], actual[cmp.mismatches], cmp.mismatches)
        note = (f"{len(cmp.rounding)} qonnx float32 rounding differences (explained: {cmp.explanation})"
                if len(cmp.rounding) else "")
        if cmp.float64_error:
            note = f"the float64 re-execution failed ({cmp.float64_error}), so no difference is explained"
        return LevelOutcome(Level.QONNX.value, n_events(x), int(len(cmp.mismatches)), lines, note)

    def _hls(self, g: Graph, x: Vectors, outputs: dict[str, np.ndarray]) -> LevelOutcome:
        """The hls4ml project l1ml writes, C-simulated on the float vectors (its input layer quantizes
        them), outputs as reals."""
        from l1ml.compile import CompileOptions, write_hls
        from l1ml.ir.quantize import to_real
        from l1ml.verify.hls_level import csim_inputs, run_csim

        prj = self._workdir("hls")
        write_hls(g, prj, prj, CompileOptions())
        out = g.outputs[0]
        expected = to_real(outputs[out], g.t(out).type)
        actual = run_csim(prj, csim_inputs(g, x), int(np.prod(g.t(out).shape))).reshape(expected.shape)
        bad, lines = _diff_lines("hls", expected, actual)
        return LevelOutcome(Level.HLS.value, len(expected), bad, lines)

    def _rtl(self, g: Graph, x: Vectors, rtl_options: dict) -> LevelOutcome:
        from l1ml.backends.verilog import write_rtl
        from l1ml.verify.rtl import check_rtl

        rtl_dir = self._workdir("rtl") / "rtl"
        write_rtl(g, rtl_dir, **rtl_options)
        r = check_rtl(g, rtl_dir, x, self._build_dir())
        note = f"latency {r.latency_cycles} cycles, II {r.ii}"
        return LevelOutcome(Level.RTL.value, r.n_vectors, r.mismatches, r.first_mismatches[:MAX_LINES], note)

    # ---- the call ------------------------------------------------------------------------------------
    def __call__(self, model: str | Path, levels: Sequence[str | Level] = ("qonnx",), vectors: int = 500,
                 seed: int = 0, data: Vectors | None = None, reuse_factor: int = 1,
                 clock_ns: float | None = None, pipeline_stages: int | None = None) -> BitExactResult:
        """Check ``model`` (a path relative to the test file, or absolute) at ``levels``; fail the test
        on any output word that differs from the emulator or from the stored golden words."""
        from l1ml.backends.emulate import Emulator, input_codes
        from l1ml.errors import L1MLError
        from l1ml.limits import check_options
        from l1ml.load import load_graph
        from l1ml.verify.vectors import make_vectors

        chosen = _levels(levels)
        model = Path(model)
        if not model.is_absolute():
            model = self.request.path.parent / model
        golden = self._golden_path(model)
        update = self.config.getoption("--l1ml-update-golden")
        try:
            check_options(vectors=vectors, seed=seed, reuse_factor=reuse_factor, clock_ns=clock_ns,
                          pipeline_stages=pipeline_stages)
            g = load_graph(model)
            stored = None if update or not golden.exists() else self._load_golden(golden)
            x = stored["x"] if stored else make_vectors(g, vectors, seed=seed, data=data)
            codes = input_codes(g, x)
            outputs = Emulator(g).run_codes(codes)
            problems = self._compare_golden(stored, g, outputs, golden) if stored else []
            results = []
            for lv in chosen:
                if lv is Level.QONNX:
                    results.append(self._qonnx(model, g, x, outputs))
                elif lv is Level.HLS:
                    results.append(self._hls(g, x, outputs))
                else:
                    results.append(self._rtl(g, x, {"reuse_factor": reuse_factor, "clock_ns": clock_ns,
                                                    "pipeline_stages": pipeline_stages}))
        except L1MLError as e:
            pytest.fail(f"l1ml_bitexact({model.name}): {e}", pytrace=False)
        for r in results:
            if r.mismatches:
                problems.append(f"{r.level}: {r.mismatches} of {r.vectors} vectors differ from the emulator"
                                + (f" ({r.note})" if r.note else ""))
                problems.extend(f"    {line}" for line in r.lines)
        result = BitExactResult(model, golden, stored is None, n_events(x), results)
        if problems:
            pytest.fail(f"l1ml_bitexact({model.name}) is not bit-exact:\n" + "\n".join(problems),
                        pytrace=False)
        if stored is None:
            self._save_golden(golden, model, g, x, outputs)
            msg = (f"l1ml_bitexact: stored {n_events(x)} golden vectors in {golden}; commit it so that later runs "
                   "detect changed output words")
            warnings.warn(GoldenStored(msg), stacklevel=2)
        return result

    @staticmethod
    def _compare_golden(stored: dict, g: Graph, outputs: dict[str, np.ndarray], path: Path) -> list[str]:
        """Differences between today's emulator words and the stored ones."""
        from l1ml.ir.quantize import to_real
        from l1ml.ir.types import FixedType

        meta = stored["meta"]
        hint = (f"the model or the compiler changed its output since {path.name} was stored; if that is "
                "intended, rerun with --l1ml-update-golden")
        if meta["outputs"] != list(g.outputs):
            return [f"golden: the model's outputs are now {list(g.outputs)}, not {meta['outputs']} ({hint})"]
        problems = []
        for o in g.outputs:
            old_t, new_t = FixedType.from_json(meta["types"][o]), g.t(o).type
            old, new = stored["outputs"][o], outputs[o]
            if old.shape != new.shape:
                problems.append(f"golden: output '{o}' has shape {new.shape[1:]}, stored {old.shape[1:]} "
                                f"({hint})")
                continue
            if old_t != new_t:
                # the words are not comparable; say how many results moved in real value
                bad, lines = _diff_lines(f"golden '{o}' (real value)", to_real(old, old_t),
                                         to_real(new, new_t))
                problems.append(f"golden: output '{o}' is now {new_t}, stored as {old_t}, and {bad} of "
                                f"{len(new)} vectors changed value ({hint})")
            else:
                bad, lines = _diff_lines(f"golden '{o}'", old, new)
                if bad:
                    words = int((old != new).sum())
                    problems.append(f"golden: {words} output words in {bad} vectors changed ({hint})")
            problems.extend(f"    {line}" for line in lines)
        return problems


@pytest.fixture
def l1ml_bitexact(request: pytest.FixtureRequest) -> BitExact:
    """Call as ``l1ml_bitexact("model.onnx", levels=["qonnx", "hls", "rtl"])`` to assert bit-exactness
    on corner-case and random vectors, with golden vectors stored on the first run."""
    return BitExact(request)
