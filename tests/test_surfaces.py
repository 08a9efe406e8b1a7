import pytest
import torch

from wedges_lib import models, params, surfaces


def quadratic(h: torch.Tensor):
    """The batched loss L(theta) = 1/2 theta^T diag(h) theta, (K, D) -> (K,)."""
    return lambda th: 0.5 * (th ** 2 * h).sum(-1)


@pytest.fixture
def net():
    return models.make("mlp", (40,), 10, width=0.25, seed=0)


def test_plane_of_a_quadratic_matches_the_formula():
    torch.manual_seed(0)
    h = torch.rand(6) + 0.5
    origin, d1, d2 = torch.randn(3, 6)
    xs, ys = torch.linspace(-1, 2, 7), torch.linspace(0, 1, 5)
    res = surfaces.plane(quadratic(h), origin, d1, d2, xs, ys, chunk=4)
    assert res["loss"].shape == (5, 7) and "acc" not in res
    for j, b in enumerate(ys):
        for i, a in enumerate(xs):
            th = origin + a * d1 + b * d2
            assert torch.allclose(res["loss"][j, i], 0.5 * (th ** 2 * h).sum(), rtol=1e-5)


def test_line_of_a_quadratic_is_the_parabola():
    h = torch.tensor([1.0, 3.0])
    a, b = torch.tensor([1.0, 1.0]), torch.tensor([-1.0, -1.0])
    res = surfaces.line(quadratic(h), a, b, 5)
    t = torch.linspace(0, 1, 5)
    assert torch.allclose(res["loss"], 2.0 * (1 - 2 * t) ** 2)  # 1/2 (1 + 3) (1 - 2t)^2
    assert torch.allclose(res["distance"], t * 8 ** 0.5)


def test_plane_through_three_points_gives_true_distances():
    h = torch.ones(5)
    a, b, c = torch.zeros(5), torch.tensor([3.0, 0, 0, 0, 0]), torch.tensor([1.0, 2.0, 0, 0, 0])
    res = surfaces.plane_through(quadratic(h), a, b, c, n=9, margin=0.25)
    assert torch.allclose(res["points"], torch.tensor([[0.0, 0.0], [3.0, 0.0], [1.0, 2.0]]))
    assert abs(float(res["u"] @ res["v"])) < 1e-6
    # span: x in [0, 3], y in [0, 2], padded by 0.25 * 3 on every side; L = |p|^2 / 2 in plane coordinates
    assert torch.allclose(res["xs"][[0, -1]], torch.tensor([-0.75, 3.75]))
    X, Y = torch.meshgrid(res["xs"], res["ys"], indexing="xy")
    assert torch.allclose(res["loss"], 0.5 * (X ** 2 + Y ** 2), atol=1e-5)
    with pytest.raises(ValueError, match="'c'"):
        surfaces.plane_through(quadratic(h), a, b, 2 * b)


def test_filter_normalisation_matches_its_definition(net):
    theta, lay = params.flatten(net), params.layout(net)
    d = surfaces.random_directions(theta, 2, normalization="filter", lay=lay, seed=3)
    assert d.shape == (2, lay.dim)
    for dk in d:
        for name, w, v in zip(lay.names, params.unflatten(theta, lay).values(), params.unflatten(dk, lay).values()):
            if w.ndim == 1:  # biases: zeroed ("ignore biasbn")
                assert torch.count_nonzero(v) == 0, name
            else:  # every output row has the norm of theta's row
                assert torch.allclose(v.norm(dim=1), w.norm(dim=1), rtol=1e-5), name
    raw = torch.randn(lay.dim, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(surfaces.filter_normalize(raw, theta, lay), d[0])
    assert not torch.allclose(d[0], d[1])  # two directions, not one twice


def test_model_normalisation_and_bad_arguments(net):
    theta = params.flatten(net)
    d = surfaces.random_directions(theta, 1, normalization="model", seed=0)[0]
    assert torch.allclose(d.norm(), theta.norm())
    with pytest.raises(ValueError, match="normalization"):
        surfaces.random_directions(theta, normalization="layer")
    with pytest.raises(ValueError, match="'lay'"):
        surfaces.random_directions(theta, normalization="filter")
    with pytest.raises(ValueError, match="'x'"):
        surfaces.line(net, theta, 2 * theta, 3)


def test_vmapped_grid_equals_looped_grid(net, smoke_data):
    x, y = smoke_data.x_train[:300], smoke_data.y_train[:300]
    theta = params.flatten(net)
    res = surfaces.random_plane(net, theta, distance=0.5, n=4, seed=1, x=x, y=y, chunk=5, batch=128)
    d1, d2 = res["directions"]
    for j, b in enumerate(res["ys"]):
        for i, a in enumerate(res["xs"]):
            th = theta + a * d1 + b * d2
            assert torch.allclose(res["loss"][j, i], params.loss(net, th, x, y), rtol=1e-4, atol=1e-6)
            assert torch.allclose(res["acc"][j, i], (params.forward(net, th, x).argmax(-1) == y).float().mean())
    # the centre of the plane (coordinates 0, 0) is theta itself when n is odd
    mid = surfaces.random_plane(net, theta, n=3, x=x, y=y)
    assert torch.allclose(mid["loss"][1, 1], params.loss(net, theta, x, y), rtol=1e-5)


def test_filter_normalised_random_direction_moves_only_weights(net):
    theta = params.flatten(net)
    d = surfaces.random_directions(theta, 1, lay=params.layout(net))[0]
    moved = [name for name, v in params.unflatten(d, params.layout(net)).items() if v.abs().sum() > 0]
    assert moved == [n for n in params.layout(net).names if n.endswith("weight")]


@pytest.mark.parametrize("make", [lambda: models.make("mlp", (40,), 10, width=0.25, seed=0),
                                  lambda: torch.nn.Sequential(torch.nn.Linear(40, 9), torch.nn.Tanh(),
                                                              torch.nn.Linear(9, 10, bias=False)),
                                  lambda: models.make("cnn1d", (40,), 10, width=0.25, seed=0)])
def test_affine_first_layer_and_bmm_paths_equal_vmap(make, smoke_data):
    """The three evaluation paths give the same grid, with directions that move the biases too."""
    net = make()
    x, y = smoke_data.x_train[:300], smoke_data.y_train[:300]
    theta = params.flatten(net)
    g = torch.Generator().manual_seed(2)
    dirs = 0.3 * torch.randn(2, theta.numel(), generator=g) * theta.abs().mean()
    coords = torch.randn(11, 2, generator=g)
    ref = surfaces.evaluate_affine(net, theta, dirs, coords, x=x, y=y, chunk=4, batch=128, path="vmap")
    paths = ("auto", "bmm") if params.linear_plan(net) is not None else ("auto",)
    for path in paths:
        res = surfaces.evaluate_affine(net, theta, dirs, coords, x=x, y=y, chunk=4, batch=128, path=path)
        torch.testing.assert_close(res["loss"], ref["loss"], rtol=1e-5, atol=1e-6)
        assert (res["acc"] - ref["acc"]).abs().max() <= 1 / 300 + 1e-7  # an argmax tie may flip
    assert ref["loss"].std() > 1e-3  # the points differ: a real comparison
    with pytest.raises(ValueError, match="'path'"):
        surfaces.evaluate_affine(net, theta, dirs, coords, x=x, y=y, path="loop")
