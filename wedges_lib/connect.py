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

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from torch.func import vmap

from . import cache, optimize, params, verdicts
from .data import Dataset
from .results import record
from .surfaces import evaluate_affine, plane_through
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

    Used in :ref:`ch-pairs`.
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


def _points_loss(f, data: Dataset | None, device) -> Callable:
    """``loss(thetas (T, D), idx (B,) | None) -> (T,)``: ``f``'s loss at T parameter points on the minibatch idx
    of ``data`` (vmapped over the points), or the batched loss ``f`` itself when ``data`` is None."""
    if data is None:
        check_arg("data", None, not isinstance(f, nn.Module), "a Dataset when f is a network")
        check_arg("f", type(f).__name__, callable(f), "an nn.Module or a callable")
        return lambda thetas, idx: f(thetas)
    if isinstance(f, nn.Module):
        single = params.batch_loss(f)
    else:
        check_arg("f", type(f).__name__, callable(f), "an nn.Module or a callable loss_on_batch(theta, xb, yb)")
        single = f
    per_point = vmap(single, in_dims=(0, None, None))
    x, y = data.x_train.to(device), data.y_train.to(device)
    return lambda thetas, idx: per_point(thetas, x[idx], y[idx])


def _fit_bend(f, a: torch.Tensor, c: torch.Tensor, *, kind: str, fixed_t: float | None, project: bool,
              data: Dataset | None, steps: int, lr: float, optimizer: str, momentum: float, schedule: str,
              batch_size: int, n_t: int, seed: int, record_every: int, init: torch.Tensor | None,
              quiet: bool, desc: str) -> CurveResult:
    """Fit b through :func:`wedges_lib.optimize.minimize` (one member, p = b (1, D)); minibatches come from
    ``seed``, the curve times t from its side stream; with ``project`` the gradient's component along c - a is
    removed and b is put back on the hyperplane after every step. A non-finite loss or gradient stops the fit
    without raising: b stays where it happened and the history ends there."""
    check_arg("kind", kind, kind in ("bezier", "polychain"), "'bezier' or 'polychain'")
    check_arg("n_t", n_t, isinstance(n_t, int) and n_t >= 1, "an int >= 1")
    check_arg("c", tuple(c.shape), a.ndim == 1 and c.shape == a.shape, f"a vector of a's shape {tuple(a.shape)}")
    a, c = a.detach(), c.detach()
    mid = 0.5 * (a + c)
    e = (c - a) / params.radius(c - a)
    b0 = (mid if init is None else init.detach().to(a)).clone()
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
        b -= ((b - mid) @ e)[:, None] * e

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
    check_arg("objective", objective, objective in ("point", "path"), "'point' or 'path'")
    return _fit_bend(f, a, c, kind="polychain", fixed_t=0.5 if objective == "point" else None, project=True,
                     data=data, steps=steps, lr=lr, optimizer=optimizer, momentum=momentum, schedule=schedule,
                     batch_size=batch_size, n_t=n_t, seed=seed, record_every=record_every, init=None, quiet=quiet,
                     desc=f"connector (F&J, {objective})")


# --- chapter 04's curves, fitted from a configuration -------------------------------------------------------

#: name -> (path kind, objective): the curves chapter 04 fits between two solutions
CURVES = {
    "Bezier": ("bezier", "curve"), "polygonal chain": ("polychain", "curve"),
    "F&J connector": ("polychain", "point"), "F&J, path objective": ("polychain", "path")}

#: curve name -> the short name in chapter 04's recorded numbers and claims
SHORT = {"Bezier": "bezier", "polygonal chain": "chain", "F&J connector": "fj", "F&J, path objective": "fjpath"}


def _fit_named(cfg, model: nn.Module, data: Dataset, a: torch.Tensor, c: torch.Tensor, name: str,
               seed: int) -> torch.Tensor:
    kind, objective = CURVES[name]
    fit = dict(data=data, steps=cfg.curve_steps, batch_size=cfg.batch_size, seed=seed, quiet=True)
    if objective == "curve":
        return train_curve(model, a, c, kind=kind, lr=cfg.curve_lr, **fit).b
    lr = cfg.connector_lr if objective == "point" else cfg.curve_lr
    return fj_connector(model, a, c, objective=objective, lr=lr, **fit).b


def fit_curves(cfg, model: nn.Module, data: Dataset, a: torch.Tensor, c: torch.Tensor,
               seed: int | None = None) -> dict[str, tuple]:
    """The curves of :data:`CURVES` between a, c (D,), each fitted for ``curve_steps`` steps (at ``curve_lr``; the
    F&J connector at ``connector_lr``) with minibatches from ``seed`` (default ``cfg.seed``) through the result
    cache: name -> (bend b (D,), path kind). Used in :ref:`ch-pairs`."""
    seed = cfg.seed if seed is None else seed
    return {name: (cache.cached("pairs-bend", cfg, _fit_named, model=model, data=data, a=a, c=c, name=name,
                                seed=seed), kind) for name, (kind, _) in CURVES.items()}


def pair_study(cfg, model: nn.Module, data: Dataset, a: torch.Tensor, c: torch.Tensor, a0: torch.Tensor,
               c0: torch.Tensor, *, index: int = 0) -> dict:
    """Everything chapter 04 measures on one pair of solutions a, c (D,) trained from a0, c0 (D,): training-set
    profiles (:func:`profile`, ``n_interp`` points) of the straight line ('line'), of the curves of :data:`CURVES`
    ('curves', name -> profile; their bends in 'bends', name -> (b, kind)) fitted with minibatch seed
    ``cfg.seed + index``, and of the two lines a0 -> a, c0 -> c ('from_init'). Used in :ref:`ch-pairs`."""
    x, y = data.x_train, data.y_train
    bends = fit_curves(cfg, model, data, a, c, seed=cfg.seed + index)
    return {"line": profile(model, torch.stack([a, c]), cfg.n_interp, x=x, y=y), "bends": bends,
            "curves": {name: profile(model, torch.stack([a, b, c]), cfg.n_interp, kind=kind, x=x, y=y)
                       for name, (b, kind) in bends.items()},
            "from_init": [profile(model, torch.stack(e), cfg.n_interp, x=x, y=y) for e in ((a0, a), (c0, c))]}


def rise_fraction(losses: torch.Tensor) -> float:
    """The largest rise of a profile (T,) (:func:`max_rise`) as a fraction of its range max - min: 0 for a
    monotone descent, 1 when it only rises; 0 for a constant profile.

    >>> rise_fraction(torch.tensor([4.0, 1.0, 2.0, 0.0])), rise_fraction(torch.tensor([0.0, 2.0]))
    (0.25, 1.0)
    """
    span = float(losses.max() - losses.min())
    return float(max_rise(losses)) / span if span > 0 else 0.0


#: chapter 04's claims measured once per pair (the rest, 'pairs_monotonic', once per network)
PAIR_CLAIMS = ("pairs_line_height", "pairs_line_ratio", "pairs_curves_bezier", "pairs_curves_chain",
               "pairs_curves_fjpath", "pairs_connector")


def pair_statistics(studies: list[dict | None]) -> dict[str, list[float]]:
    """Chapter 04's statistics, one value per pair (``pairs_monotonic``: per network) from :func:`pair_study`
    results; a pair that is None (a member diverged) gives NaN, 'not measured'. Claim name -> values: the line's
    barrier ('pairs_line_height') and that barrier over the ends' mean loss ('pairs_line_ratio'); each curve's
    barrier as a fraction of the line's ('pairs_curves_*', 'pairs_connector' for the F&J connector; NaN without
    a barrier on the line); :func:`rise_fraction` of each init -> solution line. Used in :ref:`ch-pairs`."""
    out: dict[str, list[float]] = {name: [] for name in (*PAIR_CLAIMS, "pairs_monotonic")}
    nan = float("nan")
    for s in studies:
        if s is None:
            for name in out:
                out[name] += [nan, nan] if name == "pairs_monotonic" else [nan]
            continue
        line = s["line"]["loss"]
        lb, ends = float(barrier_height(line)), float(0.5 * (line[0] + line[-1]))
        out["pairs_line_height"].append(lb)
        out["pairs_line_ratio"].append(lb / ends if ends > 0 else nan)
        for name, prof in s["curves"].items():
            key = "pairs_connector" if SHORT[name] == "fj" else f"pairs_curves_{SHORT[name]}"
            out[key].append(float(barrier_height(prof["loss"])) / lb if lb > 0 else nan)
        out["pairs_monotonic"] += [rise_fraction(p["loss"]) for p in s["from_init"]]
    return out


def pair_verdicts(claims: dict, stats: dict[str, list[float]], scale: str) -> dict:
    """Judge chapter 04's claims on :func:`pair_statistics` (``claims`` from :func:`wedges_lib.verdicts.declare`)
    and combine the parts: 'pairs_line' (height, ratio) and 'pairs_curves' (Bezier, chain, F&J path objective).
    Name -> :class:`~wedges_lib.verdicts.Verdict`, every one recorded. Used in :ref:`ch-pairs`."""
    out = {name: verdicts.judge(claims[name], values, scale, unit="networks" if name == "pairs_monotonic"
                                else "pairs") for name, values in stats.items()}
    for whole in ("pairs_line", "pairs_curves"):
        out[whole] = verdicts.combine(whole, [v for n, v in out.items() if n.startswith(whole + "_")])
    return out


def pair_numbers(studies: list[dict | None], toy_paths: dict) -> dict[str, float]:
    """Every plain number chapter 04 reports, by its recorded name: means over the measured pairs of the ends'
    loss, the line's barrier and accuracy drop, each curve's barrier as a fraction of the line's and its largest
    accuracy drop; the smallest fall and largest rise of the init -> solution lines; the toy's two barriers
    (``toy_paths`` name -> (t, loss)). Used in :ref:`ch-pairs`."""
    ok = [s for s in studies if s is not None]
    mean = lambda v: sum(v) / len(v) if v else float("nan")  # noqa: E731
    lines = [s["line"] for s in ok]
    inits = [p["loss"] for s in ok for p in s["from_init"]]
    num = {"pairs_ends_loss": mean([float(0.5 * (p["loss"][0] + p["loss"][-1])) for p in lines]),
           "pairs_line_barrier": mean([float(barrier_height(p["loss"])) for p in lines]),
           "pairs_line_acc_drop": mean([float(accuracy_drop(p["acc"])) for p in lines]),
           "pairs_init_rise": max([float(max_rise(v)) for v in inits], default=float("nan")),
           "pairs_init_drop": min([float(v[0] - v[-1]) for v in inits], default=float("nan")),
           "pairs_toy_line": float(barrier_height(toy_paths["straight a → c"][1])),
           "pairs_toy_via": float(barrier_height(toy_paths["a → b → c (intersection)"][1]))}
    for name, short in SHORT.items():
        num[f"pairs_{short}_ratio"] = mean([float(barrier_height(s["curves"][name]["loss"]) /
                                                  barrier_height(s["line"]["loss"])) for s in ok])
        num[f"pairs_{short}_acc_drop"] = mean([float(accuracy_drop(s["curves"][name]["acc"])) for s in ok])
    return num


def connector_sentence(v: dict) -> str:
    """What the F&J connector's verdict means beside its path-trained variant's (``v`` from
    :func:`pair_verdicts`), as a sentence for the prose. Used in :ref:`ch-pairs`."""
    fj, path = v["pairs_connector"].state, v["pairs_curves_fjpath"].state
    if v["pairs_connector"].n == 0:
        return "No pair could be measured: each had a diverged network."
    if fj == "reproduced":
        return ("A bend point found by descending the loss at that point alone, in the hyperplane, removes most of "
                "the barrier, although nothing in its objective sees the two segments.")
    if path == "reproduced":
        return (f"The connector's claim is {fj}: a bend point of low loss, found in the hyperplane, has not made "
                "both segments low. The variant that descends the whole path under the same constraint meets the "
                "stricter bound, so the hyperplane is not the limit, the objective is.")
    return (f"The connector's claim is {fj} and its path-trained variant's {path}: within the hyperplane and "
            "this budget of steps, neither objective removed the barrier.")


def stacked_profiles(studies: list[dict | None], n_interp: int) -> dict[str, torch.Tensor]:
    """Chapter 04's loss profiles stacked over the pairs for one figure: 'straight line' and each curve of
    :data:`CURVES` (T, P), 'init → solution' (T, 2P); an unmeasured pair (None) is NaN. Used in :ref:`ch-pairs`."""
    nan = torch.full((n_interp, 1), float("nan"))
    cols = {name: [] for name in ("straight line", *CURVES, "init → solution")}
    for s in studies:
        cols["straight line"].append(nan if s is None else s["line"]["loss"][:, None])
        for name in CURVES:
            cols[name].append(nan if s is None else s["curves"][name]["loss"][:, None])
        cols["init → solution"] += [nan, nan] if s is None else [p["loss"][:, None] for p in s["from_init"]]
    return {name: torch.cat(v, 1) for name, v in cols.items()}


def tunnel(model: nn.Module, studies: list[dict | None], theta: torch.Tensor, n: int, x: torch.Tensor,
           y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The loss on an n x n grid of the plane through A, C and the Bezier bend B of the first measured pair
    (without one, pair 0 of theta (2P, D) and a point off its line), as :func:`wedges_lib.surfaces.plane_through`
    returns it, plus 'curve' (50, 2), the Bezier curve in the plane's coordinates. Used in :ref:`ch-pairs`."""

    i = next((i for i, s in enumerate(studies) if s is not None), None)
    a, c = theta[2 * (i or 0)], theta[2 * (i or 0) + 1]
    if i is None:  # nothing fitted: any point off the line, a quarter of |c - a| from the midpoint
        d = c - a
        r = torch.roll(d, 1) - (torch.roll(d, 1) @ d) / (d @ d) * d
        b = 0.5 * (a + c) + 0.25 * d.norm() * r / r.norm()
    else:
        b = studies[i]["bends"]["Bezier"][0]
    plane = plane_through(model, a, c, b, n=n, x=x, y=y)
    pts = curve_points(torch.stack([a, b, c]), torch.linspace(0, 1, 50)) - a
    return {**plane, "curve": torch.stack([pts @ plane["u"], pts @ plane["v"]], dim=1)}


def record_pairs(cfg, claims: dict, studies: list[dict | None], toy_paths: dict, diverged: torch.Tensor) -> dict:
    """Record chapter 04's plain numbers (:func:`pair_numbers`, the steps and the count of diverged networks),
    its verdicts (:func:`pair_verdicts`) and the connector's sentence; returns the verdicts. Used in
    :ref:`ch-pairs`."""

    num = {**pair_numbers(studies, toy_paths), "curve_steps": cfg.curve_steps, "pairs_diverged": int(diverged.sum())}
    for name, value in num.items():
        record(name, value)
    v = pair_verdicts(claims, pair_statistics(studies), cfg.scale)
    record("pairs_connector_sentence", connector_sentence(v))
    return v
