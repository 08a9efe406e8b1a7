import math

import pytest
import torch

from wedges_lib import config, data, diversity, ensembles, optimize, params, protocol, train, verdicts
from wedges_lib.studies import ch06_ensembles as ensemble_claims


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


def test_member_predictions_are_their_softmaxes(net, smoke_data):
    model, thetas = net
    x = smoke_data.x_test[:50]
    one_by_one = torch.stack([params.forward(model, th, x).softmax(-1) for th in thetas])
    assert torch.allclose(diversity.predict(model, thetas, x), one_by_one, atol=1e-6)
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
        assert ens.path.shape[0] == 1 and ens.path.shape[-1] == D and ens.lr == pytest.approx(cfg.lr)
    assert torch.allclose(ens.swa[:, -1], ens.members.mean(1), atol=1e-5)
    # SWA's members are its recorded path every cycle; deep's path ends at its members, one run per member
    per = (ens.path.shape[1] - 1) // K
    assert torch.equal(ens.members[0].cpu(), ens.path[0, per::per])
    assert deep.path.shape[:1] == (K,) and torch.equal(deep.path[:, -1], deep.members[0].cpu())


@pytest.mark.parametrize("method", ensembles.SWEPT)
def test_a_swept_method_stacks_its_rates_as_the_runs_one_rate_at_a_time(cfg, smoke_data, method):
    """Several fractions train as one vmapped stack, each member at its rate: exactly one call per fraction."""
    cfg = config.Config({**cfg, "fge_cycle_epochs": 1})  # Garipov cycles of 8 steps: 8 lows in the budget
    start = ensembles.deep_ensemble(cfg, smoke_data, quiet=True).members[:, 0]
    swept = ensembles.build(method, cfg, smoke_data, pretrained=start, lr_fraction=(0.2, 1.0), quiet=True)
    assert list(swept) == [0.2, 1.0]
    for f, e in swept.items():
        alone = ensembles.build(method, cfg, smoke_data, pretrained=start, lr_fraction=f, quiet=True)
        assert e.lr == alone.lr and e.grad_steps == alone.grad_steps
        for key in ("members", "origins", "swa", "diverged", "path", "member_steps"):
            a, b = getattr(e, key), getattr(alone, key)
            assert (a is None and b is None) or torch.equal(a, b), f"{method} at {f}: {key}"


def test_summary_shapes_and_trajectory_members_closer_to_the_common_reference(cfg, smoke_data):
    deep = ensembles.deep_ensemble(cfg, smoke_data, quiet=True)
    ref = deep.members[:, 0]
    fge = ensembles.fge(cfg, smoke_data, pretrained=ref, lr_fraction=0.2, quiet=True)
    s_deep, s_fge = (ensembles.summarize(e, smoke_data, n_interp=5, reference=ref) for e in (deep, fge))
    assert s_deep["acc"].shape == s_deep["member_nll"].shape == (cfg.n_seeds, cfg.n_members)
    assert s_deep["distance"].shape == s_deep["centroid"].shape == s_deep["ref_cosine"].shape == (cfg.n_seeds,)
    assert (s_deep["centroid"] - s_deep["worst"] > 0).all()  # the centroid of independent members: higher
    assert (s_fge["ref_distance"] < 0.5 * s_deep["ref_distance"]).all()
    assert (s_fge["barrier"] < s_deep["barrier"]).all()
    # deep member 0 is the reference itself: left out, so the mean runs over members 1..K-1
    others = (deep.members[0, 1:] - ref[0]).norm(dim=1).mean()
    assert s_deep["ref_distance"][0].item() == pytest.approx(others.item(), rel=1e-5)
    assert fge.lr == pytest.approx(0.2 * cfg.lr)


def test_displacements_from_a_common_reference_exact():
    model = torch.nn.Linear(2, 3)
    D = sum(p.numel() for p in model.parameters())
    ref, d = torch.randn(D), torch.randn(D)
    e = torch.randn(D)
    e -= (e @ d) / (d @ d) * d  # orthogonal to d
    members = torch.stack([ref, ref + d, ref + 2 * d, ref + e])  # member 0 coincides with the reference
    x = torch.randn(20, 2)
    probs = diversity.predict(model, members, x)
    out = ensembles._from_reference(model, members, ref, probs, x)
    dist = torch.stack([d.norm(), 2 * d.norm(), e.norm()]).mean()
    assert out["ref_distance"].item() == pytest.approx(dist.item(), rel=1e-5)
    assert out["ref_cosine"].item() == pytest.approx(1 / 3, abs=1e-5)  # pairs (d, 2d), (d, e), (2d, e)
    labels = probs.argmax(-1)
    expected = (labels[1:] != labels[0]).float().mean()
    assert out["ref_disagreement"].item() == pytest.approx(expected.item())


@pytest.mark.parametrize("call, match", [
    (lambda c, d: ensembles.build("bagging", c, d), "'method'.*deep, snapshot, fge, garipov, swa"),
    (lambda c, d: ensembles.garipov_cycle(config.resolve("smoke", fge_cycle_epochs=30), d), "'fge_cycle_epochs'"),
    (lambda c, d: data.validation_split(d, 0.0), "'val_fraction'"),
    (lambda c, d: ensembles.fge(c, d, pretrained=torch.zeros(3)), "'pretrained'"),
    (lambda c, d: ensembles.fge(config.resolve("smoke", n_members=1, steps=1), d), "'cycle_steps'"),
    (lambda c, d: config.resolve("smoke", lr_fractions=(0.5, -1.0)), "'lr_fractions'"),
    (lambda c, d: ensembles.build_all(config.Config({**c, "lr_fractions": (1.0, 0.5)}), d), "'lr_fractions'"),
    (lambda c, d: diversity.ece(torch.ones(2, 2) / 2, torch.zeros(2, dtype=torch.long), n_bins=0), "'n_bins'"),
])
def test_bad_arguments_raise_naming_the_parameter(cfg, smoke_data, call, match):
    with pytest.raises(ValueError, match=match):
        call(cfg, smoke_data)


def test_chapter_06_sets_its_budget_in_the_base_knobs_and_a_run_overrides_them():
    cell = {"scale": "smoke", "n_members": None, "steps": None, "n_seeds": None, "seed": None, "width": None}
    cfg = config.resolve_cell(cell, "06_ensembles")
    assert (cfg.steps, cfg.n_seeds, cfg.seed, cfg.width) == (150, 3, 760, 0.25)  # the chapter's, not the base's
    assert config.resolve_cell(cell, None).seed == config.PRESETS["smoke"]["seed"]
    b = config.resolve_cell({**cell, "seed": 11, "steps": 7}, "06_ensembles")  # -p seed 11 -p steps 7
    assert (b.steps, b.seed) == (7, 11)
    assert ensembles.repetition_seeds(b) == [11, 11 + b.n_members, 11 + 2 * b.n_members]


def test_final_means_and_gains():
    stats = {"acc": torch.tensor([[0.5, 0.7], [0.6, 0.9]]), "member_acc": torch.tensor([[0.5, 0.6], [0.6, 0.7]]),
             "nll": torch.tensor([[1.0, 0.8], [1.0, 0.6]]), "member_nll": torch.tensor([[1.0, 1.0], [1.0, 1.2]]),
             "barrier": torch.tensor([0.2, float("nan")])}
    m = ensemble_claims.final_means(stats)
    assert m["acc"] == pytest.approx(0.8) and m["barrier"] == pytest.approx(0.2)  # NaN: not measured
    assert m["gain_acc"] == pytest.approx(0.8 - 0.6) and m["gain_nll"] == pytest.approx((0.2 + 0.5) / 2)


def test_tuned_rate_has_the_lowest_validation_nll_and_select_flattens():
    nll = lambda *v: torch.tensor(v)  # noqa: E731
    val = {"fge": {0.2: nll(1.0, 1.2), 0.5: nll(0.9, float("nan")), 1.0: nll(1.0, 1.0)},
           "swa": {0.2: nll(float("nan"), float("nan")), 1.0: nll(3.0, 3.0)}}
    assert ensemble_claims.tuned(val) == {"fge": 0.5, "swa": 1.0}  # NaN repetitions ignored; all-NaN never wins
    ens = {"deep": "D", "fge": {0.2: "a", 1.0: "b"}}
    assert ensemble_claims.select(ens, {"fge": 1.0}) == {"deep": "D", "fge": "b"}


def test_centroid_loss_and_the_first_repetition_views(net, smoke_data):
    model, thetas = net
    x, y = smoke_data.x_train, smoke_data.y_train
    worst, centroid = ensembles.centroid_loss(model, thetas, x, y)
    each = params.evaluate(model, thetas, x, y)[0]
    assert worst == pytest.approx(each.max().item(), rel=1e-5)
    assert centroid == pytest.approx(params.evaluate(model, thetas.mean(0), x, y)[0].item(), rel=1e-5)
    ens = ensembles.Ensemble("deep", model, thetas[None], thetas[None], 0)
    plane = ensemble_claims.plane_view(ens, smoke_data, n=4)
    assert plane["loss"].shape == (4, 4) and plane["points"].shape == (3, 2)
    ens.diverged[0, 1] = True  # a diverged run: no plane through its frozen member, and no error
    assert ensemble_claims.plane_view(ens, smoke_data, n=4) is None


def _fake(disagreement, barrier, centroid, worst, R=3, distance=1.0, gain=0.1):
    """An ensemble's summary with the given per-repetition values (constant over repetitions unless lists);
    its members' accuracy 0.5, the ensemble's 0.5 + gain; members' NLL 1, the ensemble's 1 − gain."""
    t = lambda v: torch.tensor(v if isinstance(v, list) else [v] * R, dtype=torch.float)  # noqa: E731
    per = lambda v: t(v)[:, None].expand(-1, 2).clone()  # noqa: E731
    return dict(disagreement=t(disagreement), barrier=t(barrier), centroid=t(centroid), worst=t(worst),
                ref_distance=t(distance), member_acc=per(0.5), acc=per(0.5) + per(gain), member_nll=per(1.0),
                nll=per(1.0) - per(gain))


def _ens(R=3, K=3):
    return {m: ensembles.Ensemble(m, None, torch.zeros(R, K, 1), torch.zeros(R, K, 1), 0) for m in ensembles.METHODS}


def test_claim_values_are_per_repetition_and_nan_where_a_run_diverged():
    stats = {"deep": _fake([0.4, 0.5, 0.6], [1.0, 2.0, 4.0], 2.0, 0.5)}
    stats |= {m: _fake([0.1, 0.1, 0.3], [0.1, 0.1, 0.1], 0.4, 0.5) for m in ensembles.TRAJECTORY_METHODS}
    ens = _ens()
    ens["swa"].diverged[2, 1] = True
    ens["deep"].diverged[1, 0] = True
    v = ensemble_claims.claim_values(stats, ens)
    traj = ensembles.TRAJECTORY_METHODS
    assert set(v) == {"ens_distinct"} | {f"ens_{g}_{m}" for g in ("slice", "barrier") for m in ensembles.METHODS} \
        | {f"ens_{g}_{m}" for g in ("diversity", "weight", "gain_acc", "gain_nll") for m in traj}
    assert v["ens_diversity_fge"] == pytest.approx([0.25, math.nan, 0.5], nan_ok=True)  # deep rep 1 diverged
    assert v["ens_barrier_snapshot"] == pytest.approx([0.1, math.nan, 0.025], nan_ok=True)
    assert v["ens_slice_swa"] == pytest.approx([-0.1, -0.1, math.nan], nan_ok=True)  # its own rep 2 only
    assert v["ens_slice_deep"] == pytest.approx([1.5, math.nan, 1.5], nan_ok=True)
    assert v["ens_distinct"] == pytest.approx([0.1, math.nan, math.nan], nan_ok=True)
    assert v["ens_gain_acc_fge"] == pytest.approx([0.0, math.nan, 0.0], nan_ok=True)  # equal gains


def test_gain_and_weight_claims_follow_their_definitions():
    deep = _fake(0.4, 1.0, 2.0, 0.5, distance=20.0, gain=[0.05, 0.052, 0.048])  # clear after Holm over 6 parts
    fge = _fake(0.1, 0.0, 0.4, 0.5, distance=[2.0, 4.0, 5.0], gain=0.01)
    stats = {"deep": deep} | dict.fromkeys(ensembles.TRAJECTORY_METHODS, fge)
    v = ensemble_claims.claim_values(stats, _ens())
    assert v["ens_weight_fge"] == pytest.approx([0.1, 0.2, 0.25])
    assert v["ens_gain_acc_swa"] == pytest.approx([0.04, 0.042, 0.038], abs=1e-6)
    assert v["ens_gain_nll_snapshot"] == pytest.approx([0.04, 0.042, 0.038], abs=1e-6)
    verdict = _judge(v)
    assert verdict["ens_gain"].state == verdict["ens_weight"].state == "reproduced"
    # the ordering reversed: the trajectory gains more than deep
    stats["fge"] = _fake(0.1, 0.0, 0.4, 0.5, distance=2.0, gain=0.2)
    verdict = _judge(ensemble_claims.claim_values(stats, _ens()))
    assert verdict["ens_gain_acc_fge"].state == verdict["ens_gain_nll_fge"].state == "contradicted"
    assert verdict["ens_gain"].state == "contradicted"  # the least favourable part, not "partly"
    assert ensemble_claims.outcome_sentence([verdict["ens_gain_acc_fge"]], "ens_gain") == \
        "The opposite, clear of the noise, for snapshot-style FGE (accuracy)."


GROUPS = protocol.section("06_ensembles")["groups"]


def _claims():
    """Chapter 06's declared checks, less the aligned ones (these tests pass no aligned members)."""
    return {n: c for n, c in protocol.declare("06_ensembles").items() if not n.endswith("_aligned")}


def _judge(values):
    """The checks judged, and the protocol's groups combined from them."""
    out = ensemble_claims.judge(_claims(), values, "smoke", GROUPS)
    return out | {g: verdicts.combine(g, [out[p] for p in parts]) for g, parts in GROUPS.items()}


def test_judge_all_follows_the_declared_thresholds_and_never_raises():
    deep = _fake([0.40, 0.42, 0.44], [1.0, 1.1, 1.2], [2.0, 2.1, 2.2], 0.5, distance=20.0, gain=[0.2, 0.21, 0.19])
    one_wedge = {m: _fake([0.1, 0.12, 0.11], [0.0, 0.01, 0.0], [0.40, 0.41, 0.42], 0.5, distance=[2.0, 3.0, 2.5])
                 for m in ensembles.TRAJECTORY_METHODS}
    v = _judge(ensemble_claims.claim_values({"deep": deep} | one_wedge, _ens()))
    assert {g: v[g].state for g in GROUPS} == dict.fromkeys(GROUPS, "reproduced")
    # the phenomenon removed: FGE members as diverse as independent ones, far apart across a barrier
    hopped = one_wedge | {"fge": _fake([0.45, 0.40, 0.47], [1.0, 1.2, 1.1], [2.0, 2.2, 2.1], 0.5)}
    v = _judge(ensemble_claims.claim_values({"deep": deep} | hopped, _ens()))
    failed = ("not reproduced", "contradicted")
    assert all(v[f"ens_{k}_fge"].state in failed for k in ("diversity", "slice", "barrier")), v
    assert v["ens_diversity"].state in failed and v["ens_diversity_swa"].state == "reproduced"
    # every run of SWA diverged: not measured, not reproduced, no exception
    ens = _ens()
    ens["swa"].diverged[:] = True
    v = _judge(ensemble_claims.claim_values({"deep": deep} | one_wedge, ens))
    assert v["ens_slice_swa"].n == 0 and v["ens_slice_swa"].state == "not reproduced"
    assert "not measured (runs diverged) for SWA iterates" in ensemble_claims.outcome_sentence(
        [v[f"ens_slice_{m}"] for m in ensembles.METHODS], "ens_slice")


def test_a_diverging_method_is_marked_not_raised(cfg, smoke_data):
    deep = ensembles.deep_ensemble(cfg, smoke_data, quiet=True)
    assert not deep.diverged.any() and deep.diverged.shape == (cfg.n_seeds, cfg.n_members)
    with pytest.warns(UserWarning, match="diverged"):
        swa = ensembles.swa(cfg, smoke_data, pretrained=deep.members[:, 0], lr_fraction=500.0, quiet=True)
        fge = ensembles.fge(cfg, smoke_data, pretrained=deep.members[:, 0], lr_fraction=500.0, quiet=True)
    for e in (swa, fge):
        assert e.members.shape == deep.members.shape and e.diverged.all(1).any()
    stats = ensembles.summarize(swa, smoke_data, n_interp=3)
    assert stats["centroid"].shape == stats["distance"].shape == (cfg.n_seeds,)


def test_shared_log_levels_span_every_surface():
    from wedges_lib import plots

    levels = plots.shared_log_levels([torch.tensor([[0.1, 1.0]]), torch.tensor([[1e-6, 100.0]])], n=5)
    assert levels.tolist() == pytest.approx([-4.0, -2.5, -1.0, 0.5, 2.0])  # clipped below at 1e-4


def test_aligned_deep_undoes_a_permutation_of_the_reference(net, smoke_data):
    from wedges_lib import align

    model, thetas = net
    theta = thetas[0]
    copy = align.permute(model, theta, align.random_perms(model, seed=3))
    assert (copy - theta).norm() > 1.0  # a different point, the same function
    deep = ensembles.Ensemble("deep", model, torch.stack([theta, copy, thetas[1]])[None], thetas[None], 0)
    out = ensemble_claims.aligned_deep(deep, smoke_data, n_interp=5)
    plain = (thetas[1] - theta).norm().item()
    assert out["ref_distance"].shape == out["barrier"].shape == (1,)
    assert out["ref_distance"][0].item() == pytest.approx(align.weight_matching(model, theta, thetas[1]).sub(
        theta).norm().item() / 2, rel=1e-4)  # the copy aligns back onto the reference: distance 0
    assert out["ref_distance"][0].item() < plain / 2 + 1e-3


def test_draw_figures_take_the_summaries(cfg, smoke_data):
    from wedges_lib import plots

    stats = {m: dict(acc=torch.rand(2, 3), nll=torch.rand(2, 3)) for m in ("deep", "fge")}
    stats["swa"] = dict(acc=torch.rand(2, 3), nll=torch.rand(2, 3), swa_acc=torch.rand(2, 3))
    ens = {m: ensembles.Ensemble(m, None, torch.zeros(2, 3, 1), torch.zeros(2, 3, 1), 0,
                                 member_steps=torch.tensor([100, 200, 300])) for m in stats}
    fig, ax = plots.figure(2)
    ensemble_claims.draw_gains(ax[0], stats, ens)
    assert len(ax[0, 0].lines) == 4 and ax[0, 1].get_ylabel() == "test NLL (nats)"
    assert ax[0, 0].lines[0].get_xdata().tolist() == [0.1, 0.2, 0.3]  # against compute, in thousands of steps


def test_accuracy_plane_places_the_reference_at_zero_disagreement(net, smoke_data):
    model, thetas = net
    deep = ensembles.Ensemble("deep", model, thetas[None], thetas[None], 0, path=thetas[:, None].expand(3, 2, -1))
    fge = ensembles.Ensemble("fge", model, thetas[None, [0, 0]], thetas[None, [0, 0]], 0)
    plane = ensemble_claims.accuracy_plane({"deep": deep, "fge": {0.5: fge}}, smoke_data, thetas[0])
    acc0 = diversity.accuracy(diversity.predict(model, thetas[:1], smoke_data.x_test)[0], smoke_data.y_test)
    assert plane["ref"] == pytest.approx(acc0.item())
    assert plane["deep"]["members"][0].tolist() == pytest.approx([0.0, acc0.item()])
    assert plane["deep"]["paths"].shape == (3, 2, 2) and plane["fge@0.5"]["paths"] is None
    assert (plane["deep"]["members"][1:, 0] > 0).all()  # other initialisations predict differently


def test_a_function_schedule_scales_the_rate_at_every_step():
    f = ensembles.triangular(6, 0.25)
    run = optimize.minimize(torch.zeros(1, 1), lambda p, idx: p.sum(1), lr=0.5, momentum=0.0, steps=9,
                            schedule=f, quiet=True)  # gradient 1: each step moves p by lr * f(step)
    assert run.p.item() == pytest.approx(-0.5 * sum(f(s) for s in range(9)))
    assert [f(s) for s in (0, 3, 6)] == pytest.approx([1.0, 0.25, 1.0])  # peak, the low point, peak again


def test_garipov_fge_collects_the_cycle_lows_within_the_budget(cfg, smoke_data):
    cfg = config.Config({**cfg, "fge_cycle_epochs": 1})  # cycles of 8 steps: 8 lows in the budget of 60 steps
    deep = ensembles.deep_ensemble(cfg, smoke_data, quiet=True)
    c, M = ensembles.garipov_cycle(cfg, smoke_data)
    per_epoch = len(smoke_data.y_train) // cfg.batch_size
    assert c % 2 == 0 and c >= cfg.fge_cycle_epochs * per_epoch and M > 1
    assert (M - 1) * c + c // 2 <= (cfg.n_members - 1) * cfg.steps < M * c + c // 2  # as many lows as fit
    g = ensembles.garipov_fge(cfg, smoke_data, pretrained=deep.members[:, 0], lr_fraction=0.5, quiet=True)
    assert g.members.shape == (cfg.n_seeds, M, deep.members.shape[-1]) and g.grad_steps <= deep.grad_steps
    assert g.member_steps.tolist() == [cfg.steps + c // 2 + j * c for j in range(M)]
    assert torch.equal(g.members[0].cpu(), g.path[0, 1::2])  # the path's rows at c/2, 3c/2, ...: the lows
    # the same run by hand: the triangular rate from deep member 0, the first low after c/2 steps
    model, _ = train.init(cfg, smoke_data, ensembles.repetition_seeds(cfg))
    by_hand = train.train(model, smoke_data, deep.members[:, 0], seeds=[s * 1000 + 1 for s in
                          ensembles.repetition_seeds(cfg)], lr=0.5 * cfg.lr, momentum=cfg.momentum,
                          schedule=ensembles.triangular(c, cfg.fge_low), steps=c // 2, quiet=True)
    assert torch.allclose(by_hand.theta, g.members[:, 0], atol=1e-5)
    s = ensembles.summarize(g, smoke_data, n_interp=3, barrier_members=3)
    assert s["barrier"].shape == (cfg.n_seeds,) and s["acc"].shape == (cfg.n_seeds, M)


def test_the_validation_split_holds_out_training_examples_only(smoke_data):
    fit, tuning = data.validation_split(smoke_data, 0.1, seed=3)
    n = len(smoke_data.y_train)
    assert len(fit.y_train) == n - round(0.1 * n) and torch.equal(fit.x_test, smoke_data.x_test)
    assert torch.equal(tuning.x_train, fit.x_train) and len(tuning.y_test) == round(0.1 * n)
    rows = {tuple(r.tolist()) for r in smoke_data.x_train}
    assert all(tuple(r.tolist()) in rows for r in tuning.x_test)  # held-out examples come from training
    again, _ = data.validation_split(smoke_data, 0.1, seed=3)
    assert torch.equal(again.x_train, fit.x_train)  # the seed fixes the split


def test_rate_verdicts_judge_every_rate_and_mark_the_tuned_one(tmp_path, monkeypatch):
    import json

    from wedges_lib import results

    monkeypatch.setenv(results.RUN_DIR_ENV, str(tmp_path))  # records go to its metrics.json
    deep = _fake([0.40, 0.42, 0.44], [1.0, 1.1, 1.2], [2.0, 2.1, 2.2], 0.5, distance=20.0, gain=[0.2, 0.21, 0.19])
    near = _fake([0.1, 0.12, 0.11], [0.0, 0.01, 0.0], [0.40, 0.41, 0.42], 0.5, distance=[2.0, 3.0, 2.5])
    far = _fake([0.60, 0.62, 0.61], [0.0, 0.01, 0.0], [0.40, 0.41, 0.42], 0.5, distance=[2.0, 3.0, 2.5])
    ens = _ens()
    raw = {"stats": {"deep": deep, "snapshot": near}, "ens": {m: ens[m] for m in ("deep", "snapshot")},
           "sweep": {m: {0.2: near, 1.0: far} for m in ensembles.SWEPT},
           "tuned": {m: 0.2 for m in ensembles.SWEPT}}
    raw["ens"] |= {m: {0.2: ens[m], 1.0: ens[m]} for m in ensembles.SWEPT}
    tables = ensemble_claims.rate_verdicts(protocol.declare("06_ensembles"), raw, "smoke", 0.05)
    rec = json.loads((tmp_path / "metrics.json").read_text())
    assert [t.index.name for t in tables] == [ensembles.LABELS[m] for m in ensembles.SWEPT]
    assert list(tables[0].columns) == ["0.2 × lr = 0.01 ★", "1 × lr = 0.05"] and tables[0].shape[0] == 6
    assert tables[1].iloc[0, 0].startswith("✔") and tables[1].iloc[0, 1].startswith("✖")  # diversity 0.27, 1.45
    assert rec["ens_diversity_garipov_r1_verdict"] == "contradicted"
    assert "Garipov FGE, disagreement ÷ deep's: ✔ at 0.2 × lr; ✖ at 1 × lr" in rec["ens_rates_sentence"]
