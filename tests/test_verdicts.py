"""wedges_lib.verdicts: three states decided by the interval over seeds, never an exception."""
import math

import pytest

from wedges_lib import verdicts
from wedges_lib.verdicts import Claim, combine, interval, judge

ABOVE = Claim("t_above", "the effect is positive", "effect", ">", 0.0)
BELOW = Claim("t_below", "the ratio is small", "ratio", "<", 0.1)


def test_clear_of_the_noise_is_reproduced():
    assert judge(ABOVE, [1.0, 1.2, 0.9, 1.1], "smoke").state == "reproduced"
    assert judge(BELOW, [0.01, 0.02, 0.015], "smoke").state == "reproduced"


def test_inside_the_noise_is_partly_whatever_the_sign_of_the_mean():
    v = judge(ABOVE, [0.5, -0.3, 0.4], "smoke")
    assert v.mean > 0 and v.lo < 0 and v.state == "partly reproduced"


def test_the_wrong_side_is_not_reproduced():
    assert judge(ABOVE, [-1.0, -1.1, -0.9], "smoke").state == "not reproduced"
    assert judge(BELOW, [0.5, 0.6, 0.4], "smoke").state == "not reproduced"


def test_one_seed_can_never_be_clear_of_noise():
    v = judge(ABOVE, [5.0], "smoke")
    assert v.state == "partly reproduced" and math.isinf(v.lo)


def test_nothing_measured_is_not_reproduced_and_does_not_raise():
    v = judge(ABOVE, [float("nan"), float("nan")], "smoke")
    assert v.state == "not reproduced" and v.n == 0


def test_interval_matches_student_t():
    from scipy import stats

    v = [0.3, 0.5, 0.4, 0.8, 0.6]
    m, lo, hi, n = interval(v)
    ref = stats.t.interval(0.95, len(v) - 1, loc=sum(v) / len(v), scale=stats.sem(v))
    assert n == 5 and m == pytest.approx(0.52) and (lo, hi) == pytest.approx(ref)


def test_combine_rule():
    r = judge(ABOVE, [1.0, 1.1, 0.9], "smoke")
    n = judge(ABOVE, [-1.0, -1.1, -0.9], "smoke")
    p = judge(ABOVE, [0.5, -0.3, 0.4], "smoke")
    assert combine("t_all", [r, r]).state == "reproduced"
    assert combine("t_none", [n, n]).state == "not reproduced"
    assert combine("t_mixed", [r, n]).state == "partly reproduced"
    assert combine("t_some", [p, n]).state == "partly reproduced"


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
    with pytest.raises(ValueError, match="distinct names"):
        verdicts.declare(ABOVE, ABOVE)
