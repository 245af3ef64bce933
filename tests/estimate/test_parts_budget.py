"""The part table and the budget verdicts."""

from __future__ import annotations

import pytest

from l1ml.errors import L1MLError
from l1ml.estimate.budget import Budget, Verdict, check_budget
from l1ml.estimate.parts import PARTS, get_part


def test_full_part_strings_resolve_to_their_device():
    assert get_part("xcvu13p-flga2577-2-e").device == "xcvu13p"
    assert get_part("XCVU9P-FLGB2104-2-I").device == "xcvu9p"
    assert get_part("xcku15p").device == "xcku15p"
    assert get_part("xcvu37p-fsvh2892-2L-e").device == "xcvu37p"


def test_unknown_part_names_the_known_ones():
    with pytest.raises(L1MLError, match="xcvu13p"):
        get_part("xc7k325t-ffg900-2")
    with pytest.raises(L1MLError):
        get_part("xcvu1")  # a prefix of a device is not that device


def test_every_part_has_the_ultrascale_plus_clb_ratio():
    # an UltraScale+ CLB has 8 LUTs and 16 flip-flops: a typo in the table breaks the 1:2 ratio
    for p in PARTS.values():
        assert p.ff == 2 * p.lut, p.device
        assert min(p.dsp, p.bram, p.uram) > 0
    assert {"xcvu9p", "xcvu13p", "xcku15p", "xcvu37p"} <= set(PARTS)


def test_allowed_ii_is_tmux_bunch_crossings():
    assert Budget().ii_ns == 25.0
    assert Budget(tmux=18).ii_ns == 450.0


@pytest.mark.parametrize("kw", [{"algorithm_ns": 20_000.0}, {"tmux": 0}, {"tmux": 1.5},
                                {"resource_fraction": 0.0}, {"algorithm_ns": -5.0}])
def test_impossible_budgets_are_user_errors(kw):
    with pytest.raises(L1MLError):
        Budget(**kw)


def test_check_reports_each_criterion_with_margins():
    cap = get_part("xcku15p").capacity()
    ok = check_budget(Budget(), 200.0, 25.0, {"LUT": 1000, "FF": 10, "DSP": 1968, "BRAM": 0}, cap)
    assert ok.fits and ok.overflows == []
    margins = ok.to_json()["margins"]
    assert margins["latency_ns"] == 800.0 and margins["ii_ns"] == 0.0 and margins["DSP"] == 0.0

    bad = check_budget(Budget(algorithm_ns=150.0, tmux=1), 200.0, 40.0,
                       {"LUT": 600_000, "FF": 10, "DSP": 1969, "BRAM": 0}, cap)
    assert not bad.fits
    assert bad.overflows == ["LUT", "DSP"]
    assert bad.failed == ["latency_ns", "ii_ns", "LUT", "DSP"]
    verdicts = {c.name: c.verdict for c in bad.criteria}
    assert verdicts["FF"] is Verdict.PASS and verdicts["LUT"] is Verdict.FAIL
    assert bad.to_json()["margins"]["LUT"] == cap["LUT"] - 600_000


def test_resource_fraction_scales_the_limits():
    cap = get_part("xcvu13p").capacity()
    half = check_budget(Budget(resource_fraction=0.5), 10.0, 5.0, {"LUT": cap["LUT"] * 0.6}, cap)
    assert half.overflows == ["LUT"]
