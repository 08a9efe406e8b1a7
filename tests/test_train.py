import pytest
import torch

from wedges_lib import config, params, train


@pytest.fixture(scope="module")
def cfg():
    return config.resolve("smoke", steps=60, record_every=20)


def test_training_reduces_loss_and_records_history(cfg, smoke_data):
    r = train.train_config(cfg, smoke_data, quiet=True)
    h = r.history
    assert h["step"].tolist() == [0, 20, 40, 60]
    assert h["loss"][-1] < 0.8 * h["loss"][0]
    assert torch.allclose(h["radius"][-1], r.theta.norm())
    assert not r.diverged and r.theta.shape == r.theta0.shape


def test_training_is_deterministic(cfg, smoke_data):
    a = train.train_config(cfg, smoke_data, quiet=True)
    b = train.train_config(cfg, smoke_data, quiet=True)
    assert torch.equal(a.theta, b.theta)


@pytest.mark.parametrize("optimizer, schedule", [("sgd", "cosine"), ("adam", "step"), ("sgd", "constant")])
def test_ensemble_in_one_pass_equals_members_alone(cfg, smoke_data, optimizer, schedule):
    kw = dict(optimizer=optimizer, schedule=schedule, l2=1e-3, lr=0.01 if optimizer == "adam" else 0.1)
    ens = train.train_config(cfg, smoke_data, seeds=[0, 1, 2], **kw)
    assert ens.theta.shape[0] == 3 and ens.history["loss"].shape == (4, 3)
    for k, s in enumerate([0, 1, 2]):
        alone = train.train_config(cfg, smoke_data, seeds=s, **kw)
        assert torch.allclose(ens.theta[k], alone.theta, atol=1e-4), f"member {k} differs from its solo run"


def test_divergence_is_recorded_not_raised(cfg, smoke_data):
    r = train.train_config(cfg, smoke_data, seeds=[0, 1], lr=100.0)
    assert r.diverged.all() and (r.diverged_step >= 0).all() and r.any_diverged


def test_diverged_member_is_frozen_and_others_train(cfg, smoke_data):
    model, theta0 = train.init(cfg, smoke_data, [0, 1])
    theta0[1] *= 1e4  # an absurd member explodes; the other must train as usual
    r = train.train(model, smoke_data, theta0, seeds=[0, 1], lr=0.1, steps=40, record_every=20, quiet=True)
    alone = train.train(model, smoke_data, theta0[0], seeds=0, lr=0.1, steps=40, record_every=20, quiet=True)
    assert r.diverged.tolist() == [False, True]
    assert torch.allclose(r.theta[0], alone.theta, atol=1e-4)
    assert torch.isfinite(r.theta[1]).all()


def test_trajectory_kept_on_request(cfg, smoke_data):
    r = train.train_config(cfg, smoke_data, keep_trajectory=True)
    assert r.trajectory.shape == (4, r.theta.numel()) and torch.equal(r.trajectory[-1], r.theta)
    bare = train.train_config(cfg, smoke_data, keep_trajectory=True, measured=False)  # the same run, no evaluations
    assert list(bare.history) == ["step"] and torch.equal(bare.history["step"], r.history["step"])
    assert torch.equal(bare.trajectory, r.trajectory)


@pytest.mark.parametrize("kwargs, match", [
    (dict(optimizer="rmsprop"), "'optimizer'.*sgd, adam"), (dict(lr=-0.1), "'lr'"),
    (dict(schedule="linear"), "'schedule'"), (dict(steps=0), "'steps'"), (dict(momentum=1.0), "'momentum'"),
])
def test_bad_arguments(cfg, smoke_data, kwargs, match):
    model, theta0 = train.init(cfg, smoke_data, 0)
    with pytest.raises(ValueError, match=match):
        train.train(model, smoke_data, theta0, **kwargs)


def tiny_problem():
    """A float64 problem small enough to store its result: 50 examples of 4 features, 3 classes, D = 51, K = 3."""
    from torch import nn

    from wedges_lib.data import Dataset

    g = torch.Generator().manual_seed(0)
    x = torch.randn(70, 4, generator=g, dtype=torch.float64)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    return model, Dataset("tiny", x[:50], y[:50], x[50:], y[50:], 3), 0.5 * torch.randn(3, 51, generator=g,
                                                                                      dtype=torch.float64)


# Recorded from train.train as it was before the loop moved to wedges_lib.optimize (its own vmap(grad) loop):
# per case, each member's final sum(theta), sum(theta²), theta[:3], last training loss and diverged step.
REFERENCE = {
    "sgd_cosine_l2": (dict(seeds=[0, 1, 2], optimizer="sgd", lr=0.2, momentum=0.9, l2=1e-2, schedule="cosine"),
                      [-2.81725844885, 4.07918575276, -4.29641478134], [18.9762177998, 16.1201234246, 17.7459218553],
                      [[-0.081735685968, 0.138575538069, -0.334482069937],
                       [-0.492393769965, -0.865661953856, 0.837734015301],
                       [0.724521306006, 0.167580161294, -0.720582259046]],
                      [0.5918023, 0.4723636, 0.4687899], [-1, -1, -1]),
    "adam_step": (dict(seeds=[3, 4, 5], optimizer="adam", lr=0.05, l2=1e-3, schedule="step"),
                  [-4.04163369878, 2.84286302834, -3.36321195019], [16.650106397, 13.1907278518, 17.3104152941],
                  [[0.0760665441272, -0.197680202761, -0.188399662309],
                   [-0.517825170009, -0.968232364154, 0.833513429203],
                   [0.525004795227, -0.0966102454299, -0.903565795569]],
                  [0.7627111, 0.5853406, 0.5926781], [-1, -1, -1]),
    "sgd_explode": (dict(seeds=[0, 1, 2], optimizer="sgd", lr=1.0, momentum=0.5, schedule="constant", explode=1.1),
                    [-6.93078782349, 6.02188427447, -5.06990245769], [16.4480517909, 32.8954674919, 36.4647621384],
                    [[0.375729086086, -0.574046022547, -0.388808703111],
                     [-0.72709902453, -1.25391705388, 0.537695286972],
                     [1.60624850997, 0.515466975608, -0.757848421563]],
                    [1.514423, 0.2912222, 0.2887107], [1, -1, -1]),
}


@pytest.mark.parametrize("case", sorted(REFERENCE))
def test_same_numbers_as_the_reference(case):
    kw, sums, squares, first, last_loss, diverged_step = REFERENCE[case]
    model, ds, theta0 = tiny_problem()
    r = train.train(model, ds, theta0, batch_size=16, steps=20, record_every=7, quiet=True, **kw)
    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    assert r.history["step"].tolist() == [0, 7, 14, 20] and r.diverged_step.tolist() == diverged_step
    assert torch.allclose(r.theta.sum(1), f64(sums), rtol=0, atol=1e-9)
    assert torch.allclose(r.theta.square().sum(1), f64(squares), rtol=0, atol=1e-9)
    assert torch.allclose(r.theta[:, :3], f64(first), rtol=0, atol=1e-10)
    assert torch.allclose(r.history["loss"][-1], torch.tensor(last_loss), rtol=1e-6, atol=0)


def test_same_numbers_as_a_plain_loop():
    """train.train on a stack equals each member trained alone by the textbook loop: epochs of one randperm from
    the member's seed read in order (tail dropped), torch.optim SGD with momentum and weight decay, cosine."""
    model, ds, theta0 = tiny_problem()
    kw = dict(lr=0.2, momentum=0.9, l2=1e-2, batch_size=16, steps=20)
    r = train.train(model, ds, theta0, seeds=[7, 8, 9], schedule="cosine", record_every=20, quiet=True, **kw)
    for k, seed in enumerate([7, 8, 9]):
        theta = torch.nn.Parameter(theta0[k].clone())
        opt = torch.optim.SGD([theta], lr=kw["lr"], momentum=kw["momentum"], weight_decay=kw["l2"])
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, kw["steps"])
        gen, batches = torch.Generator().manual_seed(seed), []
        while len(batches) < kw["steps"]:
            perm = torch.randperm(50, generator=gen)
            batches += [perm[i:i + 16] for i in range(0, 50 - 16 + 1, 16)]
        for idx in batches[:kw["steps"]]:
            opt.zero_grad()
            params.loss(model, theta, ds.x_train[idx], ds.y_train[idx]).backward()
            opt.step()
            sched.step()
        assert torch.allclose(r.theta[k], theta.detach(), rtol=0, atol=1e-12), f"member {k}"


def test_bmm_path_gives_the_members_of_solo_vmap_runs(cfg, smoke_data):
    """The default path for an MLP stack (bmm) trains each member as a solo run on the vmap path does."""
    assert params.linear_plan(train.init(cfg, smoke_data, 0)[0]) is not None
    kw = dict(schedule="cosine", l2=1e-3, lr=0.1)
    ens = train.train_config(cfg, smoke_data, seeds=[0, 1, 2], path="bmm", **kw)
    for k in range(3):
        alone = train.train_config(cfg, smoke_data, seeds=k, path="vmap", **kw)
        moved = (alone.theta - alone.theta0).abs().max()
        assert (ens.theta[k] - alone.theta).abs().max() < 1e-4 * moved + 1e-6, f"member {k}"
        torch.testing.assert_close(ens.history["loss"][:, k], alone.history["loss"], rtol=1e-4, atol=1e-5)
