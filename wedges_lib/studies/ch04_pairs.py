"""Chapter 04's study of pairs of independently trained solutions, from a configuration.

Per pair (:func:`pair_study`): the straight line, the curves of :data:`CURVES` fitted between the two solutions
(:mod:`wedges_lib.connect`), the F&J connector as a recursive chain (:func:`wedges_lib.connect.fj_chain`), the
line after permutation alignment (:mod:`wedges_lib.align`) and the lines from each initialisation; across pairs
the chapter's statistics (:func:`statistics`), verdicts and plain numbers; across widths the line's barrier before
and after alignment (:func:`width_study`); and the chapter's main figure (:func:`draw_pairs`).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
from torch import nn

from .. import align, cache, plots, solutions, toy_experiments, verdicts
from ..config import Config
from ..connect import (
    accuracy_drop,
    barrier_height,
    curve_points,
    fj_chain,
    fj_connector,
    max_rise,
    profile,
    rise_fraction,
    train_curve,
)
from ..data import Dataset
from ..surfaces import plane_through
from ..validation import check_arg

#: name -> (path kind, objective): the curves chapter 04 fits between two solutions
CURVES = {
    "Bezier": ("bezier", "curve"), "polygonal chain": ("polychain", "curve"),
    "F&J, one bend at the midpoint": ("polychain", "point"), "F&J, path objective": ("polychain", "path")}

#: curve name -> the short name in chapter 04's recorded numbers and claims
SHORT = {"Bezier": "bezier", "polygonal chain": "chain", "F&J, one bend at the midpoint": "fj",
         "F&J, path objective": "fjpath"}

#: the name of the recursive F&J chain in chapter 04's figures
FJ_CHAIN = "F&J connector (chain)"


def _fit_named(cfg, model: nn.Module, data: Dataset, a: torch.Tensor, c: torch.Tensor, name: str,
               seed: int) -> torch.Tensor:
    kind, objective = CURVES[name]
    fit = dict(data=data, steps=cfg.curve_steps, batch_size=cfg.batch_size, seed=seed, quiet=True)
    if objective == "curve":
        return train_curve(model, a, c, kind=kind, lr=cfg.curve_lr, **fit).b
    lr = cfg.connector_lr if objective == "point" else cfg.curve_lr
    return fj_connector(model, a, c, objective=objective, lr=lr, **fit).b


def fit_curves(cfg, model: nn.Module, data: Dataset, a: torch.Tensor, c: torch.Tensor,
               seed: int | None = None) -> dict[str, tuple]:
    """The curves of :data:`CURVES` between a, c (D,), each fitted for ``curve_steps`` steps (at ``curve_lr``; the
    F&J connector at ``connector_lr``) with minibatches from ``seed`` (default ``cfg.seed``) through the result
    cache: name -> (bend b (D,), path kind). Used in :ref:`ch-pairs`."""
    seed = cfg.seed if seed is None else seed
    return {name: (cache.cached("pairs-bend", cfg, _fit_named, model=model, data=data, a=a, c=c, name=name,
                                seed=seed), kind) for name, (kind, _) in CURVES.items()}


def _fit_chain(cfg, model: nn.Module, data: Dataset, a: torch.Tensor, c: torch.Tensor, seed: int) -> dict:
    return vars(fj_chain(model, a, c, depth=cfg.fj_depth, tol=cfg.fj_tol, data=data, n_probe=cfg.n_interp,
                         steps=cfg.curve_steps, lr=cfg.connector_lr, batch_size=cfg.batch_size, seed=seed))


def chain_study(cfg, model: nn.Module, data: Dataset, a: torch.Tensor, c: torch.Tensor, seed: int) -> dict:
    """The F&J connector as :func:`wedges_lib.connect.fj_chain` builds it between a, c (D,), at most ``fj_depth``
    levels with tolerance ``fj_tol`` (a fraction of the line's barrier), each bend ``curve_steps`` steps at
    ``connector_lr`` from minibatch seed ``seed``, through the result cache: 'points' (K, D), 'barriers' (L + 1,)
    after each level, 'bends' (L + 1,), and 'profile', the training loss along the final chain (``n_interp``
    points per segment, concatenated). Used in :ref:`ch-pairs`."""
    return cache.cached("pairs-fj-chain", cfg, _fit_chain, model=model, data=data, a=a, c=c, seed=seed)


def pair_study(cfg, model: nn.Module, data: Dataset, a: torch.Tensor, c: torch.Tensor, a0: torch.Tensor,
               c0: torch.Tensor, *, index: int = 0) -> dict:
    """Everything chapter 04 measures on one pair of solutions a, c (D,) trained from a0, c0 (D,): training-set
    profiles (:func:`~wedges_lib.connect.profile`, ``n_interp`` points) of the straight line ('line'), of the
    curves of :data:`CURVES` ('curves', name -> profile; their bends in 'bends', name -> (b, kind)) fitted with
    minibatch seed ``cfg.seed + index``, of the line from a to c aligned to a by each method of :mod:`wedges_lib.align`
    ('aligned', method -> profile; activations on the training inputs), of the two lines a0 -> a, c0 -> c
    ('from_init'), and the recursive F&J chain ('fj_chain', :func:`chain_study`). Used in :ref:`ch-pairs`."""
    x, y = data.x_train, data.y_train
    bends = fit_curves(cfg, model, data, a, c, seed=cfg.seed + index)
    aligned = {m: align.align(model, a, c, method=m, x=x) for m in align.METHODS}
    return {"line": profile(model, torch.stack([a, c]), cfg.n_interp, x=x, y=y), "bends": bends,
            "aligned": {m: profile(model, torch.stack([a, t]), cfg.n_interp, x=x, y=y) for m, t in aligned.items()},
            "curves": {name: profile(model, torch.stack([a, b, c]), cfg.n_interp, kind=kind, x=x, y=y)
                       for name, (b, kind) in bends.items()},
            "from_init": [profile(model, torch.stack(e), cfg.n_interp, x=x, y=y) for e in ((a0, a), (c0, c))],
            "fj_chain": chain_study(cfg, model, data, a, c, seed=cfg.seed + index)}


def run(cfg, data: Dataset) -> dict:
    """Chapter 04's experiment: ``2 n_pairs`` networks trained independently ('model', 'sol' as
    :func:`wedges_lib.solutions.independent` returns them), :func:`pair_study` of each pair (2i, 2i + 1) ('studies',
    None for a pair with a diverged member), the plane through the first pair and its Bezier bend ('plane',
    :func:`tunnel`), the barrier against width ('widths', :func:`width_study`) and the toy's account ('toy',
    :func:`wedges_lib.toy_experiments.pair_study`). Used in :ref:`ch-pairs`."""
    model, sol = solutions.independent(cfg, data, 2 * cfg.n_pairs)
    th, th0, bad = sol["theta"], sol["theta0"], sol["diverged"]
    studies = [None if bad[i:i + 2].any() else pair_study(cfg, model, data, th[i], th[i + 1], th0[i], th0[i + 1],
                                                          index=i // 2) for i in range(0, len(th), 2)]
    return dict(model=model, sol=sol, studies=studies, widths=width_study(cfg, data, cfg.align_widths, studies),
                plane=tunnel(model, studies, th, cfg.pair_grid, data.x_train, data.y_train),
                toy=toy_experiments.pair_study(cfg))


#: chapter 04's claims measured once per pair (the rest, 'pairs_monotonic', once per network)
PAIR_CLAIMS = ("pairs_line_height", "pairs_line_ratio", "pairs_curves_bezier", "pairs_curves_chain",
               "pairs_curves_fjpath", "pairs_connector", "pairs_beyond_bezier", "pairs_beyond_connector",
               "pairs_align_ratio", "pairs_align_height")


def statistics(raw: dict) -> dict[str, list[float]]:
    """Chapter 04's statistics from :func:`run`'s ``raw``, one value per pair (``pairs_monotonic``: per network)
    from its :func:`pair_study` results; a pair that is None (a member diverged) gives NaN, 'not measured'. Claim
    name -> values: the line's barrier ('pairs_line_height') and that barrier over the ends' mean loss
    ('pairs_line_ratio'); each curve's barrier as a fraction of the line's ('pairs_curves_*'; NaN without a barrier
    on the line); the recursive F&J chain's after its last level, as a fraction of the line's ('pairs_connector';
    the one-bend connector started at the midpoint is a plain number, :func:`pair_numbers`); the line's barrier
    after weight matching ('pairs_align_height') and as a fraction of the line's before it ('pairs_align_ratio');
    the Bezier curve's and the F&J chain's barrier over the weight-matched line's ('pairs_beyond_bezier',
    'pairs_beyond_connector'; NaN when alignment leaves no barrier);
    :func:`~wedges_lib.connect.rise_fraction` of each init -> solution line; the aligned barrier's change per
    doubling of the width ('pairs_width', :func:`doubling_slope`, per pair of the width study).
    Used in :ref:`ch-pairs`."""
    out: dict[str, list[float]] = {name: [] for name in (*PAIR_CLAIMS, "pairs_monotonic")}
    widths = raw["widths"]
    out["pairs_width"] = doubling_slope(widths["widths"], widths["weight"]).tolist()
    nan = float("nan")
    for s in raw["studies"]:
        if s is None:
            for name in out:
                out[name] += [nan, nan] if name == "pairs_monotonic" else [nan]
            continue
        line = s["line"]["loss"]
        lb, ends = float(barrier_height(line)), float(0.5 * (line[0] + line[-1]))
        out["pairs_line_height"].append(lb)
        out["pairs_line_ratio"].append(lb / ends if ends > 0 else nan)
        for name, prof in s["curves"].items():
            if SHORT[name] != "fj":
                out[f"pairs_curves_{SHORT[name]}"].append(float(barrier_height(prof["loss"])) / lb if lb > 0 else nan)
        chain = float(s["fj_chain"]["barriers"][-1])
        out["pairs_connector"].append(chain / lb if lb > 0 else nan)
        al = float(barrier_height(s["aligned"]["weight"]["loss"]))
        bezier = float(barrier_height(s["curves"]["Bezier"]["loss"]))
        out["pairs_beyond_bezier"].append(bezier / al if al > 0 else nan)
        out["pairs_beyond_connector"].append(chain / al if al > 0 else nan)
        out["pairs_align_height"].append(al)
        out["pairs_align_ratio"].append(al / lb if lb > 0 else nan)
        out["pairs_monotonic"] += [rise_fraction(p["loss"]) for p in s["from_init"]]
    return out


def judge(claims: dict, stats: dict[str, list[float]], scale: str) -> dict:
    """Judge chapter 04's checks on :func:`statistics` (``claims`` from :func:`wedges_lib.protocol.declare`;
    its groups and headline follow from :func:`wedges_lib.protocol.conclude`). Name ->
    :class:`~wedges_lib.verdicts.Verdict`, every one recorded. Used in :ref:`ch-pairs`."""
    return {name: verdicts.judge(claims[name], values, scale, unit="networks" if name == "pairs_monotonic"
                                 else "pairs") for name, values in stats.items()}


def pair_numbers(studies: list[dict | None], toy_paths: dict) -> dict[str, float]:
    """Every plain number chapter 04 reports, by its recorded name: means over the measured pairs of the ends'
    loss, the line's barrier and accuracy drop, each curve's barrier as a fraction of the line's and its largest
    accuracy drop; the line's barrier and accuracy drop after each alignment method ('pairs_{method}_barrier',
    '..._acc_drop'); the F&J chain's barrier after each level of recursion over the line's, 'mean [95 %]' over the
    pairs (:func:`chain_levels`, 'pairs_fjchain_levels'); the smallest fall and largest rise of the init -> solution
    lines; the toy's two barriers (``toy_paths`` name -> (t, loss)). Used in :ref:`ch-pairs`."""
    ok = [s for s in studies if s is not None]
    mean = lambda v: sum(v) / len(v) if v else float("nan")  # noqa: E731
    lines = [s["line"] for s in ok]
    inits = [p["loss"] for s in ok for p in s["from_init"]]
    num = {"pairs_ends_loss": mean([float(0.5 * (p["loss"][0] + p["loss"][-1])) for p in lines]),
           "pairs_line_barrier": mean([float(barrier_height(p["loss"])) for p in lines]),
           "pairs_line_acc_drop": mean([float(accuracy_drop(p["acc"])) for p in lines]),
           "pairs_init_rise": max([float(max_rise(v)) for v in inits], default=float("nan")),
           "pairs_init_drop": min([float(v[0] - v[-1]) for v in inits], default=float("nan")),
           "pairs_toy_line": float(barrier_height(toy_paths["straight a → c"][1])),
           "pairs_toy_via": float(barrier_height(toy_paths["a → b → c (intersection)"][1]))}
    for name, short in SHORT.items():
        num[f"pairs_{short}_ratio"] = mean([float(barrier_height(s["curves"][name]["loss"]) /
                                                  barrier_height(s["line"]["loss"])) for s in ok])
        num[f"pairs_{short}_acc_drop"] = mean([float(accuracy_drop(s["curves"][name]["acc"])) for s in ok])
    levels = chain_levels(studies)
    num["pairs_fjchain_levels"] = "; ".join(f"level {k}: {verdicts.interval_text(levels[:, k])}"
                                            for k in range(1, levels.shape[1]))
    for m in align.METHODS:
        num[f"pairs_{m}_barrier"] = mean([float(barrier_height(s["aligned"][m]["loss"])) for s in ok])
        num[f"pairs_{m}_acc_drop"] = mean([float(accuracy_drop(s["aligned"][m]["acc"])) for s in ok])
    return num


def chain_levels(studies: list[dict | None]) -> torch.Tensor:
    """The F&J chain's barrier after each level of recursion over the line's, (P, L + 1) (level 0 is 1; NaN for an
    unmeasured pair or a line without a barrier). Used in :ref:`ch-pairs`."""
    rows = [s["fj_chain"]["barriers"] / s["fj_chain"]["barriers"][0] if s is not None
            and s["fj_chain"]["barriers"][0] > 0 else None for s in studies]
    width = next((len(r) for r in rows if r is not None), 1)
    return torch.stack([torch.full((width,), math.nan) if r is None else r.float() for r in rows])


def bends_to_reach(studies: list[dict | None], bar: float) -> str:
    """Per pair, the bends the F&J chain had at the first level whose barrier is below ``bar`` times the line's
    ('not reached' if none), as a sentence for the prose. Used in :ref:`ch-pairs`."""
    out = []
    for s, row in zip(studies, chain_levels(studies)):
        below = (row < bar).nonzero()
        out.append("not measured" if s is None else "not reached" if len(below) == 0
                   else str(int(s["fj_chain"]["bends"][int(below[0])])))
    return ", ".join(out)


def connector_sentence(v: dict) -> str:
    """What the F&J connector's verdict means beside its path-trained variant's (``v`` from
    :func:`judge`), as a sentence for the prose. Used in :ref:`ch-pairs`."""
    fj, path = v["pairs_connector"].state, v["pairs_curves_fjpath"].state
    if v["pairs_connector"].n == 0:
        return "No pair could be measured: each had a diverged network."
    if fj == "reproduced":
        return ("Bend points found by descending the loss at each point alone, each in its hyperplane, remove the "
                "barrier as well as the trained curves do, although no objective sees a segment.")
    if path == "reproduced":
        return (f"The connector's claim is {fj}: bend points of low loss, found in their hyperplanes, have not made "
                "every segment low within the declared depth. The variant that descends the whole path under the "
                "midpoint's constraint meets the bound, so the hyperplane is not the limit, the objective is.")
    return (f"The connector's claim is {fj} and its path-trained variant's {path}: within the hyperplanes and "
            "this budget of steps, neither objective removed the barrier.")


#: the names of the straight line after weight / activation matching in chapter 04's figures
ALIGNED, ACTIVATION = "line, weight-matched", "line, activation-matched"


def stacked_profiles(studies: list[dict | None], n_interp: int) -> dict[str, torch.Tensor]:
    """Chapter 04's loss profiles stacked over the pairs for one figure: 'straight line', ALIGNED and ACTIVATION
    (the line after weight / activation matching) and each curve of :data:`CURVES` (T, P), 'init → solution'
    (T, 2P); an unmeasured pair (None) is NaN. Used in :ref:`ch-pairs`."""
    nan = torch.full((n_interp, 1), float("nan"))
    cols = {name: [] for name in ("straight line", ALIGNED, ACTIVATION, *CURVES, "init → solution")}
    for s in studies:
        cols["straight line"].append(nan if s is None else s["line"]["loss"][:, None])
        cols[ALIGNED].append(nan if s is None else s["aligned"]["weight"]["loss"][:, None])
        cols[ACTIVATION].append(nan if s is None else s["aligned"]["activation"]["loss"][:, None])
        for name in CURVES:
            cols[name].append(nan if s is None else s["curves"][name]["loss"][:, None])
        cols["init → solution"] += [nan, nan] if s is None else [p["loss"][:, None] for p in s["from_init"]]
    return {name: torch.cat(v, 1) for name, v in cols.items()}


def tunnel(model: nn.Module, studies: list[dict | None], theta: torch.Tensor, n: int, x: torch.Tensor,
           y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The loss on an n x n grid of the plane through A, C and the Bezier bend B of the first measured pair
    (without one, pair 0 of theta (2P, D) and a point off its line), as :func:`wedges_lib.surfaces.plane_through`
    returns it, plus 'curve' (50, 2), the Bezier curve in the plane's coordinates. Used in :ref:`ch-pairs`."""

    i = next((i for i, s in enumerate(studies) if s is not None), None)
    a, c = theta[2 * (i or 0)], theta[2 * (i or 0) + 1]
    if i is None:  # nothing fitted: any point off the line, a quarter of |c - a| from the midpoint
        d = c - a
        r = torch.roll(d, 1) - (torch.roll(d, 1) @ d) / (d @ d) * d
        b = 0.5 * (a + c) + 0.25 * d.norm() * r / r.norm()
    else:
        b = studies[i]["bends"]["Bezier"][0]
    plane = plane_through(model, a, c, b, n=n, x=x, y=y)
    pts = curve_points(torch.stack([a, b, c]), torch.linspace(0, 1, 50)) - a
    return {**plane, "curve": torch.stack([pts @ plane["u"], pts @ plane["v"]], dim=1)}


def width_study(cfg: Mapping, data: Dataset, widths: Sequence[float], studies: list | None = None) -> dict:
    """For each width w of ``widths`` (W,), ``n_pairs`` pairs trained as :func:`wedges_lib.solutions.independent`
    (same seeds, width w) and the training loss's barrier on the line from a to c, raw ('line') and with c aligned
    to a by each method of :mod:`wedges_lib.align` ('weight', 'activation'), each (W, P) (NaN: a diverged member),
    'widths' (W,); at ``cfg.width``, read from ``studies`` (:func:`pair_study`'s) if given. Used in :ref:`ch-pairs`."""
    x, y = data.x_train, data.y_train
    out = {m: torch.full((len(widths), cfg.n_pairs), math.nan) for m in ("line", *align.METHODS)}
    for i, w in enumerate(widths):
        if studies is not None and float(w) == float(cfg.width):  # the same pairs' profiles, not computed again
            for p, s in ((p, s) for p, s in enumerate(studies) if s is not None):
                for m, prof in {"line": s["line"], **s["aligned"]}.items():
                    out[m][i, p] = barrier_height(prof["loss"])
            continue
        model, sol = solutions.independent(Config({**cfg, "width": float(w)}), data, 2 * cfg.n_pairs)
        for p in range(cfg.n_pairs):
            if sol["diverged"][2 * p:2 * p + 2].any():
                continue
            a, c = sol["theta"][2 * p], sol["theta"][2 * p + 1]
            ends = {"line": c, **{m: align.align(model, a, c, method=m, x=x) for m in align.METHODS}}
            for m, t in ends.items():
                out[m][i, p] = barrier_height(profile(model, torch.stack([a, t]), cfg.n_interp, x=x, y=y)["loss"])
    return {"widths": torch.tensor([float(w) for w in widths]), **out}


def doubling_slope(widths: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Least-squares slope of each column of values (W, P) against log2 of widths (W,): the change per doubling
    of the width, (P,); NaN for a column with a NaN.

    >>> doubling_slope(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([[3.0], [2.0], [1.0]])).tolist()
    [-1.0]
    """
    u = torch.log2(widths.double())
    u = u - u.mean()
    return ((u[:, None] * (values.double() - values.double().mean(0))).sum(0) / (u ** 2).sum()).float()


def numbers(raw: dict, cfg) -> dict:
    """Every plain number chapter 04's prose quotes, by its recorded name, from :func:`run`'s ``raw``: the pairs'
    (:func:`pair_numbers`), the steps, the count of diverged networks, and the width study's mean barriers at the
    narrowest and widest width ('pairs_w_{line,weight,activation}_{narrow,wide}', the widths 'pairs_w_narrow',
    'pairs_w_wide'), each method's mean slope per doubling ('pairs_w_{method}_slope') and the table of means
    ('pairs_w_means'). Used in :ref:`ch-pairs`."""
    w, widths = raw["widths"]["widths"], raw["widths"]
    methods = ("line", *align.METHODS)
    num = {**pair_numbers(raw["studies"], raw["toy"]["paths"]), "curve_steps": cfg.curve_steps,
           "pairs_diverged": int(raw["sol"]["diverged"].sum()), "pairs_w_narrow": float(w[0]),
           "pairs_w_wide": float(w[-1]),
           "pairs_w_means": {"widths": w.tolist(), **{m: widths[m].nanmean(1).tolist() for m in methods}}}
    for m in methods:
        num |= {f"pairs_w_{m}_narrow": float(widths[m][0].nanmean()),
                f"pairs_w_{m}_wide": float(widths[m][-1].nanmean()),
                f"pairs_w_{m}_slope": float(doubling_slope(w, widths[m]).nanmean())}
    return num


def figures(which: str, raw: dict, cfg, bar: float | None = None):
    """Chapter 04's figures, by name: 'pairs' (2 x 2: the lines and curves, the plane through A, C and the Bezier
    bend, the lines from the initialisations, the F&J chain's barrier per level with the curves' ``bar``;
    :func:`draw_pairs`), 'symmetry' (the lines after alignment beside the Bezier curve, the barrier against width;
    :func:`draw_symmetry`), 'toy' (the same story in the toy wedge model; :func:`draw_toy_pair`) and 'explorer' (a
    kernel-free slider over the position t along the first measured pair's paths, :func:`explorer`). Returns the
    figure (the explorer: its HTML). Used in :ref:`ch-pairs`."""
    check_arg("which", which, which in ("pairs", "symmetry", "toy", "explorer"), "pairs, symmetry, toy, explorer")
    if which == "explorer":
        return explorer(raw["studies"], raw["plane"], cfg.n_interp)
    fig, ax = plots.figure(2, 2 if which == "pairs" else 1, width=3.8, height=3.1)
    if which == "pairs":
        draw_pairs(ax, raw["studies"], raw["plane"], cfg.n_interp, bar)
    elif which == "symmetry":
        draw_symmetry(ax[0], raw["studies"], raw["widths"], cfg.n_interp)
    else:
        draw_toy_pair(ax[0], raw["toy"])
    return fig


def _legend_below(ax, ncol: int = 2) -> None:
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol, fontsize=7)


def _profiles_panel(ax, profiles: dict[str, torch.Tensor], n_interp: int, title: str) -> None:
    """Loss profiles (T, P) on one log axis, each curve drawn with its own dash pattern (no line hides another),
    the legend below the axis."""
    plots.curves(ax, torch.linspace(0, 1, n_interp), profiles, xlabel="t  (A → C)", ylabel="train cross-entropy",
                 title=title, logy=True)
    for line, dash in zip(ax.get_lines(), ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))):
        line.set_linestyle(dash)
    ax.set_ylim(bottom=float(min(v.nan_to_num(1).min() for v in profiles.values())) / 100)
    _legend_below(ax)


def draw_pairs(axes, studies: list[dict | None], plane: dict, n_interp: int, bar: float | None = None) -> None:
    """Chapter 04's main figure on 2 x 2 axes: the loss along the straight line and the curves
    (:func:`stacked_profiles`, log scale); the plane through A, C and the Bezier bend B (:func:`tunnel`); the lines
    from the initialisations; the F&J chain's barrier over the line's after each level of recursion
    (:func:`chain_levels`), with ``bar`` dashed. Used in :ref:`ch-pairs`."""
    profiles = stacked_profiles(studies, n_interp)
    from_init = profiles.pop("init → solution")
    profiles.pop(ALIGNED), profiles.pop(ACTIVATION)
    _profiles_panel(axes[0, 0], profiles, n_interp, "straight line and trained curves")
    P = plane["points"]
    plots.contour(axes[0, 1], plane["xs"], plane["ys"], plane["loss"], points=dict(zip("ACB", P)),
                  xlabel="along C − A  (distance in θ)", ylabel="towards B  (distance in θ)",
                  title="the plane through A, C, B", cbar_label="train loss")
    axes[0, 1].plot(P[:2, 0], P[:2, 1], "--", color="black", lw=1.8, label="straight line")
    plots.paths(axes[0, 1], {"Bezier curve": plane["curve"]})
    _legend_below(axes[0, 1])
    plots.curves(axes[1, 0], torch.linspace(0, 1, n_interp), {"init → solution": from_init}, logy=True,
                 xlabel="t  (θ₀ → θ*)", ylabel="train cross-entropy", title="init → solution")
    levels = chain_levels(studies)
    plots.curves(axes[1, 1], torch.arange(levels.shape[1]), {FJ_CHAIN: levels.T.clamp_min(1e-6)}, marker="o",
                 logy=True, xlabel="level of recursion", ylabel="chain's barrier ÷ line's", title="F&J chain")
    axes[1, 1].set_xticks(range(levels.shape[1]))
    if bar is not None:
        axes[1, 1].axhline(bar, ls="--", color="black", lw=1, label="curves' bar")
        _legend_below(axes[1, 1])


def draw_symmetry(axes, studies: list[dict | None], widths: dict, n_interp: int) -> None:
    """What permutation symmetry explains, on two axes: the loss along the straight line, along it after each
    alignment and along the Bezier curve (log scale); the line's barrier against the width, raw and aligned
    (:func:`width_study`). Used in :ref:`ch-pairs`."""
    profiles = stacked_profiles(studies, n_interp)
    _profiles_panel(axes[0], {k: profiles[k] for k in ("straight line", ALIGNED, ACTIVATION, "Bezier")}, n_interp,
                    "the line after alignment")
    lines = {"straight line": "line", "weight matching": "weight", "activation matching": "activation"}
    plots.curves(axes[1], widths["widths"], {k: widths[m] for k, m in lines.items()}, marker="o",
                 xlabel="width multiplier", ylabel="barrier on the line A → C", title="barrier against width")
    axes[1].set_xscale("log", base=2)
    _legend_below(axes[1])


def explorer(studies: list[dict | None], plane: dict, n_interp: int, n: int = 11):
    """A kernel-free slider (:func:`wedges_lib.plots.frames`, ``n`` frames) over the position t along the first
    measured pair's paths: the point at t on the straight line and on the Bezier curve in the plane through A, C
    and B, and the loss along the line, the weight-matched line and the Bezier curve with their values at t.
    Draws from results already computed. Used in :ref:`ch-pairs`."""
    import ipywidgets as widgets

    i = next((i for i, s in enumerate(studies) if s is not None), None)
    prof = {} if i is None else {"straight line": studies[i]["line"]["loss"], "Bezier": studies[i]["curves"][
        "Bezier"]["loss"], ALIGNED: studies[i]["aligned"]["weight"]["loss"]}
    P = plane["points"]

    def draw(t: float) -> None:
        fig, ax = plots.figure(2, width=3.8, height=3.1)
        k = int(round(t * (n_interp - 1)))
        plots.contour(ax[0, 0], plane["xs"], plane["ys"], plane["loss"], points=dict(zip("ACB", P)),
                      xlabel="along C − A", ylabel="towards B", title=f"t = {t:.2f} on the plane",
                      cbar_label="train loss")
        bez = (1 - t) ** 2 * P[0] + 2 * t * (1 - t) * P[2] + t ** 2 * P[1]
        for xy, name, colour in (((1 - t) * P[0] + t * P[1], "line", "black"), (bez, "Bezier", "white")):
            ax[0, 0].plot([float(xy[0])], [float(xy[1])], "*", ms=14, color=colour, mec="red", label=f"{name} at t")
        _legend_below(ax[0, 0])
        if prof:
            _profiles_panel(ax[0, 1], prof, n_interp, "loss along the paths")
            ax[0, 1].axvline(k / (n_interp - 1), color="black", lw=1)
            ax[0, 1].set_title("at t: " + ", ".join(f"{name.split(',')[0]} {float(v[k]):.3g}"
                                                  for name, v in list(prof.items())[:2]), fontsize=9)

    step = 1 / (n_interp - 1)
    control = widgets.FloatSlider(value=round(round(0.5 / step) * step, 10), min=0.0, max=1.0, step=step)
    return plots.frames(draw, {"t": control}, "t", n)


def draw_toy_pair(axes, toy_pair: dict) -> None:
    """The toy's pair on two axes (``toy_pair`` from :func:`wedges_lib.toy_experiments.pair_study`): the plane
    through a, c and the wedges' intersection b, and the loss along the line a -> c and the chain through b (zero
    drawn at 1e-12). Used in :ref:`ch-pairs`."""
    plots.section(axes[0], toy_pair["section"], names="acb", xlabel="along c − a", ylabel="towards b",
                  title="toy: the wedges meet at b")
    paths = {k: v[1].clamp_min(1e-12) for k, v in toy_pair["paths"].items()}
    plots.curves(axes[1], toy_pair["paths"]["straight a → c"][0], paths, logy=True, ylabel="toy loss",
                 xlabel="position on path (b at ½)", title="zero loss through b")
    _legend_below(axes[0]), _legend_below(axes[1], ncol=1)
