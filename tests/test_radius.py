"""Tests of wedges_lib.studies.ch02_radius (chapter 02's experiment with its temperature controls),
wedges_lib.studies.ch02_threshold (the threshold dimension, the burn-in, the homogeneity identity, the toy) and of
the scale-invariant and GELU models they use."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from wedges_lib import config, models, params, subspace
from wedges_lib.studies import ch02_radius as radius
from wedges_lib.studies import ch02_threshold as td

# the knobs chapter 02 declares, shrunk
KNOBS = dict(dims=(8, 32), radii=(0.25, 1.0, 4.0), subspace_steps=20, steps=30, n_seeds=2,
             goldilocks_probes=2, goldilocks_examples=64, goldilocks_dim=8, td_dims=(4, 8, 16),
             td_radii=(0.25, 1.0, 4.0), td_subspaces=2, td_steps=10, td_fraction=0.3, burnin_steps=(5, 10))
NAMES = ("seed", "model", "device", "subspace_width", "optimizer", "lr", "momentum", "l2", "schedule",
         "batch_size", "projection", "subspace_step", "subspace_lr", *KNOBS)


@pytest.fixture(scope="module")
def cfg():
    return config.resolve_cell({**dict.fromkeys(NAMES), "scale": "smoke", **KNOBS}, "02_radius_and_subspaces")


# --- the scale-invariant network and the fitted temperature ----------------------------------------

def test_mlp_invariant_is_scale_invariant_and_the_mlp_is_not():
    x = torch.randn(50, 40)
    inv, mlp = models.make("mlp_invariant", (40,), 10, width=0.25, seed=1), models.make("mlp", (40,), 10, width=0.25)
    ti, tm = params.flatten(inv), params.flatten(mlp)
    assert all("bias" not in n for n, _ in inv.named_parameters())
    f = params.forward(inv, ti, x)
    for c in (0.25, 0.5, 2.0, 8.0):  # powers of two: bit for bit
        assert torch.equal(params.forward(inv, c * ti, x), f)
    torch.testing.assert_close(params.forward(inv, 3.7 * ti, x), f, rtol=1e-4, atol=1e-5)
    assert torch.allclose(f.std(-1, unbiased=False), torch.full((50,), 2.0))  # the fixed gain
    g = params.forward(mlp, tm, x)
    assert not torch.allclose(params.forward(mlp, 2.0 * tm, x), g, rtol=0.1)


def test_mlp_gelu_is_the_mlp_with_gelu_and_is_not_homogeneous_even_without_biases():
    relu = models.make("mlp", (40,), 10, width=0.25, seed=3)
    gelu = models.make("mlp_gelu", (40,), 10, width=0.25, seed=3)
    assert [isinstance(m, nn.GELU) for m in gelu].count(True) == 2 and not any(isinstance(m, nn.ReLU) for m in gelu)
    torch.testing.assert_close(params.flatten(gelu), params.flatten(relu))  # the same init from the same seed
    with pytest.raises(ValueError, match="activation"):
        models.mlp(40, 10, activation="tanh2")
    x = torch.randn(30, 40)
    for name, m in (("relu", relu), ("gelu", gelu)):
        for layer in m:  # bias-free: ReLU is homogeneous of degree 3, GELU is not
            if isinstance(layer, nn.Linear):
                layer.bias.data.zero_()
        th = params.flatten(m)
        scaled, base = params.forward(m, 2.0 * th, x), 8.0 * params.forward(m, th, x)
        assert torch.allclose(scaled, base, rtol=1e-4, atol=1e-5) == (name == "relu")


def test_bias_share_is_zero_without_biases_and_falls_with_c_with_them():
    x = torch.randn(64, 40)
    inv = models.make("mlp_invariant", (40,), 10, width=0.25)[:-1]
    share = radius.bias_share(inv, params.flatten(inv)[None], (0.5, 2.0), x)
    assert share.shape == (2, 1) and share.abs().max() == 0
    mlp = models.make("mlp", (40,), 10, width=0.25, seed=2)
    share = radius.bias_share(mlp, params.flatten(mlp)[None], (0.25, 1.0, 8.0), x)[:, 0]
    assert 0 < share[2] < share[1] < share[0] <= 1.5


def test_anchor_temperature_is_c_to_the_L_without_biases_and_one_at_the_init():
    torch.manual_seed(0)
    x = torch.randn(40, 5)
    net = nn.Sequential(nn.Linear(5, 6, bias=False), nn.ReLU(), nn.Linear(6, 6, bias=False), nn.ReLU(),
                        nn.Linear(6, 3, bias=False))  # L = 3 homogeneous layers
    th = params.stack([params.flatten(net), -params.flatten(net)])
    t = radius.anchor_temperature(net, th, (0.5, 1.0, 3.0), x)
    assert t.shape == (3, 2)
    torch.testing.assert_close(t, torch.tensor([[0.125] * 2, [1.0] * 2, [27.0] * 2], dtype=torch.float64),
                               rtol=1e-5, atol=0)
    mlp = models.mlp(5, 3, hidden=(6, 6))  # with biases: not a power law, but 1 at c = 1 and logits rescaled
    th = params.flatten(mlp)[None]
    t = radius.anchor_temperature(mlp, th, (0.25, 1.0, 8.0), x)
    assert t[1].item() == pytest.approx(1.0) and t[0] < 1 < t[2]
    for i, c in enumerate((0.25, 8.0)):
        scaled = params.forward(mlp, c * th[0], x) / t[2 * i].item()
        assert scaled.std().item() == pytest.approx(params.forward(mlp, th[0], x).std().item(), rel=1e-4)


# --- the experiment ---------------------------------------------------------------------------------

def test_fresh_seeds_and_init(cfg, smoke_data):
    assert radius.seeds_of(cfg) == [cfg.seed, cfg.seed + 1] and cfg.seed >= 5
    model, th = radius.init(cfg, smoke_data)
    first = models.make(cfg.model, (40,), 10, width=cfg.subspace_width, seed=cfg.seed)
    assert torch.equal(th[0], params.flatten(first))
    imodel, ith = radius.init(cfg, smoke_data, radius.INVARIANT_MODEL)
    assert ith.shape[1] < th.shape[1]  # no biases


def test_split_undoes_concatenated_radii():
    z = torch.arange(6 * 2 * 3, dtype=torch.float32).reshape(6, 2, 3)
    sw = subspace.SweepResult((10, 20), (1.0, 2.0) * 3, (0, 1, 2), z, z, z, z + 1, z, z.bool(),
                              settings=dict(step=("relative",) * 4 + ("absolute",) * 2))
    parts = radius.split(sw, 3)
    assert [p.radii for p in parts] == [(1.0, 2.0)] * 3
    assert [p.settings["step"] for p in parts] == ["relative", "relative", "absolute"]
    assert torch.equal(parts[2].test_acc, z[4:] + 1)


def test_radius_experiment_runs_every_variant_and_caches(cfg, smoke_data):
    from wedges_lib import cache

    res = cache.cached("test-radius", cfg, radius.run, data=smoke_data)
    again = cache.cached("test-radius", cfg, radius.run, data=smoke_data)  # from the file
    assert set(res["variants"]) == set(radius.VARIANTS) and res["temperature"].shape == (3, 2)
    for v, r in res["variants"].items():
        assert r["ref"].shape == (2,) and r["init_loss"].shape == r["full"].shape == r["restricted"].shape == (3, 2)
        assert r["bias_share"].shape == r["temperature"].shape == (3, 2)
        torch.testing.assert_close(again["variants"][v]["full"], r["full"], rtol=0, atol=0, equal_nan=True)
        assert r["sweep"]["test_acc"].shape == (3, 2, 2) and r["sweep"]["radii"] == cfg.radii
        assert r["sweep"]["settings"]["step"] == cfg.subspace_step
    v = res["variants"]
    assert v["invariant"]["bias_share"].abs().max() == 0 and (v["smooth"]["bias_share"] > 0).all()
    assert v["invariant"]["full"].isnan().all() and not v["smooth"]["full"].isnan().any()  # fixed by construction
    assert torch.equal(v["temperature"]["temperature"], res["temperature"])
    assert v["smooth"]["temperature"][1].tolist() == pytest.approx([1.0, 1.0])
    assert (v["uncontrolled"]["temperature"] == 1).all() and (v["invariant"]["temperature"] == 1).all()
    # at c = 1 the fitted temperature is 1: the temperature variant is the uncontrolled run there
    assert res["temperature"][1].tolist() == pytest.approx([1.0, 1.0])
    torch.testing.assert_close(v["temperature"]["sweep"]["loss"][1], v["uncontrolled"]["sweep"]["loss"][1])
    # the invariant network under relative steps: every radius is the same run, bit for bit (radii 2^k)
    inv = v["invariant"]["sweep"]["test_acc"]
    assert torch.equal(inv[0], inv[1]) and torch.equal(inv[0], inv[2])
    assert torch.allclose(v["invariant"]["init_loss"][0], v["invariant"]["init_loss"][2])
    # tempered anchors have the initialisation's logit scale: their loss varies far less than the raw one's
    raw, tem = v["uncontrolled"]["init_loss"], v["temperature"]["init_loss"]
    assert (tem.max() - tem.min()) < 0.2 * (raw.max() - raw.min())
    runs = radius.statistics(res, fraction=0.5)
    assert set(runs["invariant"]["stat"]) == {"far_near", "id_slope", "id_slope_high", "diverged"}
    assert runs["invariant"]["stat"]["id_slope"].tolist() == [0.0, 0.0]
    table = radius.id_table(runs, cfg.radii)
    assert list(table.index) == list(radius.VARIANTS) and list(table.columns) == ["c = 0.25", "c = 1", "c = 4"]
    assert len(radius.id_table(runs, cfg.radii, res)) == len(radius.VARIANTS) + 2  # + the biases' shares
    # the threshold dimension on the same seeds and networks: P in [0, 1] at every anchor, d and seed
    refs = {k: res["variants"][k]["ref"] for k in ("temperature", "smooth")}
    out = td.run(cfg, smoke_data, refs)
    assert out["bias"]["p"].shape == (3 + 2, 3, 2) and out["smooth"]["p"].shape == (3, 3, 2)
    assert ((out["bias"]["p"] >= 0) & (out["bias"]["p"] <= 1)).all() and out["burnin_radius"].shape == (2, 2)
    assert (out["bias"]["p"] * cfg.td_subspaces).frac().abs().max() < 1e-9  # counts of subspaces
    torch.testing.assert_close(out["bias"]["temperature"][:3], res["temperature"].to(out["bias"]["temperature"]))
    st = td.statistics(out, cfg)
    assert st["dstar_bias"].shape == (5, 2) and st["slope_smooth"].shape == st["burnin"].shape == (2,)
    assert ((st["sharp"] >= 0) & (st["sharp"] <= 1)).all()
    assert set(td.numbers(out, st, cfg)) == {"td_bias", "td_smooth", "td_burnin", "td_dims"}


# --- statistics ----------------------------------------------------------------------------------

def test_log_slope_is_least_squares_in_log_log_per_column():
    x = [0.25, 1.0, 4.0, 16.0]
    y = torch.tensor([[1.0, 2.0, 1.0], [2.0, 1.0, 1.0], [4.0, 0.5, 1.0], [9.0, math.nan, 1.0]])
    got = radius.log_slope(x, y)
    ref = [float(np.polyfit(np.log(x), np.log(y[:, 0].numpy()), 1)[0]), -0.5, 0.0]
    assert got.tolist() == pytest.approx(ref)  # column 1: its NaN point left out
    assert radius.log_slope([1.0, 1.0], torch.ones(2, 1)).isnan().all()  # no spread in x: no slope
    assert radius.log_slope(x, torch.full((4, 1), math.nan)).isnan().all()


def test_radius_statistics_are_paired_per_seed_and_leave_out_diverged_seeds():
    acc = torch.tensor([[[0.5, 0.6, 0.2], [0.7, 0.8, 0.2]],  # radius 0.5: (n = 2 dims, S = 3 seeds)
                        [[0.6, 0.5, 0.3], [0.9, 0.6, 0.4]]])  # radius 4
    diverged = torch.zeros(2, 2, 3, dtype=torch.bool)
    diverged[1, 0, 2] = True  # seed 2 diverged once
    z = torch.zeros(2, 2, 3)
    sw = subspace.SweepResult((10, 100), (0.5, 4.0), (0, 1, 2), z, z, z, acc, z, diverged)
    idim = subspace.sweep_intrinsic_dimension(sw, reference=torch.ones(3), fraction=0.65)
    st = radius.radius_statistics(sw, idim)
    assert st["far_near"][:2].tolist() == pytest.approx([0.15, -0.15]) and st["far_near"][2].isnan()
    assert st["diverged"].tolist() == [0, 0, 1] and st["id_slope"][2].isnan()
    # seed 0: d_int 10^1.75 at radius 0.5, 10^(7/6) at 4; seed 1: 10^1.25, then not reached (100 stands in)
    per_octave = math.log(10) / math.log(8.0)
    assert st["id_slope"][:2].tolist() == pytest.approx([(7 / 6 - 1.75) * per_octave, (2 - 1.25) * per_octave])
    # d_int with the largest d (100) standing in where not reached: mean [95% interval, clipped at 0]
    assert radius.id_summary(idim, 0) == "≥ 58 [0, 160] (1 of 3 not reached)"  # 56.2, 17.8, (100)
    one = radius.id_summary(idim, 1)  # 14.7, (100), (100)
    assert one.startswith("≥ 72 [") and one.endswith("(2 of 3 not reached)")


def test_direction_words():
    assert radius.direction(-0.2, -0.3, -0.1) == "falls" and radius.direction(0.2, 0.1, 0.3) == "rises"
    assert radius.direction(math.nan, math.nan, math.nan) == "not measured"


def test_toy_d50_repeats_the_toy_block_on_fresh_toys():
    from wedges_lib import toy

    cfg = config.resolve("smoke", "02_radius_and_subspaces", n_seeds=2, plane_D=40, plane_n=4, plane_K=2,
                         plane_dims=(2, 4, 8, 16),
                         plane_radii=(1.1, 10.0), plane_seeds=4, plane_steps=30)
    d50 = td.toy_d50(cfg)
    assert d50.shape == (2, 2)
    for k in range(2):  # toy k: the chapter's one-toy block with seed cfg.seed + k
        s = cfg.seed + k
        w = toy.make_wedges(40, 4, 2, kappa=cfg.plane_kappa, r_min=cfg.toy_r_min, r_open=cfg.toy_r_min, seed=s)
        one = toy.hyperplane_success_map(w, cfg.plane_dims, cfg.plane_radii, seeds=4, steps=30, seed=s)
        torch.testing.assert_close(d50[:, k], toy.intrinsic_dimension(one, cfg.plane_dims), equal_nan=True)


def test_threshold_statistics_from_known_probabilities():
    cfg = config.resolve("smoke", "02_radius_and_subspaces", td_dims=(10, 20, 40, 80), td_radii=(0.25, 1.0, 4.0),
                         burnin_steps=(5, 10), n_seeds=2)
    p = torch.zeros(5, 4, 2, dtype=torch.float64)  # (anchors: 3 radii + 2 burn-ins, d, seeds)
    p[:, 2:] = 1.0  # every anchor crosses ½ between d = 20 and 40: d* = sqrt(20 · 40) in log d ...
    p[1, 1:] = 1.0  # ... but c = 1 already at d = 20 (reached there, between 10 and 20: d* = sqrt(10 · 20))
    p[4, 1, :] = 0.5  # the longest burn-in reaches ½ exactly at d = 20
    res = {"bias": {"p": p}, "smooth": {"p": torch.zeros(3, 4, 2, dtype=torch.float64)}}
    st = td.statistics(res, cfg)
    mid = math.sqrt(20 * 40)
    assert st["dstar_bias"][:, 0].tolist() == pytest.approx([mid, math.sqrt(200), mid, mid, 20.0])
    assert st["dstar_smooth"].isnan().all() and st["censored_smooth"] == 2 and st["slope_smooth"].tolist() == [0, 0]
    assert st["slope_bias"].tolist() == pytest.approx([math.log(mid / math.sqrt(200)) / math.log(4)] * 2)
    assert st["burnin"].tolist() == pytest.approx([math.log(20 / math.sqrt(200))] * 2)
    assert st["sharp"].tolist() == pytest.approx([4.5 / 8] * 2)  # four anchors jump by 1, one by ½, three by 0


def test_the_homogeneity_identity_holds_to_float_tolerance(cfg, smoke_data):
    out = td.homogeneity(cfg, smoke_data)
    assert out["layers"] == 3 and out["largest"].shape == (2,) and out["largest"].max() < 1e-6
    assert out["final"].shape == (2, 4)
