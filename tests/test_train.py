import pytest
import torch

from wedges_lib import config, train


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


@pytest.mark.parametrize("kwargs, match", [
    (dict(optimizer="rmsprop"), "'optimizer'.*sgd, adam"), (dict(lr=-0.1), "'lr'"),
    (dict(schedule="linear"), "'schedule'"), (dict(steps=0), "'steps'"), (dict(momentum=1.0), "'momentum'"),
])
def test_bad_arguments(cfg, smoke_data, kwargs, match):
    model, theta0 = train.init(cfg, smoke_data, 0)
    with pytest.raises(ValueError, match=match):
        train.train(model, smoke_data, theta0, **kwargs)
