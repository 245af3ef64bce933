"""The fast fuzz profile (part of `make test`): 18 hypothesis-drawn cases across every family, through the
real CLI, each of which must end as bit-exact (qonnx and hls levels) or as a named refusal with nothing
left behind and every user file intact. The long profile (329 cases) is `make fuzz` and the slow test."""

from __future__ import annotations

import pytest

from tests.fuzz.cases import draw_cases
from tests.fuzz.harness import run_case
from tests.fuzz.profile import FAST, LONG, run_profile, table

FAST_CASES = draw_cases(FAST)


@pytest.mark.parametrize("index", range(len(FAST_CASES)), ids=[c.label()[:60] for c in FAST_CASES])
def test_fast_profile_case(index: int, tmp_path) -> None:
    case = FAST_CASES[index]
    res = run_case(index, case, tmp_path)
    assert res.outcome.ok, (f"{case.label()} -> {res.outcome.value}\n" + "\n".join(res.reasons)
                            + f"\nreproduce:\n{res.repro}\n{case!r}")


def test_fast_profile_covers_every_outcome_path() -> None:
    """The fast profile reaches hls C-simulation on valid models and every mutation family."""
    assert sum("hls" in c.levels and not c.kind for c in FAST_CASES) >= 3
    assert {c.family for c in FAST_CASES} >= set(FAST)


@pytest.mark.slow
def test_long_profile(tmp_path) -> None:
    """The long profile (`make fuzz` without writing the doc): every case bit-exact or a named refusal."""
    cases = draw_cases(LONG)
    assert len(cases) >= 300
    results = run_profile(list(enumerate(cases)), workers=2, keep=tmp_path / "failures", progress=lambda s: None)
    print(table(results))
    bad = [r for r in results if not r.outcome.ok]
    assert not bad, "\n".join(f"#{r.index} {r.case.label()}: {r.outcome.value}: {r.reasons[0]}\n{r.repro}"
                              for r in bad[:20])
