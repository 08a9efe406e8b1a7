"""Do several knobs act alike? Whether their points fall on one curve, judged against the seed noise.

The input is P points — settings of several knob sweeps — each measured on K seeds: ``x``, ``y`` (P, K), NaN
where a member was not measured (it diverged, got stuck), and ``groups``, per point the set of knobs whose sweep
contains it (a base setting shared by two sweeps belongs to both). The test, seed by seed:

* for each knob k, a straight line y = a + b·x is fitted by least squares to the points of the *other* knobs
  (:func:`line_fit`), and the residual y − (a + b·x) is taken at each of knob k's points that are not in that
  fit (:func:`held_out_residuals`): how far knob k leaves the curve the others trace;
* the **overlay error** of seed s is the root mean square of those residuals over all knobs;
* the **seed noise** (:func:`seed_noise`) is the standard deviation of a point over seeds, pooled over all
  points (the root of the mean over points of the unbiased variance over seeds): one number for the experiment;
* the statistic is, per seed, the overlay error over the seed noise (:func:`overlay_ratio`), (K,). When every
  knob's points lie on one curve and scatter only by seed noise it is about 1 to 1.5 (a held-out residual
  carries the noise of its point and of the fitted line); a knob that moves its points off the others' curve
  raises it above that.

In chapter 03 x is log(r/r₀) and y is log λ_max (or log Tr H), both at matched training loss.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .validation import check_arg
from .verdicts import interval


def _check(x: torch.Tensor, y: torch.Tensor, groups: Sequence[set] | None = None) -> None:
    check_arg("y", tuple(y.shape), y.ndim == 2 and y.shape == x.shape, f"the shape of x (P, K), {tuple(x.shape)}")
    if groups is not None:
        check_arg("groups", len(groups), len(groups) == x.shape[0], f"one set of knobs per point, {x.shape[0]}")


def line_fit(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Least-squares line y = a + b·x through the finite pairs of x, y (n,): (a, b); NaNs when fewer than two
    distinct x values are finite.

    >>> line_fit(torch.tensor([0.0, 1.0, 2.0, float('nan')]), torch.tensor([1.0, 3.0, 5.0, 0.0]))
    (1.0, 2.0)
    """
    ok = torch.isfinite(x) & torch.isfinite(y)
    x, y = x[ok].double(), y[ok].double()
    if len(x) < 2 or float(x.max() - x.min()) == 0.0:
        return math.nan, math.nan
    xm, ym = x.mean(), y.mean()
    b = float(((x - xm) * (y - ym)).sum() / ((x - xm) ** 2).sum())
    return float(ym) - b * float(xm), b


def held_out_residuals(x: torch.Tensor, y: torch.Tensor, groups: Sequence[set]) -> torch.Tensor:
    """Per seed, each point's residual from the line fitted to the points of the other knobs: (P, K), NaN at a
    point that belongs to every knob (never held out) or where the residual cannot be measured."""
    _check(x, y, groups)
    knobs = sorted(set().union(*groups))
    out = torch.full(x.shape, math.nan, dtype=torch.float64)
    for knob in knobs:
        fit = [i for i, g in enumerate(groups) if g - {knob}]  # a point of another knob
        test = [i for i, g in enumerate(groups) if knob in g and i not in fit]
        for k in range(x.shape[1]):
            a, b = line_fit(x[fit, k], y[fit, k])
            for i in test:
                out[i, k] = float(y[i, k]) - (a + b * float(x[i, k]))
    return out


def knob_residuals(x: torch.Tensor, y: torch.Tensor, groups: Sequence[set]) -> dict[str, torch.Tensor]:
    """Per knob, per seed, the rms of its points' :func:`held_out_residuals` (K,): how far that knob's points lie
    from the line the other knobs trace (in y's units; NaN for a knob with no point of its own).
    Used in :ref:`ch-hyperparameters`.

    >>> x = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    >>> knob_residuals(x, torch.tensor([[0.0], [1.5], [2.0], [3.0]]), [{"a", "b"}, {"a"}, {"b"}, {"b"}])["a"]
    tensor([0.5000], dtype=torch.float64)
    """
    res = held_out_residuals(x, y, groups)
    out = {}
    for knob in sorted(set().union(*groups)):
        own = [i for i, g in enumerate(groups) if g == {knob}]
        r = res[own]
        ok = torch.isfinite(r).sum(0)
        out[knob] = (r.nan_to_num(0) ** 2).sum(0).div(ok.clamp_min(1)).sqrt().masked_fill(ok == 0, math.nan)
    return out


def seed_noise(y: torch.Tensor) -> float:
    """The standard deviation of a point over seeds, pooled over points: y (P, K) -> the root of the mean, over
    the points measured on at least two seeds, of the unbiased variance over seeds (NaN if there is none).

    >>> seed_noise(torch.tensor([[1.0, 3.0], [0.0, 4.0], [5.0, float('nan')]]))
    2.23606797749979
    """
    y = y.double()
    ok = torch.isfinite(y)
    count = ok.sum(1)
    mean = y.nan_to_num(0).sum(1) / count.clamp_min(1)
    var = ((y - mean[:, None]).nan_to_num(0) ** 2).sum(1) / (count - 1).clamp_min(1)
    use = count >= 2
    return float(var[use].mean().sqrt()) if use.any() else math.nan


def overlay_ratio(x: torch.Tensor, y: torch.Tensor, groups: Sequence[set]) -> torch.Tensor:
    """The overlay statistic per seed (K,): the rms of its :func:`held_out_residuals` over all held-out points,
    over the pooled :func:`seed_noise`; see the module doc. Used in :ref:`ch-hyperparameters`."""
    res = held_out_residuals(x, y, groups)
    ok = torch.isfinite(res)
    rms = (res.nan_to_num(0) ** 2).sum(0).div(ok.sum(0)).sqrt().masked_fill(ok.sum(0) == 0, math.nan)
    return rms / seed_noise(y)


def slopes(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per seed, the slope of the line fitted to all points: x, y (P, K) -> (K,). Used in :ref:`ch-hyperparameters`.

    >>> slopes(torch.tensor([[0.0, 0.0], [1.0, 2.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])).tolist()
    [-1.0, 0.5]
    """
    _check(x, y)
    return torch.tensor([line_fit(x[:, k], y[:, k])[1] for k in range(x.shape[1])], dtype=torch.float64)


def point_intervals(v: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per point, the mean over seeds and its 95 % interval: v (P, K) -> 'mean', 'lo', 'hi' (P,) (lo = hi =
    mean for a point measured on one seed; NaN for none).

    >>> point_intervals(torch.tensor([[1.0, 2.0, 3.0]]))["lo"].round(decimals=3).tolist()
    [-0.484]
    """
    rows = [interval(r.tolist()) for r in v]
    mean = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    lo = torch.tensor([r[1] if math.isfinite(r[1]) else r[0] for r in rows], dtype=torch.float64)
    hi = torch.tensor([r[2] if math.isfinite(r[2]) else r[0] for r in rows], dtype=torch.float64)
    return dict(mean=mean, lo=lo, hi=hi)


def figure_points(x: torch.Tensor, y: torch.Tensor, groups: Sequence[set], labels: Sequence[str]) -> dict:
    """What :func:`wedges_lib.plots.draw_overlay` draws of log-valued points x, y (P, K) (those measured on at
    least one seed): per group — each knob for its own points, 'shared' for points in several sweeps — 'x',
    'xlo', 'xhi', 'y', 'ylo', 'yhi' (n,), the seed means and 95 % intervals back in linear units (exp), and
    'labels'; under 'line' the (a, b) of the line fitted to all points' seed means (log y = a + b log x).
    Used in :ref:`ch-hyperparameters`."""
    _check(x, y, groups)
    px, py = point_intervals(x), point_intervals(y)
    out: dict = {}
    for i, g in enumerate(groups):
        if not (math.isfinite(px["mean"][i]) and math.isfinite(py["mean"][i])):
            continue  # no seed measured: nothing to draw
        name = next(iter(g)) if len(g) == 1 else "shared"
        d = out.setdefault(name, {k: [] for k in ("x", "xlo", "xhi", "y", "ylo", "yhi", "labels")})
        for k, src in (("x", px["mean"]), ("xlo", px["lo"]), ("xhi", px["hi"]), ("y", py["mean"]),
                       ("ylo", py["lo"]), ("yhi", py["hi"])):
            d[k].append(math.exp(float(src[i])))
        d["labels"].append(labels[i])
    points = {k: {**{q: torch.tensor(v) for q, v in d.items() if q != "labels"}, "labels": d["labels"]}
              for k, d in out.items()}
    return {**points, "line": line_fit(px["mean"], py["mean"])}
