"""Chapter 01's study: the n-wedge toy model on independent toys, one per seed.

On each toy (:func:`seed_configs`) the chapter's three studies run: descents from random starts, plain and with
gradient noise, the pair of solutions they reach and the escapes from them (:func:`descent_study`); random
hyperplanes at every radius, for opening wedges and constant slabs (:func:`hyperplane_study`); the D = 3 picture of
the author's figure (:func:`slabs_study`). :func:`run` runs them on every toy, :func:`statistics` gives each
declared check's statistic per toy, :func:`judge` the verdicts, :func:`numbers` the prose's numbers. The toy's
building blocks these use are :mod:`wedges_lib.toy` and :mod:`wedges_lib.toy_experiments`.
"""
from __future__ import annotations

import math
from typing import Mapping

import torch

from .. import connect
from ..toy import (
    WedgeModel,
    descend,
    escape_distance,
    hyperplane_success_map,
    intrinsic_dimension,
    line_section,
    make_wedges,
    path_loss,
    random_points,
    wedge_of,
)
from ..toy_experiments import (
    LOW,
    from_config,
    sections,
    short_direction,
    slabs3d,
    two_solutions,
    zero_loss_points,
)
from ..verdicts import Claim, Verdict
from ..verdicts import judge as judge_check


def _worst_ratio(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """max_i x_i / ref_i, with 0 / 0 = 0 (a run that starts at zero loss and stays there)."""
    return torch.where(x == 0, 0.0, x / ref).max()


def escapes(model: WedgeModel, solutions: torch.Tensor, directions: torch.Tensor, n: int = 401) -> torch.Tensor:
    """Escape distances (B, 1 + M) from each solution (B, D), in units of its radius R: along its
    :func:`~wedges_lib.toy_experiments.short_direction` first, then along each of the M random ``directions`` (M,
    D); where the loss first exceeds ``LOW`` R², probed to 2R on n points (``inf`` where it stays below)."""
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
    """Chapter 01's descents on :func:`~wedges_lib.toy_experiments.from_config`'s toy: plain, with gradient noise
    then settling, the lines from the starts, a pair of solutions and the escape distances along random and short
    directions.

    Returns the runs, the two pictures of the pair (:func:`~wedges_lib.toy_experiments.sections`), the
    :func:`escapes` from every plain run's solution and the measured numbers (losses, radii, barriers in units
    of R² = ‖a‖², escape distances in units of the solution's radius, medians over the solutions).
    Used in :ref:`ch-toy-model`.
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
    """Chapter 01's D = 3 picture (:func:`~wedges_lib.toy_experiments.slabs3d`): its zero-loss voxels (the octant
    facing the viewer cut away), two runs from the positive octant ending on different slabs, and the barriers
    (in units of R² = ‖a‖²) on the straight line and through their joint. Used in :ref:`ch-toy-model`."""
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


def seed_configs(cfg: Mapping) -> list[dict]:
    """``n_seeds`` copies of ``cfg`` with seeds ``seed``, ``seed + 1``, ...: one independent toy (wedges, starts,
    directions, hyperplanes) each."""
    return [dict(cfg, seed=cfg["seed"] + i) for i in range(cfg["n_seeds"])]


def run(cfg: Mapping) -> tuple[list[dict], list[dict], list[dict]]:
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


def statistics(runs: list[dict], hypers: list[dict], slabs: list[dict],
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


def numbers(runs: list[dict], hypers: list[dict], slabs: list[dict]) -> dict[str, float]:
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


def judge(claims: Mapping[str, Claim], stats: tuple[dict[str, list[float]], dict[str, int]],
          scale: str) -> dict[str, Verdict]:
    """Chapter 01's checks, each judged on its :func:`statistics` over the toys (``stats``: the values and the
    censored counts) and recorded (:mod:`wedges_lib.verdicts`); the groups and claim C1 follow from the protocol
    (:func:`wedges_lib.protocol.conclude`). Returns name -> verdict. Used in :ref:`ch-toy-model`."""
    values, censored = stats
    return {k: judge_check(c, values[k], scale, unit="toys", censored=censored.get(k, 0)) for k, c in claims.items()}
