"""wedges_lib.curvature against the dense Hessian of a tiny network (93 parameters, float64)."""
import warnings

import pytest
import torch
from torch.func import functional_call

from wedges_lib import curvature as C

D_IN, HIDDEN, CLASSES, N = 5, 10, 3, 64


@pytest.fixture(scope="module")
def problem():
    """An MLP 5-10-3 (tanh) on random data as a loss of its flat parameter vector, plus its dense Hessian."""
    torch.manual_seed(1234)
    net = torch.nn.Sequential(torch.nn.Linear(D_IN, HIDDEN), torch.nn.Tanh(), torch.nn.Linear(HIDDEN, CLASSES)).double()
    x, y = torch.randn(N, D_IN, dtype=torch.float64), torch.randint(0, CLASSES, (N,))
    shapes = {name: p.shape for name, p in net.named_parameters()}
    theta = torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    def unflatten(t):
        out, i = {}, 0
        for name, shape in shapes.items():
            out[name] = t[i : i + shape.numel()].view(shape)
            i += shape.numel()
        return out

    def loss_on_batch(t, batch):
        xb, yb = batch
        return torch.nn.functional.cross_entropy(functional_call(net, unflatten(t), (xb,)), yb)

    def loss_fn(t):
        return loss_on_batch(t, (x, y))

    H = torch.func.hessian(loss_fn)(theta)
    return dict(loss_fn=loss_fn, loss_on_batch=loss_on_batch, theta=theta, H=H, x=x, y=y,
                eigenvalues=torch.linalg.eigvalsh(H))


def test_hvp_equals_dense_product(problem):
    f, theta, H = problem["loss_fn"], problem["theta"], problem["H"]
    g = torch.Generator().manual_seed(7)
    v = torch.randn(theta.shape, generator=g, dtype=theta.dtype)
    V = torch.randn((4, theta.numel()), generator=g, dtype=theta.dtype)
    torch.testing.assert_close(C.hvp(f, theta, v), H @ v, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(C.hvp_batched(f, theta, V), V @ H, rtol=1e-10, atol=1e-12)
    op = C.hessian_operator(f, theta)
    torch.testing.assert_close(op(v), H @ v, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(op(V), V @ H, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(op(V[:1]), V[:1] @ H, rtol=1e-10, atol=1e-12)


def test_dataset_loss_averages_chunks_by_size(problem):
    x, y, theta, H = problem["x"], problem["y"], problem["theta"], problem["H"]
    chunks = ((x[:30], y[:30]), (x[30:55], y[30:55]), (x[55:], y[55:]))  # unequal sizes
    full = C.DatasetLoss(problem["loss_on_batch"], chunks, tuple(len(c[1]) / len(y) for c in chunks))
    torch.testing.assert_close(full(theta), problem["loss_fn"](theta))
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(3), dtype=theta.dtype)
    torch.testing.assert_close(C.hvp(full, theta, v), H @ v, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(C.hessian_operator(full, theta)(v[None])[0], H @ v, rtol=1e-10, atol=1e-12)
    values, _ = C.top_eigenvalues(full, theta, 1, tol=1e-6)
    torch.testing.assert_close(values, problem["eigenvalues"][-1:], rtol=1e-6, atol=0)


class _Cube(torch.autograd.Function):
    """x**3 with backward and forward-mode rules but no vmap rule: vmap over it fails."""

    @staticmethod
    def forward(x):
        return x**3

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * t


def test_hvp_batched_falls_back_to_a_loop_when_vmap_fails(problem):
    f, theta, H = problem["loss_fn"], problem["theta"], problem["H"]

    def with_cube(t):
        return f(t) + _Cube.apply(t).sum()

    V = torch.randn((3, theta.numel()), generator=torch.Generator().manual_seed(5), dtype=theta.dtype)
    expected = V @ (H + torch.diag(6 * theta))
    with pytest.warns(RuntimeWarning, match="falling back"):
        torch.testing.assert_close(C.hvp_batched(with_cube, theta, V), expected, rtol=1e-10, atol=1e-12)


def test_top_eigenvalues_match_dense_in_descending_order(problem):
    f, theta, H, dense = problem["loss_fn"], problem["theta"], problem["H"], problem["eigenvalues"]
    values, vectors = C.top_eigenvalues(f, theta, 5, tol=1e-8, seed=0)
    expected = dense.flip(0)[:5]
    assert torch.all(values[:-1] >= values[1:]), f"not descending: {values}"
    rel = ((values - expected).abs() / expected.abs()).max()
    assert rel < 1e-4, f"top-5 relative error {rel:.2e} >= 1e-4: {values} vs {expected}"
    residual = (vectors @ H - values[:, None] * vectors).norm(dim=1) / values.abs()
    assert residual.max() < 1e-4, f"||Hx - lx|| / |l| = {residual}"
    torch.testing.assert_close(vectors @ vectors.T, torch.eye(5, dtype=theta.dtype), atol=1e-8, rtol=0)
    again, _ = C.top_eigenvalues(f, theta, 5, tol=1e-8, seed=0)
    assert torch.equal(values, again), "same seed must give the same numbers"


def test_largest_magnitude_and_full_spectrum_with_repeated_eigenvalues():
    g = torch.Generator().manual_seed(11)
    spectrum = torch.tensor([-9.0, 4.0, 4.0, 4.0, 1.0, 0.0, 0.0, -2.0], dtype=torch.float64)
    Q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))
    A = Q @ torch.diag(spectrum) @ Q.T
    theta = torch.randn(8, generator=g, dtype=torch.float64)

    def quadratic(t):
        return 0.5 * t @ A @ t

    values, _ = C.top_eigenvalues(quadratic, theta, 2, which="LM", tol=1e-10)
    torch.testing.assert_close(values, torch.tensor([-9.0, 4.0], dtype=torch.float64))
    # k = D: the Krylov space closes after the 5 distinct eigenvalues and Lanczos restarts
    values, vectors = C.top_eigenvalues(quadratic, theta, 8, tol=1e-10)
    torch.testing.assert_close(values, spectrum.sort(descending=True).values, atol=1e-10, rtol=0)
    torch.testing.assert_close(vectors @ A, values[:, None] * vectors, atol=1e-10, rtol=0)


def test_unconverged_lanczos_warns(problem):
    with pytest.warns(RuntimeWarning, match="max_iter=3"):
        C.top_eigenvalues(problem["loss_fn"], problem["theta"], 2, tol=1e-12, max_iter=3)


def test_trace_within_three_standard_errors_and_error_shrinks(problem):
    f, theta, exact = problem["loss_fn"], problem["theta"], problem["H"].trace().item()
    small = C.trace(f, theta, n_probes=100, seed=1, batch=100)
    large = C.trace(f, theta, n_probes=1600, seed=2, batch=1600)
    for est in (small, large):
        assert abs(est.value - exact) < 3 * est.stderr, f"trace {est} vs exact {exact:.4f}"
    ratio = large.stderr / small.stderr  # 1/sqrt(16) = 0.25 expected
    assert 0.15 < ratio < 0.4, f"stderr ratio for 16x probes {ratio:.3f}, expected ~0.25"
    assert C.trace(f, theta, n_probes=100, seed=1, batch=100) == small
    assert C.trace(f, theta, n_probes=100, seed=9, batch=100) != small


def test_probe_batch_by_device_and_size_leaves_the_estimate_unchanged(problem):
    f, theta = problem["loss_fn"], problem["theta"]
    assert C.probe_batch(torch.zeros(C.SMALL_D - 1)) == C.PROBE_BATCH
    assert C.probe_batch(torch.zeros(C.SMALL_D)) == 1
    assert C.probe_batch(torch.zeros(C.SMALL_D), batch=7) == 7
    with pytest.raises(ValueError, match="batch must be"):
        C.probe_batch(theta, batch=0)
    # the probes come from one stream whatever the batch: the same estimate, up to float rounding
    one, many = (C.trace(f, theta, n_probes=40, seed=3, batch=b) for b in (1, 16))
    assert one.value == pytest.approx(many.value, rel=1e-9) and one.stderr == pytest.approx(many.stderr, rel=1e-6)
    one, many = (C.trace_deflated(f, theta, k=3, n_probes=20, seed=3, batch=b) for b in (1, 16))
    assert one.value == pytest.approx(many.value, rel=1e-9)


def test_frobenius_norm_within_three_standard_errors(problem):
    f, theta, H = problem["loss_fn"], problem["theta"], problem["H"]
    exact = (H**2).sum().item()
    est = C.frobenius_norm_sq(f, theta, n_probes=800, seed=3, batch=800)
    assert abs(est.value - exact) < 3 * est.stderr, f"||H||_F^2 {est} vs exact {exact:.4f}"
    assert est.stderr < 0.1 * exact


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda f, t: C.top_eigenvalues(f, t, 0), "k must be"),
        (lambda f, t: C.top_eigenvalues(f, t, t.numel() + 1), "k must be <= D"),
        (lambda f, t: C.top_eigenvalues(f, t, 2, which="SA"), "which must be"),
        (lambda f, t: C.top_eigenvalues(f, t, 2, tol=0.0), "tol must be"),
        (lambda f, t: C.top_eigenvalues(f, t, 3, max_iter=2), "max_iter must be"),
        (lambda f, t: C.top_eigenvalues(f, t[None], 1), "theta must be"),
        (lambda f, t: C.trace(f, t, n_probes=1), "n_probes must be"),
        (lambda f, t: C.trace(f, t, batch=0), "batch must be"),
        (lambda f, t: C.frobenius_norm_sq(f, t, n_probes=0), "n_probes must be"),
        (lambda f, t: C.hvp(f, t, t[:-1]), "v must have the shape"),
        (lambda f, t: C.hvp_batched(f, t, t), r"V must have shape \(m, "),
    ],
)
def test_bad_arguments_raise(problem, call, match):
    with pytest.raises(ValueError, match=match):
        call(problem["loss_fn"], problem["theta"])


def test_float32_network_reaches_default_tolerance(problem):
    x32 = (problem["x"].float(), problem["y"])
    theta = problem["theta"].float()

    def f32(t):
        return problem["loss_on_batch"](t, x32)

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        values, _ = C.top_eigenvalues(f32, theta, 3)
    expected = problem["eigenvalues"].flip(0)[:3].float()
    assert ((values - expected).abs() / expected).max() < 1e-4


def test_deflated_trace_covers_the_exact_trace_95_percent(problem):
    """Coverage of the standard error: over 200 seeds the exact trace lies within 2 s.e. ~95% of the time
    (binomial s.d. 1.5%), and the deflated estimator needs fewer products than Hutchinson for one s.e."""
    f, theta, exact = problem["loss_fn"], problem["theta"], problem["H"].trace().item()
    seeds = range(200)
    deflated = [C.trace_deflated(f, theta, k=20, n_probes=30, seed=s, batch=30) for s in seeds]
    z = torch.tensor([(e.value - exact) / e.stderr for e in deflated])
    coverage = (z.abs() <= 2).double().mean().item()
    assert 0.90 <= coverage <= 0.99, f"coverage of ±2 s.e. {coverage:.3f}, expected ~0.95"
    assert abs(z.mean().item()) < 0.25, f"mean standardised error {z.mean():.3f}: biased"
    assert all(e.products == 50 and e.n_probes == 30 for e in deflated)
    plain = [C.trace(f, theta, n_probes=50, seed=s, batch=50) for s in range(20)]
    se_plain = sum(e.stderr for e in plain) / len(plain)
    se_deflated = sum(e.stderr for e in deflated[:20]) / 20  # expected ratio ~0.7 (dense spectrum: 0.70)
    assert se_deflated < 0.8 * se_plain, f"deflated s.e. {se_deflated:.4f} vs Hutchinson {se_plain:.4f}"


def test_deflated_trace_reaches_a_target_standard_error(problem):
    f, theta, exact = problem["loss_fn"], problem["theta"], problem["H"].trace().item()
    target = 0.01 * abs(exact)
    est = C.trace_deflated(f, theta, k=10, n_probes=20, target_stderr=target, seed=3)
    assert est.stderr <= target and est.n_probes >= 20 and est.products == 10 + est.n_probes
    assert abs(est.value - exact) < 4 * est.stderr
    plain = C.trace_deflated(f, theta, k=0, n_probes=20, target_stderr=target, seed=3)
    assert plain.deflated == 0.0 and plain.products == plain.n_probes
    assert plain.products > 2 * est.products, f"Hutchinson {plain.products} vs deflated {est.products} products"
    full = C.trace_deflated(f, theta, k=theta.numel(), n_probes=2)  # Q spans R^D: the trace is exact
    assert abs(full.value - exact) < 1e-8 and full.stderr < 1e-8
    with pytest.raises(ValueError, match="k must be"):
        C.trace_deflated(f, theta, k=theta.numel() + 1)
    with pytest.raises(ValueError, match="target_stderr must be"):
        C.trace_deflated(f, theta, target_stderr=0.0)


def test_value_stop_reaches_the_eigenvalue_accuracy_in_fewer_products(problem):
    f, theta, dense = problem["loss_fn"], problem["theta"], problem["eigenvalues"]
    counts = {}
    for stop in ("residual", "value"):
        op = C.hessian_operator(f, theta)
        n = [0]

        def counted(loss_fn, t, n=n, op=op):
            def apply(V):
                n[0] += 1
                return op(V)
            return apply

        original, C.hessian_operator = C.hessian_operator, counted
        try:
            values, _ = C.top_eigenvalues(f, theta, 3, tol=1e-6, stop=stop)
        finally:
            C.hessian_operator = original
        rel = ((values - dense.flip(0)[:3]).abs() / dense.flip(0)[:3]).max()
        assert rel < 1e-6, f"stop={stop}: relative error {rel:.2e}"
        counts[stop] = n[0]
    assert counts["value"] < counts["residual"], counts
    with pytest.raises(ValueError, match="stop must be"):
        C.top_eigenvalues(f, theta, 1, stop="values")
