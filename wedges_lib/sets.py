"""Low-loss structures joining a *set* of k solutions (chapter 05), and how to sample and evaluate them.

k solutions (k, D) joined by one trained structure. Every structure is a set of vertices (V, D) — the k fixed
solutions first, then the trainable ones — and a sampler of convex weights (n, V) over them:

* ``segments`` (Fort & Jastrzebski 2019): one connector θ_c; points on the k segments θ_i -> θ_c;
* ``simplices``: points in the k(k-1)/2 triangles conv{θ_c, θ_i, θ_j};
* ``simplex``: one simplex conv{θ_1, ..., θ_k, e_1, ..., e_m} (m trainable extra vertices), sampled uniformly;
* ``complex`` (Benton et al. 2021): the k simplices conv{θ_i, e_1, ..., e_m} sharing the extra vertices;
* ``hull``: the naive hull conv{θ_1, ..., θ_k} of the solutions alone (nothing to train).

Training runs through :func:`wedges_lib.optimize.minimize`, the loop of every other trained thing. A structure's
straight edges (:func:`structure_edges`) are scanned on a grid by :func:`segment_profile` (the worst point of
each), and its simplices' volumes (:func:`structure_simplices`, :func:`squared_volume`) give Benton et al.'s
volume regulariser. Chapter 05's studies built from these are in :mod:`wedges_lib.studies.ch05_sets`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from . import optimize, params
from .connect import _points_loss
from .data import Dataset
from .surfaces import evaluate_affine
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

    def weights(self, n: int, seed: int = 0) -> torch.Tensor:
        """The weights (n, k + m) over :attr:`vertices` of n uniform samples of the structure."""
        return structure_weights(self.kind, len(self.solutions), n, n_extra=len(self.extra), seed=seed)

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """n uniform samples (n, D) of the structure."""
        return self.weights(n, seed).to(self.solutions) @ self.vertices


def structure_simplices(kind: str, k: int, n_extra: int = 1) -> list[list[int]]:
    """The simplices (lists of vertex indices into the vertices (solutions, extras)) a ``kind`` structure is made of.

    >>> structure_simplices("complex", 3, 2)
    [[0, 3, 4], [1, 3, 4], [2, 3, 4]]
    >>> structure_simplices("segments", 2)
    [[0, 2], [1, 2]]
    """
    check_arg("kind", kind, kind in STRUCTURES, f"one of {', '.join(STRUCTURES)}")
    m = {"segments": 1, "simplices": 1, "hull": 0}.get(kind, n_extra)
    extras = list(range(k, k + m))
    if kind == "segments":
        return [[i, k] for i in range(k)]
    if kind == "simplices":
        return [[k, i, j] for i in range(k) for j in range(i + 1, k)]
    if kind == "complex":
        return [[i, *extras] for i in range(k)]
    return [list(range(k + m))]  # simplex, hull


def structure_edges(kind: str, k: int, n_extra: int = 1) -> list[tuple[int, int]]:
    """Every straight edge (i, j), i < j, of the simplices of a ``kind`` structure (:func:`structure_simplices`),
    in order of first appearance: the segments θ_i -> θ_c, the hull's edges θ_i - θ_j, ...

    >>> structure_edges("hull", 3)
    [(0, 1), (0, 2), (1, 2)]
    >>> structure_edges("complex", 2, 2)
    [(0, 2), (0, 3), (2, 3), (1, 2), (1, 3)]

    Used in :ref:`ch-sets`.
    """
    out: list[tuple[int, int]] = []
    for simp in structure_simplices(kind, k, n_extra):
        out += [e for a, i in enumerate(simp) for j in simp[a + 1:]
                if (e := (min(i, j), max(i, j))) not in out]
    return out


def squared_volume(vertices: torch.Tensor) -> torch.Tensor:
    """Squared m-volume () of the simplex conv{v_0, ..., v_m} of vertices (m + 1, D): det(E Eᵀ) / (m!)², E the
    edges v_i - v_0 — the Cayley–Menger determinant Benton et al. 2021 compute, from the Gram matrix instead.

    >>> squared_volume(torch.tensor([[0.0, 0, 0], [2, 0, 0], [0, 1, 0]])).item()  # a right triangle of area 1
    1.0
    """
    edges = vertices[1:] - vertices[:1]
    return torch.linalg.det(edges @ edges.T).clamp_min(0) / math.factorial(len(edges)) ** 2


def structure_volume(vertices: torch.Tensor, kind: str, k: int) -> torch.Tensor:
    """Total volume () of a ``kind`` structure over vertices (k + m, D): the sum of its simplices' volumes.
    Used in :ref:`ch-sets`."""
    simps = structure_simplices(kind, k, len(vertices) - k)
    return sum(squared_volume(vertices[s]).sqrt() for s in simps)


def _evaluate_weighted(f, x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, vertices: torch.Tensor,
                       chunk: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """A network's loss and accuracy (n,) on (x, y) at the points weights (n, V) @ vertices (V, D), through
    :func:`wedges_lib.surfaces.evaluate_affine` (origin v_0, directions v_i - v_0): for a network of Linear
    layers the first layer comes from V products per data batch instead of one per point (the same values as
    :func:`wedges_lib.params.evaluate` at the points, up to float rounding; evaluate_affine checks x and y)."""
    w = weights.to(vertices)
    res = evaluate_affine(f, vertices[0], vertices[1:] - vertices[0], w[:, 1:], x=x, y=y, chunk=chunk)
    return res["loss"], res["acc"]


def segment_profile(f, x: torch.Tensor | None, y: torch.Tensor | None, vertices: torch.Tensor,
                    edges: list[tuple[int, int]], n_points: int, *,
                    chunk: int | None = None) -> dict[str, torch.Tensor]:
    """The loss (and accuracy, for a network) on a grid of ``n_points`` times t in [0, 1] along every edge (i, j):
    the points (1 - t) v_i + t v_j of vertices (V, D). 't' (n,), 'loss' (S, n)[, 'acc' (S, n)], and per edge the
    worst point: 'max' (S,) the highest loss, 'argmax_t' (S,) where it is[, 'acc_min' (S,) the lowest accuracy].
    ``f`` a network (with x, y; every edge's points at once, affinely in the vertices) or a batched loss
    (K, D) -> (K,), ``chunk`` points at a time (None: the device's default; 64 for a batched loss).

    Used in :ref:`ch-sets`.
    """
    check_arg("n_points", n_points, isinstance(n_points, int) and n_points >= 2, "an int >= 2")
    check_arg("edges", edges, len(edges) >= 1 and all(0 <= i < len(vertices) and 0 <= j < len(vertices)
                                                      for i, j in edges), f"pairs of indices below {len(vertices)}")
    t = torch.linspace(0, 1, n_points)
    if isinstance(f, nn.Module):
        w = torch.zeros(len(edges), n_points, len(vertices))
        for e, (i, j) in enumerate(edges):
            w[e, :, i] += 1 - t
            w[e, :, j] += t
        loss, acc = (v.reshape(len(edges), n_points)
                     for v in _evaluate_weighted(f, x, y, w.reshape(-1, len(vertices)), vertices, chunk))
        out = {"loss": loss, "acc": acc, "acc_min": acc.amin(1)}
    else:
        a, b = (vertices[[e[c] for e in edges]] for c in (0, 1))
        pts = (a[:, None] + t.to(a)[None, :, None] * (b - a)[:, None]).reshape(-1, vertices.shape[1])
        with torch.no_grad():
            out = {"loss": torch.cat([f(p) for p in pts.split(chunk or 64)]).reshape(len(edges), n_points)}
    return {"t": t, **out, "max": out["loss"].amax(1), "argmax_t": t[out["loss"].argmax(1).cpu()]}


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

    simplices = structure_simplices(kind, k, m)

    def volume(extra: torch.Tensor) -> torch.Tensor:  # Benton et al.: -λ log(Σ over the simplices of vol² + 1e-4)
        v = torch.cat([sols, extra[0]])
        return -volume_reg * torch.log(sum(squared_volume(v[s]) for s in simplices) + 1e-4)[None]

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
    solutions' mean plus Gaussian noise of ``init_scale`` times the solutions' spread; ``volume_reg`` = λ > 0
    adds Benton et al.'s regulariser −λ log(Σ_s vol_s² + 10⁻⁴) over the structure's simplices s (their code's
    ``total_volume``, the squared Cayley–Menger volume of each simplex). Used in :ref:`ch-sets`."""
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
                       seed: int = 0, *, chunk: int | None = None) -> dict[str, torch.Tensor]:
    """Loss (and accuracy, for a network) at n_samples points (n, D) = points_fn(n_samples, seed) (e.g.
    ``result.sample`` or ``lambda n, s: hull_points(sols, n, s)``), or at the points weights @ vertices where
    points_fn returns the pair (weights (n, V), vertices (V, D)) (e.g. ``lambda n, s: (result.weights(n, s),
    result.vertices)``: a network's first layer is then computed affinely, from V products per data batch);
    'loss' (n,)[, 'acc' (n,)], 'mean' (), 'max' () the worst point's loss and 'worst' () its index. ``chunk``
    points at a time (None: the device's default; 64 for a batched loss).

    Used in :ref:`ch-sets`.
    """
    points = points_fn(n_samples, seed)
    weighted = isinstance(points, tuple)
    if weighted:
        check_arg("points_fn", f"a pair of shapes {[tuple(v.shape) for v in points]}", len(points) == 2
                  and points[0].ndim == 2 and points[1].ndim == 2 and points[0].shape[1] == points[1].shape[0],
                  "points (n, D), or a pair (weights (n, V), vertices (V, D))")
    if isinstance(f, nn.Module):
        check_arg("x", None, x is not None and y is not None, "inputs x and labels y when f is a network")
        loss, acc = (_evaluate_weighted(f, x, y, *points, chunk) if weighted
                     else params.evaluate(f, points, x, y, chunk=chunk))
        out = {"loss": loss, "acc": acc}
    else:
        thetas = points[0].to(points[1]) @ points[1] if weighted else points
        with torch.no_grad():
            out = {"loss": torch.cat([f(t) for t in thetas.split(chunk or 64)])}
    worst = int(out["loss"].argmax())
    return {**out, "mean": out["loss"].mean(), "max": out["loss"][worst], "worst": torch.tensor(worst)}
