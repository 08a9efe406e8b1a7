"""The BatchNorm policy (wedges_lib.batchnorm, wedges_lib.landscape): with ``recompute`` every evaluated point —
on a line, a plane, a Bezier curve, an SWA average — gives the loss of a plain PyTorch model loaded with those
weights and ``torch.optim.swa_utils.update_bn``; a BatchNorm model without a policy fails naming it."""
import copy

import pytest
import torch
import torchvision
from torch import nn
from torch.optim.swa_utils import update_bn

from wedges_lib import batchnorm, connect, landscape, objectives, params, surfaces
from wedges_lib.landscape import Landscape
from wedges_lib.studies.ch92_your_model import update_bn_losses as reference  # plain PyTorch + update_bn

TOL = 2e-5  # float32: the recomputed statistics differ from update_bn's only in summation order


def bn_cnn(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 6), nn.BatchNorm1d(6), nn.ReLU(),
                         nn.Linear(6, 4))


def data(n: int, size: int, classes: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, classes, (n,), generator=g)


@pytest.fixture(scope="module")
def cnn_pair():
    a, b = bn_cnn(0), bn_cnn(1)
    x, y = data(72, 8, 4)
    train = objectives.split(x, y, size=32)  # 32 + 32 + 8: unequal batches, weighted equally as update_bn does
    test = objectives.split(*data(40, 8, 4, seed=1), size=20)
    return a, params.flatten(a), params.flatten(b), train, test


def test_line_with_recompute_matches_update_bn_at_every_point(cnn_pair):
    a, ta, tb, train, test = cnn_pair
    land = Landscape(a, test, bn_batches=train, chunk=3)  # 7 points: chunks of 3, 3, 1
    res = surfaces.line(land, ta, tb, 7)
    ref = reference(a, params.interpolate(ta, tb, res["t"]), test, train)
    assert torch.allclose(res["loss"], ref, atol=TOL, rtol=TOL), (res["loss"], ref)
    stored = Landscape(a, test, bn="eval", bn_batches=train)(params.interpolate(ta, tb, res["t"]))
    assert (stored - ref).abs().max() > 1e-3  # the stored statistics would give other numbers: the test can fail


def test_plane_with_recompute_matches_update_bn(cnn_pair):
    a, ta, tb, train, test = cnn_pair
    d = surfaces.random_directions(ta, 2, lay=params.layout(a), seed=3)
    xs, ys = torch.tensor([-0.5, 0.0, 0.5]), torch.tensor([-0.5, 0.5])
    res = surfaces.plane(Landscape(a, test, bn_batches=train), ta, d[0], d[1], xs, ys)
    pts = torch.stack([ta + xi * d[0] + yj * d[1] for yj in ys for xi in xs])
    assert torch.allclose(res["loss"].reshape(-1), reference(a, pts, test, train), atol=TOL, rtol=TOL)


def test_bezier_curve_with_recompute_matches_update_bn(cnn_pair):
    a, ta, tb, train, test = cnn_pair
    bend = 0.5 * (ta + tb) + 0.1 * torch.randn(ta.shape, generator=torch.Generator().manual_seed(5))
    ctrl = torch.stack([ta, bend, tb])
    res = connect.profile(Landscape(a, test, bn_batches=train), ctrl, 5, kind="bezier")
    ref = reference(a, connect.curve_points(ctrl, res["t"], kind="bezier"), test, train)
    assert torch.allclose(res["loss"], ref, atol=TOL, rtol=TOL)


def test_swa_average_loaded_is_update_bns_model(cnn_pair):
    a, ta, tb, train, test = cnn_pair
    swa = torch.stack([ta, tb, 0.5 * (ta + tb) + 0.01]).mean(0)
    mine = Landscape(a, test, bn_batches=train).load(swa)
    theirs = params.load_into(copy.deepcopy(a), swa)
    update_bn(train, theirs)
    for k, v in theirs.state_dict().items():
        if "num_batches" not in k:
            assert torch.allclose(mine.state_dict()[k], v, atol=1e-6, rtol=1e-5), k
    x = test[0][0]
    assert torch.allclose(mine(x), theirs.eval()(x), atol=1e-5)
    assert not mine.training and a.training  # a copy in eval mode; the user's model untouched


def test_resnet18_line_with_recompute_matches_update_bn():
    a = torchvision.models.resnet18(weights=None, num_classes=10)
    torch.manual_seed(1)
    b = torchvision.models.resnet18(weights=None, num_classes=10)
    ta, tb = params.flatten(a), params.flatten(b)
    train = objectives.split(*data(32, 32, 10), size=16)
    test = objectives.split(*data(16, 32, 10, seed=2), size=16)
    ts = torch.tensor([0.0, 0.5, 1.0])
    res = surfaces.line(Landscape(a, test, bn_batches=train), ta, tb, ts)
    ref = reference(a, params.interpolate(ta, tb, ts), test, train)
    assert torch.allclose(res["loss"], ref, atol=1e-4, rtol=1e-4), (res["loss"], ref)


def test_eval_and_train_policies_are_the_plain_modes(cnn_pair):
    a, ta, _, train, test = cnn_pair
    x, y = test[0]
    with torch.no_grad():
        ev = nn.functional.cross_entropy(copy.deepcopy(a).eval()(x), y)
        tr = nn.functional.cross_entropy(copy.deepcopy(a).train()(x), y)
    assert torch.allclose(Landscape(a, [test[0]], bn="eval")(ta), ev, atol=1e-6)
    assert torch.allclose(Landscape(a, [test[0]], bn="train")(ta), tr, atol=1e-6)
    assert not torch.allclose(ev, tr)
    assert torch.equal(a[1].running_mean, bn_cnn(0)[1].running_mean)  # evaluating stored nothing


def test_statistics_vmapped_equal_one_point_at_a_time(cnn_pair):
    a, ta, tb, train, _ = cnn_pair
    land = Landscape(a, train, chunk=2)
    th = params.interpolate(ta, tb, torch.linspace(0, 1, 5))
    many = land.statistics(th)
    names = {f"{n}.{b}" for n in batchnorm.bn_modules(a) for b in ("running_mean", "running_var")}
    assert set(many) == names and many["1.running_mean"].shape == (5, 8)
    for k, theta in enumerate(th):
        one = land.statistics(theta)
        assert all(torch.allclose(many[n][k], one[n], atol=1e-6) for n in one)


def test_a_large_model_on_a_cpu_is_evaluated_one_point_at_a_time_with_the_same_losses(cnn_pair, monkeypatch):
    a, ta, tb, train, test = cnn_pair
    th = params.interpolate(ta, tb, torch.linspace(0, 1, 5))
    vmapped = Landscape(a, test, bn_batches=train)(th)
    monkeypatch.setattr(landscape, "SMALL_D", 0)  # every model is large
    land = Landscape(a, test, bn_batches=train)
    assert [len(c) for c in land._chunks(th)] == [1] * 5
    torch.testing.assert_close(land(th), vmapped, atol=1e-6, rtol=1e-6)


def test_train_policy_ignores_dropout():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 2))
    batch = objectives.split(torch.randn(16, 4), torch.randint(0, 2, (16,)), size=16)
    land = Landscape(net, batch, bn="train")
    theta = params.flatten(net)
    assert torch.equal(land(theta), land(theta))


def test_a_bn_model_without_policy_fails_naming_the_policy():
    a = bn_cnn(0)
    batches = objectives.split(*data(8, 8, 4), size=8)
    with pytest.raises(ValueError, match=r"parameter 'bn': got None.*'recompute'.*'eval'.*'train'"):
        Landscape(a, batches, bn=None)
    with pytest.raises(ValueError, match=r"parameter 'bn': got 'running'; expected one of 'recompute'"):
        Landscape(a, batches, bn="running")
    with pytest.raises(ValueError, match=r"parameter 'bn': got None"):
        batchnorm.check_policy(a, None)
    plain = nn.Sequential(nn.Linear(3, 2))
    assert Landscape(plain, [(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))], bn=None).bn is None


def test_the_plain_evaluators_refuse_a_bn_model_naming_the_policy(cnn_pair):
    """Every evaluator that has no ``bn`` parameter (params, and surfaces or curvature through it) refuses a
    network with running statistics instead of silently using whatever its buffers hold."""
    model, a, b, train, _ = cnn_pair
    x, y = train[0]
    message = r"parameter 'bn': got None.*'recompute'.*Landscape"
    for call in (lambda: params.evaluate(model, torch.stack([a, b]), x, y),
                 lambda: params.loss(model, a, x, y),
                 lambda: params.forward(model, a, x),
                 lambda: surfaces.line(model, a, b, 3, x=x, y=y)):
        with pytest.raises(ValueError, match=message):
            call()


def test_recompute_needs_its_statistics_when_evaluating_one_point(cnn_pair):
    a, ta, _, train, _ = cnn_pair
    with pytest.raises(ValueError, match="parameter 'stats'"):
        Landscape(a, train).output(ta, train[0])
