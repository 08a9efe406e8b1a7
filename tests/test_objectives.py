"""Any loss and batch format (wedges_lib.objectives through wedges_lib.landscape): a regression model with a plain
mean-squared-error function as its loss and a model that takes dict batches (HuggingFace style) go through
surfaces, curvature and the GGN like the book's (x, y) cross-entropy networks, and agree with the dense
derivatives computed by hand."""
import pytest
import torch
from torch import nn
from torch.func import functional_call, hessian, jacrev

from wedges_lib import curvature, objectives, operators, params, surfaces
from wedges_lib.hessian import hessian_operator
from wedges_lib.landscape import Landscape


@pytest.fixture(scope="module")
def regression():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    x = torch.randn(20, 2, dtype=torch.float64)
    y = torch.stack([x[:, 0] * x[:, 1], x[:, 0].sin(), x[:, 1] ** 2], 1)
    return net, x, y


def test_mse_regression_loss_hessian_and_ggn(regression):
    net, x, y = regression
    theta, lay = params.flatten(net), params.layout(net)
    mse = lambda out, batch: (out - batch[1]).pow(2).mean(1)  # noqa: E731  per example, (N,)
    land = Landscape(net, objectives.split(x, y, size=8), objective=mse)  # 8 + 8 + 4
    f = lambda t: functional_call(net, params.unflatten(t, lay), (x,))  # noqa: E731
    assert torch.allclose(land(theta), nn.functional.mse_loss(f(theta), y))
    H = hessian(lambda t: nn.functional.mse_loss(f(t), y))(theta)
    M = hessian_operator(land.loss_fn(theta), theta)(torch.eye(theta.numel(), dtype=theta.dtype))
    assert torch.allclose(M, H, atol=1e-12)
    J = jacrev(f)(theta).reshape(-1, theta.numel())  # (N C, D)
    G = 2 * J.T @ J / y.numel()  # the GGN of a mean squared error: 2/(N C) J^T J
    M = hessian_operator(operators.ggn_loss(land, theta), theta)(torch.eye(theta.numel(), dtype=theta.dtype))
    assert torch.allclose(M, G, atol=1e-12)
    assert not torch.allclose(G, H, atol=1e-3)  # at a random point the GGN is not the Hessian


class DictModel(nn.Module):
    """Takes keyword tensors as a HuggingFace model does and returns a dict with 'logits'."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(7, 4)
        self.head = nn.Linear(4, 3)

    def forward(self, input_ids, attention_mask):
        h = (self.embed(input_ids) * attention_mask[..., None]).sum(1) / attention_mask.sum(1, keepdim=True)
        return {"logits": self.head(h)}


@pytest.fixture(scope="module")
def dict_data():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    model = DictModel().double()
    ids = torch.randint(0, 7, (18, 5), generator=g)
    mask = (torch.rand(18, 5, generator=g) > 0.3).double()
    mask[:, 0] = 1
    labels = torch.randint(0, 3, (18,), generator=g)
    batches = [{"input_ids": i, "attention_mask": m, "labels": lab}
               for i, m, lab in zip(ids.split(6), mask.split(6), labels.split(6))]
    return model, batches, (ids, mask, labels)


def test_dict_batches_loss_line_and_curvature(dict_data):
    model, batches, (ids, mask, labels) = dict_data
    land = Landscape(model, batches)
    theta, lay = params.flatten(model), params.layout(model)
    loss = lambda t: nn.functional.cross_entropy(  # noqa: E731
        functional_call(model, params.unflatten(t, lay), (), {"input_ids": ids, "attention_mask": mask})["logits"],
        labels)
    assert torch.allclose(land(theta), loss(theta))
    other = theta + 0.3 * torch.randn(theta.shape, dtype=theta.dtype, generator=torch.Generator().manual_seed(2))
    res = surfaces.line(land, theta, other, 4)
    assert torch.allclose(res["loss"], torch.stack([loss(t) for t in params.interpolate(theta, other, res["t"])]))
    top, _ = curvature.top_eigenvalues(land.loss_fn(theta), theta, k=2, tol=1e-10)
    assert torch.allclose(top, torch.linalg.eigvalsh(hessian(loss)(theta)).flip(0)[:2], atol=1e-9)


def test_a_custom_scalar_loss_works_but_the_fisher_needs_per_example_losses(regression):
    net, x, y = regression
    huber = lambda out, batch: nn.functional.huber_loss(out, batch[1], delta=0.5)  # noqa: E731
    land = Landscape(net, [(x, y)], objective=huber)
    theta = params.flatten(net)
    with torch.no_grad():
        assert torch.allclose(land(theta), nn.functional.huber_loss(net(x), y, delta=0.5))
    with pytest.raises(ValueError, match="parameter 'objective'.*per-example"):
        hessian_operator(operators.ef_loss(land, theta), theta)(torch.ones(theta.numel(), dtype=theta.dtype))


def test_bad_batches_fail_naming_the_parameter():
    net = nn.Linear(2, 2)
    x, y = torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="parameter 'batches'.*list of batches"):
        Landscape(net, (x, y))  # one (x, y) pair is one batch: [(x, y)]
    with pytest.raises(ValueError, match="parameter 'batch'"):
        Landscape(net, [[x, "y"]])
    with pytest.raises(ValueError, match="no targets"):
        Landscape(net, [{"input": x}])(params.flatten(net))
    with pytest.raises(ValueError, match="parameter 'objective'"):
        Landscape(net, [(x, y)], objective="mse")
