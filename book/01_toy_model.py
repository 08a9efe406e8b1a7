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
from wedges_lib import config, connect, plots, toy

torch.set_num_threads(1)  # small tensors: one thread is fastest, and kind to a busy machine
LOW = 1e-4  # "low loss" means below LOW * R², R the radius (the loss is a squared distance)
FLOOR = 1e-12  # zero loss drawn at this height on log axes

# %% tags=["parameters"]
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
cfg = config.resolve(scale, **{k: v for k, v in dict(globals()).items() if k in config.SPECS and k != "scale"})
wedge_kw = dict(law=cfg.toy_law, r_min=cfg.toy_r_min, basis=cfg.toy_basis, seed=cfg.seed)
toy_kw = dict(kappa=cfg.toy_kappa, r_open=cfg.toy_r_min, **wedge_kw)  # the phenomena's toy
descent_kw = dict(lr=cfg.toy_lr, steps=cfg.toy_steps)

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
model = toy.make_wedges(cfg.toy_D, cfg.toy_n, cfg.toy_K, **toy_kw)
starts = toy.random_points(model, cfg.toy_runs, cfg.toy_r0, seed=cfg.seed)
plain = toy.descend(model, starts, lr=cfg.toy_lr, steps=cfg.toy_steps * 3 // 2)  # as long as noisy + settling
noisy = toy.descend(model, starts, noise=cfg.toy_noise, seed=cfg.seed, **descent_kw)
settled = toy.descend(model, noisy.theta, lr=cfg.toy_lr, steps=cfg.toy_steps * 3 // 2 - cfg.toy_steps)
L, R = plain.history["loss"], plain.history["radius"]
noisy_R = torch.cat([noisy.history["radius"], settled.history["radius"][1:]])
reached = len(set(toy.wedge_of(model, plain.theta).tolist()))
init_lines = torch.stack([toy.line_section(model, s, e, cfg.toy_grid)[1] for s, e in zip(starts, plain.theta)])
a, b, c, pair_paths = toy.two_solutions(model, starts, **descent_kw)
Ra = float(a.norm())
t_line, line = toy.line_section(model, a, b, 2 * cfg.toy_grid)  # and a -> c -> b, equally many points:
via = torch.cat([toy.line_section(model, p, q, cfg.toy_grid)[1] for p, q in ((a, c), (c, b))])
dirs = torch.cat([toy.short_direction(model, a)[None], toy.random_points(model, cfg.toy_dirs, 1.0, seed=cfg.seed + 1)])
escape = toy.escape_distance(model, a, dirs, t_max=2 * Ra, threshold=LOW * Ra ** 2, n=401) / Ra  # (1 + toy_dirs,)

# %%
plane_models = {name: toy.make_wedges(cfg.plane_D, cfg.plane_n, cfg.plane_K, **kw, **wedge_kw) for name, kw in {
    f"opening, κ = {cfg.plane_kappa:g}": dict(kappa=cfg.plane_kappa, r_open=cfg.toy_r_min),
    "constant, κ = 0": dict(width0=cfg.plane_width0, kappa=0.0)}.items()}
maps = {k: toy.hyperplane_success_map(m, cfg.plane_dims, cfg.plane_radii, seeds=cfg.plane_seeds,
                                      steps=cfg.plane_steps, seed=cfg.seed) for k, m in plane_models.items()}
d50 = {k: toy.intrinsic_dimension(s, cfg.plane_dims) for k, s in maps.items()}
gain = {k: float(s[:, -1].mean() - s[:, 0].mean()) for k, s in maps.items()}  # success at the last - first radius
slabs = toy.slabs3d()
low = toy.zero_loss_points(slabs, 2 * cfg.toy_r0)
low = low[(low <= 0).any(dim=1)]  # the runs start in the positive octant: cut it away to show them
octant = toy.random_points(slabs, cfg.toy_runs, cfg.toy_r0, seed=cfg.seed).abs()  # so that c lies between a and b
a3, b3, c3, paths3 = toy.two_solutions(slabs, octant, **descent_kw)
slab_line, slab_via = (connect.barrier_height(toy.path_loss(slabs, torch.stack(p), cfg.toy_grid)[1])
                       for p in ([a3, b3], [a3, c3, b3]))

# %% [markdown]
# ## Figures

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Gradient descent from random starts. Top: the loss reaches exactly zero on a wedge (median and worst run; zero drawn at 1e-12), and plain descent stops at its radius while gradient noise carries the runs outward along the long directions (mean and spread over runs). Bottom: the straight line from each start to its solution descends monotonically; from a solution the loss stays low along most random directions for distances comparable to the radius, but not along the short direction.", "name": "fig-toy-descent"}}
fig, ax = plots.figure(2, 2)
plots.curves(ax[0, 0], plain.history["step"], {"median": L.median(1).values.clamp_min(FLOOR), "worst":
             L.amax(1).clamp_min(FLOOR)}, xlabel="step", ylabel="loss", logy=True, title="drawn onto a wedge")
plots.curves(ax[0, 1], plain.history["step"], {"plain": R, "noise, then settling": noisy_R}, xlabel="step",
             ylabel="‖θ‖", title="noise moves it outward")
plots.curves(ax[1, 0], torch.linspace(0, 1, cfg.toy_grid), {"start → solution": (init_lines / init_lines[:, :1]).T},
             xlabel="t  (θ₀ → θ*)", ylabel="loss / loss at θ₀", title="monotonic from the start")
x = torch.linspace(0, 2, 201)  # distance / ‖a‖
plots.curves(ax[1, 1], x, {"random directions": (escape[1:, None] > x).float().mean(0), "short direction": (
             escape[0] > x).float()}, xlabel="distance from a / ‖a‖", ylabel="fraction still at low loss",
             title="long and short directions")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Two solutions a and b on different wedges. Left: the loss on the plane through a, b and the joint c (log scale; dark is zero): the straight line a → b leaves the wedges, the path a → c → b through their intersection stays inside. Middle: the plane through a's start θ₀, a and b, with both runs projected on it: descent goes straight into a wedge. Right: the loss along both paths.", "name": "fig-toy-connect"}}
def draw_sections(ax, m, a, b, c, paths):
    """The loss on the plane through solutions a, b and joint c, and on the plane through a's start, a and b."""
    s0, grid = paths[0, 0], cfg.toy_grid
    plots.section(ax[0], toy.plane_section(m, a, b, c, n=grid), title="two wedges meet at c")
    plots.section(ax[1], toy.plane_section(m, s0, a, b, n=grid), names=("θ₀", "a", "b"), chords=False, xlabel=
                  "along a − θ₀", ylabel="towards b", runs=toy.plane_coords(s0, a, b, paths), title="descent")


fig, ax = plots.figure(3)
draw_sections(ax[0], model, a, b, c, pair_paths)
plots.curves(ax[0, 2], t_line, {"a → b (straight)": line.clamp_min(FLOOR), "a → c → b": via.clamp_min(FLOOR)},
             logy=True, xlabel="position on the path (by segment)", ylabel="loss", title="a barrier only on the line")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Training in random d-dimensional hyperplanes through a random point at radius r: the fraction that reaches zero loss, for wedges that open up (left) and for slabs of constant width (middle); right, the intrinsic dimension d₅₀ (the smallest d where half the runs succeed) against the radius.", "name": "fig-toy-hyperplanes"}}
fig, ax = plots.figure(3)
for k, (name, s) in enumerate(maps.items()):
    plots.heatmap(ax[0, k], cfg.plane_radii, cfg.plane_dims, s, xlabel="radius r", ylabel="hyperplane dim d",
                  title=f"{name}: success rate", colorbar=k == 1)
plots.curves(ax[0, 2], torch.tensor(cfg.plane_radii), d50, xlabel="radius r", ylabel="d₅₀", marker="o",
             title="intrinsic dim. falls only if κ > 0")
ax[0, 2].set_xscale("log")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The toy in D = 3, after the author's figure: the zero-loss points inside a ball are three slabs that thicken away from the origin, with a hole around it (the octant facing us is cut away). Two runs from random starts end on different slabs (a, b); the straight line between them leaves the slabs, the path through their intersection c stays inside.", "name": "fig-toy-3d"}}
fig, ax3 = plots.cloud3d(low, toy.wedge_of(slabs, low), marks={"a": a3, "b": b3, "c": c3},
                         lines={"runs": list(paths3.unbind(1)), "a → b (straight)": torch.stack([a3, b3]),
                                "a → c → b": torch.stack([a3, c3, b3])}, title="three wedges in D = 3")

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
(o_name, f_name), R_end = maps, settled.history["radius"][-1]
num = {k: float(v) for k, v in dict(
    toy_init_loss=L[0].median(), toy_final_loss=L[-1].max(), toy_wedges_reached=reached,
    toy_plain_growth=100 * ((R[-1] / R[0]).max() - 1), toy_noisy_ratio=(R_end / R[0]).min(),
    toy_settled_loss=settled.history["loss"][-1].max(), toy_line_barrier=connect.barrier_height(line) / Ra ** 2,
    toy_via_barrier=connect.barrier_height(via) / Ra ** 2, toy_max_rise=connect.max_rise(init_lines).max(),
    toy_long_median=escape[1:].median().clamp_max(2), toy_short_escape=escape[0], plane_gain_open=gain[o_name],
    plane_gain_flat=gain[f_name], plane_d50_open_first=d50[o_name][0], plane_d50_open_last=d50[o_name][-1],
    plane_d50_flat_first=d50[f_name][0], plane_d50_flat_last=d50[f_name][-1], slab_line_barrier=slab_line,
    slab_via_barrier=slab_via).items()}
for k, v in num.items():
    wedges_lib.record(k, v)
check, go, gf, do, df = wedges_lib.check, gain[o_name], gain[f_name], d50[o_name], d50[f_name]
check("toy_drawn", (L[-1] < LOW * L[0]).all() and reached >= 2, f"every run < {LOW:g} x its initial loss, >= 2 wedges",
      f"initial loss >= {L[0].min():.2e}, final <= {num['toy_final_loss']:.1e}, {reached} wedges")
check("toy_outward", (R_end > 1.2 * R[0]).all() and (settled.history["loss"][-1] < LOW * L[0]).all(), "noise: every "
      "run > 20 % outward at ~0 loss", f"x{num['toy_noisy_ratio']:.2f} or more, loss {num['toy_settled_loss']:.1e}")
check("toy_connect", num["toy_line_barrier"] > 10 * LOW and num["toy_via_barrier"] < 1e-3 * num["toy_line_barrier"],
      f"barrier > {10 * LOW:g} R² on a → b, < 1e-3 of it via c",
      f"{num['toy_line_barrier']:.2e} and {num['toy_via_barrier']:.1e} R²")
check("toy_monotonic", num["toy_max_rise"] < LOW * L[0].min(), f"no rise on start → solution lines (< {LOW:g} L)",
      f"largest rise {num['toy_max_rise']:.1e}")
check("toy_long", num["toy_long_median"] > max(0.1, 10 * num["toy_short_escape"]), "random directions low > 0.1 R, "
      "> 10x the short one", f"median {num['toy_long_median']:.3f} R, short {num['toy_short_escape']:.3f} R")
check("toy_hyperplane", go >= 0.15 and do[0] >= 1.5 * do[-1] and abs(gf) <= 0.1,
      "opening wedges: success rising with the radius (gain >= 0.15, d50 falling >= 1.5x); constant: |gain| <= 0.1",
      f"{o_name}: gain {go:.2f}, d50 {do[0]:g} -> {do[-1]:g}; {f_name}: gain {gf:.2f}, d50 {df[0]:g} -> {df[-1]:g}")
wa, wb, hole = int(toy.wedge_of(slabs, a3)), int(toy.wedge_of(slabs, b3)), (low.norm(dim=-1) >= slabs.r_min).all()
check("toy_slabs", wa != wb and slab_line > 10 * LOW and slab_via == 0 and hole, "2 slabs, a barrier, 0 via c, a hole",
      f"slabs {wa}, {wb}; barriers {slab_line:.2e}, {slab_via:.1e}; hole empty: {bool(hole)}")

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
    """Build a toy, optimise runs from random points at ``radius`` and draw the two sections of two of them."""
    m = toy.make_wedges(D, min(n, (D - 1) // 2), K, **(toy_kw | dict(law=law)))  # n < D / 2: wedges intersect
    fig, ax = plots.figure(2)
    draw_sections(ax[0], m, *toy.two_solutions(m, toy.random_points(m, cfg.toy_runs, radius, seed=cfg.seed),
                                               **descent_kw))
    fig.suptitle(f"D = {D}, n = {m.n_short}, K = {K}, {law} widths, starts at radius {radius:g}", fontsize=10)


sliders = dict(D=widgets.IntSlider(cfg.toy_D, min=3, max=1000), n=widgets.IntSlider(cfg.toy_n, min=1, max=50),
               K=widgets.IntSlider(cfg.toy_K, min=1, max=12), law=widgets.Dropdown(options=toy.LAWS, value=cfg.toy_law),
               radius=widgets.FloatSlider(cfg.toy_r0, min=1.0, max=10.0, step=0.1))  # ranges that redraw in < 1 s
explore(**{k: w.value for k, w in sliders.items()})  # the initial state, drawn for the page

# %% tags=["hide-input"]
plots.live(explore, sliders)
