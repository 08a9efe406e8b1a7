"""What chapter 06 concludes from its ensembles: tuned rates, the claims' statistics, verdicts, tables, the plane.

The ensembles and their per-repetition measures come from :mod:`wedges_lib.ensembles`
(:func:`~wedges_lib.ensembles.build_all`, :func:`~wedges_lib.ensembles.summarize`). FGE and SWA are run
at every rate of a sweep; :func:`tuned` picks, for each, the rate whose full ensemble has the lowest mean
test NLL (each method at its own best rate); :func:`sweep_table` shows every rate. :func:`claim_values`
turns the measures into one value per repetition for each claim, which :func:`judge` judges with
:mod:`wedges_lib.verdicts`. :func:`accuracy_plane` and :func:`draw_accuracy_plane` give the
diversity–accuracy plane of Fort, Hu & Lakshminarayanan (2019): each member's and each recorded point's
test disagreement with a reference solution against its test accuracy.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch

from .. import align, ensembles, plots, verdicts
from ..data import Dataset
from ..diversity import accuracy, linear_barriers, offdiag_mean, predict
from ..ensembles import LABELS, METHODS, TRAJECTORY_METHODS, Ensemble, final_means, gains, summarize
from ..results import record
from ..validation import check_arg

_PARTS = {"acc": "accuracy", "nll": "NLL"}


def tuned(sweep: Mapping[str, Mapping[float, Mapping[str, torch.Tensor]]]) -> dict[str, float]:
    """For each swept method, the rate fraction whose full ensemble has the lowest mean test NLL over the
    repetitions (NaN repetitions ignored; a rate with none measured never wins). Used in :ref:`ch-ensembles`.

    >>> s = {"fge": {0.2: dict(nll=torch.tensor([[1.0, 0.6]])), 1.0: dict(nll=torch.tensor([[1.0, 0.5]]))}}
    >>> tuned(s)
    {'fge': 1.0}
    """
    def score(st):
        v = st["nll"][:, -1].nanmean().item()
        return v if math.isfinite(v) else math.inf
    return {m: min(rates, key=lambda f: score(rates[f])) for m, rates in sweep.items()}


def select(ens: Mapping[str, Ensemble | Mapping[float, Ensemble]], fractions: Mapping[str, float]) -> dict:
    """The flat {method: Ensemble} with each swept method at its rate in ``fractions``. Used in :ref:`ch-ensembles`."""
    return {m: (e[fractions[m]] if isinstance(e, Mapping) else e) for m, e in ens.items()}


def measure_all(ens: Mapping[str, Ensemble | Mapping[float, Ensemble]], data: Dataset, *,
                reference: torch.Tensor, n_interp: int) -> tuple[dict, dict, dict]:
    """(sweep, chosen, stats) for :func:`wedges_lib.ensembles.build_all`'s ``ens``: the swept methods'
    :func:`~wedges_lib.ensembles.summarize` at every rate {method: {fraction: stats}} (no barriers), every method
    at its :func:`tuned` rate {method: Ensemble}, and their summaries with line barriers on ``n_interp``
    points, all with displacements from the common ``reference`` (R, D). Used in :ref:`ch-ensembles`."""
    sweep = {m: {f: summarize(e, data, reference=reference) for f, e in rates.items()}
             for m, rates in ens.items() if isinstance(rates, Mapping)}
    chosen = select(ens, tuned(sweep))
    stats = {m: summarize(e, data, n_interp=n_interp, reference=reference) for m, e in chosen.items()}
    return sweep, chosen, stats


def run(cfg, data: Dataset) -> dict:
    """Chapter 06's experiment: every method's ensembles ('ens', :func:`wedges_lib.ensembles.build_all`: FGE and
    SWA at every swept rate, continuing deep member 0), the common reference of each repetition ('ref', deep
    member 0), the sweep measured and each method at its tuned rate ('sweep', 'chosen', 'stats':
    :func:`measure_all`), the plane through members 0, 1, 2 of each method ('planes', None where a run
    diverged), the diversity–accuracy plane ('fhl', :func:`accuracy_plane`) and the deep members aligned to the
    reference ('aligned', :func:`aligned_deep`). Used in :ref:`ch-ensembles`."""
    check_arg("n_members", cfg.n_members, cfg.n_members >= 3, "an int >= 3 (the centroid of members 0, 1, 2)")
    ens = ensembles.build_all(cfg, data)
    ref = ens["deep"].members[:, 0]
    sweep, chosen, stats = measure_all(ens, data, reference=ref, n_interp=cfg.n_interp)
    return dict(ens=ens, ref=ref, sweep=sweep, chosen=chosen, stats=stats,
                planes={m: ensembles.plane_view(e, data, n=cfg.ensemble_grid) for m, e in chosen.items()},
                fhl=accuracy_plane(ens, data, ref[0]),
                aligned=aligned_deep(chosen["deep"], data, n_interp=cfg.n_interp))


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


def sweep_table(sweep: Mapping[str, Mapping[float, Mapping[str, torch.Tensor]]],
                deep: Mapping[str, torch.Tensor], base_lr: float):
    """The rate sweep as a styled table: per swept method and rate, mean [95 % interval] over repetitions of the
    members' disagreement (and its ratio to deep's), the member and ensemble test accuracy and NLL, the accuracy
    gain and the distance from the common reference; records 'ens_sweep_{method}_{i}_{key}' (means, rate i of
    the sweep) and 'ens_sweep_{method}_{i}_lr'. Used in :ref:`ch-ensembles`."""
    import pandas as pd

    rows = {}
    for m, rates in sweep.items():
        for i, (f, st) in enumerate(rates.items()):
            cols = dict(disagreement=st["disagreement"], ratio=st["disagreement"] / deep["disagreement"],
                        member_acc=st["member_acc"].mean(1), acc=st["acc"][:, -1], nll=st["nll"][:, -1],
                        gain_acc=gains(st)["gain_acc"], ref_distance=st["ref_distance"])
            record(f"ens_sweep_{m}_{i}_lr", f * base_lr)
            row = {}
            for k, v in cols.items():
                record(f"ens_sweep_{m}_{i}_{k}", verdicts.interval(v.tolist())[0])
                row[k] = verdicts.interval_text(v)
            rows[(LABELS[m], f"{f:g} × lr = {f * base_lr:.3g}")] = row
    names = dict(disagreement="disagreement", ratio="÷ deep's", member_acc="member acc.", acc="ensemble acc.",
                 nll="ensemble NLL", gain_acc="acc. gain", ref_distance="distance from reference")
    return pd.DataFrame(rows).T.rename(columns=names)


def statistics(raw: Mapping) -> dict[str, list[float]]:
    """Chapter 06's checks' statistics from :func:`run`'s ``raw``, one value per repetition
    (:func:`claim_values`). Used in :ref:`ch-ensembles`."""
    return claim_values(raw["stats"], raw["chosen"], raw["aligned"])


def claim_values(stats: Mapping[str, Mapping[str, torch.Tensor]], ens: Mapping[str, Ensemble],
                 aligned: Mapping[str, torch.Tensor] | None = None) -> dict[str, list[float]]:
    """The statistic of each of the chapter's claims, one value per repetition (NaN where a run it rests on
    diverged), from :func:`wedges_lib.ensembles.summarize` per method (``stats``, with a common reference) and
    the ensembles (``ens``, for divergence):

    'ens_distinct' the smallest of the four methods' disagreements; 'ens_diversity_M' disagreement(M) /
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
    """'ens_gain_acc_fge' in group 'ens_gain' -> 'FGE (accuracy)'; 'ens_slice_deep' -> 'deep ensemble'."""
    *what, method = name.removeprefix(group + "_").split("_")
    label = LABELS.get(method, "deep members aligned" if method == "aligned" else method)
    return f"{label} ({_PARTS.get(what[0], what[0])})" if what else label


def outcome_sentence(parts: list[verdicts.Verdict], group: str = "") -> str:
    """The parts of a claim grouped by state, in words, labelled by method (and by measure, within ``group``).

    >>> v = [verdicts.Verdict(f"x_{m}", s, 0.0, 0.0, 0.0, n, "") for m, s, n in (("fge", "reproduced", 3),
    ...      ("snapshot", "reproduced", 3), ("swa", "inconclusive", 3), ("deep", "not reproduced", 0))]
    >>> print(outcome_sentence(v, "x"))  # doctest: +NORMALIZE_WHITESPACE
    Clear of the seed noise for FGE and snapshot; inside the seed noise for SWA iterates;
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
    """The methods side by side (FGE and SWA at their tuned rate), as a pandas table of means over the
    repetitions, each recorded as 'ens_{method}_{key}': the full ensemble's test accuracy 'acc' and 'nll', what
    adding members gained in accuracy 'gain_acc' and NLL 'gain_nll', 'disagreement', 'distance', 'barrier',
    the training loss at the centroid of members 0, 1, 2 ('centroid') and of the worst of them ('worst'),
    the distance from / cosine of displacements from / disagreement with the common reference
    ('ref_distance', 'ref_cosine', 'ref_disagreement'), the peak rate 'lr' and 'diverged' repetitions (also
    their total, 'ens_diverged'); 'ens_{method}_{gain}_summary' the gains as mean [95 % interval] (so shown);
    and the SWA average's accuracy 'ens_swa_avg_acc'. Two tables, so each fits the page: what the ensembles
    score (accuracy, NLL, gains, disagreement, rate, diverged) and where their members lie (distances, barrier,
    centroid, the common reference). Used in :ref:`ch-ensembles`."""
    import pandas as pd

    keys = {"acc": "ensemble acc.", "nll": "NLL", "gain_acc": "acc. gain", "gain_nll": "NLL gain",
            "disagreement": "disagreement", "distance": "distance", "barrier": "line barrier",
            "centroid": "centroid loss", "worst": "worst member loss", "ref_distance": "distance from ref.",
            "ref_cosine": "cosine at ref.", "ref_disagreement": "disagreement with ref.", "lr": "peak lr",
            "diverged": "diverged"}
    rows, diverged = {}, 0
    for m, st in stats.items():
        mean = final_means(st) | {"diverged": int(ens[m].diverged.any(1).sum()), "lr": ens[m].lr}
        diverged += mean["diverged"]
        for k in keys:
            record(f"ens_{m}_{k}", mean[k])
        shown = {k: f"{v:.3g}" for k, v in mean.items()}
        for k, v in gains(st).items():
            shown[k] = record(f"ens_{m}_{k}_summary", verdicts.interval_text(v))
        rows[LABELS[m]] = {label: shown[k] for k, label in keys.items()}
        if m == "swa":
            record("ens_swa_avg_acc", mean["swa_acc"])
    record("ens_diverged", diverged)
    table = pd.DataFrame(rows).T
    scores = ["ensemble acc.", "NLL", "acc. gain", "NLL gain", "disagreement", "peak lr", "diverged"]
    return table[scores], table.drop(columns=scores)


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


def draw_gains(axes, stats: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
    """Test accuracy (axes[0]) and NLL (axes[1]) of the ensemble of the first m members against m, mean ± std
    over repetitions per method of ``stats`` (:func:`wedges_lib.ensembles.summarize`), and the accuracy of
    the SWA weight average of the first m iterates (dotted). Used in :ref:`ch-ensembles`."""
    ks = torch.arange(1, next(iter(stats.values()))["acc"].shape[1] + 1)
    for ax, key, ylabel in ((axes[0], "acc", "test accuracy"), (axes[1], "nll", "test NLL (nats)")):
        plots.curves(ax, ks, {LABELS[m]: s[key].T for m, s in stats.items()}, xlabel="members m", ylabel=ylabel,
                     title=f"{ylabel.split(' (')[0]} vs ensemble size", marker="o")
        ax.set_xticks(ks.tolist())
    if "swa" in stats:
        axes[0].plot(ks, stats["swa"]["swa_acc"].mean(0), ":", color="black", label="SWA average")
        axes[0].legend()


def draw_accuracy_plane(axes, plane: Mapping[str, dict]) -> None:
    """One panel per method of ``plane`` (:func:`accuracy_plane`): the recorded paths as lines (one colour per
    swept rate), the members as markers, and the bounds any point obeys given the reference's accuracy a0:
    ``abs(a − a0) <= disagreement <= (1 − a) + (1 − a0)``. Used in :ref:`ch-ensembles`."""
    a0 = plane["ref"]
    acc = torch.linspace(0, 1, 101)
    for ax, m in zip(axes, METHODS):
        keys = [k for k in plane if k == m or k.startswith(m + "@")]
        for k, colour in zip(keys, plots.PALETTE * 2):
            p = plane[k]
            tag = f"{k.split('@')[1]} × lr" if "@" in k else LABELS[m]
            for i, line in enumerate(p["paths"] if p["paths"] is not None else []):
                ax.plot(line[:, 0], line[:, 1], color=colour, lw=0.8, alpha=0.6, label=None if i else tag)
            ax.plot(p["members"][:, 0], p["members"][:, 1], "o", color=colour, ms=4, mec="black", mew=0.4)
        ax.plot((acc - a0).abs(), acc, ":", color="grey")
        ax.plot(((1 - acc) + (1 - a0)).clamp(max=1), acc, ":", color="grey")
        ax.plot([0], [a0], "*", color="black", ms=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(loc="lower left")
        plots.label(ax, "test disagreement with the reference", "test accuracy" if m == "deep" else "",
                    LABELS[m])


def figures(which: str, raw: Mapping):
    """Chapter 06's figures, by name: 'gains' (accuracy and NLL of the first m members, :func:`draw_gains`), 'fhl'
    (the diversity–accuracy plane, :func:`draw_accuracy_plane`) and 'planes' (the training loss on the plane
    through members 0, 1, 2 of each method, one colour scale). Returns the figure. Used in :ref:`ch-ensembles`."""
    check_arg("which", which, which in ("gains", "fhl", "planes"), "'gains', 'fhl' or 'planes'")
    if which == "gains":
        fig, ax = plots.figure(2)
        draw_gains(ax[0], raw["stats"])
        return fig
    if which == "fhl":
        fig, ax = plots.figure(4, width=2.9, height=2.8)
        draw_accuracy_plane(ax[0], raw["fhl"])
        return fig
    shown = {m: s for m, s in raw["planes"].items() if s is not None}  # None: a run diverged, no plane
    levels = plots.shared_log_levels([s["loss"] for s in shown.values()]) if shown else 21
    fig, ax = plots.figure(4, width=2.9, height=2.6)
    for a, (m, s) in zip(ax[0], shown.items()):
        pts = {str(k): s["points"][k].tolist() for k in range(3)}
        plots.contour(a, s["xs"], s["ys"], s["loss"], points=pts, levels=levels, title=LABELS[m],
                      xlabel="distance along 0 → 1", ylabel="distance ⊥ to 0 → 1" * (m == "deep"),
                      colorbar=m == "swa", cbar_label="train loss")
    return fig
