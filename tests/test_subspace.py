"""Tests of wedges_lib.projections (Hadamard transform, projections) and wedges_lib.subspace: subspace training,
intrinsic dimension, temperature and the restricted Goldilocks ratio."""
import json
import math
import subprocess
import sys

import pytest
import torch

from wedges_lib import config, params, subspace, train
from wedges_lib.projections import (
    PROJECTIONS,
    blocked_projection,
    dense_projection,
    fastfood_projection,
    fwht,
    hadamard,
    make_projection,
    sparse_projection,
    stack_projections,
)
from wedges_lib.subspace import subspace_train, threshold_dim

SCALABLE = ("blocked", "sparse", "fastfood")


def projection_matrix(proj) -> torch.Tensor:
    """The explicit (D, d) matrix of ``proj`` (its columns P e_j); for small D·d only."""
    return proj(torch.eye(proj.d)).T


# --- Walsh–Hadamard -----------------------------------------------------------------------------

def test_hadamard_is_sylvester_and_orthogonal():
    H2 = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    H8 = torch.kron(torch.kron(H2, H2), H2)
    assert torch.equal(hadamard(8), H8)
    parity = torch.tensor([[bin(a & b).count("1") % 2 for b in range(32)] for a in range(32)])
    assert torch.equal(hadamard(32), (1 - 2 * parity).float())
    H = hadamard(64)
    assert torch.equal(H @ H.T, 64 * torch.eye(64))


@pytest.mark.parametrize("n", [1, 2, 32, 1024, 4096])
def test_fwht_matches_explicit_matrix(n):
    x = torch.randn(3, 2, n, dtype=torch.float64)
    assert torch.allclose(fwht(x), x @ hadamard(n, torch.float64), atol=1e-9)
    assert torch.allclose(fwht(fwht(x)), n * x, atol=1e-8)  # H H = n I


def test_fwht_gradient_is_transform_of_gradient():
    x = torch.randn(5, 256, dtype=torch.float64, requires_grad=True)
    g = torch.randn(5, 256, dtype=torch.float64)
    fwht(x).backward(g)
    assert torch.allclose(x.grad, g @ hadamard(256, torch.float64), atol=1e-9)
    assert torch.autograd.gradcheck(fwht, (torch.randn(2, 16, dtype=torch.float64, requires_grad=True),))
    xs = torch.randn(4, 3, 32)
    assert torch.allclose(torch.func.vmap(fwht)(xs), fwht(xs), atol=1e-5)  # usable under vmap


@pytest.mark.parametrize("n", [2, 256, 4096, 16384])
def test_fwht_equals_the_transposing_form(n):
    """The transform H_h on each group of bits in place equals, bit for bit, H_h on the lowest bits then
    rotating them to the top (the form it replaced, one transposed copy per group)."""
    def rotating(x):
        bits = n.bit_length() - 1
        while bits > 0:
            h = 1 << min(5, bits)
            x = (x.reshape(-1, h) @ hadamard(h)).reshape(*x.shape[:-1], n // h, h).transpose(-1, -2).reshape(x.shape)
            bits -= min(5, bits)
        return x

    x = torch.randn(6, 3, n)
    assert torch.equal(fwht(x), rotating(x))


def test_fwht_rejects_non_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        fwht(torch.zeros(12))


# --- projections --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", PROJECTIONS)
def test_columns_nearly_orthonormal(kind):
    D, d = 4096, 64
    M = projection_matrix(make_projection(kind, D, d, seed=1)).double()
    assert M.shape == (D, d)
    norm2 = (M ** 2).sum(0)
    if kind in ("sparse", "fastfood"):  # exact: sparse always, fastfood when the block (64) divides D
        assert torch.allclose(norm2, torch.ones(d, dtype=torch.float64), atol=1e-5)
    else:  # Gaussian: E = 1, std sqrt(2 / D) = 0.022 per column
        assert (norm2 - 1).abs().max() < 6 * math.sqrt(2 / D)
        assert abs(norm2.mean() - 1) < 4 * math.sqrt(2 / D / d)
    cos = M.T @ M / torch.outer(norm2.sqrt(), norm2.sqrt())
    off = cos - torch.diag(torch.diag(cos))
    var = 2 / D if kind == "fastfood" else 1 / D  # Fastfood: Var(G²) = 2 enters the cosines
    assert off.abs().max() < 6 * math.sqrt(var)  # max over 2016 pairs ~ 4 standard deviations
    assert abs(off.pow(2).sum() / (d * (d - 1)) / var - 1) < 0.25  # mean squared cosine


def test_fastfood_norms_when_block_does_not_divide_D():
    M = projection_matrix(fastfood_projection(3000, 100, seed=2)).double()  # block 128, last block cut
    assert (M.norm(dim=0) - 1).abs().max() < 0.05


def test_fastfood_is_H_G_Pi_H_B_per_block():
    D, d = 256, 50
    proj = fastfood_projection(D, d, seed=3)
    B, perm, G = (proj.state[k].double() for k in ("B", "perm", "G"))
    L = 64
    H = hadamard(L, torch.float64)
    blocks = [H @ torch.diag(G[b]) @ torch.eye(L, dtype=torch.float64)[perm[b].long()] @ H @ torch.diag(B[b])
              for b in range(D // L)]
    explicit = torch.cat(blocks)[:, :d]
    assert torch.allclose(projection_matrix(proj).double(), explicit, atol=1e-5)


def test_uber_single_block_form():
    D, d = 1000, 30
    M = projection_matrix(fastfood_projection(D, d, seed=0, block=1024)).double()
    assert M.shape == (D, d)
    assert (M.norm(dim=0) - 1).abs().max() < 0.1  # 1000 of the 1024 rows of a unit-column block, rescaled


@pytest.mark.parametrize("kind", PROJECTIONS)
def test_deterministic_from_seed_and_linear(kind):
    D, d = 700, 20
    a = projection_matrix(make_projection(kind, D, d, seed=5))
    b = projection_matrix(make_projection(kind, D, d, seed=5))
    c = projection_matrix(make_projection(kind, D, d, seed=6))
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 0.01
    proj = make_projection(kind, D, d, seed=5)
    w = torch.randn(4, d)
    out = proj(w)
    assert out.shape == (4, D)
    assert torch.allclose(out, w @ a.T, atol=1e-5)  # batched call = explicit matrix, row by row
    assert torch.allclose(proj(w[1]), out[1], atol=1e-6)


@pytest.mark.parametrize("rows", [None, 64, 333])
def test_blocked_equals_dense_with_same_seeds(rows):
    D, d = 1000, 37
    dense = dense_projection(D, d, seed=9, block_rows=rows)
    blocked = blocked_projection(D, d, seed=9, block_rows=rows)
    assert torch.equal(projection_matrix(blocked), dense.state["matrix"])
    assert blocked.nbytes == 0
    w = torch.randn(3, d, requires_grad=True)
    g = torch.randn(3, D)
    blocked(w).backward(g)
    assert torch.allclose(w.grad, g @ dense.state["matrix"], atol=1e-5)


@pytest.mark.parametrize("kind", SCALABLE)
def test_gradient_is_transpose(kind):
    D, d = 500, 16
    proj = make_projection(kind, D, d, seed=0)
    M = projection_matrix(proj)
    w = torch.randn(2, d, requires_grad=True)
    g = torch.randn(2, D)
    proj(w).backward(g)
    assert torch.allclose(w.grad, g @ M, atol=1e-5)


def test_stack_projections_uses_one_per_group():
    D, d = 300, 8
    p0, p1 = fastfood_projection(D, d, 0), sparse_projection(D, d, 1)
    st = stack_projections([p0, p1], group=2)
    w = torch.randn(4, d)
    out = st(w)
    assert torch.allclose(out[:2], p0(w[:2])) and torch.allclose(out[2:], p1(w[2:]))
    with pytest.raises(ValueError, match="'w'"):
        st(torch.randn(3, d))


def test_stacked_fastfood_equals_each_projection():
    """Fastfood projections stacked run in one pass: bit for bit each group through its own, values and gradient."""
    D, d = 3000, 100
    projs = [fastfood_projection(D, d, s) for s in range(3)]
    st = stack_projections(projs, group=2)
    w = torch.randn(6, d, requires_grad=True)
    g = torch.randn(6, D)
    (gw,) = torch.autograd.grad(st(w), w, g)
    parts = [p(wi) for p, wi in zip(projs, w.split(2))]
    assert torch.equal(st(w), torch.cat(parts))
    assert torch.equal(gw, torch.autograd.grad(parts, w, list(g.split(2)))[0])


def test_projection_errors_name_the_parameter():
    with pytest.raises(ValueError, match="'projection'.*fastfood"):
        make_projection("gaussian", 100, 10)
    with pytest.raises(ValueError, match="'d'"):
        make_projection("fastfood", 100, 200)
    with pytest.raises(ValueError, match="'w'"):
        make_projection("sparse", 100, 10)(torch.zeros(11))


_MEMORY_CHILD = r"""
import json, re, resource, sys, torch
torch.set_num_threads(1)
from wedges_lib import projections
kind, D, d, kw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
small = projections.make_projection(kind, 4096, min(d, 64), seed=0)  # warm-up: loads BLAS / sparse kernels
small(torch.randn(min(d, 64), requires_grad=True)).sum().backward()
def peak():  # VmHWM: this process's own peak RSS (ru_maxrss would inherit the parent's RSS at fork)
    try:
        return int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base = peak()
proj = projections.make_projection(kind, D, d, seed=0, **kw)
w = torch.randn(d, requires_grad=True)
out = proj(w)
out.backward(torch.ones(D))
assert out.shape == (D,) and torch.isfinite(w.grad).all()
print(json.dumps(dict(extra=peak() - base, state=proj.nbytes)))
"""


_MEMORY_CASES = {  # kind, D, d, keywords; a dense (D, d) float32 P would take D·d·4 bytes
    "fastfood": ("fastfood", 1 << 20, 10_000, {}),  # 42 GB
    "sparse": ("sparse", 1 << 20, 10_000, {}),  # 42 GB
    "blocked": ("blocked", 1 << 17, 512, {"block_rows": 1024}),  # 0.25 GB: 2 KB per parameter
    "dense": ("dense", 1 << 17, 512, {}),  # the control: 0.25 GB
}


@pytest.fixture(scope="module")
def child_memory():
    """Peak-RSS growth of each case, measured in fresh processes started together."""
    procs = {name: subprocess.Popen([sys.executable, "-c", _MEMORY_CHILD, kind, str(D), str(d), json.dumps(kw)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, (kind, D, d, kw) in _MEMORY_CASES.items()}
    out = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-2000:]
        out[name] = json.loads(stdout.strip().splitlines()[-1])
    return out


@pytest.mark.parametrize("name", ["fastfood", "sparse", "blocked"])
def test_no_dense_matrix_is_built(child_memory, name):
    """Build and apply (forward and backward) at sizes where a dense (D, d) matrix cannot fit or would dominate."""
    kind, D, d, _ = _MEMORY_CASES[name]
    extra = child_memory[name]["extra"]
    limit = 64 * 2**20 + 200 * D  # a fixed allowance (allocator, thread pools) + 200 bytes per parameter
    assert extra < limit, f"{kind}: peak grew {extra / 2**20:.0f} MB for D = {D} (limit {limit / 2**20:.0f} MB)"
    assert extra < D * d * 4 / 4


def test_memory_measurement_sees_a_dense_matrix(child_memory):
    """The control: the same measurement on the dense projection shows its (D, d) matrix."""
    _, D, d, _ = _MEMORY_CASES["dense"]
    assert child_memory["dense"]["extra"] > 0.9 * D * d * 4


# --- training in a subspace ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def setup(smoke_data):
    cfg = config.resolve("smoke")
    model, th = train.init(cfg, smoke_data, [0, 1])
    return cfg, smoke_data, model, th


def test_only_w_gets_gradients_and_training_helps(setup):
    cfg, ds, model, th = setup
    D = th.shape[1]
    theta0 = th[0].clone()
    proj = fastfood_projection(D, 100, seed=0)
    res = subspace_train(model, ds, theta0, proj, steps=60, lr=0.1, quiet=True)
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(theta0, th[0])
    assert res.w.shape == (100,) and res.w.abs().sum() > 0
    assert torch.allclose(res.theta, theta0 + proj(res.w), atol=1e-6)  # it stayed in the subspace
    assert res.batch_loss.shape == (60,)
    assert res.batch_loss[-10:].mean() < 0.9 * res.batch_loss[0]
    assert not res.diverged and res.acc > 0.15


def test_w_gradient_is_projected_theta_gradient(setup):
    """d/dw L(theta0 + P w) = P^T grad L, checked against the dense matrix."""
    cfg, ds, model, th = setup
    D = th.shape[1]
    proj = sparse_projection(D, 20, seed=0)
    M = projection_matrix(proj)
    f = params.loss_fn(model, ds.x_train[:200], ds.y_train[:200])
    w = torch.randn(20, requires_grad=True)
    f(th[0] + proj(w)).backward()
    theta = (th[0] + M @ w.detach()).requires_grad_()
    f(theta).backward()
    assert torch.allclose(w.grad, M.T @ theta.grad, atol=1e-5)


def test_stacked_members_equal_separate_runs(setup):
    cfg, ds, model, th = setup
    D = th.shape[1]
    proj = fastfood_projection(D, 30, seed=1)
    kw = dict(steps=25, lr=0.01, quiet=True)
    both = subspace_train(model, ds, torch.stack([th[0], 2 * th[1]]), proj, scale=torch.tensor([1.0, 2.0]),
                          seeds=[3, 4], **kw)
    one = subspace_train(model, ds, 2 * th[1], proj, scale=2.0, seeds=4, **kw)
    assert torch.allclose(both.w[1], one.w, atol=1e-5)
    assert torch.allclose(both.test_acc[1], one.test_acc)
    assert both.batch_loss.shape == (25, 2)


def test_divergence_is_flagged_not_raised(setup):
    cfg, ds, model, th = setup
    proj = sparse_projection(th.shape[1], 40, seed=0)
    res = subspace_train(model, ds, th, proj, optimizer="sgd", lr=1e4, steps=30, quiet=True)
    assert res.diverged.all() and (res.diverged_step >= 0).all()


def test_threshold_dim_interpolates_in_log_d():
    dims = [10, 100, 1000]
    acc = torch.tensor([[0.2, 0.5, 0.8], [0.7, 0.8, 0.9], [0.1, 0.2, 0.3]])
    d = threshold_dim(dims, acc, 0.65)
    assert d[0].item() == pytest.approx(10 ** 2.5)
    assert d[1].item() == 10 and math.isnan(d[2].item())
    per_row = threshold_dim(dims, acc, torch.tensor([0.35, 0.8, 0.3]))
    assert per_row.tolist() == pytest.approx([10 ** 1.5, 100, 1000])


def test_dim_sweep_and_intrinsic_dimension(setup):
    cfg, ds, model, th = setup
    idim = subspace.intrinsic_dimension(model, ds, th, [10, 40, 160], reference=0.22, fraction=0.9, bisect=1,
                                        radii=(1.0, 8.0), steps=100, lr=1.0, step="absolute", quiet=True)
    sw = idim.sweep
    assert sw.test_acc.shape == (2, 3, 2) and sw.dims == (10, 40, 160)
    mean, std = sw.mean_std()
    assert mean.shape == (2, 3) and (std >= 0).all()
    assert idim.d_star.shape == (2, 2) and idim.mean.shape == (2,)
    assert torch.allclose(idim.threshold, torch.tensor([0.198, 0.198], dtype=torch.float64))
    ok = torch.isfinite(idim.d_star)
    assert ok[0].all()  # radius 1 reaches 0.198 test accuracy within d = 160
    assert ((idim.d_star[ok] >= 10) & (idim.d_star[ok] <= 160)).all()
    assert len(idim.refined) >= 1 and all(10 < d < 160 for _, _, d, _ in idim.refined)
    assert len(sw.frame()) == 12
    # radius 1 must reach a better test accuracy than radius 8 at d = 160 (the effect the chapter measures)
    assert mean[0, 2] > mean[1, 2]


def test_goldilocks_matches_exact_hessian():
    from torch.func import hessian

    from wedges_lib import models

    torch.manual_seed(0)
    model = models.mlp(5, 3, hidden=(4,))
    theta = params.flatten(model)
    x, y = torch.randn(30, 5), torch.randint(0, 3, (30,))
    g = subspace.goldilocks(model, x, y, theta, (0.5, 2.0), n_probes=4000, seed=1)
    for i, r in enumerate((0.5, 2.0)):
        H = hessian(params.loss_fn(model, x, y))(r * theta)
        tr, fro = torch.trace(H).item(), H.norm().item()
        assert abs(g["trace"][i] - tr) < 5 * g["trace_se"][i] + 1e-6
        assert abs(g["frobenius"][i] - fro) < 5 * g["frobenius_se"][i] + 1e-6
        assert abs(g["ratio"][i] - tr / fro) < 5 * g["ratio_se"][i] + 1e-6


def test_config_parameters_registered():
    for scale in config.SCALES:
        cfg = config.resolve(scale)
        assert cfg.projection in PROJECTIONS and all(isinstance(d, int) for d in cfg.dims)
        assert list(cfg.dims) == sorted(cfg.dims) and min(cfg.radii) > 0 and 0 < cfg.id_fraction <= 1
    with pytest.raises(ValueError, match="'projection'"):
        config.resolve("smoke", projection="qr")
    with pytest.raises(ValueError, match="'radii'"):
        config.resolve("smoke", radii=(1.0, -2.0))


def test_sweep_intrinsic_dimension_interpolates_a_finished_sweep():
    acc = torch.tensor([[0.2, 0.5, 0.8], [0.7, 0.8, 0.9]]).T[None].expand(2, 3, 2).clone()  # (R, n, S)
    acc[1] = 0.1  # radius 1 never reaches the threshold
    z = torch.zeros(2, 3, 2)
    sw = subspace.SweepResult((10, 100, 1000), (1.0, 2.0), (0, 1), z, z, z, acc, z, z.bool())
    idim = subspace.sweep_intrinsic_dimension(sw, reference=torch.tensor([1.0, 1.0]), fraction=0.65)
    assert idim.d_star[0].tolist() == pytest.approx([10 ** 2.5, 10]) and idim.d_star[1].isnan().all()
    assert idim.mean[1].isnan()


# --- temperature, steps per radius, the restricted Goldilocks ratio ---------------------------------

def test_temperature_divides_the_logits_in_training_and_in_the_reported_loss(setup):
    cfg, ds, model, th = setup
    proj = fastfood_projection(th.shape[1], 30, seed=1)
    kw = dict(steps=15, lr=0.01, seeds=[3, 4], quiet=True)
    plain = subspace_train(model, ds, th, proj, **kw)
    ones = subspace_train(model, ds, th, proj, temperature=torch.ones(2), **kw)
    assert torch.allclose(ones.w, plain.w, atol=1e-6) and torch.allclose(ones.loss, plain.loss, rtol=1e-5)
    hot = subspace_train(model, ds, th, proj, temperature=torch.tensor([1.0, 0.01]), **kw)
    assert torch.allclose(hot.w[0], plain.w[0], atol=1e-6) and not torch.allclose(hot.w[1], plain.w[1])
    direct = torch.nn.functional.cross_entropy(params.forward(model, hot.theta[1], ds.x_train) / 0.01, ds.y_train)
    assert hot.loss[1].item() == pytest.approx(direct.item(), rel=1e-4)
    right = params.forward(model, hot.theta[1], ds.x_train).argmax(-1) == ds.y_train
    assert hot.acc[1].item() == pytest.approx(right.float().mean().item())


def test_dim_sweep_variants_in_one_pass_equal_separate_sweeps(setup):
    cfg, ds, model, th = setup
    kw = dict(seeds=(5, 6), steps=15, lr=0.5, quiet=True)
    temp = torch.tensor([[1.0, 1.0], [0.2, 0.3]])  # (R, S) for radii (1, 4)
    both = subspace.dim_sweep(model, ds, th, [20], radii=(1.0, 4.0, 1.0, 4.0, 1.0, 4.0),
                              step=("relative",) * 4 + ("absolute",) * 2,
                              temperature=torch.cat([torch.ones(2, 2), temp, torch.ones(2, 2)]), **kw)
    rel = subspace.dim_sweep(model, ds, th, [20], radii=(1.0, 4.0), step="relative", **kw)
    tmp = subspace.dim_sweep(model, ds, th, [20], radii=(1.0, 4.0), step="relative", temperature=temp, **kw)
    ab = subspace.dim_sweep(model, ds, th, [20], radii=(1.0, 4.0), step="absolute", **kw)
    for i, one in enumerate((rel, tmp, ab)):
        torch.testing.assert_close(both.loss[2 * i:2 * i + 2], one.loss, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(both.radius[2 * i:2 * i + 2], one.radius, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(rel.radius[1], ab.radius[1])  # the steps differ at radius 4
    with pytest.raises(ValueError, match="'step'"):
        subspace.dim_sweep(model, ds, th, [20], radii=(1.0, 4.0), step=("relative",), **kw)
    with pytest.raises(ValueError, match="'temperature'"):
        subspace.dim_sweep(model, ds, th, [20], radii=(1.0, 4.0), temperature=torch.ones(2, 3), **kw)


def test_restricted_goldilocks_equals_dense_projected_hessian():
    """Tr and ‖·‖_F of PᵀHP (d, d) through Hessian-vector products against the dense P and the exact H,
    with a temperature."""
    from torch.func import hessian

    from wedges_lib import models

    torch.manual_seed(0)
    model = models.mlp(5, 3, hidden=(4,))
    theta = params.flatten(model)
    x, y = torch.randn(30, 5), torch.randint(0, 3, (30,))
    proj = dense_projection(theta.numel(), 6, seed=2)
    P = projection_matrix(proj)
    g = subspace.goldilocks(model, x, y, theta, (0.5, 2.0), n_probes=4000, seed=1, temperature=(1.0, 3.0),
                            projection=proj)
    for i, (r, t) in enumerate(((0.5, 1.0), (2.0, 3.0))):
        def f(th, t=t):
            return torch.nn.functional.cross_entropy(params.forward(model, th, x) / t, y)
        Hr = P.T @ hessian(f)(r * theta) @ P
        tr, fro = torch.trace(Hr).item(), Hr.norm().item()
        assert abs(g["trace"][i] - tr) < 5 * g["trace_se"][i] + 1e-6
        assert abs(g["frobenius"][i] - fro) < 5 * g["frobenius_se"][i] + 1e-6
        assert abs(g["ratio"][i] - tr / fro) < 5 * g["ratio_se"][i] + 1e-6
