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
# (ch-hyperparameters)=
# # Learning rate, width and L2 steer the path
#
# **Claim.** The learning rate, the width of the network and the strength of L2 regularisation change the
# path the optimiser takes through the landscape in similar ways: they change the radius it reaches and
# the large-scale curvature — the Hessian's top eigenvalue $\lambda_{\max}$ and its trace — of the regions
# it explores {cite:p}`fort2019large`.
#
# **Motivation.** These three knobs look unrelated: one sets the step, one the architecture, one adds a
# penalty. That large learning rates find flatter regions is well documented — SGD's step bounds the
# sharpness it tolerates {cite:p}`jastrzebski2018three,jastrzebski2020break`, and full-batch gradient
# descent sits at the edge of stability, $\lambda_{\max} \approx 2/\text{lr}$ {cite:p}`cohen2021gradient`.
# The surprise is that width and L2 should belong to the same family. A fair test needs care: a run with a
# small learning rate is simply *less far along* after a fixed number of steps, and curvature changes a
# lot during training, so we compare every run at **matched training loss**, not at a matched step.

# %% tags=["remove-cell"]
import torch
from IPython.display import display

import wedges_lib
from wedges_lib import config, data, plots, trajectories

torch.set_num_threads(1)  # small models: on a shared CPU extra threads mostly wait for each other

# %% tags=["parameters", "hide-input"]
scale = None
seed = None
n_seeds = None
dataset = None
n_train = None
device = None
model = None
optimizer = None
momentum = None
batch_size = None
lr = None
width = None
l2 = None
lrs = None
widths = None
l2s = None
hp_steps = None
hp_record_every = None
hp_examples = None
hp_probes = None
hp_schedule = None

# %% tags=["remove-cell"]
cfg = config.resolve_cell(globals())
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)

# %% tags=["remove-cell"]
# a trend: monotonic seed means whose ends differ by > n_se standard errors and > min_rel of the first
thr = wedges_lib.thresholds("hp", n_se=3.0, min_rel=0.1)

# %% [markdown]
# ## Experiment
#
# Three sweeps share one base setting (the `lr`, `width` and `l2` of the scale preset); each varies one
# knob. Every setting trains `n_seeds` networks at once (one vmapped stack), and every `hp_record_every`
# steps we measure along each path the training loss, the radius $\lVert\theta\rVert$, $\lambda_{\max}$
# (Lanczos {cite:p}`ghorbani2019investigation`, relative tolerance $10^{-2}$) and the trace (Hutchinson with
# `hp_probes` Rademacher probes, with its standard error, as in PyHessian {cite:p}`yao2020pyhessian`), both of
# the cross-entropy on a fixed batch of `hp_examples` training examples.
#
# :::{admonition} Our protocol
# The paper's exact set-up is not available to us. We use SGD with momentum at a **constant** learning rate
# (`hp_schedule`), so no run is compared while its step is being annealed, and measure the Hessian of the
# data loss alone (the L2 term would add `l2` to every eigenvalue). Runs are compared over a **loss band**:
# five losses, log-spaced from the lowest loss every run of the sweep reaches up to its geometric mean with
# the initial loss, averaging each quantity over the band. Across widths the networks have different
# sizes and initial radii $r_0$, so we compare the radius relative to the start, $r/r_0$.
# :::

# %%
sweeps = {knob: trajectories.sweep_knob(cfg, ds, knob) for knob in trajectories.KNOBS}
bands = {knob: trajectories.loss_band(runs) for knob, runs in sweeps.items()}
m = {knob: trajectories.matched(runs, bands[knob]) for knob, runs in sweeps.items()}
values = {knob: [r[knob] for r in runs] for knob, runs in sweeps.items()}
display(trajectories.summary(sweeps, bands))

# %% [markdown]
# The table lists every setting, including those that diverged (the trainer froze them) or got stuck at
# chance; the learning-rate sweep ends with a value chosen to diverge, to show how that is reported. Such
# runs stay in the figures (dotted, with a red cross where they diverged) and out of the comparisons.

# %% tags=["remove-cell"]
trend = trajectories.trends(m, n_se=thr.n_se, min_rel=thr.min_rel)
moves = {1: "rises", -1: "falls", 0: "shows no clear trend"}

# %% [markdown]
# ## Figure

# %% tags=["hide-input"] mystnb={"figure": {"caption": "One column per knob. Top: the largest Hessian eigenvalue along training, against the training loss (training runs right to left; seed means); the shaded stretch is the loss band where the runs are compared. Bottom: the radius relative to the start, r/r₀, along training. Dotted: a run that diverged or got stuck; a red cross at the top marks the step where a run diverged.", "name": "fig-hp-paths"}}
fig, ax = plots.figure(3, 2, width=3.6, height=2.9)
for j, knob in enumerate(trajectories.KNOBS):
    plots.draw_knob(ax[0, j], ax[1, j], trajectories.knob_paths(sweeps[knob], knob), bands[knob])
    plots.label(ax[0, j], "training loss", "λ_max (top Hessian eigenvalue)",
                f"λ_max {moves[trend[knob]['lmax']]} as {knob} grows")
    plots.label(ax[1, j], "step", "radius relative to the start, r/r₀",
                f"r/r₀ {moves[trend[knob]['radius_ratio']]} as {knob} grows")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The three sweeps side by side: every trained setting over its knob's loss band, the largest eigenvalue (left) and the Hutchinson trace (right) against the radius relative to the start, both divided by the values of the sweep's first setting, so each sweep starts at (1, 1). Bars are standard errors over seeds; the numbers are the knob values.", "name": "fig-hp-plane"}}
fig, ax = plots.figure(2, width=4.2, height=3.4)
short = {1: "rises", -1: "falls", 0: "no trend"}
for a, (q, name) in enumerate((("lmax", "λ_max"), ("trace", f"trace ({cfg.hp_probes} probes)"))):
    plots.draw_plane(ax[0, a], trajectories.relative_plane(m, values, q))
    found = ", ".join(f"{short[t[q]]} with {k}" for k, t in trend.items())
    plots.label(ax[0, a], "r / r₀, relative to the sweep's first value",
                f"{name}, relative to the first value", f"{name.split()[0]}: {found}")

# %% [markdown]
# ## Result vs paper

# %% tags=["remove-cell"]
rule = f"{thr.n_se:g} standard errors, {100 * thr.min_rel:g} %"
words = {1: "rises", -1: "falls", 0: f"stays within our threshold ({rule})"}
for name, value in trajectories.sweep_numbers(sweeps, bands, m).items():
    wedges_lib.record(f"hp_{name}", value)
for knob, quantities in trend.items():
    for q, direction in quantities.items():
        wedges_lib.record(f"hp_{knob}_{q}_direction", words[direction])
wedges_lib.record("hp_probes", cfg.hp_probes)
wedges_lib.record("hp_lr_lmax_ratio", float(1 / (1 + trajectories.change(m["lr"]["lmax"]))))
readings = {1: "sharper, as with a smaller learning rate",
            -1: "flatter, unlike a smaller learning rate", 0: "neither clearly sharper nor flatter"}
wedges_lib.record("hp_width_reading", readings[trend["width"]["lmax"]])
wedges_lib.record("hp_l2_reading", "on both the radius and the curvature"
                  if trend["l2"]["lmax"] == 1 else "on the radius, but not on the curvature")

# %% [markdown]
# **Learning rate.** Over the loss band {glue:text}`hp_lr_band` ({numref}`fig-hp-paths`, {numref}`fig-hp-plane`),
# $\lambda_{\max}$ changes by {glue:text}`hp_lr_lmax_change` from the smallest to the largest learning rate that trained (a factor
# {glue:text}`hp_lr_lmax_ratio` flatter), the trace by {glue:text}`hp_lr_trace_change`, and the relative
# radius $r/r_0$ by {glue:text}`hp_lr_radius_ratio_change`: larger steps carry $\theta$ further out, into
# flatter regions, as the paper and {cite:t}`jastrzebski2020break` describe. Check:
# **{glue:text}`hp_lr_verdict`**.
#
# **Width.** From the narrowest to the widest network, $r/r_0$ changes by {glue:text}`hp_width_radius_ratio_change`
# and $\lambda_{\max}$ {glue:text}`hp_width_lmax_direction` ({glue:text}`hp_width_lmax_change`; the trace
# {glue:text}`hp_width_trace_direction`, {glue:text}`hp_width_trace_change`). At a fixed learning rate a
# wider network (standard parameterisation) is expected to move relatively less, like a network trained with a
# smaller learning rate; at matched loss it is {glue:text}`hp_width_reading`. The radius effect is checked:
# **{glue:text}`hp_width_verdict`**; the curvature direction is reported, not asserted: it is smaller than
# the learning rate's, and at the smoke scale (1000 examples, two seeds) it does not hold.
#
# **L2.** A stronger penalty shrinks the radius reached ({glue:text}`hp_l2_radius_ratio_change`,
# **{glue:text}`hp_l2_verdict`**), but $\lambda_{\max}$ at matched loss {glue:text}`hp_l2_lmax_direction`
# ({glue:text}`hp_l2_lmax_change`; trace {glue:text}`hp_l2_trace_change`): L2 acts like a smaller
# learning rate {glue:text}`hp_l2_reading`. So the paper's "similar ways" holds for the radius of the
# path wherever the three checks above pass; for the curvature, read against the radius relative to the
# start, compare the three $\lambda_{\max}$ directions: the learning rate's is checked, those of width and
# L2 are reported.
#
# A trace estimate with {glue:text}`hp_probes` probes has a standard error of {glue:text}`hp_trace_se` on
# average; runs that did not train: {glue:text}`hp_failed_runs`.

# %% tags=["hide-input"]
desc = {k: {q: trajectories.describe(m[k][q], values[k]) for q in trajectories.QUANTITIES}
        for k in m}
lr_ok = trend["lr"] == {"lmax": -1, "trace": -1, "radius_ratio": 1}
band = f"over the matched-loss band (monotonic seed means; ends > {rule} apart)"
wedges_lib.check("hp_lr", lr_ok, f"larger lr -> lower λ_max and trace, larger r/r0 {band}",
                 f"λ_max {desc['lr']['lmax']}; trace {desc['lr']['trace']}; "
                 f"r/r0 {desc['lr']['radius_ratio']}")
wedges_lib.check("hp_width", trend["width"]["radius_ratio"] == -1, f"wider -> smaller r/r0 {band}",
                 f"r/r0 {desc['width']['radius_ratio']}; (λ_max {desc['width']['lmax']})")
wedges_lib.check("hp_l2", trend["l2"]["radius_ratio"] == -1, f"more L2 -> smaller r/r0 {band}",
                 f"r/r0 {desc['l2']['radius_ratio']}; (λ_max {desc['l2']['lmax']})")

# %% [markdown]
# ## Takeaway
#
# In the wedge model ({ref}`ch-toy-model`) low loss lives on wedges that widen with the radius, so a
# region of a given loss is wider — and its curvature lower — further out. So whatever carries the optimiser
# further out, relative to where it started, should reach flatter ground at the same loss. The learning-rate
# sweep tests this directly (**{glue:text}`hp_lr_verdict`**); a wider network at the same learning rate moves
# less (**{glue:text}`hp_width_verdict`**) and is {glue:text}`hp_width_reading`. L2 differs in kind: it holds
# $\theta$ closer to the origin by reshaping the objective itself, not only the path through the data loss, so
# the wedge picture of the data loss need not cover it (see **L2** above).
#
# **Try it.** Sweep other values without opening the chapter, e.g.
# `python -m wedges_lib run book/03_hyperparameters.py --scale cpu -p lrs "(0.02, 0.05, 0.1)" --out runs/lr`,
# or use a cosine schedule (`-p hp_schedule cosine`) to see how annealing sharpens every run at the end.
