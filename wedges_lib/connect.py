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
hyperplane through the midpoint orthogonal to a-c; the path is the polychain a -> b -> c. :func:`fj_chain` is the
same procedure as a later description has it: each bend starts at the *highest-loss* point of its segment, moves in
the hyperplane through that point orthogonal to the segment, and the procedure recurses on the new segments while
one's barrier exceeds a tolerance, giving a polygonal chain a -> b1 -> ... -> c.

What is optimised, ``f``, is one of

* a network (``nn.Module``) with ``data`` (a :class:`~wedges_lib.data.Dataset`): minibatch cross-entropy;
* a callable ``loss_on_batch(theta (D,), xb, yb) -> ()`` with ``data``: vmapped over the curve points;
* a batched loss ``f(thetas (K, D)) -> (K,)`` with ``data=None`` (e.g. the toy model), no minibatches.

Chapter 04's study of pairs built on these paths is :mod:`wedges_lib.studies.ch04_pairs`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from torch.func import vmap

from . import optimize, params
from .data import Dataset
from .surfaces import evaluate_affine
from .validation import check_arg

KINDS = ("line", "bezier", "polychain")


def weights(kind: str, ts: torch.Tensor) -> torch.Tensor:
    """Weights (T, 3) of the control points (a, b, c) at ts (T,) on a path of ``kind``; each row sums to 1."""
    check_arg("kind", kind, kind in KINDS, f"one of {', '.join(KINDS)}")
    t = torch.as_tensor(ts).reshape(-1, 1)
    if kind == "line":
        return torch.cat([1 - t, torch.zeros_like(t), t], dim=1)
    if kind == "bezier":
        return torch.cat([(1 - t) ** 2, 2 * t * (1 - t), t ** 2], dim=1)
    first = t <= 0.5
    s = torch.where(first, 2 * t, 2 * t - 1)  # position inside the segment
    zero = torch.zeros_like(t)
    return torch.cat([torch.where(first, 1 - s, zero), torch.where(first, s, 1 - s), torch.where(first, zero, s)],
                     dim=1)


def _controls(points: torch.Tensor) -> tuple[torch.Tensor, str | None]:
    check_arg("points", tuple(points.shape), points.ndim == 2 and points.shape[0] in (2, 3),
           "shape (2, D) for a straight line or (3, D) for (a, b, c)")
    if points.shape[0] == 2:
        return torch.stack([points[0], 0.5 * (points[0] + points[1]), points[1]]), "line"
    return points, None


def curve_points(points: torch.Tensor, ts: torch.Tensor, kind: str = "bezier") -> torch.Tensor:
    """Points (T, D) at ts (T,) on the path through points (3, D) = (a, b, c), or (2, D) = (a, c) for a line.

    Used in :ref:`ch-pairs`.
    """
    ctrl, forced = _controls(points)
    return weights(forced or kind, ts).to(ctrl) @ ctrl


def profile(f, points: torch.Tensor, ts: torch.Tensor | int = 31, *, kind: str = "bezier",
            x: torch.Tensor | None = None, y: torch.Tensor | None = None, chunk: int | None = None,
            batch: int | None = None) -> dict[str, torch.Tensor]:
    """Loss (and accuracy, for a network with x, y) along a path: 't' (T,), 'loss' (T,)[, 'acc' (T,)].

    ``points`` is (2, D) for the straight line a -> c or (3, D) = (a, b, c) for a ``kind`` path; ``f`` is a
    network or a batched loss (K, D) -> (K,), as in :mod:`wedges_lib.surfaces`. The points are vmapped.

    Used in :ref:`ch-pairs` and :ref:`ch-your-model`.
    """
    if isinstance(ts, int):
        check_arg("ts", ts, ts >= 2, "an int >= 2 or a tensor (T,)")
        ts = torch.linspace(0, 1, ts)
    ctrl, forced = _controls(points)
    w = weights(forced or kind, ts).to(ctrl)
    res = evaluate_affine(f, ctrl[0], ctrl[1:] - ctrl[0], w[:, 1:], x=x, y=y, chunk=chunk, batch=batch)
    return {"t": torch.as_tensor(ts).reshape(-1), **res}


def barrier_height(losses: torch.Tensor) -> torch.Tensor:
    """Max of a loss profile (..., T) minus the mean of its two endpoints, (...).

    >>> barrier_height(torch.tensor([1.0, 3.0, 0.5])).item()  # 3 - (1 + 0.5) / 2
    2.25

    Used in :ref:`ch-pairs` and :ref:`ch-your-model`.
    """
    return losses.amax(dim=-1) - 0.5 * (losses[..., 0] + losses[..., -1])


def accuracy_drop(acc: torch.Tensor) -> torch.Tensor:
    """Mean of the endpoints' accuracy minus the lowest accuracy along a profile (..., T), (...)."""
    return 0.5 * (acc[..., 0] + acc[..., -1]) - acc.amin(dim=-1)


def max_rise(losses: torch.Tensor) -> torch.Tensor:
    """Largest rise of a profile (..., T) over any earlier value, max_{i<=j} L_j - L_i, (...); 0 iff non-increasing.

    >>> max_rise(torch.tensor([[3.0, 1.0, 2.0, 0.0], [3.0, 2.0, 1.0, 0.0]])).tolist()
    [1.0, 0.0]

    Used in :ref:`ch-quickstart`.
    """
    return (losses - losses.cummin(dim=-1).values).amax(dim=-1)


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


def _network_loss(f, data: Dataset | None, device) -> tuple[Callable, torch.Tensor | None, torch.Tensor | None]:
    """``(loss(thetas (K, D), xb (K, B, ...), yb (K, B)) -> (K,), x, y)``: each of K parameter points' minibatch
    loss on its own batch, and ``data``'s training set on ``device`` (None, None without data). A network goes
    through :func:`wedges_lib.params.stacked_loss` (batched products, the gradient written out where it can),
    a callable ``loss_on_batch(theta (D,), xb, yb)`` is vmapped; with ``data`` None, ``f`` is the batched loss
    ``f(thetas (K, D)) -> (K,)`` itself."""
    if data is None:
        check_arg("data", None, not isinstance(f, nn.Module), "a Dataset when f is a network")
        check_arg("f", type(f).__name__, callable(f), "an nn.Module or a callable")
        return (lambda thetas, xb, yb: f(thetas)), None, None
    if isinstance(f, nn.Module):
        per_point = params.stacked_loss(f)
    else:
        check_arg("f", type(f).__name__, callable(f), "an nn.Module or a callable loss_on_batch(theta, xb, yb)")
        per_point = vmap(f, in_dims=(0, 0, 0))
    return per_point, data.x_train.to(device), data.y_train.to(device)


def _points_loss(f, data: Dataset | None, device) -> Callable:
    """``loss(thetas (T, D), idx (B,) | None) -> (T,)``: ``f``'s loss at T parameter points on the minibatch idx
    of ``data`` (all T points on the same batch, in one batched pass), or the batched loss ``f`` itself when
    ``data`` is None."""
    per_point, x, y = _network_loss(f, data, device)
    if x is None:
        return lambda thetas, idx: per_point(thetas, None, None)

    def loss(thetas: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        xb, yb = x[idx], y[idx]
        return per_point(thetas, xb.expand(len(thetas), *xb.shape), yb.expand(len(thetas), -1))

    return loss


def _fit_bend(f, a: torch.Tensor, c: torch.Tensor, *, kind: str, fixed_t: float | None, project: bool,
              data: Dataset | None, steps: int, lr: float, optimizer: str, momentum: float, schedule: str,
              batch_size: int, n_t: int, seed: int, record_every: int, init: torch.Tensor | None,
              quiet: bool, desc: str) -> CurveResult:
    """Fit b through :func:`wedges_lib.optimize.minimize` (one member, p = b (1, D)); minibatches come from
    ``seed``, the curve times t from its side stream; with ``project`` the gradient's component along c - a is
    removed and b is put back on the hyperplane through its start after every step. A non-finite loss or gradient
    stops the fit without raising: b stays where it happened and the history ends there."""
    check_arg("kind", kind, kind in ("bezier", "polychain"), "'bezier' or 'polychain'")
    check_arg("n_t", n_t, isinstance(n_t, int) and n_t >= 1, "an int >= 1")
    check_arg("c", tuple(c.shape), a.ndim == 1 and c.shape == a.shape, f"a vector of a's shape {tuple(a.shape)}")
    a, c = a.detach(), c.detach()
    e = (c - a) / params.radius(c - a)
    b0 = (0.5 * (a + c) if init is None else init.detach().to(a)).clone()
    side = optimize.side_generator(seed)
    points_loss = _points_loss(f, data, a.device)

    def loss(b: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
        ts = torch.full((1,), fixed_t) if fixed_t is not None else torch.rand(n_t, generator=side)
        w = weights(kind, ts).to(a)
        thetas = w[:, :1] * a + w[:, 1:2] * b[0] + w[:, 2:] * c
        return points_loss(thetas, None if idx is None else idx[0]).mean()[None]

    def along_out(g: torch.Tensor) -> torch.Tensor:  # the gradient's component along c - a removed
        return g - (g @ e)[:, None] * e

    def onto_plane(b: torch.Tensor) -> None:  # exact constraint for any optimiser (Adam's step is not projected)
        b -= ((b - b0) @ e)[:, None] * e  # the hyperplane through the start b0, orthogonal to c - a

    run = optimize.minimize(b0[None], loss, n=None if data is None else len(data.y_train), seeds=[seed],
                            optimizer=optimizer, lr=lr, momentum=momentum, schedule=schedule,
                            batch_size=batch_size, steps=steps, explode=None, record_every=record_every,
                            record_start=False, grad_hook=along_out if project else None,
                            post_step=onto_plane if project else None, quiet=quiet, desc=desc)
    settings = dict(kind=kind, steps=steps, lr=lr, optimizer=optimizer, momentum=momentum, schedule=schedule,
                    batch_size=batch_size, n_t=n_t, seed=seed, fixed_t=fixed_t, project=project)
    return CurveResult(kind, a, run.p[0].clone(), c,
                       {"step": run.history["step"], "loss": run.history["batch_loss"][:, 0]}, settings)


def train_curve(f, a: torch.Tensor, c: torch.Tensor, *, kind: str = "bezier", data: Dataset | None = None,
                steps: int = 500, lr: float = 0.05, optimizer: str = "sgd", momentum: float = 0.9,
                schedule: str = "cosine", batch_size: int = 128, n_t: int = 4, seed: int = 0,
                record_every: int = 50, init: torch.Tensor | None = None, quiet: bool = False) -> CurveResult:
    """Fit the bend b (D,) of a ``kind`` ('bezier' / 'polychain') path between fixed a, c (D,) (Garipov et al.).

    Each step draws ``n_t`` t ~ U[0, 1] and one minibatch of ``batch_size`` (from ``seed``) and descends the
    mean loss at those curve points; b starts at ``init`` (default: the midpoint of a-c). Used in :ref:`ch-pairs`
    and :ref:`ch-your-model`.
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
    check_arg("objective", objective, objective in ("point", "path"), "'point' or 'path'")
    return _fit_bend(f, a, c, kind="polychain", fixed_t=0.5 if objective == "point" else None, project=True,
                     data=data, steps=steps, lr=lr, optimizer=optimizer, momentum=momentum, schedule=schedule,
                     batch_size=batch_size, n_t=n_t, seed=seed, record_every=record_every, init=None, quiet=quiet,
                     desc=f"connector (F&J, {objective})")


def _descend_in_planes(f, p: torch.Tensor, q: torch.Tensor, m: torch.Tensor, *, data: Dataset | None, steps: int,
                       lr: float, optimizer: str, momentum: float, schedule: str, batch_size: int,
                       seed: int) -> torch.Tensor:
    """Bends (K, D), all K in one vmapped :func:`wedges_lib.optimize.minimize`: bend k starts at m[k] and descends
    the loss at itself (member k's minibatches from ``seed + k``), its gradient's component along q[k] - p[k]
    removed and the bend put back on the hyperplane through m[k] orthogonal to q[k] - p[k] after every step."""
    e = (q - p) / (q - p).norm(dim=1, keepdim=True)
    per_point, x, y = _network_loss(f, data, m.device)
    loss = lambda b, idx: per_point(b, None if x is None else x[idx], None if y is None else y[idx])  # noqa: E731

    def along_out(g: torch.Tensor) -> torch.Tensor:
        return g - (g * e).sum(1, keepdim=True) * e

    def onto_planes(b: torch.Tensor) -> None:
        b -= ((b - m) * e).sum(1, keepdim=True) * e

    run = optimize.minimize(m.detach().clone(), loss, n=None if data is None else len(data.y_train),
                            seeds=[seed + k for k in range(len(m))], optimizer=optimizer, lr=lr, momentum=momentum,
                            schedule=schedule, batch_size=batch_size, steps=steps, explode=None, record_every=steps,
                            record_start=False, grad_hook=along_out, post_step=onto_planes, quiet=True,
                            desc="connector (F&J chain)")
    return run.p.detach()


@dataclass
class ChainResult:
    """A recursive F&J chain (:func:`fj_chain`): its vertices ``points`` (K, D), a first and c last; the chain's
    barrier after each level of recursion ``barriers`` (L + 1,), level 0 being the straight line, the number of
    bends after each level ``bends`` (L + 1,), and the loss along the final chain ``profile`` ((K - 1) T,), its
    segments' probes concatenated."""

    points: torch.Tensor
    barriers: torch.Tensor
    bends: torch.Tensor
    profile: torch.Tensor


def fj_chain(f, a: torch.Tensor, c: torch.Tensor, *, depth: int = 3, tol: float = 0.05,
             data: Dataset | None = None, n_probe: int = 31, steps: int = 500, lr: float = 0.05,
             optimizer: str = "sgd", momentum: float = 0.9, schedule: str = "cosine", batch_size: int = 128,
             seed: int = 0) -> ChainResult:
    """The F&J connector as a recursive polygonal chain from a to c (D,), ``depth`` levels at most.

    At each level every segment p -> q whose barrier (:func:`barrier_height` of its training loss at ``n_probe``
    points) exceeds ``tol`` times the line a -> c's gets a bend: b starts at the segment's highest-loss interior
    point m and descends the loss at b alone (``steps`` steps of ``optimizer`` at ``lr``; the level's bends in one
    vmapped run, minibatches of ``data`` from ``seed`` + the bend's index), its gradient's component along q - p
    projected out and b kept on the hyperplane through m orthogonal to q - p; p -> q becomes p -> b -> q. A segment
    whose loss peaks at an end is not bent (no bend lowers its end). The chain's barrier is its highest probed loss
    minus the mean of a's and c's; the final chain's probed profile is kept.
    ``f`` and ``data`` as in :func:`train_curve`; the profiles use ``data``'s whole training set.

    Used in :ref:`ch-pairs`.
    """
    check_arg("depth", depth, isinstance(depth, int) and depth >= 0, "an int >= 0")
    check_arg("tol", tol, tol >= 0, "a float >= 0 (a fraction of the line's barrier)")
    check_arg("n_probe", n_probe, isinstance(n_probe, int) and n_probe >= 3, "an int >= 3")
    xy = {} if data is None else dict(x=data.x_train.to(a.device), y=data.y_train.to(a.device))
    seg = lambda p, q: profile(f, torch.stack([p, q]), n_probe, **xy)["loss"]  # noqa: E731
    fit = dict(data=data, steps=steps, lr=lr, optimizer=optimizer, momentum=momentum, schedule=schedule,
               batch_size=batch_size)
    a, c = a.detach(), c.detach()
    chain, profs = [a, c], [seg(a, c)]
    ends, bar = 0.5 * (profs[0][0] + profs[0][-1]), float(tol * barrier_height(profs[0]))
    barriers, bends, count = [float(barrier_height(profs[0]))], [0], 0
    for _ in range(depth):
        split = [j for j, prof in enumerate(profs) if float(barrier_height(prof)) > bar
                 and 0 < int(prof.argmax()) < n_probe - 1]
        if split:
            p, q = torch.stack([chain[j] for j in split]), torch.stack([chain[j + 1] for j in split])
            t = torch.tensor([int(profs[j].argmax()) / (n_probe - 1) for j in split]).to(a)[:, None]
            new = dict(zip(split, _descend_in_planes(f, p, q, p + t * (q - p), seed=seed + count, **fit)))
            count += len(split)
            new_chain, new_profs = [chain[0]], []
            for j, (p, q) in enumerate(zip(chain[:-1], chain[1:])):
                new_chain += [new[j], q] if j in new else [q]
                new_profs += [seg(p, new[j]), seg(new[j], q)] if j in new else [profs[j]]
            chain, profs = new_chain, new_profs
        barriers.append(float(torch.stack([pr.max() for pr in profs]).max() - ends))
        bends.append(len(chain) - 2)
    return ChainResult(torch.stack(chain), torch.tensor(barriers), torch.tensor(bends), torch.cat(profs))


def rise_fraction(losses: torch.Tensor) -> float:
    """The largest rise of a profile (T,) (:func:`max_rise`) as a fraction of its range max - min: 0 for a
    monotone descent, 1 when it only rises; 0 for a constant profile.

    >>> rise_fraction(torch.tensor([4.0, 1.0, 2.0, 0.0])), rise_fraction(torch.tensor([0.0, 2.0]))
    (0.25, 1.0)
    """
    span = float(losses.max() - losses.min())
    return float(max_rise(losses)) / span if span > 0 else 0.0
