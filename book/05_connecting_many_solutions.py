# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# (ch-sets)=
# # Connecting many solutions: one low-loss structure for a whole set
#
# **Claim.** Not only pairs: $k$ independently trained networks can all be joined by one low-loss structure, found
# by plain optimisation {cite:p}`fort2019large` — a single *connector* point $\theta_c$ such that every segment
# $\theta_i \to \theta_c$ stays at low loss — while the naive hull $\mathrm{conv}\{\theta_1, \dots, \theta_k\}$ of
# the solutions alone is high. {cite:t}`benton2021loss` later built whole simplices of low loss the same way.
#
# **Motivation.** {ref}`ch-pairs` joined two solutions with one bend. If low loss lives on wedges that intersect,
# many wedges share a common region, and one point there sees every solution along a straight line. That is a
# prediction about sets, and it is testable: train the connector, then sample the structure and look at the worst
# point.

# %% tags=["remove-cell"]
import torch

import wedges_lib
from wedges_lib import config, data, params, plots, sets, solutions, surfaces, toy_experiments

torch.set_num_threads(1)

# %% tags=["parameters", "hide-input"]
scale = None
seed = None
dataset = None
n_train = None
model = None
width = None
optimizer = None
lr = None
momentum = None
l2 = None
schedule = None
batch_size = None
steps = None
record_every = None
device = None
n_solutions = None
connector_steps = None
set_lr = None
n_samples = None
set_grid = None
toy_D = None
toy_n = None
toy_K = None
toy_kappa = None
toy_law = None
toy_basis = None
toy_r_min = None
toy_runs = None
toy_r0 = None
toy_lr = None
toy_steps = None

# %% tags=["remove-cell"]
cfg = config.resolve_cell(globals())
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)
x, y = ds.x_train, ds.y_train

# %% tags=["remove-cell"]
thr = wedges_lib.thresholds("sets", fraction=0.2, hull_excess=0.1)  # excess loss, vs the hull's

# %% [markdown]
# ## Experiment
#
# **Solutions.** We train `n_solutions` networks from the seeds `seed`, `seed + 1`, … in one vmapped pass; the
# first three form the set with $k = 3$, all of them the larger set.

# %%
net, sol = solutions.independent(cfg, ds, cfg.n_solutions)  # the architecture, the trained vectors
sol_loss, sol_acc = params.evaluate(net, sol["theta"], x, y)
print(f"D = {sol['theta'].shape[1]}; train loss of the solutions {sol_loss.tolist()}")

# %% [markdown]
# **Structures.** Each starts where the solutions' mean is and takes `connector_steps` SGD steps; every step
# descends the mean minibatch loss at 8 points sampled uniformly in the structure (one vmapped pass):
# the connector of {cite:t}`fort2019large` on the $k$ segments $\theta_i \to \theta_c$; the same point trained on
# the triangles $\mathrm{conv}\{\theta_c, \theta_i, \theta_j\}$ (the stronger variant); and, after
# {cite:t}`benton2021loss`, the complex of $k$ simplices $\mathrm{conv}\{\theta_i, e_1, e_2\}$ sharing two
# trainable vertices. We evaluate each on `n_samples` uniform samples, on the whole training set, and the naive
# hull the same way.

# %%
results, evals = {}, {}
for k in (3, cfg.n_solutions):
    S = sol["theta"][:k]
    on_hull = lambda n, s: sets.hull_points(S, n, s)  # noqa: B023, E731  (used at once)
    hull = sets.evaluate_structure(net, x, y, on_hull, cfg.n_samples, cfg.seed)
    names = [n for n in sets.FITTED if k == 3 or "complex" not in n]  # the complex for k = 3 only
    fitted = sets.fit_structures(cfg, net, ds, S, names)
    results.update({(k, n): r for n, r in fitted.items()})
    evals.update({(k, "naive hull"): hull, **{(k, n): sets.evaluate_structure(
        net, x, y, r.sample, cfg.n_samples, cfg.seed) for n, r in fitted.items()}})
for (k, name), e in evals.items():
    print(f"k = {k}, {name:24s} loss mean {e['mean']:.3f}, worst {e['max']:.3f}, "
          f"accuracy min {e['acc'].min():.3f}")

# %% [markdown]
# **Sections.** The loss on the plane through $\theta_1$, $\theta_2$ and the connector $\theta_c$ (it holds two of
# the trained segments), and on the plane through the three solutions (the naive hull), `set_grid` points a side.

# %%
A, B, C3 = sol["theta"][:3]
conn = results[3, "connector (segments)"].extra[0]
plane_c = surfaces.plane_through(net, A, B, conn, n=cfg.set_grid, x=x, y=y)
plane_h = surfaces.plane_through(net, A, B, C3, n=cfg.set_grid, x=x, y=y)

# %% [markdown]
# **The toy's account.** In the wedge model ({ref}`ch-toy-model`) the solutions of three descents lie on three
# wedges; any point where all three wedges intersect (as `toy.intersection_point` finds for two) has zero loss
# and sees each solution along a segment inside its wedge. The same connector training, on the toy loss, finds one.

# %%
toy_eval = toy_experiments.set_study(cfg)["evals"]

# %% [markdown]
# ## Figures

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Three trained networks θ₁, θ₂, θ₃. Left: the loss on the plane through θ₁, θ₂ and the trained connector θc (log10): both segments to θc run through low loss. Middle: the plane through the three solutions, where the naive hull lies: a high-loss middle. Right: the training loss at sampled points of each structure (k = 3) and of the naive hull, with the solutions' loss dashed.", "name": "fig-sets"}}
fig, ax = plots.figure(3, width=3.8)
for axis, plane, names, path in ((ax[0, 0], plane_c, ("θ₁", "θ₂", "θc"), [0, 2, 1]),
                                 (ax[0, 1], plane_h, ("θ₁", "θ₂", "θ₃"), [0, 1, 2, 0])):
    P = plane["points"]
    plots.contour(axis, plane["xs"], plane["ys"], plane["loss"], points=dict(zip(names, P)),
                  xlabel="along θ₂ − θ₁", ylabel=f"towards {names[2]}", cbar_label="train loss",
                  title="segments to θc stay low" if names[2] == "θc" else "the naive hull is high")
    plots.paths(axis, {" → ".join(names[i] for i in path) if path[-1] else "naive hull": P[path]})
plots.histograms(ax[0, 2], {n: evals[3, n]["loss"] for n in ["naive hull", *sets.FITTED]},
                 bins=torch.logspace(-3, 1, 40).clamp_min(float(sol_loss.min()) / 2).unique(),
                 logx=True,
                 marks={"solutions": sol_loss[:3].mean()}, title="sampled losses (k = 3)",
                 xlabel="train cross-entropy at a sampled point")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Left: the mean and worst sampled loss of every structure for k = 3 and the larger k (log scale). Right: the toy wedge model: loss at points sampled on the naive hull of three solutions on different wedges and on the segments to the trained connector.", "name": "fig-sets-summary"}}
fig, ax = plots.figure(2, width=4.6)
plots.mean_worst(ax[0, 0], {f"k={k}: {n}": (e["mean"], e["max"]) for (k, n), e in evals.items()},
                 xlabel="train cross-entropy", title="trained structures vs the naive hull")
plots.histograms(ax[0, 1], {n: e["loss"].clamp_min(1e-8).log10() for n, e in toy_eval.items()},
                 bins=30, xlabel="log10 toy loss (floored at 1e-8)",
                 title="toy: a common intersection")

# %% [markdown]
# ## Result vs paper

# %% [markdown]
# The three solutions have a mean training loss of {glue:text}`sets_sol3`, the {glue:text}`sets_k` of the larger set
# {glue:text}`sets_solk`. On the naive hull the mean sampled loss is {glue:text}`sets_hull3_mean` for $k = 3$ and
# {glue:text}`sets_hullk_mean` for the larger set (lowest accuracy {glue:text}`sets_hull3_accmin`). On the trained
# connector's segments it is {glue:text}`sets_seg3_mean` (worst point {glue:text}`sets_seg3_worst`, lowest accuracy
# {glue:text}`sets_seg3_accmin`) for $k = 3$ and {glue:text}`sets_segk_mean` (worst {glue:text}`sets_segk_worst`)
# for the larger set: an excess over the solutions of {glue:text}`sets_seg3_fraction` and
# {glue:text}`sets_segk_fraction` of the hull's ({numref}`fig-sets`, {numref}`fig-sets-summary`). The complex of
# {cite:t}`benton2021loss` reaches {glue:text}`sets_cplx3_mean` (worst {glue:text}`sets_cplx3_worst`), the
# triangles $\mathrm{conv}\{\theta_c, \theta_i, \theta_j\}$ {glue:text}`sets_tri3_mean` (worst
# {glue:text}`sets_tri3_worst`). The triangles carry a handicap the segments do not: each contains the fixed
# straight segment $\theta_i \to \theta_j$ with its barrier, which no training of $\theta_c$ can lower. In the toy
# the naive hull's mean loss is {glue:text}`sets_toy_hull` and the connector's segments' {glue:text}`sets_toy_conn`
# (worst {glue:text}`sets_toy_conn_worst`).
#
# - A high naive hull: **{glue:text}`sets_hull_verdict`**.
# - One trained connector joins every solution at low loss (excess below {glue:text}`sets_fraction` of the hull's,
#   for $k = 3$ and the larger set), as {cite:t}`fort2019large` predict: **{glue:text}`sets_connector_verdict`**.

# %% tags=["hide-input"]
assert not sol["diverged"], "training diverged: the chapter needs converged networks"
num = sets.set_numbers(evals, sol_loss, cfg.n_solutions)
hull, conn = toy_eval["naive hull"], toy_eval["connector"]
num.update(sets_toy_hull=hull["mean"], sets_toy_conn=conn["mean"], sets_toy_conn_worst=conn["max"])
for name, value in num.items():
    wedges_lib.record(name, value)
for name, (ok, expected, measured) in sets.set_checks(num, thr).items():
    wedges_lib.check(name, ok, expected, measured)

# %% [markdown]
# ## Takeaway
#
# A set of solutions is not a set of isolated valleys: one point, found by descending the loss along the segments
# to it, sees all of them at low loss, and that is what the wedges predict: wedges are long in most directions, so
# many of them meet, and a point in their common intersection is joined to each solution inside that solution's
# wedge. The hull of the solutions is not in the intersection, which is why averaging weights fails.
#
# **Try it.** `-p connector_steps 1` leaves the connector at the solutions' mean and the connector check fails:
# `python -m wedges_lib run book/05_connecting_many_solutions.py --scale smoke -p connector_steps 1 --out runs/sets-untrained`.
