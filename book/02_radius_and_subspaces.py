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
# (ch-radius)=
# # Random subspaces and the radius
#
# **Claim.** A network trained only inside a random $d$-dimensional affine subspace $\theta = \theta_0 + Pw$
# reaches good accuracy once $d$ exceeds an *intrinsic dimension* far below the parameter count $D$
# {cite:p}`li2018intrinsic`. {cite:t}`fort2019large` add that the wedges of low loss widen with the radius, so a
# subspace through a $\theta_0$ further out meets them more easily: the intrinsic dimension should fall as
# $\lVert\theta_0\rVert$ grows.
#
# **Motivation.** A random plane of a few thousand dimensions in a space of tens of thousands is almost surely
# orthogonal to any given direction, yet training inside it works; the wedges' $D - n$ long directions explain
# this and predict that the anchor's radius matters. {cite:t}`fort2018goldilocks` saw another shape: subspaces
# train well only in a *shell* of radii where $\mathrm{Tr}(H)/\lVert H\rVert_F$ is large. We measure which
# shape a network shows, and whether either survives control of the softmax temperature the weights' scale sets.

# %% tags=["remove-cell"]
import torch

import wedges_lib
from wedges_lib import cache, config, data, protocol
from wedges_lib.studies import ch02_radius as study

torch.set_num_threads(1)  # on a shared CPU extra threads mostly wait for each other

CHAPTER = "02_radius_and_subspaces"  # its own presets and its protocol section

# %% tags=["parameters", "hide-input"]
scale = None
seed = None
n_seeds = None
dataset = None
n_train = None
device = None
model = None
optimizer = None
lr = None
momentum = None
l2 = None
schedule = None
batch_size = None
steps = None
dims = None
radii = None
projection = None
subspace_width = None
subspace_steps = None
subspace_lr = None
subspace_step = None
id_fraction = None
goldilocks_probes = None
goldilocks_examples = None
goldilocks_dim = None
toy_r_min = None
plane_D = None
plane_n = None
plane_K = None
plane_kappa = None
plane_dims = None
plane_radii = None
plane_seeds = None
plane_steps = None

# %% tags=["remove-cell"]
cfg = config.resolve_cell(globals(), CHAPTER)
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)

# %% tags=["remove-cell"]
claims = protocol.declare(CHAPTER)

# %% tags=["remove-input"]
protocol.what_would_count(CHAPTER, claims)

# %% [markdown]
# ## Experiment
#
# :::{admonition} Our protocol
# The anchor $\theta_0$ is a fresh initialisation scaled by $c$ (`radii`); $P$ a random projection with unit
# columns; only $w$ (from 0) is trained, by Adam (cosine schedule, `subspace_steps` steps, learning rate
# `subspace_lr`$/\sqrt d$): a step moves $\theta$ by about `subspace_lr` at every $d$, and with `subspace_step =
# "relative"` by $c$ times that (the same *angular* step at every radius). A seed's radii and variants share the
# direction, projection and minibatches: compared in pairs, in one vmapped pass per $d$. $d_\text{int}$: the
# smallest $d$ reaching `id_fraction` of the same network's full-space test accuracy (interpolated in $\log d$;
# not reached: the largest $d$, a lower bound). Variants: **uncontrolled** (the MLP); **temperature** (its logits
# divided, in training too, by a temperature fitted at each anchor, its logits' std over the $c = 1$ init's);
# **invariant** (`mlp_invariant`: no biases, normalised logits, a function blind to its weights' scale);
# **absolute** (the MLP with `subspace_step = "absolute"`). $\mathrm{Tr}(H)/\lVert H\rVert_F$ at the anchors:
# `goldilocks_probes` Hutchinson probes on `goldilocks_examples` examples, in the full space and restricted to the
# subspace of dimension `goldilocks_dim` ($P^\top H P$ by Hessian-vector products). **Fresh seeds:** the band
# first reported here was seen on seeds 0–4; these verdicts use `n_seeds` seeds from `seed` on.
# :::

# %%
res = cache.cached("radius-variants", cfg, study.run, data=ds)
runs = study.statistics(res, cfg.id_fraction)  # per variant: sweep, d_int, per-seed statistics

# %% [markdown]
# **The toy's prediction** ({ref}`ch-toy-model`; wedges open from the hole's edge $r_{\min}$): $d_{50}$, the
# smallest $d$ where half the planes through a point at radius $r$ reach zero loss, on `n_seeds` toys.

# %%
d50 = cache.cached("radius-toy", cfg, study.toy_d50)  # (len(plane_radii), toys)

# %% [markdown]
# **The identity behind the controls.** A bias-free ReLU network of $L$ layers is positively homogeneous,
# $f(c\theta) = c^L f(\theta)$: trained in the plane through $c\theta_0$ with its logits divided by $c^L$ and a step
# proportional to $c$, it *is* the network trained in the plane through $\theta_0$. We check it numerically on the
# bias-free MLP ($c$ = 0.5, 2, 8, every seed, one vmapped stack): the same loss at every step.

# %%
identity = cache.cached("radius-identity", cfg, study.homogeneity, data=ds)  # largest |Δ loss|

# %% [markdown]
# ## Figures

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The uncontrolled experiment: training in random subspaces of MNIST-1D's MLP anchored at c × the initialisation's norm (mean ± 1 std over seeds). Left: test accuracy against d, one line per radius; dashed: the intrinsic dimension's threshold. Middle: test accuracy at the largest d against c, with the full-space accuracy. Right: d_int against c (triangles: not reached).", "name": "fig-radius-subspaces"}}
fig = study.figures("sweep", res, runs, cfg)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The controls, one line per variant (mean ± 1 std over seeds) against c. Top: d_int (not reached: the largest d), test accuracy at the largest d, training loss at the anchors (the temperature variant's with its fitted temperature). Bottom: Tr(H)/‖H‖_F at the anchors in the full space and restricted to the random subspace (PᵀHP; the absolute variant shares the uncontrolled anchors), and the wedge toy's prediction, d₅₀ against r / r_min.", "name": "fig-radius-controls"}}
fig = study.figures("controls", res, runs, cfg, d50)

# %% [markdown]
# ## Result vs paper

# %% tags=["remove-cell"]
judged = protocol.conclude(CHAPTER, study.judge(claims, runs, d50, identity, cfg))
wedges_lib.record("radius_identity_largest", float(identity["largest"].max()))
wedges_lib.record("radius_identity_layers", identity["layers"])
slopes = {v: judged[name] for v, name in study.SLOPES.items()} | {"toy": judged["radius_toy"]}
for v, p in slopes.items():
    wedges_lib.record(f"radius_direction_{v}", study.direction(p.mean, p.lo, p.hi))
for name, value in study.numbers(res, runs, cfg.radii, d50, cfg.plane_radii).items():
    wedges_lib.record(f"radius_{name}", value)

# %% [markdown]
# **Uncontrolled** ({numref}`fig-radius-subspaces`). Over $d$ = {glue:text}`radius_d_first`–{glue:text}`radius_d`
# and seeds, test accuracy is {glue:text}`radius_acc_largest` at $c$ = {glue:text}`radius_largest`,
# {glue:text}`radius_acc_smallest` at {glue:text}`radius_smallest` (full space: {glue:text}`radius_ref_acc`), far
# minus near {glue:text}`radius_far_near_summary` **{glue:text}`radius_far_near_badge`**, {glue:text}`radius_shape`.
# The fitted temperature goes from {glue:text}`radius_temp_smallest` to {glue:text}`radius_temp_largest` (a power
# {glue:text}`radius_temp_power` of $c$); the loss at the anchors: {glue:text}`radius_loss_uncontrolled`.
#
# **The intrinsic dimension against the radius, per variant** ({numref}`fig-radius-controls`; mean [95 %
# interval] over seeds; ≥: some seed did not reach it), and its log–log slope, per seed, beside the toy's:

# %% tags=["remove-input"]
display(study.id_table(runs, cfg.radii))  # noqa: F821 (IPython's display)
study.slope_table(slopes)

# %% [markdown]
# Directions: uncontrolled **{glue:text}`radius_direction_uncontrolled`**, temperature
# **{glue:text}`radius_direction_temperature`**, invariant **{glue:text}`radius_direction_invariant`**, absolute
# step **{glue:text}`radius_direction_absolute`**; the toy's prediction: **{glue:text}`radius_direction_toy`**.
# The
# invariant network is a sanity check by construction: scaling its weights by $c$ changes nothing, and the relative
# step scales Adam's steps with them, so every radius is the same run (bit for bit for $c = 2^k$): with no
# preferred scale the plane through $c\theta_0$ is the plane through $\theta_0$, magnified (its full-space
# accuracy: {glue:text}`radius_ref_acc_invariant`).
#
# **Goldilocks** {cite:p}`fort2018goldilocks`. $\mathrm{Tr}(H)/\lVert H\rVert_F$ at the uncontrolled anchors peaks
# at $c$ = {glue:text}`radius_gold_full_peak_uncontrolled` in the full space ({glue:text}`radius_gold_full_uncontrolled`),
# at {glue:text}`radius_gold_restricted_peak_uncontrolled` in the subspace ({glue:text}`radius_gold_restricted_uncontrolled`);
# at fitted temperature, full: {glue:text}`radius_gold_full_temperature`; subspace: {glue:text}`radius_gold_restricted_temperature`.
# **The toy** ($d_{50}$ {glue:text}`radius_toy_d50_first` at $r$ = {glue:text}`radius_toy_r_first`,
# {glue:text}`radius_toy_d50_last` at {glue:text}`radius_toy_r_last`): **{glue:text}`radius_toy_badge`**.
# **Claim C2: {glue:text}`radius_badge`** — the least favourable of its primary checks (far vs near, the uncontrolled
# slope, the fitted-temperature slope) after Holm's correction: {glue:text}`radius_summary`. The absolute step is a
# control, the toy supports the model; neither lifts the claim.

# %% tags=["remove-input"]
protocol.sanity_list(CHAPTER, judged)

# %% [markdown]
# ## Takeaway
#
# {cite:t}`fort2019large` predict that wedges widen with the radius, so planes further out need fewer dimensions;
# the toy ({ref}`ch-toy-model`) isolates that mechanism, its hole of radius $r_{\min}$ giving it a preferred
# scale. **In a network the homogeneity identity decides what a radius effect can be**: for a bias-free ReLU
# network of $L$ = {glue:text}`radius_identity_layers` layers, training through $c\theta_0$ at temperature $c^L$
# and step $\propto c$ is training through $\theta_0$ (largest loss difference measured:
# {glue:text}`radius_identity_largest`; **{glue:text}`radius_homogeneity_badge`**). There the radius *is* softmax
# temperature plus step scale, and a radius effect of the wedge kind can only come from what breaks homogeneity:
# the biases, a smooth activation, a normalisation layer. So the fitted-temperature variant can move only through
# the MLP's biases, largest in share at small $c$ — read its slope with that in mind; the invariant network shows
# none by construction, and the absolute step changes the optimisation budget (its angular step shrinks as $c$
# grows) as much as the geometry.
#
# **Try it.** `python -m wedges_lib run book/02_radius_and_subspaces.py -p subspace_step absolute --out runs/abs`
# gives every variant the absolute step; `-p seed 0`: the seeds the band was first seen on.
