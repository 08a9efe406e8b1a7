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
from wedges_lib import config, data, protocol
from wedges_lib.studies import ch03_hyperparameters as study

torch.set_num_threads(1)  # small models: on a shared CPU extra threads mostly wait for each other

CHAPTER = "03_hyperparameters"  # its own presets and its protocol section

# %% tags=["parameters", "hide-input"]
scale = None
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
steps = None
record_every = None
hp_examples = None
hp_probes = None
schedule = None
seed = None
n_seeds = None

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
# Three sweeps share one base setting (the `lr`, `width` and `l2` of the scale preset); each varies one
# knob. Every setting trains `n_seeds` networks at once (one vmapped stack), recording every
# `record_every` steps the loss on the whole training set and the radius $\lVert\theta\rVert$. Then, at
# matched loss, we measure $\lambda_{\max}$ (Lanczos {cite:p}`ghorbani2019investigation`, relative tolerance
# $10^{-2}$) and the trace (Hutchinson with `hp_probes` Rademacher probes, with its standard error, as in
# PyHessian {cite:p}`yao2020pyhessian`), both of the cross-entropy on a fixed batch of `hp_examples` training
# examples.
#
# :::{admonition} Our protocol
# The paper's exact set-up is not available to us. SGD with momentum at a **constant** learning rate
# (`schedule`), so no run is compared while its step is annealed; the Hessian of the data loss alone (the L2
# term would add `l2` to every eigenvalue). All runs of all three sweeps are compared over **one loss band**:
# five losses, log-spaced from the lowest loss every trained run reaches up to its geometric mean with the
# initial loss, fixed from the losses alone before any curvature is measured. The curvature is measured at the
# two records that bracket each loss of the band, `record_every` steps apart, and interpolated in log loss
# between them; a quantity *at matched loss* is its mean over the band. A knob's **effect** is, seed by seed, the
# log ratio of a quantity at its largest and its smallest value that trained. **Alike** is tested on every
# trained setting as a point (log r/r₀, log curvature), seed by seed: for each knob a straight line is fitted to
# the other two knobs' points, and the overlay statistic is the rms residual of each knob's own points from
# it, over the seed noise (a point's standard deviation over seeds, pooled over points) — about 1 to 1.5 when
# one curve holds and the points scatter only by seed noise ({mod}`wedges_lib.overlay`). The directions
# tested are our reading of the wedge model: what keeps $\theta$ closer to where it started, or to the origin —
# a smaller learning rate, a wider network in the standard parameterisation, a stronger penalty — finds narrower
# wedges, hence sharper ground. This protocol (one band, dense records, the overlay, L2 strengths small enough to
# train into the band) is new, so it runs on **fresh seeds** (`seed`), not those its predecessor was seen on.
# :::

# %%
raw = study.run(cfg, ds)  # the three sweeps, the loss band fixed before any curvature is measured
stats = study.statistics(raw)  # matched loss: each knob's effect, the overlay statistic, per seed
display(study.summary(raw["sweeps"], raw["band"]))

# %% [markdown]
# The table lists every setting at matched loss (mean [95 % interval] over trained seeds), with those that diverged
# (the trainer froze them) or got stuck; the lr sweep ends with a value chosen to diverge. Such runs stay in the
# figures (dotted, a red cross where they diverged) and out of the comparisons.
#
# ## Figures

# %% tags=["hide-input"] mystnb={"figure": {"caption": "One column per knob. Top: the largest Hessian eigenvalue at each loss of the band (the shaded stretch, shared by all runs of the three sweeps), against the training loss (training runs right to left; seed means of the values interpolated between dense records). Bottom: the radius relative to the start, r/r₀, along training. Dotted: a run that diverged or got stuck; a red cross at the top marks the step where a run diverged. A title's direction holds when the whole 95 % interval over seeds is on one side.", "name": "fig-hp-paths"}}
fig = study.figures("paths", raw, stats)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The overlay: every trained setting of the three sweeps at matched training loss, its largest eigenvalue (left) and Hutchinson trace (right) against r/r₀, log-log; bars are 95 % intervals over seeds, the numbers the knob values, black the setting shared by several sweeps. Dashed: one line fitted to all points. The knobs act alike when each knob's points lie on the line the other two trace, within the seed noise (the overlay statistic in the title).", "name": "fig-hp-overlay"}}
fig = study.figures("overlay", raw, stats)

# %% [markdown]
# ## Result vs paper

# %% tags=["remove-input"]
judged = protocol.conclude(CHAPTER, study.judge(claims, stats, cfg.scale))
for name, value in study.numbers(raw, stats).items():
    wedges_lib.record(name, value)
for name in ("hp_probes", "record_every", "n_seeds"):
    wedges_lib.record(f"hp_{name.removeprefix('hp_')}", cfg[name])
badges = {n.removeprefix("hp_"): judged[n].badge for n, c in claims.items() if c.kind == "control"}
display(study.effect_table(raw["sweeps"], stats["matched"], badges))

# %% [markdown]
# Each knob is judged on its curvature at matched loss (band {glue:text}`hp_band`; {numref}`fig-hp-paths`,
# {numref}`fig-hp-overlay`) from its smallest to its largest value that trained, on $\lambda_{\max}$ and on the
# trace, over {glue:text}`hp_n_seeds` seeds (table above; r/r₀ without a verdict): L2 too is judged on curvature.
#
# - **Learning rate**: {glue:text}`hp_lr_summary` — **{glue:text}`hp_lr_badge`**. The known reference is the
#   edge of stability, $\lambda_{\max}$ near $2/\text{lr}$ {cite:p}`cohen2021gradient,jastrzebski2020break`.
# - **Width**: {glue:text}`hp_width_summary` — **{glue:text}`hp_width_badge`**.
# - **L2**: {glue:text}`hp_l2_summary` — **{glue:text}`hp_l2_badge`**.
# - **Alike** (overlay statistic, below 2 holds): {glue:text}`hp_alike_summary` —
#   **{glue:text}`hp_alike_badge`**. The slope of one line through all points, log curvature against
#   log r/r₀, is {glue:text}`hp_slope_lmax` for λ_max and {glue:text}`hp_slope_trace` for the trace; each knob's
#   own points sit off the line of the other two by (rms, as a factor) {glue:text}`hp_off_lmax` in λ_max and
#   {glue:text}`hp_off_trace` in the trace.
#
# **Claim C3: {glue:text}`hp_badge`** — from its primary check, the knobs acting alike (the paper's statement; the
# per-knob directions are our reading of the wedge model, controls that tell how to read it). Matches interpolate
# across {glue:text}`hp_record_every` steps at most; a trace estimate with {glue:text}`hp_probes` probes has a
# standard error of {glue:text}`hp_trace_se` on average; runs that did not train: {glue:text}`hp_failed_runs` ({glue:text}`hp_diverged` diverged members, out of the comparisons).

# %% [markdown]
# ## Takeaway
#
# In the wedge model ({ref}`ch-toy-model`) low loss lives on wedges that widen with the radius, so a region of a
# given loss is wider — and its curvature lower — further out. Whatever carries the optimiser further out, relative
# to where it started, should then reach flatter ground at the same loss, and the three knobs would act alike
# *through* r/r₀: one curve of curvature against r/r₀, whichever knob moved the point along it. The verdicts above
# say for which knobs this network does, and whether their points share that curve. The learning rate has a
# second, simpler reason to flatten the path (stability bounds $\lambda_{\max}$ by about $2/\text{lr}$), and L2
# differs in kind: it reshapes the objective itself, not only the path through the data loss.
#
# **Try it.** Sweep other values without opening the chapter, e.g. `python -m wedges_lib run
# book/03_hyperparameters.py --scale cpu -p lrs "(0.02, 0.05, 0.1)" --out runs/lr`, or a cosine schedule
# (`-p schedule cosine`); `-p lrs "(0.1, 0.1)"` removes the learning-rate effect: not reproduced.
