"""Chapter 05's studies on sets of independently trained solutions, built from :mod:`wedges_lib.sets`.

For each independent set of k solutions: the structures of :data:`FITTED` (Fort & Jastrzebski's connector,
its triangles, Benton et al.'s complex with and without their volume regulariser), the naive hull before and
after permutation alignment, of every member to the first (a star, :func:`wedges_lib.align.align_all`, weight
matching) and jointly (MergeMany, :func:`wedges_lib.align.merge_many`), each evaluated at random points (mean and
worst) and along each of its straight edges on a grid (the worst point of every segment: highest loss, lowest
accuracy). Then one value per set of each declared statistic, the
verdicts over the sets, and the chapter's plain numbers with their intervals over the sets.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch import nn

from .. import align, cache, params, plots, solutions, toy_experiments, verdicts
from ..data import Dataset
from ..sets import (
    SetResult,
    evaluate_structure,
    segment_profile,
    structure_edges,
    structure_volume,
    structure_weights,
    train_connector,
    train_simplex,
)
from ..surfaces import plane_through
from ..validation import check_arg
from ..verdicts import interval_text

#: name -> (trainer, options): the structures chapter 05 trains on a set of solutions; ``volume_reg=True`` takes
#: the knob ``set_volume_reg`` (Benton et al.'s λ)
FITTED = {
    "connector (segments)": ("connector", dict(variant="segments")),
    "connector (triangles)": ("connector", dict(variant="simplices")),
    "complex (Benton et al.)": ("simplex", dict(n_extra=2, volume_reg=True)),
    "complex, no volume term": ("simplex", dict(n_extra=2, volume_reg=False))}
#: the structures fitted on every set (the triangles only on the first)
EVERY_SET = ("connector (segments)", "complex (Benton et al.)", "complex, no volume term")
#: short names of the evaluated structures, for recorded numbers
SHORT = {"naive hull": "hull", "aligned hull": "ahull", "jointly aligned hull": "jhull",
         "connector (segments)": "seg", "connector (triangles)": "tri", "complex (Benton et al.)": "cplx",
         "complex, no volume term": "cplx0"}


def _fit_named(cfg, model: nn.Module, data: Dataset, solutions: torch.Tensor, name: str, seed: int) -> dict:
    trainer, options = FITTED[name]
    fit = dict(steps=cfg.structure_steps, lr=cfg.structure_lr, seed=seed, batch_size=cfg.batch_size, quiet=True)
    if "volume_reg" in options:
        options = {**options, "volume_reg": cfg.set_volume_reg if options["volume_reg"] else 0.0}
    train = train_connector if trainer == "connector" else train_simplex
    return vars(train(model, data, solutions, **options, **fit))


def fit_structures(cfg, model: nn.Module, data: Dataset, solutions: torch.Tensor, names=tuple(FITTED),
                   seed: int | None = None) -> dict[str, SetResult]:
    """The structures ``names`` of :data:`FITTED` joining solutions (k, D), each trained ``structure_steps`` SGD
    steps at ``structure_lr`` with minibatches from ``seed`` (default ``cfg.seed``) through the result cache."""
    seed = cfg.seed if seed is None else seed
    out = {}
    for name in names:
        r = cache.cached("sets-structure", cfg, _fit_named, model=model, data=data, solutions=solutions, name=name,
                         seed=seed)
        out[name] = SetResult(r["kind"], r["solutions"], r["extra"], r["history"])
    return out


def set_groups(n_sets: int, k_big: int) -> tuple[list[list[int]], list[int]]:
    """Which of the 3 n_sets + k_big - 3 trained networks form chapter 05's sets: n_sets disjoint triples, and
    the larger set of k_big, the first triple plus the networks after the last triple.

    >>> set_groups(3, 5)
    ([[0, 1, 2], [3, 4, 5], [6, 7, 8]], [0, 1, 2, 9, 10])
    """
    check_arg("k_big", k_big, isinstance(k_big, int) and k_big >= 3, "an int >= 3")
    triples = [[3 * j, 3 * j + 1, 3 * j + 2] for j in range(n_sets)]
    return triples, [0, 1, 2, *range(3 * n_sets, 3 * n_sets + k_big - 3)]


def set_study(cfg, model: nn.Module, data: Dataset, sols: torch.Tensor, names=tuple(FITTED), *,
              index: int = 0) -> dict:
    """Everything chapter 05 measures on one set of solutions (k, D): their training loss and accuracy
    ('solutions_loss', 'solutions_acc', (k,)), the structures ``names`` ('fitted', minibatch seed
    ``cfg.seed + index``), the set aligned to its first member by weight matching ('aligned' (k, D)) and jointly by
    MergeMany ('joint' (k, D)); per evaluated structure (the naive hull, the star- and the jointly aligned hull,
    each fitted one) :func:`~wedges_lib.sets.evaluate_structure`
    at ``n_samples`` points ('evals') and :func:`~wedges_lib.sets.segment_profile` of its edges on ``n_interp``
    points ('edges'); the complexes' volumes ('volumes')."""
    x, y, seed, k = data.x_train, data.y_train, cfg.seed + index, len(sols)
    fitted = fit_structures(cfg, model, data, sols, names, seed=seed)
    aligned = align.align_all(model, sols[0], sols, method="weight", seed=seed)
    joint = align.merge_many(model, sols, seed=seed)
    hulls = {"naive hull": sols, "aligned hull": aligned, "jointly aligned hull": joint}
    evals = {n: evaluate_structure(model, x, y, lambda m, s, v=v: (structure_weights("hull", k, m, seed=s), v),
                                   cfg.n_eval, seed) for n, v in hulls.items()}
    edges = {n: segment_profile(model, x, y, v, structure_edges("hull", k), cfg.n_interp) for n, v in hulls.items()}
    for n, r in fitted.items():
        evals[n] = evaluate_structure(model, x, y, lambda m, s, r=r: (r.weights(m, s), r.vertices), cfg.n_eval,
                                      seed)
        edges[n] = segment_profile(model, x, y, r.vertices, structure_edges(r.kind, k, len(r.extra)), cfg.n_interp)
    volumes = {n: float(structure_volume(r.vertices, r.kind, k)) for n, r in fitted.items() if r.kind == "complex"}
    loss, acc = params.evaluate(model, sols, x, y)
    return dict(solutions_loss=loss, solutions_acc=acc, fitted=fitted, aligned=aligned, joint=joint, evals=evals,
                edges=edges, volumes=volumes)


def run(cfg, data: Dataset) -> dict:
    """Chapter 05's experiment: the networks ('model', 'sol' as :func:`wedges_lib.solutions.independent` returns
    them, from chapter 05's own ``solution_seed``), :func:`set_study` of
    each of the ``n_sets`` triples of :func:`set_groups` ('studies': every structure of :data:`FITTED` on the
    first, :data:`EVERY_SET` on the others; None for a set with a diverged member) and of the larger set of
    ``n_solutions`` ('big', the connector), the planes through the first set (:func:`sections`) and the toy's
    account ('toy': :func:`wedges_lib.toy_experiments.set_study`'s evaluations). Used in :ref:`ch-sets`."""
    model, sol = solutions.independent(cfg, data, 3 * cfg.n_sets + cfg.n_solutions - 3)  # chapter 05's seeds
    triples, larger = set_groups(cfg.n_sets, cfg.n_solutions)
    theta, bad = sol["theta"], sol["diverged"]

    def study(group: list[int], names, index: int) -> dict | None:
        return None if bad[group].any() else set_study(cfg, model, data, theta[group], names, index=index)

    studies = [study(g, list(FITTED) if j == 0 else EVERY_SET, j) for j, g in enumerate(triples)]
    planes = sections(model, studies, theta, cfg.n_sets, cfg.set_grid, data.x_train, data.y_train)
    return dict(model=model, sol=sol, studies=studies, big=study(larger, ["connector (segments)"], len(triples)),
                planes=planes, toy=toy_experiments.set_study(cfg)["evals"])


def _excess(st: dict, value) -> float:
    return float(value) - float(st["solutions_loss"].mean())


def statistics(raw: dict) -> dict[str, list[float]]:
    """Chapter 05's statistics from :func:`run`'s ``raw``, one value per set (a set not measured: NaN). With s the
    solutions' mean loss and a their mean accuracy: the naive hull's mean excess h - s ('sets_hull_height') and (h -
    s) / s ('sets_hull_ratio'); the connector's worst segment, its worst grid point's excess over the worst straight
    edge θ_i - θ_j's ('sets_connector_loss') and its lowest accuracy's drop below a over the edges'
    ('sets_connector_acc'); Benton et al.'s regularised complex, its worst sampled excess over the naive hull's
    ('sets_complex_low') and its volume over the unregularised one's ('sets_complex_volume'); after alignment, the
    hull's mean and worst excess and its edges' worst excess over the same before ('sets_aligned_mean',
    'sets_aligned_worst', 'sets_aligned_edges'; aligned to the first member), and the worst excess after joint
    alignment over before ('sets_joint_worst'); the connector's worst segment's worst excess over the jointly
    aligned hull's worst edge's ('sets_beyond_connector'). Used in :ref:`ch-sets`."""
    keys = ("sets_hull_height", "sets_hull_ratio", "sets_connector_loss", "sets_connector_acc", "sets_complex_low",
            "sets_complex_volume", "sets_aligned_mean", "sets_aligned_worst", "sets_aligned_edges", "sets_joint_worst",
            "sets_beyond_connector")
    out: dict[str, list[float]] = {key: [] for key in keys}
    for st in raw["studies"]:
        if st is None:
            for v in out.values():
                v.append(math.nan)
            continue
        ev, ed, s = st["evals"], st["edges"], float(st["solutions_loss"].mean())
        a = float(st["solutions_acc"].mean())
        hull, ahull, jhull, conn, cplx = (ev.get(n) for n in ("naive hull", "aligned hull", "jointly aligned hull",
                                                                "connector (segments)", "complex (Benton et al.)"))
        worst_edge = _excess(st, ed["naive hull"]["max"].max())
        seg = _excess(st, ed["connector (segments)"]["max"].max()) if conn else math.nan
        joint_edge = _excess(st, ed["jointly aligned hull"]["max"].max())
        vols = st["volumes"]
        values = dict(
            sets_hull_height=_excess(st, hull["mean"]), sets_hull_ratio=_excess(st, hull["mean"]) / s,
            sets_connector_loss=seg / worst_edge,
            sets_beyond_connector=seg / joint_edge if joint_edge > 0 else math.nan,
            sets_connector_acc=((a - float(ed["connector (segments)"]["acc_min"].min()))
                                / (a - float(ed["naive hull"]["acc_min"].min())) if conn else math.nan),
            sets_complex_low=_excess(st, cplx["max"]) / _excess(st, hull["max"]) if cplx else math.nan,
            sets_complex_volume=(vols["complex (Benton et al.)"] / vols["complex, no volume term"]
                                 if len(vols) == 2 else math.nan),
            sets_aligned_mean=_excess(st, ahull["mean"]) / _excess(st, hull["mean"]),
            sets_aligned_worst=_excess(st, ahull["max"]) / _excess(st, hull["max"]),
            sets_aligned_edges=_excess(st, ed["aligned hull"]["max"].max()) / worst_edge,
            sets_joint_worst=_excess(st, jhull["max"]) / _excess(st, hull["max"]))
        for key in keys:
            out[key].append(values[key])
    return out


def judge(claims: dict, stats: dict[str, list[float]], scale: str) -> dict:
    """Judge chapter 05's checks on :func:`statistics` (its groups and headline follow from
    :func:`wedges_lib.protocol.conclude`). Name -> :class:`~wedges_lib.verdicts.Verdict`, every one recorded.
    Used in :ref:`ch-sets`."""
    return {name: verdicts.judge(claims[name], values, scale, unit="sets") for name, values in stats.items()}


def _labels(name: str, k: int, n_extra: int) -> list[str]:
    extra = ["θc"] if name.startswith("connector") else [f"e{j + 1}" for j in range(n_extra)]
    names = [f"σ(θ{i + 1})" if name == "jointly aligned hull" else f"θ{i + 1}" if name != "aligned hull" or i == 0
             else f"π(θ{i + 1})" for i in range(k)] + extra
    return names


def _edge_values(studies: list[dict | None]):
    """(structure, edge label, [its 'max'], [its 'acc_min'], [its mean grid loss]) over the measured sets, edges
    named as in the first measured set."""
    ok = [st for st in studies if st is not None]
    for name in (ok[0]["edges"] if ok else ()):
        k, fit = len(ok[0]["solutions_loss"]), ok[0]["fitted"].get(name)
        n_extra = len(fit.extra) if fit else 0
        names = _labels(name, k, n_extra)
        have = [st["edges"][name] for st in ok if name in st["edges"]]
        for e, (i, j) in enumerate(structure_edges(fit.kind if fit else "hull", k, max(n_extra, 1))):
            yield (name, f"{names[i]} – {names[j]}", [float(p["max"][e]) for p in have],
                   [float(p["acc_min"][e]) for p in have], [float(p["loss"][e].mean()) for p in have])


def segment_rows(studies: list[dict | None]) -> list[dict]:
    """Per structure and straight edge, over the sets that have it: the worst grid point's loss and the lowest
    accuracy on the edge, each 'mean [interval]' over the sets. Used in :ref:`ch-sets`."""
    return [dict(structure=name, edge=edge, sets=len(worst), highest_loss=interval_text(worst),
                 lowest_accuracy=interval_text(acc)) for name, edge, worst, acc, _ in _edge_values(studies)]


def set_numbers(studies: list[dict | None], big: dict | None, k_big: int) -> dict[str, object]:
    """Chapter 05's plain numbers, by recorded name, each 'mean [interval]' over the measured sets of 3 (the
    triangles: the first set only): the solutions' loss; per evaluated structure its mean and worst sampled loss,
    its lowest sampled accuracy, its worst edge's worst loss and lowest accuracy; the complexes' volumes; the
    larger set ``big`` of ``k_big`` (one set: plain numbers). Used in :ref:`ch-sets`."""
    ok = [st for st in studies if st is not None]
    num: dict[str, object] = {"sets_k": k_big, "sets_sol3": interval_text([st["solutions_loss"].mean() for st in ok]),
                              "sets_solacc3": interval_text([st["solutions_acc"].mean() for st in ok])}
    for name, short in SHORT.items():
        have = [st for st in ok if name in st["evals"]]
        ev, ed = [st["evals"][name] for st in have], [st["edges"][name] for st in have]
        num.update({f"sets_{short}3_mean": interval_text([e["mean"] for e in ev]),
                    f"sets_{short}3_worst": interval_text([e["max"] for e in ev]),
                    f"sets_{short}3_accmin": interval_text([e["acc"].min() for e in ev]),
                    f"sets_{short}3_edge_worst": interval_text([e["max"].max() for e in ed]),
                    f"sets_{short}3_edge_accmin": interval_text([e["acc_min"].min() for e in ed])})
    for name in ("complex (Benton et al.)", "complex, no volume term"):
        num[f"sets_{SHORT[name]}3_volume"] = interval_text([st["volumes"][name] for st in ok if name in st["volumes"]])
    num.update({f"sets_{key}": math.nan for key in ("solk", "hullk_mean", "ahullk_mean", "segk_worst",
                                                    "segk_worst_fraction")})
    if big is not None:
        ev, ed = big["evals"], big["edges"]
        num.update(sets_solk=float(big["solutions_loss"].mean()), sets_hullk_mean=float(ev["naive hull"]["mean"]),
                   sets_ahullk_mean=float(ev["aligned hull"]["mean"]),
                   sets_segk_worst=float(ed["connector (segments)"]["max"].max()),
                   sets_segk_worst_fraction=statistics({"studies": [big]})["sets_connector_loss"][0])
    return num


def big_set_sentence(num: dict, threshold: float) -> str:
    """The one larger set's outcome against the connector claim's ``threshold``, as a sentence (one set has no
    interval, so no verdict). Used in :ref:`ch-sets`."""
    f = num["sets_segk_worst_fraction"]
    if not math.isfinite(f):
        return "The larger set could not be measured (a member diverged)."
    side = "below" if f < threshold else "not below"
    return (f"For the larger set of {num['sets_k']} its worst segment's worst excess is {f:.3g} of the worst "
            f"straight edge's, {side} the declared {threshold:g}: one set, so a number to read beside the verdict, "
            "not a verdict.")


def _labelled(studies: list[dict | None], big: dict | None) -> list[tuple[str, dict | None]]:
    return [*((f"set {j + 1}", st) for j, st in enumerate(studies)), ("larger set", big)]


#: the structures whose edges :func:`mean_worst_rows` draws, by their label there
EDGE_PLOT = {"naive hull": "hull", "aligned hull": "aligned", "jointly aligned hull": "joint",
             "connector (segments)": "connector", "complex (Benton et al.)": "complex"}


def mean_worst_rows(studies: list[dict | None], *, edges: bool = False) -> dict[str, tuple[float, float]]:
    """structure (or, with ``edges``, 'label: edge' for the structures of :data:`EDGE_PLOT`) -> (mean, worst) loss
    of its sampled points (of the edge's grid), each averaged over the sets that measured it, for
    :func:`wedges_lib.plots.mean_worst`. Used in :ref:`ch-sets`."""
    avg = lambda v: sum(v) / len(v)  # noqa: E731
    if edges:
        return {f"{EDGE_PLOT[name]}: {edge}": (avg(mean), avg(worst))
                for name, edge, worst, _, mean in _edge_values(studies) if name in EDGE_PLOT}
    ok = [st for st in studies if st is not None]
    rows = {}
    for name in (ok[0]["evals"] if ok else ()):
        ev = [st["evals"][name] for st in ok if name in st["evals"]]
        rows[name] = (avg([float(e["mean"]) for e in ev]), avg([float(e["max"]) for e in ev]))
    return rows


def describe(studies: list[dict | None], big: dict | None) -> list[str]:
    """One line per set (and the larger one): mean and worst sampled loss of each structure, and the worst grid
    point of each of the connector's segments. Used in :ref:`ch-sets`."""
    lines = []
    for label, st in _labelled(studies, big):
        if st is None:
            lines.append(f"{label}: not measured (a member diverged)")
            continue
        parts = [f"{n} {float(e['mean']):.3f} / {float(e['max']):.3f}" for n, e in st["evals"].items()]
        seg = st["edges"]["connector (segments)"]["max"]
        lines.append(f"{label} (k = {len(st['solutions_loss'])}, solutions {float(st['solutions_loss'].mean()):.3f})"
                     f": mean / worst: {'; '.join(parts)}; worst per segment {[round(float(v), 3) for v in seg]}")
    return lines


def sections(model: nn.Module, studies: list[dict | None], theta: torch.Tensor, n_sets: int, n: int,
             x: torch.Tensor, y: torch.Tensor) -> tuple[dict, dict, dict]:
    """The loss on n x n grids of three planes of the first measured set θ_1, θ_2, θ_3 (rows of theta): through
    θ_1, θ_2 and its trained connector θ_c (without a measured set, the first triple's mean), through the three
    solutions, and through them aligned to θ_1 (:func:`wedges_lib.surfaces.plane_through`; without a measured
    set, the unaligned plane again). Used in :ref:`ch-sets`."""
    j = next((j for j, st in enumerate(studies) if st is not None), None)
    a, b, c = theta[set_groups(n_sets, 3)[0][j or 0]]
    conn = (a + b + c) / 3 if j is None else studies[j]["fitted"]["connector (segments)"].extra[0]
    hull = plane_through(model, a, b, c, n=n, x=x, y=y)
    al = None if j is None else studies[j]["aligned"]
    return (plane_through(model, a, b, conn, n=n, x=x, y=y), hull,
            hull if al is None else plane_through(model, al[0], al[1], al[2], n=n, x=x, y=y))


def numbers(raw: dict, cfg) -> dict:
    """Chapter 05's plain numbers from :func:`run`'s ``raw``: :func:`set_numbers`, the toy's (the hull's mean
    loss, the connector's mean and worst), the count of diverged networks. Used in :ref:`ch-sets`."""
    hull, conn = raw["toy"]["naive hull"], raw["toy"]["connector"]
    return {**set_numbers(raw["studies"], raw["big"], cfg.n_solutions),
            "sets_diverged": int(raw["sol"]["diverged"].sum()), "sets_toy_hull": float(hull["mean"]),
            "sets_toy_conn": float(conn["mean"]),
            "sets_toy_conn_worst": float(conn["max"])}


def figures(which: str, raw: dict, cfg=None):
    """Chapter 05's figures, by name: 'planes' (the loss on the planes through the first set: its connector's
    segments, the naive hull), 'summary' (mean and worst sampled loss per structure and the toy's sampled losses
    above, the worst point of every straight edge below), 'symmetry' (the plane through the set aligned to θ₁, and
    the hull's mean and worst points and edges before and after each alignment) and 'explorer' (a kernel-free slider
    over the alignment, :func:`explorer`; needs ``cfg``). Returns the figure (the explorer: its HTML).
    Used in :ref:`ch-sets`."""
    check_arg("which", which, which in ("planes", "summary", "symmetry", "explorer"),
              "'planes', 'summary', 'symmetry' or 'explorer'")
    if which == "explorer":
        return explorer(raw["studies"], cfg.seed, cfg.n_eval)
    if which == "summary":
        fig = plt.figure(figsize=(8.4, 7.6))
        grid = fig.add_gridspec(2, 2, height_ratios=(1, 1.3))
        ax = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])]
        rows = {k: v for k, v in mean_worst_rows(raw["studies"]).items() if k not in HULLS[1:]}
        plots.mean_worst(ax[0], rows, xlabel="train loss", title="sampled points")
        toy_logs = {n: e["loss"].clamp_min(1e-8).log10() for n, e in raw["toy"].items()}  # floored at 1e-8
        plots.histograms(ax[1], toy_logs, bins=30, xlabel="log10 toy loss", title="toy: sampled losses")
        edges = {k: v for k, v in mean_worst_rows(raw["studies"], edges=True).items()
                 if k.split(":")[0] not in ("aligned", "joint")}
        plots.mean_worst(ax[2], edges, xlabel="train loss", title="every straight edge")
        for axis in ax:
            axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
        return fig
    fig, ax = plots.figure(2, width=4.0, height=3.4)
    if which == "symmetry":
        _plane(ax[0, 0], raw["planes"][2], ("θ₁", "π(θ₂)", "π(θ₃)"), "hull aligned to θ₁")
        rows = {k: v for k, v in mean_worst_rows(raw["studies"]).items() if k in HULLS}
        rows |= {k: v for k, v in mean_worst_rows(raw["studies"], edges=True).items()
                 if k.split(":")[0] in ("hull", "aligned", "joint")}
        plots.mean_worst(ax[0, 1], rows, xlabel="train loss", title="the hull before and after alignment")
        ax[0, 1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
        return fig
    for axis, plane, nm, title in zip(ax[0], raw["planes"], (("θ₁", "θ₂", "θc"), ("θ₁", "θ₂", "θ₃")),
                                      ("θ₁ → θc → θ₂", "naive hull")):
        _plane(axis, plane, nm, title)
    return fig


#: the naive hull and the hull aligned to θ₁ (a star) and jointly (MergeMany), by their names in a set study
HULLS = ("naive hull", "aligned hull", "jointly aligned hull")


def _plane(axis, plane: dict, names: tuple[str, str, str], title: str) -> None:
    P, path = plane["points"], [0, 2, 1] if names[2] == "θc" else [0, 1, 2, 0]
    plots.contour(axis, plane["xs"], plane["ys"], plane["loss"], points=dict(zip(names, P)), title=title,
                  xlabel=f"along {names[1]} − θ₁", ylabel=f"towards {names[2]}", cbar_label="train loss")
    plots.paths(axis, {title: P[path]})
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7)


def explorer(studies: list[dict | None], seed: int, n_eval: int):
    """A kernel-free slider (:func:`wedges_lib.plots.frames`) over the alignment of the first measured set: its
    naive hull, aligned to θ₁ and aligned jointly, drawn as the triangle of barycentric weights, each of the
    ``n_eval`` sampled points (weights from ``seed``, as :func:`set_study` drew them) coloured by its training
    loss on one scale for all three, the worst marked. Draws from results already computed. Used in :ref:`ch-sets`."""
    import ipywidgets as widgets

    j = next((j for j, st in enumerate(studies) if st is not None), None)
    labels = dict(zip(("naive", "aligned to θ₁ (star)", "aligned jointly (MergeMany)"), HULLS))
    corners = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, 3 ** 0.5 / 2]])
    xy = structure_weights("hull", 3, n_eval, seed=seed + (j or 0)) @ corners
    logs = {} if j is None else {h: studies[j]["evals"][h]["loss"].clamp_min(1e-6).log10() for h in HULLS}
    lo = min((float(v.min()) for v in logs.values()), default=0.0)
    hi = max((float(v.max()) for v in logs.values()), default=1.0)

    def draw(hull: str) -> None:
        fig, ax = plots.figure(1, width=5.0, height=4.2)
        ax = ax[0, 0]
        ax.plot(*corners[[0, 1, 2, 0]].T, color="black", lw=1)
        if logs:
            loss = logs[labels[hull]]
            sc = ax.scatter(xy[:, 0], xy[:, 1], c=loss, s=14, cmap="viridis", vmin=lo, vmax=hi)
            fig.colorbar(sc, ax=ax).set_label("log10 train loss")
            w = int(loss.argmax())
            ax.plot([float(xy[w, 0])], [float(xy[w, 1])], "x", color="red", ms=10, mew=2, label="worst point")
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.05))
            ax.set_title(f"set {j + 1}, {hull}: worst {10 ** float(loss.max()):.3g}")
        for name, (x, y) in zip(("θ₁", "θ₂", "θ₃"), corners.tolist()):
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(-6, 6 if y > 0 else -14))
        ax.set_aspect("equal")
        ax.axis("off")

    return plots.frames(draw, {"hull": widgets.Dropdown(options=list(labels), value="naive")}, "hull")
