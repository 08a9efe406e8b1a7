"""Tests of wedges_lib.optimize, the one optimisation loop: sampler, optimisers, schedules, divergence, recording."""
import ast
import math
from pathlib import Path

import pytest
import torch

from wedges_lib import optimize
from wedges_lib.optimize import minibatches, minimize

N = 10  # examples
DATA = torch.linspace(-1.0, 1.0, N)


def mean_sq(p, idx):
    """Member k's loss: the mean of (p_k - x_i)² over its minibatch; p (K, 1)."""
    return ((p - DATA[idx]) ** 2).mean(1)


def test_sampler_reads_one_permutation_per_epoch_in_order_and_drops_the_tail():
    it = minibatches(N, [3, 5], batch_size=4)
    got = [next(it) for _ in range(6)]  # 2 batches per epoch (the tail of 2 is dropped): 3 epochs
    assert all(b.shape == (2, 4) for b in got)
    for k, seed in enumerate([3, 5]):
        gen = torch.Generator().manual_seed(seed)
        for epoch in range(3):
            perm = torch.randperm(N, generator=gen)
            assert torch.equal(got[2 * epoch][k], perm[:4]) and torch.equal(got[2 * epoch + 1][k], perm[4:8])
    assert next(minibatches(3, [0], batch_size=128)).shape == (1, 3)  # a batch larger than the data: all of it


def test_minimize_hands_the_loss_the_sampler_batches_once_per_step():
    seen = []

    def loss(p, idx):
        seen.append(idx.clone())
        return mean_sq(p, idx)

    minimize(torch.zeros(2, 1), loss, n=N, seeds=[3, 5], batch_size=4, steps=5, quiet=True)
    it = minibatches(N, [3, 5], batch_size=4)
    assert len(seen) == 5 and all(torch.equal(s, next(it)) for s in seen)
    nodata = []
    minimize(torch.zeros(1, 2), lambda p, idx: nodata.append(idx) or (p ** 2).sum(1), steps=3, quiet=True)
    assert nodata == [None] * 3  # without data the loss gets no indices


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine"])
def test_schedules(schedule):
    """With a gradient of 1 and plain SGD each step moves p by exactly -lr_t."""
    T, lr = 8, 0.5
    run = minimize(torch.zeros(1, 1), lambda p, idx: p.sum(1), optimizer="sgd", momentum=0.0, lr=lr,
                   schedule=schedule, steps=T, record_every=1, keep_trajectory=True, quiet=True)
    steps_taken = -run.trajectory.diff(dim=0).flatten()
    expected = {"constant": [lr] * T,
                "step": [lr if t < T // 2 else lr / 10 if t < 3 * T // 4 else lr / 100 for t in range(T)],
                "cosine": [lr * (1 + math.cos(math.pi * t / T)) / 2 for t in range(T)]}[schedule]
    assert torch.allclose(steps_taken, torch.tensor(expected), atol=1e-6)
    assert run.history["step"].tolist() == list(range(T + 1))


def test_divergence_freezes_the_member_and_records_its_step():
    def loss(p, idx):  # member 1 gets a NaN loss from step 3 on; member 0 is fine
        out = mean_sq(p, idx)
        calls.append(1)
        return torch.where((torch.arange(2) == 1) & (len(calls) > 3), torch.nan, out)

    calls = []
    traj = minimize(torch.full((2, 1), 3.0), loss, n=N, seeds=[0, 1], batch_size=4, steps=8, record_every=1,
                    keep_trajectory=True, quiet=True)
    assert traj.diverged.tolist() == [False, True] and traj.diverged_step.tolist() == [-1, 3]
    assert torch.equal(traj.p[1], traj.trajectory[3, 1])  # frozen where it was before the bad step: no momentum
    assert bool((traj.trajectory[3:, 1] == traj.trajectory[3, 1]).all())
    assert torch.isnan(traj.batch_loss[3:, 1]).all() and torch.isfinite(traj.batch_loss[:, 0]).all()
    calls = []
    alone = minimize(torch.full((1, 1), 3.0), lambda p, idx: mean_sq(p, idx), n=N, seeds=[0], batch_size=4, steps=8,
                     quiet=True)
    assert torch.allclose(traj.p[0], alone.p[0], atol=1e-7)  # the other member trained as if alone


def test_explosion_and_all_diverged_stop_without_raising():
    # p -> 3p each step with loss p²: the loss grows 9x per step, past explode = 50 times the first at step 2
    run = minimize(torch.ones(1, 1), lambda p, idx: (p ** 2).sum(1), optimizer="sgd", lr=2.0, momentum=0.0,
                   steps=10, record_every=4, explode=50.0, quiet=True)
    assert run.diverged.tolist() == [True] and run.diverged_step.tolist() == [2]
    assert run.history["step"].tolist() == [0, 3] and torch.isnan(run.batch_loss[3:]).all()
    assert run.p.item() == pytest.approx(9.0)  # two steps of p <- p - 2·2p = -3p were taken
    off = minimize(torch.ones(1, 1), lambda p, idx: (p ** 2).sum(1), lr=2.0, momentum=0.0, steps=10,
                   explode=None, quiet=True)
    assert not off.diverged.any() and off.p.abs().item() == pytest.approx(3.0 ** 10)  # explode=None: finite is fine


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_member_does_not_depend_on_the_others(optimizer):
    p0 = torch.tensor([[2.0], [-1.0], [0.5]])
    kw = dict(n=N, optimizer=optimizer, lr=0.1, l2=0.01, schedule="cosine", batch_size=3, steps=12, quiet=True)
    stack = minimize(p0, mean_sq, seeds=[4, 5, 6], **kw)
    for k, seed in enumerate([4, 5, 6]):
        alone = minimize(p0[k:k + 1], mean_sq, seeds=[seed], **kw)
        assert torch.allclose(stack.p[k], alone.p[0], atol=1e-7)
        assert torch.allclose(stack.batch_loss[:, k], alone.batch_loss[:, 0], atol=1e-7)


@pytest.mark.parametrize("optimizer, schedule", [("sgd", "cosine"), ("sgd", "step"), ("adam", "constant")])
def test_per_member_rates_equal_one_run_per_rate(optimizer, schedule):
    """K rates (runs of equal consecutive rates are parameter groups) give exactly the runs at each rate alone;
    K equal rates give exactly the run at that one rate (the scalar path)."""
    p0 = torch.tensor([[2.0], [-1.0], [0.5], [2.0], [-1.0], [0.5]])
    kw = dict(n=N, optimizer=optimizer, l2=0.01, schedule=schedule, batch_size=3, steps=12, record_every=5,
              keep_trajectory=True, quiet=True)
    rates, seeds = [0.1] * 3 + [0.03] * 3, [4, 5, 6] * 2
    stack = minimize(p0, mean_sq, seeds=seeds, lr=rates, **kw)
    for rows, lr in ((slice(0, 3), 0.1), (slice(3, 6), 0.03)):
        alone = minimize(p0[rows], mean_sq, seeds=seeds[rows], lr=lr, **kw)
        assert torch.equal(stack.p[rows], alone.p) and torch.equal(stack.trajectory[:, rows], alone.trajectory)
        assert torch.equal(stack.batch_loss[:, rows], alone.batch_loss)
    same = minimize(p0, mean_sq, seeds=seeds, lr=[0.1] * 6, **kw)
    assert torch.equal(same.p, minimize(p0, mean_sq, seeds=seeds, lr=0.1, **kw).p)


def test_recording_rows_measures_and_interval_means():
    run = minimize(torch.zeros(2, 1), mean_sq, n=N, seeds=[0, 1], batch_size=5, steps=10, record_every=4,
                   measure=lambda p: {"value": p[:, 0]}, keep_trajectory=True, quiet=True)
    h = run.history
    assert h["step"].tolist() == [0, 4, 8, 10] and h["value"].shape == (4, 2) and run.trajectory.shape == (4, 2, 1)
    assert torch.equal(h["value"][-1], run.p[:, 0]) and torch.equal(run.trajectory[-1], run.p)
    assert torch.isnan(h["batch_loss"][0]).all()
    assert torch.allclose(h["batch_loss"][2], run.batch_loss[4:8].mean(0))
    assert torch.allclose(h["batch_loss"][3], run.batch_loss[8:10].mean(0))
    late = minimize(torch.zeros(1, 1), mean_sq, n=N, seeds=[0], steps=10, record_every=4, record_start=False,
                    quiet=True)
    assert late.history["step"].tolist() == [4, 8, 10] and late.trajectory is None


def test_hooks_penalty_gradient_projection_and_post_step():
    target = torch.tensor([[1.0, 2.0]])
    f = lambda p, idx: ((p - target) ** 2).sum(1)  # noqa: E731
    pen = minimize(torch.zeros(1, 2), f, penalty=lambda p: (p ** 2).sum(1), lr=0.1, steps=300, quiet=True)
    assert torch.allclose(pen.p, target / 2, atol=1e-4)  # the minimum of |p - t|² + |p|²
    assert torch.allclose(pen.batch_loss[-1], ((target / 2) ** 2).sum(1), atol=1e-4)  # the penalty is not recorded
    e = torch.tensor([1.0, 0.0])
    proj = minimize(torch.zeros(1, 2), f, optimizer="adam", lr=0.05, steps=300, quiet=True,
                    grad_hook=lambda g: g - (g @ e)[:, None] * e, post_step=lambda p: p.sub_((p @ e)[:, None] * e))
    assert proj.p[0, 0] == 0.0 and proj.p[0, 1].item() == pytest.approx(2.0, abs=0.05)


def test_side_generator_is_a_stream_apart_from_the_minibatch_order():
    a = torch.rand(5, generator=optimize.side_generator(0))
    assert torch.equal(a, torch.rand(5, generator=optimize.side_generator(0)))
    assert not torch.equal(a, torch.rand(5, generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(optimizer="rmsprop"), "'optimizer'"), (dict(schedule="linear"), "'schedule'"), (dict(lr=0.0), "'lr'"),
    (dict(lr=[0.1]), "'lr'"), (dict(lr=[0.1, -0.1]), "'lr'"),
    (dict(momentum=1.0), "'momentum'"), (dict(steps=0), "'steps'"), (dict(n=N, seeds=[0]), "'seeds'"),
    (dict(explode=0.0), "'explode'"), (dict(record_every=0), "'record_every'"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        minimize(torch.zeros(2, 1), mean_sq, **kwargs)
    with pytest.raises(ValueError, match="'loss'"):  # one loss per member
        minimize(torch.zeros(2, 1), lambda p, idx: p.sum(), quiet=True)


def test_engine_layer_imports_nothing_above_it():
    tree = ast.parse(Path(optimize.__file__).read_text())
    local = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1}
    local |= {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1
              and node.module is None for a in node.names}
    assert local <= {"params", "validation", "presets"}, local
