"""Chapter 02's experiments beside the intrinsic-dimension sweep: the threshold dimension of Larsen, Fort et al.
(2022) at several radii and after a burn-in, the homogeneity identity behind the temperature controls, and the
wedge toy's prediction.

**Threshold dimension.** For an anchor θ₀ and a dimension d, the probability of success P(d) is the fraction of
``cfg.td_subspaces`` random subspaces θ₀ + P w of dimension d (``cfg.td_steps`` steps, the chapter's relative
step) whose training reaches the target test accuracy ``cfg.td_fraction`` × the network's full-space accuracy;
d* is where P crosses ½ (interpolated in log d). The anchors of each seed: c · θ_init for c in ``cfg.td_radii``
at the fitted temperature, for the MLP with biases and the GELU MLP; and, for the MLP, the points reached by
``cfg.burnin_steps`` steps of ordinary training from θ_init (no temperature: the network as trained; the step
scaled by the point's radius). All anchors and subspaces of a seed train in one vmapped pass per d.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .. import models, params, plots, subspace, toy, train, verdicts
from ..config import Config, pick_device
from ..data import Dataset
from ..projections import make_projection, stack_projections
from ..validation import check_arg
from .ch02_radius import HIGH_C, NETWORK, SMOOTH_MODEL, _log_y, anchor_temperature, init, log_slope, seeds_of

FAMILIES = {"bias": None, "smooth": SMOOTH_MODEL}  #: not homogeneous, by their checks' name (None: cfg.model)


def burnin(cfg: Config, data: Dataset, model: nn.Module, theta_init: torch.Tensor) -> torch.Tensor:
    """The points reached from each theta_init (S, D) by ``cfg.burnin_steps`` steps of ordinary training with the
    chapter's optimiser at a constant rate, (B, S, D). Used in :ref:`ch-radius`."""
    out = []
    for t in cfg.burnin_steps:
        r = train.train(model, data, theta_init, seeds=seeds_of(cfg)[:len(theta_init)], optimizer=cfg.optimizer,
                        lr=cfg.lr, momentum=cfg.momentum, l2=cfg.l2, schedule="constant", batch_size=cfg.batch_size,
                        steps=t, record_every=t, quiet=True)
        out.append(r.theta)
    return torch.stack(out)


def success(cfg: Config, data: Dataset, model: nn.Module, anchors: torch.Tensor, scale: torch.Tensor,
            temperature: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The probability of success at every anchor and d of ``cfg.td_dims``: anchors (A, S, D) with their step
    scale and temperature (A, S), seed s's subspaces drawn from it; target (S,) test accuracy -> P (A, n, S).
    Used in :ref:`ch-radius`."""
    A, S, D = anchors.shape
    M, seeds = cfg.td_subspaces, seeds_of(cfg)[:S]

    def order(t: torch.Tensor) -> torch.Tensor:  # (A, S, ...) -> (S·M·A, ...): seed, subspace, anchor
        return t.transpose(0, 1).unsqueeze(1).expand(S, M, A, *t.shape[2:]).reshape(S * M * A, *t.shape[2:])

    th0, sc, tp = order(anchors), order(scale[..., None])[:, 0], order(temperature[..., None])[:, 0]
    out = []
    for d in cfg.td_dims:
        projs = [make_projection(cfg.projection, D, d, 7919 * (j + 1) + s, device=anchors.device)
                 for s in seeds for j in range(M)]  # apart from the sweep's (seed s): fresh subspaces
        r = subspace.subspace_train(model, data, th0, stack_projections(projs, A), scale=sc, temperature=tp,
                                    seeds=[s for s in seeds for _ in range(M * A)], lr=cfg.subspace_lr / math.sqrt(d),
                                    batch_size=cfg.batch_size, steps=cfg.td_steps, quiet=True)
        ok = (r.test_acc.detach().cpu().double().reshape(S, M, A) >= target.cpu().double()[:, None, None])
        out.append(ok.double().mean(1).T)  # (A, S)
    return torch.stack(out, 1)


def run(cfg: Config, data: Dataset, ref: dict) -> dict:
    """The threshold-dimension runs, as plain tensors: per family of :data:`FAMILIES` ('bias', 'smooth') the
    probability of success 'p' (len(td_radii) [+ B for 'bias'], n, S) and the fitted 'temperature'; for 'bias' the
    burn-in points' radius multiple 'burnin_radius' (B, S) = ‖θ_t‖ / ‖θ_init‖. ``ref`` holds each family's
    full-space test accuracy (S,), as :func:`wedges_lib.studies.ch02_radius.run` measured it ('temperature':
    the MLP's, 'smooth': the GELU MLP's). Used in :ref:`ch-radius`."""
    check_arg("td_radii", cfg.td_radii, 1.0 in cfg.td_radii, "radius multiples with 1.0 among them")
    check_arg("td_dims", cfg.td_dims, list(cfg.td_dims) == sorted(set(cfg.td_dims)), "increasing ints")
    out = {}
    for fam, name in FAMILIES.items():
        model, th = init(cfg, data, name)
        c = torch.tensor([float(r) for r in cfg.td_radii], dtype=th.dtype, device=th.device)[:, None]
        anchors, scale = c[..., None] * th, c.expand(-1, len(th))
        temp = anchor_temperature(model, th, cfg.td_radii, data.x_train.to(th.device)).to(th)
        if fam == "bias":
            burned = burnin(cfg, data, model, th)
            rad = params.radius(burned) / params.radius(th)
            anchors, scale = torch.cat([anchors, burned]), torch.cat([scale, rad])
            temp = torch.cat([temp, torch.ones_like(rad)])
            out["burnin_radius"] = rad.double().cpu()
        target = cfg.td_fraction * ref["temperature" if fam == "bias" else "smooth"]
        out[fam] = dict(p=success(cfg, data, model, anchors, scale, temp, target), temperature=temp.double().cpu())
    return out


def statistics(res: dict, cfg: Config) -> dict[str, torch.Tensor]:
    """Per seed (S,) or per anchor and seed: each family's d* 'dstar_bias', 'dstar_smooth' ((A, S): the d where P
    crosses ½, NaN where it never does) and the slope of log d* against log c over c >= HIGH_C ('slope_bias',
    'slope_smooth'; d* never reached: the largest d); 'burnin', log(d* after the longest burn-in / d* at c = 1);
    'sharp', the largest rise of P between consecutive d, averaged over every anchor of the seed; 'censored_*',
    the seeds with a bound in each. Used in :ref:`ch-radius`."""
    top, out = float(cfg.td_dims[-1]), {}
    high = [i for i, c in enumerate(cfg.td_radii) if c >= HIGH_C]
    for fam in FAMILIES:
        p = res[fam]["p"]
        d = subspace.threshold_dim(cfg.td_dims, p.transpose(1, 2), 0.5)  # (A, S)
        out[f"dstar_{fam}"] = d
        out[f"slope_{fam}"] = log_slope([cfg.td_radii[i] for i in high], d[high].nan_to_num(top))
        out[f"censored_{fam}"] = int(d[high].isnan().any(0).sum())
    d = out["dstar_bias"]
    one = list(cfg.td_radii).index(1.0)
    out["burnin"] = (d[-1].nan_to_num(top) / d[one].nan_to_num(top)).log()
    out["censored_burnin"] = int((d[-1].isnan() | d[one].isnan()).sum())
    rises = torch.cat([res[f]["p"].diff(dim=1).amax(1) for f in FAMILIES])  # (anchors, S)
    out["sharp"] = rises.mean(0)
    return out


def judge(claims: dict, st: dict, cfg: Config) -> dict[str, verdicts.Verdict]:
    """The threshold dimension's checks, judged per seed and recorded: 'radius_dstar_bias', 'radius_dstar_smooth',
    'radius_burnin' and 'radius_td_sharp'. Used in :ref:`ch-radius`."""
    def j(name: str, key: str, cens: int = 0) -> verdicts.Verdict:
        return verdicts.judge(claims[name], st[key].tolist(), cfg.scale, censored=cens)

    return {"radius_dstar_bias": j("radius_dstar_bias", "slope_bias", st["censored_bias"]),
            "radius_dstar_smooth": j("radius_dstar_smooth", "slope_smooth", st["censored_smooth"]),
            "radius_burnin": j("radius_burnin", "burnin", st["censored_burnin"]),
            "radius_td_sharp": j("radius_td_sharp", "sharp")}


def _dstar_text(d: torch.Tensor, top: float) -> str:
    missed = int(d.isnan().sum())
    text = verdicts.interval_text(d.nan_to_num(top), 3)
    return ("≥ " if missed else "") + text + (f" ({missed} of {len(d)} not reached)" if missed else "")


def numbers(res: dict, st: dict, cfg: Config) -> dict:
    """The numbers chapter 02's text quotes about the threshold dimension, named as recorded (less ``radius_``):
    d* per anchor (mean [interval] over seeds; ≥ where a seed never crossed ½) and the burn-in radii.
    Used in :ref:`ch-radius`."""
    top, R = float(cfg.td_dims[-1]), len(cfg.td_radii)
    num = {f"td_{fam}": "; ".join(f"c = {c:g}: {_dstar_text(st[f'dstar_{fam}'][i], top)}"
                                  for i, c in enumerate(cfg.td_radii)) for fam in FAMILIES}
    num["td_burnin"] = "; ".join(
        f"{t} steps (radius {verdicts.interval_text(res['burnin_radius'][b], 3)} × θ₀): "
        f"{_dstar_text(st['dstar_bias'][R + b], top)}" for b, t in enumerate(cfg.burnin_steps))
    num["td_dims"] = ", ".join(str(d) for d in cfg.td_dims)
    return num


def figures(res: dict, st: dict, cfg: Config):
    """The threshold dimension in three panels: the probability of success against d for the MLP (one line per
    c; dashed: after each burn-in) and for the GELU MLP; d* against the anchor's radius multiple for both
    families at their fitted temperature, and for the burn-in points against their own radius (mean ± 1 std over
    seeds; d* never reached: the largest d). Used in :ref:`ch-radius`."""
    fig, ax = plots.figure(3)
    dims, R = torch.tensor([float(d) for d in cfg.td_dims]), len(cfg.td_radii)
    for a, fam, title in ((ax[0, 0], "bias", "MLP"), (ax[0, 1], "smooth", "GELU MLP")):
        p = res[fam]["p"]
        plots.curves(a, dims, {f"c = {c:g}": p[i] for i, c in enumerate(cfg.td_radii)}, marker="o",
                     xlabel="subspace dimension d", ylabel="P(reach the target)", title=title)
        for b, t in enumerate(cfg.burnin_steps if fam == "bias" else ()):
            m = p[R + b].mean(-1).numpy()
            a.plot(dims.numpy(), m, ls="--", marker="s", ms=3, color=plots.PALETTE[R + b], label=f"burn-in {t}")
        a.axhline(0.5, color="grey", ls=":")
        plots.log_ticks(a, cfg.td_dims)
        a.legend(loc="upper left", bbox_to_anchor=(0.0, -0.25), ncol=2, fontsize=7)  # below, off the curves
    top, a = float(cfg.td_dims[-1]), ax[0, 2]
    c = torch.tensor([float(r) for r in cfg.td_radii])
    plots.curves(a, c, {f"{n}, c · θ₀": st[f"dstar_{f}"][:R].nan_to_num(top) for f, n in
                        (("bias", "MLP"), ("smooth", "GELU MLP"))}, marker="o", xlabel="radius (× init norm)",
                 ylabel="d* (P = ½)", title="d* against the radius")
    burn = st["dstar_bias"][R:].nan_to_num(top)
    xb, yb = res["burnin_radius"].mean(-1).numpy(), burn.mean(-1).numpy()
    a.errorbar(xb, yb, yerr=burn.std(-1).numpy(), fmt="s", color=plots.PALETTE[3], capsize=3,
               label="MLP after burn-in (steps), at its radius")
    for x, y, t in zip(xb, yb, cfg.burnin_steps):
        a.annotate(f"{t}", (x, y), textcoords="offset points", xytext=(6, -3), fontsize=7)
    a.set_yscale("log")
    _log_y(a)
    plots.log_ticks(a, cfg.td_radii)
    a.legend(loc="upper left", bbox_to_anchor=(0.0, -0.25), fontsize=7)
    return fig


def explorer(res: dict, runs: dict[str, dict], cfg: Config, radius: float = 1.0):
    """Chapter 02's results at one radius multiple ``radius`` (one of ``cfg.radii``), drawn from
    :func:`~wedges_lib.studies.ch02_radius.run`'s ``res`` and its statistics ``runs`` (nothing recomputed, for a
    static slider): each variant's test accuracy against d (mean ± 1 std) with its d_int threshold dotted, and
    the biases' share of the logits against every c, ``radius`` marked. Returns the figure.
    Used in :ref:`ch-radius`."""
    check_arg("radius", radius, radius in cfg.radii, f"one of {cfg.radii}")
    fig, axes = plots.figure(2)
    axes, radii, c = axes[0], cfg.radii, radius
    i, V = list(radii).index(c), res["variants"]
    dims = torch.tensor([float(d) for d in runs["uncontrolled"]["sweep"].dims])
    plots.curves(axes[0], dims, {v: runs[v]["sweep"].test_acc[i] for v in V}, xlabel="subspace dimension d",
                 ylabel="test accuracy", marker="o", title=f"subspaces through {c:g} × θ₀")
    for v, colour in zip(V, plots.PALETTE):
        axes[0].axhline(float(runs[v]["idim"].threshold.mean()), ls=":", color=colour, lw=1)
    plots.log_ticks(axes[0], [int(d) for d in dims])
    axes[0].set_ylim(0, 1)
    axes[0].legend(loc="upper left", fontsize=7)
    cs = torch.tensor([float(r) for r in radii])
    plots.curves(axes[1], cs, {NETWORK[v]: V[v]["bias_share"] for v in ("temperature", "smooth")}, marker="o",
                 xlabel="radius c (× init norm)", ylabel="‖f(cθ) − f₀(cθ)‖ / ‖f(cθ)‖", title="the biases' share")
    axes[1].axvline(c, color="grey", ls="--")
    plots.log_ticks(axes[1], radii)
    return fig


# --- the homogeneity identity and the toy's prediction -------------------------------------------

HOMOGENEITY_C = (0.5, 2.0, 8.0)  # powers of two: scaling by them is exact in floating point


def homogeneity(cfg: Config, data: Dataset, cs: Sequence[float] = HOMOGENEITY_C) -> dict[str, torch.Tensor]:
    """The identity behind the controls, checked: a bias-free ReLU MLP of L layers has f(c·θ) = c^L f(θ), so
    training in the plane θ = c·θ₀ + c·P w with the logits divided by c^L is training in the plane through θ₀ —
    the same losses at every step. Per seed (:func:`~wedges_lib.studies.ch02_radius.seeds_of`), the network of
    ``mlp_invariant`` without its logit normalisation (bias-free, plain logits) trains in a random plane of
    ``cfg.dims[0]`` dimensions through θ₀ and, in one vmapped stack, through c·θ₀ for each c of ``cs`` at
    temperature c^L and step ∝ c (the relative step; 100 steps at most); returns 'largest' (S,), the largest
    absolute difference loss(c) − loss(1) over every minibatch step and c, 'layers' L and 'final'
    (S, 1 + len(cs)) the final training losses. Used in :ref:`ch-radius`."""
    device = pick_device(cfg.device)
    in_dim = math.prod(data.input_shape)  # the MLP flattens its input (sequences, or images at the paper scale)
    net = models.mlp_invariant(in_dim, data.n_classes, cfg.subspace_width)[:-1].to(device)
    L = sum(isinstance(m, nn.Linear) for m in net)
    c = torch.tensor([1.0, *cs], device=device)
    largest, final = [], []
    for seed in seeds_of(cfg):
        torch.manual_seed(seed)
        theta0 = params.flatten(models.mlp_invariant(in_dim, data.n_classes, cfg.subspace_width)[:-1])
        proj = make_projection(cfg.projection, theta0.numel(), cfg.dims[0], seed, device=device)
        r = subspace.subspace_train(net, data, c[:, None] * theta0.to(device), proj, scale=c, temperature=c ** L,
                                    seeds=[seed] * len(c), lr=cfg.subspace_lr / math.sqrt(cfg.dims[0]),
                                    batch_size=cfg.batch_size, steps=min(cfg.subspace_steps, 100), quiet=True)
        largest.append(float((r.batch_loss[:, 1:] - r.batch_loss[:, :1]).abs().max()))  # (steps, K)
        final.append(r.loss)
    return {"largest": torch.tensor(largest), "layers": L, "final": torch.stack(final)}


def toy_d50(cfg: Config) -> torch.Tensor:
    """Chapter 02's toy block, repeated on ``cfg.n_seeds`` toys (toy k: a fresh wedge landscape and fresh
    planes from seed ``cfg.seed + k``): the smallest d of ``cfg.plane_dims`` where half of
    ``cfg.plane_seeds`` random planes through a point at each radius of ``cfg.plane_radii`` succeed, (R, toys);
    NaN where none does. Used in :ref:`ch-radius`."""
    out = []
    for s in seeds_of(cfg):
        w = toy.make_wedges(cfg.plane_D, cfg.plane_n, cfg.plane_K, kappa=cfg.plane_kappa, r_min=cfg.toy_r_min,
                            r_open=cfg.toy_r_min, seed=s)
        ok = toy.hyperplane_success_map(w, cfg.plane_dims, cfg.plane_radii, seeds=cfg.plane_seeds,
                                        steps=cfg.plane_steps, seed=s)
        out.append(toy.intrinsic_dimension(ok, cfg.plane_dims))
    return torch.stack(out, 1)
