
import math

import pytest
import torch

from wedges_lib import config, connect, params, train


def test_barrier_and_monotonicity_on_constructed_paths():
    bump = torch.tensor([1.0, 2.0, 5.0, 2.0, 3.0])
    assert connect.barrier_height(bump) == 5.0 - 2.0
    assert connect.max_rise(bump) == 4.0  # from 1 up to 5
    down = torch.tensor([4.0, 3.0, 3.0, 1.0])
    assert connect.max_rise(down) == 0.0
    wiggle = torch.tensor([4.0, 2.0, 2.5, 1.0])
    assert connect.max_rise(wiggle) == 0.5
    stack = torch.stack([bump[:4], down])  # batched over the leading axis
    assert torch.equal(connect.barrier_height(stack), torch.tensor([5.0 - 1.5, 4.0 - 2.5]))
    assert float(connect.accuracy_drop(torch.tensor([0.9, 0.5, 0.7]))) == pytest.approx(0.8 - 0.5)


@pytest.mark.parametrize("kind", ["line", "bezier", "polychain"])
def test_paths_hit_their_endpoints_and_weights_sum_to_one(kind):
    pts = torch.randn(3, 7, generator=torch.Generator().manual_seed(0))
    ends = connect.curve_points(pts, torch.tensor([0.0, 1.0]), kind)
    assert torch.allclose(ends, pts[[0, 2]])
    w = connect.weights(kind, torch.linspace(0, 1, 11))
    assert torch.allclose(w.sum(1), torch.ones(11))


def test_bezier_and_polychain_midpoints():
    a, b, c = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 2.0]), torch.tensor([2.0, 0.0])
    pts = torch.stack([a, b, c])
    assert torch.allclose(connect.curve_points(pts, torch.tensor([0.5]), "bezier")[0], (a + 2 * b + c) / 4)
    assert torch.allclose(connect.curve_points(pts, torch.tensor([0.5]), "polychain")[0], b)
    assert torch.allclose(connect.curve_points(pts, torch.tensor([0.25]), "polychain")[0], (a + b) / 2)
    with pytest.raises(ValueError, match="kind"):
        connect.weights("spline", torch.zeros(1))


def test_profile_of_a_batched_loss_along_a_line():
    f = lambda th: (th ** 2).sum(-1)  # noqa: E731
    a, c = torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.0])
    p = connect.profile(f, torch.stack([a, c]), 5)
    assert torch.allclose(p["loss"], torch.tensor([1.0, 0.25, 0.0, 0.25, 1.0]))
    assert connect.barrier_height(p["loss"]) == 0.0


def ring_loss(th):
    """A batched loss (K, 2) -> (K,) that is zero on the unit circle: the line between (-1, 0) and (1, 0) crosses
    a barrier at the origin, a curve around the circle does not."""
    return (th.norm(dim=-1) ** 2 - 1) ** 2


def test_curve_and_connector_on_a_loss_without_data():
    a, c = torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.0])
    line = connect.profile(ring_loss, torch.stack([a, c]), 41)
    assert connect.barrier_height(line["loss"]) == pytest.approx(1.0)
    bez = connect.train_curve(ring_loss, a, c, kind="bezier", steps=300, lr=0.05, quiet=True,
                              init=torch.tensor([0.0, 0.1]))
    assert connect.barrier_height(connect.profile(ring_loss, bez.points, 41)["loss"]) < 0.2
    shift = torch.tensor([0.2, 0.05])  # a gradient with a component along c - a at the midpoint
    fj = connect.fj_connector(lambda th: ring_loss(th + shift), a, c, steps=200, lr=0.05, quiet=True)
    assert abs(float(fj.b[0])) < 1e-6  # it moved only orthogonally to c - a
    assert float(fj.b[1]) > 0.5


def test_fj_chain_on_a_ring_inscribes_the_polygon_with_known_barriers():
    # a, c a quarter of the unit circle apart: the highest-loss point of a chord is its midpoint, the hyperplane
    # through it orthogonal to the chord passes through the origin, and the loss there is lowest on the circle. So
    # each level halves the arcs: a chord spanning angle φ has barrier (1 - cos²(φ / 2))² = sin⁴(φ / 2).
    a, c = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    exact = [math.sin(math.pi / 4 / 2 ** k) ** 4 for k in range(4)]  # φ = 90°, 45°, 22.5°, 11.25°
    res = connect.fj_chain(ring_loss, a, c, depth=3, tol=0.0, n_probe=33, steps=300, lr=0.05)
    assert res.bends.tolist() == [0, 1, 3, 7]
    assert res.barriers.tolist() == pytest.approx(exact, rel=1e-3)
    angles = torch.atan2(res.points[:, 1], res.points[:, 0])
    assert torch.allclose(angles, torch.linspace(0, math.pi / 2, 9), atol=1e-4)  # the inscribed 8-gon
    assert torch.allclose(res.points.norm(dim=1), torch.ones(9), atol=1e-4)
    segs = [connect.profile(ring_loss, res.points[i:i + 2], 33)["loss"] for i in range(8)]
    assert torch.equal(res.profile, torch.cat(segs))  # the kept profile is the final chain's, probe for probe
    # a tolerance between level 1's barrier and level 2's stops the recursion after level 2
    stop = connect.fj_chain(ring_loss, a, c, depth=3, tol=0.05, n_probe=33, steps=300, lr=0.05)
    assert stop.bends.tolist() == [0, 1, 3, 3]
    assert float(stop.barriers[-1]) == pytest.approx(exact[2], rel=1e-3)


def test_fj_chain_starts_its_bend_at_the_highest_loss_point_not_the_midpoint():
    # a barrier off-centre: a Gaussian bump peaking on the line at t = 1/4, its centre just below the line (so the
    # gradient there is not zero); the bend starts at t = 1/4 and moves only orthogonally to the line
    bump = lambda th: torch.exp(-((th[:, 0] + 0.5) ** 2 + (th[:, 1] + 0.05) ** 2) / 0.02)  # noqa: E731
    a, c = torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.0])
    res = connect.fj_chain(bump, a, c, depth=1, tol=0.0, n_probe=41, steps=300, lr=0.05)
    b = res.points[1]
    assert float(b[0]) == pytest.approx(-0.5, abs=1e-6)
    assert abs(float(b[1])) > 0.2 and float(res.barriers[1]) < 0.05 * float(res.barriers[0])


@pytest.fixture(scope="module")
def two_solutions(smoke_data):
    cfg = config.resolve("smoke")
    res = train.train_config(cfg, smoke_data, seeds=[0, 1], quiet=True)
    return res.model, res.theta[0], res.theta[1], res.theta0


def test_trained_curves_lower_the_linear_barrier(two_solutions, smoke_data):
    # measured at smoke scale (seed pairs 0/1 and 2/3): line barrier 1.38 / 1.34; after 100 steps at lr 0.3 the
    # Bezier curve keeps ~0.23, the polychain ~0.11 (0.07-0.11 over curve seeds 0-5) and the F&J connector ~0.15 of it
    model, a, c, _ = two_solutions
    x, y = smoke_data.x_train, smoke_data.y_train
    line = connect.barrier_height(connect.profile(model, torch.stack([a, c]), 11, x=x, y=y)["loss"])
    assert line > 0.7, f"expected a clear linear barrier between two smoke MLPs, got {float(line):.3f}"
    bez = connect.train_curve(model, a, c, kind="bezier", data=smoke_data, steps=100, lr=0.3, quiet=True)
    assert torch.equal(bez.a, a) and torch.equal(bez.c, c) and bez.history["loss"].shape == (2,)
    prof = connect.profile(model, bez.points, 11, x=x, y=y)
    assert torch.allclose(prof["loss"][[0, -1]], params.evaluate(model, torch.stack([a, c]), x, y)[0])
    assert connect.barrier_height(prof["loss"]) < 0.5 * line, "Bezier curve"
    fj = connect.fj_connector(model, a, c, data=smoke_data, steps=100, lr=0.3, quiet=True)
    moved = fj.b - 0.5 * (a + c)
    assert moved.norm() > 0 and abs(float(moved @ (c - a))) < 1e-4 * float((c - a).norm() * moved.norm())
    prof = connect.profile(model, fj.points, 11, kind="polychain", x=x, y=y)
    assert connect.barrier_height(prof["loss"]) < 0.5 * line, "F&J connector"


def test_points_loss_equals_the_vmapped_minibatch_loss(two_solutions, smoke_data):
    # the fits' batched pass (params.stacked_loss, gradient written out) against vmap over params.batch_loss
    model, a, c, _ = two_solutions
    thetas = connect.curve_points(torch.stack([a, c]), torch.tensor([0.1, 0.5, 0.8])).requires_grad_()
    idx = torch.arange(0, 64, 3)
    fast = connect._points_loss(model, smoke_data, a.device)(thetas, idx)
    slow = torch.func.vmap(params.batch_loss(model), in_dims=(0, None, None))(
        thetas, smoke_data.x_train[idx], smoke_data.y_train[idx])
    torch.testing.assert_close(fast, slow)
    w = torch.tensor([0.2, 0.3, 0.5])
    torch.testing.assert_close(torch.autograd.grad(fast @ w, thetas)[0], torch.autograd.grad(slow @ w, thetas)[0])


def test_line_from_init_to_solution_descends(two_solutions, smoke_data):
    model, a, _, theta0 = two_solutions
    prof = connect.profile(model, torch.stack([theta0[0], a]), 11, x=smoke_data.x_train, y=smoke_data.y_train)
    assert connect.max_rise(prof["loss"]) == 0, f"max rise {float(connect.max_rise(prof['loss'])):.3g}"


def test_a_non_finite_loss_stops_the_fit_without_raising():
    a, c = torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.0])
    shift = torch.tensor([0.2, 0.05])  # off the saddle at the midpoint; NaN once b rises past 0.3
    f = lambda th: torch.where(th[:, 1] > 0.3, torch.nan, ring_loss(th + shift))  # noqa: E731
    fj = connect.fj_connector(f, a, c, steps=200, lr=0.05, record_every=10, quiet=True)
    assert torch.isfinite(fj.b).all() and float(fj.b[1]) > 0.3 and float(fj.b[0]) == 0.0
    assert int(fj.history["step"][-1]) < 200 and torch.isnan(fj.history["loss"][-1])
    assert torch.isfinite(fj.history["loss"][:-1]).all()


def test_rise_fraction_is_zero_for_a_descent_and_one_for_a_pure_rise():
    assert connect.rise_fraction(torch.tensor([3.0, 2.0, 2.0, 0.5])) == 0.0
    assert connect.rise_fraction(torch.tensor([0.0, 1.0, 2.0])) == 1.0
    assert connect.rise_fraction(torch.tensor([1.0, 1.0])) == 0.0  # constant: monotone
    assert connect.rise_fraction(torch.tensor([4.0, 0.0, 1.0, 0.0])) == pytest.approx(0.25)
