"""Curvature along training trajectories, and sweeps of one training knob (learning rate, width, L2).

A *setting* is one (lr, width, l2) trained as a stack of ``n_seeds`` members in one vmapped pass
(:func:`run_setting`); along each member's recorded trajectory :func:`curvature_along` measures the
largest Hessian eigenvalue (Lanczos), the Hessian trace (Hutchinson, with its standard error), the
radius and the loss. The Hessian is that of the data loss only — cross-entropy on a fixed training
batch — since an L2 term would add l2 to every eigenvalue and l2 * D to the trace.

Settings are compared at matched training loss (:func:`at_loss`, :func:`matched`), not at matched
step: a run with a small learning rate has simply not got as far, and its curvature at a given step
says more about that than about the region it explores.

Shapes: a trajectory is (T, D) for one run or (T, K, D) for K members; per-point results drop D.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from tqdm.auto import tqdm

from . import cache, curvature, params, train
from .config import Config
from .data import Dataset
from .presets import SPECS
from .validation import check_arg

KNOBS = ("lr", "width", "l2")
QUANTITIES = ("lmax", "trace", "radius_ratio")  # what the sweeps compare at matched loss
STATUSES = ("trained", "diverged", "stuck")


def curvature_along(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, trajectory: torch.Tensor, *,
                    n_probes: int = 10, tol: float = 1e-2, seed: int = 0, valid: torch.Tensor | None = None,
                    quiet: bool = True) -> dict[str, torch.Tensor]:
    """Largest Hessian eigenvalue, trace (and its standard error), radius and loss on (x, y) at each point.

    ``trajectory`` is (T, D) or (T, K, D); every result is (T,) or (T, K). Points where ``valid``
    (same shape as the results) is False, or whose parameters are not finite, give NaN. The Lanczos
    start and the Hutchinson probes at point t use ``seed + t``, the same for every member.
    """
    check_arg("trajectory", tuple(trajectory.shape), trajectory.ndim in (2, 3), "shape (T, D) or (T, K, D)")
    check_arg("n_probes", n_probes, isinstance(n_probes, int) and n_probes >= 2, "an int >= 2")
    pts = trajectory if trajectory.ndim == 3 else trajectory[:, None]
    T, K, _ = pts.shape
    ok = torch.ones(T, K, dtype=torch.bool) if valid is None else valid.reshape(T, K).cpu().bool()
    ok &= torch.isfinite(pts).all(-1).cpu()
    out = {k: torch.full((T, K), math.nan, dtype=torch.float64) for k in ("lmax", "trace", "trace_se", "loss")}
    out["radius"] = params.radius(pts).double().cpu()
    f = params.loss_fn(model, x, y)
    todo = [(t, k) for t in range(T) for k in range(K) if ok[t, k]]
    for t, k in tqdm(todo, disable=quiet, desc="curvature", leave=False, mininterval=1.0):
        theta = pts[t, k]
        with torch.no_grad():
            out["loss"][t, k] = float(f(theta))
        out["lmax"][t, k] = float(curvature.top_eigenvalues(f, theta, 1, tol=tol, seed=seed + t)[0][0])
        est = curvature.trace(f, theta, n_probes=n_probes, seed=seed + t, batch=1)
        out["trace"][t, k], out["trace_se"][t, k] = est.value, est.stderr
    return out if trajectory.ndim == 3 else {k: v[:, 0] for k, v in out.items()}


def member_status(run: dict) -> list[str]:
    """Per member of a :func:`run_setting` result: 'diverged' (the trainer stopped it), 'stuck' (its final
    training loss is above 90 % of the initial one, e.g. dead ReLUs after a too-large step) or 'trained'."""
    loss = run["loss"]
    return ["diverged" if bool(d) else "stuck" if not bool(loss[-1, k] < 0.9 * loss[0, k]) else "trained"
            for k, d in enumerate(run["diverged"])]


def run_setting(cfg: Config, data: Dataset, *, lr: float, width: float, l2: float,
                quiet: bool = True) -> dict:
    """Train ``cfg.n_seeds`` members at (lr, width, l2) for ``cfg.hp_steps`` steps, measuring along the way.

    Every ``cfg.hp_record_every`` steps: the training loss on the whole training set and the radius
    (from the trainer), and on the first ``cfg.hp_examples`` training examples the top Hessian
    eigenvalue and the Hutchinson trace with ``cfg.hp_probes`` probes. Returns plain tensors (so it
    caches): 'step' (T,); 'loss', 'test_acc', 'radius', 'lmax', 'trace', 'trace_se' (T, K);
    'diverged', 'diverged_step' (K,); 'lr', 'width', 'l2', 'D'. Points after a divergence are NaN.
    """
    lr, width, l2 = (SPECS[k].check(k, v) for k, v in (("lr", lr), ("width", width), ("l2", l2)))
    # exactly the knobs this reads (so a cache key holds exactly these), the sweep's in place of the base ones
    c = Config(seed=cfg.seed, model=cfg.model, width=width, device=cfg.device, optimizer=cfg.optimizer, lr=lr,
               momentum=cfg.momentum, l2=l2, schedule=cfg.hp_schedule, batch_size=cfg.batch_size,
               steps=cfg.hp_steps, record_every=cfg.hp_record_every)
    seeds = list(range(cfg.seed, cfg.seed + cfg.n_seeds))
    res = train.train_config(c, data, seeds=seeds, keep_trajectory=True, quiet=quiet)
    h, steps = res.history, res.history["step"]
    valid = ~(res.diverged[None, :] & (steps[:, None] >= res.diverged_step[None, :]))
    n, dev = cfg.hp_examples, res.theta.device
    curv = curvature_along(res.model, data.x_train[:n].to(dev), data.y_train[:n].to(dev), res.trajectory.to(dev),
                           n_probes=cfg.hp_probes, seed=cfg.seed, valid=valid, quiet=quiet)
    loss = h["loss"].double().masked_fill(~valid, math.nan)
    return dict(step=steps, loss=loss, test_acc=h["test_acc"].double(), radius=h["radius"].double(),
                lmax=curv["lmax"], trace=curv["trace"], trace_se=curv["trace_se"], diverged=res.diverged,
                diverged_step=res.diverged_step, lr=float(lr), width=float(width), l2=float(l2),
                D=int(res.theta.shape[-1]))


def sweep_knob(cfg: Config, data: Dataset, knob: str, values: Sequence[float] | None = None, *,
               quiet: bool = True) -> list[dict]:
    """One :func:`run_setting` per value of ``knob`` ('lr', 'width' or 'l2'; default values: ``cfg.lrs`` ...),
    the other two knobs at the base ``cfg.lr``, ``cfg.width``, ``cfg.l2``. Each setting goes through
    :func:`wedges_lib.cache.cached`, so a setting shared by two sweeps is trained once.
    Used in :ref:`ch-hyperparameters`."""
    check_arg("knob", knob, knob in KNOBS, f"one of {', '.join(KNOBS)}")
    values = cfg[f"{knob}s"] if values is None else tuple(values)
    base = {k: cfg[k] for k in KNOBS}
    return [cache.cached("hp_setting", cfg, _setting, data=data, setting={**base, knob: float(v)}, quiet=quiet)
            for v in values]


def _setting(cfg: Config, data: Dataset, setting: dict, quiet: bool) -> dict:
    """The computation :func:`sweep_knob` caches: one :func:`run_setting`."""
    return run_setting(cfg, data, **setting, quiet=quiet)


def at_loss(loss: torch.Tensor, values: torch.Tensor, targets: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """``values`` where ``loss`` first falls to each target: loss, values (T,) or (T, K) -> (M,) or (M, K).

    Linear interpolation in log(loss) between the two recorded points that bracket the crossing;
    NaN where the loss never reaches the target (or either bracketing value is NaN).
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
    """The lowest training loss every trained member of ``runs`` reached: where they can all be compared."""
    reached = [float(r["loss"][:, k].min()) for r in runs for k, s in enumerate(member_status(r)) if s == "trained"]
    if not reached:
        raise ValueError("runs: no member trained (all diverged or stuck); there is no loss to match them at")
    return max(reached)


def loss_band(runs: Sequence[dict], n: int = 5) -> torch.Tensor:
    """n training losses (n,), log-spaced from :func:`common_loss` up to its geometric mean with the initial
    loss: the stretch of the path that every trained run covers, past the first transient.
    Used in :ref:`ch-hyperparameters`."""
    check_arg("n", n, isinstance(n, int) and n >= 1, "an int >= 1")
    low = common_loss(runs)
    start = float(torch.cat([r["loss"][0].reshape(-1) for r in runs]).nanmean())
    return torch.logspace(math.log10(low), math.log10(math.sqrt(low * max(start, low))), n, dtype=torch.float64)


MATCHED = ("lmax", "trace", "trace_se", "radius", "radius_ratio", "step")


def matched(runs: Sequence[dict], targets: float | Sequence[float] | torch.Tensor) -> dict[str, torch.Tensor]:
    """Each member's value of every key in ``MATCHED`` where its training loss reaches ``targets``, averaged
    over the targets: (V, K) per key for V runs. 'radius_ratio' is the radius over the initial radius
    (comparable across widths). NaN for members that diverged or are stuck. Used in :ref:`ch-hyperparameters`."""
    out: dict[str, list] = {k: [] for k in MATCHED}
    for r in runs:
        keep = torch.tensor([s == "trained" for s in member_status(r)])
        derived = {"step": r["step"].double()[:, None].expand_as(r["loss"]),
                   "radius_ratio": r["radius"] / r["radius"][0]}
        for k in out:
            v = at_loss(r["loss"], derived.get(k, r.get(k)), targets).nanmean(0)
            out[k].append(v.masked_fill(~keep, math.nan))
    return {k: torch.stack(v) for k, v in out.items()}


def seed_mean(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over members and its standard error (std / sqrt(count)), ignoring NaN: x (V, K) -> two (V,)."""
    ok = ~x.isnan()
    count = ok.sum(1)
    mean = x.nan_to_num(0).sum(1) / count
    var = ((x - mean[:, None]).nan_to_num(0) ** 2).sum(1) / (count - 1).clamp_min(1)
    return mean, (var / count).sqrt().masked_fill(count < 2, math.nan)


def trend(x: torch.Tensor, *, n_se: float = 3.0, min_rel: float = 0.1) -> int:
    """+1 / -1 when the seed means of x (V, K) rise / fall monotonically along V and the last differs from
    the first by more than ``n_se`` standard errors and ``min_rel`` of the first; else 0. Rows with
    fewer than two measured members (diverged, stuck) are left out."""
    mean, se = seed_mean(x)
    keep = ~se.isnan()
    mean, se = mean[keep], se[keep]
    if len(mean) < 2:
        return 0
    steps, gap = mean.diff(), float(mean[-1] - mean[0])
    big = abs(gap) > n_se * float(se[0].hypot(se[-1])) and abs(gap) > min_rel * abs(float(mean[0]))
    sign = 1 if gap > 0 else -1
    return sign if big and bool((sign * steps > 0).all()) else 0


def change(x: torch.Tensor) -> float:
    """Relative change of the seed mean of x (V, K) from the first to the last measured row: last / first - 1.
    Used in :ref:`ch-hyperparameters`."""
    mean, se = seed_mean(x)
    mean = mean[~se.isnan()]
    return float(mean[-1] / mean[0] - 1) if len(mean) > 1 else math.nan


def describe(x: torch.Tensor, values: Sequence[float], fmt: str = "{:.3g}") -> str:
    """'v1: m1 ± se1, v2: ...' for the seed means of x (V, K) at the knob values; '—' where none trained.
    Used in :ref:`ch-hyperparameters`."""
    mean, se = seed_mean(x)
    def one(m, s):
        return "—" if m.isnan() else fmt.format(m) + ("" if s.isnan() else " ± " + fmt.format(s))

    return ", ".join(f"{v:g}: {one(m, s)}" for v, m, s in zip(values, mean, se))


def summary(sweeps: dict[str, list[dict]], bands: dict[str, torch.Tensor]):
    """A table (pandas DataFrame), one row per setting: its members' fate, final loss and radius, and the
    mean ± standard error over trained members of λ_max, trace and r/r0 over the knob's loss band.
    Used in :ref:`ch-hyperparameters`."""
    import pandas as pd

    rows = []
    for knob, runs in sweeps.items():
        m = matched(runs, bands[knob])
        stats = {k: seed_mean(m[k]) for k in ("lmax", "trace", "radius_ratio")}
        for i, r in enumerate(runs):
            st = member_status(r)
            fate = ", ".join(f"{st.count(s)} {s}" for s in STATUSES if st.count(s))
            if "diverged" in st:
                fate += f" (step {int(r['diverged_step'][r['diverged']].min())})"
            row = {"knob": knob, "value": r[knob], "members": fate, "final loss": float(r["loss"][-1].nanmean()),
                   "final radius": float(r["radius"][-1].mean()),
                   "loss band": f"{float(bands[knob][0]):.2g}–{float(bands[knob][-1]):.2g}"}
            for k, name in (("lmax", "λ_max"), ("trace", "trace"), ("radius_ratio", "r/r0")):
                mu, se = float(stats[k][0][i]), float(stats[k][1][i])
                row[f"{name} in band"] = "—" if math.isnan(mu) else f"{mu:.3g} ± {se:.2g}"
            rows.append(row)
    return pd.DataFrame(rows)


def trends(m: dict[str, dict[str, torch.Tensor]], *, n_se: float, min_rel: float) -> dict[str, dict[str, int]]:
    """:func:`trend` of every quantity in ``QUANTITIES`` of every knob's :func:`matched` values ``m[knob]``.
    Used in :ref:`ch-hyperparameters`."""
    return {k: {q: trend(m[k][q], n_se=n_se, min_rel=min_rel) for q in QUANTITIES} for k in m}


def sweep_numbers(sweeps: dict[str, list[dict]], bands: dict[str, torch.Tensor],
                  m: dict[str, dict[str, torch.Tensor]]) -> dict[str, str | float]:
    """The numbers the text of a knob sweep quotes: per knob and quantity '{knob}_{q}_change' (first to last
    trained setting, as '+12 %'), per knob its loss band '{knob}_band', the 'failed_runs' (text) and the mean
    standard error of the trace 'trace_se'. Used in :ref:`ch-hyperparameters`."""
    out: dict[str, str | float] = {}
    for knob in m:
        for q in QUANTITIES:
            out[f"{knob}_{q}_change"] = f"{100 * change(m[knob][q]):+.0f} %"
        out[f"{knob}_band"] = f"{bands[knob][0]:.2g}–{bands[knob][-1]:.2g}"
    fates = [f"{k} {r[k]:g} ({s})" for k, runs in sweeps.items() for r in runs
             for s in sorted(set(member_status(r)) - {"trained"})]
    out["failed_runs"] = ", ".join(fates) or "none"
    out["trace_se"] = float(torch.cat([r["trace_se"].flatten() for runs in sweeps.values() for r in runs]).nanmean())
    return out


def knob_paths(runs: Sequence[dict], knob: str) -> list[dict]:
    """What :func:`wedges_lib.plots.draw_knob` draws of one knob's sweep, as plain tensors, one dict per run:
    'name' (the value, and the fate of members that did not train), 'all_trained'; 'loss', 'lmax' (T,) seed
    means over trained members (None if none trained); 'step', 'radius_ratio' (T,) (r/r0, mean over all
    members); 'ratio_range' (low, high) of r/r0 over trained members (None); 'diverged_steps' (list).
    Used in :ref:`ch-hyperparameters`."""
    names = {"lr": "lr", "width": "width ×", "l2": "L2"}
    out = []
    for r in runs:
        st = member_status(r)
        ok = torch.tensor([s == "trained" for s in st])
        ratio = r["radius"] / r["radius"][0]
        fate = "" if ok.all() else f" ({', '.join(sorted(set(st) - {'trained'}))})"
        trained = bool(ok.any())
        out.append(dict(name=f"{names[knob]} {r[knob]:g}{fate}", all_trained=bool(ok.all()),
                        loss=r["loss"][:, ok].mean(1) if trained else None,
                        lmax=r["lmax"][:, ok].mean(1) if trained else None,
                        step=r["step"], radius_ratio=ratio.mean(1),
                        ratio_range=(float(ratio[:, ok].min()), float(ratio[:, ok].max())) if trained else None,
                        diverged_steps=r["diverged_step"][r["diverged"]].tolist()))
    return out


def relative_plane(m: dict[str, dict[str, torch.Tensor]], values: dict[str, Sequence[float]],
                   key: str = "lmax") -> dict[str, dict | None]:
    """Per knob, its trained settings as points (r/r0, ``key``) over the knob's loss band, both relative to the
    sweep's first trained setting (so each sweep starts at (1, 1)): 'x', 'xe', 'y', 'ye' (seed mean and standard
    error, (V',)) and the knob 'values' of those settings; None for a knob where no setting trained. ``m`` is
    :func:`matched` per knob, ``values`` the knob values per knob. Used in :ref:`ch-hyperparameters`."""
    out: dict[str, dict | None] = {}
    for knob, mk in m.items():
        (x, xe), (y, ye) = seed_mean(mk["radius_ratio"]), seed_mean(mk[key])
        ok = ~xe.isnan() & ~ye.isnan()
        if not ok.any():
            out[knob] = None
            continue
        x0, y0 = x[ok][0], y[ok][0]
        out[knob] = dict(x=x[ok] / x0, xe=xe[ok] / x0, y=y[ok] / y0, ye=ye[ok] / y0,
                         values=[v for v, o in zip(values[knob], ok) if o])
    return out
