"""Tests of the n-wedge toy landscape (wedges_lib.toy): exact values where they exist, phenomena with margins."""
import math

import pytest
import torch

from wedges_lib import connect, toy, toy_experiments

BASES = ["subspace", "coords"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The toy's tensors are tiny: one thread avoids OpenMP oversubscription (10x slower on a busy 2-core box)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def long_point(model, k, radius, seed=0):
    """A point at ``radius`` with zero short coordinates in wedge k (the centre of the wedge)."""
    return toy.intersection_point(model, k, k, radius, seed=seed)


def unit_short(model, k, i=0):
    """The i-th short direction of wedge k, (D,)."""
    if model.basis == "subspace":
        return model.short[k, i].clone()
    e = torch.zeros(model.D)
    e[model.short[k, i]] = 1.0
    return e


@pytest.mark.parametrize("basis", BASES)
def test_frames_are_orthonormal_or_distinct_coordinates(basis):
    m = toy.make_wedges(40, 6, 3, basis=basis, seed=1)
    if basis == "subspace":
        assert m.short.shape == (3, 6, 40)
        for k in range(3):
            assert torch.allclose(m.short[k] @ m.short[k].T, torch.eye(6), atol=1e-5)
    else:
        assert m.short.shape == (3, 6)
        assert all(len(set(row.tolist())) == 6 for row in m.short)


@pytest.mark.parametrize("basis", BASES)
def test_loss_is_zero_inside_and_the_exact_squared_distance_outside(basis):
    m = toy.make_wedges(30, 4, 1, width0=0.1, kappa=0.2, r_min=1.0, basis=basis, seed=2)
    R = 3.0
    c, u = long_point(m, 0, R), unit_short(m, 0)
    assert float(toy.loss(m, c)) == 0.0
    t = torch.linspace(0, 2.0, 81)
    pts = c + t[:, None] * u
    r = torch.sqrt(R ** 2 + t ** 2)  # u is orthogonal to c
    expected = torch.relu(t - (0.1 + 0.2 * r)) ** 2
    got = toy.loss(m, pts)
    assert torch.allclose(got, expected, atol=1e-5)
    inside = t < 0.1 + 0.2 * r
    assert inside.any() and (~inside).any()
    assert (got[inside] == 0).all() and (got[~inside] > 0).all()
    assert (got.diff() >= 0).all(), "loss must grow with the distance from the wedge"


@pytest.mark.parametrize("basis,law", [("subspace", "linear"), ("coords", "sqrt")])
def test_gradient_matches_finite_differences(basis, law):
    m = toy.make_wedges(30, 4, 3, kappa=0.2, r_open=1.0, law=law, basis=basis, seed=1)
    th = toy.random_points(m, 1, 2.0, seed=0)[0].double()
    g = torch.func.grad(lambda t: toy.loss(m, t))(th)
    v = torch.randn(30, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    fd = (toy.loss(m, th + 1e-6 * v) - toy.loss(m, th - 1e-6 * v)) / 2e-6
    assert float(toy.loss(m, th)) > 0 and float(g @ v) == pytest.approx(float(fd), rel=1e-5)


def test_hole_loss_below_r_min():
    m = toy.make_wedges(20, 3, 2, width0=0.5, kappa=0.0, r_min=2.0, hole=3.0, seed=0)
    c = long_point(m, 0, 0.5)
    assert float(toy.loss(m, c)) == pytest.approx(3.0 * 1.5 ** 2, rel=1e-5)
    assert float(toy.loss(m, long_point(m, 0, 2.5))) == 0.0


@pytest.mark.parametrize("law,r_open,fn", [
    ("linear", 0.0, lambda r: 0.05 + 0.3 * r),
    ("sqrt", 0.0, lambda r: 0.05 + 0.3 * math.sqrt(r)),
    ("const", 0.0, lambda r: 0.05),
    ("linear", 1.0, lambda r: 0.05 + 0.3 * max(r - 1.0, 0.0)),
])
def test_width_laws_and_the_wedge_boundary(law, r_open, fn):
    m = toy.make_wedges(30, 4, 1, width0=0.05, kappa=0.3, law=law, r_open=r_open, seed=3)
    radii = [0.5, 2.0, 8.0]
    assert torch.allclose(toy.width(m, torch.tensor(radii)), torch.tensor([fn(r) for r in radii]), atol=1e-6)
    u = unit_short(m, 0)
    for r in (2.0, 8.0):  # a point with short part s and radius r is inside iff s <= w(r)
        for s, inside in ((0.98 * fn(r), True), (1.02 * fn(r), False)):
            long = long_point(m, 0, math.sqrt(r ** 2 - s ** 2))
            lv = float(toy.loss(m, long + s * u))
            assert (lv == 0.0) == inside, (law, r, s, lv)
    if law != "const":
        assert fn(8.0) > fn(2.0)


@pytest.mark.parametrize("basis", BASES)
def test_intersection_point_has_zero_loss_in_both_wedges(basis):
    m = toy.make_wedges(60, 8, 5, width0=0.0, kappa=0.1, r_open=1.0, basis=basis, seed=4)
    for i, j in ((0, 1), (2, 4)):
        x = toy.intersection_point(m, i, j, 3.0, seed=7)
        assert float(x.norm()) == pytest.approx(3.0, rel=1e-5)
        sc = toy.short_coords(m, x)
        assert sc[i].abs().max() < 1e-5 and sc[j].abs().max() < 1e-5
        assert (toy.margins(m, x)[[i, j]] <= 0).all()
        assert float(toy.loss(m, x)) == 0.0
    # a random point is not inside wedge 0 (so the test above can fail)
    assert float(toy.margins(m, toy.random_points(m, 1, 3.0, seed=7)[0])[0]) > 0


def test_descent_is_drawn_onto_wedges_and_paths_through_intersections_connect():
    m = toy.make_wedges(100, 10, 4, width0=0.0, kappa=0.2, r_open=1.0, seed=5)
    th0 = toy.random_points(m, 12, 1.5, seed=1)
    res = toy.descend(m, th0, lr=0.3, steps=150, record_every=10)
    L, R = res.history["loss"], res.history["radius"]
    assert L.shape == (16, 12) and res.history["step"][-1] == 150 and not res.diverged.any()
    assert (L[0] > 1e-3).all() and (L[-1] < 1e-10).all()
    assert (R[-1] > 0.97 * R[0]).all()
    # monotonic linear interpolation from init to solution
    rises = torch.stack([connect.max_rise(toy.line_section(m, th0[k], res.theta[k])[1]) for k in range(12)])
    assert rises.max() < 1e-9
    # two solutions on different wedges: barrier on the straight line, none through the intersection
    wk = toy.wedge_of(m, res.theta)
    b_i = next(k for k in range(12) if wk[k] != wk[0])
    a, b = res.theta[0], res.theta[b_i]
    x = toy.intersection_point(m, int(wk[0]), int(wk[b_i]), float(max(a.norm(), b.norm())), near=a + b)
    _, line = toy.line_section(m, a, b)
    t, path = toy.path_loss(m, torch.stack([a, x, b]))
    assert float(connect.barrier_height(line)) > 1e-3
    assert float(connect.barrier_height(path)) < 1e-9
    assert t[0] == 0 and t[-1] == 1 and (t.diff() > 0).all()


def test_noise_drives_the_radius_outward_and_divergence_is_flagged():
    m = toy.make_wedges(100, 10, 4, width0=0.0, kappa=0.2, r_open=1.0, seed=5)
    th0 = toy.random_points(m, 8, 1.5, seed=1)
    noisy = toy.descend(m, th0, lr=0.3, steps=200, noise=0.03, seed=3, record_every=50)
    assert (noisy.history["radius"][-1] > 1.15 * 1.5).all()
    settled = toy.descend(m, noisy.theta, lr=0.3, steps=100)
    assert (settled.history["loss"][-1] < 1e-10).all()
    slab = toy.make_wedges(100, 10, 4, width0=0.1, kappa=0.0, seed=5)
    bad = toy.descend(slab, th0, lr=2.0, steps=100)  # the short part is multiplied by -3 each step
    assert bad.diverged.all() and torch.isfinite(bad.theta).all()
    assert bad.theta.norm(dim=-1).max() <= 1e3 * 1.5, "a diverged run must be frozen below explode * radius"
    assert not toy.descend(slab, th0, lr=0.3, steps=100).diverged.any()
    one = toy.descend(m, th0[0], lr=0.3, steps=5)
    assert one.theta.shape == (100,) and one.history["loss"].shape == (6,) and one.diverged.shape == ()


def test_long_directions_are_long_and_short_directions_short():
    m = toy.make_wedges(400, 10, 3, width0=0.0, kappa=0.2, r_open=1.0, seed=6)
    a = toy.descend(m, toy.random_points(m, 1, 2.0, seed=2)[0], lr=0.3, steps=200).theta
    R, k = float(a.norm()), int(toy.wedge_of(m, a))
    s = toy.short_coords(m, a)[k]
    normal = (m.short[k].T @ s) / s.norm()  # outward short direction
    rand = torch.randn(30, m.D, generator=torch.Generator().manual_seed(0))
    kw = dict(t_max=2 * R, threshold=1e-4 * R ** 2, n=401)
    e_rand = toy.escape_distance(m, a, rand, **kw)
    e_short = toy.escape_distance(m, a, normal[None], **kw)
    assert float(e_short[0]) < 0.03 * R
    assert float(e_rand.median()) > 0.25 * R


def test_hyperplane_success_falls_with_radius_only_when_wedges_open_up():
    dims, radii = [2, 4, 6, 8, 10, 15, 20, 25], [1.1, 10.0]
    opening = toy.make_wedges(100, 10, 3, width0=0.0, kappa=0.2, r_open=1.0, seed=0)
    slab = toy.make_wedges(100, 10, 3, width0=0.01, kappa=0.0, seed=0)
    mo = toy.hyperplane_success_map(opening, dims, radii, seeds=8, steps=100)
    ms = toy.hyperplane_success_map(slab, dims, radii, seeds=8, steps=100)
    assert mo.shape == ms.shape == (len(dims), len(radii))
    gain_o = float(mo[:, 1].mean() - mo[:, 0].mean())
    gain_s = float(ms[:, 1].mean() - ms[:, 0].mean())
    assert gain_o > 0.2, f"opening wedges: success should rise with radius, got {mo.T}"
    assert abs(gain_s) < 0.1, f"constant slabs: no radius effect expected, got {ms.T}"
    assert ms.min() < 0.5 < ms.max(), "the slab map must show its d transition inside dims"


def test_determinism_from_seed():
    a, b = toy.make_wedges(50, 5, 3, seed=9), toy.make_wedges(50, 5, 3, seed=9)
    assert torch.equal(a.short, b.short)
    assert not torch.equal(a.short, toy.make_wedges(50, 5, 3, seed=10).short)
    th0 = toy.random_points(a, 4, 2.0, seed=1)
    r1 = toy.descend(a, th0, steps=20, noise=0.1, seed=3)
    r2 = toy.descend(a, th0, steps=20, noise=0.1, seed=3)
    r3 = toy.descend(a, th0, steps=20, noise=0.1, seed=4)
    assert torch.equal(r1.theta, r2.theta) and not torch.equal(r1.theta, r3.theta)
    m1 = toy.hyperplane_success_map(a, [2, 8], [1.5, 4.0], seeds=3, steps=20)
    m2 = toy.hyperplane_success_map(a, [2, 8], [1.5, 4.0], seeds=3, steps=20)
    assert torch.equal(m1, m2)


def test_plane_section_matches_pointwise_loss():
    m = toy.make_wedges(20, 3, 2, seed=0)
    a, b = toy.random_points(m, 2, 2.0, seed=1)
    perp = toy.random_points(m, 1, 1.0, seed=2)[0]
    perp = perp - (perp @ (b - a)) / (b - a).norm() ** 2 * (b - a)
    c = a + 0.5 * (b - a) + perp
    sec = toy.plane_section(m, a, b, c, n=21, margin=0.0)
    assert sec.loss.shape == (21, 21)
    assert torch.allclose(sec.points, torch.tensor([[0.0, 0.0], [float((b - a).norm()), 0.0],
                                                    [0.5 * float((b - a).norm()), float(perp.norm())]]), atol=1e-5)
    assert torch.allclose(sec.loss[0, 0], toy.loss(m, a), atol=1e-6)
    assert torch.allclose(sec.loss[0, -1], toy.loss(m, b), atol=1e-5)
    assert torch.allclose(sec.loss[-1, 10], toy.loss(m, c), atol=1e-5)


def test_profiles_barrier_and_rise():
    assert float(connect.barrier_height(torch.tensor([1.0, 3.0, 0.0]))) == pytest.approx(2.5)
    assert float(connect.max_rise(torch.tensor([3.0, 1.0, 2.0, 0.0, 0.5]))) == pytest.approx(1.0)
    assert float(connect.max_rise(torch.tensor([3.0, 2.0, 2.0, 0.0]))) == 0.0
    assert connect.barrier_height(torch.zeros(4, 7)).shape == (4,)


def test_chunked_loss_equals_unchunked(monkeypatch):
    m = toy.make_wedges(40, 5, 4, seed=0)
    pts = toy.random_points(m, 60, torch.linspace(0.5, 4, 60), seed=0).reshape(6, 10, 40)
    full = toy.loss(m, pts)
    monkeypatch.setattr(toy, "_CHUNK", 40)  # two points per chunk
    assert full.shape == (6, 10) and torch.allclose(toy.loss(m, pts), full)


@pytest.mark.parametrize("call,name", [
    (lambda: toy.make_wedges(1, 1, 1), "D"),
    (lambda: toy.make_wedges(10.0, 2, 1), "D"),
    (lambda: toy.make_wedges(10, 0, 1), "n_short"),
    (lambda: toy.make_wedges(10, 10, 1), "n_short"),
    (lambda: toy.make_wedges(10, 2, 0), "K"),
    (lambda: toy.make_wedges(10, 2, 1, width0=-0.1), "width0"),
    (lambda: toy.make_wedges(10, 2, 1, kappa=float("nan")), "kappa"),
    (lambda: toy.make_wedges(10, 2, 1, law="cubic"), "law"),
    (lambda: toy.make_wedges(10, 2, 1, r_min=-1.0), "r_min"),
    (lambda: toy.make_wedges(10, 2, 1, r_open=-1.0), "r_open"),
    (lambda: toy.make_wedges(10, 2, 1, hole=-1.0), "hole"),
    (lambda: toy.make_wedges(10, 2, 1, basis="random"), "basis"),
    (lambda: toy.make_wedges(10, 2, 1, seed=-3), "seed"),
    (lambda: toy.make_wedges(10, 2, 1, seed=True), "seed"),
    (lambda: toy.loss(toy.make_wedges(10, 2, 1), torch.zeros(3, 9)), "theta"),
    (lambda: toy.intersection_point(toy.make_wedges(10, 2, 3), 0, 3, 1.0), "j"),
    (lambda: toy.intersection_point(toy.make_wedges(10, 2, 3), 0, 1, 0.0), "radius"),
    (lambda: toy.intersection_point(toy.make_wedges(10, 6, 3), 0, 1, 1.0), "n_short"),
    (lambda: toy.descend(toy.make_wedges(10, 2, 1), torch.ones(10), lr=0.0), "lr"),
    (lambda: toy.descend(toy.make_wedges(10, 2, 1), torch.ones(10), steps=-1), "steps"),
    (lambda: toy.descend(toy.make_wedges(10, 2, 1), torch.ones(10), noise=-1.0), "noise"),
    (lambda: toy.hyperplane_success_map(toy.make_wedges(10, 2, 1), [0, 3], [1.0]), "dims"),
    (lambda: toy.hyperplane_success_map(toy.make_wedges(10, 2, 1), [3], [-1.0]), "radii"),
    (lambda: toy.line_section(toy.make_wedges(10, 2, 1), torch.ones(10), torch.zeros(10), n=1), "n"),
    (lambda: toy.random_planes(10, 11, 2), "d"),
])
def test_bad_arguments_raise_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"parameter '{name}': got .+; expected "):
        call()


# --- the chapter's helpers ------------------------------------------------------------------------------

@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_descend_keeps_its_path_step_by_step(noise):
    m = toy.make_wedges(50, 5, 3, kappa=0.2, r_open=1.0, seed=2)
    th0 = toy.random_points(m, 4, 1.5, seed=1)
    run = toy.descend(m, th0, lr=0.3, steps=30, noise=noise, seed=7, record_every=10, keep_path=True)
    assert run.path.shape == (31, 4, 50) and torch.equal(run.path[0], th0) and torch.equal(run.path[-1], run.theta)
    assert torch.equal(run.theta, toy.descend(m, th0, lr=0.3, steps=30, noise=noise, seed=7).theta)  # same draws
    assert torch.equal(toy.loss(m, run.path[::10]), run.history["loss"])
    assert toy.descend(m, th0, steps=5).path is None
    assert toy.descend(m, th0[0], steps=5, keep_path=True).path.shape == (6, 50)


def test_kept_path_of_a_diverged_run_stays_frozen():
    slab = toy.make_wedges(100, 10, 4, width0=0.1, kappa=0.0, seed=5)
    run = toy.descend(slab, toy.random_points(slab, 4, 1.5, seed=1), lr=2.0, steps=100, keep_path=True)
    assert run.diverged.all() and torch.isfinite(run.path).all() and torch.equal(run.path[-1], run.theta)


def test_plane_coords_match_plane_section_points():
    m = toy.make_wedges(30, 3, 2, seed=0)
    a, b, c = toy.random_points(m, 3, 2.0, seed=3)
    sec = toy.plane_section(m, a, b, c, n=5)
    assert torch.allclose(toy_experiments.plane_coords(a, b, c, torch.stack([a, b, c])), sec.points, atol=1e-5)
    # a point of the plane keeps its distances: coordinates are an isometry on the plane
    p = a + 0.3 * (b - a) + 0.7 * (c - a)
    q = toy_experiments.plane_coords(a, b, c, torch.stack([a, p]))
    assert torch.allclose(q[1].norm(), (p - a).norm(), atol=1e-5)


@pytest.mark.parametrize("basis", BASES)
def test_short_direction_leaves_the_wedge_and_two_solutions_connect(basis):
    m = toy.make_wedges(200, 10, 5, kappa=0.2, r_open=1.0, basis=basis, seed=5)
    starts = toy.random_points(m, 12, 1.5, seed=1)
    a, b, c, paths = toy_experiments.two_solutions(m, starts, lr=0.3, steps=150)
    assert paths.shape == (151, 2, 200) and int(toy.wedge_of(m, a)) != int(toy.wedge_of(m, b))
    assert torch.equal(paths[-1], torch.stack([a, b]))  # the paths of the runs that ended at a and b
    assert float(toy.loss(m, a)) < 1e-12 and float(toy.loss(m, c)) < 1e-12
    assert float(connect.barrier_height(toy.path_loss(m, torch.stack([a, c, b]))[1])) < 1e-9
    assert float(connect.barrier_height(toy.line_section(m, a, b)[1])) > 1e-3
    u = toy_experiments.short_direction(m, a)
    assert math.isclose(float(u.norm()), 1.0, rel_tol=1e-5)
    R = float(a.norm())
    assert float(toy.escape_distance(m, a, u[None], t_max=R, threshold=1e-4 * R ** 2)[0]) < 0.05 * R


def test_pick_pair_and_intrinsic_dimension():
    assert toy_experiments.pick_pair(torch.tensor([2, 2, 1, 0])) == (0, 2)
    assert toy_experiments.pick_pair(torch.tensor([3, 3, 3])) == (0, 1)
    success = torch.tensor([[0.0, 0.25, 0.5], [0.25, 0.5, 1.0], [0.5, 1.0, 1.0]])  # dims x radii
    d = toy.intrinsic_dimension(success, [2, 4, 8])
    assert d.tolist() == [8.0, 4.0, 2.0]
    assert math.isnan(float(toy.intrinsic_dimension(torch.zeros(2, 1), [1, 2])[0]))


def test_slabs3d_are_three_slabs_with_a_hole():
    s = toy_experiments.slabs3d(width0=0.1, kappa=0.1)
    pts = toy_experiments.zero_loss_points(s, 3.0, n=21)
    r = pts.norm(dim=-1)
    assert len(pts) > 0 and (r >= s.r_min).all() and (r <= 3.0).all()
    # every zero-loss point lies in a slab: one coordinate within the width at its radius
    assert (pts.abs().amin(dim=-1) <= toy.width(s, r) + 1e-6).all()
    assert set(toy.wedge_of(s, pts).tolist()) == {0, 1, 2}
    assert float(toy.loss(s, torch.tensor([1.5, 1.5, 1.5]))) > 0
    with pytest.raises(ValueError, match="parameter 'D'"):
        toy_experiments.zero_loss_points(toy.make_wedges(4, 1, 2), 1.0)
