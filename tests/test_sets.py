import math

import pytest
import torch
from scipy import stats

from wedges_lib import align, config, connect, params, sets, train, verdicts
from wedges_lib.studies import ch05_sets as sx


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


# --- volumes and the worst point of every segment --------------------------------------------------------------

def test_squared_volume_matches_cayley_menger_and_known_volumes():
    g = torch.Generator().manual_seed(0)
    for m in (1, 2, 3):
        v = torch.randn(m + 1, 7, generator=g, dtype=torch.float64)
        d2 = torch.cdist(v, v) ** 2  # Cayley-Menger: det [[0, 1], [1, D²]] = (-1)^(m+1) 2^m (m!)² V²
        cm = torch.ones(m + 2, m + 2, dtype=torch.float64)
        cm[0, 0], cm[1:, 1:] = 0, d2
        v2 = (-1) ** (m + 1) * torch.linalg.det(cm) / (2 ** m * math.factorial(m) ** 2)
        assert float(sets.squared_volume(v)) == pytest.approx(float(v2), rel=1e-8)
    cube = torch.eye(4, 5, dtype=torch.float64)  # the regular tetrahedron conv{e_1..e_4} in R^5, edges √2
    assert float(sets.squared_volume(cube)) == pytest.approx(4 / 36, rel=1e-10)  # V = sqrt(4) / 3!
    flat = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])  # collinear: no area
    assert float(sets.squared_volume(flat)) == pytest.approx(0.0, abs=1e-6)
    verts = torch.tensor([[0.0, 0, 0], [0, 0, 1], [2, 0, 0], [0, 3, 0]])  # complex over 2 solutions, 2 extras
    vol = sets.structure_volume(verts, "complex", 2)
    assert float(vol) == pytest.approx(3.0 + 3.5, rel=1e-6)  # legs 2 and 3; |(2, 0, -1) x (0, 3, -1)| / 2


def test_structure_edges_are_the_edges_of_its_simplices():
    assert sets.structure_edges("segments", 3) == [(0, 3), (1, 3), (2, 3)]
    assert sorted(sets.structure_edges("simplices", 3)) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert len(sets.structure_edges("complex", 3, 2)) == 3 * 2 + 1  # θ_i - e_a, and e_1 - e_2 once
    assert len(sets.structure_edges("simplex", 3, 2)) == 10


def test_segment_profile_finds_the_known_worst_point_of_each_segment():
    c = torch.tensor([0.3, 0.5])
    f = lambda th: 1 - ((th - c) ** 2).sum(-1)  # noqa: E731  a bump: highest where a segment passes nearest c
    verts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    prof = sets.segment_profile(f, None, None, verts, [(0, 1), (1, 2), (0, 2)], 11)
    assert prof["loss"].shape == (3, 11) and torch.allclose(prof["t"], torch.linspace(0, 1, 11))
    # nearest points: (0.3, 0) at t = 0.3; (1, 0.5) at t = 0.5; on the diagonal (0.4, 0.4) at t = 0.4
    assert torch.allclose(prof["max"], torch.tensor([1 - 0.25, 1 - 0.49, 1 - 0.02]), atol=1e-6)
    assert torch.allclose(prof["argmax_t"], torch.tensor([0.3, 0.5, 0.4]), atol=1e-6)
    assert torch.allclose(prof["loss"][:, 0], f(verts[[0, 1, 0]]))  # t = 0 is the edge's first vertex
    with pytest.raises(ValueError, match="edges"):
        sets.segment_profile(f, None, None, verts, [(0, 3)], 11)


def test_segment_profile_of_a_network_reports_the_lowest_accuracy(three_solutions, smoke_data):
    model, theta = three_solutions
    x, y = smoke_data.x_train, smoke_data.y_train
    prof = sets.segment_profile(model, x, y, theta, sets.structure_edges("hull", 3), 5)
    loss, acc = params.evaluate(model, theta, x, y)
    assert torch.allclose(prof["loss"][:, 0], loss[[0, 0, 1]]) and torch.allclose(prof["acc"][:, -1], acc[[1, 2, 2]])
    assert torch.equal(prof["acc_min"], prof["acc"].amin(1)) and torch.equal(prof["max"], prof["loss"].amax(1))
    assert bool((prof["max"] > loss.max()).all())  # independent solutions: a barrier on every straight edge


def test_volume_regulariser_enlarges_the_complex_at_little_cost(three_solutions, smoke_data):
    model, theta = three_solutions
    fits = {lam: sets.train_simplex(model, smoke_data, theta, n_extra=2, steps=60, lr=0.3, volume_reg=lam,
                                    quiet=True) for lam in (0.0, 0.1)}
    vol = {lam: float(sets.structure_volume(r.vertices, "complex", 3)) for lam, r in fits.items()}
    assert vol[0.1] > 2 * vol[0.0]
    assert fits[0.1].settings["volume_reg"] == 0.1
    with pytest.raises(ValueError, match="volume_reg"):
        sets.train_simplex(model, smoke_data, theta, volume_reg=-1.0)


# --- chapter 05's sets, statistics and verdicts (studies.ch05_sets) ---------------------------------------------

def test_set_groups_are_disjoint_triples_and_a_larger_set_through_the_first():
    triples, larger = sx.set_groups(3, 5)
    flat = [i for t in triples for i in t]
    assert len(set(flat)) == 9 and larger[:3] == triples[0] and set(larger[3:]).isdisjoint(flat)
    assert max(larger) == 3 * 3 + 5 - 3 - 1  # exactly the networks chapter 05 trains
    assert sx.set_groups(2, 3) == ([[0, 1, 2], [3, 4, 5]], [0, 1, 2])


def _ev(mean, worst):
    return {"mean": torch.tensor(mean), "max": torch.tensor(worst), "acc": torch.tensor([0.5])}


def _edges(worst, acc_min):
    return {"max": torch.tensor(worst), "acc_min": torch.tensor(acc_min), "loss": torch.tensor(worst)[:, None]}


def _fake_set(sol, hull_mean, hull_max, seg_max, *, seg_acc=(0.9, 0.9, 0.9), ahull=(0.5, 0.6), vols=(10.0, 1.0)):
    evals = {"naive hull": _ev(hull_mean, hull_max), "aligned hull": _ev(*ahull),
             "jointly aligned hull": _ev(0.25, 0.3),
             "connector (segments)": _ev(0.3, max(seg_max)), "complex (Benton et al.)": _ev(0.3, 0.4)}
    edges = {"naive hull": _edges([1.0, 2.0, 1.5], [0.3, 0.2, 0.4]), "aligned hull": _edges([0.3, 0.4, 0.5],
                                                                                            [0.8, 0.9, 0.9]),
             "jointly aligned hull": _edges([0.25, 0.35, 0.3], [0.9, 0.9, 0.9]),
             "connector (segments)": _edges(seg_max, list(seg_acc))}
    return {"solutions_loss": torch.tensor(sol), "solutions_acc": torch.tensor([0.95, 0.95, 0.95]), "evals": evals,
            "edges": edges, "fitted": {}, "volumes": {"complex (Benton et al.)": vols[0],
                                                      "complex, no volume term": vols[1]}}


def test_set_statistics_use_the_worst_point_of_every_segment():
    st = _fake_set([0.1, 0.2, 0.3], hull_mean=1.2, hull_max=2.2, seg_max=[0.3, 0.6, 0.4], seg_acc=(0.9, 0.85, 0.9))
    s = sx.statistics({"studies": [st, None]})
    assert s["sets_hull_height"][0] == pytest.approx(1.0) and s["sets_hull_ratio"][0] == pytest.approx(5.0)
    assert s["sets_connector_loss"][0] == pytest.approx((0.6 - 0.2) / (2.0 - 0.2))  # worst straight edge: 2.0
    assert s["sets_connector_acc"][0] == pytest.approx((0.95 - 0.85) / (0.95 - 0.2))
    assert s["sets_complex_low"][0] == pytest.approx((0.4 - 0.2) / (2.2 - 0.2))
    assert s["sets_complex_volume"][0] == pytest.approx(10.0)
    assert s["sets_aligned_mean"][0] == pytest.approx(0.3 / 1.0)
    assert s["sets_aligned_worst"][0] == pytest.approx(0.4 / 2.0)
    assert s["sets_aligned_edges"][0] == pytest.approx(0.3 / 1.8)
    assert s["sets_joint_worst"][0] == pytest.approx(0.1 / 2.0)
    assert s["sets_beyond_connector"][0] == pytest.approx((0.6 - 0.2) / (0.35 - 0.2))  # over the joint hull's edge
    assert all(math.isnan(v[1]) for v in s.values())


def _judge(studies):
    """Chapter 05's declared checks judged on fake sets, and the protocol's groups combined from them."""
    from wedges_lib import protocol

    v = sx.judge(protocol.declare("05_connecting_many_solutions"), sx.statistics({"studies": studies}), "smoke")
    groups = protocol.section("05_connecting_many_solutions")["groups"]
    return v | {g: verdicts.combine(g, [v[p] for p in parts]) for g, parts in groups.items()}


def test_set_verdicts_and_the_one_larger_set_sentence():
    low = [_fake_set([0.1, 0.2, 0.3], 1.2 + 0.1 * i, 2.2, [0.3, 0.25 + 0.01 * i, 0.3]) for i in range(3)]
    v = _judge(low)
    assert v["sets_hull"].state == v["sets_connector"].state == v["sets_complex"].state == "reproduced"
    assert v["sets_aligned_mean"].state == "reproduced"  # the mean drops, the worst points do not:
    assert v["sets_aligned"].state in ("not reproduced", "contradicted")  # the least favourable part
    assert v["sets_beyond_connector"].state == "reproduced"  # its segments beat the jointly aligned hull's edges
    high = [_fake_set([0.1, 0.2, 0.3], 1.2, 2.2, [0.3, 1.9 + 0.01 * i, 0.3]) for i in range(3)]
    v = _judge(high)  # low on average, not at its worst
    assert v["sets_connector_loss"].state in ("not reproduced", "contradicted")
    num = {"sets_k": 5, "sets_segk_worst_fraction": 0.5}
    assert "not below the declared 0.2" in sx.big_set_sentence(num, 0.2)
    assert "could not be measured" in sx.big_set_sentence({**num, "sets_segk_worst_fraction": math.nan}, 0.2)


@pytest.fixture(scope="module")
def three_solutions(smoke_data):
    cfg = config.resolve("smoke", steps=60)
    run = train.train_config(cfg, smoke_data, seeds=[0, 1, 2], quiet=True)
    return run.model, run.theta


def test_set_study_scans_every_edge_and_aligns_to_the_first(three_solutions, smoke_data):
    model, theta = three_solutions
    cfg = config.resolve("smoke", structure_steps=3, n_eval=30, n_interp=5)
    names = ["connector (segments)", "complex (Benton et al.)"]
    st = sx.set_study(cfg, model, smoke_data, theta, names)
    assert set(st["evals"]) == set(st["edges"]) == {"naive hull", "aligned hull", "jointly aligned hull", *names}
    seg = st["edges"]["connector (segments)"]
    assert seg["max"].shape == (3,) and seg["loss"].shape == (3, 5)
    assert torch.allclose(seg["loss"][:, 0], st["solutions_loss"])  # each segment starts at its solution
    assert torch.equal(st["aligned"][0], theta[0])  # the reference stays itself ...
    x, y = smoke_data.x_train, smoke_data.y_train
    assert torch.allclose(params.evaluate(model, st["aligned"], x, y)[0], st["solutions_loss"], atol=1e-5)  # same fn
    assert torch.allclose(st["aligned"], align.align_all(model, theta[0], theta, seed=cfg.seed))
    assert torch.allclose(params.evaluate(model, st["joint"], x, y)[0], st["solutions_loss"], atol=1e-5)
    assert torch.equal(st["joint"], align.merge_many(model, theta, seed=cfg.seed))  # no member is the reference
    assert set(st["volumes"]) == {"complex (Benton et al.)"} and st["volumes"]["complex (Benton et al.)"] > 0
    rows = sx.segment_rows([st, None])
    assert len(rows) == 3 + 3 + 3 + 3 + 7 and rows[0]["structure"] == "naive hull" and rows[0]["edge"] == "θ1 – θ2"
    assert any(r["edge"] == "θ1 – π(θ2)" for r in rows) and all(r["sets"] == 1 for r in rows)
    assert any(r["edge"] == "σ(θ1) – σ(θ2)" for r in rows)
    mw = sx.mean_worst_rows([st, None], edges=True)
    assert len(mw) == len(rows) and all(m <= w for m, w in mw.values()) and "aligned: θ1 – π(θ2)" in mw
    assert set(sx.mean_worst_rows([st])) == set(st["evals"])
    assert "not measured" in sx.describe([st, None], st)[1]
    html = sx.explorer([st, None], cfg.seed, cfg.n_eval).data  # one frame per hull, worst point as evaluated
    assert html.count('"label": ') == 3 and "aligned jointly" in html
    num = sx.set_numbers([st, None], st, 3)
    assert num["sets_seg3_edge_worst"] == f"{float(seg['max'].max()):.3g}"  # one set: no interval


def test_segment_profile_of_a_network_equals_the_points_evaluated_one_by_one(three_solutions, smoke_data):
    """The affine path (first layer from the vertices' products) against params.evaluate at the grid's points."""
    model, theta = three_solutions
    x, y = smoke_data.x_train, smoke_data.y_train
    noise = torch.randn(2, theta.shape[1], generator=torch.Generator().manual_seed(0))
    extra = theta.mean(0, keepdim=True) + 0.1 * noise
    verts, edges = torch.cat([theta, extra]), sets.structure_edges("complex", 3, 2)
    prof = sets.segment_profile(model, x, y, verts, edges, 7)
    a, b = (verts[[e[c] for e in edges]] for c in (0, 1))
    t = torch.linspace(0, 1, 7)
    pts = (a[:, None] + t[None, :, None] * (b - a)[:, None]).reshape(-1, verts.shape[1])
    loss, acc = params.evaluate(model, pts, x, y, chunk=64)
    torch.testing.assert_close(prof["loss"], loss.view(len(edges), 7), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(prof["acc"], acc.view(len(edges), 7), rtol=0, atol=1.01 / len(y))


def test_evaluate_structure_from_weights_equals_the_sampled_points(three_solutions, smoke_data):
    """Points given as (weights, vertices) (the affine path) against the same points (n, D) evaluated directly."""
    model, theta = three_solutions
    x, y = smoke_data.x_train, smoke_data.y_train
    direct = sets.evaluate_structure(model, x, y, lambda n, s: sets.hull_points(theta, n, s), 48, 5, chunk=64)
    weighted = sets.evaluate_structure(model, x, y, lambda n, s: (sets.structure_weights("hull", 3, n, seed=s), theta),
                                       48, 5)
    torch.testing.assert_close(weighted["loss"], direct["loss"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(weighted["acc"], direct["acc"], rtol=0, atol=1.01 / len(y))
    assert int(weighted["worst"]) == int(direct["worst"])
    f = lambda th: ((th - theta[0]) ** 2).sum(-1)  # noqa: E731  a batched loss: the same points, the same values
    hull = lambda n, s: (sets.structure_weights("hull", 3, n, seed=s), theta)  # noqa: E731
    toy = sets.evaluate_structure(f, None, None, hull, 48, 5)
    torch.testing.assert_close(toy["loss"], f(sets.hull_points(theta, 48, 5)))
    with pytest.raises(ValueError, match="points_fn"):
        sets.evaluate_structure(model, x, y, lambda n, s: (theta, theta), 4)
