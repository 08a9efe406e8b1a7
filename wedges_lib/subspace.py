"""Training in a random d-dimensional affine subspace at a chosen radius (Li et al. 2018, intrinsic dimension).

The network's parameters are ``theta = theta0 + s * P w``: ``theta0`` (D,) a fresh initialisation
rescaled to a radius, ``P`` a fixed random (D, d) projection, ``w`` (d,)
the only trained vector (it starts at 0) and ``s`` a per-run step scale (1 unless asked). Any
``nn.Module`` works unchanged: it is evaluated with ``torch.func.functional_call`` on
``params.unflatten(theta)``.

The projections are :mod:`wedges_lib.projections`.

The optimiser's step is made comparable across radii by using Adam (the default): its step in w,
hence ‖Δtheta‖ ≈ ‖Δw‖ ≈ lr_w·sqrt(d), does not depend on the gradient's scale, which changes by
orders of magnitude with the radius; :func:`dim_sweep` sets lr_w = lr / sqrt(d) so that a step's
length in theta is about ``lr`` at every d too (``step="absolute"``). ``step="relative"`` (the
presets' choice) further multiplies the step by the radius multiple (s = r / r_init), so that the
*angular* step ‖Δtheta‖ / ‖theta0‖ is the same at every radius. The two answer different questions:
with absolute steps a plane through a small radius reaches out to larger radii (it contains them),
so small radii cost little; with relative steps both sides of a shell of radii lose.

A run may also divide the network's logits by a fixed per-run ``temperature`` (chapter 02's control
for the softmax temperature that the weights' scale sets): it trains, and reports its loss, at that
temperature (the accuracy does not depend on it). Chapter 02's experiment is :mod:`wedges_lib.studies.ch02_radius`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap
from tqdm import tqdm  # a text bar on a terminal only (disable=None): no widget in the book

from . import curvature, optimize, params
from .data import Dataset
from .presets import STEPS
from .projections import Projection, make_projection, stack_projections
from .validation import check_arg

METRICS = ("test_acc", "acc")


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


def tempered_loss(model: nn.Module, reduction: str = "mean"):
    """(theta (D,), temperature (), xb, yb) -> cross-entropy of the logits / temperature on the batch."""
    lay = params.layout(model)
    def f(theta, t, xb, yb):
        return F.cross_entropy(functional_call(model, params.unflatten(theta, lay), (xb,)) / t, yb,
                               reduction=reduction)
    return f


@torch.no_grad()
def evaluate(model: nn.Module, thetas: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
             temperature: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`wedges_lib.params.evaluate` of thetas (K, D) -> loss, acc (K,) each, the loss of the logits divided
    by ``temperature`` (K,) when given (the accuracy does not depend on it); one pass over the data."""
    if temperature is None:
        return params.evaluate(model, thetas, x, y)
    chunk, batch = params.default_sizes(thetas.device)
    lay = params.layout(model)

    def sums(theta, t, xb, yb):
        logits = functional_call(model, params.unflatten(theta, lay), (xb,))
        return F.cross_entropy(logits / t, yb, reduction="sum"), (logits.argmax(-1) == yb).sum()

    f = vmap(sums, in_dims=(0, 0, None, None))
    t = torch.as_tensor(temperature, dtype=thetas.dtype, device=thetas.device).expand(len(thetas))
    loss, correct = [], []
    for th, tt in zip(thetas.split(chunk), t.split(chunk)):
        parts = [f(th, tt, xb, yb) for xb, yb in zip(x.split(batch), y.split(batch))]
        loss.append(sum(p[0] for p in parts))
        correct.append(sum(p[1] for p in parts))
    return torch.cat(loss) / len(y), torch.cat(correct).to(thetas.dtype) / len(y)


def subspace_train(model: nn.Module, data: Dataset, theta0: torch.Tensor, projection: Projection, *,
                   scale: float | torch.Tensor = 1.0, temperature: float | torch.Tensor | None = None,
                   seeds: int | Sequence[int] = 0, optimizer: str = "adam", lr: float = 0.03, batch_size: int = 128,
                   steps: int = 500, schedule: str = "cosine", explode: float = 1e3,
                   quiet: bool = False) -> SubspaceResult:
    """Train w (d,) or (K, d) from 0 in theta = theta0 + scale · P w, theta0 (D,) or (K, D); only w is optimised.

    Members of a stack share ``projection`` (use :func:`~wedges_lib.projections.stack_projections` for one per
    group) and are independent: member k has its own w, its own minibatch order from ``seeds[k]``, its own
    ``scale[k]`` and its own ``temperature[k]`` (its logits are divided by it; None: 1). A member whose minibatch
    loss is not finite or exceeds ``explode`` times its first loss is marked diverged and frozen. The loop is
    :func:`wedges_lib.optimize.minimize` on w (its minibatch order, optimisers, schedules and divergence rule;
    SGD uses momentum 0.9).
    """
    single = theta0.ndim == 1
    K = 1 if single else theta0.shape[0]
    seeds = [seeds] * K if isinstance(seeds, int) else list(seeds)
    check_arg("seeds", seeds, len(seeds) == K, f"{K} seeds, one per member of theta0")
    lay = params.layout(model)
    check_arg("projection", f"D = {projection.D}", projection.D == lay.dim,
              f"D = {lay.dim} (the model's parameter count)")
    device = theta0.device
    th0 = theta0.detach().reshape(K, -1)
    s = torch.as_tensor(scale, dtype=th0.dtype, device=device).expand(K).reshape(K, 1)
    x, y = data.x_train.to(device), data.y_train.to(device)
    t = None if temperature is None else torch.as_tensor(temperature, dtype=th0.dtype, device=device).expand(K)
    member_loss = params.stacked_loss(model) if t is None else vmap(tempered_loss(model))  # bmm path if it can
    args = () if t is None else (t,)
    w0 = torch.zeros(K, projection.d, device=device, dtype=th0.dtype)
    run = optimize.minimize(w0, lambda w, idx: member_loss(th0 + s * projection(w), *args, x[idx], y[idx]),
                            n=len(y),
                            seeds=seeds, optimizer=optimizer, lr=lr, momentum=0.9, schedule=schedule,
                            batch_size=batch_size, steps=steps, explode=explode, record_every=steps,
                            record_start=False, quiet=quiet, desc=f"subspace d={projection.d}")
    w = run.p
    with torch.no_grad():
        theta = th0 + s * projection(w)
    tr_l, tr_a = evaluate(model, theta, x, y, t)
    te_l, te_a = evaluate(model, theta, data.x_test.to(device), data.y_test.to(device), t)
    out = [w, theta, tr_l, tr_a, te_l, te_a, params.radius(theta), run.diverged, run.diverged_step]
    out = [t[0] for t in out] if single else out
    out.append(run.batch_loss[:, 0] if single else run.batch_loss)
    settings = dict(optimizer=optimizer, lr=lr, batch_size=batch_size, steps=steps, schedule=schedule, seeds=seeds,
                    projection=projection.kind, d=projection.d)
    return SubspaceResult(*out, settings=settings)


# --- curvature against radius (the Goldilocks zone) ----------------------------------------------

def _anchor_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, theta0: torch.Tensor, temperature: float,
                 projection: Projection | None):
    """theta (D,) -> loss on (x, y) at logits / temperature; with a projection, w (d,) -> that at theta0 + P w."""
    f = tempered_loss(model)
    if projection is None:
        return lambda theta: f(theta, temperature, x, y)
    return lambda w: f(theta0 + projection(w), temperature, x, y)


def goldilocks(model: nn.Module, x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, radii: Sequence[float], *,
               n_probes: int = 32, seed: int = 0, temperature: Sequence[float] | None = None,
               projection: Projection | None = None) -> dict[str, torch.Tensor]:
    """Tr(H), ‖H‖_F and Tr(H) / ‖H‖_F of the loss on (x, y) at each radius multiple · theta (D,) -> (R,) each.

    ``temperature`` (R,) divides the logits at each radius. With a ``projection`` P (D -> d) the Hessian is
    the one restricted to the random subspace, PᵀHP (d, d): that of w -> L(r·theta + P w) at w = 0, as
    Fort & Scherlis measure it (through Hessian-vector products; P is never formed).

    Hutchinson estimates from ``wedges_lib.curvature`` with ``n_probes`` probes; the ratio's standard
    error ``ratio_se`` comes from the two estimates' errors (delta method). Fort & Scherlis (2019):
    the ratio is large in the "Goldilocks" shell of radii where random subspaces train well.
    """
    temps = [1.0] * len(radii) if temperature is None else [float(t) for t in temperature]
    out = {k: [] for k in ("trace", "trace_se", "frobenius", "frobenius_se", "ratio", "ratio_se")}
    for r, temp in zip(radii, temps):
        f = _anchor_loss(model, x, y, float(r) * theta, temp, projection)
        at = theta.new_zeros(projection.d) if projection is not None else float(r) * theta
        t = curvature.trace(f, at, n_probes=n_probes, seed=seed)
        f2 = curvature.frobenius_norm_sq(f, at, n_probes=n_probes, seed=seed)
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
    Used in :ref:`ch-radius`.
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
              step: str | Sequence[str] = "relative", temperature: torch.Tensor | None = None,
              optimizer: str = "adam", lr: float = 1.7, batch_size: int = 128, steps: int = 500,
              schedule: str = "cosine", quiet: bool = False) -> SweepResult:
    """Subspace-train every (radius, d, seed): theta0 = radius · theta_init[seed], theta_init (S, D) fresh inits.

    For each d, all radii and seeds train together in one vmapped pass; seed k draws its
    projection and minibatch order from ``seeds[k]`` (default 0..S-1), shared by its radii, so the
    radii are compared on the same directions and batches (a paired design).

    ``lr`` is the length of an Adam step in theta: Adam's learning rate on w is lr / sqrt(d), and
    with unit columns of P a step moves theta by about lr, whatever d and the gradient's scale;
    ``step='relative'`` multiplies it by the radius multiple (the same angular step at every
    radius), ``step='absolute'`` does not. See the module doc. ``step`` may also name one step per
    radius entry, and ``temperature`` (R, S) divides the logits of run (radius i, seed k) by its entry
    (radii may repeat: several variants of one radius then share a pass, a projection and minibatches).
    """
    check_arg("theta_init", tuple(theta_init.shape), theta_init.ndim == 2, "a stack (S, D) of initialisations")
    check_arg("dims", dims, len(dims) >= 1 and all(isinstance(d, int) and d >= 1 for d in dims), "ints >= 1")
    check_arg("radii", radii, len(radii) >= 1 and all(r > 0 for r in radii), "numbers > 0")
    R = len(radii)
    step = (step,) * R if isinstance(step, str) else tuple(step)
    check_arg("step", step, len(step) == R and all(s in STEPS for s in step),
              f"one of {', '.join(STEPS)}, or one of them per radius ({R})")
    S, D = theta_init.shape
    seeds = tuple(range(S)) if seeds is None else tuple(seeds)
    check_arg("seeds", seeds, len(seeds) == S, f"{S} seeds, one per row of theta_init")
    mult = torch.tensor([float(r) for _ in seeds for r in radii], dtype=theta_init.dtype, device=theta_init.device)
    theta0 = theta_init.repeat_interleave(R, 0) * mult[:, None]
    relative = torch.tensor([st == "relative" for _ in seeds for st in step], device=mult.device)
    scale = torch.where(relative, mult, torch.ones_like(mult))
    if temperature is not None:
        check_arg("temperature", tuple(temperature.shape), tuple(temperature.shape) == (R, S), f"shape ({R}, {S})")
        temperature = temperature.T.reshape(-1).to(theta_init)
    keys = ("loss", "acc", "test_loss", "test_acc", "radius", "diverged")
    out = {k: [] for k in keys}
    for d in tqdm(dims, disable=quiet or None, desc="dims", leave=False):
        proj = stack_projections([make_projection(projection, D, d, sd, device=theta_init.device) for sd in seeds], R)
        res = subspace_train(model, data, theta0, proj, scale=scale, temperature=temperature,
                             seeds=[sd for sd in seeds for _ in radii],
                             optimizer=optimizer, lr=lr / math.sqrt(d), batch_size=batch_size, steps=steps,
                             schedule=schedule, quiet=True)
        for k in keys:
            out[k].append(getattr(res, k).detach().cpu().reshape(S, R).T)  # (R, S)
    settings = dict(projection=projection, step=step[0] if len(set(step)) == 1 else step, optimizer=optimizer, lr=lr,
                    batch_size=batch_size, steps=steps, schedule=schedule)
    return SweepResult(tuple(dims), tuple(radii), seeds, **{k: torch.stack(v, 1) for k, v in out.items()},
                       settings=settings)


def threshold_dim(dims: Sequence[int], acc: torch.Tensor, threshold: float | torch.Tensor) -> torch.Tensor:
    """Per run, the d where acc (..., n) first reaches ``threshold``, interpolated linearly in log d -> (...,).

    NaN where it is never reached; dims[0] where it is reached already there (an upper bound).

    >>> acc = torch.tensor([[0.5, 0.7, 0.9], [0.5, 0.6, 0.65]])  # two runs at d = 10, 100, 1000
    >>> threshold_dim([10, 100, 1000], acc, 0.8).round(decimals=1).tolist()  # 0.8 halfway: 10^2.5
    [316.2, nan]
    """
    logd = torch.log(torch.tensor([float(d) for d in dims], dtype=torch.float64))
    check_arg("dims", tuple(dims), bool((logd.diff() > 0).all()), "increasing")
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
    check_arg("fraction", fraction, 0 < fraction <= 1, "a float in (0, 1]")
    check_arg("metric", metric, metric in METRICS, f"one of {', '.join(METRICS)}")
    check_arg("bisect", bisect, isinstance(bisect, int) and bisect >= 0, "an int >= 0")
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


def sweep_intrinsic_dimension(sweep: SweepResult, *, reference: float | torch.Tensor, fraction: float = 0.9,
                              metric: str = "test_acc") -> IntrinsicDimension:
    """:func:`intrinsic_dimension` of a finished ``sweep``, with no further runs (no bisection).
    Used in :ref:`ch-radius`."""
    return intrinsic_dimension(None, None, None, sweep.dims, reference=reference, fraction=fraction, metric=metric,
                               sweep=sweep)
