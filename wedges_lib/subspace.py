"""Training in a random d-dimensional affine subspace at a chosen radius (Li et al. 2018, intrinsic dimension).

The network's parameters are ``theta = theta0 + s * P w``: ``theta0`` (D,) a fresh initialisation
rescaled to a radius (:func:`place_at_radius`), ``P`` a fixed random (D, d) projection, ``w`` (d,)
the only trained vector (it starts at 0) and ``s`` a per-run step scale (1 unless asked). Any
``nn.Module`` works unchanged: it is evaluated with ``torch.func.functional_call`` on
``params.unflatten(theta)``.

Projections are callables ``P(w)``: (..., d) -> (..., D), differentiable in ``w``. Their columns
``P e_j`` are random and nearly orthonormal: norms below; pairwise cosines are ~ N(0, 1/D)
(Fastfood's ~ N(0, 2/D), from the spread of G²):

- ``dense``    — the reference: an explicit (D, d) Gaussian matrix, entries N(0, 1/D), so
  E‖P e_j‖² = 1 with relative spread sqrt(2/D). Small D·d only.
- ``blocked``  — the same matrix, never stored: generated block by block (``block_rows`` rows at a
  time, each block from its own seed) in the forward pass and generated again in the backward
  pass. Memory O(D + block_rows·d); time O(D·d) per call. Its explicit matrix equals ``dense``'s
  for the same seed and block size.
- ``sparse``   — every parameter (row) gets ``nnz`` random ±1 entries in balanced random columns,
  then each column is divided by its exact norm: ‖P e_j‖ = 1 exactly. Memory and time O(nnz·D + d).
- ``fastfood`` — as in uber-research/intrinsic-dimension: blocks ``H G Π H B`` (L = 2^k >= d, H the
  unnormalised Walsh–Hadamard matrix, B random signs, Π a random permutation, G Gaussian) applied to
  w zero-padded to L, ceil(D / L) independent blocks stacked and cut to D rows. Block b is divided by
  its exact column norm sqrt(L ‖G_b‖²) and by sqrt(D / L), so ‖P e_j‖ = 1 exactly when L divides D,
  and otherwise 1 up to the cut last block's share (relative error ~ sqrt(2 (D mod L)) / D).
  Memory O(D + d); time O(D log L). ``block = 2^ceil(log2 D)`` gives the single-block form of Uber's code.

The optimiser's step is made comparable across radii by using Adam (the default): its step in w,
hence ‖Δtheta‖ ≈ ‖Δw‖ ≈ lr_w·sqrt(d), does not depend on the gradient's scale, which changes by
orders of magnitude with the radius; :func:`dim_sweep` sets lr_w = lr / sqrt(d) so that a step's
length in theta is about ``lr`` at every d too (``step="absolute"``). ``step="relative"`` (the
presets' choice) further multiplies the step by the radius multiple (s = r / r_init), so that the
*angular* step ‖Δtheta‖ / ‖theta0‖ is the same at every radius. The two answer different questions:
with absolute steps a plane through a small radius reaches out to larger radii (it contains them),
so small radii cost little; with relative steps both sides of a shell of radii lose.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad_and_value, vmap
from tqdm.auto import tqdm

from . import models, params, train
from .config import Config, Param, pick_device, register
from .data import Dataset

PROJECTIONS = ("dense", "blocked", "sparse", "fastfood")
METRICS = ("test_acc", "acc")

STEPS = ("absolute", "relative")

register(
    {
        "dims": Param(tuple, "subspace dimensions d swept (ints, increasing)", low=1),
        "radii": Param(tuple, "radii of theta0, as multiples of the initialisation's own norm", low=0, low_open=True),
        "projection": Param(str, "random projection P from R^d to R^D", choices=PROJECTIONS),
        "subspace_width": Param(float, "width multiplier of the network trained in subspaces", low=0, low_open=True),
        "subspace_steps": Param(int, "optimisation steps of subspace training", low=1),
        "subspace_lr": Param(float, "length of an Adam step in theta at radius multiple 1 (Adam's lr on w is "
                             "this / sqrt(d))", low=0, low_open=True),
        "subspace_step": Param(str, "Adam step the same at every radius ('absolute') or proportional to it "
                               "('relative': the same angular step)", choices=STEPS),
        "id_fraction": Param(float, "fraction of full-space accuracy that defines the intrinsic dimension",
                             low=0, high=1, low_open=True),
    },
    {
        "smoke": dict(dims=(10, 40, 160), radii=(0.25, 1.0, 8.0), projection="fastfood", subspace_width=0.25,
                      subspace_steps=150, subspace_lr=1.0, subspace_step="relative", id_fraction=0.5),
        "cpu": dict(dims=(200, 800, 3200, 12800), radii=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0), projection="fastfood",
                    subspace_width=0.5, subspace_steps=500, subspace_lr=1.7, subspace_step="relative",
                    id_fraction=0.8),
        "paper": dict(dims=(250, 1000, 4000, 16000, 64000), radii=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
                      projection="fastfood", subspace_width=1.0, subspace_steps=10000, subspace_lr=1.0,
                      subspace_step="relative", id_fraction=0.9),
    },
)


def _check(name: str, value, ok: bool, valid: str) -> None:
    if not ok:
        raise ValueError(f"parameter {name!r}: got {value!r}; expected {valid}")


def place_at_radius(theta: torch.Tensor, r: float | torch.Tensor) -> torch.Tensor:
    """theta (D,) or (K, D) rescaled along itself to radius r (a number, or (K,) for a stack)."""
    r = torch.as_tensor(r, dtype=theta.dtype, device=theta.device)
    return theta * (r / params.radius(theta)).unsqueeze(-1)


# --- Walsh–Hadamard -----------------------------------------------------------------------------

_HADAMARD: dict[tuple, torch.Tensor] = {}


def hadamard(n: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """The unnormalised Sylvester Hadamard matrix (n, n), entries ±1, H[i, j] = (-1)^popcount(i & j)."""
    _check("n", n, isinstance(n, int) and n >= 1 and n & (n - 1) == 0, "a power of two")
    H = torch.ones(1, 1, dtype=dtype, device=device)
    while H.shape[0] < n:
        H = torch.cat([torch.cat([H, H], 1), torch.cat([H, -H], 1)])
    return H


def _fwht(x: torch.Tensor, chunk_bits: int = 5) -> torch.Tensor:
    n = x.shape[-1]
    batch = x.shape[:-1]
    bits = n.bit_length() - 1
    while bits > 0:  # H_n = ⊗ H_2 over the bits: apply H_h to the lowest k bits, then rotate them to the top
        k = min(chunk_bits, bits)
        h = 1 << k
        key = (h, x.dtype, x.device)
        if key not in _HADAMARD:
            _HADAMARD[key] = hadamard(h, x.dtype, x.device)
        x = (x.reshape(-1, h) @ _HADAMARD[key]).reshape(*batch, n // h, h).transpose(-1, -2).reshape(*batch, n)
        bits -= k
    return x


class _FWHT(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        return _fwht(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, g):
        return _fwht(g)  # H is symmetric


def fwht(x: torch.Tensor) -> torch.Tensor:
    """Unnormalised fast Walsh–Hadamard transform H x along the last axis (..., n), n = 2^k; O(n log n)."""
    n = x.shape[-1]
    _check("x.shape[-1]", n, n >= 1 and n & (n - 1) == 0, "a power of two")
    return _FWHT.apply(x)


# --- projections --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Projection:
    """A random linear map P: R^d -> R^D; ``P(w)`` maps (..., d) to (..., D) and is differentiable in w."""

    kind: str
    D: int
    d: int
    seed: int
    fn: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    state: dict = field(default_factory=dict, repr=False)  # the tensors it holds (for inspection)

    @property
    def nbytes(self) -> int:
        """Memory held by the projection's own tensors, in bytes."""
        def size(t):
            if t.layout == torch.sparse_csr:
                return sum(size(u) for u in (t.crow_indices(), t.col_indices(), t.values()))
            return t.numel() * t.element_size()
        return sum(size(t) for t in self.state.values())

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        if w.shape[-1] != self.d:
            raise ValueError(f"parameter 'w': last axis has {w.shape[-1]} entries; expected d = {self.d}")
        return self.fn(w)


def _seed(*keys: int) -> int:
    return int(np.random.SeedSequence(list(keys)).generate_state(1, np.uint64)[0] >> 1)


def _default_block_rows(d: int) -> int:
    return max(1, (1 << 22) // d)  # ~4M entries (16 MB) per block


def _gaussian_block(D: int, d: int, seed: int, b: int, rows: int, device, dtype) -> torch.Tensor:
    g = torch.Generator(device=device).manual_seed(_seed(seed, b))
    return torch.randn(rows, d, generator=g, device=device, dtype=dtype) / math.sqrt(D)


def _blocks(D: int, block_rows: int):
    return [(b, start, min(block_rows, D - start)) for b, start in enumerate(range(0, D, block_rows))]


def _check_dims(D: int, d: int) -> None:
    _check("D", D, isinstance(D, int) and D >= 1, "an int >= 1")
    _check("d", d, isinstance(d, int) and 1 <= d <= D, f"an int in [1, D = {D}]")


def dense_projection(D: int, d: int, seed: int = 0, *, block_rows: int | None = None, device=None,
                     dtype=torch.float32) -> Projection:
    """The reference projection: an explicit (D, d) matrix of N(0, 1/D) entries, built block by block from ``seed``."""
    _check_dims(D, d)
    rows = block_rows or _default_block_rows(d)
    M = torch.cat([_gaussian_block(D, d, seed, b, n, device, dtype) for b, _, n in _blocks(D, rows)])
    return Projection("dense", D, d, seed, lambda w: w @ M.T, dict(matrix=M))


def blocked_projection(D: int, d: int, seed: int = 0, *, block_rows: int | None = None, device=None,
                       dtype=torch.float32) -> Projection:
    """``dense_projection``'s matrix, never stored: each block of rows is regenerated from its seed when used."""
    _check_dims(D, d)
    rows = block_rows or _default_block_rows(d)
    return Projection("blocked", D, d, seed, lambda w: _Blocked.apply(w, D, d, seed, rows))


class _Blocked(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, D, d, seed, rows):
        ctx.spec = (D, d, seed, rows)
        w2 = w.reshape(-1, d)
        out = w2.new_empty(w2.shape[0], D)
        for b, start, n in _blocks(D, rows):
            out[:, start:start + n] = w2 @ _gaussian_block(D, d, seed, b, n, w.device, w.dtype).T
        return out.reshape(*w.shape[:-1], D)

    @staticmethod
    def backward(ctx, g):
        D, d, seed, rows = ctx.spec
        g2 = g.reshape(-1, D)
        gw = g2.new_zeros(g2.shape[0], d)
        for b, start, n in _blocks(D, rows):
            gw += g2[:, start:start + n] @ _gaussian_block(D, d, seed, b, n, g.device, g.dtype)
        return gw.reshape(*g.shape[:-1], d), None, None, None, None


def sparse_projection(D: int, d: int, seed: int = 0, *, nnz: int = 4, device=None,
                      dtype=torch.float32) -> Projection:
    """``nnz`` ±1 entries per row in balanced random columns, each column scaled to norm exactly 1."""
    _check_dims(D, d)
    _check("nnz", nnz, isinstance(nnz, int) and 1 <= nnz <= d and nnz * D >= d,
           f"an int in [1, d] with nnz * D >= d = {d}")
    g = torch.Generator().manual_seed(_seed(seed, 1))
    itype = torch.int32 if nnz * D < 2 ** 31 else torch.int64
    # balanced: every column is drawn floor or ceil(nnz D / d) times
    cols = (torch.randperm(nnz * D, generator=g) % d).to(itype).reshape(D, nnz)
    sign = (torch.randint(0, 2, (D, nnz), generator=g) * 2 - 1).to(dtype)
    # exact column norms, repeats within a row included: ‖P e_j‖² = Σ_i (Σ_{k: c_ik = j} s_ik)²
    row_sum = sum(sign[:, k:k + 1] * (cols == cols[:, k:k + 1]) for k in range(nnz))  # Σ_k' s_ik' [c_ik' = c_ik]
    norm2 = torch.zeros(d, dtype=dtype).index_add_(0, cols.reshape(-1), (sign * row_sum).reshape(-1))
    del row_sum
    if not bool((norm2 > 0).all()):
        raise ValueError(f"parameter 'seed': {seed} gives an all-cancelling column for D = {D}, d = {d}; "
                         "use another seed or a larger nnz")
    vals = (sign / norm2.sqrt()[cols]).reshape(-1)
    cols = cols.reshape(-1)
    order = torch.argsort(cols, stable=True)  # P^T in CSR: the entries sorted by column
    crow_t = torch.cat([torch.zeros(1, dtype=torch.int64), torch.bincount(cols, minlength=d).cumsum(0)])
    with warnings.catch_warnings():  # CSR is "beta"; repeated indices within a row are summed, as wanted
        warnings.simplefilter("ignore")
        P = torch.sparse_csr_tensor(torch.arange(0, nnz * D + 1, nnz, dtype=itype), cols, vals, (D, d))
        PT = torch.sparse_csr_tensor(crow_t.to(itype), (order // nnz).to(itype), vals[order], (d, D))
    P, PT = P.to(device), PT.to(device)
    return Projection("sparse", D, d, seed, lambda w: _SparseMM.apply(w, P, PT), dict(P=P, PT=PT))


class _SparseMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, P, PT):
        ctx.PT = PT
        w2 = w.reshape(-1, w.shape[-1])
        return (P @ w2.T).T.reshape(*w.shape[:-1], P.shape[0])

    @staticmethod
    def backward(ctx, g):
        g2 = g.reshape(-1, g.shape[-1])
        return (ctx.PT @ g2.T).T.reshape(*g.shape[:-1], ctx.PT.shape[0]), None, None


def fastfood_projection(D: int, d: int, seed: int = 0, *, block: int | None = None, device=None,
                        dtype=torch.float32) -> Projection:
    """Stacked Fastfood blocks H G Π H B of size ``block`` (default 2^ceil(log2 d)), cut to D rows; see module doc."""
    _check_dims(D, d)
    L = block or 1 << (d - 1).bit_length()
    _check("block", block, L >= d and L & (L - 1) == 0, f"a power of two >= d = {d}")
    n = -(-D // L)
    g = torch.Generator().manual_seed(_seed(seed, 2))
    B = (torch.randint(0, 2, (n, L), generator=g) * 2 - 1).to(dtype)
    perm = torch.argsort(torch.rand(n, L, generator=g), dim=-1)
    G = torch.randn(n, L, generator=g, dtype=dtype)
    G = G / torch.sqrt(L * (G ** 2).sum(-1, keepdim=True) * (D / L))  # exact unit columns per block, / sqrt(D / L)
    B, perm, G = B.to(device), perm.to(device), G.to(device)

    def apply(w: torch.Tensor) -> torch.Tensor:
        batch = w.shape[:-1]
        x = F.pad(w, (0, L - d)).unsqueeze(-2) * B  # (..., n, L)
        x = fwht(x)
        x = torch.gather(x, -1, perm.expand(*batch, n, L))
        x = fwht(x * G)
        return x.reshape(*batch, n * L)[..., :D]

    return Projection("fastfood", D, d, seed, apply, dict(B=B, perm=perm, G=G))


def make_projection(kind: str, D: int, d: int, seed: int = 0, **kw) -> Projection:
    """The projection ``kind`` (one of PROJECTIONS) from R^d to R^D drawn from ``seed``."""
    makers = dict(dense=dense_projection, blocked=blocked_projection, sparse=sparse_projection,
                  fastfood=fastfood_projection)
    _check("projection", kind, kind in makers, f"one of {', '.join(PROJECTIONS)}")
    return makers[kind](D, d, seed, **kw)


def projection_matrix(proj: Projection, device=None, dtype=torch.float32) -> torch.Tensor:
    """The explicit (D, d) matrix of ``proj`` (its columns P e_j); for small D·d only."""
    return proj(torch.eye(proj.d, device=device, dtype=dtype)).T


def stack_projections(projs: Sequence[Projection], group: int) -> Projection:
    """One projection for a stack w (K, d), K = len(projs)·group: members [i·group, (i+1)·group) use projs[i]."""
    D, d = projs[0].D, projs[0].d
    _check("projs", [p.kind for p in projs], all(p.D == D and p.d == d for p in projs), "projections of equal D and d")

    def apply(w: torch.Tensor) -> torch.Tensor:
        _check("w", tuple(w.shape), w.ndim == 2 and w.shape[0] == len(projs) * group,
               f"shape ({len(projs) * group}, {d})")
        return torch.cat([p(wi) for p, wi in zip(projs, w.split(group))])

    return Projection("stack:" + projs[0].kind, D, d, projs[0].seed, apply,
                      {f"{i}.{k}": t for i, p in enumerate(projs) for k, t in p.state.items()})


# --- training in a subspace ---------------------------------------------------------------------

@dataclass
class SubspaceResult:
    """Final state of subspace runs: per-member values (K,) for a stack theta0 (K, D), scalars for one (D,).

    ``loss``, ``acc``, ``test_loss``, ``test_acc`` are measured on the whole training / test set at the
    end; ``radius`` is the final ‖theta‖; ``batch_loss`` is the minibatch loss at every step (steps,) or (steps, K).
    """

    w: torch.Tensor
    theta: torch.Tensor
    loss: torch.Tensor
    acc: torch.Tensor
    test_loss: torch.Tensor
    test_acc: torch.Tensor
    radius: torch.Tensor
    diverged: torch.Tensor
    diverged_step: torch.Tensor
    batch_loss: torch.Tensor
    settings: dict = field(default_factory=dict)


def subspace_train(model: nn.Module, data: Dataset, theta0: torch.Tensor, projection: Projection, *,
                   scale: float | torch.Tensor = 1.0, seeds: int | Sequence[int] = 0, optimizer: str = "adam",
                   lr: float = 0.03, batch_size: int = 128, steps: int = 500, schedule: str = "cosine",
                   explode: float = 1e3, quiet: bool = False) -> SubspaceResult:
    """Train w (d,) or (K, d) from 0 in theta = theta0 + scale · P w, theta0 (D,) or (K, D); only w is optimised.

    Members of a stack share ``projection`` (use :func:`stack_projections` for one per group) and
    are independent: member k has its own w, its own minibatch order from ``seeds[k]`` and its own
    ``scale[k]``. A member whose minibatch loss is not finite or exceeds ``explode`` times its first
    loss is marked diverged and frozen.
    """
    _check("optimizer", optimizer, optimizer in ("sgd", "adam"), "one of sgd, adam")
    _check("schedule", schedule, schedule in ("constant", "cosine"), "one of constant, cosine")
    _check("lr", lr, lr > 0 and math.isfinite(lr), "a float > 0")
    _check("steps", steps, isinstance(steps, int) and steps >= 1, "an int >= 1")
    _check("batch_size", batch_size, isinstance(batch_size, int) and batch_size >= 1, "an int >= 1")
    single = theta0.ndim == 1
    K = 1 if single else theta0.shape[0]
    seeds = [seeds] * K if isinstance(seeds, int) else list(seeds)
    _check("seeds", seeds, len(seeds) == K, f"{K} seeds, one per member of theta0")
    lay = params.layout(model)
    _check("projection", f"D = {projection.D}", projection.D == lay.dim, f"D = {lay.dim} (the model's parameter count)")
    device = theta0.device
    th0 = theta0.detach().reshape(K, -1)
    s = torch.as_tensor(scale, dtype=th0.dtype, device=device).expand(K).reshape(K, 1)
    x, y, n = data.x_train.to(device), data.y_train.to(device), len(data.y_train)

    w = torch.zeros(K, projection.d, device=device, dtype=th0.dtype, requires_grad=True)
    opt = torch.optim.Adam([w], lr=lr) if optimizer == "adam" else torch.optim.SGD([w], lr=lr, momentum=0.9)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if schedule == "cosine"
             else torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0))

    def member_loss(theta, xb, yb):
        return F.cross_entropy(functional_call(model, params.unflatten(theta, lay), (xb,)), yb)

    step_fn = vmap(grad_and_value(member_loss))
    gens = [torch.Generator().manual_seed(sd) for sd in seeds]
    bs = min(batch_size, n)
    orders = [torch.randperm(n, generator=g) for g in gens]
    diverged = torch.zeros(K, dtype=torch.bool)
    diverged_step = torch.full((K,), -1)
    batch_loss = torch.full((steps, K), float("nan"))
    ref = None
    for step in tqdm(range(steps), disable=quiet, desc=f"subspace d={projection.d}", leave=False, mininterval=1.0):
        pos = (step * bs) % n
        if pos + bs > n:
            orders = [torch.randperm(n, generator=g) for g in gens]
        idx = torch.stack([o[pos if pos + bs <= n else 0:][:bs] for o in orders]).to(device)
        theta = th0 + s * projection(w)
        g_theta, losses = step_fn(theta.detach(), x[idx], y[idx])
        losses = losses.detach().cpu()
        batch_loss[step] = losses
        ref = losses.clamp_min(1e-3) if ref is None else ref
        bad = ~torch.isfinite(losses) | (losses > explode * ref) | ~torch.isfinite(g_theta).all(1).cpu()
        diverged_step[bad & ~diverged] = step
        diverged |= bad
        if bool(diverged.all()):
            break
        dv = diverged.to(device)
        opt.zero_grad(set_to_none=True)
        theta.backward(torch.where(dv[:, None], 0.0, g_theta))
        frozen = w.detach()[dv].clone()
        opt.step()
        sched.step()
        with torch.no_grad():
            w[dv] = frozen
    with torch.no_grad():
        theta = th0 + s * projection(w.detach())
    tr_l, tr_a = params.evaluate(model, theta, x, y)
    te_l, te_a = params.evaluate(model, theta, data.x_test.to(device), data.y_test.to(device))
    out = [w.detach(), theta, tr_l, tr_a, te_l, te_a, params.radius(theta), diverged, diverged_step]
    out = [t[0] for t in out] if single else out
    out.append(batch_loss[:, 0] if single else batch_loss)
    settings = dict(optimizer=optimizer, lr=lr, batch_size=batch_size, steps=steps, schedule=schedule, seeds=seeds,
                    projection=projection.kind, d=projection.d)
    return SubspaceResult(*out, settings=settings)


# --- curvature against radius (the Goldilocks zone) ----------------------------------------------

def goldilocks(model: nn.Module, x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, radii: Sequence[float], *,
               n_probes: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    """Tr(H), ‖H‖_F and Tr(H) / ‖H‖_F of the loss on (x, y) at each radius multiple · theta (D,) -> (R,) each.

    Hutchinson estimates from ``wedges_lib.curvature`` with ``n_probes`` probes; the ratio's standard
    error ``ratio_se`` comes from the two estimates' errors (delta method). Fort & Scherlis (2019):
    the ratio is large in the "Goldilocks" shell of radii where random subspaces train well.
    """
    from . import curvature

    f = params.loss_fn(model, x, y)
    out = {k: [] for k in ("trace", "trace_se", "frobenius", "frobenius_se", "ratio", "ratio_se")}
    for r in radii:
        t = curvature.trace(f, float(r) * theta, n_probes=n_probes, seed=seed)
        f2 = curvature.frobenius_norm_sq(f, float(r) * theta, n_probes=n_probes, seed=seed)
        fro = math.sqrt(max(f2.value, 0.0))
        ratio = t.value / fro if fro > 0 else float("nan")
        rel = math.hypot(t.stderr / abs(t.value), 0.5 * f2.stderr / f2.value) if t.value and f2.value else float("nan")
        for k, v in zip(out, (t.value, t.stderr, fro, 0.5 * f2.stderr / fro if fro else float("nan"), ratio,
                              abs(ratio) * rel)):
            out[k].append(v)
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in out.items()}


# --- sweeps and the intrinsic dimension ---------------------------------------------------------

@dataclass
class SweepResult:
    """Subspace training over dims (n,) x radii (R,) x seeds (S,): each metric is (R, n, S).

    ``radii`` are multiples of each initialisation's own norm; ``radius`` the final ‖theta‖.
    """

    dims: tuple
    radii: tuple
    seeds: tuple
    loss: torch.Tensor
    acc: torch.Tensor
    test_loss: torch.Tensor
    test_acc: torch.Tensor
    radius: torch.Tensor
    diverged: torch.Tensor
    settings: dict = field(default_factory=dict)

    def mean_std(self, metric: str = "test_acc") -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation over seeds of ``metric``: two (R, n) tensors."""
        v = getattr(self, metric).float()
        return v.mean(-1), (v.std(-1) if v.shape[-1] > 1 else torch.zeros_like(v[..., 0]))

    def frame(self):
        """The runs as a pandas DataFrame, one row per (radius, d, seed)."""
        import pandas as pd

        rows = []
        for i, r in enumerate(self.radii):
            for j, d in enumerate(self.dims):
                for k, sd in enumerate(self.seeds):
                    rows.append(dict(radius_mult=r, d=d, seed=sd, **{
                        m: float(getattr(self, m)[i, j, k])
                        for m in ("loss", "acc", "test_loss", "test_acc", "radius", "diverged")}))
        return pd.DataFrame(rows)


def dim_sweep(model: nn.Module, data: Dataset, theta_init: torch.Tensor, dims: Sequence[int], *,
              radii: Sequence[float] = (1.0,), seeds: Sequence[int] | None = None, projection: str = "fastfood",
              step: str = "relative", optimizer: str = "adam", lr: float = 1.7, batch_size: int = 128,
              steps: int = 500, schedule: str = "cosine", quiet: bool = False) -> SweepResult:
    """Subspace-train every (radius, d, seed): theta0 = radius · theta_init[seed], theta_init (S, D) fresh inits.

    For each d, all radii and seeds train together in one vmapped pass; seed k draws its
    projection and minibatch order from ``seeds[k]`` (default 0..S-1), shared by its radii, so the
    radii are compared on the same directions and batches (a paired design).

    ``lr`` is the length of an Adam step in theta: Adam's learning rate on w is lr / sqrt(d), and
    with unit columns of P a step moves theta by about lr, whatever d and the gradient's scale;
    ``step='relative'`` multiplies it by the radius multiple (the same angular step at every
    radius), ``step='absolute'`` does not. See the module doc.
    """
    _check("theta_init", tuple(theta_init.shape), theta_init.ndim == 2, "a stack (S, D) of initialisations")
    _check("dims", dims, len(dims) >= 1 and all(isinstance(d, int) and d >= 1 for d in dims), "ints >= 1")
    _check("radii", radii, len(radii) >= 1 and all(r > 0 for r in radii), "numbers > 0")
    _check("step", step, step in STEPS, f"one of {', '.join(STEPS)}")
    S, D = theta_init.shape
    seeds = tuple(range(S)) if seeds is None else tuple(seeds)
    _check("seeds", seeds, len(seeds) == S, f"{S} seeds, one per row of theta_init")
    R = len(radii)
    mult = torch.tensor([float(r) for _ in seeds for r in radii], dtype=theta_init.dtype, device=theta_init.device)
    theta0 = theta_init.repeat_interleave(R, 0) * mult[:, None]
    scale = mult if step == "relative" else torch.ones_like(mult)
    keys = ("loss", "acc", "test_loss", "test_acc", "radius", "diverged")
    out = {k: [] for k in keys}
    for d in tqdm(dims, disable=quiet, desc="dims", leave=False):
        proj = stack_projections([make_projection(projection, D, d, sd, device=theta_init.device) for sd in seeds], R)
        res = subspace_train(model, data, theta0, proj, scale=scale, seeds=[sd for sd in seeds for _ in radii],
                             optimizer=optimizer, lr=lr / math.sqrt(d), batch_size=batch_size, steps=steps,
                             schedule=schedule, quiet=True)
        for k in keys:
            out[k].append(getattr(res, k).detach().cpu().reshape(S, R).T)  # (R, S)
    settings = dict(projection=projection, step=step, optimizer=optimizer, lr=lr,
                    batch_size=batch_size, steps=steps, schedule=schedule)
    return SweepResult(tuple(dims), tuple(radii), seeds, **{k: torch.stack(v, 1) for k, v in out.items()},
                       settings=settings)


def threshold_dim(dims: Sequence[int], acc: torch.Tensor, threshold: float | torch.Tensor) -> torch.Tensor:
    """Per run, the d where acc (..., n) first reaches ``threshold``, interpolated linearly in log d -> (...,).

    NaN where it is never reached; dims[0] where it is reached already there (an upper bound).
    """
    logd = torch.log(torch.tensor([float(d) for d in dims], dtype=torch.float64))
    _check("dims", tuple(dims), bool((logd.diff() > 0).all()), "increasing")
    a = acc.detach().to("cpu", torch.float64)  # a scalar loop below: on the CPU, whatever acc's device
    thr = torch.as_tensor(threshold, dtype=torch.float64).cpu().expand(a.shape[:-1])
    reached = a >= thr[..., None]
    first = torch.where(reached.any(-1), reached.float().argmax(-1), torch.full(a.shape[:-1], -1))
    out = torch.full(a.shape[:-1], float("nan"), dtype=torch.float64)
    for ix in np.ndindex(*a.shape[:-1]):
        j = int(first[ix])
        if j == 0:
            out[ix] = float(dims[0])
        elif j > 0:
            a0, a1 = float(a[ix][j - 1]), float(a[ix][j])
            t = (float(thr[ix]) - a0) / (a1 - a0)
            out[ix] = math.exp(logd[j - 1] + t * (logd[j] - logd[j - 1]))
    return out


@dataclass
class IntrinsicDimension:
    """The intrinsic dimension per radius (R,) and seed: ``d_star`` (R, S), with mean and std over seeds (R,).

    ``threshold`` = fraction · reference accuracy; ``sweep`` holds the accuracy at every swept d
    (mean ± std per d from ``sweep.mean_std``); ``refined`` lists the (radius index, seed index, d, acc)
    of the bisection runs.
    """

    d_star: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    threshold: torch.Tensor
    sweep: SweepResult
    refined: list


def intrinsic_dimension(model: nn.Module, data: Dataset, theta_init: torch.Tensor, dims: Sequence[int], *,
                        reference: float | torch.Tensor, fraction: float = 0.9, metric: str = "test_acc",
                        bisect: int = 0, sweep: SweepResult | None = None, **sweep_kw) -> IntrinsicDimension:
    """Smallest d whose subspace training reaches ``fraction`` of the ``reference`` (full-space) accuracy.

    Sweeps ``dims`` with :func:`dim_sweep` (``sweep_kw``: radii, seeds, projection, steps, lr, ...),
    interpolates the threshold crossing per (radius, seed) in log d, and, with ``bisect`` > 0,
    refines each bracketing interval by that many extra runs at the geometric midpoint.
    ``reference`` is a number or one per seed (S,), e.g. ``reference_accuracy(...)['test_acc']``.
    Pass a finished ``sweep`` (its dims, radii, seeds and settings are used) to skip the sweep.
    """
    _check("fraction", fraction, 0 < fraction <= 1, "a float in (0, 1]")
    _check("metric", metric, metric in METRICS, f"one of {', '.join(METRICS)}")
    _check("bisect", bisect, isinstance(bisect, int) and bisect >= 0, "an int >= 0")
    sw = dim_sweep(model, data, theta_init, dims, **sweep_kw) if sweep is None else sweep
    acc = getattr(sw, metric)  # (R, n, S)
    thr = fraction * torch.as_tensor(reference, dtype=torch.float64).cpu().expand(len(sw.seeds))  # (S,), on the CPU
    d_star = threshold_dim(sw.dims, acc.transpose(1, 2), thr)  # (R, S)
    refined = []
    if bisect:
        kw = dict(sw.settings, quiet=True)
        for i, r in enumerate(sw.radii):
            for k, sd in enumerate(sw.seeds):
                pts = sorted(zip(sw.dims, acc[i, :, k].tolist()))
                j = next((j for j, (_, a) in enumerate(pts) if a >= thr[k]), None)
                if not j:  # never reached, or reached at the smallest d: nothing to bracket
                    continue
                (lo, a_lo), (hi, a_hi) = pts[j - 1], pts[j]
                for _ in range(bisect):
                    mid = round(math.sqrt(lo * hi))
                    if not lo < mid < hi:
                        break
                    one = dim_sweep(model, data, theta_init[k:k + 1], [mid], radii=(r,), seeds=(sd,), **kw)
                    a_mid = float(getattr(one, metric)[0, 0, 0])
                    refined.append((i, k, mid, a_mid))
                    (lo, a_lo, hi, a_hi) = (mid, a_mid, hi, a_hi) if a_mid < thr[k] else (lo, a_lo, mid, a_mid)
                d_star[i, k] = threshold_dim([lo, hi], torch.tensor([a_lo, a_hi]), thr[k])
    finite = torch.isfinite(d_star)
    mean = torch.stack([row[f].mean() if f.any() else torch.tensor(float("nan"), dtype=torch.float64)
                        for row, f in zip(d_star, finite)])
    std = torch.stack([row[f].std() if f.sum() > 1 else torch.tensor(0.0 if f.any() else float("nan"),
                      dtype=torch.float64) for row, f in zip(d_star, finite)])
    return IntrinsicDimension(d_star, mean, std, thr, sw, refined)


# --- from a chapter's config --------------------------------------------------------------------

def init(cfg: Config, data: Dataset, seeds: Sequence[int] | None = None) -> tuple[nn.Module, torch.Tensor]:
    """The network ``cfg.model`` at width ``cfg.subspace_width`` and one fresh initialisation per seed, (S, D).

    Seeds default to cfg.seed .. cfg.seed + cfg.n_seeds - 1.
    """
    seeds = list(range(cfg.seed, cfg.seed + cfg.n_seeds)) if seeds is None else list(seeds)
    device = pick_device(cfg.device)
    def make(s: int) -> nn.Module:
        return models.make(cfg.model, data.input_shape, data.n_classes, width=cfg.subspace_width, seed=s)

    return make(seeds[0]).to(device), params.stack([params.flatten(make(s)) for s in seeds]).to(device)


def sweep_config(cfg: Config, data: Dataset, model: nn.Module, theta_init: torch.Tensor,
                 seeds: Sequence[int] | None = None, quiet: bool = False, **overrides) -> SweepResult:
    """:func:`dim_sweep` over cfg.dims x cfg.radii x seeds with the subspace settings of ``cfg``."""
    seeds = list(range(cfg.seed, cfg.seed + len(theta_init))) if seeds is None else list(seeds)
    kw = dict(radii=cfg.radii, projection=cfg.projection, step=cfg.subspace_step, lr=cfg.subspace_lr,
              steps=cfg.subspace_steps, batch_size=cfg.batch_size)
    kw.update(overrides)
    return dim_sweep(model, data, theta_init, list(cfg.dims), seeds=seeds, quiet=quiet, **kw)


def reference_accuracy(cfg: Config, data: Dataset, model: nn.Module, theta_init: torch.Tensor,
                       seeds: Sequence[int] | None = None, quiet: bool = False) -> dict[str, torch.Tensor]:
    """Full-space training of each theta_init (S, D) with cfg's optimiser: final 'acc' and 'test_acc', (S,) each."""
    seeds = list(range(cfg.seed, cfg.seed + len(theta_init))) if seeds is None else list(seeds)
    res = train.train(model, data, theta_init, seeds=seeds, optimizer=cfg.optimizer, lr=cfg.lr,
                      momentum=cfg.momentum, l2=cfg.l2, schedule=cfg.schedule, batch_size=cfg.batch_size,
                      steps=cfg.steps, record_every=cfg.steps, quiet=quiet)
    return {k: res.history[k][-1] for k in ("acc", "test_acc", "loss", "test_loss")}


# --- the radius chapter's curvature probe (book/02_radius_and_subspaces.py) ----------------------

register(
    {
        "goldilocks_probes": Param(int, "Hutchinson probes for Tr(H) and ‖H‖_F at each radius", low=1),
        "goldilocks_examples": Param(int, "training examples whose loss the Goldilocks Hessian is taken of", low=1),
    },
    {
        "smoke": dict(goldilocks_probes=16, goldilocks_examples=1000),
        "cpu": dict(goldilocks_probes=32, goldilocks_examples=1000),
        "paper": dict(goldilocks_probes=64, goldilocks_examples=2000),
    },
)


def id_summary(idim: IntrinsicDimension, i: int) -> str:
    """The intrinsic dimension at radius index i as text: mean ± std over the seeds that reached the threshold."""
    hit, S = int(torch.isfinite(idim.d_star[i]).sum()), idim.d_star.shape[1]
    if hit == 0:
        return f"not reached (> {idim.sweep.dims[-1]})"
    part = "" if hit == S else f" ({hit} of {S} seeds)"
    return f"{float(idim.mean[i]):.0f} ± {float(idim.std[i]):.0f}{part}"
