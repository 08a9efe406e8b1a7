import math

import pytest
import torch
from scipy import stats

from wedges_lib import config, connect, params, sets, train


@pytest.mark.parametrize("k", [2, 3, 5])
def test_simplex_sampling_is_uniform(k):
    w = sets.simplex_weights(4000, k, seed=0)
    assert w.shape == (4000, k) and bool((w >= 0).all()) and torch.allclose(w.sum(1), torch.ones(4000))
    for j in range(k):  # every marginal of Dirichlet(1, ..., 1) is Beta(1, k - 1)
        assert stats.kstest(w[:, j].numpy(), stats.beta(1, k - 1).cdf).pvalue > 1e-3
    assert torch.equal(w, sets.simplex_weights(4000, k, seed=0))  # seeded
    # a non-uniform sampler (normalised uniforms) fails the same test
    u = torch.rand(4000, 3, generator=torch.Generator().manual_seed(0))
    assert stats.kstest((u / u.sum(1, keepdim=True))[:, 0].numpy(), stats.beta(1, 2).cdf).pvalue < 1e-3


@pytest.mark.parametrize("kind", sets.STRUCTURES)
def test_structure_weights_are_convex_and_respect_their_shape(kind):
    w = sets.structure_weights(kind, 4, 500, n_extra=2, seed=1)
    assert bool((w >= 0).all()) and torch.allclose(w.sum(1), torch.ones(500))
    support = (w > 0).sum(1)
    expected = {"segments": 2, "simplices": 3, "complex": 3, "simplex": 6, "hull": 4}[kind]
    assert bool((support <= expected).all())
    if kind == "segments":  # each point on one segment θ_i -> θ_c (the last vertex)
        assert bool((w[:, -1] > 0).all()) and bool(((w[:, :-1] > 0).sum(1) == 1).all())
    with pytest.raises(ValueError, match="kind"):
        sets.structure_weights("cube", 4, 5)


def test_k2_connector_is_the_pair_polychain():
    sols = torch.randn(2, 6, generator=torch.Generator().manual_seed(0))
    res = sets.SetResult("segments", sols, torch.randn(1, 6), {})
    w = sets.structure_weights("segments", 2, 200, seed=3)
    t = torch.where(w[:, 1] == 0, w[:, 2] / 2, 1 - w[:, 2] / 2)  # position on the chain θ_1 -> θ_c -> θ_2
    chain = connect.curve_points(torch.stack([sols[0], res.extra[0], sols[1]]), t, "polychain")
    assert torch.allclose(res.sample(200, seed=3), chain, atol=1e-6)
    assert torch.allclose(connect.weights("polychain", t)[:, [0, 2, 1]], w, atol=1e-6)


def test_connector_starts_at_the_mean_and_descends_a_batched_loss():
    target = torch.tensor([0.0, 3.0])
    f = lambda th: ((th - target) ** 2).sum(-1)  # noqa: E731  the best connector is near the target
    sols = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    one = sets.train_connector(f, None, sols, steps=1, lr=1e-9, quiet=True)
    assert torch.allclose(one.extra[0], sols.mean(0), atol=1e-6)
    res = sets.train_connector(f, None, sols, steps=200, lr=0.05, quiet=True)
    before = sets.evaluate_structure(f, None, None, one.sample, 200)["mean"]
    after = sets.evaluate_structure(f, None, None, res.sample, 200)["mean"]
    assert after < 0.8 * before
    with pytest.raises(ValueError, match="variant"):
        sets.train_connector(f, None, sols, variant="cubes")


def test_trained_structures_beat_untrained_on_a_smoke_mlp(smoke_data):
    cfg = config.resolve("smoke", steps=100)
    run = train.train_config(cfg, smoke_data, seeds=[0, 1, 2], quiet=True)
    x, y = smoke_data.x_train, smoke_data.y_train
    hull = sets.evaluate_structure(run.model, x, y, lambda n, s: sets.hull_points(run.theta, n, s), 64)
    sol_loss = params.evaluate(run.model, run.theta, x, y)[0].mean()
    assert hull["mean"] > sol_loss + 0.3  # the naive hull is bad
    for make in (lambda st: sets.train_connector(run.model, smoke_data, run.theta, steps=st, lr=0.3, quiet=True),
                 lambda st: sets.train_simplex(run.model, smoke_data, run.theta, n_extra=2, steps=st, lr=0.3,
                                                  quiet=True)):
        untrained = sets.evaluate_structure(run.model, x, y, make(1).sample, 64)
        trained = sets.evaluate_structure(run.model, x, y, make(150).sample, 64)
        assert trained["mean"] < sol_loss + 0.3 * (untrained["mean"] - sol_loss)
        assert trained["acc"].shape == (64,) and int(trained["worst"]) == int(trained["loss"].argmax())


# --- chapter 05's sets, statistics and verdicts ---------------------------------------------------------------

def test_set_groups_are_disjoint_triples_and_a_larger_set_through_the_first():
    triples, larger = sets.set_groups(3, 5)
    flat = [i for t in triples for i in t]
    assert len(set(flat)) == 9 and larger[:3] == triples[0] and set(larger[3:]).isdisjoint(flat)
    assert max(larger) == 3 * 3 + 5 - 3 - 1  # exactly the networks chapter 05 trains
    assert sets.set_groups(2, 3) == ([[0, 1, 2], [3, 4, 5]], [0, 1, 2])


def _fake_set(sol, hull_mean, hull_max, seg_max, seg_mean=0.5):
    ev = lambda m, w: {"mean": torch.tensor(m), "max": torch.tensor(w), "acc": torch.tensor([0.5])}  # noqa: E731
    seg = {**ev(seg_mean, max(seg_max)), "segment_max": torch.tensor(seg_max)}
    return {"solutions_loss": torch.tensor(sol), "evals": {"naive hull": ev(hull_mean, hull_max),
                                                           "connector (segments)": seg}}


def test_set_statistics_use_the_worst_point_of_any_segment():
    st = _fake_set([0.1, 0.2, 0.3], hull_mean=1.2, hull_max=2.2, seg_max=[0.3, 0.6, 0.4])
    s = sets.set_statistics([st, None])
    assert s["sets_hull_height"][0] == pytest.approx(1.0) and s["sets_hull_ratio"][0] == pytest.approx(5.0)
    assert s["sets_connector"][0] == pytest.approx((0.6 - 0.2) / (2.2 - 0.2))
    assert all(math.isnan(v[1]) for v in s.values())


def test_set_verdicts_and_the_one_larger_set_sentence():
    from wedges_lib import verdicts
    from wedges_lib.verdicts import Claim

    claims = verdicts.declare(Claim("sets_hull_height", "h", "e", ">", 0.1),
                              Claim("sets_hull_ratio", "h", "r", ">", 1),
                              Claim("sets_connector", "h", "w", "<", 0.2))
    low = [_fake_set([0.1, 0.2, 0.3], 1.2 + 0.1 * i, 2.2, [0.3, 0.25 + 0.01 * i, 0.3]) for i in range(3)]
    v = sets.set_verdicts(claims, sets.set_statistics(low), "smoke")
    assert v["sets_hull"].state == v["sets_connector"].state == "reproduced"
    high = [_fake_set([0.1, 0.2, 0.3], 1.2, 2.2, [0.3, 1.9 + 0.01 * i, 0.3], seg_mean=0.3) for i in range(3)]
    v = sets.set_verdicts(claims, sets.set_statistics(high), "smoke")  # low on average, not at its worst
    assert v["sets_connector"].state == "not reproduced"
    num = {"sets_k": 5, "sets_segk_worst_fraction": 0.5}
    assert "not below the declared 0.2" in sets.big_set_sentence(num, 0.2)
    assert "could not be measured" in sets.big_set_sentence({**num, "sets_segk_worst_fraction": math.nan}, 0.2)


@pytest.fixture(scope="module")
def three_solutions(smoke_data):
    cfg = config.resolve("smoke", steps=60)
    run = train.train_config(cfg, smoke_data, seeds=[0, 1, 2], quiet=True)
    return run.model, run.theta


def test_set_study_reports_the_worst_point_of_each_segment(three_solutions, smoke_data):
    model, theta = three_solutions
    cfg = config.resolve("smoke", connector_steps=3, n_samples=30)
    st = sets.set_study(cfg, model, smoke_data, theta, ["connector (segments)"])
    seg = st["evals"]["connector (segments)"]
    assert set(st["evals"]) == {"naive hull", "connector (segments)"} and seg["segment_max"].shape == (3,)
    assert float(seg["segment_max"].max()) == float(seg["max"])  # the structure's worst is on some segment
    w = sets.structure_weights("segments", 3, 30, seed=cfg.seed)
    on = w[:, :3].argmax(1) == 1
    assert float(seg["segment_max"][1]) == float(seg["loss"][on].max())
    assert torch.allclose(st["solutions_loss"], params.evaluate(model, theta, smoke_data.x_train,
                                                                smoke_data.y_train)[0])
    rows = sets.mean_worst_rows([st, None], st)
    assert set(rows) == {f"{s}: {n}" for s in ("set 1", "larger set") for n in st["evals"]}
    assert "not measured" in sets.describe([st, None], st)[1]
