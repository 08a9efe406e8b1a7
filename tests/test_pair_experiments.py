"""wedges_lib.studies.ch04_pairs: chapter 04's per-pair study, statistics, verdicts, width study and figures."""
import math

import pytest
import torch

from wedges_lib import config, plots, train
from wedges_lib.studies import ch04_pairs as pairs


@pytest.fixture(scope="module")
def two_solutions(smoke_data):
    cfg = config.resolve("smoke")
    res = train.train_config(cfg, smoke_data, seeds=[0, 1], quiet=True)
    return res.model, res.theta[0], res.theta[1], res.theta0


def _fake_study(line, curve, init=(3.0, 2.0, 1.0), aligned=None):
    """A pair study with the same profile for every curve and the F&J chain's last level; losses only (accuracies
    constant)."""
    prof = lambda v: {"loss": torch.tensor(v), "acc": torch.full((len(v),), 0.9)}  # noqa: E731
    chain = {"barriers": pairs.barrier_height(torch.tensor([line, curve])), "bends": torch.tensor([0, 1])}
    return {"line": prof(line), "curves": {name: prof(curve) for name in pairs.CURVES},
            "aligned": {m: prof(aligned or line) for m in ("weight", "activation")},
            "from_init": [prof(init), prof(init)], "bends": {}, "fj_chain": chain}


def _stats(studies) -> dict:
    """:func:`statistics` of fake pair studies, less the width study's slope (no widths here)."""
    widths = {"widths": torch.tensor([1.0, 2.0]), "weight": torch.zeros(2, len(studies))}
    return {k: v for k, v in pairs.statistics({"studies": studies, "widths": widths}).items() if k != "pairs_width"}


def test_pair_statistics_per_pair_and_nan_when_not_measured():
    studies = [_fake_study([0.2, 2.2, 0.2], [0.2, 0.4, 0.2], aligned=[0.2, 0.7, 0.2]), None,
               _fake_study([0.1, 0.1, 0.1], [0.1, 0.3, 0.1], init=(1.0, 2.0, 0.0))]
    s = _stats(studies)
    assert set(s) == {*pairs.PAIR_CLAIMS, "pairs_monotonic"}
    assert s["pairs_line_height"][0] == pytest.approx(2.0) and s["pairs_line_ratio"][0] == pytest.approx(10.0)
    assert s["pairs_curves_bezier"][0] == pytest.approx(0.1) and s["pairs_connector"][0] == pytest.approx(0.1)
    assert s["pairs_align_height"][0] == pytest.approx(0.5) and s["pairs_align_ratio"][0] == pytest.approx(0.25)
    assert s["pairs_beyond_bezier"][0] == pytest.approx(0.4) and s["pairs_beyond_connector"][0] == pytest.approx(0.4)
    assert math.isnan(s["pairs_beyond_bezier"][2])  # alignment left no barrier: nothing to beat
    assert all(math.isnan(v[1]) for v in s.values() if len(v) == 3)  # the diverged pair
    assert math.isnan(s["pairs_curves_chain"][2])  # no barrier on the line: nothing to lower
    assert len(s["pairs_monotonic"]) == 6 and s["pairs_monotonic"][:2] == [0.0, 0.0]
    assert math.isnan(s["pairs_monotonic"][2]) and s["pairs_monotonic"][4] == pytest.approx(0.5)


def test_pair_verdicts_follow_the_statistics_and_the_protocols_groups():
    from wedges_lib import protocol, verdicts

    claims = {n: c for n, c in protocol.declare("04_pairs_of_solutions").items() if n != "pairs_width"}
    groups = protocol.section("04_pairs_of_solutions")["groups"]

    def judged(studies):
        v = pairs.judge(claims, _stats(studies), "smoke")
        return v | {g: verdicts.combine(g, [v[p] for p in parts]) for g, parts in groups.items()}

    failed = ("not reproduced", "contradicted")
    good = [_fake_study([0.2, 2.2 + 0.1 * i, 0.2], [0.2, 0.3, 0.2]) for i in range(3)]
    v = judged(good)
    assert v["pairs_line"].state == v["pairs_curves"].state == v["pairs_monotonic"].state == "reproduced"
    assert v["pairs_beyond"].state == "reproduced"  # the aligned line is the raw line here: the curves beat it
    assert v["pairs_align_ratio"].state in failed and v["pairs_align_height"].state == "reproduced"
    assert "remove the barrier as well as the trained curves" in pairs.connector_sentence(v)
    assert pairs.bends_to_reach(good + [None], 0.1) == "1, 1, 1, not measured"
    assert pairs.bends_to_reach(good, 0.01) == "not reached, not reached, not reached"
    straight = [_fake_study([0.2, 2.2 + 0.1 * i, 0.2], [0.2, 2.0, 0.2], init=(1.0, 2.0, 0.5)) for i in range(3)]
    v = judged(straight)
    assert {v[k].state for k in ("pairs_curves", "pairs_connector", "pairs_monotonic")} <= set(failed), v
    assert v["pairs_line"].state == "reproduced"
    v = judged([None, None])  # nothing measured
    assert all(x.state == "not reproduced" for x in v.values())
    assert "No pair could be measured" in pairs.connector_sentence(v)


def test_stacked_profiles_leave_unmeasured_pairs_nan():
    st = pairs.stacked_profiles([_fake_study([0.2, 2.2, 0.2], [0.2, 0.3, 0.2], aligned=[0.2, 0.5, 0.2]), None], 3)
    assert st["straight line"].shape == (3, 2) and st["init → solution"].shape == (3, 4)
    assert st[pairs.ALIGNED][1, 0] == pytest.approx(0.5) and st[pairs.ACTIVATION][1, 0] == pytest.approx(0.5)
    assert torch.isnan(st["Bezier"][:, 1]).all() and not torch.isnan(st["Bezier"][:, 0]).any()


def test_pair_study_on_two_smoke_networks(two_solutions, smoke_data):
    model, a, c, theta0 = two_solutions
    cfg = config.resolve("smoke", curve_steps=3, n_interp=5)
    s = pairs.pair_study(cfg, model, smoke_data, a, c, theta0[0], theta0[1])
    assert set(s["curves"]) == set(pairs.CURVES) and len(s["from_init"]) == 2
    assert s["line"]["loss"].shape == (5,) and torch.allclose(s["from_init"][0]["loss"][-1], s["line"]["loss"][0])
    b = s["bends"]["F&J, one bend at the midpoint"][0] - 0.5 * (a + c)  # moved orthogonally to c - a only
    assert abs(float(b @ (c - a))) < 1e-4 * float((c - a).norm() * b.norm())
    chain = s["fj_chain"]  # its first bend moved in the hyperplane through the line's highest-loss point
    assert torch.equal(chain["points"][0], a) and torch.equal(chain["points"][-1], c)
    assert len(chain["barriers"]) == cfg.fj_depth + 1 and chain["bends"][1] == 1
    assert float(chain["barriers"][0]) == pytest.approx(float(pairs.barrier_height(s["line"]["loss"])), rel=1e-5)
    t = float((chain["points"][1] - a) @ (c - a) / (c - a).norm() ** 2)
    assert t == pytest.approx(int(s["line"]["loss"].argmax()) / 4, abs=1e-4)
    plane = pairs.tunnel(model, [None, s], torch.stack([a, c, a, c]), 4, smoke_data.x_train,
                           smoke_data.y_train)
    assert plane["loss"].shape == (4, 4) and plane["curve"].shape == (50, 2)
    for m, prof in s["aligned"].items():  # the aligned C is C's function: the same loss at the end, a lower barrier
        assert torch.allclose(prof["loss"][[0, -1]], s["line"]["loss"][[0, -1]], atol=1e-5), m
        assert pairs.barrier_height(prof["loss"]) < pairs.barrier_height(s["line"]["loss"]), m
    widths = {"widths": torch.tensor([0.5, 1.0]), **{m: torch.rand(2, 3) for m in ("line", "weight", "activation")}}
    fig, ax = plots.figure(2, 2)
    pairs.draw_pairs(ax, [s, None], plane, 5, bar=0.1)
    lines = ax[0, 0].get_lines()
    style = {x.get_label(): x.get_linestyle() for x in lines}  # the two chains, often one on the other, differ
    assert len(lines) == 1 + len(pairs.CURVES) and style["polygonal chain"] != style["F&J, path objective"]
    fig, ax = plots.figure(2)
    pairs.draw_symmetry(ax[0], [s, None], widths, 5)
    assert ax[0, 1].get_xscale() == "log" and len(ax[0, 0].get_lines()) == 4
    html = pairs.explorer([None, s], plane, 5, n=3).data  # t = 0, 0.5, 1: three precomputed frames
    assert 'class="wedges-frames"' in html and html.count('"label": ') == 3 and 'value="1"' in html


def test_width_study_trains_pairs_at_each_width_and_judges_the_aligned_slope(smoke_data):
    from wedges_lib import verdicts
    from wedges_lib.verdicts import Claim

    cfg = config.resolve("smoke", n_pairs=2, steps=60, solution_seed=300, n_interp=5)
    w = pairs.width_study(cfg, smoke_data, (0.125, 0.5))
    assert torch.equal(w["widths"], torch.tensor([0.125, 0.5]))
    assert all(w[m].shape == (2, 2) and torch.isfinite(w[m]).all() for m in ("line", "weight", "activation"))
    assert (w["weight"] <= w["line"] + 1e-6).all()  # matching never picks a worse point than the identity here
    # at the chapter's own width the pair studies' profiles are read: the same numbers as computing them again
    from wedges_lib import align, solutions
    from wedges_lib.config import Config

    own = Config({**cfg, "width": 0.5})
    model, sol = solutions.independent(own, smoke_data, 4)
    x, y = smoke_data.x_train, smoke_data.y_train
    studies = []
    for a, c in sol["theta"].view(2, 2, -1):
        prof = lambda t, a=a: pairs.profile(model, torch.stack([a, t]), cfg.n_interp, x=x, y=y)  # noqa: E731
        studies.append({"line": prof(c), "aligned": {m: prof(align.align(model, a, c, method=m, x=x))
                                                     for m in align.METHODS}})
    shared = pairs.width_study(own, smoke_data, (0.125, 0.5), studies)
    assert all(torch.equal(shared[m], w[m]) for m in ("line", *align.METHODS))
    claims = verdicts.declare(Claim("pairs_width", "h", "slope", "<", 0))
    stats = pairs.statistics({"studies": [], "widths": w})
    v = pairs.judge(claims, {"pairs_width": stats["pairs_width"]}, "smoke")["pairs_width"]
    slopes = pairs.doubling_slope(w["widths"], w["weight"])
    assert v.n == 2 and v.mean == pytest.approx(float(slopes.mean()), rel=1e-5)
    assert torch.allclose(slopes, (w["weight"][1] - w["weight"][0]) / 2)  # two widths, two doublings apart
    bad = pairs.doubling_slope(torch.tensor([1.0, 2.0]), torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    assert bad[0] == -1.0 and torch.isnan(bad[1])
