"""Low-loss structures joining a *set* of k solutions (chapter 05), and how to sample and evaluate them.

k solutions (k, D) joined by one trained structure. Every structure is a set of vertices (V, D) — the k fixed
solutions first, then the trainable ones — and a sampler of convex weights (n, V) over them:

* ``segments`` (Fort & Jastrzebski 2019): one connector θ_c; points on the k segments θ_i -> θ_c;
* ``simplices``: points in the k(k-1)/2 triangles conv{θ_c, θ_i, θ_j};
* ``simplex``: one simplex conv{θ_1, ..., θ_k, e_1, ..., e_m} (m trainable extra vertices), sampled uniformly;
* ``complex`` (Benton et al. 2021): the k simplices conv{θ_i, e_1, ..., e_m} sharing the extra vertices;
* ``hull``: the naive hull conv{θ_1, ..., θ_k} of the solutions alone (nothing to train).

Training runs through :func:`wedges_lib.optimize.minimize`, the loop of every other trained thing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from . import cache, optimize, params, verdicts
from .connect import _points_loss
from .data import Dataset
from .results import record
from .surfaces import plane_through
from .validation import check_arg

STRUCTURES = ("segments", "simplices", "simplex", "complex", "hull")


def simplex_weights(n: int, k: int, *, seed: int = 0, generator: torch.Generator | None = None) -> torch.Tensor:
    """n points (n, k) uniform on the probability simplex (Dirichlet(1): -log U normalised), from ``seed``.

    >>> w = simplex_weights(4, 3, seed=0)
    >>> tuple(w.shape), bool((w >= 0).all()), torch.allclose(w.sum(1), torch.ones(4))  # rows sum to 1
    ((4, 3), True, True)
    >>> torch.equal(w, simplex_weights(4, 3, seed=0))
    True
    """
    check_arg("n", n, isinstance(n, int) and n >= 1, "an int >= 1")
    check_arg("k", k, isinstance(k, int) and k >= 1, "an int >= 1")
    gen = torch.Generator().manual_seed(seed) if generator is None else generator
    e = -torch.log(torch.rand(n, k, generator=gen).clamp_min(1e-30))
    return e / e.sum(dim=1, keepdim=True)


def structure_weights(kind: str, k: int, n: int, *, n_extra: int = 1, seed: int = 0,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Weights (n, k + n_extra) of n uniform samples of a ``kind`` structure over vertices (solutions, extras).

    ``segments`` and ``simplices`` have one extra vertex (the connector), ``hull`` none; every row sums to 1.
    """
    check_arg("kind", kind, kind in STRUCTURES, f"one of {', '.join(STRUCTURES)}")
    check_arg("k", k, isinstance(k, int) and k >= (2 if kind in ("simplices", "hull") else 1),
           "an int >= 2 for 'simplices' and 'hull', else >= 1")
    check_arg("n_extra", n_extra, isinstance(n_extra, int) and n_extra >= 1, "an int >= 1")
    m = {"segments": 1, "simplices": 1, "hull": 0}.get(kind, n_extra)
    gen = torch.Generator().manual_seed(seed) if generator is None else generator
    w = torch.zeros(n, k + m)
    rows = torch.arange(n)
    if kind == "hull":
        return simplex_weights(n, k, generator=gen)
    if kind == "simplex":
        return simplex_weights(n, k + m, generator=gen)
    if kind == "segments":
        i, t = torch.randint(k, (n,), generator=gen), torch.rand(n, generator=gen)
        w[rows, i], w[:, k] = 1 - t, t
        return w
    if kind == "simplices":
        pairs = torch.combinations(torch.arange(k), 2)
        p = pairs[torch.randint(len(pairs), (n,), generator=gen)]
        lam = simplex_weights(n, 3, generator=gen)
        w[:, k] = lam[:, 0]
        w[rows, p[:, 0]], w[rows, p[:, 1]] = lam[:, 1], lam[:, 2]
        return w
    i, lam = torch.randint(k, (n,), generator=gen), simplex_weights(n, 1 + m, generator=gen)  # complex
    w[rows, i], w[:, k:] = lam[:, 0], lam[:, 1:]
    return w


@dataclass
class SetResult:
    """A trained structure over k solutions: ``solutions`` (k, D), trainable ``extra`` (m, D) (the connector is
    ``extra[0]``), and the history 'step' (R,), 'loss' (R,) of its mean sampled minibatch loss."""

    kind: str
    solutions: torch.Tensor
    extra: torch.Tensor
    history: dict[str, torch.Tensor]
    settings: dict = field(default_factory=dict)

    @property
    def vertices(self) -> torch.Tensor:
        """Solutions then extra vertices, (k + m, D)."""
        return torch.cat([self.solutions, self.extra])

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """n uniform samples (n, D) of the structure."""
        w = structure_weights(self.kind, len(self.solutions), n, n_extra=len(self.extra), seed=seed)
        return w.to(self.solutions) @ self.vertices


def hull_points(solutions: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """n uniform samples (n, D) of the naive hull conv{θ_1..θ_k} of solutions (k, D).

    Used in :ref:`ch-sets`.
    """
    return structure_weights("hull", len(solutions), n, seed=seed).to(solutions) @ solutions


def _fit_set(f, data: Dataset | None, solutions: torch.Tensor, extra0: torch.Tensor, *, kind: str, steps: int,
             lr: float, n_samples: int, seed: int, batch_size: int, momentum: float, schedule: str,
             volume_reg: float, record_every: int, quiet: bool) -> SetResult:
    """Fit the extra vertices through :func:`wedges_lib.optimize.minimize` (one member, p = extras (1, m, D), SGD):
    minibatches come from ``seed``, the sampled structure points from its side stream; ``volume_reg`` is a
    penalty term. A non-finite loss or gradient stops the fit without raising (the history ends there)."""
    check_arg("solutions", tuple(solutions.shape), solutions.ndim == 2 and len(solutions) >= 2,
           "a stack (k, D) of k >= 2 solutions")
    check_arg("n_samples", n_samples, isinstance(n_samples, int) and n_samples >= 1, "an int >= 1")
    sols = solutions.detach()
    k, m = len(sols), len(extra0)
    side = optimize.side_generator(seed)
    points_loss = _points_loss(f, data, sols.device)

    def loss(extra: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
        w = structure_weights(kind, k, n_samples, n_extra=m, generator=side).to(sols)
        return points_loss(w[:, :k] @ sols + w[:, k:] @ extra[0], None if idx is None else idx[0]).mean()[None]

    def volume(extra: torch.Tensor) -> torch.Tensor:  # Benton et al.: -log of the extras' simplex volume with θ_1
        edges = extra[0] - sols[0]
        return -volume_reg * 0.5 * torch.logdet(edges @ edges.T)[None]

    run = optimize.minimize(extra0.detach()[None], loss, n=None if data is None else len(data.y_train), seeds=[seed],
                            optimizer="sgd", lr=lr, momentum=momentum, schedule=schedule, batch_size=batch_size,
                            steps=steps, explode=None, record_every=record_every, record_start=False,
                            penalty=volume if volume_reg > 0 else None, quiet=quiet, desc=f"structure ({kind})")
    settings = dict(kind=kind, steps=steps, lr=lr, n_samples=n_samples, seed=seed, batch_size=batch_size,
                    momentum=momentum, schedule=schedule, volume_reg=volume_reg)
    return SetResult(kind, sols, run.p[0].clone(),
                     {"step": run.history["step"], "loss": run.history["batch_loss"][:, 0]}, settings)


def train_connector(f, data: Dataset | None, solutions: torch.Tensor, *, variant: str = "segments",
                    steps: int = 500, lr: float = 0.1, n_samples: int = 8, seed: int = 0, batch_size: int = 128,
                    momentum: float = 0.9, schedule: str = "cosine", record_every: int = 50,
                    quiet: bool = False) -> SetResult:
    """Fort & Jastrzebski's connector θ_c (D,) for solutions (k, D): starts at their mean; each step descends the
    mean minibatch loss at ``n_samples`` uniform points of the k segments θ_i -> θ_c (``variant='segments'``) or
    of the triangles conv{θ_c, θ_i, θ_j} (``'simplices'``), evaluated in one vmapped pass. ``f`` as in
    :func:`~wedges_lib.connect.train_curve` (a network with ``data``, or a batched loss (K, D) -> (K,) with
    ``data=None``)."""
    check_arg("variant", variant, variant in ("segments", "simplices"), "'segments' or 'simplices'")
    return _fit_set(f, data, solutions, solutions.detach().mean(0, keepdim=True), kind=variant, steps=steps,
                    lr=lr, n_samples=n_samples, seed=seed, batch_size=batch_size, momentum=momentum,
                    schedule=schedule, volume_reg=0.0, record_every=record_every, quiet=quiet)


def train_simplex(f, data: Dataset | None, solutions: torch.Tensor, *, n_extra: int = 1, shape: str = "complex",
                  steps: int = 500, lr: float = 0.1, n_samples: int = 8, seed: int = 0, batch_size: int = 128,
                  momentum: float = 0.9, schedule: str = "cosine", volume_reg: float = 0.0, init_scale: float = 0.05,
                  record_every: int = 50, quiet: bool = False) -> SetResult:
    """Benton et al. 2021: trainable extra vertices (n_extra, D) joined to the fixed solutions (k, D), as the
    simplicial complex of the k simplices conv{θ_i, extras} (``shape='complex'``) or as one simplex over all
    (``'simplex'``); each step descends the mean loss at ``n_samples`` uniform samples. The extras start at the
    solutions' mean plus Gaussian noise of ``init_scale`` times the solutions' spread; ``volume_reg`` > 0
    rewards the extras' volume (needs n_extra < D)."""
    check_arg("shape", shape, shape in ("complex", "simplex"), "'complex' or 'simplex'")
    check_arg("n_extra", n_extra, isinstance(n_extra, int) and n_extra >= 1, "an int >= 1")
    check_arg("volume_reg", volume_reg, isinstance(volume_reg, (int, float)) and volume_reg >= 0, "a float >= 0")
    sols = solutions.detach()
    mean = sols.mean(0)
    spread = float(params.radius(sols - mean).mean()) / math.sqrt(sols.shape[1])
    noise = torch.randn(n_extra, sols.shape[1], generator=torch.Generator().manual_seed(seed + 1)).to(sols)
    return _fit_set(f, data, sols, mean + init_scale * spread * noise, kind=shape, steps=steps, lr=lr,
                    n_samples=n_samples, seed=seed, batch_size=batch_size, momentum=momentum, schedule=schedule,
                    volume_reg=float(volume_reg), record_every=record_every, quiet=quiet)


def evaluate_structure(f, x: torch.Tensor | None, y: torch.Tensor | None, points_fn: Callable, n_samples: int = 256,
                       seed: int = 0, *, chunk: int = 64) -> dict[str, torch.Tensor]:
    """Loss (and accuracy, for a network) at n_samples points (n, D) = points_fn(n_samples, seed) (e.g.
    ``result.sample`` or ``lambda n, s: hull_points(sols, n, s)``), vmapped: 'loss' (n,)[, 'acc' (n,)],
    'mean' (), 'max' () the worst point's loss and 'worst' () its index.

    Used in :ref:`ch-sets`.
    """
    thetas = points_fn(n_samples, seed)
    if isinstance(f, nn.Module):
        check_arg("x", None, x is not None and y is not None, "inputs x and labels y when f is a network")
        loss, acc = params.evaluate(f, thetas, x, y, chunk=chunk)
        out = {"loss": loss, "acc": acc}
    else:
        with torch.no_grad():
            out = {"loss": torch.cat([f(t) for t in thetas.split(chunk)])}
    worst = int(out["loss"].argmax())
    return {**out, "mean": out["loss"].mean(), "max": out["loss"][worst], "worst": torch.tensor(worst)}


# --- chapter 05's structures, fitted from a configuration ---------------------------------------------------

#: name -> (trainer, options): the structures chapter 05 trains on a set of solutions
FITTED = {
    "connector (segments)": ("connector", dict(variant="segments")),
    "connector (triangles)": ("connector", dict(variant="simplices")),
    "complex (Benton et al.)": ("simplex", dict(n_extra=2))}


def _fit_named(cfg, model: nn.Module, data: Dataset, solutions: torch.Tensor, name: str, seed: int) -> dict:
    trainer, options = FITTED[name]
    fit = dict(steps=cfg.connector_steps, lr=cfg.set_lr, seed=seed, batch_size=cfg.batch_size, quiet=True)
    train = train_connector if trainer == "connector" else train_simplex
    return vars(train(model, data, solutions, **options, **fit))


def fit_structures(cfg, model: nn.Module, data: Dataset, solutions: torch.Tensor, names=tuple(FITTED),
                   seed: int | None = None) -> dict[str, SetResult]:
    """The structures ``names`` of :data:`FITTED` joining solutions (k, D), each trained ``connector_steps`` SGD
    steps at ``set_lr`` with minibatches from ``seed`` (default ``cfg.seed``) through the result cache.
    Used in :ref:`ch-sets`."""
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

    Used in :ref:`ch-sets`.
    """
    check_arg("k_big", k_big, isinstance(k_big, int) and k_big >= 3, "an int >= 3")
    triples = [[3 * j, 3 * j + 1, 3 * j + 2] for j in range(n_sets)]
    return triples, [0, 1, 2, *range(3 * n_sets, 3 * n_sets + k_big - 3)]


def set_study(cfg, model: nn.Module, data: Dataset, solutions: torch.Tensor, names=tuple(FITTED), *,
              index: int = 0) -> dict:
    """Everything chapter 05 measures on one set of solutions (k, D): their training losses ('solutions_loss'
    (k,)), the structures ``names`` ('fitted', name -> :class:`SetResult`, minibatch seed ``cfg.seed + index``)
    and :func:`evaluate_structure` of each and of the naive hull at ``n_samples`` points ('evals', name -> dict);
    the connector's segments also get the mean and worst sampled loss of each segment ('segment_mean',
    'segment_max', (k,)). Used in :ref:`ch-sets`."""
    x, y, seed, k = data.x_train, data.y_train, cfg.seed + index, len(solutions)
    fitted = fit_structures(cfg, model, data, solutions, names, seed=seed)
    evals = {"naive hull": evaluate_structure(model, x, y, lambda n, s: hull_points(solutions, n, s),
                                              cfg.n_samples, seed)}
    evals.update({n: evaluate_structure(model, x, y, r.sample, cfg.n_samples, seed) for n, r in fitted.items()})
    if "connector (segments)" in evals:
        e = evals["connector (segments)"]
        seg = structure_weights("segments", k, cfg.n_samples, seed=seed)[:, :k].argmax(1)  # the sample's segment
        on = seg[None, :] == torch.arange(k)[:, None]  # (k, n): sample j lies on segment i
        e["segment_mean"] = (on * e["loss"]).sum(1) / on.sum(1)  # NaN for a segment without samples
        e["segment_max"] = e["loss"].masked_fill(~on, float("-inf")).amax(1)
    return {"solutions_loss": params.evaluate(model, solutions, x, y)[0], "evals": evals, "fitted": fitted}


def set_studies(cfg, model: nn.Module, data: Dataset, sol: dict) -> tuple[list[dict | None], dict | None]:
    """:func:`set_study` of each of the ``n_sets`` triples of :func:`set_groups` (every structure of
    :data:`FITTED` on the first, the connector on the others) and of the larger set of ``n_solutions`` (the
    connector), from ``sol`` = :func:`wedges_lib.solutions.independent`'s dict; a set with a diverged member is
    None. Used in :ref:`ch-sets`."""
    triples, larger = set_groups(cfg.n_sets, cfg.n_solutions)
    theta, bad = sol["theta"], sol["diverged"]

    def study(group: list[int], names, index: int) -> dict | None:
        return None if bad[group].any() else set_study(cfg, model, data, theta[group], names, index=index)

    only = ["connector (segments)"]
    studies = [study(g, list(FITTED) if j == 0 else only, j) for j, g in enumerate(triples)]
    return studies, study(larger, only, len(triples))


def _base(study: dict) -> tuple[float, dict]:
    return float(study["solutions_loss"].mean()), study["evals"]


def set_statistics(studies: list[dict | None]) -> dict[str, list[float]]:
    """Chapter 05's statistics, one value per set, from :func:`set_study` results (None, a diverged member: NaN).
    Over the solutions' mean loss s: the naive hull's mean excess h - s ('sets_hull_height') and (h - s) / s
    ('sets_hull_ratio'); the connector's worst sampled point on any segment, as an excess over s, over the naive
    hull's worst point's excess ('sets_connector'). Used in :ref:`ch-sets`."""
    out: dict[str, list[float]] = {"sets_hull_height": [], "sets_hull_ratio": [], "sets_connector": []}
    nan = float("nan")
    for st in studies:
        if st is None:
            for v in out.values():
                v.append(nan)
            continue
        s, ev = _base(st)
        hull, seg = ev["naive hull"], ev["connector (segments)"]
        out["sets_hull_height"].append(float(hull["mean"]) - s)
        out["sets_hull_ratio"].append((float(hull["mean"]) - s) / s)
        out["sets_connector"].append((float(seg["segment_max"].max()) - s) / (float(hull["max"]) - s))
    return out


def set_verdicts(claims: dict, stats: dict[str, list[float]], scale: str) -> dict:
    """Judge chapter 05's claims on :func:`set_statistics` and combine 'sets_hull' from its two parts.
    Name -> :class:`~wedges_lib.verdicts.Verdict`, every one recorded. Used in :ref:`ch-sets`."""
    out = {name: verdicts.judge(claims[name], values, scale, unit="sets") for name, values in stats.items()}
    out["sets_hull"] = verdicts.combine("sets_hull", [out["sets_hull_height"], out["sets_hull_ratio"]])
    return out


def set_numbers(studies: list[dict | None], big: dict | None, k_big: int) -> dict[str, float]:
    """Chapter 05's plain numbers, by recorded name: over the measured sets of 3, the means of the solutions'
    loss, of each structure's mean and worst sampled loss and of the connector's mean excess as a fraction of
    the hull's, and the lowest accuracies; the same for the one larger set ``big`` of ``k_big`` (its worst-point
    fraction too); the triangles and the complex on the first set. Used in :ref:`ch-sets`."""
    ok = [st for st in studies if st is not None]
    mean = lambda v: sum(v) / len(v) if v else float("nan")  # noqa: E731
    num = {"sets_k": k_big, "sets_sol3": mean([_base(st)[0] for st in ok])}
    for short, name in (("hull3", "naive hull"), ("seg3", "connector (segments)")):
        num.update({f"sets_{short}_mean": mean([float(st["evals"][name]["mean"]) for st in ok]),
                    f"sets_{short}_worst": mean([float(st["evals"][name]["max"]) for st in ok]),
                    f"sets_{short}_accmin": min([float(st["evals"][name]["acc"].min()) for st in ok],
                                                default=float("nan"))})
    frac = lambda st, name: ((float(st["evals"][name]["mean"]) - _base(st)[0])  # noqa: E731
                             / (float(st["evals"]["naive hull"]["mean"]) - _base(st)[0]))
    num["sets_seg3_fraction"] = mean([frac(st, "connector (segments)") for st in ok])
    first = studies[0]["evals"] if studies and studies[0] is not None else {}
    for short, name in (("tri3", "connector (triangles)"), ("cplx3", "complex (Benton et al.)")):
        e = first.get(name)
        num.update({f"sets_{short}_mean": float(e["mean"]) if e else float("nan"),
                    f"sets_{short}_worst": float(e["max"]) if e else float("nan")})
    s, ev = _base(big) if big is not None else (float("nan"), None)
    num.update({"sets_solk": s, **{f"sets_{key}": float("nan") for key in (
        "hullk_mean", "hullk_accmin", "segk_mean", "segk_worst", "segk_fraction", "segk_worst_fraction")}})
    if ev is not None:
        hull, seg = ev["naive hull"], ev["connector (segments)"]
        num.update(sets_hullk_mean=float(hull["mean"]), sets_hullk_accmin=float(hull["acc"].min()),
                   sets_segk_mean=float(seg["mean"]), sets_segk_worst=float(seg["max"]),
                   sets_segk_fraction=frac(big, "connector (segments)"),
                   sets_segk_worst_fraction=set_statistics([big])["sets_connector"][0])
    return num


def big_set_sentence(num: dict, threshold: float) -> str:
    """The one larger set's outcome against the connector claim's ``threshold``, as a sentence (one set has no
    interval, so no verdict). Used in :ref:`ch-sets`."""
    f = num["sets_segk_worst_fraction"]
    if not math.isfinite(f):
        return "The larger set could not be measured (a member diverged)."
    side = "below" if f < threshold else "not below"
    return (f"For the larger set of {num['sets_k']} its worst point's excess is {f:.3g} of the naive hull's, "
            f"{side} the declared {threshold:g}: one set, so a number to read beside the verdict, not a verdict.")


def _labelled(studies: list[dict | None], big: dict | None) -> list[tuple[str, dict | None]]:
    return [*((f"set {j + 1}", st) for j, st in enumerate(studies)), ("larger set", big)]


def mean_worst_rows(studies: list[dict | None], big: dict | None) -> dict[str, tuple[float, float]]:
    """'set j: structure' (and 'larger set: ...') -> (mean, worst) sampled loss of every measured evaluation, for
    :func:`wedges_lib.plots.mean_worst`. Used in :ref:`ch-sets`."""
    return {f"{label}: {n}": (float(e["mean"]), float(e["max"])) for label, st in _labelled(studies, big)
            if st is not None for n, e in st["evals"].items()}


def describe(studies: list[dict | None], big: dict | None) -> list[str]:
    """One line per set (and the larger one): mean and worst sampled loss of each structure, and the worst
    sampled point of each of the connector's segments. Used in :ref:`ch-sets`."""
    lines = []
    for label, st in _labelled(studies, big):
        if st is None:
            lines.append(f"{label}: not measured (a member diverged)")
            continue
        parts = [f"{n} {float(e['mean']):.3f} / {float(e['max']):.3f}" for n, e in st["evals"].items()]
        seg = st["evals"]["connector (segments)"]["segment_max"]
        lines.append(f"{label} (k = {len(st['solutions_loss'])}, solutions {float(st['solutions_loss'].mean()):.3f})"
                     f": mean / worst: {'; '.join(parts)}; worst per segment {[round(float(v), 3) for v in seg]}")
    return lines


def sections(model: nn.Module, studies: list[dict | None], theta: torch.Tensor, n_sets: int, n: int,
             x: torch.Tensor, y: torch.Tensor) -> tuple[dict, dict]:
    """The loss on n x n grids of two planes of the first measured set θ_1, θ_2, θ_3 (rows of theta): through
    θ_1, θ_2 and its trained connector θ_c (without a measured set, the first triple's mean), and through the
    three solutions (:func:`wedges_lib.surfaces.plane_through`). Used in :ref:`ch-sets`."""

    j = next((j for j, st in enumerate(studies) if st is not None), None)
    a, b, c = theta[set_groups(n_sets, 3)[0][j or 0]]
    conn = (a + b + c) / 3 if j is None else studies[j]["fitted"]["connector (segments)"].extra[0]
    return (plane_through(model, a, b, conn, n=n, x=x, y=y), plane_through(model, a, b, c, n=n, x=x, y=y))


def record_sets(cfg, claims: dict, studies: list[dict | None], big: dict | None, toy_evals: dict,
                diverged: torch.Tensor) -> dict:
    """Record chapter 05's plain numbers (:func:`set_numbers`, the toy's, the count of diverged networks), its
    verdicts (:func:`set_verdicts`) and the larger set's sentence; returns the verdicts. Used in :ref:`ch-sets`."""

    hull, conn = toy_evals["naive hull"], toy_evals["connector"]
    num = {**set_numbers(studies, big, cfg.n_solutions), "sets_diverged": int(diverged.sum()),
           "sets_toy_hull": float(hull["mean"]), "sets_toy_conn": float(conn["mean"]),
           "sets_toy_conn_worst": float(conn["max"])}
    for name, value in num.items():
        record(name, value)
    v = set_verdicts(claims, set_statistics(studies), cfg.scale)
    record("sets_big_sentence", big_set_sentence(num, claims["sets_connector"].threshold))
    return v
