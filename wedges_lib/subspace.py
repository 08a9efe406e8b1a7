"""Training in a random d-dimensional affine subspace at a chosen radius (Li et al. 2018, intrinsic dimension).

The network's parameters are ``theta = theta0 + s * P w``: ``theta0`` (D,) a fresh initialisation
rescaled to a radius (:func:`place_at_radius`), ``P`` a fixed random (D, d) projection, ``w`` (d,)
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
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.func import vmap
from tqdm.auto import tqdm

from . import curvature, models, optimize, params, toy, train
from .config import Config, pick_device
from .data import Dataset
from .presets import STEPS
from .projections import Projection, make_projection, stack_projections
from .validation import check_arg

METRICS = ("test_acc", "acc")


def place_at_radius(theta: torch.Tensor, r: float | torch.Tensor) -> torch.Tensor:
    """theta (D,) or (K, D) rescaled along itself to radius r (a number, or (K,) for a stack)."""
    r = torch.as_tensor(r, dtype=theta.dtype, device=theta.device)
    return theta * (r / params.radius(theta)).unsqueeze(-1)


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

    Members of a stack share ``projection`` (use :func:`~wedges_lib.projections.stack_projections` for one per
    group) and are independent: member k has its own w, its own minibatch order from ``seeds[k]`` and its own
    ``scale[k]``. A member whose minibatch loss is not finite or exceeds ``explode`` times its first
    loss is marked diverged and frozen. The loop is :func:`wedges_lib.optimize.minimize` on w (its
    minibatch order, optimisers, schedules and divergence rule; SGD uses momentum 0.9).
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
    member_loss = vmap(params.batch_loss(model))
    w0 = torch.zeros(K, projection.d, device=device, dtype=th0.dtype)
    run = optimize.minimize(w0, lambda w, idx: member_loss(th0 + s * projection(w), x[idx], y[idx]), n=len(y),
                            seeds=seeds, optimizer=optimizer, lr=lr, momentum=0.9, schedule=schedule,
                            batch_size=batch_size, steps=steps, explode=explode, record_every=steps,
                            record_start=False, quiet=quiet, desc=f"subspace d={projection.d}")
    w = run.p
    with torch.no_grad():
        theta = th0 + s * projection(w)
    tr_l, tr_a = params.evaluate(model, theta, x, y)
    te_l, te_a = params.evaluate(model, theta, data.x_test.to(device), data.y_test.to(device))
    out = [w, theta, tr_l, tr_a, te_l, te_a, params.radius(theta), run.diverged, run.diverged_step]
    out = [t[0] for t in out] if single else out
    out.append(run.batch_loss[:, 0] if single else run.batch_loss)
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
    check_arg("theta_init", tuple(theta_init.shape), theta_init.ndim == 2, "a stack (S, D) of initialisations")
    check_arg("dims", dims, len(dims) >= 1 and all(isinstance(d, int) and d >= 1 for d in dims), "ints >= 1")
    check_arg("radii", radii, len(radii) >= 1 and all(r > 0 for r in radii), "numbers > 0")
    check_arg("step", step, step in STEPS, f"one of {', '.join(STEPS)}")
    S, D = theta_init.shape
    seeds = tuple(range(S)) if seeds is None else tuple(seeds)
    check_arg("seeds", seeds, len(seeds) == S, f"{S} seeds, one per row of theta_init")
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


# --- from a chapter's config --------------------------------------------------------------------

def init(cfg: Config, data: Dataset, seeds: Sequence[int] | None = None) -> tuple[nn.Module, torch.Tensor]:
    """The network ``cfg.model`` at width ``cfg.subspace_width`` and one fresh initialisation per seed, (S, D).

    Seeds default to cfg.seed .. cfg.seed + cfg.radius_seeds - 1.
    """
    seeds = list(range(cfg.seed, cfg.seed + cfg.radius_seeds)) if seeds is None else list(seeds)
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


def id_summary(idim: IntrinsicDimension, i: int) -> str:
    """The intrinsic dimension at radius index i as text: mean ± std over the seeds that reached the threshold."""
    hit, S = int(torch.isfinite(idim.d_star[i]).sum()), idim.d_star.shape[1]
    if hit == 0:
        return f"not reached (> {idim.sweep.dims[-1]})"
    part = "" if hit == S else f" ({hit} of {S} seeds)"
    return f"{float(idim.mean[i]):.0f} ± {float(idim.std[i]):.0f}{part}"


def sweep_intrinsic_dimension(sweep: SweepResult, *, reference: float | torch.Tensor, fraction: float = 0.9,
                              metric: str = "test_acc") -> IntrinsicDimension:
    """:func:`intrinsic_dimension` of a finished ``sweep``, with no further runs (no bisection).
    Used in :ref:`ch-radius`."""
    return intrinsic_dimension(None, None, None, sweep.dims, reference=reference, fraction=fraction, metric=metric,
                               sweep=sweep)


@torch.no_grad()
def anchor_loss(model: nn.Module, theta_init: torch.Tensor, radii: Sequence[float], x: torch.Tensor,
                y: torch.Tensor) -> torch.Tensor:
    """The loss on (x, y) at every anchor radius · theta_init[s]: theta_init (S, D) -> (R, S), one pass.
    Used in :ref:`ch-radius`."""
    c = torch.tensor([float(r) for r in radii], dtype=theta_init.dtype, device=theta_init.device)
    loss = params.evaluate(model, (c[:, None, None] * theta_init).flatten(0, 1), x, y)[0]
    return loss.reshape(len(c), -1)


def radius_experiment(cfg: Config, data: Dataset) -> dict:
    """Chapter 02's runs, as plain tensors (so they cache): the full-space reference test accuracy 'ref' (S,),
    the (radius, d, seed) sweep 'sweep' (the fields of a :class:`SweepResult`), Tr(H)/‖H‖_F 'ratio' and the
    training loss 'init_loss' at every anchor (R, S), and the parameter count 'D'. Used in :ref:`ch-radius`."""
    model, th = init(cfg, data)  # cfg.radius_seeds initialisations
    ref = reference_accuracy(cfg, data, model, th, quiet=True)
    sweep = sweep_config(cfg, data, model, th, quiet=True)
    x, y = data.x_train[:cfg.goldilocks_examples], data.y_train[:cfg.goldilocks_examples]
    gold = [goldilocks(model, x, y, t, cfg.radii, n_probes=cfg.goldilocks_probes, seed=cfg.seed + k)
            for k, t in enumerate(th)]
    return {"ref": ref["test_acc"], "sweep": vars(sweep), "ratio": torch.stack([g["ratio"] for g in gold], 1),
            "init_loss": anchor_loss(model, th, cfg.radii, data.x_train.to(th.device), data.y_train.to(th.device)),
            "D": int(th.shape[1])}


def log_slope(x: Sequence[float], y: torch.Tensor) -> torch.Tensor:
    """Per column, the least-squares slope of log y against log x: x (R,), y (R, S) > 0 -> (S,); NaN where fewer
    than two points are finite or x has no spread. Used in :ref:`ch-radius`.

    >>> log_slope([1, 2, 4], torch.tensor([[8.0, 1.0], [4.0, 1.0], [2.0, float('nan')]])).tolist()
    [-1.0, 0.0]
    """
    lx = torch.log(torch.tensor([float(v) for v in x], dtype=torch.float64))[:, None].expand(-1, y.shape[-1])
    ly = torch.log(y.detach().cpu().double().reshape(lx.shape))
    n = (ok := torch.isfinite(ly)).sum(0)
    xc = torch.where(ok, lx - (lx * ok).sum(0) / n, 0.0)
    yc = torch.where(ok, ly - ly.nan_to_num(0, 0, 0).mul(ok).sum(0) / n, 0.0)
    den = (xc ** 2).sum(0)
    return torch.where((n >= 2) & (den > 1e-12), (xc * yc).sum(0) / den.clamp_min(1e-12), math.nan)


def radius_statistics(sw: SweepResult, idim: IntrinsicDimension) -> dict[str, torch.Tensor]:
    """Chapter 02's statistics, one value per seed (S,), each paired within the seed (its radii share the
    initialisation's direction, the projections and the minibatches): 'far_near', the test accuracy at the
    largest radius minus at the smallest, averaged over the swept d; 'id_slope', the slope of log d_int against
    log radius (:func:`log_slope`; where d_int was not reached, the largest d swept stands in: a lower bound);
    'diverged', the count of diverged runs of the seed. A seed with a diverged run is not measured (NaN).
    Used in :ref:`ch-radius`."""
    acc, diverged = sw.test_acc.double(), sw.diverged.flatten(0, 1).sum(0)  # (R, n, S), (S,)
    slope = log_slope(sw.radii, idim.d_star.nan_to_num(float(sw.dims[-1])))
    return dict(far_near=(acc[-1] - acc[0]).mean(0).masked_fill(diverged > 0, math.nan),
                id_slope=slope.masked_fill(diverged > 0, math.nan), diverged=diverged)


def toy_d50(cfg: Config) -> torch.Tensor:
    """Chapter 02's toy block, repeated on ``cfg.radius_seeds`` toys (toy k: a fresh wedge landscape and fresh
    planes from seed ``cfg.seed + k``): the smallest d of ``cfg.plane_dims`` where half of ``cfg.plane_seeds``
    random planes through a point at each radius of ``cfg.plane_radii`` succeed, (R, toys); NaN where none
    does. Used in :ref:`ch-radius`."""
    out = []
    for s in range(cfg.seed, cfg.seed + cfg.radius_seeds):
        w = toy.make_wedges(cfg.plane_D, cfg.plane_n, cfg.plane_K, kappa=cfg.plane_kappa, r_min=cfg.toy_r_min,
                            r_open=cfg.toy_r_min, seed=s)
        ok = toy.hyperplane_success_map(w, cfg.plane_dims, cfg.plane_radii, seeds=cfg.plane_seeds,
                                        steps=cfg.plane_steps, seed=s)
        out.append(toy.intrinsic_dimension(ok, cfg.plane_dims))
    return torch.stack(out, 1)


def radius_numbers(res: dict, idim: IntrinsicDimension, radii: Sequence[float], d50: torch.Tensor,
                   plane_radii: Sequence[float]) -> dict:
    """The numbers chapter 02's text quotes, named as recorded (less ``radius_``), from :func:`radius_experiment`'s
    ``res``, ``idim`` and :func:`toy_d50` (R', toys); accuracies averaged over seeds and d. Used in :ref:`ch-radius`."""
    ratio, loss, dims, toy_mean = res["ratio"], res["init_loss"], res["sweep"]["dims"], d50.nanmean(1)
    mean, last = res["sweep"]["test_acc"].double().mean((1, 2)), len(radii) - 1  # (R,): over d and seeds
    at = dict(smallest=0, best=int(mean.argmax()), largest=last,  # radius indices in the text
              one=int(torch.tensor([float(r) for r in radii]).log().abs().argmin()),  # nearest the init's norm
              low=int(idim.mean.nan_to_num(math.inf).argmin()),  # the lowest intrinsic dimension
              peak=int(ratio.mean(1).argmax()))
    shape = {0: "at the smallest radius", last: "at the largest radius"}.get(
        at["best"], f"in between, at c = {radii[at['best']]:g}, lower at both ends (a shell)")
    num = dict(d_first=dims[0], d=dims[-1], ref_acc=res["ref"].mean(), shape=f"highest {shape}",
               diverged=int(res["sweep"]["diverged"].sum()), toy_d50_first=toy_mean[0], toy_d50_last=toy_mean[-1],
               toy_r_first=plane_radii[0], toy_r_last=plane_radii[-1])
    num |= {k: radii[i] for k, i in at.items()}  # the radius multiples themselves
    num |= {f"acc_{k}": mean[at[k]] for k in ("best", "smallest", "largest")}
    num |= {f"id_{k}": id_summary(idim, at[k]) for k in ("smallest", "low", "largest")}
    num |= {f"ratio_{k}": ratio[at[k]].mean() for k in ("smallest", "peak", "largest")}
    num |= {f"init_loss_{k}": loss[at[k]].mean() for k in ("one", "largest")}
    return {k: float(v) if isinstance(v, torch.Tensor) else v for k, v in num.items()}
