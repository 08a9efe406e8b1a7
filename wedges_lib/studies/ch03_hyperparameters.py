"""Chapter 03's study: curvature at matched training loss along trajectories, sweeping lr, width and L2.

A *setting* (lr, width, l2) trains ``n_seeds`` members in one vmapped pass (:func:`run_setting`), recording each
member's training loss and radius every ``record_every`` steps. :func:`run` trains every setting of the three
sweeps once, fixes **one** loss band for all of them (:func:`loss_band`: the training loss every trained member
covers) and only then measures the data loss's curvature (λ_max by Lanczos, Tr(H) by Hutchinson with its standard
error; no L2 term) at the two records bracketing each loss of the band (:func:`add_band_curvature`). Settings are
compared at matched training loss (:func:`at_loss`, :func:`matched`: interpolated in log loss), never at matched
step. A knob's effect is the per-seed log ratio between its last and first trained setting (:func:`knob_effect`);
whether the knobs act alike is tested on :func:`overlay_points` by :mod:`wedges_lib.overlay`. Shapes: a trajectory
is (T, D) for one run or (T, K, D) for K members; per-point results drop D.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from tqdm import tqdm  # a text bar on a terminal only (disable=None): no widget in the book

from .. import cache, curvature, overlay, params, plots, train, verdicts
from ..config import Config
from ..data import Dataset
from ..presets import SPECS
from ..validation import check_arg
from ..verdicts import interval, interval_text

KNOBS = ("lr", "width", "l2")
QUANTITIES = ("lmax", "trace", "radius_ratio")  # what the sweeps compare at matched loss
STATUSES = ("trained", "diverged", "stuck")
NAMES = {"lr": "lr", "width": "width ×", "l2": "L2"}


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
    for t, k in tqdm(todo, disable=quiet or None, desc="curvature", leave=False, mininterval=1.0):
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


def run_setting(cfg: Config, data: Dataset, *, lr: float, width: float, l2: float, quiet: bool = True,
                keep: bool = False) -> dict:
    """Train ``cfg.n_seeds`` members (seeds ``cfg.seed`` ...) at (lr, width, l2) for ``cfg.steps`` steps,
    recording every ``cfg.record_every`` steps the loss on the whole training set and the radius.

    Returns plain tensors (so it caches): 'step' (T,); 'loss', 'test_acc', 'radius', and 'lmax', 'trace',
    'trace_se' (T, K) (all NaN until :func:`add_band_curvature` measures them); 'diverged', 'diverged_step' (K,);
    'lr', 'width', 'l2', 'D'. The loss after a member diverged is NaN. ``keep`` adds the network '_model' and
    its '_trajectory' (T, K, D), which :func:`add_band_curvature` needs and then drops.
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
               diverged=res.diverged, diverged_step=res.diverged_step, lr=float(lr), width=float(width),
               l2=float(l2), D=int(res.theta.shape[-1]))
    return {**out, "_model": res.model, "_trajectory": res.trajectory} if keep else out


def _curvature(cfg: Config, data: Dataset, model, trajectory: torch.Tensor, where: torch.Tensor,
               quiet: bool) -> dict[str, torch.Tensor]:
    """:func:`curvature_along` on the Hessian batch of ``cfg``, at the points (T, K) ``where`` is True."""
    n, dev = cfg.hp_examples, trajectory.device
    return curvature_along(model, data.x_train[:n].to(dev), data.y_train[:n].to(dev), trajectory,
                           n_probes=cfg.hp_probes, seed=cfg.seed, valid=where, quiet=quiet)


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


def add_band_curvature(cfg: Config, data: Dataset, run: dict, targets: torch.Tensor, quiet: bool = True) -> dict:
    """Measure the curvature of ``run`` (a :func:`run_setting` kept with ``keep=True``) at the records that
    bracket each target loss, for every trained member, so that :func:`matched` interpolates between measured
    points ``cfg.record_every`` steps apart; drops the kept network and trajectory. Returns ``run``."""
    trained = torch.tensor([s == "trained" for s in member_status(run)])
    need = bracketing(run["loss"], targets) & trained[None, :] & run["lmax"].isnan()
    model, trajectory = run.pop("_model"), run.pop("_trajectory")
    if need.any():
        curv = _curvature(cfg, data, model, trajectory, need, quiet)
        for k in ("lmax", "trace", "trace_se"):
            run[k] = torch.where(need, curv[k], run[k])
    return run


def run(cfg: Config, data: Dataset) -> dict:
    """The three sweeps of chapter 03, one :func:`wedges_lib.cache.cached` computation: for each knob ('lr',
    'width', 'l2') one :func:`run_setting` per value in ``cfg.lrs``, ``cfg.widths``, ``cfg.l2s``, the other two
    knobs at the base ``cfg.lr``, ``cfg.width``, ``cfg.l2`` (a setting met twice is trained once); then one
    :func:`loss_band` over all of them, and the curvature at the records bracketing it
    (:func:`add_band_curvature`). Returns 'sweeps' {knob: [run, ...]} and 'band' (n,).
    Used in :ref:`ch-hyperparameters`."""
    values = {k: tuple(float(v) for v in cfg[f"{k}s"]) for k in KNOBS}
    return cache.cached("hp_study", cfg, _study, data=data, values=values)


def _study(cfg: Config, data: Dataset, values: dict) -> dict:
    """The computation :func:`run` caches."""
    base = {k: cfg[k] for k in KNOBS}
    runs: dict[tuple, dict] = {}
    keys = {knob: [tuple({**base, knob: v}[k] for k in KNOBS) for v in values[knob]] for knob in KNOBS}
    for key in dict.fromkeys(key for ks in keys.values() for key in ks):
        runs[key] = run_setting(cfg, data, **dict(zip(KNOBS, key)), keep=True)
    band = loss_band(list(runs.values()))
    for run in runs.values():
        add_band_curvature(cfg, data, run, band)
    return {"sweeps": {knob: [runs[key] for key in ks] for knob, ks in keys.items()}, "band": band}


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
    """The lowest training loss every trained member of ``runs`` reached: where they can all be compared.
    NaN when no member trained (all diverged or stuck): there is nothing to compare."""
    reached = [float(r["loss"][:, k].min()) for r in runs for k, s in enumerate(member_status(r)) if s == "trained"]
    return max(reached) if reached else math.nan


def loss_band(runs: Sequence[dict], n: int = 5) -> torch.Tensor:
    """n training losses (n,), log-spaced from :func:`common_loss` up to its geometric mean with the initial
    loss: the stretch of the path that every trained run covers, past the first transient (NaN when no run
    trained). Used in :ref:`ch-hyperparameters`."""
    check_arg("n", n, isinstance(n, int) and n >= 1, "an int >= 1")
    low = common_loss(runs)
    if math.isnan(low):
        return torch.full((n,), math.nan, dtype=torch.float64)
    start = float(torch.cat([r["loss"][0].reshape(-1) for r in runs]).nanmean())
    band = torch.logspace(math.log10(low), math.log10(math.sqrt(low * max(start, low))), n, dtype=torch.float64)
    band[0] = low  # exactly: 10 ** log10(low) may round below it, a loss the run that set it never reached
    return band


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


def compared(x: torch.Tensor) -> tuple[int, int] | None:
    """The two settings (row indices of x (V, K)) a knob's effect compares: the first and the last with at least
    one measured member; None when fewer than two have one."""
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


def effects(m: dict[str, dict[str, torch.Tensor]]) -> dict[str, dict[str, torch.Tensor]]:
    """:func:`knob_effect` of every quantity in ``QUANTITIES`` of every knob's :func:`matched` values ``m[knob]``:
    (K,) per knob and quantity. Used in :ref:`ch-hyperparameters`."""
    return {k: {q: knob_effect(mk[q]) for q in QUANTITIES} for k, mk in m.items()}


def direction(effect: torch.Tensor) -> str:
    """'rises' / 'falls' when the whole 95 % interval of the mean effect (K,) is above / below 0, else 'shows no
    clear change' (within the seed noise, or not measured). Used in :ref:`ch-hyperparameters`."""
    mean, lo, hi, n = interval(effect.tolist())
    return "rises" if n and lo > 0 else "falls" if n and hi < 0 else "shows no clear change"


def factor(effect: torch.Tensor) -> str:
    """A log-ratio effect (K,) as a factor with its 95 % interval over seeds, e.g. '×0.62 [0.51, 0.75]'.

    Used in :ref:`ch-hyperparameters`."""
    mean, lo, hi, n = interval(effect.tolist())
    if n == 0:
        return "not measured"
    return f"×{math.exp(mean):.3g}" + (f" [{math.exp(lo):.3g}, {math.exp(hi):.3g}]" if n > 1 else "")


def trained(run: dict) -> torch.Tensor:
    """Which members of ``run`` trained (neither diverged nor stuck): bool (K,)."""
    return torch.tensor([s == "trained" for s in member_status(run)])


def along_band(run: dict, band: torch.Tensor, key: str = "lmax") -> torch.Tensor:
    """``run[key]`` (or 'radius_ratio') where each member's loss reaches each loss of ``band``: (n, K), NaN for
    members that did not train."""
    v = run["radius"] / run["radius"][0] if key == "radius_ratio" else run[key]
    return at_loss(run["loss"], v, band).masked_fill(~trained(run)[None, :], math.nan)


def summary(sweeps: dict[str, list[dict]], band: torch.Tensor):
    """A table (a pandas Styler, no index), one row per setting of every sweep: its members' fate, final loss and
    r/r0, and the mean [95 % interval over trained members] of λ_max, trace and r/r0 at matched loss (:func:`matched`
    over ``band``). Used in :ref:`ch-hyperparameters`."""
    import pandas as pd

    rows = []
    for knob, runs in sweeps.items():
        m = matched(runs, band)
        for i, r in enumerate(runs):
            st = member_status(r)
            fate = ", ".join(f"{st.count(s)} {s}" for s in STATUSES if st.count(s))
            if "diverged" in st:
                fate += f" (step {int(r['diverged_step'][r['diverged']].min())})"
            final = r["loss"][-1].nanmean()  # NaN: every member diverged
            row = {"knob": knob, "value": f"{r[knob]:g}", "members": fate,
                   "final loss": "diverged" if final.isnan() else f"{float(final):.3g}",
                   "final r/r0": f"{float((r['radius'][-1] / r['radius'][0]).nanmean()):.3g}"}
            for k, name in (("lmax", "λ_max"), ("trace", "trace"), ("radius_ratio", "r/r0")):
                row[f"{name} at matched loss"] = interval_text(m[k][i], missing="—")
            rows.append(row)
    return pd.DataFrame(rows).style.hide(axis="index")  # the book's formatting: no index, 3 significant digits


def sweep_numbers(sweeps: dict[str, list[dict]], band: torch.Tensor,
                  m: dict[str, dict[str, torch.Tensor]]) -> dict[str, str | float | int]:
    """The numbers the text of the sweeps quotes: the loss 'band'; per knob the two settings compared
    '{knob}_from', '{knob}_to', per quantity the effect as a factor '{knob}_{q}_factor' (:func:`factor`) and
    each compared setting's value '{knob}_{q}_at_from', '{knob}_{q}_at_to'
    (:func:`wedges_lib.verdicts.interval_text`); the runs that did not train 'failed_runs' (text), the count
    of diverged members 'diverged' and the mean standard error of the trace 'trace_se'.
    Used in :ref:`ch-hyperparameters`."""
    out: dict[str, str | float | int] = {"band": f"{band[0]:.2g}–{band[-1]:.2g}"}
    for knob, runs in sweeps.items():
        pair = compared(m[knob]["lmax"])
        out[f"{knob}_from"], out[f"{knob}_to"] = (f"{runs[i][knob]:g}" for i in pair) if pair else ("—", "—")
        for q in QUANTITIES:
            out[f"{knob}_{q}_factor"] = factor(knob_effect(m[knob][q]))
            for end, i in zip(("from", "to"), pair or (None, None)):
                out[f"{knob}_{q}_at_{end}"] = (interval_text(m[knob][q][i], missing="—") if i is not None
                                                 else "—")
    seen = {id(r): (k, r) for k, runs in sweeps.items() for r in runs}.values()  # a shared setting once
    fates = [f"{k} {r[k]:g} ({s})" for k, r in seen for s in sorted(set(member_status(r)) - {"trained"})]
    out["failed_runs"] = ", ".join(fates) or "none"
    out["diverged"] = sum(int(r["diverged"].sum()) for _, r in seen)
    out["trace_se"] = float(torch.cat([r["trace_se"].flatten() for _, r in seen]).nanmean())
    return out


def knob_paths(runs: Sequence[dict], knob: str, band: torch.Tensor) -> list[dict]:
    """What :func:`wedges_lib.plots.draw_knob` draws of one knob's sweep, as plain tensors, one dict per run:
    'name' (the value, and the fate of members that did not train), 'all_trained'; 'loss' (the ``band``) and
    'lmax' (seed means over trained members at those losses, :func:`along_band`; None if none trained);
    'step', 'radius_ratio' (T,) (r/r0, mean over all members); 'ratio_range' (low, high) of r/r0 over trained
    members (None); 'diverged_steps' (list). Used in :ref:`ch-hyperparameters`."""
    out = []
    for r in runs:
        st, ok = member_status(r), trained(r)
        ratio = r["radius"] / r["radius"][0]
        fate = "" if ok.all() else f" ({', '.join(sorted(set(st) - {'trained'}))})"
        any_ok = bool(ok.any())
        out.append(dict(name=f"{NAMES[knob]} {r[knob]:g}{fate}", all_trained=bool(ok.all()), loss=band,
                        lmax=along_band(r, band)[:, ok].mean(1) if any_ok else None,
                        step=r["step"], radius_ratio=ratio.mean(1),
                        ratio_range=(float(ratio[:, ok].min()), float(ratio[:, ok].max())) if any_ok else None,
                        diverged_steps=r["diverged_step"][r["diverged"]].tolist()))
    return out


def overlay_points(sweeps: dict[str, list[dict]], m: dict[str, dict[str, torch.Tensor]]) -> dict:
    """Every distinct setting of the sweeps once, as the points :mod:`wedges_lib.overlay` tests: 'groups' (the
    knobs whose sweep holds it), 'label' (e.g. 'lr 0.1'; the base setting 'base'), and per quantity of
    ``QUANTITIES`` its log at matched loss, (P, K) (NaN for members that did not train, or values <= 0).
    ``m`` is :func:`matched` per knob. Used in :ref:`ch-hyperparameters`."""
    found: dict[tuple, dict] = {}
    for knob, runs in sweeps.items():
        for i, r in enumerate(runs):
            key = tuple(r[k] for k in KNOBS)
            p = found.setdefault(key, dict(groups=set(), label=f"{NAMES[knob]} {r[knob]:g}",
                                           **{q: m[knob][q][i] for q in QUANTITIES}))
            p["groups"].add(knob)
    pts = list(found.values())
    out = dict(groups=[p["groups"] for p in pts],
               label=["base" if len(p["groups"]) > 1 else p["label"] for p in pts])
    for q in QUANTITIES:
        v = torch.stack([p[q].double() for p in pts])
        out[q] = v.where(v > 0, math.nan).log()
    return out


def effect_table(sweeps: dict[str, list[dict]], m: dict[str, dict[str, torch.Tensor]], badges: dict[str, str]):
    """A table (a pandas Styler, no index), one row per knob and quantity of ``QUANTITIES``: the two settings compared,
    the quantity at matched loss at each (:func:`wedges_lib.verdicts.interval_text`), the effect as a factor
    (:func:`factor`) and the verdict's badge, ``badges['{knob}_{q}']`` ('' where none).
    Used in :ref:`ch-hyperparameters`."""
    import pandas as pd

    num = sweep_numbers(sweeps, torch.ones(1), m)
    names = {"lmax": "λ_max", "trace": "Tr(H)", "radius_ratio": "r/r₀"}
    return pd.DataFrame([{"knob": k, "from → to": f"{num[f'{k}_from']} → {num[f'{k}_to']}", "quantity": names[q],
                          "at the first": num[f"{k}_{q}_at_from"], "at the last": num[f"{k}_{q}_at_to"],
                          "factor [95 %]": num[f"{k}_{q}_factor"], "verdict": badges.get(f"{k}_{q}", "")}
                         for k in sweeps for q in QUANTITIES]).style.hide(axis="index")


CURV = {"lmax": "λ_max", "trace": "Tr(H)"}  # the curvatures judged


def statistics(raw: dict) -> dict:
    """From :func:`run`'s ``raw``: every sweep's quantities at the matched losses of the band ('matched', knob ->
    :func:`matched`), each knob's effect per seed ('effects', :func:`effects`), every setting once as overlay
    points ('points', :func:`overlay_points`), and per curvature of ``CURV`` the overlay statistic per seed
    ('alike', :func:`wedges_lib.overlay.overlay_ratio`) and the slope of one line through all points ('slope').
    Used in :ref:`ch-hyperparameters`."""
    m = {knob: matched(runs, raw["band"]) for knob, runs in raw["sweeps"].items()}
    pts = overlay_points(raw["sweeps"], m)
    x = pts["radius_ratio"]
    return dict(matched=m, effects=effects(m), points=pts,
                alike={q: overlay.overlay_ratio(x, pts[q], pts["groups"]) for q in CURV},
                slope={q: overlay.slopes(x, pts[q]) for q in CURV})


def judge(claims: dict, stats: dict, scale: str) -> dict[str, verdicts.Verdict]:
    """Chapter 03's checks, judged per seed and recorded: each knob's effect on each curvature ('hp_{knob}_{q}')
    and the overlay statistic ('hp_alike_{q}'). Used in :ref:`ch-hyperparameters`."""
    out = {f"hp_{k}_{q}": verdicts.judge(claims[f"hp_{k}_{q}"], stats["effects"][k][q].tolist(), scale)
           for k in KNOBS for q in CURV}
    return out | {f"hp_alike_{q}": verdicts.judge(claims[f"hp_alike_{q}"], stats["alike"][q].tolist(), scale)
                  for q in CURV}


def numbers(raw: dict, stats: dict) -> dict:
    """The numbers chapter 03's prose quotes, by recorded name: :func:`sweep_numbers` (``hp_…``), per curvature
    the slope of one line through all points ('hp_slope_{q}') and each knob's rms offset from the line of the
    other two, as a factor ('hp_off_{q}'). Used in :ref:`ch-hyperparameters`."""
    pts, x = stats["points"], stats["points"]["radius_ratio"]
    num = {f"hp_{k}": v for k, v in sweep_numbers(raw["sweeps"], raw["band"], stats["matched"]).items()}
    for q in CURV:
        num[f"hp_slope_{q}"] = verdicts.interval_text(stats["slope"][q], missing="—")
        off = overlay.knob_residuals(x, pts[q], pts["groups"]).items()
        num[f"hp_off_{q}"] = ", ".join(f"{k} {factor(r)}" for k, r in off)
    return num


def figures(which: str, raw: dict, stats: dict):
    """Chapter 03's figures, by name: 'paths' (one column per knob: λ_max against the training loss, with the
    band, and r/r₀ against the step) and 'overlay' (every trained setting at matched loss, each curvature against
    r/r₀, log-log). Returns the figure. Used in :ref:`ch-hyperparameters`."""
    check_arg("which", which, which in ("paths", "overlay"), "'paths' or 'overlay'")
    eff, pts, band = stats["effects"], stats["points"], raw["band"]
    if which == "paths":
        fig, ax = plots.figure(3, 2, width=3.6, height=2.9)
        for j, knob in enumerate(KNOBS):
            plots.draw_knob(ax[0, j], ax[1, j], knob_paths(raw["sweeps"][knob], knob, band), band)
            plots.label(ax[0, j], "training loss", "λ_max (top Hessian eigenvalue)",
                        f"λ_max {direction(eff[knob]['lmax'])} as {knob} grows")
            plots.label(ax[1, j], "step", "radius relative to the start, r/r₀",
                        f"r/r₀ {direction(eff[knob]['radius_ratio'])} as {knob} grows")
        return fig
    fig, ax = plots.figure(2, width=4.2, height=3.4)
    for a, (q, name) in enumerate(CURV.items()):
        plots.draw_overlay(ax[0, a], overlay.figure_points(pts["radius_ratio"], pts[q], pts["groups"], pts["label"]))
        plots.label(ax[0, a], "r / r₀ at matched loss", f"{name} at matched loss",
                    f"{name}: overlay statistic {verdicts.interval_text(stats['alike'][q], 2, missing='—')}")
    return fig
