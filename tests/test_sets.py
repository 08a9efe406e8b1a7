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
