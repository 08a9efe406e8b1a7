"""Low-loss paths between two solutions a and c (each (D,)), and measures of a loss profile.

Paths are affine combinations of three control points (a, b, c) with weights w(t) (T, 3):

* ``line``: (1 - t) a + t c (b unused);
* ``bezier``: the quadratic Bezier curve (1 - t)² a + 2 t (1 - t) b + t² c (Garipov et al. 2018);
* ``polychain``: the two segments a -> b (t in [0, 1/2]) and b -> c (t in [1/2, 1]) (Garipov et al. 2018).

:func:`train_curve` fits the bend b of a Bezier curve or a polychain as Garipov et al. do: the endpoints
stay fixed, b starts at the midpoint of a-c, and every step draws ``n_t`` values t ~ U[0, 1] and a
minibatch, and descends the mean loss at the ``n_t`` curve points (evaluated in one vmapped pass).
:func:`fj_connector` is the connector attributed to Fort & Jastrzebski 2019: b starts at the midpoint
and descends the loss *at b* (``objective='point'``; or, as a variant, the loss along the whole path,
``objective='path'``), with the gradient's component along c - a projected out, so b moves only in the
hyperplane through the midpoint orthogonal to a-c; the path is the polychain a -> b -> c.

What is optimised, ``f``, is one of

* a network (``nn.Module``) with ``data`` (a :class:`~wedges_lib.data.Dataset`): minibatch cross-entropy;
* a callable ``loss_on_batch(theta (D,), xb, yb) -> ()`` with ``data``: vmapped over the curve points;
* a batched loss ``f(thetas (K, D)) -> (K,)`` with ``data=None`` (e.g. the toy model), no minibatches.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap
from tqdm.auto import tqdm

from . import params
from .data import Dataset
from .surfaces import evaluate_affine

KINDS = ("line", "bezier", "polychain")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "cosine")


def _check(name: str, value, ok: bool, valid: str) -> None:
    if not ok:
        raise ValueError(f"parameter {name!r}: got {value!r}; expected {valid}")


def weights(kind: str, ts: torch.Tensor) -> torch.Tensor:
    """Weights (T, 3) of the control points (a, b, c) at ts (T,) on a path of ``kind``; each row sums to 1."""
    _check("kind", kind, kind in KINDS, f"one of {', '.join(KINDS)}")
    t = torch.as_tensor(ts).reshape(-1, 1)
    if kind == "line":
        return torch.cat([1 - t, torch.zeros_like(t), t], dim=1)
    if kind == "bezier":
        return torch.cat([(1 - t) ** 2, 2 * t * (1 - t), t ** 2], dim=1)
    first = t <= 0.5
    s = torch.where(first, 2 * t, 2 * t - 1)  # position inside the segment
    zero = torch.zeros_like(t)
    return torch.cat([torch.where(first, 1 - s, zero), torch.where(first, s, 1 - s), torch.where(first, zero, s)], dim=1)


def _controls(points: torch.Tensor) -> tuple[torch.Tensor, str | None]:
    _check("points", tuple(points.shape), points.ndim == 2 and points.shape[0] in (2, 3),
           "shape (2, D) for a straight line or (3, D) for (a, b, c)")
    if points.shape[0] == 2:
        return torch.stack([points[0], 0.5 * (points[0] + points[1]), points[1]]), "line"
    return points, None


def curve_points(points: torch.Tensor, ts: torch.Tensor, kind: str = "bezier") -> torch.Tensor:
    """Points (T, D) at ts (T,) on the path through points (3, D) = (a, b, c), or (2, D) = (a, c) for a line."""
    ctrl, forced = _controls(points)
    return weights(forced or kind, ts).to(ctrl) @ ctrl


def profile(f, points: torch.Tensor, ts: torch.Tensor | int = 31, *, kind: str = "bezier",
            x: torch.Tensor | None = None, y: torch.Tensor | None = None, chunk: int | None = None,
            batch: int | None = None) -> dict[str, torch.Tensor]:
    """Loss (and accuracy, for a network with x, y) along a path: 't' (T,), 'loss' (T,)[, 'acc' (T,)].

    ``points`` is (2, D) for the straight line a -> c or (3, D) = (a, b, c) for a ``kind`` path; ``f`` is a
    network or a batched loss (K, D) -> (K,), as in :mod:`wedges_lib.surfaces`. The points are vmapped.
    """
    if isinstance(ts, int):
        _check("ts", ts, ts >= 2, "an int >= 2 or a tensor (T,)")
        ts = torch.linspace(0, 1, ts)
    ctrl, forced = _controls(points)
    w = weights(forced or kind, ts).to(ctrl)
    res = evaluate_affine(f, ctrl[0], ctrl[1:] - ctrl[0], w[:, 1:], x=x, y=y, chunk=chunk, batch=batch)
    return {"t": torch.as_tensor(ts).reshape(-1), **res}


def barrier_height(losses: torch.Tensor) -> torch.Tensor:
    """Max of a loss profile (..., T) minus the mean of its two endpoints, (...)."""
    return losses.amax(dim=-1) - 0.5 * (losses[..., 0] + losses[..., -1])


def accuracy_drop(acc: torch.Tensor) -> torch.Tensor:
    """Mean of the endpoints' accuracy minus the lowest accuracy along a profile (..., T), (...)."""
    return 0.5 * (acc[..., 0] + acc[..., -1]) - acc.amin(dim=-1)


def max_rise(losses: torch.Tensor) -> torch.Tensor:
    """Largest rise of a profile (..., T) over any earlier value, max_{i<=j} L_j - L_i, (...); 0 iff non-increasing."""
    return (losses - losses.cummin(dim=-1).values).amax(dim=-1)


def is_monotonic(losses: torch.Tensor, tol: float = 0.0) -> torch.Tensor:
    """True where a profile (..., T) never rises by more than ``tol`` (a monotone descent), bool (...)."""
    return max_rise(losses) <= tol


@dataclass
class CurveResult:
    """A fitted path: control points (a, b, c) and the history of its training objective.

    ``history`` maps 'step' (R,) and 'loss' (R,), the mean sampled minibatch loss since the last record.
    """

    kind: str
    a: torch.Tensor
    b: torch.Tensor
    c: torch.Tensor
    history: dict[str, torch.Tensor]
    settings: dict = field(default_factory=dict)

    @property
    def points(self) -> torch.Tensor:
        """The control points stacked, (3, D)."""
        return torch.stack([self.a, self.b, self.c])


def _batch_source(f, data: Dataset | None, batch_size: int, gen: torch.Generator, device) -> Callable:
    """A function that, at each call, returns the step's batched loss (K, D) -> (K,) on a fresh minibatch."""
    if data is None:
        _check("data", None, not isinstance(f, nn.Module), "a Dataset when f is a network")
        _check("f", type(f).__name__, callable(f), "an nn.Module or a callable")
        return lambda: f
    if isinstance(f, nn.Module):
        lay = params.layout(f)

        def single(th, xb, yb):
            return F.cross_entropy(functional_call(f, params.unflatten(th, lay), (xb,)), yb)
    else:
        _check("f", type(f).__name__, callable(f), "an nn.Module or a callable loss_on_batch(theta, xb, yb)")
        single = f
    per_point = vmap(single, in_dims=(0, None, None))
    x, y = data.x_train.to(device), data.y_train.to(device)
    n = len(y)
    bs = min(batch_size, n)
    state = {"order": torch.randperm(n, generator=gen), "pos": 0}

    def draw():
        if state["pos"] + bs > n:
            state["order"], state["pos"] = torch.randperm(n, generator=gen), 0
        idx = state["order"][state["pos"]:state["pos"] + bs].to(device)
        state["pos"] += bs
        xb, yb = x[idx], y[idx]
        return lambda thetas: per_point(thetas, xb, yb)
    return draw


def _fit_bend(f, a: torch.Tensor, c: torch.Tensor, *, kind: str, fixed_t: float | None, project: bool,
              data: Dataset | None, steps: int, lr: float, optimizer: str, momentum: float, schedule: str,
              batch_size: int, n_t: int, seed: int, record_every: int, init: torch.Tensor | None,
              quiet: bool, desc: str) -> CurveResult:
    _check("kind", kind, kind in ("bezier", "polychain"), "'bezier' or 'polychain'")
    _check("optimizer", optimizer, optimizer in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}")
    _check("schedule", schedule, schedule in SCHEDULES, f"one of {', '.join(SCHEDULES)}")
    _check("steps", steps, isinstance(steps, int) and steps >= 1, "an int >= 1")
    _check("lr", lr, isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr), "a float > 0")
    _check("n_t", n_t, isinstance(n_t, int) and n_t >= 1, "an int >= 1")
    _check("record_every", record_every, isinstance(record_every, int) and record_every >= 1, "an int >= 1")
    _check("c", tuple(c.shape), a.ndim == 1 and c.shape == a.shape, f"a vector of a's shape {tuple(a.shape)}")
    a, c = a.detach(), c.detach()
    mid = 0.5 * (a + c)
    e = (c - a) / params.radius(c - a)
    b = torch.nn.Parameter((mid if init is None else init.detach().to(a)).clone())
    opt = (torch.optim.SGD([b], lr=lr, momentum=momentum) if optimizer == "sgd" else torch.optim.Adam([b], lr=lr))
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if schedule == "cosine"
             else torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0))
    gen = torch.Generator().manual_seed(seed)
    next_loss = _batch_source(f, data, batch_size, gen, a.device)
    hist: dict[str, list] = {"step": [], "loss": []}
    running, count = 0.0, 0
    for step in tqdm(range(steps), disable=quiet, desc=desc, leave=False, mininterval=1.0):
        ts = torch.full((1,), fixed_t) if fixed_t is not None else torch.rand(n_t, generator=gen)
        w = weights(kind, ts).to(a)
        thetas = w[:, :1] * a + w[:, 1:2] * b + w[:, 2:] * c
        loss = next_loss()(thetas).mean()
        opt.zero_grad()
        loss.backward()
        if project:
            b.grad -= (b.grad @ e) * e
        opt.step()
        sched.step()
        if project:  # exact constraint for any optimiser (Adam's update is not a projected gradient)
            with torch.no_grad():
                b -= ((b - mid) @ e) * e
        running, count = running + float(loss.detach()), count + 1
        if (step + 1) % record_every == 0 or step + 1 == steps:
            hist["step"].append(step + 1)
            hist["loss"].append(running / count)
            running, count = 0.0, 0
    settings = dict(kind=kind, steps=steps, lr=lr, optimizer=optimizer, momentum=momentum, schedule=schedule,
                    batch_size=batch_size, n_t=n_t, seed=seed, fixed_t=fixed_t, project=project)
    return CurveResult(kind, a, b.detach().clone(), c,
                       {"step": torch.tensor(hist["step"]), "loss": torch.tensor(hist["loss"])}, settings)


def train_curve(f, a: torch.Tensor, c: torch.Tensor, *, kind: str = "bezier", data: Dataset | None = None,
                steps: int = 500, lr: float = 0.05, optimizer: str = "sgd", momentum: float = 0.9,
                schedule: str = "cosine", batch_size: int = 128, n_t: int = 4, seed: int = 0,
                record_every: int = 50, init: torch.Tensor | None = None, quiet: bool = False) -> CurveResult:
    """Fit the bend b (D,) of a ``kind`` ('bezier' / 'polychain') path between fixed a, c (D,) (Garipov et al.).

    Each step draws ``n_t`` t ~ U[0, 1] and one minibatch of ``batch_size`` (from ``seed``) and descends the
    mean loss at those curve points; b starts at ``init`` (default: the midpoint of a-c).
    """
    return _fit_bend(f, a, c, kind=kind, fixed_t=None, project=False, data=data, steps=steps, lr=lr,
                     optimizer=optimizer, momentum=momentum, schedule=schedule, batch_size=batch_size, n_t=n_t,
                     seed=seed, record_every=record_every, init=init, quiet=quiet, desc=f"curve ({kind})")


def fj_connector(f, a: torch.Tensor, c: torch.Tensor, *, objective: str = "point", data: Dataset | None = None,
                 steps: int = 500, lr: float = 0.05, optimizer: str = "sgd", momentum: float = 0.9,
                 schedule: str = "cosine", batch_size: int = 128, n_t: int = 4, seed: int = 0,
                 record_every: int = 50, quiet: bool = False) -> CurveResult:
    """Fort & Jastrzebski's connector a -> b -> c for a, c (D,): b starts at the midpoint and moves only in the
    hyperplane orthogonal to c - a (the gradient's component along c - a is projected out).

    ``objective`` 'point' descends the loss at b alone (the method as described); 'path' descends the loss at
    ``n_t`` points t ~ U[0, 1] of the polychain a -> b -> c, as :func:`train_curve` does, under the same constraint.
    """
    _check("objective", objective, objective in ("point", "path"), "'point' or 'path'")
    return _fit_bend(f, a, c, kind="polychain", fixed_t=0.5 if objective == "point" else None, project=True,
                     data=data, steps=steps, lr=lr, optimizer=optimizer, momentum=momentum, schedule=schedule,
                     batch_size=batch_size, n_t=n_t, seed=seed, record_every=record_every, init=None, quiet=quiet,
                     desc=f"connector (F&J, {objective})")


# --- the pairs chapter's parameters (book/04_pairs_of_solutions.py) ---------------------------------------

from .config import Param, register  # noqa: E402  (appended block: the chapter's knobs live with the code they drive)

register(
    {
        "curve_steps": Param(int, "steps fitting each curve's bend point (Bezier, polygonal chain, F&J connector)",
                             low=1),
        "curve_lr": Param(float, "SGD learning rate of the curves trained on the whole path (Garipov et al.)", low=0,
                          low_open=True),
        "connector_lr": Param(float, "SGD learning rate of the F&J connector (loss at the bend point only)", low=0,
                              low_open=True),
        "pair_grid": Param(int, "grid points per axis of the plane through two solutions and a bend", low=2),
    },
    {
        "smoke": dict(curve_steps=300, curve_lr=0.3, connector_lr=0.1, pair_grid=15),
        "cpu": dict(curve_steps=1000, curve_lr=0.5, connector_lr=0.05, pair_grid=25),
        "paper": dict(curve_steps=10000, curve_lr=0.05, connector_lr=0.01, pair_grid=31),
    },
)


# --- sets of solutions ---------------------------------------------------------------------------------------
# k solutions (k, D) joined by one trained structure. Every structure is a set of vertices (V, D) — the k fixed
# solutions first, then the trainable ones — and a sampler of convex weights (n, V) over them:
#
# * ``segments`` (Fort & Jastrzebski 2019): one connector θ_c; points on the k segments θ_i -> θ_c;
# * ``simplices``: points in the k(k-1)/2 triangles conv{θ_c, θ_i, θ_j};
# * ``simplex``: one simplex conv{θ_1, ..., θ_k, e_1, ..., e_m} (m trainable extra vertices), sampled uniformly;
# * ``complex`` (Benton et al. 2021): the k simplices conv{θ_i, e_1, ..., e_m} sharing the extra vertices;
# * ``hull``: the naive hull conv{θ_1, ..., θ_k} of the solutions alone (nothing to train).

STRUCTURES = ("segments", "simplices", "simplex", "complex", "hull")


def simplex_weights(n: int, k: int, *, seed: int = 0, generator: torch.Generator | None = None) -> torch.Tensor:
    """n points (n, k) uniform on the probability simplex (Dirichlet(1): -log U normalised), from ``seed``."""
    _check("n", n, isinstance(n, int) and n >= 1, "an int >= 1")
    _check("k", k, isinstance(k, int) and k >= 1, "an int >= 1")
    gen = torch.Generator().manual_seed(seed) if generator is None else generator
    e = -torch.log(torch.rand(n, k, generator=gen).clamp_min(1e-30))
    return e / e.sum(dim=1, keepdim=True)


def structure_weights(kind: str, k: int, n: int, *, n_extra: int = 1, seed: int = 0,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Weights (n, k + n_extra) of n uniform samples of a ``kind`` structure over vertices (solutions, extras).

    ``segments`` and ``simplices`` have one extra vertex (the connector), ``hull`` none; every row sums to 1.
    """
    _check("kind", kind, kind in STRUCTURES, f"one of {', '.join(STRUCTURES)}")
    _check("k", k, isinstance(k, int) and k >= (2 if kind in ("simplices", "hull") else 1),
           "an int >= 2 for 'simplices' and 'hull', else >= 1")
    _check("n_extra", n_extra, isinstance(n_extra, int) and n_extra >= 1, "an int >= 1")
    m = {"segments": 1, "simplices": 1, "hull": 0}.get(kind, n_extra)
    gen = torch.Generator().manual_seed(seed) if generator is None else generator
    w = torch.zeros(n, k + m)
    rows = torch.arange(n)
    if kind == "hull":
        return simplex_weights(n, k, generator=gen)
    if kind == "simplex":
        return simplex_weights(n, k + m, generator=gen)
    if kind == "segments":
        i, t = torch.randint(k, (n,), generator=gen), torch.rand(n, generator=gen)
        w[rows, i], w[:, k] = 1 - t, t
        return w
    if kind == "simplices":
        pairs = torch.combinations(torch.arange(k), 2)
        p = pairs[torch.randint(len(pairs), (n,), generator=gen)]
        lam = simplex_weights(n, 3, generator=gen)
        w[:, k] = lam[:, 0]
        w[rows, p[:, 0]], w[rows, p[:, 1]] = lam[:, 1], lam[:, 2]
        return w
    i, lam = torch.randint(k, (n,), generator=gen), simplex_weights(n, 1 + m, generator=gen)  # complex
    w[rows, i], w[:, k:] = lam[:, 0], lam[:, 1:]
    return w


@dataclass
class SetResult:
    """A trained structure over k solutions: ``solutions`` (k, D), trainable ``extra`` (m, D) (the connector is
    ``extra[0]``), and the history 'step' (R,), 'loss' (R,) of its mean sampled minibatch loss."""

    kind: str
    solutions: torch.Tensor
    extra: torch.Tensor
    history: dict[str, torch.Tensor]
    settings: dict = field(default_factory=dict)

    @property
    def vertices(self) -> torch.Tensor:
        """Solutions then extra vertices, (k + m, D)."""
        return torch.cat([self.solutions, self.extra])

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """n uniform samples (n, D) of the structure."""
        w = structure_weights(self.kind, len(self.solutions), n, n_extra=len(self.extra), seed=seed)
        return w.to(self.solutions) @ self.vertices


def hull_points(solutions: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """n uniform samples (n, D) of the naive hull conv{θ_1..θ_k} of solutions (k, D)."""
    return structure_weights("hull", len(solutions), n, seed=seed).to(solutions) @ solutions


def _fit_set(f, data: Dataset | None, solutions: torch.Tensor, extra0: torch.Tensor, *, kind: str, steps: int,
             lr: float, n_samples: int, seed: int, batch_size: int, momentum: float, schedule: str,
             volume_reg: float, record_every: int, quiet: bool) -> SetResult:
    _check("solutions", tuple(solutions.shape), solutions.ndim == 2 and len(solutions) >= 2,
           "a stack (k, D) of k >= 2 solutions")
    _check("steps", steps, isinstance(steps, int) and steps >= 1, "an int >= 1")
    _check("lr", lr, isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr), "a float > 0")
    _check("n_samples", n_samples, isinstance(n_samples, int) and n_samples >= 1, "an int >= 1")
    _check("schedule", schedule, schedule in SCHEDULES, f"one of {', '.join(SCHEDULES)}")
    sols = solutions.detach()
    k, m = len(sols), len(extra0)
    extra = torch.nn.Parameter(extra0.detach().clone())
    opt = torch.optim.SGD([extra], lr=lr, momentum=momentum)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if schedule == "cosine"
             else torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0))
    gen = torch.Generator().manual_seed(seed)
    next_loss = _batch_source(f, data, batch_size, gen, sols.device)
    hist: dict[str, list] = {"step": [], "loss": []}
    running, count = 0.0, 0
    for step in tqdm(range(steps), disable=quiet, desc=f"structure ({kind})", leave=False, mininterval=1.0):
        w = structure_weights(kind, k, n_samples, n_extra=m, generator=gen).to(sols)
        thetas = w[:, :k] @ sols + w[:, k:] @ extra
        loss = next_loss()(thetas).mean()
        objective = loss
        if volume_reg > 0:  # Benton et al.: reward volume, -log of the extra vertices' simplex volume with θ_1
            edges = extra - sols[0]
            objective = loss - volume_reg * 0.5 * torch.logdet(edges @ edges.T)
        opt.zero_grad()
        objective.backward()
        opt.step()
        sched.step()
        running, count = running + float(loss.detach()), count + 1
        if (step + 1) % record_every == 0 or step + 1 == steps:
            hist["step"].append(step + 1)
            hist["loss"].append(running / count)
            running, count = 0.0, 0
    settings = dict(kind=kind, steps=steps, lr=lr, n_samples=n_samples, seed=seed, batch_size=batch_size,
                    momentum=momentum, schedule=schedule, volume_reg=volume_reg)
    return SetResult(kind, sols, extra.detach().clone(),
                     {"step": torch.tensor(hist["step"]), "loss": torch.tensor(hist["loss"])}, settings)


def train_connector(f, data: Dataset | None, solutions: torch.Tensor, *, variant: str = "segments",
                    steps: int = 500, lr: float = 0.1, n_samples: int = 8, seed: int = 0, batch_size: int = 128,
                    momentum: float = 0.9, schedule: str = "cosine", record_every: int = 50,
                    quiet: bool = False) -> SetResult:
    """Fort & Jastrzebski's connector θ_c (D,) for solutions (k, D): starts at their mean; each step descends the
    mean minibatch loss at ``n_samples`` uniform points of the k segments θ_i -> θ_c (``variant='segments'``) or
    of the triangles conv{θ_c, θ_i, θ_j} (``'simplices'``), evaluated in one vmapped pass. ``f`` as in
    :func:`train_curve` (a network with ``data``, or a batched loss (K, D) -> (K,) with ``data=None``)."""
    _check("variant", variant, variant in ("segments", "simplices"), "'segments' or 'simplices'")
    return _fit_set(f, data, solutions, solutions.detach().mean(0, keepdim=True), kind=variant, steps=steps,
                    lr=lr, n_samples=n_samples, seed=seed, batch_size=batch_size, momentum=momentum,
                    schedule=schedule, volume_reg=0.0, record_every=record_every, quiet=quiet)


def train_simplex(f, data: Dataset | None, solutions: torch.Tensor, *, n_extra: int = 1, shape: str = "complex",
                  steps: int = 500, lr: float = 0.1, n_samples: int = 8, seed: int = 0, batch_size: int = 128,
                  momentum: float = 0.9, schedule: str = "cosine", volume_reg: float = 0.0, init_scale: float = 0.05,
                  record_every: int = 50, quiet: bool = False) -> SetResult:
    """Benton et al. 2021: trainable extra vertices (n_extra, D) joined to the fixed solutions (k, D), as the
    simplicial complex of the k simplices conv{θ_i, extras} (``shape='complex'``) or as one simplex over all
    (``'simplex'``); each step descends the mean loss at ``n_samples`` uniform samples. The extras start at the
    solutions' mean plus Gaussian noise of ``init_scale`` times the solutions' spread; ``volume_reg`` > 0
    rewards the extras' volume (needs n_extra < D)."""
    _check("shape", shape, shape in ("complex", "simplex"), "'complex' or 'simplex'")
    _check("n_extra", n_extra, isinstance(n_extra, int) and n_extra >= 1, "an int >= 1")
    _check("volume_reg", volume_reg, isinstance(volume_reg, (int, float)) and volume_reg >= 0, "a float >= 0")
    sols = solutions.detach()
    mean = sols.mean(0)
    spread = float(params.radius(sols - mean).mean()) / math.sqrt(sols.shape[1])
    noise = torch.randn(n_extra, sols.shape[1], generator=torch.Generator().manual_seed(seed + 1)).to(sols)
    return _fit_set(f, data, sols, mean + init_scale * spread * noise, kind=shape, steps=steps, lr=lr,
                    n_samples=n_samples, seed=seed, batch_size=batch_size, momentum=momentum, schedule=schedule,
                    volume_reg=float(volume_reg), record_every=record_every, quiet=quiet)


def evaluate_structure(f, x: torch.Tensor | None, y: torch.Tensor | None, points_fn: Callable, n_samples: int = 256,
                       seed: int = 0, *, chunk: int = 64) -> dict[str, torch.Tensor]:
    """Loss (and accuracy, for a network) at n_samples points (n, D) = points_fn(n_samples, seed) (e.g.
    ``result.sample`` or ``lambda n, s: hull_points(sols, n, s)``), vmapped: 'loss' (n,)[, 'acc' (n,)],
    'mean' (), 'max' () the worst point's loss and 'worst' () its index."""
    thetas = points_fn(n_samples, seed)
    if isinstance(f, nn.Module):
        _check("x", None, x is not None and y is not None, "inputs x and labels y when f is a network")
        loss, acc = params.evaluate(f, thetas, x, y, chunk=chunk)
        out = {"loss": loss, "acc": acc}
    else:
        with torch.no_grad():
            out = {"loss": torch.cat([f(t) for t in thetas.split(chunk)])}
    worst = int(out["loss"].argmax())
    return {**out, "mean": out["loss"].mean(), "max": out["loss"][worst], "worst": torch.tensor(worst)}


register(
    {
        "n_solutions": Param(int, "the larger number k of solutions joined by one structure (the chapter also uses 3)",
                             low=3),
        "connector_steps": Param(int, "SGD steps training each set structure (connector, simplices, complex)", low=1),
        "set_lr": Param(float, "SGD learning rate of the set structures", low=0, low_open=True),
        "n_samples": Param(int, "points sampled per structure to evaluate it", low=2),
        "set_grid": Param(int, "grid points per axis of the planes through solutions and the connector", low=2),
    },
    {
        "smoke": dict(n_solutions=4, connector_steps=300, set_lr=0.3, n_samples=64, set_grid=13),
        "cpu": dict(n_solutions=5, connector_steps=1000, set_lr=0.3, n_samples=256, set_grid=21),
        "paper": dict(n_solutions=5, connector_steps=10000, set_lr=0.05, n_samples=1024, set_grid=31),
    },
)
