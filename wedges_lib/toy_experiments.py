"""The toy's building blocks that several chapters' studies share (:mod:`wedges_lib.toy` is the landscape itself).

The toy of a chapter's ``toy_*`` knobs (:func:`from_config`, the one place a toy is built from a configuration),
pairs of solutions on different wedges and the joint between them, sections through them, the D = 3 picture of the
author's figure, and the toy accounts chapters 04 and 05 show (:func:`pair_study`, :func:`set_study`); chapter
01's own study is :mod:`wedges_lib.studies.ch01_toy`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping

import torch

from . import sets, surfaces
from .toy import (
    WedgeModel,
    _is_int,
    _is_real,
    descend,
    intersection_point,
    loss,
    make_wedges,
    path_loss,
    plane_section,
    random_points,
    short_coords,
    wedge_of,
)
from .validation import check_arg

LOW = 1e-4  # "low loss" on the toy: below LOW * R², R the radius (the loss is a squared distance)


def from_config(cfg: Mapping, **overrides) -> WedgeModel:
    """The toy of a chapter's ``toy_*`` knobs: wedges opening from the hole's edge ``toy_r_min``, drawn from ``seed``.

    ``overrides`` replace :func:`~wedges_lib.toy.make_wedges` arguments (e.g. ``law``). Used in :ref:`ch-toy-model`,
    :ref:`ch-pairs` and :ref:`ch-sets`.
    """
    kw = dict(D=cfg["toy_D"], n_short=cfg["toy_n"], K=cfg["toy_K"], kappa=cfg["toy_kappa"], law=cfg["toy_law"],
              r_min=cfg["toy_r_min"], r_open=cfg["toy_r_min"], basis=cfg["toy_basis"], seed=cfg["seed"])
    kw.update(overrides)
    return make_wedges(kw.pop("D"), kw.pop("n_short"), kw.pop("K"), **kw)


def solution_pair(cfg: Mapping, model: WedgeModel | None = None, radius: float | None = None):
    """Descents from ``toy_runs`` random points at ``radius`` (default ``toy_r0``) on ``model`` (default
    :func:`from_config`): two solutions a, b on different wedges, their joint c, and both runs' paths
    (:func:`two_solutions`). Used in :ref:`ch-toy-model` and :ref:`ch-pairs`."""
    model = from_config(cfg) if model is None else model
    starts = random_points(model, cfg["toy_runs"], cfg["toy_r0"] if radius is None else radius, seed=cfg["seed"])
    return two_solutions(model, starts, lr=cfg["toy_lr"], steps=cfg["toy_steps"])


def plane_coords(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Coordinates (..., 2) of points (..., D) projected on the plane of :func:`~wedges_lib.toy.plane_section`
    through a, b, c."""
    e1, e2 = surfaces.orthonormal_basis(a, b, c)
    rel = points - a
    return torch.stack([rel @ e1, rel @ e2], dim=-1)


def pick_pair(wedges: torch.Tensor) -> tuple[int, int]:
    """Runs (0, j): the first run and the first later one whose wedge (wedges (B,), from
    :func:`~wedges_lib.toy.wedge_of`) differs; j = 1 when every run ended on the same wedge."""
    check_arg("wedges", tuple(wedges.shape), wedges.ndim == 1 and wedges.shape[0] >= 2, "shape (B,) with B >= 2")
    return 0, next((k for k in range(1, len(wedges)) if wedges[k] != wedges[0]), 1)


def joint_point(model: WedgeModel, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The joint c (D,) of a path a -> c -> b between two solutions a, b (D,) that stays inside their wedges:
    the intersection of both wedges at radius max(‖a‖, ‖b‖), in the direction of a + b."""
    i, j = int(wedge_of(model, a)), int(wedge_of(model, b))
    radius = float(torch.maximum(torch.linalg.vector_norm(a), torch.linalg.vector_norm(b)))
    return intersection_point(model, i, j, radius, near=a + b)


def short_direction(model: WedgeModel, theta: torch.Tensor) -> torch.Tensor:
    """Unit vector (D,) along the short part of theta (D,) in its nearest wedge: the way out of the wedge."""
    check_arg("theta", tuple(theta.shape), tuple(theta.shape) == (model.D,), f"shape (D,) = ({model.D},)")
    k = int(wedge_of(model, theta))
    s = short_coords(model, theta)[k]
    if model.basis == "coords":
        v = torch.zeros(model.D, dtype=theta.dtype).index_put_((model.short[k],), s)
    else:
        v = model.short[k].to(theta.dtype).T @ s
    check_arg("theta", "a point on the wedge's long directions", float(torch.linalg.vector_norm(v)) > 0,
           "a point with a non-zero short part")
    return v / torch.linalg.vector_norm(v)


def two_solutions(model: WedgeModel, starts: torch.Tensor, *, lr: float = 0.3,
                  steps: int = 200) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Descend from starts (B, D); keep the first run and the first one ending on another wedge (:func:`pick_pair`).

    Returns their ends a, b (D,), the joint c (D,) of a path a -> c -> b inside the wedges (:func:`joint_point`)
    and both runs' every step, (steps + 1, 2, D), kept from the same :func:`~wedges_lib.toy.descend`.
    """
    run = descend(model, starts, lr=lr, steps=steps, record_every=steps, keep_path=True)
    i, j = pick_pair(wedge_of(model, run.theta))
    a, b = run.theta[i], run.theta[j]
    return a, b, joint_point(model, a, b), run.path[:, [i, j]]


def slabs3d(*, width0: float = 0.15, kappa: float = 0.15, law: str = "linear", r_min: float = 1.0,
            r_open: float = 1.0, hole: float = 1.0) -> WedgeModel:
    """The author's D = 3 picture: three wedges with one short direction each, the x, y and z axes, so each is
    a slab through the origin (the hole cut out) that thickens away from it."""
    base = make_wedges(3, 1, 3, width0=width0, kappa=kappa, law=law, r_min=r_min, r_open=r_open, hole=hole)
    return replace(base, short=torch.eye(3)[:, None, :])


def zero_loss_points(model: WedgeModel, extent: float, n: int = 25) -> torch.Tensor:
    """The points (M, D) of an n-per-axis grid over [-extent, extent]^D that lie in the ball of radius ``extent``
    and have loss exactly 0: the wedges drawn as voxels (D <= 3)."""
    check_arg("D", model.D, model.D <= 3, "<= 3 (a grid in D dimensions has n^D points)")
    check_arg("extent", extent, _is_real(extent) and extent > 0, "a finite float > 0")
    check_arg("n", n, _is_int(n) and n >= 2, "an int >= 2")
    g = torch.linspace(-extent, extent, n)
    pts = torch.cartesian_prod(*[g] * model.D).reshape(-1, model.D)
    return pts[(loss(model, pts) == 0) & (torch.linalg.vector_norm(pts, dim=-1) <= extent)]


def sections(model: WedgeModel, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, paths: torch.Tensor,
             n: int) -> dict:
    """The two pictures of a pair of solutions: the plane through a, b and their joint c, and the plane through
    a's start (``paths[0, 0]``), a and b with both runs (``paths`` (T, 2, D)) projected on it; n points a side.
    A start already on a wedge (far out, where wedges are wide) is its own solution: then the second plane goes
    through the origin, a and b (``from_origin`` is True). Used in :ref:`ch-toy-model`."""
    s0 = paths[0, 0]
    from_origin = bool(torch.linalg.vector_norm(s0 - a) <= 1e-6 * torch.linalg.vector_norm(a))
    if from_origin:
        s0 = torch.zeros_like(a)
    return dict(joint=plane_section(model, a, b, c, n=n), descent=plane_section(model, s0, a, b, n=n),
                runs=plane_coords(s0, a, b, paths), from_origin=from_origin)


def set_study(cfg: Mapping, k: int = 3, n_eval: int = 512) -> dict:
    """Chapter 05's toy account: k descents ending on distinct wedges, a connector trained on the k segments to
    it (``structure_steps`` steps at ``toy_lr``), and the loss at ``n_eval`` points of the naive hull and of the
    segments. Used in :ref:`ch-sets`."""
    model = from_config(cfg)
    ends = descend(model, random_points(model, cfg["toy_runs"], cfg["toy_r0"], seed=cfg["seed"]),
                   lr=cfg["toy_lr"], steps=cfg["toy_steps"]).theta
    wedge = wedge_of(model, ends).tolist()
    pick = [wedge.index(w) for w in dict.fromkeys(wedge)][:k]  # the first runs on distinct wedges
    sols = ends[pick]
    f = lambda th: loss(model, th)  # noqa: E731
    conn = sets.train_connector(f, None, sols, steps=cfg["structure_steps"], lr=cfg["toy_lr"], n_samples=16,
                                seed=cfg["seed"], quiet=True)
    evals = {"naive hull": sets.evaluate_structure(f, None, None, lambda n, s: sets.hull_points(sols, n, s), n_eval),
             "connector": sets.evaluate_structure(f, None, None, conn.sample, n_eval)}
    return dict(model=model, solutions=sols, connector=conn, evals=evals)


def pair_study(cfg: Mapping) -> dict:
    """Chapter 04's toy account: solutions a, c on different wedges and the point b where the wedges meet
    (:func:`solution_pair`); the loss along the straight line a → c and the chain a → b → c (name -> (t, loss),
    equally many points) and on the plane through a, c, b. Used in :ref:`ch-pairs`."""
    model = from_config(cfg)
    a, c, b, _ = solution_pair(cfg, model)
    n = cfg["toy_grid"]
    paths = {"straight a → c": path_loss(model, torch.stack([a, c]), 2 * n - 1),
             "a → b → c (intersection)": path_loss(model, torch.stack([a, b, c]), n)}
    return dict(a=a, b=b, c=c, paths=paths, section=plane_section(model, a, c, b, n=n))
