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

from . import cache, curvature, params, plots, train
from .config import Config, resolve
from .data import Dataset
from .validation import check_arg

KNOBS = ("lr", "width", "l2")
STATUSES = ("trained", "diverged", "stuck")
# what a run_setting result depends on besides (lr, width, l2): its cache key
_SETTING_KEYS = ("seed", "n_seeds", "dataset", "n_train", "model", "optimizer", "momentum", "batch_size", "device",
                 "hp_schedule", "hp_steps", "hp_record_every", "hp_examples", "hp_probes")


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
    c = resolve(cfg.scale, **{**{k: v for k, v in cfg.items() if k != "scale"}, "lr": lr, "width": width, "l2": l2})
    seeds = list(range(c.seed, c.seed + c.n_seeds))
    res = train.train_config(c, data, seeds=seeds, steps=c.hp_steps, record_every=c.hp_record_every,
                             schedule=c.hp_schedule, keep_trajectory=True, quiet=quiet)
    h, steps = res.history, res.history["step"]
    valid = ~(res.diverged[None, :] & (steps[:, None] >= res.diverged_step[None, :]))
    n = c.hp_examples
    curv = curvature_along(res.model, data.x_train[:n].to(res.theta.device), data.y_train[:n].to(res.theta.device),
                           res.trajectory.to(res.theta.device), n_probes=c.hp_probes, seed=c.seed, valid=valid,
                           quiet=quiet)
    loss = h["loss"].double().masked_fill(~valid, math.nan)
    return dict(step=steps, loss=loss, test_acc=h["test_acc"].double(), radius=h["radius"].double(),
                lmax=curv["lmax"], trace=curv["trace"], trace_se=curv["trace_se"], diverged=res.diverged,
                diverged_step=res.diverged_step, lr=float(lr), width=float(width), l2=float(l2),
                D=int(res.theta.shape[-1]))


def sweep_knob(cfg: Config, data: Dataset, knob: str, values: Sequence[float] | None = None, *,
               quiet: bool = True) -> list[dict]:
    """One :func:`run_setting` per value of ``knob`` ('lr', 'width' or 'l2'; default values: ``cfg.lrs`` ...),
    the other two knobs at the base ``cfg.lr``, ``cfg.width``, ``cfg.l2``. Each setting goes through
    :func:`wedges_lib.cache.cached`, so a setting shared by two sweeps is trained once."""
    check_arg("knob", knob, knob in KNOBS, f"one of {', '.join(KNOBS)}")
    values = cfg[f"{knob}s"] if values is None else tuple(values)
    base = {k: cfg[k] for k in KNOBS}
    key = {k: cfg[k] for k in _SETTING_KEYS}
    runs = []
    for v in values:
        setting = {**base, knob: float(v)}
        runs.append(cache.cached("hp_setting", {**key, **setting},
                                 lambda s=setting: run_setting(cfg, data, **s, quiet=quiet)))
    return runs


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
    loss: the stretch of the path that every trained run covers, past the first transient."""
    check_arg("n", n, isinstance(n, int) and n >= 1, "an int >= 1")
    low = common_loss(runs)
    start = float(torch.cat([r["loss"][0].reshape(-1) for r in runs]).nanmean())
    return torch.logspace(math.log10(low), math.log10(math.sqrt(low * max(start, low))), n, dtype=torch.float64)


MATCHED = ("lmax", "trace", "trace_se", "radius", "radius_ratio", "step")


def matched(runs: Sequence[dict], targets: float | Sequence[float] | torch.Tensor) -> dict[str, torch.Tensor]:
    """Each member's value of every key in ``MATCHED`` where its training loss reaches ``targets``, averaged
    over the targets: (V, K) per key for V runs. 'radius_ratio' is the radius over the initial radius
    (comparable across widths). NaN for members that diverged or are stuck."""
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
    """Relative change of the seed mean of x (V, K) from the first to the last measured row: last / first - 1."""
    mean, se = seed_mean(x)
    mean = mean[~se.isnan()]
    return float(mean[-1] / mean[0] - 1) if len(mean) > 1 else math.nan


def describe(x: torch.Tensor, values: Sequence[float], fmt: str = "{:.3g}") -> str:
    """'v1: m1 ± se1, v2: ...' for the seed means of x (V, K) at the knob values; '—' where none trained."""
    mean, se = seed_mean(x)
    def one(m, s):
        return "—" if m.isnan() else fmt.format(m) + ("" if s.isnan() else " ± " + fmt.format(s))

    return ", ".join(f"{v:g}: {one(m, s)}" for v, m, s in zip(values, mean, se))


def summary(sweeps: dict[str, list[dict]], bands: dict[str, torch.Tensor]):
    """A table (pandas DataFrame), one row per setting: its members' fate, final loss and radius, and the
    mean ± standard error over trained members of λ_max, trace and r/r0 over the knob's loss band."""
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


def draw_knob(ax_curv, ax_radius, runs: Sequence[dict], knob: str, band: torch.Tensor) -> None:
    """Two panels for one knob's sweep: λ_max against training loss (seed means; the shaded loss band is
    where the runs are compared) and the radius relative to the start, r/r0, against step. A run that
    diverged or got stuck is dotted and named so in the legend; a diverged one ends in a red cross at the
    step it diverged, drawn at the top of the panel (whose scale the trained runs set)."""
    names = {"lr": "lr", "width": "width ×", "l2": "L2"}
    low, top, crosses = math.inf, 0.0, []
    for r, colour in zip(runs, plots.PALETTE * 4):
        st = member_status(r)
        ok = torch.tensor([s == "trained" for s in st])
        name = f"{names[knob]} {r[knob]:g}" + ("" if ok.all() else f" ({', '.join(sorted(set(st) - {'trained'}))})")
        if ok.any():
            ax_curv.plot(r["loss"][:, ok].mean(1), r["lmax"][:, ok].mean(1), "o-", ms=3, color=colour, label=name)
        ratio = r["radius"] / r["radius"][0]
        ax_radius.plot(r["step"], ratio.mean(1), color=colour, label=name, ls="-" if ok.all() else ":")
        if ok.any():
            low, top = min(low, float(ratio[:, ok].min())), max(top, float(ratio[:, ok].max()))
        crosses += r["diverged_step"][r["diverged"]].tolist()
    ax_curv.axvspan(float(band.min()), float(band.max()), color="grey", alpha=0.15, lw=0)
    ax_curv.set_xscale("log")
    ax_curv.invert_xaxis()
    ax_curv.legend(fontsize=7)
    if top > 0:
        ax_radius.set_ylim(low - 0.05 * (top - low), top + 0.1 * (top - low))
    if crosses:
        plots.diverged_marks(ax_radius, crosses, [True] * len(crosses), ax_radius.get_ylim()[1])
    ax_radius.legend(fontsize=7)


def draw_plane(ax, sweeps: dict[str, list[dict]], bands: dict[str, torch.Tensor], key: str = "lmax") -> None:
    """Every trained setting as a point (r/r0, ``key``) over its knob's loss band, both relative to the
    sweep's first trained setting, so each sweep starts at (1, 1) and the directions compare; seed mean ±
    standard error; one line per knob, its values written beside the points (the first in the legend)."""
    for (knob, runs), colour, marker in zip(sweeps.items(), plots.PALETTE, "osD^v"):
        m = matched(runs, bands[knob])
        (x, xe), (y, ye) = seed_mean(m["radius_ratio"]), seed_mean(m[key])
        ok = ~xe.isnan() & ~ye.isnan()
        if not ok.any():
            continue
        x0, y0 = x[ok][0], y[ok][0]
        kept = [r for r, o in zip(runs, ok) if o]
        ax.errorbar(x[ok] / x0, y[ok] / y0, xerr=xe[ok] / x0, yerr=ye[ok] / y0, color=colour,
                    marker=marker, ms=4, capsize=2, label=f"{knob} sweep, from {kept[0][knob]:g}")
        for r, xi, yi in zip(kept[1:], x[ok][1:] / x0, y[ok][1:] / y0):
            ax.annotate(f"{r[knob]:g}", (float(xi), float(yi)), textcoords="offset points", xytext=(4, 3),
                        fontsize=7, color=colour)
    ax.axhline(1, color="grey", lw=0.8)
    ax.axvline(1, color="grey", lw=0.8)
    ax.legend()
