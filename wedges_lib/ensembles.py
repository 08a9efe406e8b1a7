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
is repeated ``n_seeds`` times for error bars; the repetitions are one vmapped stack. A run that
diverges is frozen by the training loop and marked in ``Ensemble.diverged``; nothing raises.

The diversity measures are :mod:`wedges_lib.diversity`. :func:`claim_values` turns the measures into
the statistics of the chapter's claims, one value per repetition, which :func:`judge_all` judges with
:mod:`wedges_lib.verdicts`.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from . import params, surfaces, train, verdicts
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
from .results import record

METHODS = ("deep", "snapshot", "fge", "swa")


@dataclass
class Ensemble:
    """The members of ``n_seeds`` repetitions of one method: ``members`` (R, K, D).

    ``origins`` (R, K, D) is the initialisation of the run each member comes from (shared by all
    members of a trajectory method); ``swa`` (R, K, D), SWA only, row m = weight average of members
    0..m; ``grad_steps`` the gradient steps one repetition cost; ``diverged`` (R, K) marks members
    whose run (or an earlier cycle of it) diverged — all False when not given.
    """

    method: str
    model: nn.Module
    members: torch.Tensor
    origins: torch.Tensor
    grad_steps: int
    swa: torch.Tensor | None = None
    diverged: torch.Tensor | None = None

    def __post_init__(self):
        if self.diverged is None:
            self.diverged = torch.zeros(self.members.shape[:2], dtype=torch.bool)


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
         quiet: bool, **overrides) -> tuple[torch.Tensor, torch.Tensor]:
    """Train the stack theta (R, D) with cfg's optimiser settings and ``overrides``: the final (R, D) and
    which runs diverged (R,) bool."""
    kw = dict(optimizer=cfg.optimizer, lr=cfg.lr, momentum=cfg.momentum, l2=cfg.l2, schedule=cfg.schedule,
              batch_size=cfg.batch_size, steps=cfg.steps)
    kw.update(overrides)
    r = train.train(model, data, theta, seeds=seeds, record_every=kw["steps"], quiet=quiet, **kw)
    if r.any_diverged:
        warnings.warn(f"{int(r.diverged.sum())} of {len(seeds)} runs diverged (frozen at their last finite "
                      f"point); lower the learning rate ({kw['lr']})", stacklevel=3)
    return r.theta, r.diverged.reshape(-1).cpu()


def _pretrained(cfg: Config, data: Dataset, pretrained: torch.Tensor | None, quiet: bool):
    """(model, theta0 (R, D), solution (R, D), diverged (R,)) of the S-step run FGE and SWA start from."""
    seeds = repetition_seeds(cfg)
    model, theta0 = train.init(cfg, data, seeds)
    if pretrained is None:
        return model, theta0, *_run(cfg, data, model, theta0, seeds, quiet)
    if pretrained.shape != theta0.shape:
        raise ValueError(f"parameter 'pretrained': got shape {tuple(pretrained.shape)}; expected "
                         f"{tuple(theta0.shape)} (n_seeds, D), e.g. deep_ensemble(cfg, data).members[:, 0]")
    return model, theta0, pretrained.to(theta0), torch.zeros(len(seeds), dtype=torch.bool)


def _cycle_seeds(seeds: list[int], cycle: int) -> list[int]:
    return [s * 1000 + cycle + 1 for s in seeds]


def deep_ensemble(cfg: Config, data: Dataset, *, quiet: bool = False) -> Ensemble:
    """K independently initialised members per repetition, all R·K trained in one vmapped pass.

    Used in :ref:`ch-ensembles`.
    """
    K = cfg.n_members
    seeds = [b + k for b in repetition_seeds(cfg) for k in range(K)]
    model, theta0 = train.init(cfg, data, seeds)
    theta, diverged = _run(cfg, data, model, theta0, seeds, quiet)
    shape = (cfg.n_seeds, K, -1)
    return Ensemble("deep", model, theta.reshape(shape), theta0.reshape(shape), K * cfg.steps,
                    diverged=diverged.reshape(cfg.n_seeds, K))


def snapshot_ensemble(cfg: Config, data: Dataset, *, quiet: bool = False) -> Ensemble:
    """K cosine cycles of ``steps`` steps from one initialisation, restarting at ``lr``; a member per cycle end."""
    seeds = repetition_seeds(cfg)
    model, theta0 = train.init(cfg, data, seeds)
    theta, members, bad = theta0, [], [torch.zeros(len(seeds), dtype=torch.bool)]
    for c in range(cfg.n_members):
        theta, d = _run(cfg, data, model, theta, seeds if c == 0 else _cycle_seeds(seeds, c), quiet,
                        schedule="cosine")
        members.append(theta)
        bad.append(bad[-1] | d)
    members = torch.stack(members, dim=1)
    return Ensemble("snapshot", model, members, theta0[:, None].expand_as(members).clone(),
                    cfg.n_members * cfg.steps, diverged=torch.stack(bad[1:], dim=1))


def fge(cfg: Config, data: Dataset, *, pretrained: torch.Tensor | None = None, quiet: bool = False) -> Ensemble:
    """Fast geometric ensembling: K cosine cycles of ``cycle_length(cfg)`` steps at peak ``fge_lr``.

    They start from ``pretrained`` (R, D) — the S-step solution of each repetition, trained here when None
    (it is deep member 0: ``deep_ensemble(cfg, data).members[:, 0]``); its steps are counted either way.
    """
    model, theta0, theta, d = _pretrained(cfg, data, pretrained, quiet)
    seeds, steps = repetition_seeds(cfg), cycle_length(cfg)
    members, bad = [], [d]
    for c in range(cfg.n_members):
        theta, d = _run(cfg, data, model, theta, _cycle_seeds(seeds, c), quiet, lr=cfg.fge_lr,
                        schedule="cosine", steps=steps)
        members.append(theta)
        bad.append(bad[-1] | d)
    members = torch.stack(members, dim=1)
    return Ensemble("fge", model, members, theta0[:, None].expand_as(members).clone(),
                    cfg.steps + cfg.n_members * steps, diverged=torch.stack(bad[1:], dim=1))


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
    model, theta0, theta, pre_diverged = _pretrained(cfg, data, pretrained, quiet)
    if any(True for _ in model.buffers()) and bn_update is None:
        raise ValueError(f"parameter 'bn_update': model {cfg.model!r} has buffers (BatchNorm statistics?) "
                         "that SWA must recompute; pass bn_update(model, theta)")
    seeds, steps, K = repetition_seeds(cfg), cycle_length(cfg), cfg.n_members
    r = train.train(model, data, theta, seeds=_cycle_seeds(seeds, 0), optimizer=cfg.optimizer, lr=cfg.swa_lr,
                    momentum=cfg.momentum, l2=cfg.l2, schedule="constant", batch_size=cfg.batch_size,
                    steps=K * steps, record_every=steps, keep_trajectory=True, quiet=quiet)
    if r.any_diverged:
        warnings.warn(f"SWA phase diverged in {int(r.diverged.sum())} runs; lower swa_lr ({cfg.swa_lr})", stacklevel=2)
    traj = r.trajectory  # (K + 1, R, D), shorter when every run diverged and the loop stopped: pad with
    traj = torch.cat([traj, r.theta.cpu()[None].expand(K + 1 - len(traj), -1, -1)])  # where they froze
    members = traj[1:].transpose(0, 1).to(theta)  # (R, K, D): the iterates after 1..K intervals
    averages = swa_average(members)
    if bn_update is not None:
        for th in averages[:, -1]:
            bn_update(model, th)
    diverged = (pre_diverged | r.diverged.reshape(-1).cpu())[:, None].expand(-1, K).clone()
    return Ensemble("swa", model, members, theta0[:, None].expand_as(members).clone(), cfg.steps + K * steps,
                    averages, diverged)


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
    steps they count, and whose divergence they inherit). Used in :ref:`ch-ensembles`."""
    out = {"deep": deep_ensemble(cfg, data, quiet=quiet)}
    start = out["deep"].members[:, 0]
    for method in METHODS[1:]:
        out[method] = build(method, cfg, data, quiet=quiet, **({} if method == "snapshot" else
                                                               {"pretrained": start}))
        if method != "snapshot":
            out[method].diverged |= out["deep"].diverged[:, :1]
    return out


def budgeted(cfg: Config, *, min_members: int = 1) -> Config:
    """``cfg`` with its ensemble budget in the training knobs: ``steps`` = ``cfg.ensemble_steps`` per member,
    ``n_seeds`` = ``cfg.ensemble_seeds`` repetitions from base seed ``seed`` = ``cfg.ensemble_seed``;
    checks ``n_members >= min_members``. Used in :ref:`ch-ensembles`."""
    if cfg.n_members < min_members:
        raise ValueError(f"parameter 'n_members': got {cfg.n_members}; this needs an int >= {min_members}")
    return Config({**cfg, "steps": cfg.ensemble_steps, "n_seeds": cfg.ensemble_seeds, "seed": cfg.ensemble_seed})


def summarize(ens: Ensemble, data: Dataset, *, n_interp: int = 0, n_bins: int = 15) -> dict[str, torch.Tensor]:
    """Per-repetition accuracy / NLL / ECE vs size and mean pairwise diversity of ``ens`` on the test set.

    Returns 'acc', 'nll', 'ece' (R, K) for the first m members' ensemble; 'member_acc' (R, K);
    'disagreement', 'kl', 'js', 'prediction_cosine', 'weight_cosine' (R,) as off-diagonal means
    (weight cosine of displacements from each member's initialisation), 'distance' (R,) the mean
    pairwise weight-space distance; 'barrier' (R,), the mean linear-path barrier of the *training*
    loss, when ``n_interp`` >= 3; 'centroid' and 'worst' (R,), the training loss at the centroid of
    members 0, 1, 2 and at the worst of them (:func:`wedges_lib.diversity.centroid_loss`), when K >= 3;
    for SWA also 'swa_acc', 'swa_nll', 'swa_ece' (R, K) of the averaged weights.

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
        for name, m in (("disagreement", disagreement(probs)), ("kl", kl_matrix(probs)), ("js", js_matrix(probs)),
                        ("prediction_cosine", prediction_cosine(probs)),
                        ("weight_cosine", weight_cosine(ens.members[r], ens.origins[r])),
                        ("distance", torch.cdist(ens.members[r], ens.members[r]))):
            stats[name] = offdiag_mean(m)
        if n_interp >= 3:
            stats["barrier"] = offdiag_mean(linear_barriers(ens.model, ens.members[r], x_tr, y_tr,
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


def final_means(stats: dict[str, torch.Tensor]) -> dict[str, float]:
    """Each statistic of :func:`summarize` as one number: the mean over repetitions, at the full ensemble size
    for the per-size ones (R, K); plus 'gain', the full ensemble's accuracy minus the mean member accuracy.
    Used in :ref:`ch-ensembles`."""
    out = {k: v.mean(0)[-1].item() if v.dim() > 1 else v.mean().item() for k, v in stats.items()}
    return out | {"gain": out["acc"] - stats["member_acc"].mean().item()}


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


def plane_view(ens: Ensemble, data: Dataset, *, n: int = 25) -> dict | None:
    """The training loss on the plane through the first repetition's members 0, 1, 2
    (:func:`wedges_lib.surfaces.plane_through` on an n × n grid), or None when a run they come from diverged
    (frozen members may coincide: no plane). Used in :ref:`ch-ensembles`."""
    if ens.diverged[0, :3].any():
        return None
    three, device = ens.members[0, :3], ens.members.device
    x, y = data.x_train.to(device), data.y_train.to(device)
    return surfaces.plane_through(ens.model, *three, n=n, x=x, y=y)


TRAJECTORY_METHODS = ("snapshot", "fge", "swa")
LABELS = {"deep": "deep ensemble", "snapshot": "snapshot", "fge": "FGE", "swa": "SWA iterates"}
GROUPS = ("ens_diversity", "ens_slice", "ens_barrier")  # claims of several parts, one per method


def claim_values(stats: Mapping[str, Mapping[str, torch.Tensor]],
                 ens: Mapping[str, Ensemble]) -> dict[str, list[float]]:
    """The statistic of each of the chapter's claims, one value per repetition (NaN where a run it rests on
    diverged), from :func:`summarize` per method (``stats``) and the ensembles (``ens``, for divergence):

    'ens_distinct' the smallest of the four methods' disagreements; 'ens_diversity_M' disagreement(M) /
    disagreement(deep); 'ens_slice_M' centroid − worst member loss of members 0, 1, 2; 'ens_barrier_deep'
    the barrier between deep members and 'ens_barrier_M' barrier(M) / barrier(deep), for each trajectory
    method M. Used in :ref:`ch-ensembles`.

    >>> one = dict(disagreement=torch.tensor([0.4, 0.2]), centroid=torch.tensor([2.0, 1.0]),
    ...            worst=torch.tensor([0.5, 0.5]), barrier=torch.tensor([1.0, 0.5]))
    >>> stats = {m: one for m in METHODS}
    >>> ens = {m: Ensemble(m, None, torch.zeros(2, 3, 1), torch.zeros(2, 3, 1), 0) for m in METHODS}
    >>> ens["fge"].diverged[1, 2] = True  # repetition 1 of FGE diverged
    >>> v = claim_values(stats, ens)
    >>> v["ens_diversity_fge"], v["ens_slice_deep"], v["ens_distinct"]
    ([1.0, nan], [1.5, 0.5], [0.4000000059604645, nan])
    """
    bad = {m: e.diverged.any(1) for m, e in ens.items()}
    any_bad = torch.stack(list(bad.values())).any(0)

    def rep(t: torch.Tensor, mask: torch.Tensor) -> list[float]:
        return torch.where(mask, torch.full_like(t, math.nan), t).tolist()

    s = {m: {k: v.float() for k, v in st.items()} for m, st in stats.items()}
    excess = {m: st["centroid"] - st["worst"] for m, st in s.items()}
    out = {"ens_distinct": rep(torch.stack([st["disagreement"] for st in s.values()]).amin(0), any_bad),
           "ens_slice_deep": rep(excess["deep"], bad["deep"]),
           "ens_barrier_deep": rep(s["deep"]["barrier"], bad["deep"])}
    for m in TRAJECTORY_METHODS:
        both = bad[m] | bad["deep"]
        out[f"ens_diversity_{m}"] = rep(s[m]["disagreement"] / s["deep"]["disagreement"], both)
        out[f"ens_slice_{m}"] = rep(excess[m], bad[m])
        out[f"ens_barrier_{m}"] = rep(s[m]["barrier"] / s["deep"]["barrier"], both)
    return out


def outcome_sentence(parts: list[verdicts.Verdict]) -> str:
    """The parts of a claim grouped by state, in words, labelled by the part names' method suffix.

    >>> v = [verdicts.Verdict(f"x_{m}", s, 0.0, 0.0, 0.0, n, "") for m, s, n in (("fge", "reproduced", 3),
    ...      ("snapshot", "reproduced", 3), ("swa", "partly reproduced", 3), ("deep", "not reproduced", 0))]
    >>> print(outcome_sentence(v))  # doctest: +NORMALIZE_WHITESPACE
    Clear of the seed noise for FGE and snapshot; inside the seed noise for SWA iterates;
    not measured (runs diverged) for deep ensemble.
    """
    words = {"reproduced": "clear of the seed noise for", "partly reproduced": "inside the seed noise for",
             "not reproduced": "not seen for", "": "not measured (runs diverged) for"}
    out = []
    for state, phrase in words.items():
        names = [LABELS.get(p.name.rsplit("_", 1)[-1], p.name) for p in parts
                 if (p.state if p.n else "") == state]
        if names:
            out.append(f"{phrase} {', '.join(names[:-1]) + ' and ' if len(names) > 1 else ''}{names[-1]}")
    text = "; ".join(out)
    return text[:1].upper() + text[1:] + "."


def judge_all(claims: Mapping[str, verdicts.Claim], values: Mapping[str, list[float]],
              scale: str) -> dict[str, verdicts.Verdict]:
    """Judge every claim (in declared order) on its values per repetition (:func:`claim_values`), then each
    claim of several parts (``GROUPS``) with :func:`wedges_lib.verdicts.combine`; records '{group}_sentence',
    the parts by state in words (:func:`outcome_sentence`). Never raises for an outcome.
    Used in :ref:`ch-ensembles`."""
    out = {n: verdicts.judge(c, values[n], scale, unit="repetitions") for n, c in claims.items()}
    for group in GROUPS:
        parts = [v for n, v in out.items() if n.startswith(group + "_")]
        out[group] = verdicts.combine(group, parts)
        record(f"{group}_sentence", outcome_sentence(parts))
    return out


def results(stats: Mapping[str, Mapping[str, torch.Tensor]], ens: Mapping[str, Ensemble]):
    """The methods side by side, as a styled pandas table, each number recorded as 'ens_{method}_{key}': the
    full ensemble's test accuracy 'acc' and 'nll', its 'gain' in accuracy over a member, 'disagreement',
    'weight_cosine', 'distance', 'barrier', the training loss at the centroid of members 0, 1, 2
    ('centroid') and of the worst of them ('worst'), all means over the repetitions; 'diverged' repetitions
    (also their total, 'ens_diverged'), and the SWA average's accuracy 'ens_swa_avg_acc'.
    Used in :ref:`ch-ensembles`."""
    import pandas as pd

    keys = {"acc": "ensemble acc.", "nll": "NLL", "gain": "gain over a member", "disagreement": "disagreement",
            "weight_cosine": "weight cosine", "distance": "distance", "barrier": "line barrier",
            "centroid": "centroid loss", "worst": "worst member loss", "diverged": "diverged"}
    rows = {}
    for m, st in stats.items():
        mean = final_means(st) | {"diverged": int(ens[m].diverged.any(1).sum())}
        for k in keys:
            record(f"ens_{m}_{k}", mean[k])
        rows[LABELS[m]] = {label: mean[k] for k, label in keys.items()}
    record("ens_diverged", sum(r["diverged"] for r in rows.values()))
    if "swa" in stats:
        record("ens_swa_avg_acc", final_means(stats["swa"])["swa_acc"])
    return pd.DataFrame(rows).T.style.format("{:.3g}")
