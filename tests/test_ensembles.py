import math

import pytest
import torch

from wedges_lib import config, diversity, ensembles, params, train


@pytest.fixture(scope="module")
def cfg():
    return config.resolve("smoke", steps=30, n_seeds=2)


@pytest.fixture(scope="module")
def net(cfg, smoke_data):
    model, thetas = train.init(cfg, smoke_data, [0, 1, 2])
    return model, thetas


def _probs(K, N, C, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(K, N, C, generator=g).mul(2).softmax(-1)


def test_ensemble_prediction_is_mean_of_member_softmaxes(net, smoke_data):
    model, thetas = net
    x = smoke_data.x_test[:50]
    one_by_one = torch.stack([params.forward(model, th, x).softmax(-1) for th in thetas])
    assert torch.allclose(diversity.predict(model, thetas, x), one_by_one, atol=1e-6)
    assert torch.allclose(diversity.ensemble_predict(model, thetas, x), one_by_one.mean(0), atol=1e-6)
    assert diversity.predict(model, thetas[None], x).shape == (1, 3, 50, 10)


def test_ensemble_curve_first_member_is_that_member():
    probs, y = _probs(4, 200, 5), torch.randint(0, 5, (200,), generator=torch.Generator().manual_seed(1))
    curve = diversity.ensemble_curve(probs, y)
    assert curve["acc"][0] == diversity.accuracy(probs[0], y)
    assert torch.isclose(curve["nll"][-1], diversity.nll(probs.mean(0), y))
    assert torch.isclose(curve["nll"][0], torch.nn.functional.nll_loss(probs[0].log(), y))


def test_identical_members_have_zero_diversity():
    p = _probs(1, 300, 10).expand(3, -1, -1)
    assert torch.equal(diversity.disagreement(p), torch.zeros(3, 3))
    assert torch.allclose(diversity.js_matrix(p), torch.zeros(3, 3), atol=1e-6)
    assert torch.allclose(diversity.kl_matrix(p), torch.zeros(3, 3), atol=1e-6)
    assert torch.allclose(diversity.prediction_cosine(p), torch.ones(3, 3))


def test_disagreement_counts_different_argmaxes():
    p = torch.eye(3)[torch.tensor([[0, 1, 2, 0], [0, 1, 1, 1]])]  # (2, 4, 3) one-hot
    assert diversity.disagreement(p)[0, 1] == 0.5


def test_js_is_symmetric_bounded_and_exact_for_disjoint_supports():
    p = _probs(4, 100, 6)
    js = diversity.js_matrix(p)
    assert torch.allclose(js, js.T, atol=1e-6) and (js <= math.log(2)).all() and (js.diagonal() < 1e-6).all()
    assert (js[~torch.eye(4, dtype=torch.bool)] > 1e-3).all()
    disjoint = torch.eye(2)[:, None, :].expand(2, 5, 2)  # member 0 says class 0, member 1 class 1
    assert torch.allclose(diversity.js_matrix(disjoint)[0, 1], torch.tensor(math.log(2)), atol=1e-5)


def test_kl_matches_torch():
    p = _probs(2, 50, 4)
    ref = torch.nn.functional.kl_div(p[1].log(), p[0], reduction="batchmean")  # KL(p0 || p1)
    assert torch.isclose(diversity.kl_matrix(p)[0, 1], ref, atol=1e-5)


def test_ece_zero_when_calibrated_large_when_overconfident():
    g = torch.Generator().manual_seed(0)
    n, C = 200_000, 4
    conf = 0.25 + 0.75 * torch.rand(n, generator=g)  # confidence of the predicted class 0
    probs = torch.stack([conf, *(((1 - conf) / (C - 1)),) * (C - 1)], dim=1)
    right = torch.rand(n, generator=g) < conf  # correct exactly with probability conf
    y = torch.where(right, 0, 1 + torch.randint(0, C - 1, (n,), generator=g))
    assert diversity.ece(probs, y) < 0.01
    overconfident = torch.tensor([0.99, 0.01 / 3, 0.01 / 3, 0.01 / 3]).expand(n, C)
    assert abs(diversity.ece(overconfident, y) - (0.99 - right.float().mean())) < 1e-3  # one bin: conf − acc


def test_weight_cosine_of_displacements():
    origin = torch.randn(100)
    d = torch.randn(100)
    members = torch.stack([origin + d, origin + 3 * d, origin - d])
    cos = diversity.weight_cosine(members, origin)
    assert torch.allclose(cos, torch.tensor([[1.0, 1, -1], [1, 1, -1], [-1, -1, 1]]), atol=1e-6)
    assert diversity.offdiag_mean(cos).item() == pytest.approx(-1 / 3, abs=1e-6)


def test_swa_of_one_member_is_that_member_and_average_is_mean():
    members = torch.randn(2, 4, 50)
    avg = ensembles.swa_average(members)
    assert torch.equal(avg[:, 0], members[:, 0])
    assert torch.allclose(avg[:, 2], members[:, :3].mean(1), atol=1e-6)


def test_linear_barrier_zero_for_identical_and_positive_between_solutions(cfg, smoke_data):
    r = train.train_config(cfg, smoke_data, seeds=[0, 1], steps=100, quiet=True)
    x, y = smoke_data.x_train, smoke_data.y_train
    same = ensembles.linear_barriers(r.model, r.theta[[0, 0]], x, y, n_interp=5)
    assert torch.allclose(same, torch.zeros(2, 2), atol=1e-5)
    b = ensembles.linear_barriers(r.model, r.theta, x, y, n_interp=11)
    assert b[0, 1] == b[1, 0] and b[0, 1] > 0.1  # independent solutions: a barrier on the straight line


def test_methods_spend_equal_compute_and_return_members(cfg, smoke_data):
    deep = ensembles.deep_ensemble(cfg, smoke_data, quiet=True)
    K, R, D = cfg.n_members, cfg.n_seeds, deep.members.shape[-1]
    assert deep.members.shape == deep.origins.shape == (R, K, D)
    # deep member 0 of each repetition is the same run FGE / SWA pretrain, and snapshot's first cycle
    _, theta0 = train.init(cfg, smoke_data, ensembles.repetition_seeds(cfg))
    assert torch.equal(deep.origins[:, 0], theta0)
    for method in ("snapshot", "fge", "swa"):
        kw = {} if method == "snapshot" else dict(pretrained=deep.members[:, 0])
        ens = ensembles.build(method, cfg, smoke_data, quiet=True, **kw)
        assert ens.members.shape == (R, K, D) and torch.isfinite(ens.members).all()
        assert torch.equal(ens.origins[:, 1], theta0)  # trajectory members share their run's init
        assert abs(ens.grad_steps - deep.grad_steps) < K, f"{method} spent {ens.grad_steps} steps"
    assert torch.allclose(ens.swa[:, -1], ens.members.mean(1), atol=1e-5)


def test_summary_shapes_and_trajectory_members_closer_in_weights(cfg, smoke_data):
    deep = ensembles.deep_ensemble(cfg, smoke_data, quiet=True)
    fge = ensembles.fge(cfg, smoke_data, pretrained=deep.members[:, 0], quiet=True)
    s_deep, s_fge = (ensembles.summarize(e, smoke_data, n_interp=5) for e in (deep, fge))
    assert s_deep["acc"].shape == (cfg.n_seeds, cfg.n_members) and s_deep["disagreement"].shape == (cfg.n_seeds,)
    assert s_deep["distance"].shape == s_deep["centroid"].shape == s_deep["worst"].shape == (cfg.n_seeds,)
    assert (s_deep["centroid"] - s_deep["worst"] > 0).all()  # the centroid of independent members: higher
    assert (s_fge["weight_cosine"] > s_deep["weight_cosine"] + 0.3).all()
    assert (s_fge["barrier"] < s_deep["barrier"]).all()


@pytest.mark.parametrize("call, match", [
    (lambda c, d: ensembles.build("bagging", c, d), "'method'.*deep, snapshot, fge, swa"),
    (lambda c, d: ensembles.fge(c, d, pretrained=torch.zeros(3)), "'pretrained'"),
    (lambda c, d: ensembles.fge(config.resolve("smoke", n_members=1, steps=1), d), "'cycle_steps'"),
    (lambda c, d: config.resolve("smoke", fge_lr=-1.0), "'fge_lr'"),
    (lambda c, d: diversity.ece(torch.ones(2, 2) / 2, torch.zeros(2, dtype=torch.long), n_bins=0), "'n_bins'"),
])
def test_bad_arguments_raise_naming_the_parameter(cfg, smoke_data, call, match):
    with pytest.raises(ValueError, match=match):
        call(cfg, smoke_data)


def test_budgeted_puts_the_chapter_budget_in_the_training_knobs():
    cfg = config.resolve_cell({"scale": "smoke", "n_members": None, "ensemble_steps": 7, "ensemble_seeds": 3,
                               "ensemble_seed": 11})
    b = ensembles.budgeted(cfg, min_members=3)
    assert (b.steps, b.n_seeds, b.seed, b.n_members, b.ensemble_steps) == (7, 3, 11, cfg.n_members, 7)
    assert ensembles.repetition_seeds(b) == [11, 11 + b.n_members, 11 + 2 * b.n_members]
    with pytest.raises(ValueError, match="'n_members'.*>= 4"):
        ensembles.budgeted(cfg, min_members=4)


def test_final_means_and_gain():
    stats = {"acc": torch.tensor([[0.5, 0.7], [0.6, 0.9]]), "member_acc": torch.tensor([[0.5, 0.6], [0.6, 0.7]]),
             "barrier": torch.tensor([0.2, 0.4])}
    m = ensembles.final_means(stats)
    assert m["acc"] == pytest.approx(0.8) and m["barrier"] == pytest.approx(0.3)
    assert m["gain"] == pytest.approx(0.8 - 0.6)


def test_centroid_loss_and_the_first_repetition_views(net, smoke_data):
    model, thetas = net
    x, y = smoke_data.x_train, smoke_data.y_train
    worst, centroid = ensembles.centroid_loss(model, thetas, x, y)
    each = params.evaluate(model, thetas, x, y)[0]
    assert worst == pytest.approx(each.max().item(), rel=1e-5)
    assert centroid == pytest.approx(params.evaluate(model, thetas.mean(0), x, y)[0].item(), rel=1e-5)
    ens = ensembles.Ensemble("deep", model, thetas[None], thetas[None], 0)
    pair = ensembles.pair_view(ens, smoke_data, n_interp=5)
    assert pair["disagreement"].shape == (3, 3) and pair["line"].shape == (5,)
    assert pair["line"][0].item() == pytest.approx(each[0].item(), rel=1e-5)  # t = 0: the first member
    assert pair["line"][-1].item() == pytest.approx(each[-1].item(), rel=1e-5)
    plane = ensembles.plane_view(ens, smoke_data, n=4)
    assert plane["loss"].shape == (4, 4) and plane["points"].shape == (3, 2)
    ens.diverged[0, 1] = True  # a diverged run: no plane through its frozen member, and no error
    assert ensembles.plane_view(ens, smoke_data, n=4) is None


def _fake(disagreement, barrier, centroid, worst, R=3):
    """An ensemble's summary with the given per-repetition values (constant over repetitions unless lists)."""
    t = lambda v: torch.tensor(v if isinstance(v, list) else [v] * R, dtype=torch.float)  # noqa: E731
    return dict(disagreement=t(disagreement), barrier=t(barrier), centroid=t(centroid), worst=t(worst))


def _ens(R=3, K=3):
    return {m: ensembles.Ensemble(m, None, torch.zeros(R, K, 1), torch.zeros(R, K, 1), 0) for m in ensembles.METHODS}


def test_claim_values_are_per_repetition_and_nan_where_a_run_diverged():
    stats = {"deep": _fake([0.4, 0.5, 0.6], [1.0, 2.0, 4.0], 2.0, 0.5)}
    stats |= {m: _fake([0.1, 0.1, 0.3], [0.1, 0.1, 0.1], 0.4, 0.5) for m in ensembles.TRAJECTORY_METHODS}
    ens = _ens()
    ens["swa"].diverged[2, 1] = True
    ens["deep"].diverged[1, 0] = True
    v = ensembles.claim_values(stats, ens)
    assert set(v) == {"ens_distinct"} | {f"ens_{g}_{m}" for g in ("slice", "barrier") for m in ensembles.METHODS} \
        | {f"ens_diversity_{m}" for m in ensembles.TRAJECTORY_METHODS}
    assert v["ens_diversity_fge"] == pytest.approx([0.25, math.nan, 0.5], nan_ok=True)  # deep rep 1 diverged
    assert v["ens_barrier_snapshot"] == pytest.approx([0.1, math.nan, 0.025], nan_ok=True)
    assert v["ens_slice_swa"] == pytest.approx([-0.1, -0.1, math.nan], nan_ok=True)  # its own rep 2 only
    assert v["ens_slice_deep"] == pytest.approx([1.5, math.nan, 1.5], nan_ok=True)
    assert v["ens_distinct"] == pytest.approx([0.1, math.nan, math.nan], nan_ok=True)


def _claims():
    from wedges_lib.verdicts import Claim
    traj = ensembles.TRAJECTORY_METHODS
    return {c.name: c for c in (
        Claim("ens_distinct", "h", "s", ">", 0.005),
        *(Claim(f"ens_diversity_{m}", "h", "s", "<", 1 / 1.2) for m in traj),
        Claim("ens_slice_deep", "h", "s", ">", 0.3), *(Claim(f"ens_slice_{m}", "h", "s", "<", 0.1) for m in traj),
        Claim("ens_barrier_deep", "h", "s", ">", 0.05),
        *(Claim(f"ens_barrier_{m}", "h", "s", "<", 0.5) for m in traj))}


def test_judge_all_follows_the_declared_thresholds_and_never_raises():
    deep = _fake([0.40, 0.42, 0.44], [1.0, 1.1, 1.2], [2.0, 2.1, 2.2], 0.5)
    one_wedge = {m: _fake([0.1, 0.12, 0.11], [0.0, 0.01, 0.0], [0.40, 0.41, 0.42], 0.5)
                 for m in ensembles.TRAJECTORY_METHODS}
    v = ensembles.judge_all(_claims(), ensembles.claim_values({"deep": deep} | one_wedge, _ens()), "smoke")
    assert {g: v[g].state for g in ensembles.GROUPS} == dict.fromkeys(ensembles.GROUPS, "reproduced")
    # the phenomenon removed: FGE members as diverse as independent ones, far apart across a barrier
    hopped = one_wedge | {"fge": _fake([0.45, 0.40, 0.47], [1.0, 1.2, 1.1], [2.0, 2.2, 2.1], 0.5)}
    v = ensembles.judge_all(_claims(), ensembles.claim_values({"deep": deep} | hopped, _ens()), "smoke")
    assert v["ens_diversity_fge"].state == v["ens_slice_fge"].state == v["ens_barrier_fge"].state == "not reproduced"
    assert v["ens_diversity"].state == "partly reproduced" and v["ens_diversity_swa"].state == "reproduced"
    # every run of SWA diverged: not measured, not reproduced, no exception
    ens = _ens()
    ens["swa"].diverged[:] = True
    v = ensembles.judge_all(_claims(), ensembles.claim_values({"deep": deep} | one_wedge, ens), "smoke")
    assert v["ens_slice_swa"].n == 0 and v["ens_slice_swa"].state == "not reproduced"
    assert "not measured (runs diverged) for SWA iterates" in ensembles.outcome_sentence(
        [v[f"ens_slice_{m}"] for m in ensembles.METHODS])


def test_a_diverging_method_is_marked_not_raised(cfg, smoke_data):
    hot = config.Config({**cfg, "swa_lr": 50.0, "fge_lr": 50.0})
    deep = ensembles.deep_ensemble(cfg, smoke_data, quiet=True)
    assert not deep.diverged.any() and deep.diverged.shape == (cfg.n_seeds, cfg.n_members)
    with pytest.warns(UserWarning, match="diverged"):
        swa = ensembles.swa(hot, smoke_data, pretrained=deep.members[:, 0], quiet=True)
        fge = ensembles.fge(hot, smoke_data, pretrained=deep.members[:, 0], quiet=True)
    for e in (swa, fge):
        assert e.members.shape == deep.members.shape and e.diverged.all(1).any()
    stats = ensembles.summarize(swa, smoke_data, n_interp=3)
    assert stats["centroid"].shape == stats["distance"].shape == (cfg.n_seeds,)


def test_shared_log_levels_span_every_surface():
    from wedges_lib import plots

    levels = plots.shared_log_levels([torch.tensor([[0.1, 1.0]]), torch.tensor([[1e-6, 100.0]])], n=5)
    assert levels.tolist() == pytest.approx([-4.0, -2.5, -1.0, 0.5, 2.0])  # clipped below at 1e-4
