import pytest
import torch
from torch import nn

from wedges_lib import models, params


@pytest.fixture
def net():
    return models.make("mlp", (40,), 10, width=0.25, seed=0)


def test_flatten_unflatten_roundtrip(net):
    theta = params.flatten(net)
    lay = params.layout(net)
    assert theta.shape == (lay.dim,)
    for (name, p), v in zip(net.named_parameters(), params.unflatten(theta, lay).values()):
        assert torch.equal(p, v)
    other = models.make("mlp", (40,), 10, width=0.25, seed=1)
    params.load_into(other, theta)
    assert torch.equal(params.flatten(other), theta)
    with pytest.raises(ValueError, match="D = "):
        params.unflatten(theta[:-1], lay)


def test_functional_forward_matches_module(net):
    x = torch.randn(7, 40)
    assert torch.allclose(params.forward(net, params.flatten(net), x), net(x))


def test_radius_of_vector_and_stack():
    t = torch.tensor([[3.0, 4.0], [0.0, 1.0]])
    assert torch.allclose(params.radius(t), torch.tensor([5.0, 1.0]))
    assert params.radius(t[0]) == 5.0


def test_evaluate_vmapped_equals_loop_and_chunking(net, smoke_data):
    x, y = smoke_data.x_train, smoke_data.y_train
    thetas = params.stack([params.flatten(models.make("mlp", (40,), 10, width=0.25, seed=s)) for s in range(5)])
    loss, acc = params.evaluate(net, thetas, x, y, chunk=2, batch=300)
    for k in range(5):
        assert torch.allclose(loss[k], params.loss(net, thetas[k], x, y), atol=1e-5)
        assert torch.allclose(acc[k], (params.forward(net, thetas[k], x).argmax(-1) == y).float().mean())
    l0, a0 = params.evaluate(net, thetas[0], x, y)
    assert l0.ndim == 0 and torch.allclose(l0, loss[0], atol=1e-6)


def test_evaluate_per_point_does_not_depend_on_the_chunk(net, smoke_data):
    """default_sizes' chunk only groups the points: each point's loss and accuracy are bit for bit the same."""
    x, y = smoke_data.x_train, smoke_data.y_train
    noise = torch.randn(16, params.layout(net).dim, generator=torch.Generator().manual_seed(0))
    thetas = params.flatten(net) + 0.1 * noise
    ref = params.evaluate(net, thetas, x, y, chunk=16)
    for chunk in (1, 4, 8):
        got = params.evaluate(net, thetas, x, y, chunk=chunk)
        assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])


def test_interpolate_endpoints():
    a, b = torch.zeros(3), torch.ones(3)
    pts = params.interpolate(a, b, torch.tensor([0.0, 0.25, 1.0]))
    assert torch.equal(pts[0], a) and torch.equal(pts[-1], b) and torch.allclose(pts[1], torch.full((3,), 0.25))


def test_linear_plan_covers_linear_stacks_only():
    plan = params.linear_plan(models.make("mlp", (40,), 10, width=0.25, seed=0))
    assert plan is not None and plan.flatten and [s[0] for s in plan.steps] == ["linear", "act", "linear", "act",
                                                                                 "linear"]
    tanh = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3, bias=False))
    assert params.linear_plan(tanh) is not None
    assert params.linear_plan(models.make("cnn1d", (40,), 10, width=0.25, seed=0)) is None
    assert params.linear_plan(nn.Sequential(nn.Linear(5, 7), nn.Dropout(), nn.Linear(7, 3))) is None
    assert params.linear_plan(nn.Sequential(nn.Linear(5, 7), nn.ReLU())) is None  # ends in an activation
    with pytest.raises(ValueError, match="'path'"):
        params.stacked_loss(models.make("cnn1d", (40,), 10, width=0.25, seed=0), path="bmm")
    with pytest.raises(ValueError, match="'path'"):
        params.stacked_loss(tanh, path="bmm2")


@pytest.mark.parametrize("make", [lambda: models.make("mlp", (40,), 10, width=0.25, seed=0),
                                  lambda: torch.nn.Sequential(torch.nn.Linear(40, 9), torch.nn.GELU(),
                                                              torch.nn.Linear(9, 10, bias=False))])
def test_bmm_path_equals_vmap_path(make):
    """Losses, their gradients and evaluate() agree between the bmm and vmap paths (per member, shared data)."""
    net = make()
    g = torch.Generator().manual_seed(0)
    thetas = params.flatten(net) + 0.1 * torch.randn(4, params.layout(net).dim, generator=g)
    xb, yb = torch.randn(4, 16, 40, generator=g), torch.randint(0, 10, (4, 16), generator=g)
    grads = {}
    for path in ("bmm", "vmap"):
        th = thetas.clone().requires_grad_(True)
        loss = params.stacked_loss(net, path)(th, xb, yb)
        grads[path] = (loss, torch.autograd.grad(loss.sum(), th)[0])
    torch.testing.assert_close(grads["bmm"][0], grads["vmap"][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads["bmm"][1], grads["vmap"][1], rtol=1e-4, atol=1e-6)
    x, y = torch.randn(50, 40, generator=g), torch.randint(0, 10, (50,), generator=g)
    a = params.evaluate(net, thetas, x, y, chunk=3, batch=16, path="bmm")
    b = params.evaluate(net, thetas, x, y, chunk=3, batch=16, path="vmap")
    torch.testing.assert_close(a[0], b[0], rtol=1e-5, atol=1e-6)
    assert torch.equal(a[1], b[1])
    assert not torch.allclose(a[0][0], a[0][1])  # the members differ: a real comparison
