"""Chapter 02's experiment: training in random subspaces anchored at c × an initialisation, with controls for
the softmax temperature that the weights' scale sets.

Scaling every weight and bias of an L-layer ReLU network by c scales its logits by about c^L, so a radius
effect in subspace training may be nothing but a too-hot or too-cold softmax; in a bias-free ReLU network it
is exactly that (:func:`~wedges_lib.studies.ch02_threshold.homogeneity`). The experiment runs four variants side
by side on the same initialisations, projections and minibatches (``VARIANTS``):

* ``uncontrolled`` — the network ``cfg.model`` (the MLP with biases) as it is, with the chapter's step
  (``cfg.subspace_step``);
* ``temperature`` — the same, its logits divided during training by a temperature fitted at each anchor
  (:func:`anchor_temperature`: the anchor's logit scale relative to the initialisation's) and held fixed;
* ``smooth`` — ``mlp_gelu`` (GELU instead of ReLU, with biases: not homogeneous) at its fitted temperature;
* ``invariant`` — ``mlp_invariant`` (:func:`wedges_lib.models.mlp_invariant`), whose function does not
  change with the scale of its weights at all.

The two variants of ``cfg.model`` share one vmapped pass per d (:func:`wedges_lib.subspace.dim_sweep` with
repeated radii). Seeds start at ``cfg.seed``. The Goldilocks ratio Tr(H)/‖H‖_F is measured at every
anchor in the full space and restricted to the random subspace of dimension ``cfg.goldilocks_dim``, and the
biases' share of the logits (:func:`bias_share`) at every anchor of the two networks with biases. The
threshold dimension of Larsen, Fort et al. (2022) is :mod:`wedges_lib.studies.ch02_threshold`.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .. import models, params, plots, subspace, train, verdicts
from ..config import Config, pick_device
from ..data import Dataset
from ..projections import make_projection
from ..subspace import IntrinsicDimension, SweepResult
from ..validation import check_arg

VARIANTS = ("uncontrolled", "temperature", "smooth", "invariant")
INVARIANT_MODEL, SMOOTH_MODEL = "mlp_invariant", "mlp_gelu"
HIGH_C = 0.5  #: the primary slopes are taken over c >= HIGH_C; the smaller c, where the biases dominate, apart
INVARIANT_SEEDS = 3  #: the invariant network (a sanity check, the same run at every c) runs on the first seeds only


def seeds_of(cfg: Config) -> list[int]:
    """Chapter 02's seeds: cfg.seed .. cfg.seed + cfg.n_seeds - 1."""
    return list(range(cfg.seed, cfg.seed + cfg.n_seeds))


def init(cfg: Config, data: Dataset, name: str | None = None,
         seeds: Sequence[int] | None = None) -> tuple[nn.Module, torch.Tensor]:
    """The network ``name`` (default ``cfg.model``) at width ``cfg.subspace_width`` and one fresh initialisation
    per seed (default :func:`seeds_of`), (S, D)."""
    seeds, device = seeds_of(cfg) if seeds is None else list(seeds), pick_device(cfg.device)

    def make(s: int) -> nn.Module:
        return models.make(name or cfg.model, data.input_shape, data.n_classes, width=cfg.subspace_width, seed=s)

    return make(seeds[0]).to(device), params.stack([params.flatten(make(s)) for s in seeds]).to(device)


def sweep_config(cfg: Config, data: Dataset, model: nn.Module, theta_init: torch.Tensor, quiet: bool = False,
                 **overrides) -> SweepResult:
    """:func:`~wedges_lib.subspace.dim_sweep` over cfg.dims x cfg.radii x :func:`seeds_of` with cfg's settings."""
    kw = dict(radii=cfg.radii, projection=cfg.projection, step=cfg.subspace_step, lr=cfg.subspace_lr,
              steps=cfg.subspace_steps, batch_size=cfg.batch_size, seeds=seeds_of(cfg)[:len(theta_init)])
    kw.update(overrides)
    return subspace.dim_sweep(model, data, theta_init, list(kw.pop("dims", cfg.dims)), quiet=quiet, **kw)


def reference_accuracy(cfg: Config, data: Dataset, model: nn.Module, theta_init: torch.Tensor,
                       quiet: bool = False) -> dict[str, torch.Tensor]:
    """Full-space training of each theta_init (S, D) with cfg's optimiser: final 'acc', 'test_acc', 'loss',
    'test_loss', (S,) each."""
    res = train.train(model, data, theta_init, seeds=seeds_of(cfg)[:len(theta_init)], optimizer=cfg.optimizer,
                      lr=cfg.lr, momentum=cfg.momentum, l2=cfg.l2, schedule=cfg.schedule, batch_size=cfg.batch_size,
                      steps=cfg.steps, record_every=cfg.steps, quiet=quiet)
    return {k: res.history[k][-1] for k in ("acc", "test_acc", "loss", "test_loss")}


@torch.no_grad()
def anchor_temperature(model: nn.Module, theta_init: torch.Tensor, radii: Sequence[float],
                       x: torch.Tensor) -> torch.Tensor:
    """The temperature fitted at each anchor c · theta_init[s]: the standard deviation of its logits on x over
    that of theta_init[s]'s own logits, (R, S). Dividing the anchor's logits by it gives them the
    initialisation's scale; for a network without biases it is exactly c^L (L layers)."""
    def spread(c: float) -> torch.Tensor:
        return torch.stack([params.forward(model, c * th, x).std() for th in theta_init])

    one = spread(1.0)
    return torch.stack([spread(float(c)) / one for c in radii]).double()


@torch.no_grad()
def anchor_loss(model: nn.Module, theta_init: torch.Tensor, radii: Sequence[float], x: torch.Tensor,
                y: torch.Tensor, temperature: torch.Tensor | None = None) -> torch.Tensor:
    """The loss on (x, y) at every anchor radius · theta_init[s] (logits / temperature (R, S) when given):
    theta_init (S, D) -> (R, S)."""
    c = torch.tensor([float(r) for r in radii], dtype=theta_init.dtype, device=theta_init.device)
    t = None if temperature is None else temperature.reshape(-1).to(theta_init)
    loss = subspace.evaluate(model, (c[:, None, None] * theta_init).flatten(0, 1), x, y, t)[0]
    return loss.reshape(len(c), -1)


@torch.no_grad()
def bias_share(model: nn.Module, theta_init: torch.Tensor, radii: Sequence[float], x: torch.Tensor) -> torch.Tensor:
    """The biases' share of the logits at every anchor c · theta_init[s]: ‖f(cθ) − f₀(cθ)‖ / ‖f(cθ)‖ on x, where
    f₀ is the network with its biases set to 0 (its weights kept), (R, S); 0 for a network without biases.
    Used in :ref:`ch-radius`."""
    mask = torch.cat([torch.full((p.numel(),), float(n.endswith("bias"))) for n, p in model.named_parameters()])
    keep = (1 - mask).to(theta_init)
    out = [[float((params.forward(model, c * th, x) - params.forward(model, c * th * keep, x)).norm()
                  / params.forward(model, c * th, x).norm()) for th in theta_init] for c in radii]
    return torch.tensor(out, dtype=torch.float64)


def goldilocks_ratios(cfg: Config, model: nn.Module, theta_init: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                      temperature: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Tr(H)/‖H‖_F at every anchor, (R, S) each: 'full' in the whole space and 'restricted' to the random subspace
    of dimension cfg.goldilocks_dim that seed s trains in (PᵀHP, :func:`~wedges_lib.subspace.goldilocks`)."""
    out = {"full": [], "restricted": []}
    for k, (sd, th) in enumerate(zip(seeds_of(cfg), theta_init)):
        t = None if temperature is None else temperature[:, k]
        proj = make_projection(cfg.projection, th.numel(), cfg.goldilocks_dim, sd, device=th.device)
        for key, p in (("full", None), ("restricted", proj)):
            g = subspace.goldilocks(model, x, y, th, cfg.radii, n_probes=cfg.goldilocks_probes, seed=sd,
                                    temperature=t, projection=p)
            out[key].append(g["ratio"])
    return {k: torch.stack(v, 1) for k, v in out.items()}


def split(sw: SweepResult, n: int) -> list[SweepResult]:
    """A sweep over n variants' radii concatenated (n·R radii) -> n sweeps over R radii each."""
    R = len(sw.radii) // n
    keys = ("loss", "acc", "test_loss", "test_acc", "radius", "diverged")
    steps = sw.settings["step"]
    return [SweepResult(sw.dims, sw.radii[v * R:(v + 1) * R], sw.seeds,
                        **{k: getattr(sw, k)[v * R:(v + 1) * R] for k in keys},
                        settings=dict(sw.settings, step=steps if isinstance(steps, str) else steps[v * R]))
            for v in range(n)]


def run(cfg: Config, data: Dataset) -> dict:
    """Chapter 02's runs for every variant of ``VARIANTS``, as plain tensors (so they cache), each a dict by
    variant: the full-space reference test accuracy 'ref' (S,), the (radius, d, seed) sweep 'sweep' (the fields
    of a :class:`~wedges_lib.subspace.SweepResult`), the training loss 'init_loss' at every anchor (R, S), the
    Goldilocks ratios 'full' and 'restricted' (R, S), the biases' share of the logits 'bias_share' (R, S), the
    fitted temperature 'temperature' (R, S; ones where none is fitted) and the parameter count 'D'; and the
    fitted 'temperature' of ``cfg.model`` (R, S). The invariant network runs on the first :data:`INVARIANT_SEEDS`
    seeds, its Goldilocks ratios not measured (NaN: fixed by construction). Used in :ref:`ch-radius`."""
    nets = {"mlp": init(cfg, data), "smooth": init(cfg, data, SMOOTH_MODEL),
            "invariant": init(cfg, data, INVARIANT_MODEL, seeds_of(cfg)[:INVARIANT_SEEDS])}
    x, y = data.x_train.to(nets["mlp"][1].device), data.y_train.to(nets["mlp"][1].device)
    xg, yg = x[:cfg.goldilocks_examples], y[:cfg.goldilocks_examples]
    temp = {k: anchor_temperature(m, th, cfg.radii, x) for k, (m, th) in nets.items() if k != "invariant"}
    model, th = nets["mlp"]
    mixed = sweep_config(cfg, data, model, th, quiet=True, radii=tuple(cfg.radii) * 2,
                         temperature=torch.cat([torch.ones_like(temp["mlp"]), temp["mlp"]]))
    sweeps = dict(zip(("uncontrolled", "temperature"), split(mixed, 2)))
    sweeps["smooth"] = sweep_config(cfg, data, *nets["smooth"], quiet=True, temperature=temp["smooth"])
    sweeps["invariant"] = sweep_config(cfg, data, *nets["invariant"], quiet=True)
    ref = {k: reference_accuracy(cfg, data, m, t, quiet=True)["test_acc"] for k, (m, t) in nets.items()}
    net_of = dict(uncontrolled="mlp", temperature="mlp", smooth="smooth", invariant="invariant")
    out = {}
    for v in VARIANTS:
        (m, t), tv = nets[net_of[v]], temp[net_of[v]] if v in ("temperature", "smooth") else None
        ones = torch.ones(len(cfg.radii), len(t), dtype=torch.float64)
        # the invariant network's Hessian at c·θ is its Hessian at θ over c²: its Goldilocks ratio is one number
        gold = ({k: torch.full_like(ones, math.nan) for k in ("full", "restricted")} if v == "invariant" else
                goldilocks_ratios(cfg, m, t, xg, yg, tv))
        out[v] = {"ref": ref[net_of[v]], "sweep": vars(sweeps[v]), "init_loss": anchor_loss(m, t, cfg.radii, x, y, tv),
                  "D": int(t.shape[1]), "bias_share": bias_share(m, t, cfg.radii, xg),
                  "temperature": ones if tv is None else tv, **gold}
    return {"variants": out, "temperature": temp["mlp"]}


# --- statistics and the numbers the chapter quotes ------------------------------------------------

def log_slope(x: Sequence[float], y: torch.Tensor) -> torch.Tensor:
    """Per column, the least-squares slope of log y against log x: x (R,), y (R, S) > 0 -> (S,); NaN where fewer
    than two points are finite or x has no spread. Used in :ref:`ch-radius`.

    >>> log_slope([1, 2, 4], torch.tensor([[8.0, 1.0], [4.0, 1.0], [2.0, float('nan')]])).tolist()
    [-1.0, 0.0]
    """
    lx = torch.log(torch.tensor([float(v) for v in x], dtype=torch.float64))[:, None].expand(-1, y.shape[-1])
    ly = torch.log(y.detach().cpu().double().reshape(lx.shape))
    n = (ok := torch.isfinite(ly)).sum(0)
    xc = torch.where(ok, lx - (lx * ok).sum(0) / n, 0.0)
    yc = torch.where(ok, ly - ly.nan_to_num(0, 0, 0).mul(ok).sum(0) / n, 0.0)
    den = (xc ** 2).sum(0)
    return torch.where((n >= 2) & (den > 1e-12), (xc * yc).sum(0) / den.clamp_min(1e-12), math.nan)


def radius_statistics(sw: SweepResult, idim: IntrinsicDimension) -> dict[str, torch.Tensor]:
    """Chapter 02's statistics, one value per seed (S,), each paired within the seed (its radii share the
    initialisation's direction, the projections and the minibatches): 'far_near', the test accuracy at the
    largest radius minus at the smallest, averaged over the swept d; 'id_slope', the slope of log d_int against
    log radius (:func:`log_slope`; where d_int was not reached, the largest d swept stands in: a lower bound),
    and 'id_slope_high' the same over the radii c >= :data:`HIGH_C`; 'diverged', the count of diverged runs of
    the seed. A seed with a diverged run is not measured (NaN). Used in :ref:`ch-radius`."""
    acc, diverged = sw.test_acc.double(), sw.diverged.flatten(0, 1).sum(0)  # (R, n, S), (S,)
    d = idim.d_star.nan_to_num(float(sw.dims[-1]))
    high = [i for i, c in enumerate(sw.radii) if c >= HIGH_C]
    return dict(far_near=(acc[-1] - acc[0]).mean(0).masked_fill(diverged > 0, math.nan),
                id_slope=log_slope(sw.radii, d).masked_fill(diverged > 0, math.nan),
                id_slope_high=log_slope([sw.radii[i] for i in high], d[high]).masked_fill(diverged > 0, math.nan),
                diverged=diverged)


def censored(run: dict, high: bool = False) -> int:
    """How many seeds of one variant of :func:`statistics` enter a slope with a bound: some radius (c >=
    :data:`HIGH_C` only, with ``high``) where d_int was never reached (the largest d swept stands in).
    Used in :ref:`ch-radius`."""
    d, radii = run["idim"].d_star, run["sweep"].radii
    return int(d[[i for i, c in enumerate(radii) if c >= HIGH_C or not high]].isnan().any(0).sum())


def statistics(res: dict, fraction: float) -> dict[str, dict]:
    """Per variant: its :class:`~wedges_lib.subspace.SweepResult` 'sweep', its
    :class:`~wedges_lib.subspace.IntrinsicDimension` 'idim' (at ``fraction`` of its own full-space accuracy) and
    :func:`radius_statistics` 'stat', from :func:`run`'s ``res``. Used in :ref:`ch-radius`."""
    out = {}
    for v, r in res["variants"].items():
        sw = SweepResult(**r["sweep"])
        idim = subspace.sweep_intrinsic_dimension(sw, reference=r["ref"], fraction=fraction)
        out[v] = dict(sweep=sw, idim=idim, stat=radius_statistics(sw, idim))
    return out


def id_summary(idim: IntrinsicDimension, i: int) -> str:
    """The intrinsic dimension at radius index i as text: its mean and 95% interval over seeds, where a seed that
    did not reach the threshold counts as the largest d swept (a lower bound, marked ≥)."""
    d, top = idim.d_star[i], float(idim.sweep.dims[-1])
    m, lo, hi, _ = verdicts.interval(d.nan_to_num(top).tolist())
    missed = int(d.isnan().sum())
    low = f"≥ {m:.0f}" if missed else f"{m:.0f}"
    return low + f" [{max(lo, 0):.0f}, {hi:.0f}]" + (f" ({missed} of {len(d)} not reached)" if missed else "")


def id_table(runs: dict[str, dict], radii: Sequence[float], res: dict | None = None):
    """d_int per variant (rows) and radius multiple (columns): mean [95% interval] over seeds (pandas); with
    :func:`run`'s ``res``, a row per network with biases of the biases' share of its logits (mean [interval]).
    Used in :ref:`ch-radius`."""
    import pandas as pd

    rows = {v: [id_summary(r["idim"], i) for i in range(len(radii))] for v, r in runs.items()}
    for v in ("temperature", "smooth") if res else ():
        rows[f"biases' share of the logits, {NETWORK[v]}"] = [
            verdicts.interval_text(res["variants"][v]["bias_share"][i], 2) for i in range(len(radii))]
    return pd.DataFrame(rows, index=[f"c = {c:g}" for c in radii]).T


def direction(mean: float, lo: float, hi: float) -> str:
    """A slope's direction in words: 'falls' / 'rises' when its interval excludes 0, 'flat' when it is exactly 0,
    else 'no clear direction'. Used in :ref:`ch-radius`.

    >>> [direction(-1, -2, -0.5), direction(0.3, -0.1, 0.7), direction(0.0, 0.0, 0.0)]
    ['falls', 'no clear direction', 'flat']
    """
    if not math.isfinite(mean):
        return "not measured"
    if mean == lo == hi == 0:
        return "flat"
    return "falls" if hi < 0 else "rises" if lo > 0 else "no clear direction"


def slope_table(parts: dict[str, verdicts.Verdict]):
    """Per variant (and the toy): the slope of log d_int against log c, mean [95% interval] over seeds, its
    :func:`direction` and its verdict (pandas). Used in :ref:`ch-radius`."""
    import pandas as pd

    return pd.DataFrame({"slope of log d_int against log c": [p.summary for p in parts.values()],
                         "direction": [direction(p.mean, p.lo, p.hi) for p in parts.values()],
                         "verdict": [p.badge for p in parts.values()]}, index=list(parts))


#: the network of each variant, in words
NETWORK = {"uncontrolled": "MLP", "temperature": "MLP", "smooth": "GELU MLP", "invariant": "invariant MLP"}


def numbers(res: dict, runs: dict[str, dict], radii: Sequence[float], d50: torch.Tensor,
            plane_radii: Sequence[float]) -> dict:
    """The numbers chapter 02's text quotes, named as recorded (less ``radius_``), from :func:`run`'s
    ``res``, :func:`statistics`'s ``runs`` and :func:`~wedges_lib.studies.ch02_threshold.toy_d50` (R', toys);
    accuracies averaged over seeds and d. Used in :ref:`ch-radius`."""
    un, last = res["variants"]["uncontrolled"], len(radii) - 1
    mean = un["sweep"]["test_acc"].double().mean((1, 2))  # (R,): over d and seeds
    best, toy_mean, temp = int(mean.argmax()), d50.nanmean(1), res["temperature"].mean(1)
    shape = {0: "at the smallest radius", last: "at the largest radius"}.get(
        best, f"in between, at c = {radii[best]:g}, lower at both ends (a shell)")
    num = dict(d_first=un["sweep"]["dims"][0], d=un["sweep"]["dims"][-1], ref_acc=un["ref"].mean(),
               ref_acc_invariant=res["variants"]["invariant"]["ref"].mean(), shape=f"highest {shape}",
               acc_best=mean[best], best=radii[best], acc_smallest=mean[0], acc_largest=mean[last],
               smallest=radii[0], largest=radii[last], toy_d50_first=toy_mean[0], toy_d50_last=toy_mean[-1],
               toy_r_first=plane_radii[0], toy_r_last=plane_radii[-1], temp_smallest=temp[0], temp_largest=temp[last],
               temp_power=log_slope(radii, res["temperature"]).mean(),
               invariant_seeds=len(res["variants"]["invariant"]["ref"]))
    small = [i for i, c in enumerate(radii) if c < HIGH_C]
    for v, r in res["variants"].items():
        num[f"small_{v}"] = "; ".join(f"c = {radii[i]:g}: {id_summary(runs[v]['idim'], i)}" for i in small) or "none"
        num[f"share_{v}"] = "; ".join(f"c = {c:g}: {verdicts.interval_text(x, 2)}"
                                      for c, x in zip(radii, r["bias_share"]))
        num[f"temp_power_{v}"] = log_slope(radii, r["temperature"]).mean()
        num[f"diverged_{v}"] = int(r["sweep"]["diverged"].sum())
        num[f"dint_{v}"] = "; ".join(f"c = {c:g}: {id_summary(runs[v]['idim'], i)}" for i, c in enumerate(radii))
        for kind in ("full", "restricted"):
            m = r[kind].mean(1)
            num[f"gold_{kind}_{v}"] = "; ".join(f"c = {c:g}: {float(x):.3g}" for c, x in zip(radii, m))
            num[f"gold_{kind}_peak_{v}"] = radii[int(m.nan_to_num(-math.inf).argmax())]
        num[f"loss_{v}"] = "; ".join(f"c = {c:g}: {float(x):.3g}" for c, x in zip(radii, r["init_loss"].mean(1)))
    return {k: float(v) if isinstance(v, torch.Tensor) else v for k, v in num.items()}


def _controls(axes, res: dict, runs: dict[str, dict], radii: Sequence[float], toy_radii: Sequence[float],
                  toy_d50: torch.Tensor) -> None:
    """Two rows of three panels, one line per variant (mean ± 1 std over seeds) against the radius multiple c:
    d_int (not reached: the largest d), the test accuracy at the largest d, the loss at the anchors; the
    Goldilocks ratio in the full space and restricted to the subspace; and the toy's d₅₀ against r / r_min.
    """
    c, xc, V = torch.tensor([float(r) for r in radii]), "radius c (× init norm)", res["variants"]
    top = float(runs["uncontrolled"]["sweep"].dims[-1])
    panels = [({v: runs[v]["idim"].d_star.nan_to_num(top) for v in V}, "d_int", "d_int against c", True),
              ({NETWORK[v]: V[v]["bias_share"] for v in ("temperature", "smooth")}, "‖f(cθ) − f₀(cθ)‖ / ‖f(cθ)‖",
               "the biases' share of the logits", False),
              ({v: V[v]["init_loss"] for v in V}, "cross-entropy at θ₀", "loss at the anchors", True),
              ({v: V[v]["full"] for v in V}, "Tr(H) / ‖H‖$_F$", "Goldilocks, full space", False),
              ({v: V[v]["restricted"] for v in V}, "Tr(PᵀHP) / ‖PᵀHP‖$_F$", "Goldilocks, in the subspace", False)]
    for ax, (ys, ylabel, title, logy) in zip(axes.flat, panels):
        plots.curves(ax, c, ys, xlabel=xc, ylabel=ylabel, title=title, logy=logy, marker="o")
        plots.log_ticks(ax, radii)
        if logy:
            _log_y(ax)
    plots.curves(axes.flat[5], torch.tensor([float(r) for r in toy_radii]), {"toy d₅₀": toy_d50}, marker="o",
                 xlabel="radius r / r$_{min}$", ylabel="d₅₀ (half the planes succeed)", title="the toy's prediction")
    plots.log_ticks(axes.flat[5], toy_radii)
    _log_y(axes.flat[5])
    _legend_below(axes.flat[0], len(V), skip=(axes.flat[1], axes.flat[5]))


def _np(x) -> np.ndarray:
    return torch.as_tensor(x).detach().cpu().numpy()


def _log_y(ax) -> None:
    """Plain tick labels at 1, 2 and 5 × each power of ten on a log y axis (several on a narrow range)."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())


def _legend_below(ax, ncol: int, skip=()) -> None:
    """One legend for the figure below its panels, from ``ax``'s lines; every other panel's legend removed except
    those of ``skip`` (panels with lines of their own)."""
    for a in ax.figure.axes:
        if a.get_legend() is not None and a not in skip:
            a.get_legend().remove()
    ax.figure.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=ncol)


def _sweep(axes, radii: Sequence[float], dims: Sequence[int], acc, reference, id_mean, id_std,
                 id_threshold: float, id_fraction: float) -> None:
    """Three panels of subspace training against the anchor's radius multiple c: test accuracy acc (R, n, S)
    against d, one line per radius, with the intrinsic dimension's ``id_threshold`` dashed; the accuracy at the
    largest d against c with the full-space ``reference`` (S,); the intrinsic dimension (R,) ± std against c,
    a triangle at the largest d where it was not reached (NaN)."""
    c, xc = torch.tensor([float(r) for r in radii]), "radius c (× init norm)"
    plots.curves(axes[0], torch.tensor(list(dims)), {f"c = {r:g}": acc[i] for i, r in enumerate(radii)},
           xlabel="subspace dimension d", ylabel="test accuracy", marker="o", title="accuracy grows with d")
    axes[0].axhline(float(id_threshold), ls="--", color="grey")
    plots.log_ticks(axes[0], dims)
    axes[0].legend(loc="upper left", bbox_to_anchor=(0.0, -0.28), ncol=3)  # below the panel, off the curves
    full = torch.as_tensor(reference).expand(len(c), -1)
    plots.curves(axes[1], c, {f"d = {dims[-1]}": acc[:, -1], "full space": full}, xlabel=xc, ylabel="test accuracy",
                 marker="o", title="accuracy against the radius")
    axes[2].errorbar(_np(c), _np(id_mean), yerr=_np(id_std), marker="o", ms=3, capsize=3,
                     label="intrinsic dimension")
    missed = ~np.isfinite(_np(id_mean))
    if missed.any():
        axes[2].plot(_np(c)[missed], [dims[-1]] * int(missed.sum()), "^", color=plots.PALETTE[3], ms=7,
                     label=f"not reached (> {dims[-1]})")
    axes[2].legend(loc="upper left", bbox_to_anchor=(0.0, -0.28))  # below the panel, off the points
    plots.label(axes[2], xc, f"d reaching {id_fraction:g} × full-space acc.", "intrinsic dimension against the radius")
    axes[2].set_yscale("log")
    _log_y(axes[2])
    for a in axes[1:3]:
        plots.log_ticks(a, radii)


#: chapter 02's slope checks over every c, by variant
SLOPES = {"uncontrolled": "radius_id_slope", "temperature": "radius_id_slope_temperature",
          "smooth": "radius_id_slope_smooth", "invariant": "radius_id_slope_invariant"}
#: the primary slopes over c >= HIGH_C, by variant (the networks with biases at their fitted temperature)
PRIMARY = {"temperature": "radius_slope_bias", "smooth": "radius_slope_smooth"}


def judge(claims: dict, runs: dict[str, dict], d50: torch.Tensor, identity: dict,
          cfg: Config) -> dict[str, verdicts.Verdict]:
    """Chapter 02's checks judged per seed, recorded: far vs near on the uncontrolled runs, each variant's slope of
    log d_int against log c (:data:`SLOPES`; the invariant network's absolute slope, a sanity check of its construction;
    seeds with a d_int never reached counted as censored), the primary slopes over c >= HIGH_C (:data:`PRIMARY`),
    and the toy's slope of log d₅₀ against log r over ``d50`` (R', toys) from
    :func:`~wedges_lib.studies.ch02_threshold.toy_d50`, and the homogeneity identity's largest loss difference per
    seed (``identity`` from :func:`~wedges_lib.studies.ch02_threshold.homogeneity`, a sanity check). Name -> verdict.
    Used in :ref:`ch-radius`."""
    st = {v: r["stat"] for v, r in runs.items()}
    out = {"radius_far_near": verdicts.judge(claims["radius_far_near"], st["uncontrolled"]["far_near"], cfg.scale)}
    for v, name in SLOPES.items():
        values = st[v]["id_slope"].abs() if v == "invariant" else st[v]["id_slope"]
        out[name] = verdicts.judge(claims[name], values.tolist(), cfg.scale, censored=censored(runs[v]))
    for v, name in PRIMARY.items():
        out[name] = verdicts.judge(claims[name], st[v]["id_slope_high"].tolist(), cfg.scale,
                                   censored=censored(runs[v], high=True))
    toy_slope = log_slope(cfg.plane_radii, d50.nan_to_num(cfg.plane_dims[-1]))  # per toy
    out["radius_toy"] = verdicts.judge(claims["radius_toy"], toy_slope.tolist(), cfg.scale, unit="toys",
                                       censored=int(d50.isnan().any(0).sum()))
    out["radius_homogeneity"] = verdicts.judge(claims["radius_homogeneity"], identity["largest"].tolist(), cfg.scale)
    return out


def figures(which: str, res: dict, runs: dict[str, dict], cfg: Config, d50: torch.Tensor | None = None):
    """Chapter 02's figures, by name: 'sweep' (the uncontrolled experiment: accuracy against d per radius, at the
    largest d against c, d_int against c) and 'controls' (every variant against c, and the toy's d₅₀ against r
    / r_min). Returns the figure. Used in :ref:`ch-radius`."""
    check_arg("which", which, which in ("sweep", "controls"), "'sweep' or 'controls'")
    if which == "sweep":
        fig, ax = plots.figure(3)
        idim = runs["uncontrolled"]["idim"]
        _sweep(ax[0], cfg.radii, cfg.dims, runs["uncontrolled"]["sweep"].test_acc,
               res["variants"]["uncontrolled"]["ref"], idim.mean, idim.std, idim.threshold.mean(), cfg.id_fraction)
        for a, t in zip(ax[0, 1:], (f"accuracy at d = {cfg.dims[-1]} against c", "d_int against c")):
            a.set_title(t)  # titles state no finding: the verdicts do
        return fig
    fig, ax = plots.figure(3, 2)
    _controls(ax, res, runs, cfg.radii, [r / cfg.toy_r_min for r in cfg.plane_radii], d50)
    return fig
