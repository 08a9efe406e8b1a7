"""What chapter 06 concludes from its ensembles: rates tuned on held-out data, the claims' statistics and verdicts at
every swept rate, tables, figures.

The ensembles and their per-repetition measures come from :mod:`wedges_lib.ensembles`
(:func:`~wedges_lib.ensembles.build_all`, :func:`~wedges_lib.ensembles.summarize`), trained on the training set less
a held-out validation split (:func:`wedges_lib.data.validation_split`). The swept methods (snapshot-style FGE,
Garipov FGE, SWA) are run at every rate of a sweep; :func:`tuned` picks, for each, the rate whose full ensemble
has the lowest mean **validation** NLL (the test set never picks anything); :func:`rate_verdicts` judges each
check of a swept method at every rate, the headline at the tuned one. :func:`claim_values` turns the measures into
one value per repetition for each claim, which :func:`judge` judges with :mod:`wedges_lib.verdicts`.
:func:`accuracy_plane` gives the diversity–accuracy plane of Fort, Hu & Lakshminarayanan (2019): each member's and
each recorded point's test disagreement with a reference solution against its test accuracy.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import math
from typing import Mapping, Sequence

import torch

from .. import align, ensembles, plots, surfaces, verdicts
from ..data import Dataset, validation_split
from ..diversity import accuracy, linear_barriers, nll, offdiag_mean, predict
from ..ensembles import LABELS, METHODS, SWEPT, TRAJECTORY_METHODS, Ensemble, gains, summarize
from ..results import record
from ..validation import check_arg

_PARTS = {"acc": "accuracy", "nll": "NLL"}
_CHECKS = {"diversity": "disagreement ÷ deep's", "slice": "centroid − worst (nats)", "barrier": "barrier ÷ deep's",
           "weight": "distance ÷ deep's", "gain_acc": "acc. gain, deep − it", "gain_nll": "NLL gain, deep − it"}


@torch.no_grad()
def validation_nll(ens: Ensemble, tuning: Dataset) -> torch.Tensor:
    """(R,) the NLL of each repetition's full ensemble (mean of its members' probabilities) on ``tuning``'s
    held-out examples (its test slot, :func:`wedges_lib.data.validation_split`). Used in :ref:`ch-ensembles`."""
    x, y = tuning.x_test.to(ens.members.device), tuning.y_test.to(ens.members.device)
    return torch.stack([nll(predict(ens.model, m, x).mean(0), y) for m in ens.members]).float().cpu()


def tuned(val: Mapping[str, Mapping[float, torch.Tensor]]) -> dict[str, float]:
    """For each swept method, the rate fraction with the lowest mean validation NLL over the repetitions
    (``val``: {method: {fraction: (R,)}}, :func:`validation_nll`; NaN repetitions ignored; a rate with none
    measured never wins). Used in :ref:`ch-ensembles`.

    >>> tuned({"fge": {0.2: torch.tensor([0.6, 0.7]), 1.0: torch.tensor([0.5, float("nan")])}})
    {'fge': 1.0}
    """
    def score(v):
        m = v.nanmean().item()
        return m if math.isfinite(m) else math.inf
    return {m: min(rates, key=lambda f: score(rates[f])) for m, rates in val.items()}


def select(ens: Mapping[str, Ensemble | Mapping[float, Ensemble]], fractions: Mapping[str, float]) -> dict:
    """The flat {method: X} with each swept method at its rate in ``fractions``. Used in :ref:`ch-ensembles`."""
    return {m: (e[fractions[m]] if isinstance(e, Mapping) else e) for m, e in ens.items()}


def run(cfg, data: Dataset) -> dict:
    """Chapter 06's experiment: a fraction ``val_fraction`` of the training examples held out ('tuning'), every
    method trained on the rest ('ens', :func:`wedges_lib.ensembles.build_all`: the swept methods at every rate,
    continuing deep member 0, the common reference 'ref'), the validation NLL of every swept ensemble ('val'), the
    test-set summaries of every ensemble with barriers ('sweep' {method: {fraction: stats}}, 'stats' for deep and
    snapshot), the validation-tuned rates ('tuned'), each method at its tuned rate ('chosen', 'stats'), the plane
    through members 0, 1, 2 of each ('planes', None where a run diverged), the diversity–accuracy plane ('fhl',
    :func:`accuracy_plane`) and the deep members aligned to the reference ('aligned', :func:`aligned_deep`).
    Used in :ref:`ch-ensembles`."""
    check_arg("n_members", cfg.n_members, cfg.n_members >= 3, "an int >= 3 (the centroid of members 0, 1, 2)")
    fit, tuning = validation_split(data, cfg.val_fraction, seed=cfg.seed)
    ens = ensembles.build_all(cfg, fit)
    ref = ens["deep"].members[:, 0]
    kw = dict(n_interp=cfg.n_interp, reference=ref, barrier_members=cfg.n_members)
    val = {m: {f: validation_nll(e, tuning) for f, e in ens[m].items()} for m in SWEPT}
    sweep = {m: {f: summarize(e, fit, **kw) for f, e in ens[m].items()} for m in SWEPT}
    fractions = tuned(val)
    chosen = select(ens, fractions)
    stats = {m: (sweep[m][fractions[m]] if m in SWEPT else summarize(chosen[m], fit, **kw)) for m in METHODS}
    return dict(ens=ens, ref=ref, val=val, sweep=sweep, tuned=fractions, chosen=chosen, stats=stats,
                planes={m: plane_view(e, fit, n=cfg.ensemble_grid) for m, e in chosen.items()},
                fhl=accuracy_plane(ens, fit, ref[0]), aligned=aligned_deep(chosen["deep"], fit, n_interp=cfg.n_interp))


def final_means(stats: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Each statistic of :func:`~wedges_lib.ensembles.summarize` (and of :func:`~wedges_lib.ensembles.gains`) as
    one number: the mean over repetitions, at the full ensemble size for the per-size ones (R, K). Used in
    :ref:`ch-ensembles`."""
    stats = {**stats, **gains(stats)}
    return {k: v.nanmean(0)[-1].item() if v.dim() > 1 else v.nanmean().item() for k, v in stats.items()}


def plane_view(ens: Ensemble, data: Dataset, *, n: int = 25) -> dict | None:
    """The training loss on the plane through the first repetition's members 0, 1, 2 (n × n points,
    :func:`wedges_lib.surfaces.plane_through`), or None where their run diverged. Used in :ref:`ch-ensembles`."""
    if ens.diverged[0, :3].any():
        return None
    three, device = ens.members[0, :3], ens.members.device
    x, y = data.x_train.to(device), data.y_train.to(device)
    return surfaces.plane_through(ens.model, *three, n=n, x=x, y=y)


@torch.no_grad()
def aligned_deep(deep: Ensemble, data: Dataset, *, n_interp: int) -> dict[str, torch.Tensor]:
    """The deep members of each repetition aligned to its member 0, the common reference, by weight matching
    (:func:`wedges_lib.align.align_all`; the same functions, permuted hidden units): 'barrier' (R,) their mean
    pairwise line barrier of the training loss on ``n_interp`` points, 'ref_distance' (R,) the mean distance
    of members 1..K-1 from the reference. Used in :ref:`ch-ensembles`."""
    x, y = data.x_train.to(deep.members.device), data.y_train.to(deep.members.device)
    out: dict[str, list] = {"barrier": [], "ref_distance": []}
    for members in deep.members:
        al = align.align_all(deep.model, members[0], members, method="weight").to(members)
        out["barrier"].append(offdiag_mean(linear_barriers(deep.model, al, x, y, n_interp=n_interp)).cpu())
        out["ref_distance"].append((al[1:] - al[0]).norm(dim=1).mean().cpu())
    return {k: torch.stack(v).float() for k, v in out.items()}


def _rate_label(f: float, base_lr: float, star: bool) -> str:
    return f"{f:g} × lr = {f * base_lr:.3g}" + (" ★" if star else "")


def sweep_table(raw: Mapping, base_lr: float):
    """Every swept ensemble as a table (rate marked ★ where validation tuned it): mean [95 % interval] over the
    repetitions of its validation NLL (what tunes the rate), test NLL and accuracy, accuracy gain, disagreement ÷
    deep's and distance from the common reference; records 'ens_sweep_{method}_{i}_{key}' (means, rate i of the
    sweep), 'ens_sweep_{method}_{i}_lr' and 'ens_{method}_tuned' (the tuned rate). Used in :ref:`ch-ensembles`."""
    import pandas as pd

    deep, rows = raw["stats"]["deep"], {}
    for m in SWEPT:
        record(f"ens_{m}_tuned", _rate_label(raw["tuned"][m], base_lr, False))
        for i, (f, st) in enumerate(raw["sweep"][m].items()):
            cols = {"validation NLL": raw["val"][m][f], "test NLL": st["nll"][:, -1],
                    "ensemble acc.": st["acc"][:, -1], "acc. gain": gains(st)["gain_acc"],
                    "disagreement ÷ deep's": st["disagreement"] / deep["disagreement"],
                    "distance from ref.": st["ref_distance"]}
            record(f"ens_sweep_{m}_{i}_lr", f * base_lr)
            for k, v in zip(("val_nll", "nll", "acc", "gain_acc", "ratio", "ref_distance"), cols.values()):
                record(f"ens_sweep_{m}_{i}_{k}", verdicts.interval(v.tolist())[0])
            label = f"{LABELS[m]}, {_rate_label(f, base_lr, f == raw['tuned'][m])}"
            rows[label] = {k: verdicts.interval_text(v) for k, v in cols.items()}
    return pd.DataFrame(rows).T


def statistics(raw: Mapping) -> dict[str, list[float]]:
    """Chapter 06's checks' statistics from :func:`run`'s ``raw``, each swept method at its validation-tuned rate,
    one value per repetition (:func:`claim_values`). Used in :ref:`ch-ensembles`."""
    return claim_values(raw["stats"], raw["chosen"], raw["aligned"])


def rate_values(raw: Mapping, fraction: float) -> dict[str, list[float]]:
    """The statistics of the swept methods' checks (names ending in one of ``SWEPT``) with every swept method at
    rate ``fraction`` (:func:`claim_values`). Used in :ref:`ch-ensembles`."""
    stats = {m: (raw["sweep"][m][fraction] if m in SWEPT else raw["stats"][m]) for m in METHODS}
    ens = {m: (raw["ens"][m][fraction] if m in SWEPT else raw["ens"][m]) for m in METHODS}
    return {k: v for k, v in claim_values(stats, ens).items() if k.rsplit("_", 1)[-1] in SWEPT}


def rate_verdicts(claims: Mapping[str, verdicts.Claim], raw: Mapping, scale: str, base_lr: float) -> list:
    """Each swept method's checks judged at every swept rate, as one table per method (rows: checks; columns:
    rates, the validation-tuned one marked ★; cells: verdict and mean [95 % interval]); each verdict recorded as
    '{check}_r{i}_*' (rate i of the sweep), and 'ens_rates_sentence': the checks whose verdict changes with the rate,
    in words. The headline's verdicts are those at the ★ rate. Used in :ref:`ch-ensembles`."""
    import pandas as pd

    fractions = list(next(iter(raw["sweep"].values())))
    at = {i: rate_values(raw, f) for i, f in enumerate(fractions)}
    tables, moved = [], []
    for m in SWEPT:
        rows = {}
        for key, text in _CHECKS.items():
            c = claims[f"ens_{key}_{m}"]
            row, states = {}, {}
            for i, f in enumerate(fractions):
                with contextlib.redirect_stdout(io.StringIO()):
                    v = verdicts.judge(dataclasses.replace(c, name=f"{c.name}_r{i}"), at[i][c.name], scale,
                                       unit="repetitions")
                shown = f"{verdicts.ICONS[v.state]} {v.summary.split(' (')[0]}"
                states.setdefault(verdicts.ICONS[v.state], []).append(f"{f:g}")
                row[_rate_label(f, base_lr, f == raw["tuned"][m])] = shown
            rows[f"{text} {c.holds_if} {c.threshold:.3g}" + (" (sanity)" if c.kind == "sanity" else "")] = row
            if len(states) > 1:
                at_rates = "; ".join(f"{s} at {', '.join(fs)} × lr" for s, fs in states.items())
                moved.append(f"{LABELS[m]}, {text}{' (sanity)' * (c.kind == 'sanity')}: {at_rates}")
        tables.append(pd.DataFrame(rows).T.rename_axis(LABELS[m]))
    record("ens_rates_sentence", ("Verdicts that change with the rate — " + " · ".join(moved) + ".") if moved
           else "No verdict changes with the rate.")
    return tables


def claim_values(stats: Mapping[str, Mapping[str, torch.Tensor]], ens: Mapping[str, Ensemble],
                 aligned: Mapping[str, torch.Tensor] | None = None) -> dict[str, list[float]]:
    """The statistic of each of the chapter's claims, one value per repetition (NaN where a run it rests on
    diverged), from :func:`wedges_lib.ensembles.summarize` per method (``stats``, with a common reference) and
    the ensembles (``ens``, for divergence):

    'ens_distinct' the smallest of the methods' disagreements; 'ens_diversity_M' disagreement(M) /
    disagreement(deep); 'ens_slice_M' centroid − worst member loss of members 0, 1, 2; 'ens_barrier_deep'
    the barrier between deep members and 'ens_barrier_M' barrier(M) / barrier(deep); 'ens_weight_M' the
    distance from the common reference, M's / deep's; 'ens_gain_acc_M' and 'ens_gain_nll_M' deep's gain
    minus M's (:func:`wedges_lib.ensembles.gains`), for each trajectory method M. With ``aligned``
    (:func:`aligned_deep`): 'ens_barrier_aligned' the deep barrier after alignment, 'ens_weight_aligned' the
    largest over M of distance(M) / aligned deep distance. Used in :ref:`ch-ensembles`.

    >>> one = dict(disagreement=torch.tensor([0.4, 0.2]), centroid=torch.tensor([2.0, 1.0]),
    ...            worst=torch.tensor([0.5, 0.5]), barrier=torch.tensor([1.0, 0.5]),
    ...            ref_distance=torch.tensor([2.0, 1.0]), acc=torch.ones(2, 3), member_acc=torch.ones(2, 3),
    ...            nll=torch.ones(2, 3), member_nll=torch.ones(2, 3))
    >>> stats = {m: one for m in METHODS}
    >>> ens = {m: Ensemble(m, None, torch.zeros(2, 3, 1), torch.zeros(2, 3, 1), 0) for m in METHODS}
    >>> ens["fge"].diverged[1, 2] = True  # repetition 1 of FGE diverged
    >>> v = claim_values(stats, ens)
    >>> v["ens_diversity_fge"], v["ens_slice_deep"], v["ens_distinct"], v["ens_gain_nll_swa"]
    ([1.0, nan], [1.5, 0.5], [0.4000000059604645, nan], [0.0, 0.0])
    """
    bad = {m: e.diverged.any(1) for m, e in ens.items()}
    any_bad = torch.stack(list(bad.values())).any(0)

    def rep(t: torch.Tensor, mask: torch.Tensor) -> list[float]:
        return torch.where(mask, torch.full_like(t, math.nan), t).tolist()

    s = {m: {k: v.float() for k, v in st.items()} for m, st in stats.items()}
    excess = {m: st["centroid"] - st["worst"] for m, st in s.items()}
    gain = {m: gains(st) for m, st in s.items()}
    out = {"ens_distinct": rep(torch.stack([st["disagreement"] for st in s.values()]).amin(0), any_bad),
           "ens_slice_deep": rep(excess["deep"], bad["deep"]),
           "ens_barrier_deep": rep(s["deep"]["barrier"], bad["deep"])}
    for m in TRAJECTORY_METHODS:
        both = bad[m] | bad["deep"]
        out[f"ens_diversity_{m}"] = rep(s[m]["disagreement"] / s["deep"]["disagreement"], both)
        out[f"ens_slice_{m}"] = rep(excess[m], bad[m])
        out[f"ens_barrier_{m}"] = rep(s[m]["barrier"] / s["deep"]["barrier"], both)
        out[f"ens_weight_{m}"] = rep(s[m]["ref_distance"] / s["deep"]["ref_distance"], both)
        for k in _PARTS:
            out[f"ens_gain_{k}_{m}"] = rep(gain["deep"][f"gain_{k}"] - gain[m][f"gain_{k}"], both)
    if aligned is not None:
        worst = torch.stack([s[m]["ref_distance"] for m in TRAJECTORY_METHODS]).amax(0) / aligned["ref_distance"]
        out["ens_barrier_aligned"] = rep(aligned["barrier"].float(), bad["deep"])
        out["ens_weight_aligned"] = rep(worst, any_bad)
    return out


def _part_label(name: str, group: str) -> str:
    """'ens_gain_acc_fge' in group 'ens_gain' -> 'snapshot-style FGE (accuracy)'; 'ens_slice_deep' -> 'deep
    ensemble'."""
    *what, method = name.removeprefix(group + "_").split("_")
    label = LABELS.get(method, "deep members aligned" if method == "aligned" else method)
    return f"{label} ({_PARTS.get(what[0], what[0])})" if what else label


def outcome_sentence(parts: list[verdicts.Verdict], group: str = "") -> str:
    """The parts of a claim grouped by state, in words, labelled by method (and by measure, within ``group``).

    >>> v = [verdicts.Verdict(f"x_{m}", s, 0.0, 0.0, 0.0, n, "") for m, s, n in (("garipov", "reproduced", 3),
    ...      ("snapshot", "reproduced", 3), ("swa", "inconclusive", 3), ("deep", "not reproduced", 0))]
    >>> print(outcome_sentence(v, "x"))  # doctest: +NORMALIZE_WHITESPACE
    Clear of the seed noise for Garipov FGE and snapshot; inside the seed noise for SWA iterates;
    not measured (runs diverged) for deep ensemble.
    """
    words = {"reproduced": "clear of the seed noise for", "inconclusive": "inside the seed noise for",
             "not reproduced": "not seen for", "contradicted": "the opposite, clear of the noise, for",
             "": "not measured (runs diverged) for"}
    out = []
    for state, phrase in words.items():
        names = [_part_label(p.name, group) for p in parts if (p.state if p.n else "") == state]
        if names:
            out.append(f"{phrase} {', '.join(names[:-1]) + ' and ' if len(names) > 1 else ''}{names[-1]}")
    text = "; ".join(out)
    return text[:1].upper() + text[1:] + "."


def judge(claims: Mapping[str, verdicts.Claim], values: Mapping[str, list[float]], scale: str,
          groups: Mapping[str, Sequence[str]]) -> dict[str, verdicts.Verdict]:
    """Judge every check (in declared order) on its values per repetition (:func:`claim_values`); records, for
    each of the protocol's ``groups``, '{group}_sentence': its parts by state in words (:func:`outcome_sentence`).
    The groups' verdicts and the headline follow from :func:`wedges_lib.protocol.conclude`. Never raises for an
    outcome. Used in :ref:`ch-ensembles`."""
    out = {n: verdicts.judge(c, values[n], scale, unit="repetitions") for n, c in claims.items()}
    for group, parts in groups.items():
        record(f"{group}_sentence", outcome_sentence([out[p] for p in parts], group))
    return out


def results(stats: Mapping[str, Mapping[str, torch.Tensor]], ens: Mapping[str, Ensemble]):
    """The methods side by side (swept ones at their tuned rate), means over the repetitions, each recorded as
    'ens_{method}_{key}': the full ensemble's test accuracy 'acc' and 'nll', what adding members gained in
    accuracy 'gain_acc' and NLL 'gain_nll', 'disagreement', 'distance', 'barrier', the training loss at the
    centroid of members 0, 1, 2 ('centroid') and of the worst of them ('worst'), the distance from / cosine of
    displacements from / disagreement with the common reference ('ref_distance', 'ref_cosine',
    'ref_disagreement'), the peak rate 'lr', 'members', 'grad_steps' and 'diverged' repetitions (also their total,
    'ens_diverged'); 'ens_{method}_{gain}_summary' the gains as mean [95 % interval]; the SWA average's accuracy
    'ens_swa_avg_acc'. Two tables of at most 7 columns: what the ensembles score and where their members lie.
    Used in :ref:`ch-ensembles`."""
    import pandas as pd

    scores = {"acc": "ensemble acc.", "nll": "NLL", "gain_acc": "acc. gain", "gain_nll": "NLL gain",
              "members": "members", "grad_steps": "gradient steps"}
    places = {"disagreement": "disagreement", "distance": "distance", "barrier": "line barrier",
              "centroid": "centroid loss", "ref_distance": "distance from ref.", "ref_cosine": "cosine at ref."}
    rows, diverged = {}, 0
    for m, st in stats.items():
        e = ens[m]
        mean = final_means(st) | {"diverged": int(e.diverged.any(1).sum()), "lr": e.lr,
                                  "members": e.members.shape[1], "grad_steps": e.grad_steps}
        diverged += mean["diverged"]
        for k in (*scores, *places, "worst", "ref_disagreement", "lr", "diverged"):
            record(f"ens_{m}_{k}", mean[k])
        shown = {k: f"{v:.3g}" if isinstance(v, float) else str(v) for k, v in mean.items()}
        for k, v in gains(st).items():
            shown[k] = record(f"ens_{m}_{k}_summary", verdicts.interval_text(v))
        rows[LABELS[m]] = {label: shown[k] for k, label in (scores | places).items()}
        if m == "swa":
            record("ens_swa_avg_acc", mean["swa_acc"])
    record("ens_diverged", diverged)
    table = pd.DataFrame(rows).T
    return table[list(scores.values())], table[list(places.values())]


@torch.no_grad()
def accuracy_plane(ens: Mapping[str, Ensemble | Mapping[float, Ensemble]], data: Dataset,
                   reference: torch.Tensor) -> dict[str, dict]:
    """The first repetition in the plane of Fort, Hu & Lakshminarayanan (2019): for each method (swept ones as
    'fge@{fraction}'), 'members' (K, 2) and 'paths' (P, T, 2), each point's (test disagreement with the
    ``reference`` solution (D,), test accuracy); 'ref' the reference's test accuracy. Used in :ref:`ch-ensembles`.
    """
    flat = {f"{m}@{f:g}": x for m, e in ens.items() if isinstance(e, Mapping) for f, x in e.items()}
    flat |= {m: e for m, e in ens.items() if not isinstance(e, Mapping)}
    any_ens = next(iter(flat.values()))
    x, y = data.x_test.to(reference.device), data.y_test.to(reference.device)
    ref_probs = predict(any_ens.model, reference[None], x)[0]

    def points(thetas: torch.Tensor) -> torch.Tensor:  # (..., D) -> (..., 2)
        probs = predict(any_ens.model, thetas.to(reference), x)
        dis = (probs.argmax(-1) != ref_probs.argmax(-1)).float().mean(-1)
        return torch.stack([dis, (probs.argmax(-1) == y).float().mean(-1)], -1).cpu()

    out = {k: dict(members=points(e.members[0]), paths=points(e.path) if e.path is not None else None)
           for k, e in flat.items()}
    return out | {"ref": accuracy(ref_probs, y).item()}


def draw_gains(axes, stats: Mapping[str, Mapping[str, torch.Tensor]], ens: Mapping[str, Ensemble],
               alpha: Mapping[str, float] | None = None) -> None:
    """Test accuracy (axes[0]) and NLL (axes[1], when given) of the ensemble of the first m members against the steps
    spent when member m was collected (``Ensemble.member_steps``), mean ± std over repetitions per method of
    ``stats`` (:func:`wedges_lib.ensembles.summarize`); the accuracy of the SWA weight average of the first m
    iterates dotted; ``alpha`` fades methods (method -> opacity). Used in :ref:`ch-ensembles`."""
    for ax, (key, ylabel) in zip(axes, (("acc", "test accuracy"), ("nll", "test NLL (nats)"))):
        for m, colour in zip(METHODS, plots.PALETTE):
            if m not in stats:
                continue
            x, y, a = ens[m].member_steps.numpy() / 1000, stats[m][key], (alpha or {}).get(m, 1.0)
            ax.fill_between(x, y.mean(0) - y.std(0), y.mean(0) + y.std(0), color=colour, alpha=0.2 * a, lw=0)
            ax.plot(x, y.mean(0), "o-", color=colour, ms=3, alpha=a, label=LABELS[m])
        plots.label(ax, "gradient steps spent (thousands)", ylabel, f"{ylabel.split(' (')[0]} vs compute")
    if "swa" in stats:
        axes[0].plot(ens["swa"].member_steps.numpy() / 1000, stats["swa"]["swa_acc"].mean(0), ":", color="black",
                     label="SWA average")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1))


def _bounds(ax, a0: float) -> None:
    """The diversity–accuracy plane's frame: the bounds ``abs(a − a0) <= disagreement <= (1 − a) + (1 − a0)``
    any model obeys given the reference's accuracy a0, the reference (star), unit axes."""
    acc = torch.linspace(0, 1, 101)
    ax.plot((acc - a0).abs(), acc, ":", color="grey")
    ax.plot(((1 - acc) + (1 - a0)).clamp(max=1), acc, ":", color="grey")
    ax.plot([0], [a0], "*", color="black", ms=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)


def draw_accuracy_plane(axes, plane: Mapping[str, dict]) -> None:
    """One panel per method of ``plane`` (:func:`accuracy_plane`): the recorded paths as lines (one colour per
    swept rate), the members as markers, and the bounds (``_bounds``). Used in :ref:`ch-ensembles`."""
    for ax, m in zip(axes, METHODS):
        keys = [k for k in plane if k == m or k.startswith(m + "@")]
        for k, colour in zip(keys, plots.PALETTE * 2):
            p = plane[k]
            tag = f"{k.split('@')[1]} × lr" if "@" in k else LABELS[m]
            for i, line in enumerate(p["paths"] if p["paths"] is not None else []):
                ax.plot(line[:, 0], line[:, 1], color=colour, lw=0.8, alpha=0.6, label=None if i else tag)
            ax.plot(p["members"][:, 0], p["members"][:, 1], "o", color=colour, ms=4, mec="black", mew=0.4)
        _bounds(ax, plane["ref"])
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.24), ncol=2)
        plots.label(ax, "disagreement with the reference", "test accuracy", LABELS[m])


def explorer(raw: Mapping, base_lr: float):
    """A kernel-free slider over every ensemble the chapter built (deep, snapshot, each swept method at each rate,
    ★ the validation-tuned ones): its diversity–accuracy plane beside deep's members (left) and its test accuracy
    against compute beside deep's (right), all from ``raw`` (:func:`run`), nothing recomputed
    (:func:`wedges_lib.plots.frames`). Used in :ref:`ch-ensembles`."""
    import ipywidgets as widgets

    views = {LABELS[m]: (m, None) for m in ("deep", "snapshot")}
    views |= {f"{LABELS[m]} {_rate_label(f, base_lr, f == raw['tuned'][m])}": (m, f)
              for m in SWEPT for f in raw["sweep"][m]}

    def draw(ensemble: str) -> None:
        m, f = views[ensemble]
        st = raw["sweep"][m][f] if f is not None else raw["stats"][m]
        e = raw["ens"][m][f] if f is not None else raw["ens"][m]
        fig, ax = plots.figure(2, width=3.6, height=3.3)
        p, deep = raw["fhl"][m if f is None else f"{m}@{f:g}"], raw["fhl"]["deep"]
        ax[0, 0].plot(deep["members"][:, 0], deep["members"][:, 1], "s", color="grey", ms=5, label="deep members",
                     zorder=3)
        for line in p["paths"] if p["paths"] is not None else []:
            ax[0, 0].plot(line[:, 0], line[:, 1], color=plots.PALETTE[METHODS.index(m)], lw=0.8, alpha=0.7)
        ax[0, 0].plot(p["members"][:, 0], p["members"][:, 1], "o", color=plots.PALETTE[METHODS.index(m)], ms=4,
                      mec="black", mew=0.4, label="its members")
        _bounds(ax[0, 0], raw["fhl"]["ref"])
        ax[0, 0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
        ratio = (st["disagreement"] / raw["stats"]["deep"]["disagreement"]).mean().item()
        plots.label(ax[0, 0], "disagreement with the reference", "test accuracy", f"disagreement ÷ deep's {ratio:.2f}")
        draw_gains([ax[0, 1]], {"deep": raw["stats"]["deep"], m: st}, {"deep": raw["ens"]["deep"], m: e}, {"deep": 0.4})
        ax[0, 1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
        fig.suptitle(ensemble, fontsize=10)

    return plots.frames(draw, {"ensemble": widgets.Dropdown(options=list(views), value=list(views)[0])}, "ensemble")


def figures(which: str, raw: Mapping, base_lr: float | None = None):
    """Chapter 06's figures, by name: 'gains' (accuracy and NLL against compute, :func:`draw_gains`), 'fhl' (the
    diversity–accuracy plane, :func:`draw_accuracy_plane`), 'planes' (the training loss on the plane through
    members 0, 1, 2 of each method, one colour scale), three panels a row; 'explorer' the slider over every
    ensemble (:func:`explorer`, needs ``base_lr``). Returns the figure (the slider's HTML). Used in
    :ref:`ch-ensembles`."""
    check_arg("which", which, which in ("gains", "fhl", "planes", "explorer"), "'gains', 'fhl', 'planes' or 'explorer'")
    if which == "explorer":
        return explorer(raw, base_lr)
    if which == "gains":
        fig, ax = plots.figure(2, width=3.6)
        draw_gains(ax[0], raw["stats"], raw["chosen"])
        return fig
    fig, ax = plots.figure(3, 2, width=2.9, height=3.0 if which == "fhl" else 2.7)
    ax[1, 2].axis("off")
    if which == "fhl":
        draw_accuracy_plane(ax.flat, raw["fhl"])
        return fig
    shown = {m: s for m, s in raw["planes"].items() if s is not None}  # None: a run diverged, no plane
    levels = plots.shared_log_levels([s["loss"] for s in shown.values()]) if shown else 21
    for a, (m, s) in zip(ax.flat, shown.items()):
        pts = {str(k): s["points"][k].tolist() for k in range(3)}
        plots.contour(a, s["xs"], s["ys"], s["loss"], points=pts, levels=levels, title=LABELS[m],
                      xlabel="distance along 0 → 1", ylabel="distance ⊥ to 0 → 1", colorbar=m == "swa",
                      cbar_label="train loss")
    return fig
