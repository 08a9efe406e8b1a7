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
# (ch-toy-model)=
# # The n-wedge toy model
#
# **Claim.** The loss landscape behaves like a union of high-dimensional **wedges** with a few short and many long
# directions each, widening away from the origin and meeting in one connected structure that draws optimisation in
# {cite:p}`fort2019large`. This one model reproduces mode connectivity {cite:p}`garipov2018loss,draxler2018essentially`,
# the monotonic line from initialisation to solution {cite:p}`goodfellow2015qualitatively`, easy training in
# random hyperplanes {cite:p}`li2018intrinsic` and long directions around solutions (claim C1).
#
# **Motivation.** These observations look unrelated, even contradictory: two solutions are separated by a barrier on
# the straight line between them yet joined by a low-loss path; the loss falls monotonically from a random start
# although the landscape is not convex. One model explaining them all is worth having before we measure networks.
#
# The model is small: $\theta \in \mathbb{R}^D$ is inside wedge $k$ (one of $K$) when its part along the wedge's
# $n$ short directions, $P_k\theta$, is shorter than the width $w(\lVert\theta\rVert)$; the loss (`wedges_lib.toy`) is
# $L(\theta) = \min_k \mathrm{relu}(\lVert P_k\theta\rVert - w(\lVert\theta\rVert))^2 +
# \mathrm{relu}(r_{\min} - \lVert\theta\rVert)^2$.

# %% tags=["remove-cell"]
import ipywidgets as widgets
import torch

import wedges_lib
from wedges_lib import config, plots, protocol, toy, toy_experiments
from wedges_lib.studies import ch01_toy as study

torch.set_num_threads(1)  # small tensors: one thread is fastest, and kind to a busy machine
FLOOR = 1e-12  # zero loss drawn at this height on log axes

CHAPTER = "01_toy_model"  # its own presets and its protocol section

# %% tags=["parameters", "hide-input"]
scale = None
seed = None
n_seeds = None
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
toy_noise = None
toy_dirs = None
toy_grid = None
plane_D = None
plane_n = None
plane_K = None
plane_kappa = None
plane_width0 = None
plane_dims = None
plane_radii = None
plane_seeds = None
plane_steps = None

# %% tags=["remove-cell"]
cfg = config.resolve_cell(globals(), CHAPTER)

# %% tags=["remove-input"]
claims = protocol.declare(CHAPTER)  # losses in R² (low: < toy_experiments.LOW R²), distances in R
protocol.what_would_count(CHAPTER, claims)

# %% [markdown]
# ## Experiment
#
# :::{admonition} Our protocol
# The paper's exact construction is not available to us. Our wedges have random orthonormal short frames (random
# coordinates at the paper scale), a width $w(r) = \kappa\,(r - r_{\min})$ opening up from the hole's edge, and we
# use gradient descent, with Gaussian gradient noise for the SGD-like runs. Random hyperplanes use a more crowded
# toy: long directions need $\sqrt{n/D} \ll \kappa$, the radius effect needs $\kappa < \sqrt{n/D}$.
# :::
#
# Descents from random points at radius `toy_r0`, plain and with gradient noise; two that end on different wedges give
# solutions $a$, $b$, and $c$ is where both wedges meet, towards $a + b$. **Random hyperplanes:** training only $w$ in
# $\theta = \theta_0 + Pw$ ($P$ a random $D \times d$ frame, $\theta_0$ at radius $r$) succeeds when the loss falls
# below $10^{-4} r^2$; we map success over $(d, r)$ for opening wedges and constant-width slabs ($\kappa = 0$). Last,
# $D = 3$: three slabs, one per axis. All of it is repeated on `n_seeds` independent toys, one per seed.

# %%
runs, hypers, slab_runs = study.run(cfg)  # one independent toy per seed
run, slabs = runs[0], slab_runs[0]  # the descent, pair and D = 3 figures draw the first toy

# %% [markdown]
# ## Figures

# %% tags=["hide-input", "remove-output"]
plain, L, R = run["plain"], run["plain"].history["loss"], run["plain"].history["radius"]
noisy_R = torch.cat([run["noisy"].history["radius"], run["settled"].history["radius"][1:]])
fig, ax = plots.figure(2, 2)
losses = {"median": L.median(1).values.clamp_min(FLOOR), "worst": L.amax(1).clamp_min(FLOOR)}
plots.curves(ax[0, 0], plain.history["step"], losses, xlabel="step", ylabel="loss", logy=True,
             title="drawn onto a wedge")
plots.curves(ax[0, 1], plain.history["step"], {"plain": R, "noise, then settling": noisy_R},
             xlabel="step", ylabel="‖θ‖", title="noise moves it outward")
lines = run["init_lines"] / run["init_lines"][:, :1]
plots.curves(ax[1, 0], torch.linspace(0, 1, cfg.toy_grid), {"start → solution": lines.T},
             xlabel="t  (θ₀ → θ*)", ylabel="loss / loss at θ₀", title="monotonic from the start")
x = torch.linspace(0, 2, 201)  # distance from a solution / its radius R
plots.curves(ax[1, 1], x, study.still_low(run["escape"], x), xlabel="distance / R",
             ylabel="fraction still at low loss", title="long and short directions")
wedges_lib.glue_figure("fig_toy_descent", fig)

# %% [markdown]
# ```{glue:figure} fig_toy_descent
# :name: fig-toy-descent
#
# Gradient descent from random starts (the first toy). Top: the loss reaches exactly zero on a wedge (median and worst
# run; zero drawn at 1e-12), and plain descent stops at its radius while gradient noise carries the runs outward along
# the long directions (mean and spread over runs). Bottom: the straight line from each start to its solution descends
# monotonically; from the solutions (at radius R) the loss stays low along most random directions for distances
# comparable to R, but not along their short directions.
# ```

# %% tags=["hide-input", "remove-output"]
fig, ax = plots.figure(3)
plots.toy_pair(ax[0], run["sections"])
paths = {"a → b (straight)": run["line"].clamp_min(FLOOR), "a → c → b": run["via"].clamp_min(FLOOR)}
plots.curves(ax[0, 2], run["t_line"], paths, logy=True, xlabel="position on the path (by segment)",
             ylabel="loss", title="a barrier only on the line")
wedges_lib.glue_figure("fig_toy_connect", fig)

# %% [markdown]
# ```{glue:figure} fig_toy_connect
# :name: fig-toy-connect
#
# Two solutions a and b on different wedges (the first toy). Left: the loss on the plane through a, b and the joint c
# (log scale; dark is zero): the straight line a → b leaves the wedges, the path a → c → b through their intersection
# stays inside. Middle: the plane through a's start θ₀, a and b, with both runs projected on it: descent goes straight
# into a wedge. Right: the loss along both paths.
# ```

# %% tags=["hide-input", "remove-output"]
fig, ax = plots.figure(3)
maps, d50 = study.hyperplane_summary(hypers)  # mean success maps; d₅₀ (radii, toys)
for k, (name, s) in enumerate(maps.items()):
    plots.heatmap(ax[0, k], cfg.plane_radii, cfg.plane_dims, s, xlabel="radius r",
                  ylabel="hyperplane dim d", title=f"{name}: success rate", colorbar=k == 1)
plots.curves(ax[0, 2], torch.tensor(cfg.plane_radii), d50, xlabel="radius r", ylabel="d₅₀",
             marker="o", title="intrinsic dim. falls only if κ > 0")
ax[0, 2].set_xlim(min(cfg.plane_radii) / 1.1, max(cfg.plane_radii) * 1.1)  # d₅₀ may be unreached
ax[0, 2].set_xscale("log")
wedges_lib.glue_figure("fig_toy_hyperplanes", fig)

# %% [markdown]
# ```{glue:figure} fig_toy_hyperplanes
# :name: fig-toy-hyperplanes
#
# Training in random d-dimensional hyperplanes through a random point at radius r: the fraction that reaches zero loss
# (mean over the toys), for wedges that open up (left) and for slabs of constant width (middle); right, the intrinsic
# dimension d₅₀ (the smallest d where half the runs succeed) against the radius, mean ± std over the toys.
# ```

# %% tags=["hide-input", "remove-output"]
chord, bent = (torch.stack([slabs[k] for k in ks]) for ks in ("ab", "acb"))
lines3 = {"runs": list(slabs["paths"].unbind(1)), "a → b (straight)": chord, "a → c → b": bent}
fig, ax3 = plots.cloud3d(slabs["low"], toy.wedge_of(slabs["model"], slabs["low"]), lines=lines3,
                         marks={k: slabs[k] for k in "abc"}, title="three wedges in D = 3")
wedges_lib.glue_figure("fig_toy_3d", fig)

# %% [markdown]
# ```{glue:figure} fig_toy_3d
# :name: fig-toy-3d
#
# The toy in D = 3 (the first toy), after the author's figure: the zero-loss points inside a ball are three slabs that
# thicken away from the origin, with a hole around it (the octant facing us is cut away). Two runs from random starts
# end on different slabs (a, b); the straight line between them leaves the slabs, the path through their intersection
# c stays inside.
# ```

# %% [markdown]
# ## Result vs paper
#
# Descents from random starts end at worst final / initial loss {glue:text}`toy_drawn_loss_summary`, on
# {glue:text}`toy_drawn_wedges_summary` wedges ({numref}`fig-toy-descent`): **{glue:text}`toy_drawn_badge`**. Plain
# descent grows the radius by at most {glue:text}`toy_plain_growth` %; with noise the smallest growth is ×
# {glue:text}`toy_outward_radius_summary`, at a worst settled / initial loss of {glue:text}`toy_outward_loss_summary`:
# **{glue:text}`toy_outward_badge`**. Between two solutions ({numref}`fig-toy-connect`), with $R=\lVert a\rVert$, the
# barrier on the line is $10^xR^2$, $x$ = {glue:text}`toy_connect_line_summary`; via $c$ it is
# {glue:text}`toy_connect_via_summary` of that (a sanity check: $c$ lies in both wedges by construction):
# **{glue:text}`toy_connect_badge`**. Start → solution lines rise by
# {glue:text}`toy_monotonic_summary` of the initial loss at most: **{glue:text}`toy_monotonic_badge`**. From a
# solution (radius $R$) the loss exceeds $10^{-4}R^2$ after a median $10^yR$ along random directions, $y$ =
# {glue:text}`toy_long_random_summary` (probed to $2R$), along its short one after {glue:text}`toy_long_short_summary`
# of that: **{glue:text}`toy_long_badge`**. In hyperplanes ({numref}`fig-toy-hyperplanes`) opening wedges gain
# {glue:text}`toy_hyperplane_gain_summary` in success from the smallest radius to the largest, with $d_{50}$ at the
# largest {glue:text}`toy_hyperplane_d50_summary` of that at the smallest; constant slabs' |gain| is
# {glue:text}`toy_hyperplane_flat_summary` (the control: **{glue:text}`toy_hyperplane_flat_badge`**):
# **{glue:text}`toy_hyperplane_badge`**. In $D=3$ ({numref}`fig-toy-3d`) the
# line's barrier is $10^xR^2$, $x$ = {glue:text}`toy_slabs_line_summary`, and via $c$
# {glue:text}`toy_slabs_via_summary` of it (sanity, as above): **{glue:text}`toy_slabs_badge`**. Claim C1, the least
# favourable of its primary checks after Holm's correction ({glue:text}`toy_c1_summary`): **{glue:text}`toy_c1_badge`**.

# %% tags=["hide-input"]
for k, v in study.numbers(runs, hypers, slab_runs).items():
    wedges_lib.record(k, v)
stats = study.statistics(runs, hypers, slab_runs, largest_d=cfg.plane_dims[-1])  # per toy
verdict = protocol.conclude(CHAPTER, study.judge(claims, stats, cfg.scale))
protocol.sanity_list(CHAPTER, verdict)

# %% [markdown]
# ## Takeaway
#
# A random start reaches the nearest wedge along its short directions, so the loss falls monotonically. With
# codimension $n \ll D$ wedges intersect: solutions connect through the intersection, the chord between them leaves
# both. Most directions in a wedge are long, so noise moves a solution freely, and outward, where the volume is.
# Wedges widen with the radius, so a random hyperplane further out meets one with fewer dimensions
# {cite:p}`li2018intrinsic,fort2018goldilocks`; constant slabs do not. The later chapters test this on networks.
#
# **Try it.** Move the radius slider below (precomputed: it works here), the live sliders in Jupyter, or rerun:
# `python -m wedges_lib run book/01_toy_model.py --scale cpu -p plane_kappa 0.0 --out runs/flat` removes the width
# growth, and the opening-wedge parts of the hyperplane check are not reproduced, as they should not be.

# %% tags=["hide-input", "remove-output"]
def explore(D, n, K, law, radius):
    """A toy of these sizes; runs from random points at ``radius``; the two sections of a pair."""
    n = min(n, (D - 1) // 2)  # n < D / 2: wedges intersect
    m = toy_experiments.from_config(cfg, D=D, n_short=n, K=K, law=law)
    fig, ax = plots.figure(2)
    pair = toy_experiments.solution_pair(cfg, m, radius)
    plots.toy_pair(ax[0], toy_experiments.sections(m, *pair, cfg.toy_grid))
    fig.suptitle(f"D = {D}, n = {n}, K = {K}, {law} widths, starts at radius {radius:g}")
    return fig


sliders = dict(  # ranges that redraw in < 1 s
    D=widgets.IntSlider(cfg.toy_D, min=3, max=1000), n=widgets.IntSlider(cfg.toy_n, min=1, max=50),
    K=widgets.IntSlider(cfg.toy_K, min=1, max=12),
    law=widgets.Dropdown(options=toy.LAWS, value=cfg.toy_law),
    radius=widgets.FloatSlider(cfg.toy_r0, min=1.0, max=10.0, step=0.1))
wedges_lib.glue_figure("fig_toy_explorer", plots.frames(explore, sliders, "radius"))

# %% [markdown]
# ```{glue:figure} fig_toy_explorer
# :name: fig-toy-explorer
#
# The explorer: the plane through two solutions a, b and their joint c (left) and the plane through a's start, a and
# b with the runs (right). The slider steps through precomputed radii in this page; in Jupyter the live sliders
# below redraw it for any D, n, K and law.
# ```

# %% tags=["hide-input"]
plots.live(explore, sliders)  # live in Jupyter: every slider redraws the figure
