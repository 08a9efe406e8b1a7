"""Low-loss structures joining a *set* of k solutions (chapter 05), and how to sample and evaluate them.

k solutions (k, D) joined by one trained structure. Every structure is a set of vertices (V, D) — the k fixed
solutions first, then the trainable ones — and a sampler of convex weights (n, V) over them:

* ``segments`` (Fort & Jastrzebski 2019): one connector θ_c; points on the k segments θ_i -> θ_c;
* ``simplices``: points in the k(k-1)/2 triangles conv{θ_c, θ_i, θ_j};
* ``simplex``: one simplex conv{θ_1, ..., θ_k, e_1, ..., e_m} (m trainable extra vertices), sampled uniformly;
* ``complex`` (Benton et al. 2021): the k simplices conv{θ_i, e_1, ..., e_m} sharing the extra vertices;
* ``hull``: the naive hull conv{θ_1, ..., θ_k} of the solutions alone (nothing to train).

Training uses the same minibatch source as :mod:`wedges_lib.connect` (curves between two solutions).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from . import params
from .connect import SCHEDULES, _batch_source
from .data import Dataset
from .validation import check_arg

STRUCTURES = ("segments", "simplices", "simplex", "complex", "hull")


def simplex_weights(n: int, k: int, *, seed: int = 0, generator: torch.Generator | None = None) -> torch.Tensor:
    """n points (n, k) uniform on the probability simplex (Dirichlet(1): -log U normalised), from ``seed``."""
    check_arg("n", n, isinstance(n, int) and n >= 1, "an int >= 1")
    check_arg("k", k, isinstance(k, int) and k >= 1, "an int >= 1")
    gen = torch.Generator().manual_seed(seed) if generator is None else generator
    e = -torch.log(torch.rand(n, k, generator=gen).clamp_min(1e-30))
    return e / e.sum(dim=1, keepdim=True)


def structure_weights(kind: str, k: int, n: int, *, n_extra: int = 1, seed: int = 0,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Weights (n, k + n_extra) of n uniform samples of a ``kind`` structure over vertices (solutions, extras).

    ``segments`` and ``simplices`` have one extra vertex (the connector), ``hull`` none; every row sums to 1.
    """
    check_arg("kind", kind, kind in STRUCTURES, f"one of {', '.join(STRUCTURES)}")
    check_arg("k", k, isinstance(k, int) and k >= (2 if kind in ("simplices", "hull") else 1),
           "an int >= 2 for 'simplices' and 'hull', else >= 1")
    check_arg("n_extra", n_extra, isinstance(n_extra, int) and n_extra >= 1, "an int >= 1")
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
    check_arg("solutions", tuple(solutions.shape), solutions.ndim == 2 and len(solutions) >= 2,
           "a stack (k, D) of k >= 2 solutions")
    check_arg("steps", steps, isinstance(steps, int) and steps >= 1, "an int >= 1")
    check_arg("lr", lr, isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr), "a float > 0")
    check_arg("n_samples", n_samples, isinstance(n_samples, int) and n_samples >= 1, "an int >= 1")
    check_arg("schedule", schedule, schedule in SCHEDULES, f"one of {', '.join(SCHEDULES)}")
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
    check_arg("variant", variant, variant in ("segments", "simplices"), "'segments' or 'simplices'")
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
    check_arg("shape", shape, shape in ("complex", "simplex"), "'complex' or 'simplex'")
    check_arg("n_extra", n_extra, isinstance(n_extra, int) and n_extra >= 1, "an int >= 1")
    check_arg("volume_reg", volume_reg, isinstance(volume_reg, (int, float)) and volume_reg >= 0, "a float >= 0")
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
        check_arg("x", None, x is not None and y is not None, "inputs x and labels y when f is a network")
        loss, acc = params.evaluate(f, thetas, x, y, chunk=chunk)
        out = {"loss": loss, "acc": acc}
    else:
        with torch.no_grad():
            out = {"loss": torch.cat([f(t) for t in thetas.split(chunk)])}
    worst = int(out["loss"].argmax())
    return {**out, "mean": out["loss"].mean(), "max": out["loss"][worst], "worst": torch.tensor(worst)}
