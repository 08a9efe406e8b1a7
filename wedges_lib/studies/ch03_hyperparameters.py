"""Chapter 03's study: curvature at matched training loss along trajectories, sweeping lr, width and L2.

:func:`run` trains every setting of the three sweeps once (:func:`.hp_matched.run_setting`), fixes the loss bands
from the losses alone — the **early** band shared by all sweeps (:func:`.hp_matched.loss_band` over the lr and
width sweeps: strong L2 may hold the data loss above it) and each sweep's own **late** band, near the final loss
of its slowest run (:func:`.hp_matched.late_band`) — and only then measures the curvature there
(:func:`.hp_matched.add_band_curvature`): λ_max, Tr(H), each relative to the member's value at initialisation,
and the large-scale loss rise at distances ρ·‖θ‖. A knob's effect is the per-seed log ratio between its last and
first trained setting (:func:`.hp_matched.knob_effect`); the knobs act **alike** when every knob moves a
quantity the same way (:func:`.hp_matched.same_direction`); the overlay on r/r₀ (:mod:`wedges_lib.overlay`) is a
control. The measurements live in :mod:`.hp_matched`; this module has the study's shape (run / statistics /
judge / numbers / figures) and its tables.
"""
from __future__ import annotations

import math

import torch

from .. import cache, overlay, plots, protocol, verdicts
from ..config import Config
from ..data import Dataset
from ..validation import check_arg
from ..verdicts import interval, interval_text
from .hp_matched import (  # noqa: F401
    KNOBS,
    STATUSES,
    add_band_curvature,
    along_band,
    at_loss,
    bracketing,
    common_loss,
    compared,
    curvature_along,
    knob_effect,
    late_band,
    loss_band,
    matched,
    member_status,
    quantities,
    run_setting,
    same_direction,
    trained,
)

NAMES = {"lr": "lr", "width": "width ×", "l2": "L2"}
BANDS = ("early", "late")
CURV = {"lmax": "λ_max", "trace": "Tr(H)"}  # the local curvatures
MEASURED = ("lmax", "trace", "trace_se", "rise")  # what :func:`.hp_matched.add_band_curvature` measures
SHOWN = {"lmax": "λ_max", "lmax_rel": "λ_max / init", "trace": "Tr(H)", "trace_rel": "Tr(H) / init"}


def run(cfg: Config, data: Dataset) -> dict:
    """The three sweeps of chapter 03, one :func:`wedges_lib.cache.cached` computation: for each knob ('lr',
    'width', 'l2') one run per value in ``cfg.lrs``, ``cfg.widths``, ``cfg.l2s``, the other two knobs at the base
    ``cfg.lr``, ``cfg.width``, ``cfg.l2`` (a setting met twice is trained once); then the bands, and the curvature
    at initialisation and at the records bracketing the bands each run is matched at (the early band and the late
    band of every sweep that holds it). Returns 'sweeps' {knob: [run, ...]}, 'band' (the early
    band, (n,)), 'late' {knob: (n,)}, 'rhos' and 'steps'. Used in :ref:`ch-hyperparameters`."""
    values = {k: tuple(float(v) for v in cfg[f"{k}s"]) for k in KNOBS}
    return cache.cached("hp_study", cfg, _study, data=data, values=values)


def _study(cfg: Config, data: Dataset, values: dict) -> dict:
    """The computation :func:`run` caches."""
    base = {k: cfg[k] for k in KNOBS}
    runs: dict[tuple, dict] = {}
    keys = {knob: [tuple({**base, knob: v}[k] for k in KNOBS) for v in values[knob]] for knob in KNOBS}
    for key in dict.fromkeys(key for ks in keys.values() for key in ks):
        runs[key] = run_setting(cfg, data, **dict(zip(KNOBS, key)), keep=True)
    sweeps = {knob: [runs[key] for key in ks] for knob, ks in keys.items()}
    band = loss_band(list({id(r): r for k in ("lr", "width") for r in sweeps[k]}.values()))
    late = {knob: late_band(sweeps[knob]) for knob in KNOBS}
    starts: dict[float, tuple] = {}  # per width, its initial parameters (K, D) and their curvature
    for key, run_ in runs.items():  # the bands its sweeps match it at: the early one and its sweeps' late ones
        start = run_["_trajectory"][0] if run_["_trajectory"] is not None else None
        _reuse_start(run_, start, starts.get(run_["width"]))
        add_band_curvature(cfg, data, run_, [band, *(late[knob] for knob in KNOBS if key in keys[knob])])
        if start is not None:
            starts.setdefault(run_["width"], (start, {q: run_[q][0] for q in MEASURED}))
    return {"sweeps": sweeps, "band": band, "late": late, "rhos": tuple(cfg.hp_rhos), "steps": cfg.steps}


def _reuse_start(run: dict, start: torch.Tensor | None, known: tuple | None) -> None:
    """Copy into ``run``'s first record the curvature ``known`` = (start (K, D), {key: values}) measured at the same
    initial parameters (every setting of one width starts there: same seeds), for its trained members: a point's
    values depend on the point and the seed only, so :func:`.hp_matched.add_band_curvature` would measure the
    same numbers again."""
    if known is None or start is None or not known[0].equal(start):
        return
    ok = trained(run)
    for q, v in known[1].items():
        run[q][0] = torch.where(ok if v.ndim == 1 else ok[:, None], v, run[q][0])


def bands(raw: dict) -> dict[str, dict[str, torch.Tensor]]:
    """Per band ('early', 'late'), per knob, the losses it is matched over. Used in :ref:`ch-hyperparameters`."""
    return {"early": {k: raw["band"] for k in KNOBS}, "late": raw["late"]}


def rise_key(raw: dict) -> str:
    """The key of the loss rise at the middle distance of ``raw['rhos']`` (ρ = 0.1 at every preset), the one the
    checks judge. Used in :ref:`ch-hyperparameters`."""
    return f"rise{len(raw['rhos']) // 2}"


def compared_quantities(raw: dict) -> dict[str, str]:
    """The quantities each knob's effect is reported on, key -> name. Used in :ref:`ch-hyperparameters`."""
    rise = {f"rise{i}": f"loss rise at ρ = {r:g}" for i, r in enumerate(raw["rhos"])}
    return {**SHOWN, **rise, "eos": "λ_max·lr/2", "radius_ratio": "r/r₀"}


def statistics(raw: dict) -> dict:
    """From :func:`run`'s ``raw``, per band: every sweep's quantities at matched loss ('matched', band -> knob ->
    :func:`.hp_matched.matched`), each knob's effect per seed on every quantity ('effects', band -> knob -> key ->
    (K,)) and the alike statistic per seed ('alike', band -> key -> (K,), :func:`.hp_matched.same_direction`) on
    λ_max and Tr(H) relative to initialisation and on the loss rise; and, on the early band, the overlay points
    ('points'), the overlay statistic per seed ('overlay', :func:`wedges_lib.overlay.overlay_ratio`) and the slope
    of one line through all points ('slope'). Used in :ref:`ch-hyperparameters`."""
    m = {b: {k: matched(raw["sweeps"][k], t) for k, t in ts.items()} for b, ts in bands(raw).items()}
    qs = compared_quantities(raw)
    eff = {b: {k: {q: knob_effect(mk[q]) for q in qs} for k, mk in mb.items()} for b, mb in m.items()}
    alike = {b: {q: same_direction([eff[b][k][q] for k in KNOBS]) for q in ("lmax_rel", "trace_rel", rise_key(raw))}
             for b in BANDS}
    pts = overlay_points(raw["sweeps"], m["early"])
    x = pts["radius_ratio"]
    return dict(matched=m, effects=eff, alike=alike, points=pts,
                overlay={q: overlay.overlay_ratio(x, pts[q], pts["groups"]) for q in CURV},
                slope={q: overlay.slopes(x, pts[q]) for q in CURV})


def checked(raw: dict, stats: dict) -> dict[str, torch.Tensor]:
    """Each declared check's statistic per seed (K,), by check name: the primary 'hp_alike_{lmax,trace}' (late
    band, relative to initialisation), the controls 'hp_alike_early_{lmax,trace}', 'hp_alike_rise',
    'hp_{knob}_{lmax,trace,rise}' (late band) and 'hp_overlay_{lmax,trace}' (early band).
    Used in :ref:`ch-hyperparameters`."""
    a, e, rise = stats["alike"], stats["effects"]["late"], rise_key(raw)
    out = {"hp_alike_lmax": a["late"]["lmax_rel"], "hp_alike_trace": a["late"]["trace_rel"],
           "hp_alike_early_lmax": a["early"]["lmax_rel"], "hp_alike_early_trace": a["early"]["trace_rel"],
           "hp_alike_rise": a["late"][rise]}
    for k in KNOBS:
        out |= {f"hp_{k}_lmax": e[k]["lmax_rel"], f"hp_{k}_trace": e[k]["trace_rel"], f"hp_{k}_rise": e[k][rise]}
    return out | {f"hp_overlay_{q}": stats["overlay"][q] for q in CURV}


def judge(claims: dict, raw: dict, stats: dict, scale: str) -> dict[str, verdicts.Verdict]:
    """Chapter 03's checks (:func:`checked`), judged per seed and recorded. Used in :ref:`ch-hyperparameters`."""
    return {n: verdicts.judge(claims[n], v.tolist(), scale) for n, v in checked(raw, stats).items()}


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


def _fate(run: dict) -> str:
    """'diverged' / 'stuck' when no member trained, else '' (what a missing value in a table means)."""
    st = member_status(run)
    return "" if "trained" in st else ("diverged" if "diverged" in st else "stuck")


def summary(raw: dict, stats: dict):
    """A table (a pandas Styler, no index), one row per setting of every sweep: its members' fate, the decay
    lr·λ·steps its L2 applies, final loss and r/r₀, and the mean [95 % interval over trained members] of λ_max and
    the edge-of-stability ratio λ_max·lr/2 at each band ('diverged' / 'stuck' where no member trained, '—' where
    the band was not reached). Used in :ref:`ch-hyperparameters`."""
    import pandas as pd

    rows, m = [], stats["matched"]
    for knob, runs in raw["sweeps"].items():
        for i, r in enumerate(runs):
            st, gone = member_status(r), _fate(r)
            fate = ", ".join(f"{st.count(s)} {s}" for s in STATUSES if st.count(s))
            if "diverged" in st:
                fate += f" (step {int(r['diverged_step'][r['diverged']].min())})"
            final = r["loss"][-1].nanmean()  # NaN: every member diverged
            row = {"knob": knob, "value": f"{r[knob]:g}", "lr·λ·steps": f"{r['lr'] * r['l2'] * raw['steps']:.3g}",
                   "members": fate, "final loss": "diverged" if final.isnan() else f"{float(final):.3g}",
                   "final r/r₀": f"{float((r['radius'][-1] / r['radius'][0]).nanmean()):.3g}"}
            for b in BANDS:
                for q, name in (("lmax", "λ_max"), ("eos", "λ_max·lr/2")):
                    row[f"{name} ({b})"] = interval_text(m[b][knob][q][i], missing=gone or "—")
            rows.append(row)
    return pd.DataFrame(rows).style.hide(axis="index")


def effect_table(raw: dict, stats: dict, badges: dict[str, str]):
    """A table (a pandas Styler, no index), one row per knob and quantity of :func:`compared_quantities`: the
    settings compared at each band, the effect as a factor (:func:`factor`) at each band, and the verdict's badge
    of the check on it, ``badges['{knob}_{q}']`` ('' where none). Used in :ref:`ch-hyperparameters`."""
    import pandas as pd

    judged = {"lmax_rel": "lmax", "trace_rel": "trace", rise_key(raw): "rise"}
    rows = []
    for k in KNOBS:
        row0 = {"knob": k}
        for b in BANDS:
            pair = compared(stats["matched"][b][k]["lmax"])
            row0[f"compared ({b})"] = (" → ".join(f"{raw['sweeps'][k][i][k]:g}" for i in pair) if pair else "—")
        for q, name in compared_quantities(raw).items():
            rows.append({**row0, "quantity": name, **{f"factor ({b}) [95 %]": factor(stats["effects"][b][k][q])
                                                     for b in BANDS},
                         "verdict (late)": badges.get(f"{k}_{judged[q]}", "") if q in judged else ""})
    return pd.DataFrame(rows).style.hide(axis="index")


def knob_paths(runs: list[dict], knob: str, band: torch.Tensor) -> list[dict]:
    """What :func:`wedges_lib.plots.draw_knob` draws of one knob's sweep, as plain tensors, one dict per run:
    'name' (the value, and the fate of members that did not train), 'all_trained'; 'loss' (the ``band``) and
    'lmax' (seed means over trained members at those losses, :func:`.hp_matched.along_band`; None if none
    trained); 'step', 'radius_ratio' (T,) (r/r0, mean over all members); 'ratio_range' (low, high) of r/r0 over
    trained members (None); 'diverged_steps' (list). Used in :ref:`ch-hyperparameters`."""
    out = []
    for r in runs:
        st, ok = member_status(r), trained(r)
        ratio = r["radius"] / r["radius"][0]
        fate = "" if ok.all() else f" ({', '.join(sorted(set(st) - {'trained'}))})"
        any_ok = bool(ok.any())
        out.append(dict(name=f"{NAMES[knob]} {r[knob]:g}{fate}", all_trained=bool(ok.all()), loss=band,
                        lmax=along_band(r, band)[:, ok].nanmean(1) if any_ok else None,
                        step=r["step"], radius_ratio=ratio.mean(1),
                        ratio_range=(float(ratio[:, ok].min()), float(ratio[:, ok].max())) if any_ok else None,
                        diverged_steps=r["diverged_step"][r["diverged"]].tolist()))
    return out


def overlay_points(sweeps: dict[str, list[dict]], m: dict[str, dict[str, torch.Tensor]]) -> dict:
    """Every distinct setting of the sweeps once, as the points :mod:`wedges_lib.overlay` tests: 'groups' (the
    knobs whose sweep holds it), 'label' (e.g. 'lr 0.1'; the base setting 'base'), and the log of 'lmax', 'trace'
    and 'radius_ratio' at matched loss, (P, K) (NaN for members not measured, or values <= 0).
    ``m`` is :func:`.hp_matched.matched` per knob. Used in :ref:`ch-hyperparameters`."""
    found: dict[tuple, dict] = {}
    keys = (*CURV, "radius_ratio")
    for knob, runs in sweeps.items():
        for i, r in enumerate(runs):
            p = found.setdefault(tuple(r[k] for k in KNOBS), dict(groups=set(), label=f"{NAMES[knob]} {r[knob]:g}",
                                                                   **{q: m[knob][q][i] for q in keys}))
            p["groups"].add(knob)
    pts = list(found.values())
    out = dict(groups=[p["groups"] for p in pts],
               label=["base" if len(p["groups"]) > 1 else p["label"] for p in pts])
    for q in keys:
        v = torch.stack([p[q].double() for p in pts])
        out[q] = v.where(v > 0, math.nan).log()
    return out


def numbers(raw: dict, stats: dict, chapter: str) -> dict:
    """The numbers chapter 03's prose quotes, by recorded name (``hp_…``): the bands; per knob and band the
    settings compared and the effect on every quantity as a factor ('hp_{knob}_{q}_{band}'); the
    edge-of-stability ratios ('hp_eos_{band}'); the alike statistic on the loss rise at each band; the L2
    strengths as decays; the overlay's slopes and offsets; the runs that did not train; the earlier protocol's
    L2 result, read from ``chapter``'s deviations. Used in :ref:`ch-hyperparameters`."""
    m, eff, rise = stats["matched"], stats["effects"], rise_key(raw)
    num = {"hp_band": f"{raw['band'][0]:.2g}–{raw['band'][-1]:.2g}",
           "hp_rhos": ", ".join(f"{r:g}" for r in raw["rhos"]), "hp_rho": f"{raw['rhos'][len(raw['rhos']) // 2]:g}"}
    for k in KNOBS:
        num[f"hp_late_{k}"] = f"{raw['late'][k][0]:.2g}–{raw['late'][k][-1]:.2g}"
        for b in BANDS:
            pair = compared(m[b][k]["lmax"])
            num[f"hp_{k}_{b}_pair"] = " → ".join(f"{raw['sweeps'][k][i][k]:g}" for i in pair) if pair else "—"
            for q in compared_quantities(raw):
                num[f"hp_{k}_{q.replace('rise' + rise[-1], 'rise')}_{b}"] = factor(eff[b][k][q])
        num[f"hp_{k}_raw_late"] = f"λ_max {factor(eff['late'][k]['lmax'])}, Tr(H) {factor(eff['late'][k]['trace'])}"
    for b in BANDS:
        num[f"hp_eos_{b}"] = "; ".join(f"lr {r['lr']:g}: {interval_text(m[b]['lr']['eos'][i], missing=_fate(r) or '—')}"
                                       for i, r in enumerate(raw["sweeps"]["lr"]))
        for k in ("width", "l2"):
            num[f"hp_eos_{k}_{b}"] = ", ".join(interval_text(m[b][k]["eos"][i], 2, missing=_fate(r) or "—")
                                               for i, r in enumerate(raw["sweeps"][k]))
        num[f"hp_alike_rise_{b}"] = interval_text(stats["alike"][b][rise], missing="—")
    for b in BANDS:  # the directions the data show, in words, for the prose
        e = eff[b]
        num[f"hp_reading_{b}"] = "; ".join(
            f"as {k} grows, λ_max / init {direction(e[k]['lmax_rel'])}, Tr(H) / init {direction(e[k]['trace_rel'])}"
            f", the loss rise {direction(e[k][rise])} and r/r₀ {direction(e[k]['radius_ratio'])}" for k in KNOBS)
    ratios = [float(v) for b in BANDS for i, r in enumerate(raw["sweeps"]["lr"])
              if not math.isnan(v := m[b]["lr"]["eos"][i].nanmean())]
    num["hp_eos_max"] = f"{max(ratios):.2g}" if ratios else "—"
    every = [float(v) for b in BANDS for k in KNOBS for v in m[b][k]["eos"].nanmean(1) if not v.isnan()]
    num["hp_eos_all_max"] = f"{max(every):.2g}" if every else "—"
    num["hp_start"] = f"{float(torch.cat([r['loss'][0] for r in raw['sweeps']['lr']]).nanmean()):.2g}"
    runs = raw["sweeps"]["l2"]
    num["hp_l2_decays"] = ", ".join(f"{r['lr'] * r['l2'] * raw['steps']:.2g}" for r in runs)
    seen = {id(r): (k, r) for k, rs in raw["sweeps"].items() for r in rs}.values()  # a shared setting once
    fates = [f"{k} {r[k]:g} ({s})" for k, r in seen for s in sorted(set(member_status(r)) - {"trained"})]
    num["hp_failed_runs"] = ", ".join(fates) or "none"
    num["hp_diverged"] = sum(int(r["diverged"].sum()) for _, r in seen)
    num["hp_trace_se"] = float(torch.cat([r["trace_se"].flatten() for _, r in seen]).nanmean())
    pts, x = stats["points"], stats["points"]["radius_ratio"]
    for q in CURV:
        num[f"hp_slope_{q}"] = verdicts.interval_text(stats["slope"][q], missing="—")
        off = overlay.knob_residuals(x, pts[q], pts["groups"]).items()
        num[f"hp_off_{q}"] = ", ".join(f"{k} {factor(r)}" for k, r in off)
    old = [d["old_result"] for d in protocol.section(chapter)["deviations"]
           if any(c["field"] == "knobs.l2s" for c in d["changes"])]
    num["hp_l2_earlier"] = old[0] if old else "none recorded"
    return num


def _knob_figure(raw: dict, stats: dict, knob: str):
    """One knob's measures against its value: λ_max and Tr(H) relative to initialisation, the loss rise at each
    ρ, and λ_max·lr/2, at both bands (seed means, bars 95 % intervals over seeds)."""
    fig, ax = plots.figure(2, 2, width=3.9, height=2.9)
    xs = [r[knob] for r in raw["sweeps"][knob]]
    xpos = list(range(len(xs)))
    panels = [("lmax_rel", "λ_max / λ_max at init"), ("trace_rel", "Tr(H) / Tr(H) at init"),
              ("rise", "loss rise L(θ + ρ‖θ‖d) − L(θ)"), ("eos", "λ_max · lr / 2")]
    for a, (q, ylabel) in zip(ax.flat, panels):
        lines = [(f"rise{i}", f"ρ = {r:g}") for i, r in enumerate(raw["rhos"])] if q == "rise" else [(q, "")]
        for j, (key, what) in enumerate(lines):
            for b, style in zip(BANDS, ("-o", "--s")):
                iv = [interval(v.tolist()) for v in stats["matched"][b][knob][key]]
                mean = [v[0] for v in iv]
                err = [[v[0] - v[1] if v[3] > 1 else 0 for v in iv], [v[2] - v[0] if v[3] > 1 else 0 for v in iv]]
                a.errorbar(xpos, mean, yerr=err, fmt=style, color=plots.PALETTE[j], capsize=2, ms=4,
                           label=f"{what} {b} band".strip())
        a.set_yscale("log")
        a.set_xticks(xpos, [f"{x:g}" for x in xs])
        plots.label(a, f"{NAMES[knob].rstrip(' ×')} (one tick per setting)", ylabel)
    ax[1, 1].axhline(1.0, color="grey", lw=0.8, ls=":")  # λ_max = 2/lr, full-batch GD's ceiling
    fig.legend(*ax[1, 0].get_legend_handles_labels(), loc="outside lower center", ncol=3)  # colour ρ, style band
    late = stats["effects"]["late"][knob]
    fig.suptitle(f"As {knob} grows, λ_max / init {direction(late['lmax_rel'])} and the loss rise at ρ = "
                 f"{raw['rhos'][len(raw['rhos']) // 2]:g} {direction(late[rise_key(raw)])} (late band)")
    return fig


def figures(which: str, raw: dict, stats: dict, knob: str = "lr"):
    """Chapter 03's figures, by name: 'paths' (one column per knob: λ_max against the training loss, with the
    early band, and r/r₀ against the step), 'overlay' (every trained setting at matched loss in the early band,
    each curvature against r/r₀, log-log) and 'knob' (one knob's measures at both bands against its value; the
    chapter's slider steps through the knobs). Returns the figure. Used in :ref:`ch-hyperparameters`."""
    check_arg("which", which, which in ("paths", "overlay", "knob"), "'paths', 'overlay' or 'knob'")
    eff, pts, band = stats["effects"]["early"], stats["points"], raw["band"]
    if which == "knob":
        return _knob_figure(raw, stats, knob)
    if which == "paths":
        fig, ax = plots.figure(3, 2, width=3.6, height=2.9)
        for j, k in enumerate(KNOBS):
            plots.draw_knob(ax[0, j], ax[1, j], knob_paths(raw["sweeps"][k], k, band), band)
            plots.label(ax[0, j], "training loss", "λ_max (top Hessian eigenvalue)",
                        f"λ_max {direction(eff[k]['lmax'])} as {k} grows")
            plots.label(ax[1, j], "step", "radius relative to the start, r/r₀",
                        f"r/r₀ {direction(eff[k]['radius_ratio'])} as {k} grows")
        return fig
    fig, ax = plots.figure(2, width=4.2, height=3.4)
    for a, (q, name) in enumerate(CURV.items()):
        plots.draw_overlay(ax[0, a], overlay.figure_points(pts["radius_ratio"], pts[q], pts["groups"], pts["label"]))
        plots.label(ax[0, a], "r / r₀ at matched loss", f"{name} at matched loss",
                    f"{name}: overlay statistic {verdicts.interval_text(stats['overlay'][q], 2, missing='—')}")
    return fig
