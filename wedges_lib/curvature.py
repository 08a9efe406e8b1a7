"""Curvature of a loss at a flat parameter vector: the top eigenvalues (Lanczos), the trace and the
Frobenius norm (Hutchinson, with standard errors), all from Hessian-vector products
(:mod:`wedges_lib.hessian`, re-exported here).

Every function takes ``loss_fn``, a function of a flat parameter vector ``theta`` of shape
``(D,)`` returning a scalar, so a toy landscape, a network (through
``torch.func.functional_call``) or a loss restricted to a subspace are analysed alike.
A loss averaged over a dataset too large for one pass is a :class:`~wedges_lib.hessian.DatasetLoss` (what
:meth:`wedges_lib.landscape.Landscape.loss_fn` returns for several batches): every function here then
works through it chunk by chunk.

``loss_fn`` must be deterministic (no dropout, BatchNorm in eval mode or with fixed
statistics) and built from operations with second derivatives.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import scipy.linalg
import torch
from torch import Tensor

from .hessian import (
    DatasetLoss,
    LossFn,
    Operator,
    _check_positive_int,
    _check_theta,
    hessian_operator,
    hvp,
    hvp_batched,
)

__all__ = [
    "DatasetLoss",
    "DeflatedEstimate",
    "Estimate",
    "frobenius_norm_sq",
    "hessian_operator",
    "hvp",
    "hvp_batched",
    "probe_batch",
    "top_eigenvalues",
    "trace",
    "trace_deflated",
]


class Estimate(NamedTuple):
    """A Monte Carlo estimate and its standard error (sample std / sqrt(n_probes))."""

    value: float
    stderr: float


class DeflatedEstimate(NamedTuple):
    """:func:`trace_deflated`'s answer: the estimate, its standard error, the Hessian-vector products spent
    (Lanczos steps plus probes), the probes, and the exact part (the trace on the Krylov space)."""

    value: float
    stderr: float
    products: int
    n_probes: int
    deflated: float


# --------------------------------------------------------------------------- Lanczos


def _generator(seed: int, device: torch.device) -> torch.Generator:
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer; got {seed!r}")
    return torch.Generator(device=device).manual_seed(seed)


def _rademacher(shape: tuple, like: Tensor, gen: torch.Generator) -> Tensor:
    z = torch.randint(0, 2, shape, generator=gen, device=like.device)
    return z.to(like.dtype).mul_(2).sub_(1)


def _orthogonalise(w: Tensor, Q: Tensor) -> Tensor:
    """w (p, D) minus its projection on the rows of Q (p, j, D), twice (classical Gram-Schmidt x2)."""
    for _ in range(2):
        w = w - torch.einsum("pj,pjd->pd", torch.einsum("pjd,pd->pj", Q, w), Q)
    return w


class _Lanczos:
    """Lanczos with full reorthogonalisation on p start vectors at once (rows of q0, unit norm).

    After ``step()`` j times: ``Q[:, :j]`` holds the Lanczos vectors, ``alpha[:, :j]`` the
    diagonal and ``beta[:, :j]`` the off-diagonal of T (``beta[:, j-1]`` couples to the next,
    not yet used, vector: it is the residual norm). A breakdown (an invariant subspace) is
    continued from a random vector orthogonal to the subspace, with a zero coupling in T.
    """

    def __init__(self, matvec: Operator, q0: Tensor, m: int, gen: torch.Generator) -> None:
        p, D = q0.shape
        self.matvec, self.gen, self.j, self.m = matvec, gen, 0, m
        self.Q = q0.new_empty(p, min(m + 1, 32), D)  # grown by doubling: most runs stop early
        self.Q[:, 0] = q0
        self.alpha = torch.zeros(p, m, dtype=torch.float64)
        self.beta = torch.zeros(p, m, dtype=torch.float64)
        self.scale = torch.zeros(p, dtype=torch.float64)  # running estimate of ||H||
        self.breakdown_tol = 1000 * torch.finfo(q0.dtype).eps

    def step(self) -> None:
        j = self.j
        if j + 1 >= self.Q.shape[1]:
            grown = self.Q.new_empty(self.Q.shape[0], min(2 * self.Q.shape[1], self.m + 1), self.Q.shape[2])
            grown[:, : j + 1] = self.Q[:, : j + 1]
            self.Q = grown
        Q = self.Q
        q = Q[:, j]
        w = self.matvec(q)
        a = (w * q).sum(-1)
        w = w - a[:, None] * q
        if j > 0:
            w = w - self.beta[:, j - 1].to(w)[:, None] * Q[:, j - 1]
        w = _orthogonalise(w, Q[:, : j + 1])
        b = w.norm(dim=-1)
        a, b = a.double().cpu(), b.double().cpu()
        self.scale = torch.maximum(self.scale, a.abs() + b)
        broken = b <= self.breakdown_tol * self.scale
        if broken.any():  # invariant subspace: zero coupling, go on from a fresh direction
            b = torch.where(broken, torch.zeros_like(b), b)
            if j + 1 < self.m:
                fresh = torch.randn(w.shape, generator=self.gen, device=w.device, dtype=w.dtype)
                fresh = _orthogonalise(fresh, Q[:, : j + 1])
                w = torch.where(broken[:, None].to(w.device), fresh, w)
        Q[:, j + 1] = w / w.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)
        self.alpha[:, j], self.beta[:, j] = a, b
        self.j = j + 1

    def eigh(self) -> tuple[Tensor, Tensor]:
        """Eigen-decomposition of each T: Ritz values (p, j) ascending, eigenvectors (p, j, j), float64.

        scipy's tridiagonal solver (LAPACK stemr): O(j^2), and free of the thread contention
        that made torch.linalg.eigh on these small matrices cost ~100 ms on a busy 2-core CPU.
        """
        j = self.j
        values, vectors = [], []
        for a, b in zip(self.alpha[:, :j].numpy(), self.beta[:, : j - 1].numpy()):
            w, S = scipy.linalg.eigh_tridiagonal(a, b, lapack_driver="stemr")
            values.append(torch.from_numpy(w))
            vectors.append(torch.from_numpy(S))
        return torch.stack(values), torch.stack(vectors)


def top_eigenvalues(
    loss_fn: LossFn,
    theta: Tensor,
    k: int = 1,
    *,
    which: str = "LA",
    tol: float = 1e-6,
    max_iter: int | None = None,
    seed: int = 0,
    stop: str = "residual",
) -> tuple[Tensor, Tensor]:
    """The k extreme Hessian eigenpairs at theta (D,): eigenvalues (k,), eigenvectors (k, D) as rows.

    Lanczos with full reorthogonalisation from a random start (``seed``), stopped when each of
    the k Ritz pairs has ``||H x - l x|| <= tol * |l|`` (``|l|`` floored at ``eps^(2/3) ||H||``, so values
    near zero converge too). ``which="LA"``: largest algebraic,
    returned in descending order; ``"LM"``: largest magnitude, in descending ``|l|``. ``max_iter``
    (default min(D, 300)) bounds the Hessian-vector products; memory is up to max_iter x D. A
    warning says when it stops unconverged. Each returned value is within ``tol * |l|`` of an
    eigenvalue (usually far closer: the error goes as the squared residual over the gap), but
    like any single-vector Krylov method it can merge eigenvalues closer than that, and it finds
    extra copies of a repeated eigenvalue only once the Krylov space closes.

    ``stop="value"`` stops instead when each value's error estimate min(r, r² / gap) is at most ``tol * |l|``
    (r the residual norm, gap the distance to the nearest other Ritz value): the eigenvalue to that
    accuracy, in fewer products, with eigenvectors accurate to about r / gap only. Like any gap estimate from
    Ritz values it trusts that no eigenvalue is missing yet: use it for one value or well-separated ones.

    On a quadratic loss the Hessian is its matrix everywhere:

    >>> A = torch.diag(torch.tensor([3.0, 1.0, -2.0]))
    >>> loss = lambda theta: 0.5 * theta @ A @ theta
    >>> values, vectors = top_eigenvalues(loss, torch.zeros(3), k=2)
    >>> values.round(decimals=4).tolist(), vectors.abs().round(decimals=4).tolist()
    ([3.0, 1.0], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> top_eigenvalues(loss, torch.zeros(3), k=2, which="LM")[0].round(decimals=4).tolist()
    [3.0, -2.0]

    Used in :ref:`ch-your-model`.
    """
    D = _check_theta(theta)
    _check_positive_int("k", k)
    if k > D:
        raise ValueError(f"k must be <= D = {D} (the number of parameters); got {k}")
    if which not in ("LA", "LM"):
        raise ValueError(f"which must be 'LA' (largest algebraic) or 'LM' (largest magnitude); got {which!r}")
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"tol must be a positive number; got {tol!r}")
    if stop not in ("residual", "value"):
        raise ValueError(f"stop must be 'residual' (Ritz residuals) or 'value' (eigenvalue error); got {stop!r}")
    max_iter = min(D, 300) if max_iter is None else max_iter
    _check_positive_int("max_iter", max_iter, minimum=k)
    if max_iter > D:
        raise ValueError(f"max_iter must be <= D = {D}; got {max_iter}")

    gen = _generator(seed, theta.device)
    q0 = torch.randn((1, D), generator=gen, device=theta.device, dtype=theta.dtype)
    op = hessian_operator(loss_fn, theta)
    lz = _Lanczos(op, q0 / q0.norm(), max_iter, gen)
    eps23 = torch.finfo(theta.dtype).eps ** (2 / 3)
    while True:
        lz.step()
        if lz.j < k:
            continue
        ritz, S = (x[0] for x in lz.eigh())
        key = ritz if which == "LA" else ritz.abs()
        idx = torch.argsort(key, descending=True)[:k]
        residual = lz.beta[0, lz.j - 1] * S[-1, idx].abs()
        if stop == "value" and lz.j > k:  # a gap needs another Ritz value
            others = (ritz[idx, None] - ritz[None, :]).abs()
            others[torch.arange(k), idx] = math.inf
            residual = torch.minimum(residual, residual**2 / others.min(dim=1).values.clamp_min(1e-300))
        bound = tol * torch.maximum(ritz[idx].abs(), eps23 * lz.scale[0])
        if bool((residual <= bound).all()):
            break
        if lz.j == max_iter:
            worst = float((residual / ritz[idx].abs().clamp_min(1e-300)).max())
            warnings.warn(
                f"top_eigenvalues: Lanczos stopped at max_iter={max_iter} with relative residual "
                f"{worst:.2e} > tol={tol:g}; raise max_iter or tol",
                RuntimeWarning,
                stacklevel=2,
            )
            break
    vectors = S[:, idx].T.to(theta.dtype).to(theta.device) @ lz.Q[0, : lz.j]
    vectors = vectors / vectors.norm(dim=-1, keepdim=True)
    return (ritz[idx] + 0.0).to(theta.dtype).to(theta.device), vectors  # + 0.0: no -0.0


# --------------------------------------------------------------------------- stochastic


PROBE_BATCH = 16  # probes per vmapped product where stacking pays (a GPU, or a small model on a CPU)
SMALL_D = 5_000  # on a CPU, below this many parameters stacked probes pay; above, one product at a time


def probe_batch(theta: Tensor, batch: int | None = None) -> int:
    """How many probes share one product: ``batch``, or by default ``PROBE_BATCH`` on a GPU or for a model of
    fewer than ``SMALL_D`` parameters, 1 for a larger model on a CPU, where the stacked products' activations
    fall out of cache (per product, an MLP on 1000 examples on 2 cores measured: 16 stacked 0.50 ms and one at a
    time 0.80 ms at D = 855; 2.9 and 2.5 ms at D = 7,434; 10 and 7.4 ms at D = 78,858)."""
    if batch is not None:
        _check_positive_int("batch", batch)
        return batch
    return PROBE_BATCH if theta.device.type != "cpu" or theta.shape[-1] < SMALL_D else 1


def _products(op: Operator, V: Tensor) -> Tensor:
    """op applied to each row of V (m, D): one vector product when m is 1 (a little cheaper than a stack of 1)."""
    return op(V[0])[None] if len(V) == 1 else op(V)


def _estimate(samples: Tensor) -> Estimate:
    samples = samples.double()
    return Estimate(float(samples.mean()), float(samples.std() / math.sqrt(samples.numel())))


def trace(loss_fn: LossFn, theta: Tensor, *, n_probes: int = 100, seed: int = 0,
          batch: int | None = None) -> Estimate:
    """Tr(H) at theta (D,) by Hutchinson: the mean of z^T H z over n_probes Rademacher probes z.

    Returns (estimate, standard error from the n_probes samples). ``batch`` probes share one
    vmapped product (None: :func:`probe_batch`, by device and model size); the probes, and so the
    estimate, do not depend on it.

    For a diagonal Hessian every probe gives the exact trace (z_i² = 1), so the error is 0:

    >>> A = torch.diag(torch.tensor([3.0, 1.0, -2.0]))
    >>> trace(lambda theta: 0.5 * theta @ A @ theta, torch.zeros(3), n_probes=8)
    Estimate(value=2.0, stderr=0.0)
    """
    D = _check_theta(theta)
    _check_positive_int("n_probes", n_probes, 2)
    batch = probe_batch(theta, batch)
    gen, op = _generator(seed, theta.device), hessian_operator(loss_fn, theta)
    samples = []
    for start in range(0, n_probes, batch):
        Z = _rademacher((min(batch, n_probes - start), D), theta, gen)
        samples.append((Z * _products(op, Z)).sum(-1))
    return _estimate(torch.cat(samples))


def trace_deflated(loss_fn: LossFn, theta: Tensor, *, k: int = 20, n_probes: int = 30,
                   target_stderr: float | None = None, max_probes: int = 10_000, seed: int = 0,
                   batch: int | None = None) -> DeflatedEstimate:
    """Tr(H) at theta (D,) with far fewer products than :func:`trace` where a few eigenvalues dominate.

    ``k`` Lanczos steps (full reorthogonalisation, random start from ``seed``) give an orthonormal basis Q
    (k, D) of a Krylov space that holds the dominant eigenvectors; Tr(Q H Q^T) (the sum of Lanczos'
    diagonal, q_i^T H q_i) is computed exactly, and Hutchinson with Rademacher probes projected off Q
    estimates the rest, Tr((I - P) H (I - P)) with P = Q^T Q. The split is exact for any orthonormal Q,
    so the estimate is unbiased and its standard error is the probes' sample std / sqrt(n): the
    Krylov part adds no error. The variance is about 2 ||(I-P) H (I-P)||_F^2 instead of 2 ||H||_F^2 (a
    deflated Hutch++, Meyer et al. 2021): several times smaller where a few outlier eigenvalues hold much
    of ||H||_F (a trained network), little smaller on a broad bulk (a network at initialisation).

    ``n_probes`` probes (at least 2), or with ``target_stderr`` as many as the standard error needs:
    after the first ``n_probes`` (the pilot) the sample variance fixes the total, drawn in one go, and
    again until the standard error is at most the target (or ``max_probes`` are spent). ``batch`` probes
    share one vmapped product (None: :func:`probe_batch`). ``k=0`` is plain Hutchinson.

    >>> A = torch.diag(torch.tensor([100.0, 1.0, 2.0, -3.0]))
    >>> est = trace_deflated(lambda t: 0.5 * t @ A @ t, torch.zeros(4), k=4, n_probes=4)
    >>> round(est.value, 3), round(est.stderr, 6), est.products
    (100.0, 0.0, 8)
    """
    D = _check_theta(theta)
    _check_positive_int("n_probes", n_probes, 2)
    batch = probe_batch(theta, batch)
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= D:
        raise ValueError(f"k must be an integer in [0, D = {D}]; got {k!r}")
    if target_stderr is not None and not (isinstance(target_stderr, (int, float)) and target_stderr > 0):
        raise ValueError(f"target_stderr must be None or a positive number; got {target_stderr!r}")
    _check_positive_int("max_probes", max_probes, minimum=n_probes)
    gen, op = _generator(seed, theta.device), hessian_operator(loss_fn, theta)
    exact, Q = 0.0, None
    if k:
        q0 = torch.randn((1, D), generator=gen, device=theta.device, dtype=theta.dtype)
        lz = _Lanczos(op, q0 / q0.norm(), k, gen)
        for _ in range(k):
            lz.step()
        exact, Q = float(lz.alpha[0, :k].sum()), lz.Q[0, :k]

    def samples(n: int) -> Tensor:
        out = []
        for start in range(0, n, batch):
            Z = _rademacher((min(batch, n - start), D), theta, gen)
            if Q is not None:
                for _ in range(2):  # projected twice: Q is orthonormal to working precision only
                    Z = Z - (Z @ Q.T) @ Q
            out.append((Z * _products(op, Z)).sum(-1))
        return torch.cat(out).double()

    s = samples(n_probes)
    while target_stderr is not None and s.numel() < max_probes and _estimate(s).stderr > target_stderr:
        need = math.ceil(1.05 * float(s.var()) / target_stderr**2)  # 5% over: the variance is itself estimated
        s = torch.cat([s, samples(min(max(need, s.numel() + batch), max_probes) - s.numel())])
    est = _estimate(s)
    return DeflatedEstimate(exact + est.value, est.stderr, k + s.numel(), s.numel(), exact)


def frobenius_norm_sq(
    loss_fn: LossFn, theta: Tensor, *, n_probes: int = 100, seed: int = 0, batch: int | None = None
) -> Estimate:
    """||H||_F^2 = Tr(H^2) at theta (D,) as the mean of ||H v||^2 over n_probes Gaussian probes v.

    Returns (estimate, standard error). Tr(H) / sqrt(this) measures how many directions share
    the curvature. ``batch``: as in :func:`trace`.
    """
    D = _check_theta(theta)
    _check_positive_int("n_probes", n_probes, 2)
    batch = probe_batch(theta, batch)
    gen, op = _generator(seed, theta.device), hessian_operator(loss_fn, theta)
    samples = []
    for start in range(0, n_probes, batch):
        V = torch.randn((min(batch, n_probes - start), D), generator=gen, device=theta.device, dtype=theta.dtype)
        samples.append(_products(op, V).pow(2).sum(-1))
    return _estimate(torch.cat(samples))


