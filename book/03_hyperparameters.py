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
# path the optimiser takes through the landscape *in similar ways*, changing the large-scale curvature of the
# regions it explores {cite:p}`fort2019large`. The paper's statement is that the three knobs act **alike**; which
# way each one moves the curvature is not in the text we have. Our notes on its wedge model read a larger learning
# rate, more L2 and more width as leading to wider, lower-curvature regions: that reading is **ours**, tested
# here as controls, never as the headline.
#
# **Motivation.** These three knobs look unrelated: one sets the step, one the architecture, one adds a
# penalty. That large learning rates find flatter regions is well documented — SGD's step bounds the
# sharpness it tolerates {cite:p}`jastrzebski2018three,jastrzebski2020break`, and full-batch gradient
# descent sits at the edge of stability, $\lambda_{\max} \approx 2/\text{lr}$ {cite:p}`cohen2021gradient`.
# The surprise is that width and L2 should belong to the same family. A fair test needs care on three counts:
# a run with a small learning rate is simply *less far along* after a fixed number of steps, so every run is
# compared at **matched training loss**; in the standard parameterisation the Hessian's scale grows with width
# whatever path is taken, so each width is compared **relative to its own curvature at initialisation**; and
# "large-scale" asks for curvature over finite distances, not only at a point.

# %% tags=["remove-cell"]
import ipywidgets as widgets
import torch
from IPython.display import display

import wedges_lib
from wedges_lib import config, data, plots, protocol
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
hp_rhos = None
hp_directions = None
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
# `record_every` steps the data loss on the whole training set and the radius $\lVert\theta\rVert$. Then, at
# matched loss, we measure $\lambda_{\max}$ (Lanczos {cite:p}`ghorbani2019investigation`, relative tolerance
# $10^{-2}$), the trace (Hutchinson with `hp_probes` Rademacher probes, with its standard error, as in
# PyHessian {cite:p}`yao2020pyhessian`) and the **large-scale curvature**: the mean rise of the loss along
# `hp_directions` random directions at distances $\rho\lVert\theta\rVert$, $\rho$ in `hp_rhos`, every distance
# and direction of a point evaluated in one vmapped pass. All of them are of the cross-entropy on a fixed batch of
# `hp_examples` training examples, and all are also measured at initialisation.
#
# :::{admonition} Our protocol
# The paper's exact set-up is not available to us. SGD with momentum at a **constant** learning rate
# (`schedule`), so no run is compared while its step is annealed; the curvature of the data loss alone (the L2
# term would add `l2` to every eigenvalue). **Two bands** of training loss, each fixed from the losses alone before
# any curvature is measured: the *early* band, shared by all sweeps (five losses log-spaced from the lowest loss
# every run of the learning-rate and width sweeps reaches up to its geometric mean with the initial loss), and each
# sweep's own *late* band (five losses from the lowest loss every run of that sweep reaches up to 1.25 times it:
# near the final loss of its slowest run). A strong L2 penalty holds the data loss above the early band, so the L2
# sweep is judged in its late band, which all its runs reach. The curvature is measured at the two records that
# bracket each loss, `record_every` steps apart, and interpolated in log loss; a quantity *at matched loss* is its
# mean over a band. The L2 strengths are chosen by the decay they apply over the run at the base learning rate,
# lr·λ·steps = {glue:text}`hp_l2_decays` (with momentum 0.9 the shrinkage per step is ten times lr·λ). A knob's
# **effect** is, seed by seed, the log ratio of a quantity at its largest and its smallest value that trained;
# $\lambda_{\max}$ and the trace enter **relative to the member's value at initialisation** (for learning rate and
# L2, at one width, this is the raw ratio; for width it puts each width on its own scale). **Alike** is, per seed,
# the weakest of the three knobs' effects in the direction they share — positive only when all three move the
# curvature the same way. The protocol changed after issue 29 (see the deviations), so it runs on **fresh seeds**.
# :::

# %%
raw = study.run(cfg, ds)  # the three sweeps; the bands fixed from the losses, then the curvature
stats = study.statistics(raw)  # per band: each knob's effect per seed, the alike statistic
display(study.summary(raw, stats))

# %% [markdown]
# The table lists every setting (mean [95 % interval] over trained seeds) with its fate, its L2 decay, and
# $\lambda_{\max}$ and the edge-of-stability ratio $\lambda_{\max}\cdot\text{lr}/2$ at each band ("—": the run does
# not reach that band). The lr sweep ends with a value chosen to diverge; such runs stay in the figures (dotted, a
# red cross where they diverged) and out of the comparisons.
#
# ## Figures

# %% tags=["hide-input", "remove-output"]
fig = study.figures("paths", raw, stats)
wedges_lib.glue_figure("fig_hp_paths", fig)

# %% [markdown]
# ```{glue:figure} fig_hp_paths
# :name: fig-hp-paths
#
# One column per knob. Top: the largest Hessian eigenvalue at each loss of the early band (the shaded stretch, shared
# by all sweeps), against the training loss (training runs right to left; seed means of the values interpolated
# between dense records; an L2 run that does not reach the band has no line). Bottom: the radius relative to the
# start, r/r₀, along training. Dotted: a run that diverged or got stuck; a red cross at the top marks the step where a
# run diverged. Raw λ_max: a title's direction holds when the whole 95 % interval over seeds is on one side.
# ```

# %% tags=["hide-input", "remove-output"]
def knob_figure(knob):
    """One knob's measures at both bands, from the results above (nothing is recomputed)."""
    return study.figures("knob", raw, stats, knob=knob)


pick = dict(knob=widgets.Dropdown(options=study.KNOBS, value="lr"))
wedges_lib.glue_figure("fig_hp_knobs", plots.frames(knob_figure, pick, "knob"))  # a frame per knob

# %% [markdown]
# ```{glue:figure} fig_hp_knobs
# :name: fig-hp-knobs
#
# Each knob's measures at matched loss against its value (the slider steps through the knobs; precomputed, it
# works in this page): λ_max and Tr(H) relative to their values at initialisation, the loss rise at distances
# ρ‖θ‖ along random directions, and the edge-of-stability ratio λ_max·lr/2 (dotted: 1, full-batch gradient
# descent's ceiling 2/lr). Solid: the early band; dashed: the sweep's late band. Bars: 95 % intervals over seeds.
# ```

# %% tags=["hide-input", "remove-output"]
fig = study.figures("overlay", raw, stats)
wedges_lib.glue_figure("fig_hp_overlay", fig)

# %% [markdown]
# ```{glue:figure} fig_hp_overlay
# :name: fig-hp-overlay
#
# The overlay (a control): every trained setting of the three sweeps at matched training loss in the early band, its
# largest eigenvalue (left) and Hutchinson trace (right) against r/r₀, log-log; bars are 95 % intervals over seeds,
# the numbers the knob values, black the setting shared by several sweeps. Dashed: one line fitted to all points. The
# knobs act through r/r₀ when each knob's points lie on the line the other two trace, within the seed noise (the
# overlay statistic in the title).
# ```

# %% [markdown]
# ## Result vs paper

# %% tags=["remove-input"]
judged = protocol.conclude(CHAPTER, study.judge(claims, raw, stats, cfg.scale))
for name, value in study.numbers(raw, stats, CHAPTER).items():
    wedges_lib.record(name, value)
for name in ("hp_probes", "record_every", "n_seeds", "hp_directions"):
    wedges_lib.record(f"hp_{name.removeprefix('hp_')}", cfg[name])
badges = {n.removeprefix("hp_"): judged[n].badge for n, c in claims.items() if c.kind == "control"}
display(study.effect_table(raw, stats, badges))

# %% [markdown]
# The table gives each knob's effect — the factor from its smallest to its largest value that trained — at both
# bands (early {glue:text}`hp_band`; late: lr {glue:text}`hp_late_lr`, width {glue:text}`hp_late_width`, L2
# {glue:text}`hp_late_l2`), over {glue:text}`hp_n_seeds` seeds; the verdicts are those of the late band.
#
# - **Alike, the paper's statement** (primary; the weakest knob's effect in the shared direction, above 0 holds):
#   λ_max relative to initialisation {glue:text}`hp_alike_lmax_summary` — **{glue:text}`hp_alike_lmax_badge`**;
#   Tr(H) relative to initialisation {glue:text}`hp_alike_trace_summary` — **{glue:text}`hp_alike_trace_badge`**.
#   In the early band (control): {glue:text}`hp_alike_early_summary` — **{glue:text}`hp_alike_early_badge`**. On
#   the large-scale loss rise at ρ = {glue:text}`hp_rho` (control): {glue:text}`hp_alike_rise_summary` —
#   **{glue:text}`hp_alike_rise_badge`**.
# - **Learning rate** ({glue:text}`hp_lr_late_pair`): λ_max {glue:text}`hp_lr_lmax_rel_late`, Tr(H)
#   {glue:text}`hp_lr_trace_rel_late`, loss rise at ρ = {glue:text}`hp_rho` {glue:text}`hp_lr_rise_late`
#   (early band: {glue:text}`hp_lr_lmax_rel_early`, {glue:text}`hp_lr_trace_rel_early`,
#   {glue:text}`hp_lr_rise_early`) — flatter, our reading: **{glue:text}`hp_lr_badge`**.
# - **Width** ({glue:text}`hp_width_late_pair`): relative to initialisation λ_max
#   {glue:text}`hp_width_lmax_rel_late`, Tr(H) {glue:text}`hp_width_trace_rel_late`; raw
#   {glue:text}`hp_width_raw_late`; loss rise {glue:text}`hp_width_rise_late` (early band, relative:
#   {glue:text}`hp_width_lmax_rel_early`, {glue:text}`hp_width_trace_rel_early`; raw {glue:text}`hp_width_lmax_early`,
#   {glue:text}`hp_width_trace_early`; rise {glue:text}`hp_width_rise_early`) — flatter, our reading:
#   **{glue:text}`hp_width_badge`**.
# - **L2** ({glue:text}`hp_l2_late_pair`): λ_max {glue:text}`hp_l2_lmax_rel_late`, Tr(H)
#   {glue:text}`hp_l2_trace_rel_late`, loss rise {glue:text}`hp_l2_rise_late` (early band, between
#   {glue:text}`hp_l2_early_pair`: {glue:text}`hp_l2_lmax_rel_early`, {glue:text}`hp_l2_trace_rel_early`,
#   {glue:text}`hp_l2_rise_early`) — flatter, our reading: **{glue:text}`hp_l2_badge`**. The L2 sweep's late band
#   is where its strongest penalty holds the data loss (the initial loss is {glue:text}`hp_start`), so L2 is read
#   there, on the data loss without the penalty. The earlier protocols' L2 result, from the deviations list:
#   {glue:text}`hp_l2_earlier`
# - **Edge of stability** {cite:p}`cohen2021gradient`: λ_max·lr/2 along the learning-rate sweep is
#   {glue:text}`hp_eos_early` in the early band and {glue:text}`hp_eos_late` in the late one; full-batch gradient
#   descent stalls at 1 (heavy-ball momentum β moves that ceiling to 1 + β); the largest seed mean is
#   {glue:text}`hp_eos_max`. Along the width sweep, at the base
#   learning rate, it is {glue:text}`hp_eos_width_early` (early) and {glue:text}`hp_eos_width_late` (late); along
#   the L2 sweep {glue:text}`hp_eos_l2_early` and {glue:text}`hp_eos_l2_late`. The largest setting's mean in all
#   three sweeps is {glue:text}`hp_eos_all_max`; a knob that acts through the ceiling would hold its runs at 1.
# - **The overlay** (control: the knobs act through r/r₀, early band, raw curvature; below 2 holds):
#   {glue:text}`hp_overlay_summary` — **{glue:text}`hp_overlay_badge`**. The slope of one line through all points,
#   log curvature against log r/r₀, is {glue:text}`hp_slope_lmax` for λ_max and {glue:text}`hp_slope_trace` for the
#   trace; each knob's own points sit off the line of the other two by (rms, as a factor) {glue:text}`hp_off_lmax`
#   in λ_max and {glue:text}`hp_off_trace` in the trace.
#
# **Claim C3: {glue:text}`hp_badge`** — from its primary checks only, the knobs acting alike on λ_max and Tr(H)
# relative to initialisation in each sweep's late band (Holm-corrected); the directions, the early band, the
# large-scale rise and the overlay are controls that tell how to read it. Matches interpolate across
# {glue:text}`hp_record_every` steps at most; a trace estimate with {glue:text}`hp_probes` probes has a standard
# error of {glue:text}`hp_trace_se` on average; each loss rise averages {glue:text}`hp_directions` directions; runs
# that did not train: {glue:text}`hp_failed_runs` ({glue:text}`hp_diverged` diverged members, out of the
# comparisons).

# %% [markdown]
# ## Takeaway
#
# What this network shows, in each sweep's late band: {glue:text}`hp_reading_late`. In the early band:
# {glue:text}`hp_reading_early` ("no clear change": the 95 % interval over seeds straddles no change).
#
# In the wedge model ({ref}`ch-toy-model`) low loss lives on wedges that widen with the radius, so a region of a
# given loss is wider — and its curvature lower — further out, and every knob that moves the optimiser onto wider
# ground should lower the curvature it meets at a given loss. The primary verdict says whether the three knobs
# move the curvature the same way here; the controls say which way each goes and whether the large-scale rise
# agrees with the local Hessian. The model's *route* — flatter because further out — would have every knob raise
# r/r₀ as it lowers the curvature: the readings above say for which knobs r/r₀ moves that way, and the overlay
# control says whether the knobs share one curve of curvature against r/r₀. Two readings are not the
# wedge model's own: the learning rate has a simpler reason to flatten the path (stability bounds $\lambda_{\max}$
# by about $2/\text{lr}$: the ratios above say how close the runs sit to that ceiling), and width is a question of
# **parameterisation** — in the standard one the raw Hessian's scale grows with width whatever the path, so only
# curvature relative to initialisation (or an NTK/μP parameterisation) compares widths on equal footing. L2
# differs in kind: it reshapes the objective itself, so it is compared on the data loss without the penalty.
#
# **Try it.** Sweep other values without opening the chapter, e.g. `python -m wedges_lib run
# book/03_hyperparameters.py --scale cpu -p lrs "(0.02, 0.05, 0.1)" --out runs/lr`, or a cosine schedule
# (`-p schedule cosine`); `-p lrs "(0.1, 0.1)"` removes the learning-rate effect, and with it the alike verdict:
# not reproduced.
