"""GGN, empirical Fisher and per-layer curvature (wedges_lib.operators): the matrices the transformed losses give
equal the dense ones of a tiny net to machine precision, the curvature estimators run on them unchanged, and on
the curvature benchmark's MLP they agree with curvlinops 3."""
import numpy as np
import pytest
import scipy.sparse.linalg
import torch
from torch import nn
from torch.func import functional_call, grad, hessian, jacrev, vmap

from wedges_lib import curvature, objectives, operators, params
from wedges_lib.hessian import DatasetLoss, hessian_operator
from wedges_lib.landscape import Landscape

OPERATORS = {"hessian": lambda land, theta: land.loss_fn(theta),  # each operator's transformed loss
             "ggn": operators.ggn_loss, "ef": operators.ef_loss}


@pytest.fixture(scope="module")
def tiny():
    """A tanh MLP 3-5-4 on 12 examples, float64, with its dense Hessian, GGN and empirical Fisher."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4)).double()
    x, y = torch.randn(12, 3, dtype=torch.float64), torch.randint(0, 4, (12,))
    theta, lay = params.flatten(net), params.layout(net)
    f = lambda t: functional_call(net, params.unflatten(t, lay), (x,))  # noqa: E731
    H = hessian(lambda t: nn.functional.cross_entropy(f(t), y))(theta)
    J = jacrev(f)(theta)  # (N, C, D)
    Hout = hessian(lambda o: nn.functional.cross_entropy(o, y))(f(theta))  # (N, C, N, C)
    G = torch.einsum("ncd,ncmk,mke->de", J, Hout, J)
    per_ex = lambda t, xi, yi: nn.functional.cross_entropy(  # noqa: E731
        functional_call(net, params.unflatten(t, lay), (xi[None],)), yi[None])
    g = vmap(grad(per_ex), in_dims=(None, 0, 0))(theta, x, y)
    return net, x, y, theta, {"hessian": H, "ggn": G, "ef": g.T @ g / len(y)}


@pytest.mark.parametrize("n_batches", [1, 3])
@pytest.mark.parametrize("operator", OPERATORS)
def test_operator_matrix_equals_the_dense_one(tiny, operator, n_batches):
    net, x, y, theta, dense = tiny
    land = Landscape(net, objectives.split(x, y, size=12 // n_batches))
    loss = OPERATORS[operator](land, theta)
    assert isinstance(loss, DatasetLoss) == (n_batches > 1)
    M = hessian_operator(loss, theta)(torch.eye(theta.numel(), dtype=theta.dtype))
    assert torch.allclose(M, dense[operator], atol=1e-12), (M - dense[operator]).abs().max()
    values, _ = curvature.top_eigenvalues(loss, theta, k=3, tol=1e-10)
    exact = torch.linalg.eigvalsh(dense[operator]).flip(0)[:3]
    assert torch.allclose(values, exact, atol=1e-9)
    tr = curvature.trace(loss, theta, n_probes=400)
    assert abs(tr.value - float(dense[operator].trace())) < 4 * tr.stderr + 1e-12


def test_ggn_and_fisher_are_positive_semidefinite_and_differ_from_the_hessian(tiny):
    *_, dense = tiny
    for name in ("ggn", "ef"):
        assert torch.linalg.eigvalsh(dense[name]).min() > -1e-12
    assert torch.linalg.eigvalsh(dense["hessian"]).min() < -1e-6  # a tanh net away from a minimum: the test
    assert (dense["ggn"] - dense["hessian"]).abs().max() > 1e-3  # of GGN != Hessian can fail


def test_blocks_are_layers(tiny):
    net, *_ = tiny
    assert operators.layer_blocks(net) == {"0": slice(0, 20), "2": slice(20, 44)}


def test_block_traces_estimate_every_block_from_shared_probes(tiny):
    net, x, y, theta, dense = tiny
    blocks = operators.layer_blocks(net)
    est = operators.block_traces(Landscape(net, [(x, y)]).loss_fn(theta), theta, blocks, n_probes=3000, seed=1)
    for name, s in blocks.items():
        exact = float(dense["hessian"][s, s].trace())
        assert abs(est[name].value - exact) < 4 * est[name].stderr, (name, est[name], exact)
        assert est[name].stderr < 0.1 * abs(exact)  # not a vacuous pass


# --------------------------------------------------------------------------- curvlinops


@pytest.fixture(scope="module")
def benchmark_mlp():
    """The curvature benchmark's problem (benchmarks/curvature.py): MLP 40-256-256-10 at its seeded init, 1000
    random MNIST-1D-shaped examples, mean cross-entropy, float32."""
    torch.manual_seed(0)
    sizes, layers = (40, 256, 256, 10), []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    x, y = torch.randn(1000, 40), torch.randint(0, 10, (1000,))
    return model, x, y


@pytest.mark.parametrize("operator", OPERATORS)
def test_agrees_with_curvlinops_on_the_benchmark_mlp(benchmark_mlp, operator):
    curvlinops = pytest.importorskip("curvlinops")
    model, x, y = benchmark_mlp
    cls = {"hessian": curvlinops.HessianLinearOperator, "ggn": curvlinops.GGNLinearOperator,
           "ef": curvlinops.EFLinearOperator}[operator]
    ps = [p for p in model.parameters()]
    theirs = cls(model, nn.CrossEntropyLoss(), ps, [(x, y)], check_deterministic=False)
    theta = params.flatten(model)
    land = Landscape(model, objectives.split(x, y, size=500))
    loss = OPERATORS[operator](land, theta)
    V = torch.randn(4, theta.numel(), generator=torch.Generator().manual_seed(0))
    mine = hessian_operator(loss, theta)(V)
    ref = torch.stack([theirs @ v for v in V])
    rel = float((mine - ref).norm() / ref.norm())
    assert rel < 1e-4, rel
    top, _ = curvature.top_eigenvalues(loss, theta, k=1, tol=1e-4)
    ref_top = scipy.sparse.linalg.eigsh(theirs.to_scipy(np.float32), k=1, which="LA", tol=1e-5)[0][-1]
    assert abs(float(top[0]) - ref_top) < 1e-3 * abs(ref_top), (float(top[0]), ref_top)


def test_curvature_of_a_batchnorm_net_holds_the_recomputed_statistics_fixed():
    """Under bn='recompute' the Hessian and GGN at theta are those of the plain model after update_bn, in eval
    mode; under bn='train' the Hessian differentiates through the batch statistics too (another matrix)."""
    import copy

    from torch.optim.swa_utils import update_bn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 3)).double()
    x, y = torch.randn(16, 3, dtype=torch.float64), torch.randint(0, 3, (16,))
    theta, lay = params.flatten(net), params.layout(net)
    ref = copy.deepcopy(net)
    update_bn([(x[:8], y[:8]), (x[8:], y[8:])], ref)
    ref.eval()
    buffers = dict(ref.named_buffers())
    f = lambda t: functional_call(ref, {**params.unflatten(t, lay), **buffers}, (x,))  # noqa: E731
    H = hessian(lambda t: nn.functional.cross_entropy(f(t), y))(theta)
    J = jacrev(f)(theta)
    Hout = hessian(lambda o: nn.functional.cross_entropy(o, y))(f(theta))
    G = torch.einsum("ncd,ncmk,mke->de", J, Hout, J)
    land = Landscape(net, [(x, y)], bn_batches=objectives.split(x, y, size=8))
    eye = torch.eye(theta.numel(), dtype=theta.dtype)
    assert torch.allclose(hessian_operator(land.loss_fn(theta), theta)(eye), H, atol=1e-10)
    assert torch.allclose(hessian_operator(operators.ggn_loss(land, theta), theta)(eye), G, atol=1e-10)
    H_train = hessian_operator(Landscape(net, [(x, y)], bn="train").loss_fn(theta), theta)(eye)
    assert (H_train - H).abs().max() > 1e-4


def test_ggn_trace_is_exact_and_is_the_hessian_trace_for_piecewise_linear_nets(tiny):
    net, x, y, theta, dense = tiny
    # any activation: the exact GGN trace, per layer too (the diagonal blocks of the dense GGN)
    assert operators.ggn_trace(net, theta, x, y, batch=5) == pytest.approx(float(dense["ggn"].trace()), rel=1e-12)
    per_layer = operators.ggn_trace(net, theta, x, y, by_layer=True)
    blocks = operators.layer_blocks(net)
    assert per_layer.keys() == blocks.keys()
    for name, s in blocks.items():
        assert per_layer[name] == pytest.approx(float(dense["ggn"][s, s].trace()), rel=1e-12)
    assert not operators.is_piecewise_linear(net)  # tanh: Tr(H) differs (the dense fixture is away from a minimum)
    assert abs(float(dense["hessian"].trace()) - float(dense["ggn"].trace())) > 1e-4
    # ReLU and LeakyReLU, with and without biases: Tr(GGN) = Tr(H) exactly (the logits' second derivatives in any
    # single parameter vanish)
    torch.manual_seed(1)
    for act in (nn.ReLU(), nn.LeakyReLU(0.1)):
        for bias in (True, False):
            relu = nn.Sequential(nn.Flatten(), nn.Linear(6, 7, bias=bias), act, nn.Linear(7, 5, bias=bias), act,
                                 nn.Linear(7 - 2, 4)).double()
            xs, ys = torch.randn(30, 2, 3, dtype=torch.float64), torch.randint(0, 4, (30,))
            th = params.flatten(relu)
            H = hessian(params.loss_fn(relu, xs, ys))(th)
            assert operators.is_piecewise_linear(relu)
            assert operators.ggn_trace(relu, th, xs, ys, batch=8) == pytest.approx(float(H.trace()), rel=1e-10)
    with pytest.raises(ValueError, match="'model'"):
        operators.ggn_trace(nn.Sequential(nn.Conv1d(1, 2, 3)), torch.zeros(8), x, y)
