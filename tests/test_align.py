"""wedges_lib.align: permutations keep the function, matching recovers a permuted copy, and lowers a real barrier."""
import pytest
import torch
from torch import nn

from wedges_lib import align, config, connect, models, params, solutions

NETS = {"mlp": (40,), "cnn1d": (40,), "cifar_cnn": (3, 32, 32)}


def _gn_chain() -> nn.Module:
    """A conv chain with a GroupNorm of 2 groups: its first layer's channels may move only within their group."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(1, 8, 3), nn.GroupNorm(2, 8), nn.ReLU(), nn.Conv1d(8, 6, 3), nn.ReLU(),
                         nn.MaxPool1d(2), nn.Flatten(), nn.Linear(6 * 3, 3))


def _net(name):
    if name == "gn":
        return _gn_chain(), torch.randn(16, 1, 10, generator=torch.Generator().manual_seed(1))
    shape = NETS[name]
    return models.make(name, shape, 10, width=0.25), torch.randn(16, *shape, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", [*NETS, "gn"])
def test_a_permuted_network_computes_the_same_function_at_another_point(name):
    net, x = _net(name)
    theta = params.flatten(net)
    moved = align.permute(net, theta, align.random_perms(net, seed=3))
    assert (moved - theta).norm() > 0.1 * theta.norm()  # a different point ...
    assert torch.allclose(params.forward(net, moved, x), params.forward(net, theta, x), atol=1e-5)  # ... same logits
    assert torch.equal(align.permute(net, theta, [torch.arange(n) for n in align.spec(net).sizes]), theta)


def test_group_norm_confines_a_layer_to_its_groups():
    net, _ = _net("gn")
    s = align.spec(net)
    assert s.sizes == (8, 6) and s.groups == (2, 1)
    for _ in range(5):
        p = align.random_perms(net, seed=_)[0]
        assert sorted(p[:4].tolist()) == [0, 1, 2, 3] and sorted(p[4:].tolist()) == [4, 5, 6, 7]


@pytest.mark.parametrize("name", [*NETS, "gn"])
def test_weight_matching_recovers_a_permuted_copy_exactly(name):
    net, x = _net(name)
    theta = params.flatten(net)
    moved = align.permute(net, theta, align.random_perms(net, seed=5))
    back = align.weight_matching(net, theta, moved)
    assert torch.equal(back, theta)
    line = connect.profile(net, torch.stack([theta, back]), 5, x=x, y=torch.zeros(len(x), dtype=torch.long))
    assert float(connect.barrier_height(line["loss"])) == pytest.approx(0.0, abs=1e-6)
    before = connect.profile(net, torch.stack([theta, moved]), 5, x=x, y=torch.zeros(len(x), dtype=torch.long))
    assert not torch.allclose(before["loss"], line["loss"])  # the permuted copy was really elsewhere


@pytest.mark.parametrize("name", ["mlp", "cnn1d"])
def test_activation_matching_recovers_a_permuted_copy(name):
    net, _ = _net(name)
    x = torch.randn(512, *NETS[name], generator=torch.Generator().manual_seed(2))
    theta = params.flatten(net)
    moved = align.permute(net, theta, align.random_perms(net, seed=6))
    assert torch.equal(align.activation_matching(net, theta, moved, x), theta)


@pytest.fixture(scope="module")
def trained_pair(smoke_data):
    cfg = config.resolve("smoke", solution_seed=900)
    net, sol = solutions.independent(cfg, smoke_data, 2)
    assert not sol["diverged"].any()
    return net, sol["theta"], smoke_data


def _barrier(net, a, c, data):
    line = connect.profile(net, torch.stack([a, c]), 11, x=data.x_train, y=data.y_train)
    return float(connect.barrier_height(line["loss"]))


@pytest.mark.parametrize("method", align.METHODS)
def test_alignment_lowers_the_barrier_of_two_trained_networks(trained_pair, method):
    net, th, data = trained_pair
    aligned = align.align(net, th[0], th[1], method=method, x=data.x_train)
    x = data.x_train[:64]
    assert torch.allclose(params.forward(net, aligned, x), params.forward(net, th[1], x), atol=1e-4)
    before, after = _barrier(net, th[0], th[1], data), _barrier(net, th[0], aligned, data)
    assert before > 0.05 and after < 0.8 * before, (before, after)


def test_align_all_aligns_each_row_and_leaves_the_reference(trained_pair):
    net, th, data = trained_pair
    out = align.align_all(net, th[0], th)
    assert out.shape == th.shape and torch.equal(out[0], th[0])
    assert torch.equal(out[1], align.weight_matching(net, th[0], th[1]))


@pytest.mark.parametrize("name", ["mlp", "gn"])
def test_merge_many_brings_permuted_copies_back_to_one_point(name):
    net, x = _net(name)
    theta = params.flatten(net)
    copies = torch.stack([align.permute(net, theta, align.random_perms(net, seed=s)) for s in (1, 2, 3)])
    out = align.merge_many(net, copies)
    assert torch.equal(out[1], out[0]) and torch.equal(out[2], out[0])  # one point: a common relabelling of theta
    assert torch.allclose(params.forward(net, out[0], x), params.forward(net, theta, x), atol=1e-5)


def test_merge_many_reaches_a_fixed_point_and_keeps_every_function():
    net, x = _net("mlp")
    thetas = 0.1 * torch.randn(3, params.layout(net).dim, generator=torch.Generator().manual_seed(4))
    out = align.merge_many(net, thetas, max_rounds=20)
    for t, o in zip(thetas, out):
        assert torch.allclose(params.forward(net, o, x), params.forward(net, t, x), atol=1e-5)
    assert torch.equal(align.merge_many(net, out, max_rounds=1, seed=7), out)  # no member moves any more
    spread = lambda v: float((v - v.mean(0)).norm(dim=1).sum())  # noqa: E731
    assert spread(out) < spread(thetas)  # nearer their mean than before


def test_unsupported_models_and_methods_are_named():
    with pytest.raises(ValueError, match="parameter 'model'.*resnet"):
        align.spec(models.make("resnet", (3, 32, 32), 10, width=0.25))
    with pytest.raises(ValueError, match="parameter 'model'"):
        align.spec(nn.Linear(3, 2))
    with pytest.raises(ValueError, match="parameter 'model'"):
        align.spec(nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2)))
    net, x = _net("mlp")
    theta = params.flatten(net)
    with pytest.raises(ValueError, match="parameter 'method'"):
        align.align(net, theta, theta, method="sinkhorn")
    with pytest.raises(ValueError, match="parameter 'x'"):
        align.align(net, theta, theta, method="activation")
    with pytest.raises(ValueError, match="parameter 'theta'"):
        align.weight_matching(net, theta, theta[:-1])
    with pytest.raises(ValueError, match="parameter 'thetas'"):
        align.align_all(net, theta, theta)
    with pytest.raises(ValueError, match="parameter 'perms'"):
        align.permute(net, theta, [])
