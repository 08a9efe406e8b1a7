"""Ensembles, and how diverse their members are in function space.

Four ways to build K = ``n_members`` members, at (approximately) equal compute. Compute is counted
in **gradient steps**: one minibatch gradient (``batch_size`` examples) of one member is one step,
so with S = ``steps`` every method spends K·S steps per ensemble:

- ``deep`` (Lakshminarayanan et al. 2017): K independent initialisations, S steps each with the
  config's schedule, all K trained in one vmapped pass — K·S.
- ``snapshot`` (Huang et al. 2017): one initialisation, K cosine cycles of S steps that restart at
  ``lr``; a member at the end of each cycle — K·S.
- ``fge`` (Garipov et al. 2018): a pretrained solution (one S-step run, the same run as deep member
  0), then K cosine cycles of ``cycle_steps`` steps that restart at ``fge_lr``; a member at the end
  (the learning-rate minimum) of each cycle — S + K·cycle_steps.
- ``swa`` (Izmailov et al. 2018): the same pretrained solution, then K·cycle_steps steps at the
  constant rate ``swa_lr``, an iterate every ``cycle_steps`` steps; the members are these iterates
  and the SWA solution is their weight average (``torch.optim.swa_utils.AveragedModel``).

``cycle_steps = 0`` means (K − 1)·S // K, which makes FGE and SWA cost K·S too (up to rounding);
``Ensemble.grad_steps`` is the count actually spent. Cycles reuse :func:`wedges_lib.train.train`
(one call per cycle, chaining theta), so the momentum buffer restarts with each cycle. Every method
is repeated ``n_seeds`` times for error bars; the repetitions are one vmapped stack.

The diversity measures are :mod:`wedges_lib.diversity`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from . import params, surfaces, train
from .config import Config
from .data import Dataset
from .diversity import (
    accuracy,
    disagreement,
    ece,
    ensemble_curve,
    js_matrix,
    kl_matrix,
    nll,
    offdiag_mean,
    predict,
    prediction_cosine,
    weight_cosine,
)

METHODS = ("deep", "snapshot", "fge", "swa")


@dataclass
class Ensemble:
    """The members of ``n_seeds`` repetitions of one method: ``members`` (R, K, D).

    ``origins`` (R, K, D) is the initialisation of the run each member comes from (shared by all
    members of a trajectory method); ``swa`` (R, K, D), SWA only, row m = weight average of members
    0..m; ``grad_steps`` the gradient steps one repetition cost.
    """

    method: str
    model: nn.Module
    members: torch.Tensor
    origins: torch.Tensor
    grad_steps: int
    swa: torch.Tensor | None = None


# ---------------------------------------------------------------- building ensembles

def repetition_seeds(cfg: Config) -> list[int]:
    """The base seed of each of the ``n_seeds`` repetitions: cfg.seed + r·K (deep member k adds k)."""
    return [cfg.seed + r * cfg.n_members for r in range(cfg.n_seeds)]


def cycle_length(cfg: Config) -> int:
    """Steps per FGE cycle / between SWA iterates: ``cycle_steps``, or (K − 1)·S // K when it is 0."""
    c = cfg.cycle_steps or (cfg.n_members - 1) * cfg.steps // cfg.n_members
    if c < 1:
        raise ValueError(f"parameter 'cycle_steps': got {cfg.cycle_steps!r}, which gives cycles of {c} steps "
                         f"for n_members={cfg.n_members}, steps={cfg.steps}; set cycle_steps >= 1")
    return c


def _run(cfg: Config, data: Dataset, model: nn.Module, theta: torch.Tensor, seeds: list[int],
         quiet: bool, **overrides) -> torch.Tensor:
    """Train the stack theta (R, D) with cfg's optimiser settings and ``overrides``; the final (R, D)."""
    kw = dict(optimizer=cfg.optimizer, lr=cfg.lr, momentum=cfg.momentum, l2=cfg.l2, schedule=cfg.schedule,
              batch_size=cfg.batch_size, steps=cfg.steps)
    kw.update(overrides)
    r = train.train(model, data, theta, seeds=seeds, record_every=kw["steps"], quiet=quiet, **kw)
    if r.any_diverged:
        warnings.warn(f"{int(r.diverged.sum())} of {len(seeds)} runs diverged (frozen at their last finite "
                      f"point); lower the learning rate ({kw['lr']})", stacklevel=3)
    return r.theta


def _pretrained(cfg: Config, data: Dataset, pretrained: torch.Tensor | None, quiet: bool):
    """(model, theta0 (R, D), solution (R, D)) of the S-step run that FGE and SWA start from."""
    seeds = repetition_seeds(cfg)
    model, theta0 = train.init(cfg, data, seeds)
    if pretrained is None:
        return model, theta0, _run(cfg, data, model, theta0, seeds, quiet)
    if pretrained.shape != theta0.shape:
        raise ValueError(f"parameter 'pretrained': got shape {tuple(pretrained.shape)}; expected "
                         f"{tuple(theta0.shape)} (n_seeds, D), e.g. deep_ensemble(cfg, data).members[:, 0]")
    return model, theta0, pretrained.to(theta0)


def _cycle_seeds(seeds: list[int], cycle: int) -> list[int]:
    return [s * 1000 + cycle + 1 for s in seeds]


def deep_ensemble(cfg: Config, data: Dataset, *, quiet: bool = False) -> Ensemble:
    """K independently initialised members per repetition, all R·K trained in one vmapped pass.

    Used in :ref:`ch-ensembles`.
    """
    K = cfg.n_members
    seeds = [b + k for b in repetition_seeds(cfg) for k in range(K)]
    model, theta0 = train.init(cfg, data, seeds)
    theta = _run(cfg, data, model, theta0, seeds, quiet)
    shape = (cfg.n_seeds, K, -1)
    return Ensemble("deep", model, theta.reshape(shape), theta0.reshape(shape), K * cfg.steps)


def snapshot_ensemble(cfg: Config, data: Dataset, *, quiet: bool = False) -> Ensemble:
    """K cosine cycles of ``steps`` steps from one initialisation, restarting at ``lr``; a member per cycle end."""
    seeds = repetition_seeds(cfg)
    model, theta0 = train.init(cfg, data, seeds)
    theta, members = theta0, []
    for c in range(cfg.n_members):
        theta = _run(cfg, data, model, theta, seeds if c == 0 else _cycle_seeds(seeds, c), quiet,
                     schedule="cosine")
        members.append(theta)
    members = torch.stack(members, dim=1)
    return Ensemble("snapshot", model, members, theta0[:, None].expand_as(members).clone(),
                    cfg.n_members * cfg.steps)


def fge(cfg: Config, data: Dataset, *, pretrained: torch.Tensor | None = None, quiet: bool = False) -> Ensemble:
    """Fast geometric ensembling: K cosine cycles of ``cycle_length(cfg)`` steps at peak ``fge_lr``.

    They start from ``pretrained`` (R, D) — the S-step solution of each repetition, trained here when None
    (it is deep member 0: ``deep_ensemble(cfg, data).members[:, 0]``); its steps are counted either way.
    """
    model, theta0, theta = _pretrained(cfg, data, pretrained, quiet)
    seeds, steps = repetition_seeds(cfg), cycle_length(cfg)
    members = []
    for c in range(cfg.n_members):
        theta = _run(cfg, data, model, theta, _cycle_seeds(seeds, c), quiet, lr=cfg.fge_lr, schedule="cosine",
                     steps=steps)
        members.append(theta)
    members = torch.stack(members, dim=1)
    return Ensemble("fge", model, members, theta0[:, None].expand_as(members).clone(),
                    cfg.steps + cfg.n_members * steps)


def swa_average(members: torch.Tensor) -> torch.Tensor:
    """Running SWA of members (..., K, D): row m is the weight average of members 0..m (AveragedModel)."""
    holder = nn.Module()
    holder.theta = nn.Parameter(members[..., 0, :].detach().clone(), requires_grad=False)
    avg = AveragedModel(holder, device=members.device)
    out = []
    for m in range(members.shape[-2]):
        holder.theta.copy_(members[..., m, :])
        avg.update_parameters(holder)
        out.append(avg.module.theta.detach().clone())
    return torch.stack(out, dim=-2)


def swa(cfg: Config, data: Dataset, *, pretrained: torch.Tensor | None = None,
        bn_update: Callable[[nn.Module, torch.Tensor], None] | None = None, quiet: bool = False) -> Ensemble:
    """Stochastic weight averaging: K iterates ``cycle_length(cfg)`` steps apart at constant ``swa_lr``.

    The phase is one uninterrupted run (momentum kept) from ``pretrained`` (R, D), trained here when
    None (see :func:`fge`), at a constant rate — what ``SWALR`` settles to; its annealing is not used
    because :func:`wedges_lib.train.train` drives the run. ``Ensemble.swa[:, m]`` averages the first
    m + 1 iterates with ``AveragedModel`` (:func:`swa_average`). Our models have
    no BatchNorm (GroupNorm, no buffers), so there are no statistics to recompute; for a model with
    buffers pass ``bn_update(model, theta)``, e.g. ``load_into`` then ``torch.optim.swa_utils.update_bn``,
    which is called on each repetition's final SWA solution.
    """
    model, theta0, theta = _pretrained(cfg, data, pretrained, quiet)
    if any(True for _ in model.buffers()) and bn_update is None:
        raise ValueError(f"parameter 'bn_update': model {cfg.model!r} has buffers (BatchNorm statistics?) "
                         "that SWA must recompute; pass bn_update(model, theta)")
    seeds, steps, K = repetition_seeds(cfg), cycle_length(cfg), cfg.n_members
    r = train.train(model, data, theta, seeds=_cycle_seeds(seeds, 0), optimizer=cfg.optimizer, lr=cfg.swa_lr,
                    momentum=cfg.momentum, l2=cfg.l2, schedule="constant", batch_size=cfg.batch_size,
                    steps=K * steps, record_every=steps, keep_trajectory=True, quiet=quiet)
    if r.any_diverged:
        warnings.warn(f"SWA phase diverged in {int(r.diverged.sum())} runs; lower swa_lr ({cfg.swa_lr})", stacklevel=2)
    members = r.trajectory[1:].transpose(0, 1).to(theta)  # (R, K, D): the iterates after 1..K intervals
    averages = swa_average(members)
    if bn_update is not None:
        for th in averages[:, -1]:
            bn_update(model, th)
    return Ensemble("swa", model, members, theta0[:, None].expand_as(members).clone(), cfg.steps + K * steps,
                    averages)


def build(method: str, cfg: Config, data: Dataset, **kwargs) -> Ensemble:
    """The ensemble of ``method`` (one of METHODS) for ``cfg``; kwargs go to that method's function.

    Used in :ref:`ch-ensembles`.
    """
    funcs = dict(deep=deep_ensemble, snapshot=snapshot_ensemble, fge=fge, swa=swa)
    if method not in funcs:
        raise ValueError(f"parameter 'method': got {method!r}; expected one of {', '.join(METHODS)}")
    return funcs[method](cfg, data, **kwargs)


def build_all(cfg: Config, data: Dataset, *, quiet: bool = True) -> dict[str, Ensemble]:
    """Every method of ``METHODS`` for ``cfg`` at equal compute, FGE and SWA continuing deep member 0 (whose
    steps they count). Used in :ref:`ch-ensembles`."""
    out = {"deep": deep_ensemble(cfg, data, quiet=quiet)}
    start = out["deep"].members[:, 0]
    for method in METHODS[1:]:
        out[method] = build(method, cfg, data, quiet=quiet, **({} if method == "snapshot" else
                                                               {"pretrained": start}))
    return out


def budgeted(cfg: Config, *, min_members: int = 1) -> Config:
    """``cfg`` with its ensemble budget in the training knobs: ``steps`` = ``cfg.ensemble_steps`` per member
    and ``n_seeds`` = ``cfg.ensemble_seeds`` repetitions; checks ``n_members >= min_members``.
    Used in :ref:`ch-ensembles`."""
    if cfg.n_members < min_members:
        raise ValueError(f"parameter 'n_members': got {cfg.n_members}; this needs an int >= {min_members}")
    return Config({**cfg, "steps": cfg.ensemble_steps, "n_seeds": cfg.ensemble_seeds})


@torch.no_grad()
def linear_barriers(model: nn.Module, members: torch.Tensor, x: torch.Tensor, y: torch.Tensor, *,
                    n_interp: int = 11) -> torch.Tensor:
    """Loss barrier of the straight line between each pair of members (K, D) -> (K, K), symmetric, zero diagonal.

    barrier(i, j) = max over t of L((1 − t)θ_i + tθ_j) − ((1 − t)L(θ_i) + tL(θ_j)), on ``n_interp`` points.
    """
    if n_interp < 3:
        raise ValueError(f"parameter 'n_interp': got {n_interp!r}; expected an int >= 3")
    K = members.shape[0]
    ts = torch.linspace(0, 1, n_interp, device=members.device)
    pairs = [(i, j) for i in range(K) for j in range(i + 1, K)]
    out = torch.zeros(K, K, device=members.device)
    if not pairs:
        return out
    path = torch.cat([params.interpolate(members[i], members[j], ts) for i, j in pairs])
    losses, _ = params.evaluate(model, path, x, y)
    losses = losses.reshape(len(pairs), n_interp)
    chord = (1 - ts) * losses[:, :1] + ts * losses[:, -1:]
    heights = (losses - chord).amax(-1)
    for (i, j), h in zip(pairs, heights):
        out[i, j] = out[j, i] = h
    return out


def summarize(ens: Ensemble, data: Dataset, *, n_interp: int = 0, n_bins: int = 15) -> dict[str, torch.Tensor]:
    """Per-repetition accuracy / NLL / ECE vs size and mean pairwise diversity of ``ens`` on the test set.

    Returns 'acc', 'nll', 'ece' (R, K) for the first m members' ensemble; 'member_acc' (R, K);
    'disagreement', 'kl', 'js', 'prediction_cosine', 'weight_cosine' (R,) as off-diagonal means
    (weight cosine of displacements from each member's initialisation); 'barrier' (R,), the mean
    linear-path barrier of the *training* loss, when ``n_interp`` >= 3; for SWA also 'swa_acc', 'swa_nll',
    'swa_ece' (R, K) of the averaged weights.

    Used in :ref:`ch-ensembles`.
    """
    device = ens.members.device
    x, y = data.x_test.to(device), data.y_test.to(device)
    rows: dict[str, list] = {}
    for r in range(ens.members.shape[0]):
        probs = predict(ens.model, ens.members[r], x)
        stats = dict(ensemble_curve(probs, y, n_bins))
        stats["member_acc"] = torch.stack([accuracy(p, y) for p in probs])
        for name, m in (("disagreement", disagreement(probs)), ("kl", kl_matrix(probs)), ("js", js_matrix(probs)),
                        ("prediction_cosine", prediction_cosine(probs)),
                        ("weight_cosine", weight_cosine(ens.members[r], ens.origins[r]))):
            stats[name] = offdiag_mean(m)
        if n_interp >= 3:
            stats["barrier"] = offdiag_mean(linear_barriers(ens.model, ens.members[r], data.x_train.to(device),
                                                            data.y_train.to(device), n_interp=n_interp))
        if ens.swa is not None:
            swa_probs = predict(ens.model, ens.swa[r], x)
            for name, f in (("acc", accuracy), ("nll", nll), ("ece", lambda p, t: ece(p, t, n_bins))):
                stats[f"swa_{name}"] = torch.stack([f(p, y) for p in swa_probs])
        for k, v in stats.items():
            rows.setdefault(k, []).append(v)
    return {k: torch.stack(v) for k, v in rows.items()}


def final_means(stats: dict[str, torch.Tensor]) -> dict[str, float]:
    """Each statistic of :func:`summarize` as one number: the mean over repetitions, at the full ensemble size
    for the per-size ones (R, K); plus 'gain', the full ensemble's accuracy minus the mean member accuracy.
    Used in :ref:`ch-ensembles`."""
    out = {k: v.mean(0)[-1].item() if v.dim() > 1 else v.mean().item() for k, v in stats.items()}
    return out | {"gain": out["acc"] - stats["member_acc"].mean().item()}


@torch.no_grad()
def centroid_loss(model: nn.Module, members: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """The loss on (x, y) of the worst of ``members`` (M, D) and of their centroid — the point a weight average
    of them returns — evaluated in one pass. Used in :ref:`ch-ensembles`."""
    loss = params.evaluate(model, torch.cat([members, members.mean(0, keepdim=True)]), x, y)[0]
    return loss[:-1].max().item(), loss[-1].item()


@torch.no_grad()
def pair_view(ens: Ensemble, data: Dataset, *, n_interp: int = 11) -> dict[str, torch.Tensor]:
    """The first repetition's members pairwise: 'disagreement' (K, K) on the test set, and 'line' (n_interp,) the
    training loss on the straight line from the first member to the last, at 't' (n_interp,).
    Used in :ref:`ch-ensembles`."""
    members, device = ens.members[0], ens.members.device
    ts = torch.linspace(0, 1, n_interp)
    path = params.interpolate(members[0], members[-1], ts)
    return dict(disagreement=disagreement(predict(ens.model, members, data.x_test.to(device))), t=ts,
                line=params.evaluate(ens.model, path, data.x_train.to(device), data.y_train.to(device))[0])


def plane_view(ens: Ensemble, data: Dataset, *, n: int = 25) -> dict:
    """The training loss on the plane through the first repetition's members 0, 1, 2 ('plane', from
    :func:`wedges_lib.surfaces.plane_through` on an n × n grid), and :func:`centroid_loss` of the three:
    'member_loss' (the worst of them) and 'centroid'. Used in :ref:`ch-ensembles`."""
    three, device = ens.members[0, :3], ens.members.device
    x, y = data.x_train.to(device), data.y_train.to(device)
    worst, centroid = centroid_loss(ens.model, three, x, y)
    return dict(plane=surfaces.plane_through(ens.model, *three, n=n, x=x, y=y), member_loss=worst,
                centroid=centroid)


TRAJECTORY_METHODS = ("snapshot", "fge", "swa")


def claim_checks(mean: dict[str, dict[str, float]], planes: dict[str, dict],
                 thr: Mapping[str, float]) -> dict[str, tuple[bool, str, str]]:
    """The checks that independent members sit in different wedges and trajectory members in one:
    name -> (ok, expected, measured), in the order to record them. ``mean`` is :func:`final_means` per
    method, ``planes`` :func:`plane_view` per method ('centroid', 'member_loss'); ``thr`` holds
    min_disagreement, max_cosine (distinct members), disagreement_ratio, cosine_gap (diversity),
    deep_excess, trajectory_excess (the centroid), min_barrier, barrier_ratio (the line barrier).
    Used in :ref:`ch-ensembles`."""
    traj = TRAJECTORY_METHODS
    centroid, worst = ({m: p[k] for m, p in planes.items()} for k in ("centroid", "member_loss"))
    dis, cos, bar = ({m: mean[m][k] for m in mean} for k in ("disagreement", "weight_cosine", "barrier"))
    measured = ", ".join(f"{m}: disagreement {dis[m]:.3f}, weight cosine {cos[m]:.3f}, barrier {bar[m]:.3f}"
                         for m in mean)
    excess = {m: centroid[m] - worst[m] for m in centroid}
    return {
        "distinct": (min(dis.values()) > thr["min_disagreement"] and max(cos.values()) < thr["max_cosine"],
                     f"distinct members in every method (disagreement > {thr['min_disagreement']:g}, "
                     f"weight cosine < {thr['max_cosine']:g})", measured),
        "diversity": (all(dis["deep"] > thr["disagreement_ratio"] * dis[m] and cos["deep"] < cos[m] - thr["cosine_gap"]
                          for m in traj),
                      f"deep members to disagree > {thr['disagreement_ratio']:g}x as often as each trajectory "
                      f"method's and to have a weight cosine lower by > {thr['cosine_gap']:g}", measured),
        "slice": (excess["deep"] > thr["deep_excess"] and all(excess[m] < thr["trajectory_excess"] for m in traj),
                  f"the centroid of three deep members to lie > {thr['deep_excess']:g} nats above the worst of "
                  f"them, and the centroid of three trajectory members < {thr['trajectory_excess']:g} nats above "
                  "(or below) theirs",
                  ", ".join(f"{m}: centroid {centroid[m]:.3f} vs worst member {worst[m]:.3f}" for m in centroid)),
        "barrier": (bar["deep"] > max(thr["min_barrier"], thr["barrier_ratio"] * max(bar[m] for m in traj)),
                    f"a line barrier between independent members > {thr['min_barrier']:g} and > "
                    f"{thr['barrier_ratio']:g}x that within any trajectory", measured),
    }
