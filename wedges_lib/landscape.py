"""Your model, your data, your loss and a BatchNorm policy, as the functions Wedges' engines take.

A :class:`Landscape` wraps any ``nn.Module`` (with or without BatchNorm), a list of batches in any format
(tensors, tuples, dicts: :mod:`wedges_lib.objectives`), an objective (cross-entropy by default) and the
BatchNorm policy ``bn`` (:mod:`wedges_lib.batchnorm`). It is itself a batched loss ``thetas (K, D) -> (K,)``,
the target :mod:`wedges_lib.surfaces` and :func:`wedges_lib.connect.profile` take, and it gives

* :meth:`Landscape.loss_fn` — the ``loss_fn(theta)`` of the curvature functions (the BatchNorm statistics
  fixed at the point under ``recompute`` / ``eval``, batch statistics under ``train``);
* :meth:`Landscape.statistics` — the recomputed running statistics at K points, vmapped;
* :meth:`Landscape.load` — a plain PyTorch model with theta and its statistics (SWA's ``update_bn`` step);
* :meth:`Landscape.minibatch_loss` — train-mode loss on one batch, for fitting curves or training.

Beside it, measures of any loss at given points: Keskar et al.'s ε-sharpness (:func:`sharpness`), the loss at
distances ρ‖θ‖ along random directions (:func:`loss_at_distances`), a plane through one to three checkpoints
(:func:`plane_through_points`) and a trajectory's PCA plane with each checkpoint's distance from it and its true
loss beside the plane's (:func:`pca_plane`).

>>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
>>> x, y = torch.randn(16, 3, generator=torch.Generator().manual_seed(0)), torch.arange(16) % 2
>>> land = Landscape(net, objectives.split(x, y, size=8))
>>> theta = params.flatten(net)
>>> land(torch.stack([theta, 2 * theta])).shape
torch.Size([2])
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable, NamedTuple, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, vmap

from . import batchnorm, objectives, params, surfaces  # noqa: F401  (objectives: the module doc's example)
from .hessian import DatasetLoss
from .objectives import Batch, Objective, as_objective, batch_size, check_batches
from .validation import check_arg

SMALL_D = 100_000  # on a CPU, above this many parameters a Landscape evaluates its points one at a time


class Landscape:
    """The loss of ``model`` on ``batches`` under ``objective`` as a function of theta, with BatchNorm policy ``bn``.

    ``batches`` is a list of batches the loss averages over (weighted by their sizes); ``bn_batches`` (default:
    ``batches``) are the training batches the ``recompute`` policy re-estimates statistics on; ``chunk``
    parameter points are vmapped at a time (default: :func:`wedges_lib.params.default_sizes`, but one point at a
    time for a model of more than ``SMALL_D`` parameters on a CPU, where a vmapped pass costs more than it saves:
    a ResNet-18 on 64 CIFAR-shaped examples, 16 points at one thread, 5.4 s vmapped 16 at a time, 3.2 s one by one).

    Used in :ref:`ch-your-model`.
    """

    def __init__(self, model: nn.Module, batches: Sequence[Batch], *, objective: Objective | Callable | None = None,
                 bn: str | None = "recompute", bn_batches: Sequence[Batch] | None = None, chunk: int | None = None):
        self.model, self.lay = model, params.layout(model)
        self.objective = as_objective(objective)
        self.batches = check_batches(batches)
        self.bn_names = list(batchnorm.bn_modules(model))
        self.bn = batchnorm.check_policy(model, bn)
        self.bn_batches = check_batches(self.batches if bn_batches is None else bn_batches, "bn_batches")
        self.weights = [batch_size(b) / sum(map(batch_size, self.batches)) for b in self.batches]
        check_arg("chunk", chunk, chunk is None or (isinstance(chunk, int) and chunk >= 1), "None or an int >= 1")
        self.chunk = chunk
        self._train, self._eval = batchnorm.train_view(model), batchnorm.eval_view(model)
        self._recorder = batchnorm.StatisticsRecorder(self._train, self.bn_names)

    @property
    def recomputes(self) -> bool:
        """True when each evaluated point gets its own statistics (a BatchNorm model under ``recompute``)."""
        return bool(self.bn_names) and self.bn == "recompute"

    def _call(self, view: nn.Module, theta: Tensor, batch: Batch, buffers: dict | None = None) -> Any:
        named = params.unflatten(theta, self.lay)
        if buffers:
            named = {**named, **buffers}
        args, kwargs = self.objective.inputs(batch)
        return functional_call(view, named, args, kwargs)

    def output(self, theta: Tensor, batch: Batch, stats: dict | None = None) -> Any:
        """The model's output at theta (D,) on ``batch`` under the policy; ``stats`` are the running statistics
        to use under ``recompute`` (from :meth:`statistics`) or, given under ``eval``, instead of the stored."""
        if self.bn_names and self.bn == "train":
            return self._call(self._train, theta, batch)
        if self.recomputes:
            check_arg("stats", None, stats is not None, "the statistics at theta (Landscape.statistics) under "
                      "bn='recompute'")
        return self._call(self._eval, theta, batch, stats)

    def loss_on_batch(self, theta: Tensor, batch: Batch, stats: dict | None = None) -> Tensor:
        """Mean loss () at theta (D,) on one batch under the policy (``stats`` as in :meth:`output`)."""
        return self.objective.loss(self.output(theta, batch, stats), batch)

    def minibatch_loss(self, theta: Tensor, batch: Batch) -> Tensor:
        """Mean loss () at theta (D,) on one batch with train-mode BatchNorm (batch statistics, nothing stored):
        the loss to train on or to fit a curve with (Garipov et al. fit curves in train mode)."""
        return self.objective.loss(self._call(self._train, theta, batch), batch)

    def xy_loss(self) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
        """:meth:`minibatch_loss` as ``loss_on_batch(theta, xb, yb)``, the form curve fitting
        (:func:`wedges_lib.connect.train_curve` with a Dataset) takes.

        Used in :ref:`ch-your-model`.
        """
        return lambda theta, xb, yb: self.minibatch_loss(theta, (xb, yb))

    def _chunks(self, thetas: Tensor) -> tuple[Tensor, ...]:
        if self.chunk is not None:
            return thetas.split(self.chunk)
        one_by_one = thetas.device.type == "cpu" and thetas.shape[-1] > SMALL_D
        return thetas.split(1 if one_by_one else params.default_sizes(thetas.device)[0])

    def statistics(self, thetas: Tensor) -> dict[str, Tensor]:
        """Running statistics re-estimated at theta (D,) -> {buffer: (C,)}, or at each of K points (K, D) ->
        {buffer: (K, C)}: the equal-weight mean over ``bn_batches`` of each BatchNorm input's batch mean and
        unbiased variance, in one train-mode pass per batch vmapped over the points (``update_bn``'s result)."""
        if not self.bn_names:
            return {}
        single = thetas.ndim == 1
        thetas = thetas[None] if single else thetas

        def one(theta: Tensor, batch: Batch) -> dict[str, Tensor]:
            return self._recorder.run(lambda: self._call(self._train, theta, batch))

        out: list[dict[str, Tensor]] = []
        with torch.no_grad():
            for th in self._chunks(thetas.detach()):
                per = [vmap(one, in_dims=(0, None))(th, b) for b in self.bn_batches]
                out.append(batchnorm.average(per))
        stats = {k: torch.cat([o[k] for o in out]) for k in out[0]}
        return {k: v[0] for k, v in stats.items()} if single else stats

    def __call__(self, thetas: Tensor) -> Tensor:
        """The mean loss over ``batches`` at each of K points, thetas (K, D) -> (K,) (or (D,) -> ()), vmapped
        ``chunk`` points at a time, statistics per the policy."""
        single = thetas.ndim == 1
        thetas = thetas[None] if single else thetas
        parts = []
        with torch.no_grad():
            for th in self._chunks(thetas):
                stats = self.statistics(th) if self.recomputes else None
                dims = (0, None, 0 if stats else None)
                per_point = vmap(self.loss_on_batch, in_dims=dims)
                parts.append(sum(w * per_point(th, b, stats) for w, b in zip(self.weights, self.batches)))
        losses = torch.cat(parts)
        return losses[0] if single else losses

    def fixed_statistics(self, theta: Tensor) -> dict | None:
        """The statistics the curvature at theta holds fixed: recomputed at theta (``recompute``), else None."""
        return self.statistics(theta) if self.recomputes else None

    def loss_fn(self, theta: Tensor) -> Callable[[Tensor], Tensor]:
        """``loss_fn(t)`` for the curvature functions at theta (D,): the mean loss over ``batches``, with the
        BatchNorm statistics recomputed at theta and then held fixed (``recompute``), the stored ones (``eval``)
        or each batch's own (``train``). Several batches give a :class:`~wedges_lib.hessian.DatasetLoss`, which the
        curvature functions differentiate one batch at a time.

        Used in :ref:`ch-your-model`.
        """
        stats = self.fixed_statistics(theta)
        if len(self.batches) == 1:
            return lambda t: self.loss_on_batch(t, self.batches[0], stats)
        return DatasetLoss(lambda t, b: self.loss_on_batch(t, b, stats), tuple(self.batches), tuple(self.weights))

    def state_dict(self, theta: Tensor) -> dict[str, Tensor]:
        """A ``state_dict`` for ``model`` holding theta (D,) and the running statistics under the policy
        (recomputed at theta, or the stored ones)."""
        sd = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        sd.update({k: v.detach().clone() for k, v in params.unflatten(theta, self.lay).items()})
        if self.recomputes:
            sd.update(self.statistics(theta))
        return sd

    def load(self, theta: Tensor) -> nn.Module:
        """A plain PyTorch copy of ``model`` in eval mode with theta (D,) and :meth:`state_dict`'s statistics —
        for an averaged theta (SWA) the model ``torch.optim.swa_utils.update_bn`` would give.

        Used in :ref:`ch-your-model`.
        """
        m = copy.deepcopy(self.model)
        m.load_state_dict(self.state_dict(theta))
        return m.eval()


# --- measures of a landscape at given points: sharpness, distances, planes through checkpoints ------------------


class Sharpness(NamedTuple):
    """Keskar et al.'s ε-sharpness at one point (``value``, in percent), the loss there and the largest loss found
    in the box."""

    value: float
    loss: float
    max_loss: float


def sharpness(loss_fn: Callable[[Tensor], Tensor], theta: Tensor, *, eps: float = 1e-3, steps: int = 10,
              seed: int = 0) -> Sharpness:
    """Keskar et al.'s (2017) ε-sharpness of ``loss_fn`` at theta (D,), in percent:
    100 (max_{δ in C} L(theta + δ) - L(theta)) / (1 + L(theta)), C the box ``|δ_i| <= ε (|theta_i| + 1)``.

    The maximum is sought by ``steps`` steps of projected sign-gradient ascent (a linear loss's maximum over a
    box is at the corner sign(∇L)), each of 2.5 / steps box half-widths, from a uniform random point of the box
    drawn from ``seed``; the largest loss met at any iterate is kept. A lower bound on the maximum, as any
    local search is (Keskar et al. used L-BFGS-B).

    On L(θ) = ½ ‖θ‖² at θ = 0 the maximum is at a corner, ½ D ε²:

    >>> s = sharpness(lambda t: 0.5 * t.pow(2).sum(), torch.zeros(4), eps=0.1, steps=3)
    >>> round(s.max_loss, 6), round(s.value, 4)
    (0.02, 2.0)

    Used in :ref:`ch-your-model`.
    """
    check_arg("eps", eps, isinstance(eps, (int, float)) and eps > 0, "a float > 0")
    check_arg("steps", steps, isinstance(steps, int) and steps >= 1, "an int >= 1")
    theta = theta.detach()
    width = eps * (theta.abs() + 1)
    lower, stride = -width, (2.5 / steps) * width
    gen = torch.Generator().manual_seed(seed)
    delta = torch.rand(theta.shape, generator=gen, dtype=theta.dtype).mul_(2).sub_(1).to(theta.device).mul_(width)
    value_and_grad = grad_and_value(loss_fn)
    base = float(loss_fn(theta).detach())
    best = -math.inf
    for _ in range(steps):  # in place: at millions of parameters each fresh (D,) tensor costs its page faults
        g, loss = value_and_grad(theta + delta)
        best = max(best, float(loss.detach()))
        delta.add_(g.detach().sign_().mul_(stride))
        torch.maximum(torch.minimum(delta, width, out=delta), lower, out=delta)
    with torch.no_grad():
        best = max(best, float(loss_fn(theta + delta)))
    return Sharpness(100 * (best - base) / (1 + base), base, best)


def loss_at_distances(f: surfaces.Target, theta: Tensor, rhos: Sequence[float], *, n: int = 4, seed: int = 0,
                      x: Tensor | None = None, y: Tensor | None = None) -> Tensor:
    """The loss f at theta (D,) + ρ ‖theta‖ d for each ρ of ``rhos`` (R,) and each of n random unit
    directions d (isotropic Gaussian, drawn from ``seed``, the same for every ρ): losses (R, n).

    ``f`` is a batched loss (K, D) -> (K,), or a network (an ``nn.Module``) with its data ``x``, ``y``: the mean
    cross-entropy, by :func:`wedges_lib.surfaces.evaluate_affine`'s batched products for a stack of Linear
    layers (about 1.7x faster on a CPU than a vmapped ``functional_call``; the same losses up to float rounding).

    Used in :ref:`ch-your-model` and :ref:`ch-hyperparameters`.
    """
    check_arg("n", n, isinstance(n, int) and n >= 1, "an int >= 1")
    check_arg("rhos", rhos, len(rhos) >= 1 and all(r > 0 for r in rhos), "distances > 0, as fractions of ‖θ‖")
    d = surfaces.random_directions(theta, n, normalization="none", seed=seed)
    d = d / d.norm(dim=1, keepdim=True) * params.radius(theta)
    rho = torch.as_tensor(list(rhos), dtype=theta.dtype)
    coords = torch.kron(rho[:, None], torch.eye(n, dtype=theta.dtype))  # (R n, n): ρ_r along direction j
    return surfaces.evaluate_affine(f, theta, d, coords, x=x, y=y)["loss"].reshape(len(rho), n)


def _grid_around(pts: Tensor, n: int, margin: float) -> tuple[Tensor, Tensor]:
    """Axes (n,), (n,) spanning the 2D points (m, 2) plus ``margin`` of their largest extent on every side."""
    lo, hi = pts.min(dim=0).values, pts.max(dim=0).values
    pad = margin * float((hi - lo).max().clamp_min(1e-12))
    return (torch.linspace(float(lo[0]) - pad, float(hi[0]) + pad, n),
            torch.linspace(float(lo[1]) - pad, float(hi[1]) + pad, n))


def plane_through_points(f: Callable[[Tensor], Tensor], points: Tensor, lay: params.Layout, *, n: int = 25,
                         margin: float = 0.2, seed: int = 0) -> dict[str, Tensor]:
    """The batched loss f on an n x n grid of a plane through the m = 1, 2 or 3 points (m, D), in true distances
    from points[0]: one point, a filter-normalised random plane around it
    (:func:`wedges_lib.surfaces.random_plane`, coordinates in units of its directions); two, the line between them
    and a filter-normalised random direction (``lay``, from ``seed``) orthogonal to it; three, the plane through
    them (:func:`wedges_lib.surfaces.plane_through`).
    Returns 'xs' (n,), 'ys' (n,), 'loss' (n, n) and 'points' (m, 2), the points' coordinates.

    Used in :ref:`ch-your-model`.
    """
    m = len(points)
    check_arg("points", tuple(points.shape), points.ndim == 2 and 1 <= m <= 3, "1, 2 or 3 points (m, D)")
    if m == 1:
        res = surfaces.random_plane(f, points[0], n=n, lay=lay, seed=seed)
        return {**res, "points": torch.zeros(1, 2)}
    if m == 3:
        return surfaces.plane_through(f, *points, n=n, margin=margin)
    a, b = points
    u = (b - a) / params.radius(b - a)
    v = surfaces.random_directions(a, 1, lay=lay, seed=seed)[0]
    v = v - (v @ u) * u
    v = v / params.radius(v)
    pts = torch.tensor([[0.0, 0.0], [float(params.radius(b - a)), 0.0]])
    xs, ys = _grid_around(pts, n, margin)
    ys = xs - xs.mean()  # as far across the line as along it
    return {**surfaces.plane(f, a, u, v, xs, ys), "points": pts}


def pca_plane(f: Callable[[Tensor], Tensor], thetas: Tensor, *, n: int = 25, margin: float = 0.2,
              chunk: int = 1 << 20) -> dict[str, Tensor]:
    """A trajectory's PCA plane (Li et al. 2018) and how far each checkpoint lies from it.

    thetas (K, D), K >= 3, in order; the plane passes through the last one and is spanned by the top two
    principal directions u, v (D,) of the differences thetas - thetas[-1]. Returns the grid 'xs', 'ys' (n,) and
    'loss' (n, n) in distances along u and v; per checkpoint 'coords' (K, 2), 'off_plane' (K,) its distance from
    the plane, 'relative' (K,) that distance over its distance from the last checkpoint (nan for the last), 'true'
    (K,) its loss, 'projected' (K,) the loss at its projection onto the plane (what the contour shows there);
    'explained' (2,) the variance fraction of the differences along u and v. The geometry is computed in float64
    from the differences' Gram matrix (``chunk`` coordinates at a time), so a distance from the plane is exact to
    float64 even for millions of parameters.

    Used in :ref:`ch-your-model`.
    """
    check_arg("thetas", tuple(thetas.shape), thetas.ndim == 2 and len(thetas) >= 3, "K >= 3 points (K, D)")
    K, origin = len(thetas), thetas[-1]
    gram = torch.zeros(K, K, dtype=torch.float64, device=thetas.device)
    for start in range(0, thetas.shape[1], chunk):
        d = (thetas[:, start:start + chunk] - origin[start:start + chunk]).double()
        gram += d @ d.T
    centre = torch.eye(K, dtype=torch.float64, device=thetas.device) - 1.0 / K
    evals, evecs = torch.linalg.eigh(centre @ gram @ centre)  # the centred differences' Gram matrix
    top = evecs[:, [-1, -2]] / evals[[-1, -2]].clamp_min(1e-300).sqrt()  # u, v = centred^T top
    coords = gram @ centre @ top  # (K, 2): <d_i, u>, <d_i, v>
    off = (gram.diagonal() - coords.pow(2).sum(1)).clamp_min(0).sqrt()
    dist = gram.diagonal().sqrt()
    relative = torch.where(dist > 0, off / dist.clamp_min(1e-300), torch.full_like(off, math.nan))
    mix = (centre @ top).to(thetas.dtype)  # u, v as combinations of the differences
    u, v = mix.T @ thetas - mix.sum(0)[:, None] * origin
    xs, ys = _grid_around(coords.float().cpu(), n, margin)
    grid = surfaces.plane(f, origin, u, v, xs, ys)
    with torch.no_grad():
        true, projected = f(thetas), f(origin + coords.to(thetas.dtype) @ torch.stack([u, v]))
    return {**grid, "coords": coords.cpu(), "off_plane": off.cpu(), "relative": relative.cpu(), "true": true.cpu(),
            "projected": projected.cpu(), "explained": (evals[[-1, -2]] / evals.sum()).float().cpu()}
