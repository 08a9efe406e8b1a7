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

from wedges_lib import config, data, plots, sets, solutions, toy_experiments, verdicts
from wedges_lib.verdicts import Claim

torch.set_num_threads(1)

# %% tags=["parameters", "hide-input"]
scale = None
seed = None
solution_seed = None
n_sets = None
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
claims = verdicts.declare(
    Claim("sets_hull_height", "the naive hull of 3 solutions is high", "its mean excess", ">", 0.1),
    Claim("sets_hull_ratio", "high against the solutions' loss", "excess ÷ their loss", ">", 1),
    Claim("sets_connector", "one trained connector joins all 3 at low loss, worst point included",
          "worst point's excess ÷ the hull's worst", "<", 0.2))

# %% tags=["remove-input"]
verdicts.what_would_count(claims)

# %% [markdown]
# :::{admonition} Our protocol
# :class: note
# Each statistic is measured once per set ("per seed" in the table) on `n_sets` independent sets of $k = 3$
# networks trained from the fresh seeds `solution_seed` + … (an earlier version showed one set, seeds 0–4). An
# *excess* is a loss minus the set's mean solution loss. A structure is low-loss when its worst sampled point is,
# so the connector is judged on the worst of its `n_samples` points on the $k$ segments against the naive hull's
# worst point; the fraction 0.2, declared before any run for the earlier check on mean losses, is kept, fixed
# before this statistic was run on these seeds. A claim of several parts is **reproduced** when every part is,
# **not reproduced** when none is even partly, else **partly**. The triangles and the complex are fitted on the
# first set only, and the larger set of `n_solutions` (the first set and `n_solutions` − 3 more networks) gets
# the connector only: one set has no interval, so these are numbers beside the verdicts, not verdicts.
# :::
#
# ## Experiment
#
# **Solutions.** We train the $3 \times$ `n_sets` $+$ `n_solutions` $- 3$ networks in one vmapped pass.
#
# **Structures.** Each starts where the solutions' mean is and takes `connector_steps` SGD steps; every step
# descends the mean minibatch loss at 8 points sampled uniformly in the structure (one vmapped pass):
# the connector of {cite:t}`fort2019large` on the $k$ segments $\theta_i \to \theta_c$; the same point trained on
# the triangles $\mathrm{conv}\{\theta_c, \theta_i, \theta_j\}$ (the stronger variant); and, after
# {cite:t}`benton2021loss`, the complex of $k$ simplices $\mathrm{conv}\{\theta_i, e_1, e_2\}$ sharing two
# trainable vertices. We evaluate each, and the naive hull, at `n_samples` uniform samples on the whole training
# set, and print each structure's mean / worst sampled loss and the worst point of each of the connector's segments.

# %%
net, sol = solutions.independent(cfg, ds, 3 * cfg.n_sets + cfg.n_solutions - 3)
studies, big = sets.set_studies(cfg, net, ds, sol)  # per set of 3 (None: diverged), the larger set
print("\n".join(sets.describe(studies, big)))

# %% [markdown]
# **Sections.** For the first set, the loss on the plane through $\theta_1$, $\theta_2$ and the connector
# $\theta_c$ (it holds two trained segments) and on the plane of the naive hull, `set_grid` points a side.

# %%
plane_c, plane_h = sets.sections(net, studies, sol["theta"], cfg.n_sets, cfg.set_grid, x, y)

# %% [markdown]
# **The toy's account.** In the wedge model ({ref}`ch-toy-model`) the solutions of three descents lie on three
# wedges; any point where all three wedges intersect has zero loss and sees each solution along a segment inside
# its wedge. The same connector training, on the toy loss, looks for one.

# %%
toy_eval = toy_experiments.set_study(cfg)["evals"]

# %% [markdown]
# ## Figures

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The first set of three trained networks θ₁, θ₂, θ₃. Left: the loss on the plane through θ₁, θ₂ and the trained connector θc (log10), with the segments to θc. Middle: the plane through the three solutions, where the naive hull lies. Right: the training loss at sampled points of each structure and of the naive hull, with the solutions' mean loss dashed.", "name": "fig-sets"}}
fig, ax = plots.figure(3, width=3.8)
for axis, plane, names, path in ((ax[0, 0], plane_c, ("θ₁", "θ₂", "θc"), [0, 2, 1]),
                                 (ax[0, 1], plane_h, ("θ₁", "θ₂", "θ₃"), [0, 1, 2, 0])):
    P = plane["points"]
    plots.contour(axis, plane["xs"], plane["ys"], plane["loss"], points=dict(zip(names, P)),
                  xlabel="along θ₂ − θ₁", ylabel=f"towards {names[2]}", cbar_label="train loss",
                  title="segments to θc" if names[2] == "θc" else "the naive hull")
    plots.paths(axis, {" → ".join(names[i] for i in path) if path[-1] else "naive hull": P[path]})
first = next((st for st in studies if st is not None), None)
if first is not None:
    plots.histograms(ax[0, 2], {n: e["loss"] for n, e in first["evals"].items()}, logx=True,
                     bins=torch.logspace(-3, 1, 40), title="sampled losses (first set)",
                     marks={"solutions": first["solutions_loss"].mean()}, xlabel="train loss")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Left: the mean and worst sampled loss of the naive hull and the connector for every set, of the triangles and the complex on the first set, and of the larger set (log scale). Right: the toy wedge model: loss at points sampled on the naive hull of three solutions on different wedges and on the segments to the trained connector.", "name": "fig-sets-summary"}}
fig, ax = plots.figure(2, width=4.6)
plots.mean_worst(ax[0, 0], sets.mean_worst_rows(studies, big), xlabel="train loss",
                 title="trained structures vs the naive hull")
toy_logs = {n: e["loss"].clamp_min(1e-8).log10() for n, e in toy_eval.items()}  # floored at 1e-8
plots.histograms(ax[0, 1], toy_logs, bins=30, xlabel="log10 toy loss", title="toy: sampled losses")

# %% tags=["remove-cell"]
v = sets.record_sets(cfg, claims, studies, big, toy_eval, sol["diverged"])

# %% [markdown]
# ## Result vs paper
#
# Over the measured sets ({glue:text}`sets_diverged` networks diverged) the three solutions have a mean training
# loss of {glue:text}`sets_sol3`. On the naive hull the mean sampled loss is {glue:text}`sets_hull3_mean` (worst
# {glue:text}`sets_hull3_worst`, lowest accuracy {glue:text}`sets_hull3_accmin`); on the trained connector's
# segments it is {glue:text}`sets_seg3_mean` (worst {glue:text}`sets_seg3_worst`, lowest accuracy
# {glue:text}`sets_seg3_accmin`): a mean excess of {glue:text}`sets_seg3_fraction` of the hull's
# ({numref}`fig-sets`, {numref}`fig-sets-summary`). On the first set the complex of {cite:t}`benton2021loss` reaches
# {glue:text}`sets_cplx3_mean` (worst {glue:text}`sets_cplx3_worst`), the triangles
# $\mathrm{conv}\{\theta_c, \theta_i, \theta_j\}$ {glue:text}`sets_tri3_mean` (worst {glue:text}`sets_tri3_worst`);
# the triangles carry a handicap: each contains the fixed segment $\theta_i \to \theta_j$ with its barrier. The
# larger set of {glue:text}`sets_k` (solutions {glue:text}`sets_solk`) has a hull at {glue:text}`sets_hullk_mean` and
# connector segments at {glue:text}`sets_segk_mean` (worst {glue:text}`sets_segk_worst`). {glue:text}`sets_big_sentence`
# In the toy the naive hull's mean loss is {glue:text}`sets_toy_hull`, the connector's segments'
# {glue:text}`sets_toy_conn` (worst {glue:text}`sets_toy_conn_worst`). Verdicts: mean [95 % interval] (scale, n).
#
# - A high naive hull, **{glue:text}`sets_hull_badge`**: mean excess {glue:text}`sets_hull_height_summary`
#   ({glue:text}`sets_hull_height_badge`), over the solutions' loss {glue:text}`sets_hull_ratio_summary`
#   ({glue:text}`sets_hull_ratio_badge`).
# - One trained connector joins every solution at low loss, worst point included, as {cite:t}`fort2019large`
#   predict (worst excess below {glue:text}`sets_connector_threshold` of the hull's):
#   **{glue:text}`sets_connector_badge`**, {glue:text}`sets_connector_summary`.
# - Not yet controlled: permutation symmetry, which may explain part of the hull's height (Ainsworth et al. 2023).

# %% [markdown]
# ## Takeaway
#
# If low loss lives on wedges, long in most directions, many of them meet, and a point in their common intersection
# is joined to each solution inside that solution's wedge; the hull of the solutions is not in the intersection,
# so the model predicts that averaging weights fails (the hull's verdict above). The connector's verdict says
# whether one descent finds such a point for a set of networks, judged on the worst point of its segments.
#
# **Try it.** `-p connector_steps 1` leaves the connector at the solutions' mean:
# `python -m wedges_lib run book/05_connecting_many_solutions.py --scale smoke -p connector_steps 1 --out runs/x`.
