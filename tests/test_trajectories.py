"""wedges_lib.studies.ch03_hyperparameters: curvature along a trajectory against a dense Hessian, matched-loss
interpolation against hand-computed answers, one cached study whose shared settings train once, curvature measured
exactly where the matched values read it, and divergence kept visible through a sweep."""

import math

import matplotlib
import pytest
import torch
from torch.func import hessian

from wedges_lib import config, landscape, models, params, plots, protocol, train
from wedges_lib.studies import ch03_hyperparameters as tj

matplotlib.use("Agg")


def test_at_loss_interpolates_linearly_in_log_loss():
    loss = torch.tensor([4.0, 2.0, 1.0, 0.5])
    vals = torch.tensor([0.0, 10.0, 20.0, 30.0])
    got = tj.at_loss(loss, vals, [5.0, 2.0, math.sqrt(2.0), 0.5, 0.25])
    assert torch.allclose(got[:4], torch.tensor([0.0, 10.0, 15.0, 30.0], dtype=torch.float64))
    assert math.isnan(got[4])  # never reached


def test_at_loss_takes_the_first_crossing_per_member():
    loss = torch.tensor([[4.0, 4.0], [1.0, 3.0], [2.0, 2.0], [0.5, 1.0]])  # member 0 dips, rises, dips
    vals = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    got = tj.at_loss(loss, vals, [1.0])
    assert got.shape == (1, 2)
    assert got[0, 0] == 1.0 and got[0, 1] == 3.0


def test_at_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="values"):
        tj.at_loss(torch.ones(4), torch.ones(3), [1.0])


@pytest.fixture(scope="module")
def tiny():
    """A ~300-parameter MLP, 64 examples, and a (T=2, K=2, D) trajectory."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 40, generator=gen), torch.randint(0, 10, (64,), generator=gen)
    model = models.make("mlp", (40,), 10, width=0.02, seed=0)
    starts = torch.stack([params.flatten(models.make("mlp", (40,), 10, width=0.02, seed=s)) for s in (0, 1)])
    traj = torch.stack([starts, 3 * starts])
    return model, x, y, traj


def test_curvature_along_matches_the_dense_hessian(tiny):
    model, x, y, traj = tiny
    f = params.loss_fn(model, x, y)
    out = tj.curvature_along(model, x, y, traj, n_probes=64, tol=1e-6)
    assert out["lmax"].shape == (2, 2)
    for t in range(2):
        for k in range(2):
            H = hessian(f)(traj[t, k]).double()
            exact_top, exact_trace = float(torch.linalg.eigvalsh(H)[-1]), float(H.trace())
            assert out["lmax"][t, k] == pytest.approx(exact_top, rel=1e-4)
            assert abs(out["trace"][t, k] - exact_trace) < 4 * out["trace_se"][t, k]
            assert out["loss"][t, k] == pytest.approx(float(f(traj[t, k])), rel=1e-6)
    assert torch.allclose(out["radius"], traj.norm(dim=-1).double())


def test_curvature_along_skips_invalid_and_non_finite_points(tiny):
    model, x, y, traj = tiny
    traj = traj.clone()
    traj[1, 0, 0] = math.nan
    valid = torch.tensor([[True, False], [True, True]])
    out = tj.curvature_along(model, x, y, traj, n_probes=2, valid=valid)
    nan = out["lmax"].isnan()
    assert nan.tolist() == [[False, True], [True, False]]
    assert out["trace"].isnan().equal(nan) and out["loss"].isnan().equal(nan)
    one = tj.curvature_along(model, x, y, traj[:, 1], n_probes=2)  # a single run: (T, D) -> (T,)
    assert one["lmax"].shape == (2,) and one["lmax"][1] == out["lmax"][1, 1] and not one["lmax"].isnan().any()


def _run(loss, diverged=(False,), diverged_step=(-1,), **extra):
    loss = torch.as_tensor(loss, dtype=torch.float64)
    T, K = loss.shape
    base = dict(step=torch.arange(T) * 10, loss=loss, radius=torch.ones(T, K), lmax=torch.ones(T, K),
                trace=torch.ones(T, K), trace_se=torch.zeros(T, K), rise=torch.ones(T, K, 3),
                diverged=torch.tensor(diverged),
                diverged_step=torch.tensor(diverged_step), lr=0.1, width=1.0, l2=0.0, D=10)
    return {**base, **extra}


def test_member_status_and_common_loss():
    run = _run([[2.3, 2.3, 2.3], [1.0, 2.29, math.nan], [0.5, 2.28, math.nan]],
               diverged=(False, False, True), diverged_step=(-1, -1, 12))
    assert tj.member_status(run) == ["trained", "stuck", "diverged"]
    other = _run([[2.3], [0.8]])
    assert tj.common_loss([run, other]) == 0.8  # only trained members count
    none = [_run([[2.3], [2.3]])]  # stuck: nothing to compare, and nothing raises
    assert math.isnan(tj.common_loss(none)) and tj.loss_band(none, n=3).isnan().all()


def test_matched_reads_every_quantity_at_the_target_loss():
    run = _run([[2.0, 2.0], [1.0, 0.5]], radius=torch.tensor([[1.0, 1.0], [3.0, 5.0]]),
               lmax=torch.tensor([[4.0, 4.0], [2.0, 8.0]]))
    m = tj.matched([run], 1.0)
    assert m["radius"].tolist() == [[3.0, 3.0]]  # member 1 crosses 1.0 half way in log loss
    assert m["lmax"].tolist() == [[2.0, 6.0]]
    assert m["step"].tolist() == [[10.0, 5.0]]


def test_run_setting_keeps_divergence_visible(smoke_data):
    cfg = config.resolve("smoke", n_seeds=2, steps=20, record_every=10, hp_examples=32, hp_probes=2)
    bad = tj.run_setting(cfg, smoke_data, lr=30.0, width=cfg.width, l2=0.0)
    assert bad["diverged"].all() and tj.member_status(bad) == ["diverged", "diverged"]
    assert bad["loss"][1:].isnan().all() and not bad["loss"][0].isnan().any()
    assert bad["lmax"].isnan().all()  # nothing measured until the band is known
    good = tj.run_setting(cfg, smoke_data, lr=0.1, width=cfg.width, l2=0.0)
    assert good["loss"].shape == good["lmax"].shape == (3, 2) and good["step"].tolist() == [0, 10, 20]
    assert "_trajectory" not in good  # kept only when asked
    assert tj.member_status(good) == ["trained", "trained"] and tj.trained(good).all()
    band = tj.loss_band([good, bad])
    good = {**good, "lmax": torch.full((3, 2), 5.0)}
    raw = {"sweeps": {"lr": [good, bad]}, "band": band, "late": {"lr": band}, "rhos": cfg.hp_rhos, "steps": 20}
    stats = {"matched": {b: {"lr": tj.matched([good, bad], band)} for b in ("early", "late")}}
    table = tj.summary(raw, stats).data  # a Styler: the book's formatting, no index
    assert table["members"][0] == "2 trained" and table["members"][1].startswith("2 diverged (step ")
    assert table["final loss"][1] == "diverged"  # not NaN
    assert table["λ_max (early)"][0] == "5 [5, 5]" and table["λ_max (late)"][1] == "diverged"
    assert table["λ_max·lr/2 (early)"][0] == "0.25 [0.25, 0.25]"  # the edge-of-stability ratio, lr 0.1
    fig, ax = matplotlib.pyplot.subplots(1, 2)
    paths = tj.knob_paths([good, bad], "lr", band)
    assert [p["all_trained"] for p in paths] == [True, False] and paths[1]["lmax"] is None
    assert paths[0]["lmax"].tolist() == [5.0] * len(band) and paths[0]["loss"] is band
    plots.draw_knob(ax[0], ax[1], paths, band)
    labels = ax[1].get_legend_handles_labels()[1]
    assert "diverged" in labels and any("lr 30" in s and "diverged" in s for s in labels)
    assert len(ax[0].get_lines()) == 1  # λ_max only for the run that trained


def test_study_trains_a_shared_setting_once_and_is_one_cached_computation(smoke_data, monkeypatch):
    calls = []

    def fake(cfg, data, quiet=True, keep=False, **setting):
        calls.append(tuple(setting[k] for k in tj.KNOBS))
        final = 0.5 if setting["width"] == 0.5 else 0.2  # the wide run reaches the least: it sets the band
        return {**_run([[2.0], [1.0], [final]], **setting), "_model": None, "_trajectory": None}

    measured = []

    def measure(cfg, data, run, bands, quiet=True):
        measured.append(((run["lr"], run["width"], run["l2"]), len(bands)))
        run.pop("_model"), run.pop("_trajectory")
        return run

    monkeypatch.setattr(tj, "run_setting", fake)
    monkeypatch.setattr(tj, "add_band_curvature", measure)
    knobs = dict(seed=12345, lr=0.1, width=0.25, l2=0.0, lrs=(0.05, 0.1), widths=(0.25, 0.5),
                 l2s=(0.0,))  # a key no other test caches
    cfg = config.resolve("smoke", **knobs)
    res = tj.run(cfg, smoke_data)
    assert calls == [(0.05, 0.25, 0.0), (0.1, 0.25, 0.0), (0.1, 0.5, 0.0)]  # the base once, for three sweeps
    # each run measured at the early band and the late band of each sweep that holds it, never another's
    assert measured == [((0.05, 0.25, 0.0), 2), ((0.1, 0.25, 0.0), 4), ((0.1, 0.5, 0.0), 2)]
    sw = res["sweeps"]
    assert [r["lr"] for r in sw["lr"]] == [0.05, 0.1] and [r["width"] for r in sw["width"]] == [0.25, 0.5]
    assert [(r["lr"], r["width"]) for r in sw["l2"]] == [(0.1, 0.25)]
    assert res["band"][0] == pytest.approx(0.5)  # one band for all sweeps, set by the run that got least far
    assert all("_trajectory" not in r for runs in sw.values() for r in runs)  # dropped before caching
    tj.run(cfg, smoke_data)
    assert len(calls) == 3  # loaded from the cache
    tj.run(config.resolve("smoke", **{**knobs, "lrs": (0.05,)}), smoke_data)  # another band: recomputed
    assert len(calls) == 6


def test_bracketing_marks_the_records_at_loss_interpolates_between():
    loss = torch.tensor([[4.0, 4.0], [2.0, 3.0], [1.0, 2.0], [0.5, 1.0]])
    got = tj.bracketing(loss, [1.5])
    assert got.tolist() == [[False, False], [True, False], [True, True], [False, True]]
    assert tj.bracketing(loss, [3.0, 1.5])[:, 0].tolist() == [True, True, True, False]  # targets pooled
    assert tj.bracketing(loss, [5.0])[:, 0].tolist() == [True, False, False, False]  # reached at the start
    assert not tj.bracketing(loss, [0.1]).any()  # never reached


def test_band_curvature_is_measured_exactly_where_matched_reads_it(smoke_data):
    over = dict(n_seeds=2, steps=60, record_every=10, hp_examples=32, hp_probes=2)
    cfg = config.resolve("smoke", **over)
    run = tj.run_setting(cfg, smoke_data, lr=0.1, width=cfg.width, l2=0.0, keep=True)
    model, traj = run["_model"], run["_trajectory"].clone()
    assert traj.shape[:2] == (7, 2) and run["lmax"].isnan().all()
    band = tj.loss_band([run], n=3)
    tj.add_band_curvature(cfg, smoke_data, run, [band])
    assert "_trajectory" not in run and "_model" not in run
    measured = ~run["lmax"].isnan()
    at_init = torch.zeros(7, 2, dtype=torch.bool)
    at_init[0] = True  # each member's own reference
    assert measured.equal(tj.bracketing(run["loss"], band) | at_init) and measured.sum() < measured.numel()
    assert (~run["rise"].isnan()).equal(measured[..., None].expand_as(run["rise"]))
    m = tj.matched([run], band)
    assert not m["lmax"].isnan().any() and not m["trace"].isnan().any()
    t, k = [int(i) for i in measured.nonzero()[0]]  # a point measured for the band
    only = torch.zeros(7, 2, dtype=torch.bool)
    only[t, k] = True
    x, y = smoke_data.x_train[:32], smoke_data.y_train[:32]
    direct = tj.curvature_along(model, x, y, traj, n_probes=2, seed=cfg.seed, valid=only, rhos=cfg.hp_rhos,
                                n_directions=cfg.hp_directions)
    assert direct["lmax"][t, k] == run["lmax"][t, k] and direct["trace"][t, k] == run["trace"][t, k]
    assert direct["rise"][t, k].equal(run["rise"][t, k])
    along = tj.along_band(run, band)
    assert along.shape == (3, 2) and torch.allclose(along.mean(0), m["lmax"][0])


def test_a_start_shared_by_two_settings_gives_the_values_it_would_measure(smoke_data):
    cfg = config.resolve("smoke", n_seeds=2, steps=60, record_every=20, hp_examples=32, hp_probes=2)
    first, reused = (tj.run_setting(cfg, smoke_data, lr=lr, width=cfg.width, l2=0.0, keep=True) for lr in (0.1, 0.2))
    fresh = {**reused, **{q: reused[q].clone() for q in tj.MEASURED}}
    start = first["_trajectory"][0]
    assert start.equal(reused["_trajectory"][0])  # same width, same seeds: the same initial parameters
    tj.add_band_curvature(cfg, smoke_data, first, [])  # the start only
    tj._reuse_start(reused, start, (start, {q: first[q][0] for q in tj.MEASURED}))
    assert not reused["lmax"][0].isnan().any() and fresh["lmax"][0].isnan().all()
    tj.add_band_curvature(cfg, smoke_data, reused, [])  # nothing left to measure
    tj.add_band_curvature(cfg, smoke_data, fresh, [])
    for q in tj.MEASURED:
        torch.testing.assert_close(reused[q], fresh[q], rtol=0, atol=0, equal_nan=True)
    other = {**fresh, "lmax": torch.full_like(fresh["lmax"], math.nan)}
    tj._reuse_start(other, start + 1, (start, {q: first[q][0] for q in tj.MEASURED}))  # another start: kept
    assert other["lmax"].isnan().all()


def test_loss_band_spans_common_loss_to_its_geometric_mean_with_the_start():
    runs = [_run([[2.5, 2.5], [0.1, 0.05]]), _run([[2.5], [0.02]])]
    band = tj.loss_band(runs, n=3)
    assert torch.allclose(band, torch.tensor([0.1, math.sqrt(0.05), 0.5], dtype=torch.float64))
    low = [_run([[2.5], [0.213]])]  # 10 ** log10(0.213) rounds below 0.213: the band starts at it exactly
    assert tj.loss_band(low, n=3)[0] == 0.213 and not tj.matched(low, tj.loss_band(low, n=3))["lmax"].isnan().any()


def test_knob_effect_direction_and_factor():
    x = torch.tensor([[1.0, 1.2, 0.8], [2.0, 2.1, 1.9], [3.0, 3.3, 2.7], [math.nan, math.nan, 5.0]])
    assert tj.compared(x) == (0, 3)  # the last setting with any measured member
    eff = tj.knob_effect(x)  # seeds 0, 1 not measured at the last setting
    assert eff[:2].isnan().all() and eff[2].item() == pytest.approx(math.log(5.0 / 0.8))
    up = tj.knob_effect(x[:3])
    assert up.tolist() == pytest.approx([math.log(3.0), math.log(3.3 / 1.2), math.log(2.7 / 0.8)])
    assert tj.direction(up) == "rises" and tj.direction(-up) == "falls"
    assert tj.direction(torch.tensor([0.1, -0.1, 0.05])) == "shows no clear change"
    assert tj.direction(torch.full((3,), math.nan)) == "shows no clear change"
    assert tj.factor(torch.tensor([math.log(2.0)] * 3)) == "×2 [2, 2]" and tj.factor(eff[:2]) == "not measured"
    assert tj.compared(x[:1]) is None and tj.knob_effect(x[:1]).isnan().all()
    assert tj.knob_effect(torch.tensor([[1.0], [-1.0]])).isnan().all()  # no log of a negative value


# the knobs a sweep setting reads, and nothing else: what chapter 03 declares (besides lrs, widths, l2s)
SETTING_KNOBS = ("seed", "n_seeds", "model", "device", "optimizer", "momentum", "batch_size", "lr", "width",
                 "l2", "steps", "record_every", "hp_examples", "hp_probes", "hp_rhos", "hp_directions", "schedule")


def test_run_setting_reads_only_its_knobs_and_matches_train_config(smoke_data):
    over = dict(n_seeds=2, steps=20, record_every=10, hp_examples=32, hp_probes=2)
    cfg = config.resolve_cell({**dict.fromkeys(SETTING_KNOBS), "scale": "smoke", **over})
    run = tj.run_setting(cfg, smoke_data, lr=0.2, width=0.5, l2=0.01)  # no steps, schedule... in cfg
    full = config.resolve("smoke", **over, lr=0.2, width=0.5, l2=0.01)
    seeds = [cfg.seed, cfg.seed + 1]
    ref = train.train_config(full, smoke_data, seeds=seeds, steps=20, record_every=10, schedule="constant",
                             quiet=True)
    assert torch.equal(run["radius"], ref.history["radius"].double())
    assert run["lr"] == 0.2 and run["width"] == 0.5 and run["l2"] == 0.01
    with pytest.raises(ValueError, match="'lr'"):
        tj.run_setting(cfg, smoke_data, lr=-1.0, width=0.5, l2=0.0)


def test_study_key_holds_the_knobs_it_reads(smoke_data, monkeypatch):
    """A knob the study does not read (toy_D) loads from the cache; another hp_probes retrains."""
    calls = []
    real = train.train_config
    monkeypatch.setattr(train, "train_config", lambda *a, **k: calls.append(1) or real(*a, **k))
    knobs = dict(n_seeds=1, steps=60, record_every=10, hp_examples=16, hp_probes=2, seed=4321,
                 lrs=(0.15,), widths=(0.25,), l2s=(0.0,), lr=0.1, width=0.25, l2=0.0)
    res = tj.run(config.resolve("smoke", **knobs), smoke_data)  # settings no other test trains
    assert len(calls) == 2  # lr 0.15, and the base shared by the width and L2 sweeps
    assert not res["band"].isnan().any()  # both trained, so the curvature (and hp_probes) was read
    tj.run(config.resolve("smoke", **knobs, toy_D=999), smoke_data)
    assert len(calls) == 2
    tj.run(config.resolve("smoke", **{**knobs, "hp_probes": 3}), smoke_data)
    assert len(calls) == 4


def test_loss_rise_is_the_batched_loss_at_distances_along_random_directions(tiny):
    model, x, y, traj = tiny
    f = params.loss_fn(model, x, y)
    out = tj.curvature_along(model, x, y, traj[:, 0], n_probes=2, rhos=(0.1, 0.3), n_directions=3, seed=5)
    assert out["rise"].shape == (2, 2)
    for t in range(2):  # the same directions (seed + t) evaluated one point at a time
        theta = traj[t, 0]
        far = landscape.loss_at_distances(lambda th: torch.stack([f(p) for p in th]), theta, [0.1, 0.3], n=3,
                                          seed=5 + t)
        want = (far.double().mean(1) - float(f(theta))).tolist()
        assert out["rise"][t].tolist() == pytest.approx(want, abs=1e-6)  # float32 losses, differenced


def _sweeps(width_to: float) -> dict:
    """Three sweeps whose λ_max, Tr(H) and rise sit at c after initialisation (1 there): loss 2.5 → 0.6 → 0.1."""
    def run(c, **knob):
        v = torch.tensor([[1.0, 1.0], [c, c], [c, c]], dtype=torch.float64)
        setting = {"lr": 0.1, "width": 1.0, "l2": 0.0, **knob}
        return _run([[2.5, 2.5], [0.6, 0.6], [0.1, 0.1]], diverged=(False, False), diverged_step=(-1, -1),
                    lmax=v, trace=v.clone(), rise=v[..., None].repeat(1, 1, 3), radius=v.clone(), **setting)
    base = run(4.0)
    sweeps = {"lr": [base, run(2.0, lr=0.2)], "width": [base, run(width_to, width=2.0)],
              "l2": [base, run(2.0, l2=0.01)]}
    band = tj.loss_band(sweeps["lr"] + sweeps["width"])
    return {"sweeps": sweeps, "band": band, "late": {k: tj.late_band(r) for k, r in sweeps.items()},
            "rhos": (0.03, 0.1, 0.3), "steps": 100}


def test_alike_is_the_weakest_effect_in_the_shared_direction_and_every_check_is_computed():
    raw = _sweeps(width_to=1.0)  # every knob lowers the curvature: 4 -> 2, 4 -> 1, 4 -> 2
    stats = tj.statistics(raw)
    for b in ("early", "late"):
        e = stats["effects"][b]
        assert e["width"]["lmax_rel"].tolist() == pytest.approx([math.log(0.25)] * 2)
        assert e["lr"]["eos"].tolist() == pytest.approx([math.log(2.0 * 0.2 / (4.0 * 0.1))] * 2)  # λ lr / 2
        assert stats["alike"][b]["lmax_rel"].tolist() == pytest.approx([math.log(2.0)] * 2)  # the weakest knob
    mixed = tj.statistics(_sweeps(width_to=8.0))  # width raises it: the knobs disagree
    assert mixed["alike"]["late"]["trace_rel"].tolist() == pytest.approx([-math.log(2.0)] * 2)
    claims = protocol.section("03_hyperparameters")["checks"]
    got = tj.checked(raw, stats)
    assert set(got) == set(claims) and all(v.shape == (2,) for v in got.values())
    assert got["hp_alike_lmax"].equal(stats["alike"]["late"]["lmax_rel"])
    assert got["hp_l2_rise"].equal(stats["effects"]["late"]["l2"]["rise1"])  # ρ = 0.1, the middle one
    num = tj.numbers(raw, stats, "03_hyperparameters")
    assert num["hp_l2_decays"] == "0, 0.1" and num["hp_rho"] == "0.1"
    assert num["hp_width_lmax_rel_late"] == "×0.25 [0.25, 0.25]" and num["hp_lr_late_pair"] == "0.1 → 0.2"
    assert "−0.099" in num["hp_l2_earlier"]  # the earlier protocol's L2 result, read from the deviations
    assert num["hp_eos_late"].startswith("lr 0.1: 0.2 [0.2, 0.2]; lr 0.2: 0.2 [0.2, 0.2]")
    assert num["hp_eos_max"] == "0.2" and num["hp_eos_all_max"] == "0.2"
    gone = _sweeps(width_to=1.0)
    gone["sweeps"]["lr"].append(_run([[2.5, 2.5], [3.0, 3.0], [3.0, 3.0]], diverged=(True, True),
                                     diverged_step=(5, 5), lr=10.0))  # a diverged setting is left out
    gone["sweeps"]["lr"][1]["lmax"] = gone["sweeps"]["lr"][1]["lmax"] * 1.5  # lr 0.2: λ_max 3, ratio 0.3
    assert tj.numbers(gone, tj.statistics(gone), "03_hyperparameters")["hp_eos_all_max"] == "0.3"
    assert "as width grows, λ_max / init falls, Tr(H) / init falls" in num["hp_reading_late"]
    assert num["hp_reading_late"].endswith("the loss rise falls and r/r₀ falls")  # radius 4 -> 2

    table = tj.effect_table(raw, stats, {"lr_lmax": "✔ reproduced"}).data
    assert len(table) == 3 * len(tj.compared_quantities(raw))
    assert table["verdict (late)"].tolist().count("✔ reproduced") == 1


def test_same_direction_and_late_band():
    e = [torch.tensor([-0.5, 0.2, math.nan]), torch.tensor([-0.1, -0.3, 1.0]), torch.tensor([-0.2, 0.1, 1.0])]
    got = tj.same_direction(e)
    assert got[:2].tolist() == pytest.approx([0.1, -0.2]) and got[2].isnan()
    runs = [_run([[2.5], [0.2]]), _run([[2.5], [0.4]])]
    assert tj.late_band(runs, n=3, span=1.5).tolist() == pytest.approx([0.4, 0.4 * 1.5 ** 0.5, 0.6])


def test_overlay_points_count_a_shared_setting_once():
    up = torch.tensor([[1.0, 1.1], [2.0, 2.1], [3.0, 3.1]])
    runs = [_run([[2.5, 2.5], [0.1, 0.2]], lr=0.1), _run([[2.5, 2.5], [0.1, 0.2]], lr=0.2)]
    wide = _run([[2.5, 2.5], [0.1, 0.2]], lr=0.1, width=2.0)
    sweeps = {"lr": runs, "width": [runs[0], wide]}
    keys = ("lmax", "trace", "radius_ratio")
    mm = {"lr": {q: up[:2] for q in keys}, "width": {q: 2 * up[:2] for q in keys}}
    pts = tj.overlay_points(sweeps, mm)
    assert pts["groups"] == [{"lr", "width"}, {"lr"}, {"width"}] and pts["label"] == ["base", "lr 0.2", "width × 2"]
    assert torch.allclose(pts["lmax"], torch.log(torch.stack([up[0], up[1], 2 * up[1]])).double())
    mm["lr"]["lmax"] = torch.tensor([[1.0, -1.0], [1.0, 1.0]])  # no log of a negative value
    assert tj.overlay_points({"lr": runs}, mm)["lmax"][0, 1].isnan()
