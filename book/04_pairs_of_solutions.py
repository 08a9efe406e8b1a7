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
# (ch-pairs)=
# # Pairs of solutions: a barrier on the line, a tunnel around it
#
# **Claim.** Two networks trained from different random initialisations are separated by a high barrier on the
# straight line between them, yet a curve with one bend joins them at low loss
# {cite:p}`garipov2018loss,draxler2018essentially`; the line from an initialisation to its solution descends
# monotonically {cite:p}`goodfellow2015qualitatively`. {cite:t}`fort2019large` explain all three with the wedges;
# later work credits them with a simple connector: a bend point that starts at the midpoint and descends the loss
# only in the hyperplane orthogonal to the segment between the two solutions.
#
# **Motivation.** A barrier on the straight line suggests isolated valleys; a low-loss curve says they are one
# valley, curved around the segment, and easy to find: a bend point moved by plain gradient descent. The monotonic
# line from the start is as telling: the landscape is not convex, yet from where training starts it looks so.

# %% tags=["remove-cell"]
import torch

from wedges_lib import config, connect, data, plots, solutions, toy_experiments, verdicts
from wedges_lib.verdicts import Claim

torch.set_num_threads(1)  # small matrices: on a shared CPU extra threads mostly wait for each other

# %% tags=["parameters", "hide-input"]
scale = None
seed = None
solution_seed = None
n_pairs = None
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
n_interp = None
curve_steps = None
curve_lr = None
connector_lr = None
pair_grid = None
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
toy_grid = None

# %% tags=["remove-cell"]
cfg = config.resolve_cell(globals())
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)
x, y = ds.x_train, ds.y_train

# %% tags=["remove-cell"]
ratio = "curve's barrier ÷ line's"
claims = verdicts.declare(
    Claim("pairs_line_height", "a barrier on the line between two solutions", "barrier", ">", 0.05),
    Claim("pairs_line_ratio", "it exceeds the solutions' own loss", "barrier ÷ ends' loss", ">", 1),
    Claim("pairs_curves_bezier", "a Bezier curve trained on its path is low", ratio, "<", 0.1),
    Claim("pairs_curves_chain", "a trained polygonal chain A → B → C is low", ratio, "<", 0.1),
    Claim("pairs_curves_fjpath", "that chain, B kept ⟂ to C − A, is low", ratio, "<", 0.1),
    Claim("pairs_connector", "the F&J connector removes most of the barrier", ratio, "<", 0.25),
    Claim("pairs_monotonic", "init → solution lines descend", "largest rise ÷ range", "<", 0.02))

# %% tags=["remove-input"]
verdicts.what_would_count(claims)

# %% [markdown]
# :::{admonition} Our protocol
# :class: note
# Each statistic is measured once per pair ("per seed" in the table; the lines from initialisation once per
# network) on `n_pairs` independent pairs, pair $i$ holding networks $2i$, $2i + 1$ trained from the fresh seeds
# `solution_seed` + … (an earlier version showed one pair, seeds 0 and 1). A claim of several parts is
# **reproduced** when every part is, **not reproduced** when none is even partly, else **partly**. The F&J connector
# descends the loss at its bend alone, never seeing the two segments, so it has the looser bound declared for it
# before any run (0.25, not 0.1): it claims that such a bend removes most of the barrier, not that it matches
# curves trained on their path. A line's monotonicity is its largest rise over its range (max − min).
# :::
#
# ## Experiment
#
# **Pairs.** We train the $2 \times$ `n_pairs` networks in one vmapped pass and evaluate each pair's training loss
# on the line $(1-t)\,\theta_A + t\,\theta_C$ and on the line from each one's initialisation to it. A path's
# *barrier* is its highest loss minus the mean of its two ends.
#
# **Curves.** Each curve fits one point $B$ (`wedges_lib.connect`), starting from the midpoint. The Bezier curve
# $(1-t)^2\theta_A + 2t(1-t)B + t^2\theta_C$ and the chain $A \to B \to C$ are trained as {cite:t}`garipov2018loss`
# do, descending the mean minibatch loss at a few random $t$ per step. The connector of {cite:t}`fort2019large`
# descends the loss *at $B$* alone, its gradient's component along $\theta_C - \theta_A$ projected out; a variant
# keeps the constraint but descends the whole chain. Each fit takes `curve_steps` SGD steps at `curve_lr`
# (`connector_lr` for the connector). For the first pair we evaluate the plane through A, C and the Bezier bend B.

# %% tags=["hide-output"]
net, sol = solutions.independent(cfg, ds, 2 * cfg.n_pairs)  # the architecture, the trained vectors
th, th0, bad = sol["theta"], sol["theta0"], sol["diverged"]
studies = [None if bad[i:i + 2].any() else connect.pair_study(
    cfg, net, ds, th[i], th[i + 1], th0[i], th0[i + 1], index=i // 2) for i in range(0, len(th), 2)]
plane = connect.tunnel(net, studies, th, cfg.pair_grid, x, y)  # A, C and the Bezier bend B

# %% [markdown]
# **The toy's account.** In the wedge model ({ref}`ch-toy-model`) two descents end on different wedges at $a$ and
# $c$; the line between them leaves both wedges, the chain $a \to b \to c$ through their intersection $b$ does not.

# %%
toy_pair = toy_experiments.pair_study(cfg)  # its 'paths': name -> (t, loss)

# %% [markdown]
# ## Figures

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Independently trained pairs of networks A and C (mean over the measured pairs, ±1 std shaded). Left: the training loss along the straight line between them and along the four trained curves (log scale). Middle: for the first measured pair, the loss on the plane through A, C and the Bezier curve's bend B (log10 scale), with the straight line (dashed) and the Bezier curve. Right: the loss along the straight line from each network's initialisation to its solution (mean over the networks).", "name": "fig-pairs"}}
fig, ax = plots.figure(3, width=3.8)
profiles = connect.stacked_profiles(studies, cfg.n_interp)
from_init = profiles.pop("init → solution")
t = torch.linspace(0, 1, cfg.n_interp)
plots.curves(ax[0, 0], t, profiles, xlabel="t  (A → C)", ylabel="train cross-entropy",
             title="straight line and trained curves", logy=True)
ax[0, 0].set_ylim(bottom=float(min(v.nan_to_num(1).min() for v in profiles.values())) / 100)
ax[0, 0].legend(loc="lower left", fontsize=7)
P = plane["points"]
plots.contour(ax[0, 1], plane["xs"], plane["ys"], plane["loss"], points=dict(zip("ACB", P)),
              xlabel="along C − A  (distance in θ)", ylabel="towards B  (distance in θ)",
              title="the plane through A, C, B", cbar_label="train loss")
ax[0, 1].plot(P[:2, 0], P[:2, 1], "--", color="black", lw=1.8, label="straight line")
plots.paths(ax[0, 1], {"Bezier curve": plane["curve"]})
plots.curves(ax[0, 2], t, {"init → solution": from_init}, xlabel="t  (θ₀ → θ*)", logy=True,
             ylabel="train cross-entropy", title="init → solution")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The same story in the toy wedge model. Left: the loss on the plane through two solutions a, c on different wedges and the intersection point b (log scale, dark is zero). Right: the loss along the straight line a → c and along the chain through b (zero drawn at 1e-12).", "name": "fig-pairs-toy"}}
fig, ax = plots.figure(2, width=3.8)
plots.section(ax[0, 0], toy_pair["section"], names="acb", xlabel="along c − a", ylabel="towards b",
              title="toy: the wedges meet at b")
paths = {k: v[1].clamp_min(1e-12) for k, v in toy_pair["paths"].items()}  # zero drawn at 1e-12
plots.curves(ax[0, 1], toy_pair["paths"]["straight a → c"][0], paths, logy=True, ylabel="toy loss",
             xlabel="position on path (b at ½)", title="zero loss through b")

# %% tags=["remove-cell"]
v = connect.record_pairs(cfg, claims, studies, toy_pair["paths"], bad)

# %% [markdown]
# ## Result vs paper
#
# The measured pairs ({glue:text}`pairs_diverged` networks diverged) end at a mean training loss of
# {glue:text}`pairs_ends_loss`; on the straight line the loss rises by {glue:text}`pairs_line_barrier` and the
# accuracy drops by {glue:text}`pairs_line_acc_drop` on average ({numref}`fig-pairs`); along the curves, after
# {glue:text}`curve_steps` steps, by {glue:text}`pairs_bezier_acc_drop` (Bezier), {glue:text}`pairs_chain_acc_drop`
# (chain), {glue:text}`pairs_fj_acc_drop` (F&J) and {glue:text}`pairs_fjpath_acc_drop` (F&J, path). The lines from
# the initialisations fall by at least {glue:text}`pairs_init_drop` and rise by at most
# {glue:text}`pairs_init_rise`. In the toy the line's barrier is {glue:text}`pairs_toy_line`, the chain's through
# the intersection {glue:text}`pairs_toy_via` ({numref}`fig-pairs-toy`). Verdicts: mean [95 % interval] (scale, n).
#
# - A barrier on the straight line, **{glue:text}`pairs_line_badge`**: height {glue:text}`pairs_line_height_summary`
#   ({glue:text}`pairs_line_height_badge`), over the ends' loss {glue:text}`pairs_line_ratio_summary`
#   ({glue:text}`pairs_line_ratio_badge`).
# - Curves trained on their path below {glue:text}`pairs_curves_bezier_threshold` of the line's barrier
#   {cite:p}`garipov2018loss,draxler2018essentially`, **{glue:text}`pairs_curves_badge`**: Bezier
#   {glue:text}`pairs_curves_bezier_summary` ({glue:text}`pairs_curves_bezier_badge`), chain
#   {glue:text}`pairs_curves_chain_summary` ({glue:text}`pairs_curves_chain_badge`), constrained chain
#   {glue:text}`pairs_curves_fjpath_summary` ({glue:text}`pairs_curves_fjpath_badge`).
# - The connector of {cite:t}`fort2019large` below {glue:text}`pairs_connector_threshold` of it,
#   **{glue:text}`pairs_connector_badge`**: {glue:text}`pairs_connector_summary`. {glue:text}`pairs_connector_sentence`
# - Monotonic lines from the initialisation {cite:p}`goodfellow2015qualitatively`,
#   **{glue:text}`pairs_monotonic_badge`**: {glue:text}`pairs_monotonic_summary`.
# - Not yet controlled: permutation symmetry; part of a line's barrier may vanish once the hidden units of the two
#   networks are aligned (Ainsworth et al. 2023).

# %% [markdown]
# ## Takeaway
#
# In the wedge model ({ref}`ch-toy-model`) low loss lives on intersecting wedges, thin in a few directions and long
# in all others. Two solutions on different wedges see a barrier on the segment between them: its middle is half-way
# out of each wedge, and nearer the origin, where wedges are narrower. A bend to where the wedges meet removes it,
# and since wedges are long that region is large and easy to reach. The networks ask what the toy hides: whether a
# bend point of low loss makes the segments to it low (the connector's verdict). From a random start the straight
# line to a solution only nears its wedge, so the loss falls all the way.
#
# **Try it.** `-p curve_steps 1` leaves every curve near the line and the curves' verdict falls to not reproduced:
# `python -m wedges_lib run book/04_pairs_of_solutions.py --scale smoke -p curve_steps 1 --out runs/x`.
