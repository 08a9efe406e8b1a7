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
# (ch-ensembles)=
# # Ensembles: one wedge or many
#
# **Claim.** Ensemble members collected along one training trajectory — snapshot ensembles
# {cite:p}`huang2017snapshot`, fast geometric ensembling (FGE) {cite:p}`garipov2018loss` and the iterates of
# stochastic weight averaging {cite:p}`izmailov2018averaging` — stay in one region of the loss landscape and
# disagree less in function space than the members of a deep ensemble {cite:p}`lakshminarayanan2017simple`,
# which start from independent initialisations and land on different wedges {cite:p}`fort2019large`. The
# straight line between two trajectory members stays low; the line between two independent runs crosses a
# barrier {cite:p}`fort2019deep`, and adding independent members gains more.
#
# **Motivation.** An ensemble gains only where its members err differently. If the wedge model is right, the
# way the members are collected decides that diversity: a trajectory explores one wedge, independent runs
# sample several. We test the ordering at equal compute on MNIST-1D {cite:p}`greydanus2020scaling`.

# %% tags=["remove-cell"]
import wedges_lib
from wedges_lib import config, data, protocol
from wedges_lib.studies import ch06_ensembles as study

CHAPTER = "06_ensembles"  # its own presets and its protocol section

# %% tags=["parameters", "hide-input"]
scale = None
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
n_interp = None
n_members = None
steps = None
n_seeds = None
seed = None
lr_fractions = None
cycle_steps = None
ensemble_grid = None
width = None
val_fraction = None
fge_cycle_epochs = None
fge_low = None

# %% tags=["remove-cell"]
cfg = config.resolve_cell(globals(), CHAPTER)  # steps: per member; n_seeds: repetitions
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)

# %% tags=["remove-cell"]
claims = protocol.declare(CHAPTER)  # the statistics (study.statistics): one value per repetition

# %% tags=["remove-input"]
protocol.what_would_count(CHAPTER, claims)

# %% [markdown]
# ## Experiment
#
# :::{admonition} Our protocol
# Ours: the paper states the ordering, not the set-up. A fraction `val_fraction` of the training examples is held
# out for tuning; every method trains on the rest and spends $K S$ gradient steps ($K$ = `n_members`,
# $S$ = `steps`): independent runs (deep); $K$ cosine cycles of $S$ steps from one initialisation (snapshot); from
# one $S$-step run (deep member 0, the **common reference** every weight-space distance is measured from), then
#
# * **snapshot-style FGE**: $K$ cosine cycles of `cycle_steps` steps, each restarting at its peak — with cycles of
#   $(K-1)S/K$ steps this is a snapshot ensemble from a trained start, named for what it is;
# * **Garipov FGE** {cite:p}`garipov2018loss`: one run whose rate goes linearly from $\alpha_1$ down to
#   $\alpha_2$ = `fge_low` $\alpha_1$ and back every `fge_cycle_epochs` epochs' worth of steps (the defaults of
#   their code), a member at each cycle's low point, as many cycles as the same budget buys: $M > K$ members;
# * **SWA**: iterates of a constant-rate run every `cycle_steps` steps {cite:p}`izmailov2018averaging`.
#
# The three rates (FGE's peaks, SWA's constant) are swept over `lr_fractions` × `lr`; each is **tuned on the
# held-out validation NLL** of its full ensemble — the test set picks nothing — and every verdict is shown at every
# swept rate, the headline at the tuned one. `n_seeds` repetitions (one vmapped stack per method) from the base
# seed `seed`, fresh with this protocol (its deviations below).
# :::

# %%
raw = study.run(cfg, ds)  # every method, the swept ones at every rate; tuned on validation

# %% [markdown]
# **The rate sweep.** Mean [95 % interval] over repetitions for every swept rate, ★ the rate the validation NLL
# tuned (FGE, snapshot-style: {glue:text}`ens_fge_tuned`; Garipov FGE: {glue:text}`ens_garipov_tuned`; SWA:
# {glue:text}`ens_swa_tuned`); disagreement is the mean pairwise fraction of test inputs on which two members
# predict different classes, "÷ deep's" its ratio to the deep ensemble's in the same repetition.

# %% tags=["remove-input"]
study.sweep_table(raw, cfg.lr)

# %% [markdown]
# ## Figures
#
# For the first repetition, every method at its tuned rate: what members buy against the compute spent; the
# diversity–accuracy plane of {cite:t}`fort2019deep`, every member and every recorded point of every run against
# the common reference; the training loss on the plane through members 0, 1 and 2 on an `ensemble_grid`² grid in
# true distances from member 0 (`wedges_lib.surfaces.plane_through`).

# %% tags=["hide-input", "remove-output"]
fig = study.figures("gains", raw)
wedges_lib.glue_figure("fig_ensembles_gain", fig)

# %% [markdown]
# ```{glue:figure} fig_ensembles_gain
# :name: fig-ensembles-gain
#
# Test accuracy (left) and NLL (right) of the ensemble of the first m members against the gradient steps spent when
# member m was collected, mean ± std over repetitions, each swept method at its validation-tuned rate (Garipov FGE
# collects many cheap members); the dotted line is the SWA weight average of the first m SWA iterates.
# ```

# %% tags=["hide-input", "remove-output"]
fig = study.figures("fhl", raw)
wedges_lib.glue_figure("fig_ensembles_fhl", fig)

# %% [markdown]
# ```{glue:figure} fig_ensembles_fhl
# :name: fig-ensembles-fhl
#
# The diversity–accuracy plane of Fort, Hu & Lakshminarayanan (2019), first repetition: test disagreement with the
# common reference (the star, deep member 0) against test accuracy, for every member (dots) and along every run
# (lines: deep's K runs from their initialisations; the snapshot run; both FGEs and SWA at each swept rate, as a
# fraction of lr). Dotted: the bounds any model obeys given the reference's accuracy.
# ```

# %% tags=["hide-input", "remove-output"]
fig = study.figures("planes", raw)
wedges_lib.glue_figure("fig_ensembles_plane", fig)

# %% [markdown]
# ```{glue:figure} fig_ensembles_plane
# :name: fig-ensembles-plane
#
# Training loss (log10, one colour scale for all panels) on the plane through members 0, 1 and 2 of each method
# (first repetition, swept methods at their tuned rate; none where its run diverged); the axes are weight-space
# distances from member 0, each panel at its own extent.
# ```

# %% [markdown]
# **Every ensemble, one at a time.** The slider steps through every ensemble the chapter built — deep, snapshot,
# and each swept method at each rate (★ tuned) — showing its members in the diversity–accuracy plane beside deep's
# (grey squares) and its accuracy against compute beside deep's. Drawn from the results above; it needs no kernel.

# %% tags=["hide-input"]
study.figures("explorer", raw, cfg.lr)

# %% [markdown]
# ## Result vs paper
#
# Means over repetitions, swept methods at their tuned rates; members: how many each method collected for its
# gradient steps; distance: between members in weight space; centroid: of members 0, 1 and 2; "ref.": the common
# reference (deep member 0).

# %% tags=["remove-input"]
wedges_lib.record("ens_members", cfg.n_members), wedges_lib.record("ens_steps", cfg.steps)
for table in study.results(raw["stats"], raw["chosen"]):  # records ens_{method}_{number}
    display(table)  # noqa: F821 (IPython's display)

# %% tags=["hide-input"]
verdict = protocol.conclude(CHAPTER, study.judge(claims, study.statistics(raw), cfg.scale,
                                                 protocol.section(CHAPTER)["groups"]))

# %% [markdown]
# Each cell: the verdict, then the statistic's mean [95 % interval] over repetitions, swept methods at their
# validation-tuned rate; a row's overall verdict is the least favourable of its primary parts after Holm's
# correction. The FGEs' and SWA's slice, barrier and weight parts were declared sanity checks (their members
# continue the common reference) and count in no overall verdict; the per-rate tables below show where a larger
# rate takes them across their bars. **Claim C6:
# {glue:text}`ens_badge`** — {glue:text}`ens_summary`.
#
# :::{list-table}
# :header-rows: 1
#
# * - claim (per repetition)
#   - deep ensemble
#   - snapshot
#   - FGE, snapshot-style
#   - Garipov FGE
#   - SWA iterates
#   - overall
# * - trajectory members disagree less: disagreement(method) / disagreement(deep) <
#     {glue:text}`ens_diversity_fge_threshold`
#   - —
#   - {glue:text}`ens_diversity_snapshot_badge` {glue:text}`ens_diversity_snapshot_summary`
#   - {glue:text}`ens_diversity_fge_badge` {glue:text}`ens_diversity_fge_summary`
#   - {glue:text}`ens_diversity_garipov_badge` {glue:text}`ens_diversity_garipov_summary`
#   - {glue:text}`ens_diversity_swa_badge` {glue:text}`ens_diversity_swa_summary`
#   - **{glue:text}`ens_diversity_badge`**
# * - averaging three members: centroid − worst member loss (nats) > {glue:text}`ens_slice_deep_threshold` for deep,
#     and < {glue:text}`ens_slice_fge_threshold` along a trajectory
#   - {glue:text}`ens_slice_deep_badge` {glue:text}`ens_slice_deep_summary`
#   - {glue:text}`ens_slice_snapshot_badge` {glue:text}`ens_slice_snapshot_summary`
#   - {glue:text}`ens_slice_fge_badge` {glue:text}`ens_slice_fge_summary`
#   - {glue:text}`ens_slice_garipov_badge` {glue:text}`ens_slice_garipov_summary`
#   - {glue:text}`ens_slice_swa_badge` {glue:text}`ens_slice_swa_summary`
#   - **{glue:text}`ens_slice_badge`**
# * - line barrier: deep's > {glue:text}`ens_barrier_deep_threshold` nats; barrier(method) / barrier(deep) <
#     {glue:text}`ens_barrier_fge_threshold`
#   - {glue:text}`ens_barrier_deep_badge` {glue:text}`ens_barrier_deep_summary`
#   - {glue:text}`ens_barrier_snapshot_badge` {glue:text}`ens_barrier_snapshot_summary`
#   - {glue:text}`ens_barrier_fge_badge` {glue:text}`ens_barrier_fge_summary`
#   - {glue:text}`ens_barrier_garipov_badge` {glue:text}`ens_barrier_garipov_summary`
#   - {glue:text}`ens_barrier_swa_badge` {glue:text}`ens_barrier_swa_summary`
#   - **{glue:text}`ens_barrier_badge`**
# * - weight space: distance from the common reference, method / deep < {glue:text}`ens_weight_fge_threshold`
#   - —
#   - {glue:text}`ens_weight_snapshot_badge` {glue:text}`ens_weight_snapshot_summary`
#   - {glue:text}`ens_weight_fge_badge` {glue:text}`ens_weight_fge_summary`
#   - {glue:text}`ens_weight_garipov_badge` {glue:text}`ens_weight_garipov_summary`
#   - {glue:text}`ens_weight_swa_badge` {glue:text}`ens_weight_swa_summary`
#   - **{glue:text}`ens_weight_badge`**
# * - gain ordering: deep's accuracy gain − the method's > {glue:text}`ens_gain_acc_fge_threshold`
#   - —
#   - {glue:text}`ens_gain_acc_snapshot_badge` {glue:text}`ens_gain_acc_snapshot_summary`
#   - {glue:text}`ens_gain_acc_fge_badge` {glue:text}`ens_gain_acc_fge_summary`
#   - {glue:text}`ens_gain_acc_garipov_badge` {glue:text}`ens_gain_acc_garipov_summary`
#   - {glue:text}`ens_gain_acc_swa_badge` {glue:text}`ens_gain_acc_swa_summary`
#   - **{glue:text}`ens_gain_badge`**
# * - gain ordering: deep's NLL gain (nats) − the method's > {glue:text}`ens_gain_nll_fge_threshold`
#   - —
#   - {glue:text}`ens_gain_nll_snapshot_badge` {glue:text}`ens_gain_nll_snapshot_summary`
#   - {glue:text}`ens_gain_nll_fge_badge` {glue:text}`ens_gain_nll_fge_summary`
#   - {glue:text}`ens_gain_nll_garipov_badge` {glue:text}`ens_gain_nll_garipov_summary`
#   - {glue:text}`ens_gain_nll_swa_badge` {glue:text}`ens_gain_nll_swa_summary`
#   - (with the row above)
# :::
#
# **Trajectory members are less diverse than independent ones** ({numref}`fig-ensembles-fhl`):
# {glue:text}`ens_diversity_sentence` **Only independent members are separated by a barrier**:
# {glue:text}`ens_barrier_sentence` **Averaging independent members leaves the low-loss set, averaging
# trajectory members does not** ({numref}`fig-ensembles-plane`): {glue:text}`ens_slice_sentence` **Do trajectory
# members stay nearer the common reference?** {glue:text}`ens_weight_sentence` (cosine of two members'
# displacements from it: deep {glue:text}`ens_deep_ref_cosine`, snapshot-style FGE {glue:text}`ens_fge_ref_cosine`,
# Garipov FGE {glue:text}`ens_garipov_ref_cosine`). **Do independent members gain more?**
# ({numref}`fig-ensembles-gain`; gains with intervals in the table above): {glue:text}`ens_gain_sentence` Every
# method builds distinct members: {glue:text}`ens_distinct_badge` ({glue:text}`ens_distinct_summary`). Diverged
# runs: {glue:text}`ens_diverged`. All for {glue:text}`ens_members` members of {glue:text}`ens_steps` steps (Garipov
# FGE: {glue:text}`ens_garipov_members` members for the same budget); SWA average accuracy
# {glue:text}`ens_swa_avg_acc`.
#
# **Every verdict at every swept rate.** The swept methods' checks judged at each rate of the sweep, the same
# thresholds and repetitions; ★ the validation-tuned rate, whose column is the one above. A verdict that holds at
# the tuned rate but not at its neighbours rests on the tuning.

# %% tags=["remove-input"]
for table in study.rate_verdicts(claims, raw, cfg.scale, cfg.lr):  # records {check}_r{i}_*
    display(table)  # noqa: F821 (IPython's display)

# %% [markdown]
# {glue:text}`ens_rates_sentence`

# %% [markdown]
# ## What permutation symmetry explains
#
# Hidden units can be permuted without changing the function; much of a straight-line barrier between independent
# runs disappears once one run's units are matched to the other's {cite:p}`ainsworth2023git`. This account
# competes with the wedge account of the deep barrier, so these are **controls** that tell how to read C6, never
# parts of it. Each repetition's deep members are weight-matched to the common reference (deep member 0):
# the barrier left between them is {glue:text}`ens_barrier_aligned_summary` nats
# ({glue:text}`ens_barrier_aligned_badge` that one remains, > {glue:text}`ens_barrier_aligned_threshold`), against
# {glue:text}`ens_barrier_deep_summary` before alignment; the farthest trajectory method's distance from the
# reference, over the aligned deep members' distance, is {glue:text}`ens_weight_aligned_summary`
# ({glue:text}`ens_weight_aligned_badge` that trajectory members stay nearer,
# < {glue:text}`ens_weight_aligned_threshold`).

# %% tags=["remove-input"]
protocol.sanity_list(CHAPTER, verdict)

# %% [markdown]
# ## Takeaway
#
# **What the wedge model says.** In the toy model of {ref}`ch-toy-model` the low-loss set is a union of wedges,
# each thin in a few directions and long in the rest. A trajectory that has reached one wedge and is kicked by
# a learning-rate restart (snapshot, both FGEs) or by constant-rate noise (SWA) moves along that wedge: its members
# are joined by low straight lines and, sharing the wedge, compute much the same function. Independent
# initialisations fall onto different wedges: the straight line between them leaves the low-loss set and crosses
# a barrier, and their predictions differ — what an ensemble needs. A larger rate moves the members further along
# (and off) their wedge: the per-rate tables show what diversity, and accuracy, that buys; Garipov's short cycles
# buy many cheap members from one wedge for the same compute. **Try it**:
# `python -m wedges_lib run book/06_ensembles.py --scale smoke -p lr_fractions "(0.5, 2.0)" --out runs/fge`.
