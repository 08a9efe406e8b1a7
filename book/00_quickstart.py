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
# (ch-quickstart)=
# # Quickstart: a network as a point in parameter space
#
# **Claim.** Training moves a network's parameter vector $\theta \in \mathbb{R}^D$ outward, to a
# larger radius $\lVert\theta\rVert$, and the straight line from the initialisation to the solution
# descends the loss monotonically {cite:p}`goodfellow2015qualitatively` — two of the observations the
# wedge model of {cite:t}`fort2019large` is built to explain.
#
# **Motivation.** A network with $D$ parameters is one point in $\mathbb{R}^D$, and training is a path
# of that point. Everything in this book looks at that path and at the loss around it: how far from
# the origin it goes, what the loss does along straight lines, which directions are flat. This
# chapter shows the tools on the smallest useful example, MNIST-1D {cite:p}`greydanus2020scaling`, and
# is the template every later chapter follows.

# %% tags=["remove-cell"]
import torch

import wedges_lib
from wedges_lib import config, connect, data, params, plots, protocol, train, verdicts

CHAPTER = "00_quickstart"  # its own presets and its protocol section

# %% tags=["parameters", "hide-input"]
scale = None
seed = None
n_seeds = None
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

# %% tags=["remove-cell"]
cfg = config.resolve_cell(globals(), CHAPTER)
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)

# %% tags=["remove-input"]
claims = protocol.declare(CHAPTER)
protocol.what_would_count(CHAPTER, claims)

# %% [markdown]
# ## Experiment
#
# We train `n_seeds` MLPs with SGD on MNIST-1D — initialisations and minibatch orders from seeds
# `seed`, `seed + 1`, ..., all in one vmapped pass — recording the loss, accuracy and radius of each
# $\theta$ along the way. Every setting comes from the scale preset (`cfg`), so `-p lr 0.2`
# (papermill, or `python -m wedges_lib run`) changes the run without editing the chapter.

# %%
seeds = [cfg.seed + i for i in range(cfg.n_seeds)]
result = train.train_config(cfg, ds, seeds=seeds, quiet=True)
net, theta0, theta = result.model, result.theta0, result.theta  # (n_seeds, D) each
h, ok = result.history, ~result.diverged  # history: (T, n_seeds) per measure
print(f"{len(seeds)} networks of D = {theta.shape[1]} parameters, {cfg.steps} steps at lr "
      f"{cfg.lr}; diverged: {int(result.diverged.sum())}")

# %% [markdown]
# The straight line from each initialisation $\theta_0$ to its solution $\theta^*$,
# $\theta(t) = (1-t)\,\theta_0 + t\,\theta^*$, evaluated for all $t$ in one vmapped pass per seed:

# %%
ts = torch.linspace(0, 1, cfg.n_interp)
lines = [params.interpolate(a, b, ts) for a, b in zip(theta0, theta)]  # per seed: (t, D)
line_loss = torch.stack([params.evaluate(net, x, ds.x_train, ds.y_train)[0] for x in lines])
rise = connect.max_rise(line_loss)  # per seed: the largest rise above any earlier point of the line
drop = line_loss[:, 0] - line_loss[:, -1]

# %% [markdown]
# ## Figure

# %% tags=["hide-input", "remove-output"]
fig, ax = plots.figure(3)
plots.curves(ax[0, 0], h["step"], {"train loss": h["loss"], "test loss": h["test_loss"]},
             xlabel="step", ylabel="cross-entropy", title="the loss falls", logy=True)
plots.curves(ax[0, 1], h["step"], {"radius": h["radius"]}, xlabel="step", ylabel="‖θ‖",
             title="θ moves outward")
plots.curves(ax[0, 2], ts, {"train loss": line_loss.T}, xlabel="t  (θ₀ → θ*)",
             ylabel="cross-entropy", title="init → solution: monotonic", logy=True)
wedges_lib.glue_figure("fig_quickstart", fig)

# %% [markdown]
# ```{glue:figure} fig_quickstart
# :name: fig-quickstart
#
# Training MNIST-1D (mean ± std over the seeds): loss (left), the radius of the parameter vector (middle), and the
# loss on the straight line from the initialisation to the solution (right).
# ```

# %% [markdown]
# ## Result vs paper

# %% tags=["remove-cell"]
r0, r1, L = h["radius"][0], h["radius"][-1], h["loss"]  # (seeds,) (seeds,) (T, seeds)
per_seed = {"quickstart_outward_radius": r1 / r0, "quickstart_outward_loss": L[-1] / L[0],
            "quickstart_monotonic": rise / drop.clamp_min(1e-12)}  # a drop <= 0: a huge ratio
per_seed = {k: torch.where(ok, v, float("nan")).tolist()  # a diverged seed: NaN, not measured
            for k, v in per_seed.items()}
numbers = {"quickstart_radius_ratio": r1 / r0, "quickstart_train_loss": L[-1],
           "quickstart_test_acc": h["test_acc"][-1], "quickstart_line_max_rise": rise,
           "quickstart_line_drop": drop}  # means over the seeds that did not diverge
for k, v in numbers.items():
    wedges_lib.record(k, v[ok].mean().item())
wedges_lib.record("quickstart_diverged", int(result.diverged.sum()))
wedges_lib.record("lr", cfg.lr)

# %% [markdown]
# Training diverged for {glue:text}`quickstart_diverged` of the seeds (a diverged seed is left out of
# every statistic); the others ended at train loss {glue:text}`quickstart_train_loss` and test accuracy
# {glue:text}`quickstart_test_acc` on average ({numref}`fig-quickstart`). The radius grew by a factor
# {glue:text}`quickstart_outward_radius_summary` and the train loss fell to
# {glue:text}`quickstart_outward_loss_summary` of its start (mean [95 % interval]): outward motion is
# **{glue:text}`quickstart_outward_badge`**. Along the straight line from $\theta_0$ to $\theta^*$ the
# loss fell by {glue:text}`quickstart_line_drop` on average, and its largest rise above any earlier
# point, as a fraction of that drop, was {glue:text}`quickstart_monotonic_summary`: a monotonic line
# from the initialisation, as {cite:t}`goodfellow2015qualitatively` observed, is
# **{glue:text}`quickstart_monotonic_badge`**.

# %% tags=["hide-input"]
judged = {k: verdicts.judge(c, per_seed[k], cfg.scale) for k, c in claims.items()}
judged = protocol.conclude(CHAPTER, judged)
protocol.sanity_list(CHAPTER, judged)

# %% [markdown]
# ## Takeaway
#
# Training pushes $\theta$ away from the origin while the loss falls smoothly along the straight
# line back to the start. In the wedge model of {cite:t}`fort2019large` ({ref}`ch-toy-model`) both
# follow from the geometry:
# low loss lives on wedges that widen with the radius, so an optimiser drawn onto them tends to
# move outward, and the straight line from a random start meets the wedge only once.
#
# **Try it.** Run this chapter at another scale or learning rate without opening it:
# `python -m wedges_lib run book/00_quickstart.py --scale smoke -p lr 0.05 --out runs/demo`;
# `-p n_seeds 5` trains five networks and narrows the intervals.
