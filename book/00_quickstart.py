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
from wedges_lib import config, connect, data, params, plots, train

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
n_interp = None

# %% tags=["remove-cell"]
cfg = config.resolve_cell(globals())
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)

# %% tags=["remove-cell"]
thr = wedges_lib.thresholds(
    "quickstart", radius_growth=1.05, loss_fraction=0.5, monotonic_rise=0.02)

# %% [markdown]
# ## Experiment
#
# We train one MLP with SGD on MNIST-1D, recording the loss, accuracy and radius of $\theta$ along
# the way. Every setting comes from the scale preset (`cfg`), so `-p lr 0.2` (papermill, or
# `python -m wedges_lib run`) changes the run without editing the chapter.

# %%
result = train.train_config(cfg, ds, quiet=True)
net, theta0, theta = result.model, result.theta0, result.theta
h = result.history
print(f"D = {theta.numel()} parameters, trained {cfg.steps} steps at lr {cfg.lr}; "
      f"diverged: {bool(result.diverged)}")

# %% [markdown]
# The straight line from the initialisation $\theta_0$ to the solution $\theta^*$,
# $\theta(t) = (1-t)\,\theta_0 + t\,\theta^*$, evaluated for all $t$ in one vmapped pass:

# %%
ts = torch.linspace(0, 1, cfg.n_interp)
line = params.interpolate(theta0, theta, ts)
line_loss, line_acc = params.evaluate(net, line, ds.x_train, ds.y_train)
rise = connect.max_rise(line_loss)  # the largest rise above any earlier point of the line

# %% [markdown]
# ## Figure

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Training MNIST-1D: loss and accuracy (left), the radius of the parameter vector (middle), and the loss on the straight line from the initialisation to the solution (right).", "name": "fig-quickstart"}}
fig, ax = plots.figure(3)
plots.curves(ax[0, 0], h["step"], {"train loss": h["loss"], "test loss": h["test_loss"]},
             xlabel="step", ylabel="cross-entropy", title="the loss falls", logy=True)
plots.curves(ax[0, 1], h["step"], {"radius": h["radius"]}, xlabel="step", ylabel="‖θ‖",
             title="θ moves outward")
plots.curves(ax[0, 2], ts, {"train loss": line_loss}, xlabel="t  (θ₀ → θ*)", ylabel="cross-entropy",
             title="init → solution: monotonic", logy=True)

# %% [markdown]
# ## Result vs paper

# %% tags=["remove-cell"]
r0, r1 = h["radius"][0].item(), h["radius"][-1].item()
wedges_lib.record("quickstart_radius_ratio", r1 / r0)
wedges_lib.record("quickstart_train_loss", h["loss"][-1].item())
wedges_lib.record("quickstart_test_acc", h["test_acc"][-1].item())
wedges_lib.record("quickstart_line_max_rise", rise.item())
wedges_lib.record("quickstart_line_drop", (line_loss[0] - line_loss[-1]).item())
wedges_lib.record("lr", cfg.lr)

# %% [markdown]
# The run ended at train loss {glue:text}`quickstart_train_loss` and test accuracy
# {glue:text}`quickstart_test_acc`; the radius grew by a factor of {glue:text}`quickstart_radius_ratio`
# ({numref}`fig-quickstart`).
# Along the straight line from $\theta_0$ to $\theta^*$ the loss fell by {glue:text}`quickstart_line_drop`
# and its largest rise above any earlier point of the line was {glue:text}`quickstart_line_max_rise`.
# Outward motion: **{glue:text}`quickstart_outward_verdict`**; a monotonic line from the
# initialisation, as {cite:t}`goodfellow2015qualitatively` observed: **{glue:text}`quickstart_monotonic_verdict`**.

# %% tags=["hide-input"]
assert not result.diverged, "training diverged: the quickstart needs a converging run"
drop = (line_loss[0] - line_loss[-1]).item()
wedges_lib.check("quickstart_outward",
                 r1 > thr.radius_growth * r0 and h["loss"][-1] < thr.loss_fraction * h["loss"][0],
                 f"the radius to grow by > x{thr.radius_growth} while the train loss falls below "
                 f"{thr.loss_fraction} of its start",
                 f"radius {r0:.2f} -> {r1:.2f}, loss {h['loss'][0]:.3f} -> {h['loss'][-1]:.4f}")
wedges_lib.check("quickstart_monotonic", rise < thr.monotonic_rise * drop,
                 f"a monotonic init→solution line (largest rise < {thr.monotonic_rise:.0%} of "
                 f"the drop {drop:.3f})", f"largest rise {rise:.2e}")

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
# `python -m wedges_lib run book/00_quickstart.py --scale smoke -p lr 0.05 --out runs/demo`.
