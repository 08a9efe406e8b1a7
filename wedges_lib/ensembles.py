"""Ensembles, and how diverse their members are in function space.

Five ways to build an ensemble, at (approximately) equal compute. Compute is counted in **gradient
steps**: one minibatch gradient (``batch_size`` examples) of one member is one step, so with
S = ``steps`` and K = ``n_members`` every method spends K·S steps per ensemble:

- ``deep`` (Lakshminarayanan et al. 2017): K independent initialisations, S steps each with the
  config's schedule, all K trained in one vmapped pass — K·S.
- ``snapshot`` (Huang et al. 2017): one initialisation, K cosine cycles of S steps that restart at
  ``lr``; a member at the end of each cycle — K·S.
- ``fge``, *snapshot-style FGE*: a pretrained solution (one S-step run, the same run as deep member
  0), then K cosine cycles of ``cycle_steps`` steps that restart at a peak rate; a member at the end
  (the learning-rate minimum) of each cycle — S + K·cycle_steps. With the default (K − 1)·S / K steps
  per cycle this is a snapshot ensemble from a trained start, not Garipov et al.'s method:
- ``garipov``, FGE as Garipov et al. (2018) run it: from the same pretrained solution, one run whose
  rate cycles every ``fge_cycle_epochs`` epochs' worth of steps, linear from α₁ (the swept peak) down to
  α₂ = ``fge_low``·α₁ and back (:func:`triangular`), a member at each cycle's low point; the rest of the
  budget, (K − 1)·S steps, buys as many cycles as fit — M members, more than K (the method's point).
- ``swa`` (Izmailov et al. 2018): the same pretrained solution, then K·cycle_steps steps at a
  constant rate, an iterate every ``cycle_steps`` steps; the members are these iterates and the
  SWA solution is their weight average (``torch.optim.swa_utils.AveragedModel``).

FGE's peak rate and SWA's constant rate are swept (:func:`build_all`): ``lr_fractions``·``lr``, up to
the base rate ``lr`` itself, which deep members and snapshot cycles start from. A swept method given several
fractions trains all its rates as one vmapped stack, each member at its own rate
(:func:`wedges_lib.optimize.minimize`): the same runs as one call per rate.

``cycle_steps = 0`` means (K − 1)·S // K, which makes FGE and SWA cost K·S too (up to rounding);
``Ensemble.grad_steps`` is the count actually spent. Cycles reuse :func:`wedges_lib.train.train`
(one call per cycle, chaining theta), so the momentum buffer restarts with each cycle; only the runs' recorded
parameters are kept (no whole-set evaluations along the way). Every method
is repeated ``n_seeds`` times for error bars; the repetitions are one vmapped stack. A run that
diverges is frozen by the training loop and marked in ``Ensemble.diverged``; nothing raises.

The diversity measures are :mod:`wedges_lib.diversity`; :func:`summarize` applies them per repetition,
including displacements from a reference point common to every method. :mod:`wedges_lib.studies.ch06_ensembles`
turns them into the statistics of the chapter's claims.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from . import train
from .config import Config
from .data import Dataset
from .diversity import (
    accuracy,
    centroid_loss,
    disagreement,
    ece,
    ensemble_curve,
    js_matrix,
    kl_matrix,
    linear_barriers,
    nll,
    offdiag_mean,
    predict,
    prediction_cosine,
    weight_cosine,
)

METHODS = ("deep", "snapshot", "fge", "garipov", "swa")
TRAJECTORY_METHODS = ("snapshot", "fge", "garipov", "swa")
SWEPT = ("fge", "garipov", "swa")  # the methods whose rate is swept (and tuned)
LABELS = {"deep": "deep ensemble", "snapshot": "snapshot", "fge": "snapshot-style FGE", "garipov": "Garipov FGE",
          "swa": "SWA iterates"}


@dataclass
class Ensemble:
    """The members of ``n_seeds`` repetitions of one method: ``members`` (R, K, D).

    ``origins`` (R, K, D) is the initialisation of the run each member comes from (shared by all
    members of a trajectory method); ``swa`` (R, K, D), SWA only, row m = weight average of members
    0..m; ``grad_steps`` the gradient steps one repetition cost; ``diverged`` (R, K) marks members
    whose run (or an earlier cycle of it) diverged — all False when not given; ``lr`` the peak
    learning rate of the method's own phase; ``path`` (P, T, D) the first repetition's runs recorded
    densely (P = K independent runs for deep, one trajectory otherwise), when recorded; ``member_steps``
    (K,) the gradient steps one repetition had spent when each member was collected.
    """

    method: str
    model: nn.Module
    members: torch.Tensor
    origins: torch.Tensor
    grad_steps: int
    swa: torch.Tensor | None = None
    diverged: torch.Tensor | None = None
    lr: float = math.nan
    path: torch.Tensor | None = None
    member_steps: torch.Tensor | None = None

    def __post_init__(self):
        if self.diverged is None:
            self.diverged = torch.zeros(self.members.shape[:2], dtype=torch.bool)


# ---------------------------------------------------------------- building ensembles

PATH_POINTS = 10  # records per independent run (deep) for the first repetition's path


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


def _every(steps: int, points: int) -> int:
    """The largest record interval <= steps / points that divides ``steps`` (at least 1)."""
    return next(d for d in range(max(1, steps // points), 0, -1) if steps % d == 0)


def _run(cfg: Config, data: Dataset, model: nn.Module, theta: torch.Tensor, seeds: list[int],
         quiet: bool, points: int = 1, **overrides) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train the stack theta (R, D) with cfg's optimiser settings and ``overrides``: the final (R, D), which
    runs diverged (R,) bool, and the runs' paths (T, R, D) recorded at ``points`` + 1 points (start, end)."""
    kw = dict(optimizer=cfg.optimizer, lr=cfg.lr, momentum=cfg.momentum, l2=cfg.l2, schedule=cfg.schedule,
              batch_size=cfg.batch_size, steps=cfg.steps)
    kw.update(overrides)
    r = train.train(model, data, theta, seeds=seeds, record_every=_every(kw["steps"], points), quiet=quiet,
                    keep_trajectory=True, measured=False, **kw)
    if r.any_diverged:
        warnings.warn(f"{int(r.diverged.sum())} of {len(seeds)} runs diverged (frozen at their last finite "
                      f"point); lower the learning rate ({_diverged_rates(kw['lr'], r.diverged)})", stacklevel=3)
    return r.theta, r.diverged.reshape(-1).cpu(), r.trajectory


def _diverged_rates(lr: float | Sequence[float], diverged: torch.Tensor) -> str:
    """The rate, or the distinct per-member rates of the runs that diverged ((K,) bool), as text."""
    rates = sorted({lr[k] for k in diverged.nonzero().flatten().tolist()}) if isinstance(lr, Sequence) else [lr]
    return ", ".join(f"{v:g}" for v in rates)


def _rate_stack(cfg: Config, data: Dataset, pretrained: torch.Tensor | None, lr_fraction: float | Sequence[float],
                quiet: bool):
    """A swept method's start, the S-step solution of each repetition (``pretrained`` (R, D), trained here when
    None), once per rate of ``lr_fraction`` (rate i's repetitions are rows i·R to i·R + R − 1): (model, theta0 (R, D),
    fractions (F,), start (F·R, D), diverged (F·R,), seeds (F·R,), member rates (F·R,))."""
    seeds = repetition_seeds(cfg)
    model, theta0 = train.init(cfg, data, seeds)
    if pretrained is None:
        theta, diverged = _run(cfg, data, model, theta0, seeds, quiet)[:2]
    elif pretrained.shape != theta0.shape:
        raise ValueError(f"parameter 'pretrained': got shape {tuple(pretrained.shape)}; expected "
                         f"{tuple(theta0.shape)} (n_seeds, D), e.g. deep_ensemble(cfg, data).members[:, 0]")
    else:
        theta, diverged = pretrained.to(theta0), torch.zeros(len(seeds), dtype=torch.bool)
    fracs = (lr_fraction,) if not isinstance(lr_fraction, Sequence) else tuple(lr_fraction)
    return (model, theta0, fracs, theta.repeat(len(fracs), 1), diverged.repeat(len(fracs)), seeds * len(fracs),
            [f * cfg.lr for f in fracs for _ in seeds])


def _per_rate(lr_fraction: float | Sequence[float], fracs: tuple, cfg: Config, method: str, model: nn.Module,
              theta0: torch.Tensor, members: torch.Tensor, diverged: torch.Tensor, paths: torch.Tensor,
              grad_steps: int, member_steps: torch.Tensor, swa: torch.Tensor | None = None):
    """The Ensemble of each rate from the stack (members (F·R, K, D), diverged (F·R, K), swa (F·R, K, D), paths
    (F, 1, T, D)): one for a single fraction, {fraction: Ensemble} for a sequence of them."""
    R, K = len(theta0), members.shape[1]
    out = [Ensemble(method, model, members[i * R:(i + 1) * R].clone(), theta0[:, None].expand(-1, K, -1).clone(),
                    grad_steps, None if swa is None else swa[i * R:(i + 1) * R].clone(),
                    diverged[i * R:(i + 1) * R].clone(), f * cfg.lr, paths[i].clone(), member_steps)
           for i, f in enumerate(fracs)]
    return out[0] if not isinstance(lr_fraction, Sequence) else dict(zip(fracs, out))


def _cycle_seeds(seeds: list[int], cycle: int) -> list[int]:
    return [s * 1000 + cycle + 1 for s in seeds]


def _chain(paths: list[torch.Tensor]) -> torch.Tensor:
    """Consecutive runs' paths (T_i, ...) as one (1, T, ...), each run's start (the previous end) dropped."""
    return torch.cat([paths[0], *(p[1:] for p in paths[1:])])[None]


def deep_ensemble(cfg: Config, data: Dataset, *, quiet: bool = False) -> Ensemble:
    """K independently initialised members per repetition, all R·K trained in one vmapped pass.

    Used in :ref:`ch-ensembles`.
    """
    K = cfg.n_members
    seeds = [b + k for b in repetition_seeds(cfg) for k in range(K)]
    model, theta0 = train.init(cfg, data, seeds)
    theta, diverged, traj = _run(cfg, data, model, theta0, seeds, quiet, points=PATH_POINTS)
    shape = (cfg.n_seeds, K, -1)
    return Ensemble("deep", model, theta.reshape(shape), theta0.reshape(shape), K * cfg.steps,
                    diverged=diverged.reshape(cfg.n_seeds, K), lr=cfg.lr, path=traj[:, :K].transpose(0, 1).clone(),
                    member_steps=cfg.steps * torch.arange(1, K + 1))


def snapshot_ensemble(cfg: Config, data: Dataset, *, quiet: bool = False) -> Ensemble:
    """K cosine cycles of ``steps`` steps from one initialisation, restarting at ``lr``; a member per cycle end."""
    seeds = repetition_seeds(cfg)
    model, theta0 = train.init(cfg, data, seeds)
    theta, members, bad, paths = theta0, [], [torch.zeros(len(seeds), dtype=torch.bool)], []
    for c in range(cfg.n_members):
        theta, d, p = _run(cfg, data, model, theta, seeds if c == 0 else _cycle_seeds(seeds, c), quiet,
                           points=4, schedule="cosine")
        members.append(theta)
        bad.append(bad[-1] | d)
        paths.append(p[:, 0])
    members = torch.stack(members, dim=1)
    return Ensemble("snapshot", model, members, theta0[:, None].expand_as(members).clone(),
                    cfg.n_members * cfg.steps, diverged=torch.stack(bad[1:], dim=1), lr=cfg.lr, path=_chain(paths),
                    member_steps=cfg.steps * torch.arange(1, cfg.n_members + 1))


def fge(cfg: Config, data: Dataset, *, pretrained: torch.Tensor | None = None,
        lr_fraction: float | Sequence[float] = 1.0, quiet: bool = False) -> Ensemble | dict[float, Ensemble]:
    """Snapshot-style FGE: K cosine cycles of ``cycle_length(cfg)`` steps at peak ``lr_fraction``·``lr``.

    They start from ``pretrained`` (R, D) — the S-step solution of each repetition, trained here when None
    (it is deep member 0: ``deep_ensemble(cfg, data).members[:, 0]``); its steps are counted either way.
    Several fractions give {fraction: Ensemble}, every rate's cycles trained in one vmapped stack.
    """
    model, theta0, fracs, theta, d, seeds, lrs = _rate_stack(cfg, data, pretrained, lr_fraction, quiet)
    R, K, steps = len(theta0), cfg.n_members, cycle_length(cfg)
    members, bad, paths = [], [d], []
    for c in range(K):
        theta, d, p = _run(cfg, data, model, theta, _cycle_seeds(seeds, c), quiet, points=4, lr=lrs,
                           schedule="cosine", steps=steps)
        members.append(theta)
        bad.append(bad[-1] | d)
        paths.append(p[:, ::R])  # (T, F, D): each rate's first repetition
    return _per_rate(lr_fraction, fracs, cfg, "fge", model, theta0, torch.stack(members, dim=1),
                     torch.stack(bad[1:], dim=1), _chain(paths).movedim(2, 0), cfg.steps + K * steps,
                     cfg.steps + steps * torch.arange(1, K + 1))


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
        lr_fraction: float | Sequence[float] = 1.0, bn_update: Callable[[nn.Module, torch.Tensor], None] | None = None,
        quiet: bool = False) -> Ensemble | dict[float, Ensemble]:
    """Stochastic weight averaging: K iterates ``cycle_length(cfg)`` steps apart at constant ``lr_fraction``·``lr``.

    The phase is one uninterrupted run (momentum kept) from ``pretrained`` (R, D), trained here when
    None (see :func:`fge`), at a constant rate — what ``SWALR`` settles to; its annealing is not used
    because :func:`wedges_lib.train.train` drives the run. ``Ensemble.swa[:, m]`` averages the first
    m + 1 iterates with ``AveragedModel`` (:func:`swa_average`). Our models have
    no BatchNorm (GroupNorm, no buffers), so there are no statistics to recompute; for a model with
    buffers pass ``bn_update(model, theta)``, e.g. ``load_into`` then ``torch.optim.swa_utils.update_bn``,
    which is called on each repetition's final SWA solution. Several fractions give {fraction: Ensemble},
    every rate's run in one vmapped stack.
    """
    model, theta0, fracs, theta, pre_diverged, seeds, lrs = _rate_stack(cfg, data, pretrained, lr_fraction, quiet)
    if any(True for _ in model.buffers()) and bn_update is None:
        raise ValueError(f"parameter 'bn_update': model {cfg.model!r} has buffers (BatchNorm statistics?) "
                         "that SWA must recompute; pass bn_update(model, theta)")
    R, steps, K, every = len(theta0), cycle_length(cfg), cfg.n_members, _every(cycle_length(cfg), 4)
    r = train.train(model, data, theta, seeds=_cycle_seeds(seeds, 0), optimizer=cfg.optimizer, lr=lrs,
                    momentum=cfg.momentum, l2=cfg.l2, schedule="constant", batch_size=cfg.batch_size,
                    steps=K * steps, record_every=every, keep_trajectory=True, measured=False,
                    quiet=quiet)
    if r.any_diverged:
        warnings.warn(f"SWA phase diverged in {int(r.diverged.sum())} runs; lower its rate "
                      f"({_diverged_rates(lrs, r.diverged)})", stacklevel=2)
    per, T = steps // every, K * steps // every + 1
    traj = r.trajectory  # (T, F·R, D), shorter when every run diverged and the loop stopped: pad with
    traj = torch.cat([traj, r.theta.cpu()[None].expand(T - len(traj), -1, -1)])  # where they froze
    members = traj[per::per].transpose(0, 1).to(theta)  # (F·R, K, D): the iterates after 1..K intervals
    averages = swa_average(members)
    if bn_update is not None:
        for th in averages[:, -1]:
            bn_update(model, th)
    diverged = (pre_diverged | r.diverged.reshape(-1).cpu())[:, None].expand(-1, K)
    return _per_rate(lr_fraction, fracs, cfg, "swa", model, theta0, members, diverged,
                     traj[:, ::R].transpose(0, 1)[:, None], cfg.steps + K * steps,
                     cfg.steps + steps * torch.arange(1, K + 1), averages)


def triangular(cycle: int, low: float) -> Callable[[int], float]:
    """Garipov et al.'s cyclical schedule as a factor of the peak rate α₁ at each step: linear from 1 down to
    ``low`` (α₂ / α₁) over the first half of each ``cycle`` steps, back up to 1 over the second half.

    >>> f = triangular(4, 0.1)
    >>> [round(f(s), 2) for s in range(5)]
    [1.0, 0.55, 0.1, 0.55, 1.0]
    """
    def factor(step: int) -> float:
        t = (step % cycle) / cycle
        return (1 - 2 * t) + 2 * t * low if t < 0.5 else (2 * t - 1) + (2 - 2 * t) * low
    return factor


def garipov_cycle(cfg: Config, data: Dataset) -> tuple[int, int]:
    """(c, M): Garipov FGE's cycle in steps, ``fge_cycle_epochs`` epochs of ``data``'s minibatches made even,
    and the members the budget (K − 1)·S after the pretrained solution buys, one per cycle low (step c/2 + j·c),
    at least 3 (the centroid of members 0, 1, 2)."""
    per_epoch = max(1, len(data.y_train) // min(cfg.batch_size, len(data.y_train)))
    c = 2 * math.ceil(cfg.fge_cycle_epochs * per_epoch / 2)
    budget = (cfg.n_members - 1) * cfg.steps
    if budget < c // 2 + 2 * c:
        raise ValueError(f"parameter 'fge_cycle_epochs': got {cfg.fge_cycle_epochs!r}, cycles of {c} steps of which "
                         f"the budget of {budget} steps buys fewer than 3 low points; shorten the cycle or raise steps")
    return c, (budget - c // 2) // c + 1


def garipov_fge(cfg: Config, data: Dataset, *, pretrained: torch.Tensor | None = None,
                lr_fraction: float | Sequence[float] = 1.0, quiet: bool = False) -> Ensemble | dict[float, Ensemble]:
    """Garipov et al.'s FGE: from ``pretrained`` (R, D) (see :func:`fge`), one run at the :func:`triangular`
    rate between α₁ = ``lr_fraction``·``lr`` and α₂ = ``fge_low``·α₁, cycles of :func:`garipov_cycle` steps
    (momentum kept), a member at each cycle's low point: M members for (K − 1)·S steps or fewer. Several
    fractions give {fraction: Ensemble}, every rate's run in one vmapped stack."""
    model, theta0, fracs, theta, pre_diverged, seeds, lrs = _rate_stack(cfg, data, pretrained, lr_fraction, quiet)
    R, (c, M) = len(theta0), garipov_cycle(cfg, data)
    steps = (M - 1) * c + c // 2
    r = train.train(model, data, theta, seeds=_cycle_seeds(seeds, 0), optimizer=cfg.optimizer,
                    lr=lrs, momentum=cfg.momentum, l2=cfg.l2, schedule=triangular(c, cfg.fge_low),
                    batch_size=cfg.batch_size, steps=steps, record_every=c // 2, keep_trajectory=True,
                    measured=False, quiet=quiet)
    if r.any_diverged:
        warnings.warn(f"Garipov FGE diverged in {int(r.diverged.sum())} runs; lower its rate "
                      f"({_diverged_rates(lrs, r.diverged)})", stacklevel=2)
    traj = r.trajectory  # (2M, F·R, D): rows at 0, c/2, c, ...; padded where every run diverged and the loop stopped
    traj = torch.cat([traj, r.theta.cpu()[None].expand(2 * M - len(traj), -1, -1)])
    members = traj[1::2].transpose(0, 1).to(theta)  # (F·R, M, D): the lows, steps c/2 + j·c
    diverged = (pre_diverged | r.diverged.reshape(-1).cpu())[:, None].expand(-1, M)
    return _per_rate(lr_fraction, fracs, cfg, "garipov", model, theta0, members, diverged,
                     traj[:, ::R].transpose(0, 1)[:, None], cfg.steps + steps, cfg.steps + c // 2 + c * torch.arange(M))


def build(method: str, cfg: Config, data: Dataset, **kwargs) -> Ensemble | dict[float, Ensemble]:
    """The ensemble of ``method`` (one of METHODS) for ``cfg``; kwargs go to that method's function ({fraction:
    Ensemble} for a swept method given several ``lr_fraction``).

    Used in :ref:`ch-ensembles`.
    """
    funcs = dict(deep=deep_ensemble, snapshot=snapshot_ensemble, fge=fge, garipov=garipov_fge, swa=swa)
    if method not in funcs:
        raise ValueError(f"parameter 'method': got {method!r}; expected one of {', '.join(METHODS)}")
    return funcs[method](cfg, data, **kwargs)


def build_all(cfg: Config, data: Dataset, *, quiet: bool = True) -> dict[str, Ensemble | dict[float, Ensemble]]:
    """Every method of ``METHODS`` for ``cfg`` at equal compute: 'deep' and 'snapshot' an :class:`Ensemble`,
    each of ``SWEPT`` a dict {fraction: Ensemble}, one per rate ``lr_fractions``·``lr`` of the sweep, each
    continuing deep member 0 (whose steps they count, and whose divergence they inherit).
    Used in :ref:`ch-ensembles`."""
    fracs = cfg.lr_fractions
    if list(fracs) != sorted(set(fracs)):
        raise ValueError(f"parameter 'lr_fractions': got {fracs!r}; expected distinct increasing fractions of lr")
    out: dict = {"deep": deep_ensemble(cfg, data, quiet=quiet)}
    out["snapshot"] = snapshot_ensemble(cfg, data, quiet=quiet)
    start = out["deep"].members[:, 0]
    for method in SWEPT:  # every rate of the sweep in one vmapped stack
        out[method] = build(method, cfg, data, quiet=quiet, pretrained=start, lr_fraction=tuple(fracs))
        for e in out[method].values():
            e.diverged |= out["deep"].diverged[:, :1]
    return out


def summarize(ens: Ensemble, data: Dataset, *, n_interp: int = 0, n_bins: int = 15,
              reference: torch.Tensor | None = None, barrier_members: int = 0) -> dict[str, torch.Tensor]:
    """Per-repetition accuracy / NLL / ECE vs size and mean pairwise diversity of ``ens`` on the test set.

    Returns 'acc', 'nll', 'ece' (R, K) for the first m members' ensemble; 'member_acc', 'member_nll' (R, K);
    'disagreement', 'kl', 'js', 'prediction_cosine' (R,) as off-diagonal means, 'distance' (R,) the mean
    pairwise weight-space distance; 'barrier' (R,), the mean linear-path barrier of the *training*
    loss, when ``n_interp`` >= 3 (between ``barrier_members`` members evenly spaced along the ensemble when
    it has more; 0: all); 'centroid' and 'worst' (R,), the training loss at the centroid of
    members 0, 1, 2 and at the worst of them (:func:`wedges_lib.diversity.centroid_loss`), when K >= 3;
    for SWA also 'swa_acc', 'swa_nll', 'swa_ece' (R, K) of the averaged weights. With a common
    ``reference`` (R, D) (one point per repetition, the same for every method): 'ref_distance' (R,) the mean
    distance of the members from it, 'ref_cosine' (R,) the mean cosine between two members' displacements
    from it, 'ref_disagreement' (R,) the members' mean disagreement with its predictions — over the members
    that do not coincide with it (distance > 1e-3·‖reference‖).

    Used in :ref:`ch-ensembles`.
    """
    device = ens.members.device
    x, y = data.x_test.to(device), data.y_test.to(device)
    x_tr, y_tr = data.x_train.to(device), data.y_train.to(device)
    rows: dict[str, list] = {}
    for r in range(ens.members.shape[0]):
        probs = predict(ens.model, ens.members[r], x)
        stats = dict(ensemble_curve(probs, y, n_bins))
        stats["member_acc"] = torch.stack([accuracy(p, y) for p in probs])
        stats["member_nll"] = torch.stack([nll(p, y) for p in probs])
        for name, m in (("disagreement", disagreement(probs)), ("kl", kl_matrix(probs)), ("js", js_matrix(probs)),
                        ("prediction_cosine", prediction_cosine(probs)),
                        ("distance", torch.cdist(ens.members[r], ens.members[r]))):
            stats[name] = offdiag_mean(m)
        if reference is not None:
            stats |= _from_reference(ens.model, ens.members[r], reference[r].to(device), probs, x)
        if n_interp >= 3:
            K = ens.members.shape[1]
            pick = torch.linspace(0, K - 1, min(K, barrier_members or K)).round().long()
            stats["barrier"] = offdiag_mean(linear_barriers(ens.model, ens.members[r, pick], x_tr, y_tr,
                                                            n_interp=n_interp))
        if ens.members.shape[1] >= 3:
            worst, centroid = centroid_loss(ens.model, ens.members[r, :3], x_tr, y_tr)
            stats["worst"], stats["centroid"] = torch.tensor(worst), torch.tensor(centroid)
        if ens.swa is not None:
            swa_probs = predict(ens.model, ens.swa[r], x)
            for name, f in (("acc", accuracy), ("nll", nll), ("ece", lambda p, t: ece(p, t, n_bins))):
                stats[f"swa_{name}"] = torch.stack([f(p, y) for p in swa_probs])
        for k, v in stats.items():
            rows.setdefault(k, []).append(v.float().cpu())
    return {k: torch.stack(v) for k, v in rows.items()}


def _from_reference(model: nn.Module, members: torch.Tensor, ref: torch.Tensor, probs: torch.Tensor,
                    x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Displacement statistics of members (K, D) from a common reference point ref (D,) (see summarize)."""
    dist = (members - ref).norm(dim=1)
    away = dist > 1e-3 * ref.norm()
    ref_labels = predict(model, ref[None], x)[0].argmax(-1)
    dis = (probs[away].argmax(-1) != ref_labels).float().mean(-1)
    cos = weight_cosine(members[away], ref) if int(away.sum()) >= 2 else torch.full((2, 2), math.nan)
    return dict(ref_distance=dist[away].mean(), ref_cosine=offdiag_mean(cos), ref_disagreement=dis.mean())


def gains(stats: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What adding members gained, per repetition (R,), from :func:`summarize`'s statistics: 'gain_acc' the full
    ensemble's test accuracy minus its mean member's, 'gain_nll' the mean member's test NLL minus the ensemble's.

    >>> g = gains(dict(acc=torch.tensor([[0.5, 0.7]]), member_acc=torch.tensor([[0.5, 0.6]]),
    ...                nll=torch.tensor([[1.0, 0.5]]), member_nll=torch.tensor([[1.0, 0.9]])))
    >>> [round(v.item(), 3) for v in (g["gain_acc"][0], g["gain_nll"][0])]
    [0.15, 0.45]
    """
    return dict(gain_acc=stats["acc"][:, -1] - stats["member_acc"].mean(1),
                gain_nll=stats["member_nll"].mean(1) - stats["nll"][:, -1])
