import pytest
import torch

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
        assert torch.allclose(acc[k], params.accuracy(net, thetas[k], x, y))
    l0, a0 = params.evaluate(net, thetas[0], x, y)
    assert l0.ndim == 0 and torch.allclose(l0, loss[0], atol=1e-6)


def test_interpolate_endpoints():
    a, b = torch.zeros(3), torch.ones(3)
    pts = params.interpolate(a, b, torch.tensor([0.0, 0.25, 1.0]))
    assert torch.equal(pts[0], a) and torch.equal(pts[-1], b) and torch.allclose(pts[1], torch.full((3,), 0.25))
