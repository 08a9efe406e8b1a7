"""wedges_lib.verdicts: four states decided by the interval over seeds, Holm-corrected headlines, never an exception."""
import math

import pytest

from wedges_lib import verdicts
from wedges_lib.verdicts import Claim, combine, interval, judge

ABOVE = Claim("t_above", "the effect is positive", "effect", ">", 0.0)
BELOW = Claim("t_below", "the ratio is small", "ratio", "<", 0.1)


def test_clear_of_the_noise_is_reproduced():
    assert judge(ABOVE, [1.0, 1.2, 0.9, 1.1], "smoke").state == "reproduced"
    assert judge(BELOW, [0.01, 0.02, 0.015], "smoke").state == "reproduced"


def test_inside_the_noise_the_mean_decides_inconclusive_or_not_reproduced():
    v = judge(ABOVE, [0.5, -0.3, 0.4], "smoke")
    assert v.mean > 0 and v.lo < 0 and v.state == "inconclusive"
    v = judge(ABOVE, [-0.5, 0.3, -0.4], "smoke")
    assert v.mean < 0 and v.hi > 0 and v.state == "not reproduced"


def test_the_whole_interval_on_the_wrong_side_is_contradicted():
    assert judge(ABOVE, [-1.0, -1.1, -0.9], "smoke").state == "contradicted"
    assert judge(BELOW, [0.5, 0.6, 0.4], "smoke").state == "contradicted"


def test_one_seed_can_never_be_clear_of_noise():
    v = judge(ABOVE, [5.0], "smoke")
    assert v.state == "inconclusive" and math.isinf(v.lo)


def test_nothing_measured_is_not_reproduced_and_does_not_raise():
    v = judge(ABOVE, [float("nan"), float("nan")], "smoke")
    assert v.state == "not reproduced" and v.n == 0


def test_interval_matches_student_t():
    from scipy import stats

    v = [0.3, 0.5, 0.4, 0.8, 0.6]
    m, lo, hi, n = interval(v)
    ref = stats.t.interval(0.95, len(v) - 1, loc=sum(v) / len(v), scale=stats.sem(v))
    assert n == 5 and m == pytest.approx(0.52) and (lo, hi) == pytest.approx(ref)


def test_combine_takes_the_least_favourable_part():
    r = judge(ABOVE, [1.0, 1.1, 0.9], "smoke")
    c = judge(ABOVE, [-1.0, -1.1, -0.9], "smoke")
    i = judge(ABOVE, [0.5, -0.3, 0.4], "smoke")
    assert combine("t_all", [r, r]).state == "reproduced"
    assert combine("t_none", [c, c]).state == "contradicted"
    assert combine("t_mixed", [r, c]).state == "contradicted"  # a failed part is never "partly"
    assert combine("t_some", [r, i]).state == "inconclusive"
    assert combine("t_some", [r, i]).summary.startswith("1 ✔, 1 ◐ of 2 parts")


def test_holm_can_demote_a_part_that_clears_its_own_interval():
    """Alone, p ≈ 0.012 < 0.025 clears; among five parts its Holm threshold is 0.025 / 5 and it does not."""
    edge = judge(ABOVE, [1.0, 2.0, 3.0, 2.5, 0.8], "smoke")
    assert edge.state == "reproduced" and 0.025 / 5 < edge.p_holds < 0.025
    weak = [judge(ABOVE, [0.5, -0.3, 0.4], "smoke") for _ in range(4)]  # p ≈ 0.3: the edge is the smallest p
    assert combine("t_one", [edge]).state == "reproduced"
    assert verdicts.corrected([edge, *weak])[0][1] == "inconclusive"  # Holm: p × 5 > 0.025
    far = [judge(ABOVE, [10.0, 10.1, 9.9], "smoke") for _ in range(4)]  # step-down: the edge is tested last, × 1
    assert verdicts.corrected([edge, *far])[0][1] == "reproduced"


def test_holm_matches_the_textbook_adjustment():
    assert verdicts.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_p_values_agree_with_the_interval():
    for values in ([1.0, 1.2, 0.9, 1.1], [0.1, -0.2, 0.3], [-1.0, -0.8, -1.3]):
        v = judge(ABOVE, values, "smoke")
        assert (v.p_holds < verdicts.ALPHA) == (v.lo > 0) and (v.p_fails < verdicts.ALPHA) == (v.hi < 0)


def test_not_measured_and_censored_values_are_counted_in_the_summary():
    v = judge(ABOVE, [1.0, float("nan"), 1.2, 0.9], "cpu", censored=1)
    assert v.n == 3 and "3 of 4 seeds measured; 1 censored" in v.summary


def test_margin_is_the_nearest_end_as_a_fraction_of_the_width():
    assert verdicts.margin(0.0, 1.0, 0.5, 1.5) == pytest.approx(0.5)
    assert verdicts.margin(0.0, 0.2, -0.3, 0.7) == pytest.approx(0.2)
    assert verdicts.margin(0.0, 1.0, 1.0, 1.0) == math.inf and verdicts.margin(0.0, 0.0, 0.0, 0.0) == 0.0


def test_every_verdict_is_recorded_with_its_numbers(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("WEDGES_RUN_DIR", str(tmp_path))
    judge(ABOVE, [1.0, 1.2, 0.9], "cpu", unit="pairs")
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["t_above_verdict"] == "reproduced" and m["t_above_badge"].startswith(verdicts.ICONS["reproduced"])
    assert m["t_above_n"] == 3 and m["t_above_lo"] < m["t_above_mean"] < m["t_above_hi"]
    assert "(cpu, 3 pairs)" in m["t_above_summary"]


def test_bad_claims_are_refused():
    with pytest.raises(ValueError, match="holds_if"):
        Claim("x", "h", "s", ">=", 0.0)
    with pytest.raises(ValueError, match="kind"):
        Claim("x", "h", "s", ">", 0.0, kind="evidence")
    with pytest.raises(ValueError, match="distinct names"):
        verdicts.declare(ABOVE, ABOVE)
