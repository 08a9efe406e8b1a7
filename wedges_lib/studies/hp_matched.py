"""Chapter 03's measurements at matched training loss (the first half of its study, :mod:`.ch03_hyperparameters`).

A *setting* (lr, width, l2) trains ``n_seeds`` members in one vmapped pass (:func:`run_setting`), recording each
member's training loss (the data loss, without the L2 term) and radius every ``record_every`` steps. The study
fixes its loss bands from the losses alone (:func:`loss_band`, :func:`late_band`), then measures the data loss's
local curvature (λ_max by Lanczos, Tr(H) by Hutchinson with its standard error) and its **large-scale** curvature
(the mean loss rise along random directions at distances ρ·‖θ‖, one batched evaluation per point:
:func:`wedges_lib.landscape.loss_at_distances`) at initialisation and at the two records bracketing each loss of
the bands (:func:`add_band_curvature`). Settings are compared at matched training loss (:func:`at_loss`,
:func:`matched`: interpolated in log loss), never at matched step. Shapes: a trajectory is (T, D) for one run or
(T, K, D) for K members; per-point results drop D.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from tqdm import tqdm  # a text bar on a terminal only (disable=None): no widget in the book

from .. import curvature, landscape, params, train
from ..config import Config
from ..data import Dataset
from ..presets import SPECS
from ..validation import check_arg

KNOBS = ("lr", "width", "l2")
STATUSES = ("trained", "diverged", "stuck")


def curvature_along(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, trajectory: torch.Tensor, *,
                    n_probes: int = 10, tol: float = 1e-2, seed: int = 0, valid: torch.Tensor | None = None,
                    rhos: Sequence[float] = (), n_directions: int = 4, quiet: bool = True) -> dict[str, torch.Tensor]:
    """Largest Hessian eigenvalue, trace (and its standard error), radius and loss on (x, y) at each point, and
    the large-scale loss rise 'rise': the mean over ``n_directions`` random unit directions d of
    L(θ + ρ‖θ‖d) − L(θ), per ρ of ``rhos``.

    ``trajectory`` is (T, D) or (T, K, D); every result is (T,) or (T, K), 'rise' (T, R) or (T, K, R). Points
    where ``valid`` (same shape as the results) is False, or whose parameters are not finite, give NaN. The
    Lanczos start, the Hutchinson probes and the directions at point t use ``seed + t``, the same for every member.
    Used in :ref:`ch-hyperparameters`.
    """
    check_arg("trajectory", tuple(trajectory.shape), trajectory.ndim in (2, 3), "shape (T, D) or (T, K, D)")
    check_arg("n_probes", n_probes, isinstance(n_probes, int) and n_probes >= 2, "an int >= 2")
    pts = trajectory if trajectory.ndim == 3 else trajectory[:, None]
    T, K, _ = pts.shape
    ok = torch.ones(T, K, dtype=torch.bool) if valid is None else valid.reshape(T, K).cpu().bool()
    ok &= torch.isfinite(pts).all(-1).cpu()
    out = {k: torch.full((T, K), math.nan, dtype=torch.float64) for k in ("lmax", "trace", "trace_se", "loss")}
    out["rise"] = torch.full((T, K, len(rhos)), math.nan, dtype=torch.float64)
    out["radius"] = params.radius(pts).double().cpu()
    f = params.loss_fn(model, x, y)
    todo = [(t, k) for t in range(T) for k in range(K) if ok[t, k]]
    for t, k in tqdm(todo, disable=quiet or None, desc="curvature", leave=False, mininterval=1.0):
        theta = pts[t, k]
        with torch.no_grad():
            out["loss"][t, k] = base = float(f(theta))
            if len(rhos):
                # every distance and direction of a point in one batched pass (fused products for an MLP)
                far = landscape.loss_at_distances(model, theta, list(rhos), n=n_directions, seed=seed + t, x=x, y=y)
                out["rise"][t, k] = far.double().cpu().mean(1) - base
        out["lmax"][t, k] = float(curvature.top_eigenvalues(f, theta, 1, tol=tol, seed=seed + t)[0][0])
        est = curvature.trace(f, theta, n_probes=n_probes, seed=seed + t, batch=1)
        out["trace"][t, k], out["trace_se"][t, k] = est.value, est.stderr
    return out if trajectory.ndim == 3 else {k: v[:, 0] for k, v in out.items()}


def member_status(run: dict) -> list[str]:
    """Per member of a :func:`run_setting` result: 'diverged' (the trainer stopped it), 'stuck' (its final
    training loss is above 90 % of the initial one, e.g. dead ReLUs after a too-large step) or 'trained'.
    Used in :ref:`ch-hyperparameters`."""
    loss = run["loss"]
    return ["diverged" if bool(d) else "stuck" if not bool(loss[-1, k] < 0.9 * loss[0, k]) else "trained"
            for k, d in enumerate(run["diverged"])]


def trained(run: dict) -> torch.Tensor:
    """Which members of ``run`` trained (neither diverged nor stuck): bool (K,). Used in :ref:`ch-hyperparameters`."""
    return torch.tensor([s == "trained" for s in member_status(run)])


def run_setting(cfg: Config, data: Dataset, *, lr: float, width: float, l2: float, quiet: bool = True,
                keep: bool = False) -> dict:
    """Train ``cfg.n_seeds`` members (seeds ``cfg.seed`` ...) at (lr, width, l2) for ``cfg.steps`` steps,
    recording every ``cfg.record_every`` steps the loss on the whole training set and the radius.

    Returns plain tensors (so it caches): 'step' (T,); 'loss', 'test_acc', 'radius', and 'lmax', 'trace',
    'trace_se' (T, K), 'rise' (T, K, R) for the R distances ``cfg.hp_rhos`` (all NaN until
    :func:`add_band_curvature` measures them); 'diverged', 'diverged_step' (K,); 'lr', 'width', 'l2', 'D'. The
    loss after a member diverged is NaN. ``keep`` adds the network '_model' and its '_trajectory' (T, K, D),
    which :func:`add_band_curvature` needs and then drops. Used in :ref:`ch-hyperparameters`.
    """
    lr, width, l2 = (SPECS[k].check(k, v) for k, v in (("lr", lr), ("width", width), ("l2", l2)))
    # exactly the knobs this reads (so a cache key holds exactly these), the sweep's in place of the base ones
    c = Config(seed=cfg.seed, model=cfg.model, width=width, device=cfg.device, optimizer=cfg.optimizer, lr=lr,
               momentum=cfg.momentum, l2=l2, schedule=cfg.schedule, batch_size=cfg.batch_size,
               steps=cfg.steps, record_every=cfg.record_every)
    seeds = list(range(cfg.seed, cfg.seed + cfg.n_seeds))
    res = train.train_config(c, data, seeds=seeds, keep_trajectory=keep, quiet=quiet)
    h, steps = res.history, res.history["step"]
    valid = ~(res.diverged[None, :] & (steps[:, None] >= res.diverged_step[None, :]))
    nan = torch.full(h["loss"].shape, math.nan, dtype=torch.float64)
    out = dict(step=steps, loss=h["loss"].double().masked_fill(~valid, math.nan), test_acc=h["test_acc"].double(),
               radius=h["radius"].double(), lmax=nan, trace=nan.clone(), trace_se=nan.clone(),
               rise=nan[..., None].repeat(1, 1, len(cfg.hp_rhos)), diverged=res.diverged,
               diverged_step=res.diverged_step, lr=float(lr), width=float(width), l2=float(l2),
               D=int(res.theta.shape[-1]))
    return {**out, "_model": res.model, "_trajectory": res.trajectory} if keep else out


def bracketing(loss: torch.Tensor, targets: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """The records :func:`at_loss` interpolates between: loss (T, K) -> bool (T, K), True at the first record
    where each member's loss falls to each target and at the record before it.

    >>> bracketing(torch.tensor([[3.0], [2.0], [1.0], [0.5]]), [1.5]).flatten().tolist()
    [False, True, True, False]
    """
    L = loss.double().reshape(loss.shape[0], -1)
    out = torch.zeros(L.shape, dtype=torch.bool)
    for k in range(L.shape[1]):
        for target in torch.as_tensor(targets, dtype=torch.float64).reshape(-1).tolist():
            below = (L[:, k] <= target).nonzero()
            if len(below):
                i = int(below[0])
                out[max(i - 1, 0):i + 1, k] = True
    return out.reshape(loss.shape)


def add_band_curvature(cfg: Config, data: Dataset, run: dict, bands: Sequence[torch.Tensor],
                       quiet: bool = True) -> dict:
    """Measure the curvature of ``run`` (a :func:`run_setting` kept with ``keep=True``) at initialisation and at
    the records that bracket each loss of every band of ``bands``, for every trained member, so that
    :func:`matched` interpolates between measured points ``cfg.record_every`` steps apart; drops the kept
    network and trajectory. Returns ``run``. Used in :ref:`ch-hyperparameters`."""
    need = torch.zeros(run["loss"].shape, dtype=torch.bool)
    need[0] = True  # the value at initialisation: each width's own reference
    for band in bands:
        need |= bracketing(run["loss"], band)
    need &= trained(run)[None, :] & run["lmax"].isnan()
    model, trajectory = run.pop("_model"), run.pop("_trajectory")
    if need.any():
        n, dev = cfg.hp_examples, trajectory.device
        curv = curvature_along(model, data.x_train[:n].to(dev), data.y_train[:n].to(dev), trajectory,
                               n_probes=cfg.hp_probes, seed=cfg.seed, valid=need, rhos=cfg.hp_rhos,
                               n_directions=cfg.hp_directions, quiet=quiet)
        for k in ("lmax", "trace", "trace_se", "rise"):
            where = need if k != "rise" else need[..., None]
            run[k] = torch.where(where, curv[k], run[k])
    return run


def at_loss(loss: torch.Tensor, values: torch.Tensor, targets: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """``values`` where ``loss`` first falls to each target: loss, values (T,) or (T, K) -> (M,) or (M, K).

    Linear interpolation in log(loss) between the two recorded points that bracket the crossing;
    NaN where the loss never reaches the target (or either bracketing value is NaN).
    Used in :ref:`ch-hyperparameters`.
    """
    check_arg("values", tuple(values.shape), values.shape == loss.shape, f"the shape of loss, {tuple(loss.shape)}")
    targets = torch.as_tensor(targets, dtype=torch.float64).reshape(-1)
    L = loss.double().reshape(loss.shape[0], -1)
    V = values.double().reshape(L.shape)
    out = torch.full((len(targets), L.shape[1]), math.nan, dtype=torch.float64)
    for k in range(L.shape[1]):
        for m, target in enumerate(targets.tolist()):
            below = (L[:, k] <= target).nonzero()
            if len(below) == 0:
                continue
            i = int(below[0])
            if i == 0:
                out[m, k] = V[0, k]
                continue
            l0, l1 = math.log(L[i - 1, k]), math.log(L[i, k])
            w = (l0 - math.log(target)) / (l0 - l1) if l0 != l1 else 1.0
            out[m, k] = (1 - w) * V[i - 1, k] + w * V[i, k]
    return out if loss.ndim == 2 else out[:, 0]


def common_loss(runs: Sequence[dict]) -> float:
    """The lowest training loss every trained member of ``runs`` reached: where they can all be compared.
    NaN when no member trained (all diverged or stuck): there is nothing to compare."""
    reached = [float(r["loss"][:, k].min()) for r in runs for k, s in enumerate(member_status(r)) if s == "trained"]
    return max(reached) if reached else math.nan


def loss_band(runs: Sequence[dict], n: int = 5) -> torch.Tensor:
    """The **early** band: n training losses (n,), log-spaced from :func:`common_loss` up to its geometric mean
    with the initial loss: the stretch of the path that every trained run covers, past the first transient (NaN
    when no run trained). Used in :ref:`ch-hyperparameters`."""
    check_arg("n", n, isinstance(n, int) and n >= 1, "an int >= 1")
    low = common_loss(runs)
    if math.isnan(low):
        return torch.full((n,), math.nan, dtype=torch.float64)
    start = float(torch.cat([r["loss"][0].reshape(-1) for r in runs]).nanmean())
    band = torch.logspace(math.log10(low), math.log10(math.sqrt(low * max(start, low))), n, dtype=torch.float64)
    band[0] = low  # exactly: 10 ** log10(low) may round below it, a loss the run that set it never reached
    return band


def late_band(runs: Sequence[dict], n: int = 5, span: float = 1.25) -> torch.Tensor:
    """The **late** band of one sweep: n training losses (n,), log-spaced from :func:`common_loss` of ``runs`` up
    to ``span`` times it: just above the lowest loss every trained run of the sweep reaches, near the final loss
    of its slowest run (NaN when no run trained). Used in :ref:`ch-hyperparameters`.

    >>> r = {"loss": torch.tensor([[2.0], [0.4]]), "diverged": torch.tensor([False])}
    >>> [round(x, 6) for x in late_band([r], n=2, span=2.0).tolist()]
    [0.4, 0.8]
    """
    check_arg("n", n, isinstance(n, int) and n >= 1, "an int >= 1")
    low = common_loss(runs)
    if math.isnan(low):
        return torch.full((n,), math.nan, dtype=torch.float64)
    band = torch.logspace(math.log10(low), math.log10(low * span), n, dtype=torch.float64)
    band[0] = low
    return band


def quantities(run: dict) -> dict[str, torch.Tensor]:
    """Every quantity the study compares, per record and member (T, K): the measured 'lmax', 'trace',
    'trace_se'; 'lmax_rel', 'trace_rel' (over the member's value at initialisation: each width on its own
    scale); 'rise{i}' (the loss rise at the i-th ρ); 'eos' (λ_max·lr/2, the edge-of-stability ratio); 'radius',
    'radius_ratio' (over the initial radius) and 'step'. Used in :ref:`ch-hyperparameters`."""
    out = {k: run[k] for k in ("lmax", "trace", "trace_se", "radius")}
    out.update(lmax_rel=run["lmax"] / run["lmax"][0], trace_rel=run["trace"] / run["trace"][0],
               eos=run["lmax"] * run["lr"] / 2, radius_ratio=run["radius"] / run["radius"][0],
               step=run["step"].double()[:, None].expand_as(run["loss"]))
    out.update({f"rise{i}": run["rise"][..., i] for i in range(run["rise"].shape[-1])})
    return out


def matched(runs: Sequence[dict], targets: float | Sequence[float] | torch.Tensor) -> dict[str, torch.Tensor]:
    """Each member's value of every key of :func:`quantities` where its training loss reaches ``targets``,
    averaged over the targets: (V, K) per key for V runs. NaN for members that diverged, are stuck, or do not
    reach every target (a band the run does not cover is not averaged over its part). Used in
    :ref:`ch-hyperparameters`."""
    out: dict[str, list] = {}
    for r in runs:
        keep = trained(r)
        for k, v in quantities(r).items():
            out.setdefault(k, []).append(at_loss(r["loss"], v, targets).mean(0).masked_fill(~keep, math.nan))
    return {k: torch.stack(v) for k, v in out.items()}


def along_band(run: dict, band: torch.Tensor, key: str = "lmax") -> torch.Tensor:
    """``run``'s quantity ``key`` (of :func:`quantities`) where each member's loss reaches each loss of ``band``:
    (n, K), NaN for members that did not train. Used in :ref:`ch-hyperparameters`."""
    return at_loss(run["loss"], quantities(run)[key], band).masked_fill(~trained(run)[None, :], math.nan)


def compared(x: torch.Tensor) -> tuple[int, int] | None:
    """The two settings (row indices of x (V, K)) a knob's effect compares: the first and the last with at least
    one measured member; None when fewer than two have one. Used in :ref:`ch-hyperparameters`."""
    rows = (~x.isnan()).any(1).nonzero().flatten().tolist()
    return (rows[0], rows[-1]) if len(rows) >= 2 else None


def knob_effect(x: torch.Tensor) -> torch.Tensor:
    """Per seed, log(x at the last / at the first of the :func:`compared` settings), x (V, K) > 0 -> (K,): the
    effect of turning the knob up, paired by seed; NaN for a seed not measured at both (or with x <= 0).
    Used in :ref:`ch-hyperparameters`.

    >>> knob_effect(torch.tensor([[2.0, 1.0], [1.0, float('nan')], [1.0, 4.0]])).tolist()
    [-0.6931471805599453, 1.3862943611198906]
    """
    pair = compared(x)
    if pair is None:
        return torch.full((x.shape[1],), math.nan, dtype=torch.float64)
    first, last = x[pair[0]].double(), x[pair[1]].double()
    ok = (first > 0) & (last > 0)
    return torch.where(ok, (last / first.where(ok, torch.ones_like(first))).log(), math.nan)


def same_direction(effects: Sequence[torch.Tensor]) -> torch.Tensor:
    """The alike statistic, per seed: the weakest of the knobs' effects (each (K,)) in the direction they all
    share, max(min_k e_k, −max_k e_k) -> (K,). Positive exactly when every knob moves the quantity the same way
    (its size is then the smallest effect); negative when they disagree; NaN where a knob is not measured.
    Used in :ref:`ch-hyperparameters`.

    >>> effects = [torch.tensor([-0.5, 0.25]), torch.tensor([-0.125, -0.375]), torch.tensor([-0.25, 0.125])]
    >>> same_direction(effects).tolist()
    [0.125, -0.25]
    """
    e = torch.stack([x.double() for x in effects])
    out = torch.maximum(e.min(0).values, -e.max(0).values)
    return out.masked_fill(e.isnan().any(0), math.nan)
