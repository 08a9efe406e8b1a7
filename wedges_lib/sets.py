"""Low-loss structures joining a *set* of k solutions (chapter 05), and how to sample and evaluate them.

k solutions (k, D) joined by one trained structure. Every structure is a set of vertices (V, D) — the k fixed
solutions first, then the trainable ones — and a sampler of convex weights (n, V) over them:

* ``segments`` (Fort & Jastrzebski 2019): one connector θ_c; points on the k segments θ_i -> θ_c;
* ``simplices``: points in the k(k-1)/2 triangles conv{θ_c, θ_i, θ_j};
* ``simplex``: one simplex conv{θ_1, ..., θ_k, e_1, ..., e_m} (m trainable extra vertices), sampled uniformly;
* ``complex`` (Benton et al. 2021): the k simplices conv{θ_i, e_1, ..., e_m} sharing the extra vertices;
* ``hull``: the naive hull conv{θ_1, ..., θ_k} of the solutions alone (nothing to train).

Training runs through :func:`wedges_lib.optimize.minimize`, the loop of every other trained thing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from . import cache, optimize, params
from .connect import _points_loss
from .data import Dataset
from .validation import check_arg

STRUCTURES = ("segments", "simplices", "simplex", "complex", "hull")


def simplex_weights(n: int, k: int, *, seed: int = 0, generator: torch.Generator | None = None) -> torch.Tensor:
    """n points (n, k) uniform on the probability simplex (Dirichlet(1): -log U normalised), from ``seed``.

    >>> w = simplex_weights(4, 3, seed=0)
    >>> tuple(w.shape), bool((w >= 0).all()), torch.allclose(w.sum(1), torch.ones(4))  # rows sum to 1
    ((4, 3), True, True)
    >>> torch.equal(w, simplex_weights(4, 3, seed=0))
    True
    """
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
    """n uniform samples (n, D) of the naive hull conv{θ_1..θ_k} of solutions (k, D).

    Used in :ref:`ch-sets`.
    """
    return structure_weights("hull", len(solutions), n, seed=seed).to(solutions) @ solutions


def _fit_set(f, data: Dataset | None, solutions: torch.Tensor, extra0: torch.Tensor, *, kind: str, steps: int,
             lr: float, n_samples: int, seed: int, batch_size: int, momentum: float, schedule: str,
             volume_reg: float, record_every: int, quiet: bool) -> SetResult:
    """Fit the extra vertices through :func:`wedges_lib.optimize.minimize` (one member, p = extras (1, m, D), SGD):
    minibatches come from ``seed``, the sampled structure points from its side stream; ``volume_reg`` is a
    penalty term. A non-finite loss or gradient stops the fit without raising (the history ends there)."""
    check_arg("solutions", tuple(solutions.shape), solutions.ndim == 2 and len(solutions) >= 2,
           "a stack (k, D) of k >= 2 solutions")
    check_arg("n_samples", n_samples, isinstance(n_samples, int) and n_samples >= 1, "an int >= 1")
    sols = solutions.detach()
    k, m = len(sols), len(extra0)
    side = optimize.side_generator(seed)
    points_loss = _points_loss(f, data, sols.device)

    def loss(extra: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
        w = structure_weights(kind, k, n_samples, n_extra=m, generator=side).to(sols)
        return points_loss(w[:, :k] @ sols + w[:, k:] @ extra[0], None if idx is None else idx[0]).mean()[None]

    def volume(extra: torch.Tensor) -> torch.Tensor:  # Benton et al.: -log of the extras' simplex volume with θ_1
        edges = extra[0] - sols[0]
        return -volume_reg * 0.5 * torch.logdet(edges @ edges.T)[None]

    run = optimize.minimize(extra0.detach()[None], loss, n=None if data is None else len(data.y_train), seeds=[seed],
                            optimizer="sgd", lr=lr, momentum=momentum, schedule=schedule, batch_size=batch_size,
                            steps=steps, explode=None, record_every=record_every, record_start=False,
                            penalty=volume if volume_reg > 0 else None, quiet=quiet, desc=f"structure ({kind})")
    settings = dict(kind=kind, steps=steps, lr=lr, n_samples=n_samples, seed=seed, batch_size=batch_size,
                    momentum=momentum, schedule=schedule, volume_reg=volume_reg)
    return SetResult(kind, sols, run.p[0].clone(),
                     {"step": run.history["step"], "loss": run.history["batch_loss"][:, 0]}, settings)


def train_connector(f, data: Dataset | None, solutions: torch.Tensor, *, variant: str = "segments",
                    steps: int = 500, lr: float = 0.1, n_samples: int = 8, seed: int = 0, batch_size: int = 128,
                    momentum: float = 0.9, schedule: str = "cosine", record_every: int = 50,
                    quiet: bool = False) -> SetResult:
    """Fort & Jastrzebski's connector θ_c (D,) for solutions (k, D): starts at their mean; each step descends the
    mean minibatch loss at ``n_samples`` uniform points of the k segments θ_i -> θ_c (``variant='segments'``) or
    of the triangles conv{θ_c, θ_i, θ_j} (``'simplices'``), evaluated in one vmapped pass. ``f`` as in
    :func:`~wedges_lib.connect.train_curve` (a network with ``data``, or a batched loss (K, D) -> (K,) with
    ``data=None``)."""
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
    'mean' (), 'max' () the worst point's loss and 'worst' () its index.

    Used in :ref:`ch-sets`.
    """
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


# --- chapter 05's structures, fitted from a configuration ---------------------------------------------------

#: name -> (trainer, options): the structures chapter 05 trains on a set of solutions
FITTED = {
    "connector (segments)": ("connector", dict(variant="segments")),
    "connector (triangles)": ("connector", dict(variant="simplices")),
    "complex (Benton et al.)": ("simplex", dict(n_extra=2))}


def _fit_named(cfg, model: nn.Module, data: Dataset, solutions: torch.Tensor, name: str) -> dict:
    trainer, options = FITTED[name]
    fit = dict(steps=cfg.connector_steps, lr=cfg.set_lr, seed=cfg.seed, batch_size=cfg.batch_size, quiet=True)
    train = train_connector if trainer == "connector" else train_simplex
    return vars(train(model, data, solutions, **options, **fit))


def fit_structures(cfg, model: nn.Module, data: Dataset, solutions: torch.Tensor,
                   names=tuple(FITTED)) -> dict[str, SetResult]:
    """The structures ``names`` of :data:`FITTED` joining solutions (k, D), each trained ``connector_steps`` SGD
    steps at ``set_lr`` through the result cache. Used in :ref:`ch-sets`."""
    out = {}
    for name in names:
        r = cache.cached("sets-structure", cfg, _fit_named, model=model, data=data, solutions=solutions, name=name)
        out[name] = SetResult(r["kind"], r["solutions"], r["extra"], r["history"])
    return out


def set_numbers(evals: dict, sol_loss: torch.Tensor, k_big: int) -> dict[str, float]:
    """Chapter 05's reported numbers from ``evals`` ((k, name) -> :func:`evaluate_structure` result) and the
    solutions' losses (k_big,). Used in :ref:`ch-sets`."""
    base = {3: float(sol_loss[:3].mean()), k_big: float(sol_loss.mean())}
    excess = {(k, n): float(e["mean"]) - base[k] for (k, n), e in evals.items()}
    num = {"sets_sol3": base[3], "sets_solk": base[k_big], "sets_k": k_big}
    for (k, name), short in zip([(3, "connector (segments)"), (k_big, "connector (segments)"),
                                 (3, "connector (triangles)"), (3, "complex (Benton et al.)")],
                                ("seg3", "segk", "tri3", "cplx3")):
        e = evals[k, name]
        num.update({f"sets_{short}_mean": float(e["mean"]), f"sets_{short}_worst": float(e["max"]),
                    f"sets_{short}_fraction": excess[k, name] / excess[k, "naive hull"],
                    f"sets_{short}_accmin": float(e["acc"].min())})
    for k, short in ((3, "hull3"), (k_big, "hullk")):
        num.update({f"sets_{short}_mean": float(evals[k, "naive hull"]["mean"]),
                    f"sets_{short}_accmin": float(evals[k, "naive hull"]["acc"].min())})
    return num


def set_checks(num: dict, thr) -> dict[str, tuple[bool, str, str]]:
    """Chapter 05's checks from :func:`set_numbers` and the declared thresholds ``thr``: name -> (holds,
    expected, measured). Used in :ref:`ch-sets`."""
    hull = [(num[f"sets_hull{s}_mean"], num[f"sets_sol{s}"]) for s in ("3", "k")]
    segs = [num["sets_seg3_fraction"], num["sets_segk_fraction"]]
    return {
        "sets_hull": (all(h - s > max(thr["hull_excess"], s) for h, s in hull),
                      f"the naive hull's mean loss above twice the solutions' (and {thr['hull_excess']} above them)",
                      ", ".join(f"k={k}: {h:.3f} vs {s:.3f}" for k, (h, s) in zip((3, num["sets_k"]), hull))),
        "sets_connector": (max(segs) < thr["fraction"],
                           f"the connector's mean excess loss below {thr['fraction']} of the naive hull's, for k = 3 "
                           f"and k = {num['sets_k']}", ", ".join(f"{s:.3f}" for s in segs))}
