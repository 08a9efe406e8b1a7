"""Appendix 92's study: your model, your checkpoints, your data and loss as a report, through
:class:`wedges_lib.landscape.Landscape`.

The inputs ``own_model`` (an import path to a factory, with ``own_model_kwargs``), ``checkpoints`` (state-dict
files, in order), ``own_data``, ``objective``, ``bn`` and ``device`` are built, loaded and checked together before
anything runs (:func:`check_inputs`, :mod:`wedges_lib.inputs`; the command line calls it too).

Without checkpoints the study makes its own: two short runs of the model from two seeds (by default torchvision's
ResNet-18, with BatchNorm, on CIFAR-shaped random images: each class a smooth random prototype image, each example
its prototype plus noise), trained in one vmapped pass; run a's snapshots are the series. The study's shape:
:func:`check_inputs` -> :func:`checkpoints` (the series, the pair, the plane's anchors) -> one function per section
(:func:`curvature_along`, :func:`distances`, :func:`planes`, :func:`paths`) -> :func:`numbers` -> :func:`figures`
and :func:`tables`.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from math import nan
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import vmap
from torch.optim.swa_utils import update_bn

from .. import align, cache, connect, curvature, operators, optimize, params, plots, surfaces, verdicts
from ..batchnorm import bn_modules, check_policy
from ..config import Config, pick_device
from ..data import Dataset
from ..inputs import build, check_fit, load_checkpoint, load_data, objective_of, resolve
from ..landscape import Landscape, loss_at_distances, pca_plane, plane_through_points, sharpness
from ..objectives import CROSS_ENTROPY, Objective, prediction, split
from ..validation import check_arg


@dataclass
class Inputs:
    """The checked inputs on ``device``: ``model`` (holding the last checkpoint), ``data``, ``objective``, ``factory``,
    the checkpoints ``thetas`` (K, D) and ``names`` (None and [] without any), ``described`` (the model in words)."""

    model: nn.Module
    data: Dataset
    objective: Objective
    factory: Callable
    thetas: Tensor | None
    names: list[str]
    described: str
    device: torch.device


def check_inputs(cfg: Config) -> Inputs:
    """Every input of the report built, loaded and checked together, before anything runs: the model from
    own_model and own_model_kwargs, each checkpoint against it, the data against the model (a forward pass), the
    objective against the output (labels within its classes, a finite loss), the BatchNorm policy, the sizes.

    Used in :ref:`ch-your-model`.
    """
    device = pick_device(cfg.device)
    factory = resolve("own_model", cfg.own_model)
    check_arg("own_model", cfg.own_model, callable(factory), "an import path to a callable, e.g. mypkg.nets:Net")
    model = build(factory, cfg.own_model_kwargs, cfg.seed)
    args = ", ".join(f"{k}={v!r}" for k, v in cfg.own_model_kwargs.items())
    described = f"{cfg.own_model}({args})"
    check_policy(model, cfg.bn)
    data = load_data(cfg.own_data, cfg.own_n_train, cfg.own_n_test, cfg.seed)
    n = cfg.own_curv_n * cfg.own_repeats
    check_arg("own_curv_n", cfg.own_curv_n, n <= len(data.y_train), f"own_curv_n x own_repeats <= the "
              f"{len(data.y_train)} training examples (the repeats are disjoint batches)")
    objective = objective_of(cfg.objective)
    check_fit(model, data, objective, described, cfg.own_data, cfg.objective)
    thetas = [load_checkpoint(model, p, described) for p in cfg.checkpoints]
    names = [Path(p).stem if [Path(q).stem for q in cfg.checkpoints].count(Path(p).stem) == 1 else
             f"{Path(p).parent.name}/{Path(p).stem}" for p in cfg.checkpoints]
    return Inputs(model.to(device), data.to(device), objective, factory,
                  torch.stack(thetas).to(device) if thetas else None, names, described, device)


# --- the checkpoints: the user's, or two short runs trained here ------------------------------------------------


def two_runs(cfg: Config, model: nn.Module, data: Dataset, objective: Objective, theta0: Tensor):
    """Two runs from theta0 (2, D) trained in one vmapped pass (SGD, momentum 0.9, cosine schedule, minibatch order
    from seeds cfg.seed and cfg.seed + 1) with batch statistics (nothing stored): run a's snapshots (S, D), about
    cfg.own_snapshots of them, their steps (S,), and both ends (2, D)."""
    x, y = data.x_train.to(theta0.device), data.y_train.to(theta0.device)
    land = Landscape(model, [(data.x_test, data.y_test)], objective=objective, bn=cfg.bn)
    per_member = vmap(lambda th, idx: land.minibatch_loss(th, (x[idx], y[idx])))
    run = optimize.minimize(theta0, per_member, n=len(y), seeds=[cfg.seed, cfg.seed + 1], lr=cfg.own_lr, momentum=0.9,
                            schedule="cosine", batch_size=cfg.own_batch, steps=cfg.own_steps, explode=None,
                            record_every=max(1, cfg.own_steps // (cfg.own_snapshots - 1)), keep_trajectory=True,
                            quiet=True, desc="demonstration runs")
    return run.trajectory[:, 0].to(theta0.device), run.history["step"], run.p.detach()


@dataclass
class Series:
    """The checkpoints the report reads: ``thetas`` (K, D) in order with ``names``; ``pair`` (2, D) and
    ``pair_names`` for the line and curve (None with one checkpoint); ``anchors`` (m, D), m <= 3, for the plane
    through checkpoints, with ``anchor_names``."""

    thetas: Tensor
    names: list[str]
    pair: Tensor | None
    pair_names: list[str]
    anchors: Tensor
    anchor_names: list[str]


def checkpoints(cfg: Config, inputs: Inputs) -> Series:
    """The user's checkpoints (the pair: the first and the last; the anchors: those and the middle one), or,
    without any, two short runs from seeds cfg.seed and cfg.seed + 1 (cached): the series is run a's snapshots,
    the pair the two runs' ends, the anchors those and a's start.

    Used in :ref:`ch-your-model`.
    """
    if inputs.thetas is not None:
        th, nm = inputs.thetas, inputs.names
        K = len(th)
        pair = th[[0, -1]] if K >= 2 else None
        idx = [0, K - 1, K // 2] if K >= 3 else list(range(K))
        return Series(th, nm, pair, [nm[0], nm[-1]] if K >= 2 else [], th[idx], [nm[i] for i in idx])
    theta0 = params.stack([params.flatten(build(inputs.factory, cfg.own_model_kwargs, s))
                           for s in (cfg.seed, cfg.seed + 1)]).to(inputs.device)
    path, steps, ends = cache.cached("own-runs", cfg, two_runs, model=inputs.model, data=inputs.data,
                                     objective=inputs.objective, theta0=theta0)
    names = [f"a@{int(s)}" for s in steps]
    return Series(path, names, ends, ["a", "c"], torch.stack([ends[0], ends[1], path[0]]), ["a", "c", "a@0"])


# --- sections of the report ---------------------------------------------------------------------------------


def landscapes(cfg: Config, inputs: Inputs) -> tuple[Landscape, list]:
    """The held-out landscape (planes, lines, distances; BatchNorm per ``cfg.bn``, re-estimated on the first
    cfg.own_bn_batches training batches) and the cfg.own_repeats disjoint training batches of cfg.own_curv_n
    examples the curvature and the sharpness are measured on.

    Used in :ref:`ch-your-model`.
    """
    d = inputs.data
    bn_batches = split(d.x_train, d.y_train, size=cfg.own_batch)[:cfg.own_bn_batches]
    land = Landscape(inputs.model, [(d.x_test, d.y_test)], objective=inputs.objective, bn=cfg.bn,
                     bn_batches=bn_batches)
    n = cfg.own_curv_n
    return land, [(d.x_train[r * n:(r + 1) * n], d.y_train[r * n:(r + 1) * n]) for r in range(cfg.own_repeats)]


def measured(series: Series, n: int) -> list[int]:
    """The indices of the n checkpoints measured (0 or n >= K: all), spread over the series, the last among them.

    Used in :ref:`ch-your-model`.
    """
    K = len(series.thetas)
    if n == 0 or n >= K:
        return list(range(K))
    return sorted({round(K - 1 - i * (K - 1) / max(n - 1, 1)) for i in range(n)}) if n > 1 else [K - 1]


def curvature_along(cfg: Config, inputs: Inputs, land: Landscape, batches: list, series: Series) -> dict:
    """At each measured checkpoint (:func:`measured`, cfg.own_measured of them: K'), on every one of the R batches
    (their own probes, start and seed): the Hessian's and the GGN's top-k eigenvalues (K', R, k) (Lanczos, tolerance
    1e-2), their traces per layer (K', R, L) (Hutchinson, cfg.own_probes probes shared by the layers) and
    ε-sharpness (K', R) (Keskar et al., ε = cfg.own_eps, cfg.own_ascent_steps projected ascent steps). One schedule:
    the same batches, probes and starts at every checkpoint. 'unconverged' counts Lanczos runs that hit
    cfg.own_lanczos; 'names' are the measured checkpoints'.

    Used in :ref:`ch-your-model`.
    """
    at = measured(series, cfg.own_measured)
    thetas = series.thetas[at]
    blocks = operators.layer_blocks(inputs.model)
    iters = min(cfg.own_lanczos, thetas.shape[1])
    out = {k: [] for k in ("H_top", "GGN_top", "H_layers", "GGN_layers", "sharpness", "loss")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for theta in thetas:
            rows = {k: [] for k in out}
            for r, batch in enumerate(batches):
                curv = Landscape(inputs.model, [batch], objective=inputs.objective, bn=cfg.bn,
                                 bn_batches=land.bn_batches)
                fns = {"H": curv.loss_fn(theta), "GGN": operators.ggn_loss(curv, theta)}
                for k, f in fns.items():
                    rows[f"{k}_top"].append(curvature.top_eigenvalues(f, theta, k=cfg.own_topk, max_iter=iters,
                                                                      tol=1e-2, seed=cfg.seed + r)[0].cpu())
                    est = operators.block_traces(f, theta, blocks, n_probes=cfg.own_probes, seed=cfg.seed + r)
                    rows[f"{k}_layers"].append(torch.tensor([e.value for e in est.values()]))
                s = sharpness(fns["H"], theta, eps=cfg.own_eps, steps=cfg.own_ascent_steps, seed=cfg.seed + r)
                rows["sharpness"].append(torch.tensor(s.value))
                rows["loss"].append(torch.tensor(s.loss))
            for k, v in rows.items():
                out[k].append(torch.stack(v))
    res = {k: torch.stack(v).double() for k, v in out.items()}
    res["H_trace"], res["GGN_trace"] = res["H_layers"].sum(-1), res["GGN_layers"].sum(-1)
    res["layers"], res["names"] = list(blocks), [series.names[i] for i in at]
    res["unconverged"] = sum("Lanczos stopped" in str(w.message) for w in caught)
    return res


def distances(cfg: Config, land: Landscape, series: Series) -> dict:
    """The held-out loss at each measured checkpoint (:func:`measured`: K') and its rise at theta + ρ ‖theta‖ d
    along cfg.own_repeats random unit directions d for each ρ of cfg.own_rhos: 'loss' (K',), 'rise' (K', P, R),
    'names' and 'index' of the measured checkpoints.

    Used in :ref:`ch-your-model`.
    """
    at = measured(series, cfg.own_measured)
    base = land(series.thetas[at])
    rise = torch.stack([loss_at_distances(land, th, cfg.own_rhos, n=cfg.own_repeats, seed=cfg.seed) - b
                        for th, b in zip(series.thetas[at], base)])
    return {"loss": base.cpu().double(), "rise": rise.cpu().double(), "rhos": list(cfg.own_rhos),
            "names": [series.names[i] for i in at], "index": at}


def planes(cfg: Config, land: Landscape, series: Series) -> dict:
    """A filter-normalised random plane around the last checkpoint, the plane through the anchors (up to three
    checkpoints) and, with three or more checkpoints, the series' PCA plane (:func:`wedges_lib.landscape.pca_plane`:
    each checkpoint's distance from it, its true loss and the loss at its projection).

    Used in :ref:`ch-your-model`.
    """
    out = {"random": surfaces.random_plane(land, series.thetas[-1], n=cfg.own_grid, lay=land.lay, seed=cfg.seed),
           "through": plane_through_points(land, series.anchors, land.lay, n=cfg.own_grid, seed=cfg.seed)}
    if len(series.thetas) >= 3:
        out["pca"] = pca_plane(land, series.thetas, n=cfg.own_grid)
    return out


def _bezier(cfg: Config, model: nn.Module, data: Dataset, objective: Objective, a: Tensor, c: Tensor) -> Tensor:
    land = Landscape(model, [(data.x_test, data.y_test)], objective=objective, bn=cfg.bn)
    fit = connect.train_curve(land.xy_loss(), a, c, kind="bezier", data=data, n_t=1, quiet=True, seed=cfg.seed,
                              steps=cfg.own_curve_steps, lr=cfg.own_lr, batch_size=cfg.own_batch)
    return fit.b


def aligned(model: nn.Module, land: Landscape, a: Tensor, c: Tensor) -> tuple[Tensor | None, str, float]:
    """c (D,) permuted to match a (D,) by weight matching (Ainsworth et al.), or None where :mod:`wedges_lib.align`
    cannot permute the model (why, in words); and the functional check: the largest absolute output change of the
    permuted network on the held-out batches, relative to the outputs' largest magnitude (nan when skipped)."""
    try:
        align.spec(model)
    except ValueError as e:
        return None, f"not aligned: weight matching does not support this model ({str(e).split('expected ')[-1]})", nan
    c2 = align.weight_matching(model, a, c)
    with torch.no_grad():
        outs = [[prediction(land.output(t, b, land.fixed_statistics(t))) for b in land.batches] for t in (c, c2)]
    diff = max(float((o - p).abs().max()) for o, p in zip(*outs))
    scale = max(float(o.abs().max()) for o in outs[0])
    return c2, "aligned by weight matching", diff / max(scale, 1e-30)


def paths(cfg: Config, inputs: Inputs, land: Landscape, pair: Tensor) -> dict:
    """Between the pair (2, D): the line and a fitted Bezier curve (cached) with BatchNorm per cfg.bn, the line with
    batch statistics (a BatchNorm model), and after weight matching (where the model allows it) the same two again;
    'profiles' name -> {'t', 'loss'}, 'aligned' the permuted end or None, 'how', 'same_function' the relative
    output change of the permuted network, 'checked' name -> (control points, profile) for :func:`checked_points`.

    Used in :ref:`ch-your-model`.
    """
    a, c = pair
    c2, how, rel = aligned(inputs.model, land, a, c)
    ends = {"": c} if c2 is None else {"": c, "aligned ": c2}
    prof, ctrl = {}, {}
    for tag, end in ends.items():
        bend = cache.cached("own-bezier", cfg, _bezier, model=inputs.model, data=inputs.data,
                            objective=inputs.objective, a=a, c=end)
        ctrl[f"{tag}line"], ctrl[f"{tag}Bezier"] = torch.stack([a, end]), torch.stack([a, bend, end])
    for name, points in ctrl.items():
        prof[name] = connect.profile(land, points, cfg.own_points, kind="bezier")
    if bn_modules(inputs.model):
        batch_land = Landscape(inputs.model, land.batches, objective=inputs.objective, bn="train")
        prof["line, batch statistics"] = surfaces.line(batch_land, a, c, cfg.own_points)
    return {"profiles": prof, "aligned": c2, "how": how, "same_function": rel,
            "checked": {k: (ctrl[k], prof[k]) for k in ctrl}}


def update_bn_losses(model: nn.Module, thetas: Tensor, batches: list, bn_batches: list,
                     objective: Objective = CROSS_ENTROPY, bn: str = "recompute") -> Tensor:
    """The reference (K,): for each theta (K, D), a plain PyTorch copy of ``model`` loaded with it, its mean loss
    on ``batches`` under ``bn``: ``swa_utils.update_bn`` on ``bn_batches``, then eval mode ('recompute'); eval mode
    ('eval'); train mode ('train').

    Used in :ref:`ch-your-model`.
    """
    n = sum(len(b[1]) for b in batches)
    out = []
    for theta in thetas:
        m = params.load_into(copy.deepcopy(model), theta)
        if bn == "recompute":
            update_bn(bn_batches, m)
        m.train(bn == "train")
        with torch.no_grad():
            out.append(sum(len(b[1]) / n * objective.loss(m(b[0]), b) for b in batches))
    return torch.stack(out)


def bn_agreement(land: Landscape, points: Tensor, losses: Tensor) -> tuple[list[float], float]:
    """Wedges' losses (P,) at points (P, D) against plain PyTorch under the same BatchNorm policy
    (:func:`update_bn_losses` on ``land``'s batches): per point ``|Wedges - PyTorch| / (1e-4 (1 + |PyTorch|))``,
    and the largest absolute difference.

    Used in :ref:`ch-your-model`.
    """
    ref = update_bn_losses(land.model, points, land.batches, land.bn_batches, land.objective, land.bn or "eval")
    ours = losses.to(ref)
    return ((ours - ref).abs() / (1e-4 * (1 + ref.abs()))).tolist(), float((ours - ref).abs().max())


def checked_points(series: Series, dist: dict, pth: dict | None) -> tuple[Tensor, Tensor]:
    """The points the BatchNorm check compares at, (P, D), with Wedges' losses there (P,): the measured checkpoints
    and, with a pair, every point of the line and the Bezier curve (before and after alignment).

    Used in :ref:`ch-your-model`.
    """
    pts, losses = [series.thetas[dist["index"]]], [dist["loss"]]
    for ctrl, prof in (pth or {}).get("checked", {}).values():
        pts.append(connect.curve_points(ctrl, prof["t"], kind="bezier"))
        losses.append(prof["loss"].cpu().double())
    return torch.cat(pts), torch.cat(losses)


# --- what the report records and shows --------------------------------------------------------------------------


def _iv(values) -> str:
    return verdicts.interval_text(torch.as_tensor(values).reshape(-1).tolist())


def numbers(series: Series, curv: dict, dist: dict, pl: dict, pth: dict | None) -> dict:
    """The plain numbers the report states (means with their 95 % intervals as text), by the name they are
    recorded under.

    Used in :ref:`ch-your-model`.
    """
    last = -1
    out = {"own_D": series.thetas.shape[1], "own_K": len(series.thetas), "own_blocks": len(curv["layers"]),
           "own_unconverged": curv["unconverged"], "own_eps_sharpness": _iv(curv["sharpness"][last]),
           "own_hessian_top": _iv(curv["H_top"][last, :, 0]), "own_ggn_top": _iv(curv["GGN_top"][last, :, 0]),
           "own_hessian_trace": _iv(curv["H_trace"][last]), "own_ggn_trace": _iv(curv["GGN_trace"][last]),
           "own_rise_far": _iv(dist["rise"][last, -1])}
    for i, name in enumerate(curv["names"]):  # one entry per measured checkpoint, its name as a word
        out["own_sharpness_" + "".join(c if c.isalnum() else "_" for c in name)] = curv["sharpness"][i].tolist()
    if "pca" in pl:
        p = pl["pca"]
        out |= {"own_pca_explained": float(p["explained"].sum()), "own_off_plane": p["off_plane"].tolist(),
                "own_off_plane_relative": p["relative"].tolist(), "own_true_loss": p["true"].tolist(),
                "own_projected_loss": p["projected"].tolist(),
                "own_worst_gap": float((p["true"] - p["projected"]).abs().max())}
    if pth is not None:
        prof = pth["profiles"]
        out |= {"own_line_barrier": float(connect.barrier_height(prof["line"]["loss"])),
                "own_curve_barrier": float(connect.barrier_height(prof["Bezier"]["loss"])),
                "own_alignment": pth["how"]}
        if pth["aligned"] is not None:
            out |= {"own_aligned_barrier": float(connect.barrier_height(prof["aligned line"]["loss"])),
                    "own_aligned_curve_barrier": float(connect.barrier_height(prof["aligned Bezier"]["loss"])),
                    "own_same_function": pth["same_function"]}
        if "line, batch statistics" in prof:
            out["own_batch_barrier"] = float(connect.barrier_height(prof["line, batch statistics"]["loss"]))
    return out


def tables(which: str, series: Series, curv: dict | None = None, pl: dict | None = None):
    """The report's tables (pandas): 'curvature' (each checkpoint's top eigenvalues, traces, ε-sharpness and loss,
    means with 95 % intervals over the batches) or 'pca' (each checkpoint's coordinates, distance from the PCA plane,
    true loss and the plane's loss at its projection).

    Used in :ref:`ch-your-model`.
    """
    import pandas as pd

    if which == "curvature":
        cols = {"λ_max(H)": curv["H_top"][..., 0], "λ_max(GGN)": curv["GGN_top"][..., 0], "Tr(H)": curv["H_trace"],
                "Tr(GGN)": curv["GGN_trace"], "ε-sharpness (%)": curv["sharpness"], "loss": curv["loss"]}
        return pd.DataFrame({k: [_iv(row) for row in v] for k, v in cols.items()},
                            index=pd.Index(curv["names"], name="checkpoint"))
    check_arg("which", which, which == "pca", "'curvature' or 'pca'")
    p = pl["pca"]
    return pd.DataFrame({"x": p["coords"][:, 0].numpy(), "y": p["coords"][:, 1].numpy(),
                         "distance from the plane": p["off_plane"].numpy(),
                         "... over distance to the last": p["relative"].numpy(),
                         "true loss": p["true"].numpy(), "loss on the plane": p["projected"].numpy()},
                        index=pd.Index(series.names, name="checkpoint")).round(4)


def _errorbars(ax, x, values: dict[str, Tensor], *, xlabel: str, ylabel: str, title: str, logx: bool = False):
    """Means with 95 % intervals over the last axis of each (P, R) entry, against x (P,)."""
    for (name, v), colour in zip(values.items(), plots.PALETTE * 4):
        iv = np.array([verdicts.interval(row.tolist())[:3] for row in v])
        ax.errorbar(x, iv[:, 0], yerr=[iv[:, 0] - iv[:, 1], iv[:, 2] - iv[:, 0]], color=colour, marker="o",
                    ms=3, capsize=2, label=name)
    ax.set_xscale("log" if logx else "linear")
    ax.legend() if len(values) > 1 else None
    plots.label(ax, xlabel, ylabel, title)


def figures(which: str, series: Series, result: dict):
    """The report's figures: 'curvature' (top eigenvalues, traces and ε-sharpness along the checkpoints, traces per
    layer at the last; ``result`` from :func:`curvature_along`), 'distances' (:func:`distances`), 'planes'
    (:func:`planes`) or 'paths' (:func:`paths`); returns the figure.

    Used in :ref:`ch-your-model`.
    """
    check_arg("which", which, which in ("curvature", "distances", "planes", "paths"), "a section's name")
    if which == "curvature":
        k = range(len(result["names"]))
        fig, ax = plots.figure(2, 2, width=4.2, height=3.0)
        _errorbars(ax[0, 0], k, {"Hessian": result["H_top"][..., 0], "GGN": result["GGN_top"][..., 0]},
                   xlabel="checkpoint", ylabel="top eigenvalue", title="λ_max along the checkpoints")
        _errorbars(ax[0, 1], k, {"Hessian": result["H_trace"], "GGN": result["GGN_trace"]}, xlabel="checkpoint",
                   ylabel="trace", title="trace along the checkpoints")
        _errorbars(ax[1, 0], k, {"ε-sharpness": result["sharpness"]}, xlabel="checkpoint",
                   ylabel="ε-sharpness (%)", title="Keskar's sharpness along the checkpoints")
        _errorbars(ax[1, 1], range(len(result["layers"])), {"Hessian": result["H_layers"][-1].T,
                   "GGN": result["GGN_layers"][-1].T}, xlabel="layer (input → output)", ylabel="trace of its block",
                   title=f"curvature per layer at {result['names'][-1]}")
        for a in ax[:, 0].tolist() + [ax[0, 1]]:
            a.set_xticks(list(k), result["names"], rotation=30, fontsize=7)
        return fig
    if which == "distances":
        fig, ax = plots.figure(1, 1, width=4.6, height=3.2)
        _errorbars(ax[0, 0], result["rhos"], {n: result["rise"][i] for i, n in enumerate(result["names"])},
                   xlabel="distance ρ (fraction of ‖θ‖)", ylabel="held-out loss rise", logx=True,
                   title="loss rise along random directions")
        return fig
    if which == "planes":
        fig, ax = plots.figure(len(result), 1, width=4.0, height=3.2)
        r, t = result["random"], result["through"]
        plots.contour(ax[0, 0], r["xs"], r["ys"], r["loss"], points={series.names[-1]: (0.0, 0.0)},
                      title="filter-normalised random plane")
        plots.contour(ax[0, 1], t["xs"], t["ys"], t["loss"], title="plane through checkpoints",
                      points={n: tuple(p.tolist()) for n, p in zip(series.anchor_names, t["points"])},
                      xlabel="distance", ylabel="distance")
        if "pca" in result:
            p = result["pca"]
            plots.contour(ax[0, 2], p["xs"], p["ys"], p["loss"], xlabel="PC 1 (distance)", ylabel="PC 2 (distance)",
                          title=f"PCA plane ({float(p['explained'].sum()):.0%} of the variance)",
                          points={f"{n} ({float(lt):.3g})": tuple(c.tolist()) for n, lt, c in
                                  zip(series.names, p["true"], p["coords"])})
        return fig
    fig, ax = plots.figure(1, 1, width=4.6, height=3.2)
    prof = result["profiles"]
    plots.curves(ax[0, 0], next(iter(prof.values()))["t"], {n: v["loss"] for n, v in prof.items()},
                 xlabel=f"t  ({series.pair_names[0]} → {series.pair_names[1]})", ylabel="held-out loss",
                 title="line and Bezier curve between two checkpoints")
    ax[0, 0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)  # below the axes, off the peak
    return fig
