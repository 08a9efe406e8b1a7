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
from wedges_lib import config, plots, toy, toy_experiments

torch.set_num_threads(1)  # small tensors: one thread is fastest, and kind to a busy machine
FLOOR = 1e-12  # zero loss drawn at this height on log axes

# %% tags=["parameters", "hide-input"]
scale = None
seed = None
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
cfg = config.resolve_cell(globals())

# %% tags=["remove-cell"]
LOW = toy_experiments.LOW  # "low loss": below LOW R², R the radius (the loss is a squared distance)
thr = wedges_lib.thresholds(
    "toy_thr", low=LOW, min_wedges=2, outward=1.2, barrier=10 * LOW, via_fraction=1e-3,
    long_min=0.1, long_vs_short=10, gain_min=0.15, d50_drop=1.5, flat_gain_max=0.1)

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
# Descents from random points at radius `toy_r0`, plain and with gradient noise; two that end on different wedges
# give solutions $a$, $b$, and $c$ is where both wedges meet, towards $a + b$. **Random hyperplanes:** training
# only $w$ in $\theta = \theta_0 + Pw$ ($P$ a random $D \times d$ frame, $\theta_0$ at radius $r$) succeeds when the
# loss falls below $10^{-4} r^2$; we map success over $(d, r)$ for opening wedges and constant-width slabs
# ($\kappa = 0$). Last, $D = 3$: three slabs, one per axis.

# %%
run = toy_experiments.descent_study(cfg)
hyper, slabs = toy_experiments.hyperplane_study(cfg), toy_experiments.slabs_study(cfg)

# %% [markdown]
# ## Figures

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Gradient descent from random starts. Top: the loss reaches exactly zero on a wedge (median and worst run; zero drawn at 1e-12), and plain descent stops at its radius while gradient noise carries the runs outward along the long directions (mean and spread over runs). Bottom: the straight line from each start to its solution descends monotonically; from a solution the loss stays low along most random directions for distances comparable to the radius, but not along the short direction.", "name": "fig-toy-descent"}}
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
x, esc = torch.linspace(0, 2, 201), run["escape"]  # distance / ‖a‖
plots.curves(ax[1, 1], x, {"random directions": (esc[1:, None] > x).float().mean(0),
                           "short direction": (esc[0] > x).float()}, xlabel="distance from a / ‖a‖",
             ylabel="fraction still at low loss", title="long and short directions")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Two solutions a and b on different wedges. Left: the loss on the plane through a, b and the joint c (log scale; dark is zero): the straight line a → b leaves the wedges, the path a → c → b through their intersection stays inside. Middle: the plane through a's start θ₀, a and b, with both runs projected on it: descent goes straight into a wedge. Right: the loss along both paths.", "name": "fig-toy-connect"}}
fig, ax = plots.figure(3)
plots.toy_pair(ax[0], run["sections"])
paths = {"a → b (straight)": run["line"].clamp_min(FLOOR), "a → c → b": run["via"].clamp_min(FLOOR)}
plots.curves(ax[0, 2], run["t_line"], paths, logy=True, xlabel="position on the path (by segment)",
             ylabel="loss", title="a barrier only on the line")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Training in random d-dimensional hyperplanes through a random point at radius r: the fraction that reaches zero loss, for wedges that open up (left) and for slabs of constant width (middle); right, the intrinsic dimension d₅₀ (the smallest d where half the runs succeed) against the radius.", "name": "fig-toy-hyperplanes"}}
fig, ax = plots.figure(3)
for k, (name, s) in enumerate(hyper["maps"].items()):
    plots.heatmap(ax[0, k], cfg.plane_radii, cfg.plane_dims, s, xlabel="radius r",
                  ylabel="hyperplane dim d", title=f"{name}: success rate", colorbar=k == 1)
plots.curves(ax[0, 2], torch.tensor(cfg.plane_radii), hyper["d50"], xlabel="radius r", ylabel="d₅₀",
             marker="o", title="intrinsic dim. falls only if κ > 0")
ax[0, 2].set_xscale("log")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The toy in D = 3, after the author's figure: the zero-loss points inside a ball are three slabs that thicken away from the origin, with a hole around it (the octant facing us is cut away). Two runs from random starts end on different slabs (a, b); the straight line between them leaves the slabs, the path through their intersection c stays inside.", "name": "fig-toy-3d"}}
chord, bent = (torch.stack([slabs[k] for k in ks]) for ks in ("ab", "acb"))
lines3 = {"runs": list(slabs["paths"].unbind(1)), "a → b (straight)": chord, "a → c → b": bent}
fig, ax3 = plots.cloud3d(slabs["low"], toy.wedge_of(slabs["model"], slabs["low"]), lines=lines3,
                         marks={k: slabs[k] for k in "abc"}, title="three wedges in D = 3")

# %% [markdown]
# ## Result vs paper
#
# Every run from a random start (median loss {glue:text}`toy_init_loss`) reached loss {glue:text}`toy_final_loss`, on
# {glue:text}`toy_wedges_reached` wedges ({numref}`fig-toy-descent`): **{glue:text}`toy_drawn_verdict`**. Plain descent
# stops on touching a wedge (radius +{glue:text}`toy_plain_growth` %); with noise the runs diffuse along the long
# directions to ×{glue:text}`toy_noisy_ratio` the radius, at loss {glue:text}`toy_settled_loss` once settled:
# **{glue:text}`toy_outward_verdict`**. Between two solutions ({numref}`fig-toy-connect`), with $R = \lVert a\rVert$
# the radius of solution $a$, the barrier is {glue:text}`toy_line_barrier` $R^2$ on the line and
# {glue:text}`toy_via_barrier` $R^2$ via $c$, as in mode connectivity
# {cite:p}`garipov2018loss`: **{glue:text}`toy_connect_verdict`**. Start → solution lines rise by at most
# {glue:text}`toy_max_rise`: **{glue:text}`toy_monotonic_verdict`**. The loss exceeds $10^{-4}R^2$ after a median
# {glue:text}`toy_long_median` $R$ along random directions (probed to $2R$), {glue:text}`toy_short_escape` $R$ along the
# short one: **{glue:text}`toy_long_verdict`**. In hyperplanes ({numref}`fig-toy-hyperplanes`) $d_{50}$ of opening
# wedges falls from {glue:text}`plane_d50_open_first` at the smallest radius to {glue:text}`plane_d50_open_last` at the
# largest (success +{glue:text}`plane_gain_open`), that of constant slabs goes from {glue:text}`plane_d50_flat_first`
# to {glue:text}`plane_d50_flat_last` ({glue:text}`plane_gain_flat`): **{glue:text}`toy_hyperplane_verdict`**. In
# $D = 3$ ({numref}`fig-toy-3d`) the barriers are {glue:text}`slab_line_barrier` and {glue:text}`slab_via_barrier`:
# **{glue:text}`toy_slabs_verdict`**.

# %% tags=["hide-input"]
num = toy_experiments.toy_chapter_numbers(run, hyper, slabs)
for k, v in num.items():
    wedges_lib.record(k, v)
checks = toy_experiments.toy_chapter_checks(num, slabs, run["outward"], thr)
for name, (ok, expected, measured) in checks.items():
    wedges_lib.check(name, ok, expected, measured)

# %% [markdown]
# ## Takeaway
#
# A random start reaches the nearest wedge along its short directions, so the loss falls monotonically. With
# codimension $n \ll D$ wedges intersect: solutions connect through the intersection, the chord between them leaves
# both. Most directions in a wedge are long, so noise moves a solution freely, and outward, where the volume is.
# Wedges widen with the radius, so a random hyperplane further out meets one with fewer dimensions
# {cite:p}`li2018intrinsic,fort2018goldilocks`; constant slabs do not. The later chapters test this on networks.
#
# **Try it.** In Jupyter, move the sliders below (the figure shows their initial state), or rerun the chapter:
# `python -m wedges_lib run book/01_toy_model.py --scale cpu -p plane_kappa 0.0 --out runs/flat` removes the
# width growth, and the hyperplane check fails, as it should.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The explorer's initial state: the plane through two solutions a, b and their joint c (left) and the plane through a's start, a and b with the runs (right). In Jupyter the sliders below redraw it.", "name": "fig-toy-explorer"}}
def explore(D, n, K, law, radius):
    """A toy of these sizes; runs from random points at ``radius``; the two sections of a pair."""
    n = min(n, (D - 1) // 2)  # n < D / 2: wedges intersect
    m = toy_experiments.from_config(cfg, D=D, n_short=n, K=K, law=law)
    fig, ax = plots.figure(2)
    pair = toy_experiments.solution_pair(cfg, m, radius)
    plots.toy_pair(ax[0], toy_experiments.sections(m, *pair, cfg.toy_grid))
    fig.suptitle(f"D = {D}, n = {n}, K = {K}, {law} widths, starts at radius {radius:g}")


sliders = dict(  # ranges that redraw in < 1 s
    D=widgets.IntSlider(cfg.toy_D, min=3, max=1000), n=widgets.IntSlider(cfg.toy_n, min=1, max=50),
    K=widgets.IntSlider(cfg.toy_K, min=1, max=12),
    law=widgets.Dropdown(options=toy.LAWS, value=cfg.toy_law),
    radius=widgets.FloatSlider(cfg.toy_r0, min=1.0, max=10.0, step=0.1))
explore(**{k: w.value for k, w in sliders.items()})  # the initial state, drawn for the page

# %% tags=["hide-input"]
plots.live(explore, sliders)
