"""Chapter 01's verdicts: statistics measured once per independent toy, its claims, and how they combine."""
import json

import pytest
import torch

from wedges_lib import config, protocol, toy_experiments
from wedges_lib.studies import ch01_toy as te

CHAPTER = "01_toy_model"
SMALL = dict(toy_D=200, toy_n=5, toy_K=4, toy_runs=10, toy_dirs=8, toy_grid=21, toy_steps=100, plane_D=60,
             plane_n=6, plane_K=3, plane_dims=(2, 4, 8, 16), plane_radii=(1.1, 3.0, 10.0), plane_seeds=8,
             plane_steps=40, n_seeds=3)  # a few seconds for all three toys


def claims() -> dict:
    return protocol.declare(CHAPTER)


def on_claimed_side(claim, value: float) -> bool:
    return value > claim.threshold if claim.holds_if == ">" else value < claim.threshold


@pytest.fixture(scope="module")
def studies():
    return te.run(config.resolve("smoke", **SMALL))


def test_seed_configs_are_independent_toys():
    cfg = config.resolve("smoke", seed=5, n_seeds=3)
    toys = te.seed_configs(cfg)
    assert [c["seed"] for c in toys] == [5, 6, 7]
    assert all({**c, "seed": 5} == dict(cfg) for c in toys)
    assert not torch.equal(toy_experiments.from_config(toys[0]).short, toy_experiments.from_config(toys[1]).short)


def test_claims_are_the_protocols_checks_and_its_groups_read_them():
    c, sec = claims(), protocol.section(CHAPTER)
    assert set(p for parts in sec["groups"].values() for p in parts) <= set(c)
    assert {x.kind for x in c.values()} == {"primary", "control", "sanity"}
    assert c["toy_connect_line"].threshold == pytest.approx(-3.0)  # log10 of the declared 1e-3 R²
    assert c["toy_long_random"].threshold == pytest.approx(-1.0)  # log10 of 0.1 R
    assert c["toy_drawn_loss"].holds_if == "<" and c["toy_hyperplane_gain"].holds_if == ">"


def test_every_statistic_holds_on_every_toy(studies):
    (stats, censored), c = te.statistics(*studies, largest_d=SMALL["plane_dims"][-1]), claims()
    assert set(stats) == set(c) and censored == {"toy_hyperplane_d50": 0}
    for name, values in stats.items():
        assert len(values) == SMALL["n_seeds"], name
        assert all(on_claimed_side(c[name], v) for v in values), f"{name}: {values}, holds if {c[name].rule}"
    assert len(set(stats["toy_connect_line"])) == SMALL["n_seeds"], "the toys should differ"


def test_escapes_short_direction_before_random_ones(studies):
    run = studies[0][0]
    esc = run["escape"]
    assert esc.shape == (SMALL["toy_runs"], 1 + SMALL["toy_dirs"])
    assert (esc[:, 0] < esc[:, 1:].median(dim=1).values).all()
    x = torch.linspace(0, 2, 21)
    low = te.still_low(esc, x)
    for frac in low.values():
        assert frac.shape == (21,) and (frac.diff() <= 0).all() and 0 <= frac.min() <= frac.max() <= 1
    assert low["short directions"][2] < low["random directions"][2]  # at 0.2 R


def test_the_hyperplane_statistics_fail_without_opening_wedges():
    """kappa = 0: the 'opening' wedges have zero width at every radius, so the gain and d50 parts fail."""
    cfg = te.seed_configs(config.resolve("smoke", plane_kappa=0.0, **SMALL))[0]
    run, hyper, slab = te.descent_study(cfg), te.hyperplane_study(cfg), te.slabs_study(cfg)
    (stats, _), c = te.statistics([run], [hyper], [slab], SMALL["plane_dims"][-1]), claims()
    assert not on_claimed_side(c["toy_hyperplane_gain"], stats["toy_hyperplane_gain"][0])
    assert not on_claimed_side(c["toy_hyperplane_d50"], stats["toy_hyperplane_d50"][0])



def test_a_d50_never_reached_is_censored_at_the_largest_d_not_dropped(studies):
    runs, hypers, slabs = studies
    o = next(iter(hypers[0]["maps"]))  # the opening wedges
    d50 = hypers[0]["d50"][o].clone()
    d50[0] = float("nan")  # never reached at the smallest radius: the strongest effect
    hyper = {**hypers[0], "d50": {**hypers[0]["d50"], o: d50}}
    (stats, censored), largest = te.statistics([runs[0]], [hyper], [slabs[0]], 16), 16
    assert censored["toy_hyperplane_d50"] == 1
    assert stats["toy_hyperplane_d50"][0] == pytest.approx(float(d50[-1]) / largest)


def test_worst_ratio_counts_zero_over_zero_as_zero():
    assert float(te._worst_ratio(torch.tensor([0.0, 1e-6]), torch.tensor([0.0, 1.0]))) == pytest.approx(1e-6)
    assert float(te._worst_ratio(torch.tensor([1.0]), torch.tensor([0.0]))) == float("inf")


def synthetic(wrong: set[str] = frozenset()) -> dict[str, list[float]]:
    """Per-toy values well on the claimed side of each claim, or well on the wrong side for ``wrong``."""
    out = {}
    for name, claim in claims().items():
        sign = (1 if claim.holds_if == ">" else -1) * (-1 if name in wrong else 1)
        out[name] = [claim.threshold + sign * (1 + 0.1 * i) for i in range(3)]
    return out


@pytest.mark.parametrize("wrong, check, c1", [
    (set(), "reproduced", "reproduced"),
    ({"toy_hyperplane_gain"}, "contradicted", "contradicted"),  # the least favourable primary part
    ({"toy_hyperplane_flat"}, "reproduced", "reproduced"),  # a control never lowers the headline
    ({"toy_connect_via"}, "reproduced", "reproduced"),  # nor does a sanity check (it fails on its own)
    (set(claims()), "contradicted", "contradicted"),
])
def test_judge_and_the_protocol_make_groups_and_c1(monkeypatch, tmp_path, wrong, check, c1):
    monkeypatch.setenv("WEDGES_RUN_DIR", str(tmp_path))
    out = protocol.conclude(CHAPTER, te.judge(claims(), (synthetic(wrong), {}), "smoke"))
    assert set(out) == set(claims()) | set(protocol.section(CHAPTER)["groups"]) | {"toy_c1"}
    assert out["toy_hyperplane"].state == check and out["toy_c1"].state == c1
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert all(m[f"{name}_verdict"] == out[name].state for name in out)
    assert m["toy_monotonic_n"] == 3 and "(smoke, 3 toys)" in m["toy_monotonic_summary"]
