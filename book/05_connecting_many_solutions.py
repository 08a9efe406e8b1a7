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
# the solutions alone is high. {cite:t}`benton2021loss` later built whole simplicial complexes of low loss.
#
# **Motivation.** {ref}`ch-pairs` joined two solutions with one bend. If low loss lives on wedges that intersect,
# many share a common region, and one point there sees every solution along a straight line: a testable prediction
# about sets. A referee adds: how much of the hull's height is only permutation symmetry (hidden units reordered,
# the function unchanged; Ainsworth et al. 2023), and are Benton et al.'s volume-regularised complexes low-loss?

# %% tags=["remove-cell"]
import pandas as pd
import torch

import wedges_lib
from wedges_lib import config, data, protocol
from wedges_lib.studies import ch05_sets as study

torch.set_num_threads(1)

CHAPTER = "05_connecting_many_solutions"  # its own presets and its protocol section

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
structure_steps = None
structure_lr = None
set_volume_reg = None
n_eval = None
n_interp = None
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
cfg = config.resolve_cell(globals(), CHAPTER)
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)

# %% tags=["remove-cell"]
claims = protocol.declare(CHAPTER)

# %% tags=["remove-input"]
protocol.what_would_count(CHAPTER, claims)

# %% [markdown]
# :::{admonition} Our protocol
# :class: note
# One value per set, on `n_sets` independent sets of $k = 3$ networks from seeds `solution_seed` + … (structures'
# minibatches from `seed` + set): fresh seeds, because this version changed the protocol (the joint alignment, the
# alignment checks given a section of their own as controls, the check against the aligned hull; the seeds before
# were 500 … and, before those, 100–110; the deviations list has their results). An *excess* is a loss minus the set's
# mean solution loss, a *drop* the solutions' mean accuracy minus the lowest. The fraction 0.2 was declared for the
# earlier version; 0.5, 2 and λ = `set_volume_reg` (ours, not Benton et al.'s: chosen on smoke-scale networks of the
# old seeds) before any run on these seeds. Claim C5's headline is the least favourable of its primary checks after
# Holm's correction; the volume and alignment checks are controls. The triangles (first set only) and the larger set
# of `n_solutions` (the first set and `n_solutions` − 3 more networks; the connector only) give plain numbers.
# :::
#
# ## Experiment
#
# **Solutions.** We train the $3 \times$ `n_sets` $+$ `n_solutions` $- 3$ networks in one vmapped pass.
#
# **Structures.** Each starts at the solutions' mean and takes `structure_steps` SGD steps on the mean minibatch
# loss at 8 points sampled uniformly in it (one vmapped pass): the connector of {cite:t}`fort2019large` on the $k$
# segments $\theta_i \to \theta_c$; the same point on the triangles $\mathrm{conv}\{\theta_c, \theta_i, \theta_j\}$;
# after {cite:t}`benton2021loss`, the complex of $k$ simplices $\mathrm{conv}\{\theta_i, e_1, e_2\}$ sharing two
# trainable vertices, with their regulariser $-\lambda \log(\sum_s \mathrm{vol}_s^2 + 10^{-4})$ and without.
# **Alignment.** Every member is permuted to match the first by weight matching (Ainsworth et al. 2023; the same
# functions): the aligned hull, with vertices $\theta_1, \pi(\theta_2), \pi(\theta_3)$. Aligning to one member is a
# star; the set is also aligned jointly by their MergeMany (each member matched to the mean of the others, in turn,
# until a round moves none): the jointly aligned hull, $\sigma(\theta_1), \sigma(\theta_2), \sigma(\theta_3)$.
# Each structure is evaluated at `n_eval` uniform samples on the whole training set, and each of its straight edges
# on its grid; the table gives every edge's highest loss and lowest accuracy, mean [95 % interval] over the sets.

# %%
raw = study.run(cfg, ds)  # per set of 3 (None: diverged), the larger set, planes, the toy
print("\n".join(study.describe(raw["studies"], raw["big"])))
pd.DataFrame(study.segment_rows(raw["studies"]))

# %% [markdown]
# **Sections** of the first set (`set_grid` points a side) and **the toy's account.** In the wedge model
# ({ref}`ch-toy-model`) three descents end on three wedges; a point where all three intersect has zero loss and
# sees each solution along a segment inside its wedge. The same connector training, on the toy loss, looks for one.

# %% [markdown]
# ## Figures

# %% tags=["hide-input", "remove-output"]
fig = study.figures("planes", raw)
wedges_lib.glue_figure("fig_sets", fig)

# %% [markdown]
# ```{glue:figure} fig_sets
# :name: fig-sets
#
# The first set of three trained networks θ₁, θ₂, θ₃: the loss (log10) on the plane through θ₁, θ₂ and the trained
# connector θc with the segments to θc (left), and on the plane through the three solutions where the naive hull lies
# (right).
# ```

# %% tags=["hide-input", "remove-output"]
fig = study.figures("summary", raw)
wedges_lib.glue_figure("fig_sets_summary", fig)

# %% [markdown]
# ```{glue:figure} fig_sets_summary
# :name: fig-sets-summary
#
# Top left: the mean and worst sampled loss of each structure, averaged over the sets (log scale). Top right: the toy
# wedge model: loss at points sampled on the naive hull of three solutions on different wedges and on the segments to
# the trained connector. Bottom: the mean and worst point of every straight edge of the naive hull, the connector and
# the regularised complex, averaged over the sets.
# ```

# %% tags=["remove-cell"]
num = study.numbers(raw, cfg)
for name, value in num.items():
    wedges_lib.record(name, value)
v = protocol.conclude(CHAPTER, study.judge(claims, study.statistics(raw), cfg.scale))
bar = claims["sets_connector_loss"].threshold
wedges_lib.record("sets_big_sentence", study.big_set_sentence(num, bar))

# %% [markdown]
# ## Result vs paper
#
# Mean [95 % interval] over the sets ({glue:text}`sets_diverged` networks diverged): the solutions' loss is
# {glue:text}`sets_sol3` (accuracy {glue:text}`sets_solacc3`). The naive hull's mean sampled loss is
# {glue:text}`sets_hull3_mean` (worst {glue:text}`sets_hull3_worst`), its edges' worst point
# {glue:text}`sets_hull3_edge_worst` (lowest accuracy {glue:text}`sets_hull3_edge_accmin`); the connector's
# segments' {glue:text}`sets_seg3_edge_worst` ({glue:text}`sets_seg3_edge_accmin`; {numref}`fig-sets`,
# {numref}`fig-sets-summary`). Benton et al.'s complex has volume {glue:text}`sets_cplx3_volume` and
# worst point {glue:text}`sets_cplx3_worst` with the volume term, {glue:text}`sets_cplx03_volume` and
# {glue:text}`sets_cplx03_worst` without. The triangles (first set) reach {glue:text}`sets_tri3_worst`: each holds
# a segment $\theta_i \to \theta_j$ with its barrier. The larger set of {glue:text}`sets_k` has a hull at
# {glue:text}`sets_hullk_mean` ({glue:text}`sets_ahullk_mean` aligned), connector segments at worst
# {glue:text}`sets_segk_worst`. {glue:text}`sets_big_sentence` In the toy the hull's mean loss is
# {glue:text}`sets_toy_hull`, the connector's {glue:text}`sets_toy_conn` (worst {glue:text}`sets_toy_conn_worst`).
#
# - A high naive hull, **{glue:text}`sets_hull_badge`**: {glue:text}`sets_hull_summary` (against the solutions'
#   own loss, a sanity check: {glue:text}`sets_hull_ratio_badge`).
# - One trained connector joins every solution at low loss and high accuracy, the worst point of every segment
#   included, as {cite:t}`fort2019large` predict: **{glue:text}`sets_connector_badge`**,
#   {glue:text}`sets_connector_summary`.
# - Beyond permutation symmetry: the connector's worst segment lower than the worst edge of the hull aligned
#   jointly (below {glue:text}`sets_beyond_connector_threshold` of it), **{glue:text}`sets_beyond_connector_badge`**:
#   {glue:text}`sets_beyond_connector_summary`.
# - Benton et al.'s complex with their volume regulariser, low at its worst point: **{glue:text}`sets_complex_badge`**,
#   {glue:text}`sets_complex_summary`; the regulariser buys volume (a control):
#   **{glue:text}`sets_complex_volume_badge`**, {glue:text}`sets_complex_volume_summary`.
# - **Claim C5: {glue:text}`sets_badge`** — the least favourable of the primary checks above after Holm's
#   correction: {glue:text}`sets_summary`.
#
# ## What permutation symmetry explains
#
# Hidden units can be relabelled without changing the function (Ainsworth et al. 2023): how much of the hull's
# height is such a relabelling? A competing account, so its checks are *controls*: they say how to read C5 and count
# for no claim (the check against the aligned hull above is C5's). Aligned to θ₁ (a star) the hull's mean is
# {glue:text}`sets_ahull3_mean` (worst {glue:text}`sets_ahull3_worst`), its edges' worst
# {glue:text}`sets_ahull3_edge_worst` ({glue:text}`sets_ahull3_edge_accmin`). **The hull's worst sampled point**,
# before any alignment / after the star / after joint alignment: {glue:text}`sets_hull3_worst` /
# {glue:text}`sets_ahull3_worst` / {glue:text}`sets_jhull3_worst` (its edges' worst after joint alignment
# {glue:text}`sets_jhull3_edge_worst`; {numref}`fig-sets-symmetry`).
#
# - Does aligning every member to θ₁ make the naive hull and its edges low-loss?
#   **{glue:text}`sets_aligned_badge`**, {glue:text}`sets_aligned_summary`.
# - Aligned jointly rather than to θ₁, is its worst point low? **{glue:text}`sets_joint_worst_badge`**,
#   {glue:text}`sets_joint_worst_summary`.
# - Together, **{glue:text}`sets_symmetry_badge`**: {glue:text}`sets_symmetry_summary`.
#
# The slider below shows where in the first set's hull the loss is high, before and after each alignment: each
# sampled point at its barycentric weights, coloured on one scale for all three (it needs no kernel).

# %% tags=["hide-input", "remove-output"]
fig = study.figures("symmetry", raw)
wedges_lib.glue_figure("fig_sets_symmetry", fig)

# %% [markdown]
# ```{glue:figure} fig_sets_symmetry
# :name: fig-sets-symmetry
#
# What permutation symmetry explains. Left: the loss (log10) on the plane through the first set aligned to θ₁ by
# weight matching (the same functions). Right: the mean and worst sampled loss of the hull before alignment, aligned
# to θ₁ and aligned jointly, and of each of their edges, averaged over the sets (log scale).
# ```

# %% tags=["hide-input"]
study.figures("explorer", raw, cfg)

# %% tags=["remove-input"]
protocol.sanity_list(CHAPTER, v)

# %% [markdown]
# ## Takeaway
#
# If low loss lives on wedges, long in most directions, many of them meet, and a point in their intersection is
# joined to each solution inside its wedge; the hull is not in the intersection, so averaging weights fails. The
# alignment check says how much of that is only a relabelling of hidden units, which the wedge model does not
# need: its connector joins the solutions as they are. The volume check measures how large the low-loss region is.
#
# **Try it.** `-p structure_steps 1` leaves the connector at the solutions' mean, `-p set_volume_reg 0` drops the
# volume term: `python -m wedges_lib run book/05_connecting_many_solutions.py --scale smoke -p structure_steps 1`.
