"""Experiments on the n-wedge toy (:mod:`wedges_lib.toy`) that the book's chapters run and draw.

The landscape itself (construction, loss, descent, sections, hyperplane training) is :mod:`wedges_lib.toy`;
here are the chapter-level pieces built on it: the toy of a chapter's ``toy_*`` knobs (:func:`from_config`,
the one place a toy is built from a configuration), pairs of solutions on different wedges and the joint
between them, the D = 3 picture of the author's figure, and the studies that chapters 01, 04 and 05 show.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Mapping

import torch

from . import connect, sets, surfaces
from .toy import (
    WedgeModel,
    _is_int,
    _is_real,
    descend,
    escape_distance,
    hyperplane_success_map,
    intersection_point,
    intrinsic_dimension,
    line_section,
    loss,
    make_wedges,
    path_loss,
    plane_section,
    random_points,
    short_coords,
    wedge_of,
)
from .validation import check_arg
from .verdicts import Claim, Verdict, judge

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


def _worst_ratio(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """max_i x_i / ref_i, with 0 / 0 = 0 (a run that starts at zero loss and stays there)."""
    return torch.where(x == 0, 0.0, x / ref).max()


def escapes(model: WedgeModel, solutions: torch.Tensor, directions: torch.Tensor, n: int = 401) -> torch.Tensor:
    """Escape distances (B, 1 + M) from each solution (B, D), in units of its radius R: along its
    :func:`short_direction` first, then along each of the M random ``directions`` (M, D); where the loss first
    exceeds ``LOW`` R², probed to 2R on n points (``inf`` where it stays below)."""
    out = []
    for sol in solutions:
        R = float(torch.linalg.vector_norm(sol))
        dirs = torch.cat([short_direction(model, sol)[None], directions])
        out.append(escape_distance(model, sol, dirs, t_max=2 * R, threshold=LOW * R ** 2, n=n) / R)
    return torch.stack(out)


def still_low(escape: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """From :func:`escapes` (B, 1 + M): the fraction of the random directions, over all B solutions, and of the B
    short directions along which the loss is still low at each distance x (T,) (in units of R), each (T,). Used
    in :ref:`ch-toy-model`."""
    low = escape[..., None] > x  # (B, 1 + M, T)
    return {"random directions": low[:, 1:].float().mean((0, 1)), "short directions": low[:, 0].float().mean(0)}


def descent_study(cfg: Mapping) -> dict:
    """Chapter 01's descents on :func:`from_config`'s toy: plain, with gradient noise then settling, the lines
    from the starts, a pair of solutions and the escape distances along random and short directions.

    Returns the runs, the two pictures of the pair (:func:`sections`), the :func:`escapes` from every plain run's
    solution and the measured numbers (losses, radii, barriers in units of R² = ‖a‖², escape distances in units of
    the solution's radius, medians over the solutions). Used in :ref:`ch-toy-model`.
    """
    model = from_config(cfg)
    starts = random_points(model, cfg["toy_runs"], cfg["toy_r0"], seed=cfg["seed"])
    long_run = cfg["toy_steps"] * 3 // 2  # as long as noisy + settling
    plain = descend(model, starts, lr=cfg["toy_lr"], steps=long_run)
    noisy = descend(model, starts, noise=cfg["toy_noise"], seed=cfg["seed"], lr=cfg["toy_lr"], steps=cfg["toy_steps"])
    settled = descend(model, noisy.theta, lr=cfg["toy_lr"], steps=long_run - cfg["toy_steps"])
    grid = cfg["toy_grid"]
    init_lines = torch.stack([line_section(model, s, e, grid)[1] for s, e in zip(starts, plain.theta)])
    a, b, c, paths = two_solutions(model, starts, lr=cfg["toy_lr"], steps=cfg["toy_steps"])
    R = float(a.norm())
    t_line, line = line_section(model, a, b, 2 * grid)  # and a -> c -> b, equally many points
    via = torch.cat([line_section(model, p, q, grid)[1] for p, q in ((a, c), (c, b))])
    escape = escapes(model, plain.theta, random_points(model, cfg["toy_dirs"], 1.0, seed=cfg["seed"] + 1))
    L, radius = plain.history["loss"], plain.history["radius"]
    R_end = settled.history["radius"][-1]
    num = dict(
        toy_init_loss=L[0].median(), toy_final_loss=L[-1].max(), toy_drawn_ratio=_worst_ratio(L[-1], L[0]),
        toy_wedges_reached=len(set(wedge_of(model, plain.theta).tolist())),
        toy_plain_growth=100 * ((radius[-1] / radius[0]).max() - 1), toy_noisy_ratio=(R_end / radius[0]).min(),
        toy_settled_loss=settled.history["loss"][-1].max(),
        toy_settled_ratio=_worst_ratio(settled.history["loss"][-1], L[0]),
        toy_line_barrier=connect.barrier_height(line) / R ** 2, toy_via_barrier=connect.barrier_height(via) / R ** 2,
        toy_max_rise=connect.max_rise(init_lines).max(),
        toy_rise_ratio=_worst_ratio(connect.max_rise(init_lines), init_lines[:, 0]),
        toy_long_median=escape[:, 1:].median().clamp_max(2), toy_short_escape=escape[:, 0].median())
    return dict(model=model, starts=starts, plain=plain, noisy=noisy, settled=settled, init_lines=init_lines,
                a=a, b=b, c=c, paths=paths, t_line=t_line, line=line, via=via, escape=escape,
                sections=sections(model, a, b, c, paths, grid),
                numbers={k: float(v) for k, v in num.items()})


def hyperplane_study(cfg: Mapping) -> dict:
    """Chapter 01's random hyperplanes: success maps over (``plane_dims``, ``plane_radii``) for wedges opening
    with ``plane_kappa`` and for constant slabs of width ``plane_width0``, their d₅₀ and the success gained from
    the smallest to the largest radius. Used in :ref:`ch-toy-model`."""
    common = dict(law=cfg["toy_law"], r_min=cfg["toy_r_min"], basis=cfg["toy_basis"], seed=cfg["seed"])
    variants = {f"opening, κ = {cfg['plane_kappa']:g}": dict(kappa=cfg["plane_kappa"], r_open=cfg["toy_r_min"]),
                "constant, κ = 0": dict(width0=cfg["plane_width0"], kappa=0.0)}
    maps = {}
    for name, kw in variants.items():
        m = make_wedges(cfg["plane_D"], cfg["plane_n"], cfg["plane_K"], **kw, **common)
        maps[name] = hyperplane_success_map(m, cfg["plane_dims"], cfg["plane_radii"], seeds=cfg["plane_seeds"],
                                            steps=cfg["plane_steps"], seed=cfg["seed"])
    d50 = {k: intrinsic_dimension(s, cfg["plane_dims"]) for k, s in maps.items()}
    gain = {k: float(s[:, -1].mean() - s[:, 0].mean()) for k, s in maps.items()}
    return dict(maps=maps, d50=d50, gain=gain)


def slabs_study(cfg: Mapping) -> dict:
    """Chapter 01's D = 3 picture (:func:`slabs3d`): its zero-loss voxels (the octant facing the viewer cut
    away), two runs from the positive octant ending on different slabs, and the barriers (in units of R² = ‖a‖²)
    on the straight line and through their joint. Used in :ref:`ch-toy-model`."""
    slabs = slabs3d()
    low = zero_loss_points(slabs, 2 * cfg["toy_r0"])
    low = low[(low <= 0).any(dim=1)]
    octant = random_points(slabs, cfg["toy_runs"], cfg["toy_r0"], seed=cfg["seed"]).abs()  # c between a and b
    a, b, c, paths = two_solutions(slabs, octant, lr=cfg["toy_lr"], steps=cfg["toy_steps"])
    line, via = (float(connect.barrier_height(path_loss(slabs, torch.stack(p), cfg["toy_grid"])[1]) / a.norm() ** 2)
                 for p in ([a, b], [a, c, b]))  # in units of R² = ‖a‖²
    return dict(model=slabs, low=low, a=a, b=b, c=c, paths=paths, line_barrier=line, via_barrier=via,
                wedges=(int(wedge_of(slabs, a)), int(wedge_of(slabs, b))),
                hole_empty=bool((low.norm(dim=-1) >= slabs.r_min).all()))


def set_study(cfg: Mapping, k: int = 3, n_eval: int = 512) -> dict:
    """Chapter 05's toy account: k descents ending on distinct wedges, a connector trained on the k segments to
    it (``connector_steps`` steps at ``toy_lr``), and the loss at ``n_eval`` points of the naive hull and of the
    segments. Used in :ref:`ch-sets`."""
    model = from_config(cfg)
    ends = descend(model, random_points(model, cfg["toy_runs"], cfg["toy_r0"], seed=cfg["seed"]),
                   lr=cfg["toy_lr"], steps=cfg["toy_steps"]).theta
    wedge = wedge_of(model, ends).tolist()
    pick = [wedge.index(w) for w in dict.fromkeys(wedge)][:k]  # the first runs on distinct wedges
    sols = ends[pick]
    f = lambda th: loss(model, th)  # noqa: E731
    conn = sets.train_connector(f, None, sols, steps=cfg["connector_steps"], lr=cfg["toy_lr"], n_samples=16,
                                seed=cfg["seed"], quiet=True)
    evals = {"naive hull": sets.evaluate_structure(f, None, None, lambda n, s: sets.hull_points(sols, n, s), n_eval),
             "connector": sets.evaluate_structure(f, None, None, conn.sample, n_eval)}
    return dict(model=model, solutions=sols, connector=conn, evals=evals)


def seed_configs(cfg: Mapping) -> list[dict]:
    """``n_seeds`` copies of ``cfg`` with seeds ``seed``, ``seed + 1``, ...: one independent toy (wedges, starts,
    directions, hyperplanes) each."""
    return [dict(cfg, seed=cfg["seed"] + i) for i in range(cfg["n_seeds"])]


def seed_studies(cfg: Mapping) -> tuple[list[dict], list[dict], list[dict]]:
    """Chapter 01's three studies (:func:`descent_study`, :func:`hyperplane_study`, :func:`slabs_study`) on each of
    :func:`seed_configs`' independent toys: three lists of ``n_seeds`` results. Used in :ref:`ch-toy-model`."""
    toys = seed_configs(cfg)
    return ([descent_study(c) for c in toys], [hyperplane_study(c) for c in toys], [slabs_study(c) for c in toys])


def hyperplane_summary(hypers: list[dict]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Over several :func:`hyperplane_study` results, per variant: the mean success map (len(dims), len(radii)) and
    every study's d₅₀ side by side, (len(radii), studies). Used in :ref:`ch-toy-model`."""
    maps = {k: torch.stack([h["maps"][k] for h in hypers]).mean(0) for k in hypers[0]["maps"]}
    return maps, {k: torch.stack([h["d50"][k] for h in hypers], 1) for k in maps}


def _log10(x: float) -> float:
    return math.log10(max(x, 1e-30))  # a zero barrier counts as -30, far below any threshold


def _ratio(x: float, y: float) -> float:
    return x / max(y, 1e-30)


def toy_statistics(runs: list[dict], hypers: list[dict], slabs: list[dict],
                   largest_d: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Each of chapter 01's checks' statistic (the protocol's ``01_toy_model`` section), once per independent
    toy: name -> (n_seeds,) values, from the studies of :func:`seed_configs`' toys (:func:`descent_study`,
    :func:`hyperplane_study`, :func:`slabs_study`); and how many values per check are censored bounds: a d₅₀
    never reached enters as ``largest_d``, the largest dimension tried. Used in :ref:`ch-toy-model`."""
    out: dict[str, list[float]] = {}
    censored = {"toy_hyperplane_d50": 0}
    for run, hyper, slab in zip(runs, hypers, slabs, strict=True):
        n, (o, f) = run["numbers"], hyper["maps"]
        d50 = hyper["d50"][o]
        censored["toy_hyperplane_d50"] += int(d50[[0, -1]].isnan().any())
        d50 = d50.nan_to_num(largest_d)
        values = dict(
            toy_drawn_loss=n["toy_drawn_ratio"], toy_drawn_wedges=n["toy_wedges_reached"],
            toy_outward_radius=n["toy_noisy_ratio"], toy_outward_loss=n["toy_settled_ratio"],
            toy_connect_line=_log10(n["toy_line_barrier"]),
            toy_connect_via=_ratio(n["toy_via_barrier"], n["toy_line_barrier"]),
            toy_monotonic=n["toy_rise_ratio"], toy_long_random=_log10(n["toy_long_median"]),
            toy_long_short=_ratio(n["toy_short_escape"], n["toy_long_median"]),
            toy_hyperplane_gain=hyper["gain"][o], toy_hyperplane_d50=float(d50[-1] / d50[0]),
            toy_hyperplane_flat=abs(hyper["gain"][f]), toy_slabs_line=_log10(slab["line_barrier"]),
            toy_slabs_via=_ratio(slab["via_barrier"], slab["line_barrier"]))
        for k, v in values.items():
            out.setdefault(k, []).append(float(v))
    return out, censored


def toy_numbers(runs: list[dict], hypers: list[dict], slabs: list[dict]) -> dict[str, float]:
    """The descriptive numbers chapter 01 reports beside its verdicts, each the mean over the independent toys
    (NaNs left out): :func:`descent_study`'s numbers, the slabs' barriers, and per hyperplane variant its success
    gain and d₅₀ at the smallest and largest radius. Used in :ref:`ch-toy-model`."""
    rows = []
    for run, hyper, slab in zip(runs, hypers, slabs, strict=True):
        (o, f), gain, d50 = hyper["maps"], hyper["gain"], hyper["d50"]
        row = dict(run["numbers"], plane_gain_open=gain[o], plane_gain_flat=gain[f],
                   slab_line_barrier=slab["line_barrier"], slab_via_barrier=slab["via_barrier"])
        for v, name in (("open", o), ("flat", f)):
            for end, i in (("first", 0), ("last", -1)):
                row[f"plane_d50_{v}_{end}"] = float(d50[name][i])
        rows.append(row)
    return {k: float(torch.tensor([r[k] for r in rows]).nanmean()) for k in rows[0]}


def judge_toy(claims: Mapping[str, Claim], runs: list[dict], hypers: list[dict], slabs: list[dict],
              scale: str, largest_d: int) -> dict[str, Verdict]:
    """Chapter 01's checks, each judged on its :func:`toy_statistics` over the toys (censored d₅₀ counted) and
    recorded (:mod:`wedges_lib.verdicts`); the groups and claim C1 follow from the protocol
    (:func:`wedges_lib.protocol.conclude`). Returns name -> verdict. Used in :ref:`ch-toy-model`."""
    stats, censored = toy_statistics(runs, hypers, slabs, largest_d)
    return {k: judge(c, stats[k], scale, unit="toys", censored=censored.get(k, 0)) for k, c in claims.items()}


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
