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
# {cite:p}`huang2017snapshot`, fast geometric ensembling {cite:p}`garipov2018loss` and the iterates of
# stochastic weight averaging {cite:p}`izmailov2018averaging` — stay in one region of the loss landscape and
# disagree less in function space than the members of a deep ensemble {cite:p}`lakshminarayanan2017simple`,
# which start from independent initialisations and land on different wedges {cite:p}`fort2019large`. The
# straight line between two trajectory members stays low; the line between two independent runs crosses a
# barrier {cite:p}`fort2019deep`.
#
# **Motivation.** An ensemble gains only where its members err differently. If the wedge model is right, the
# way the members are collected decides that diversity: a trajectory explores one wedge, independent runs
# sample several. We test the ordering at equal compute on MNIST-1D {cite:p}`greydanus2020scaling`.

# %% tags=["remove-cell"]
import torch

import wedges_lib
from wedges_lib import config, data, ensembles, plots, verdicts
from wedges_lib.verdicts import Claim

# %% tags=["parameters", "hide-input"]
scale = None
dataset = None
n_train = None
device = None
model = None
width = None
optimizer = None
lr = None
momentum = None
l2 = None
schedule = None
batch_size = None
n_interp = None
n_members = None
ensemble_steps = None
ensemble_seeds = None
ensemble_seed = None
fge_lr = None
cycle_steps = None
swa_lr = None
ensemble_grid = None

# %% tags=["remove-cell"]
# steps = ensemble_steps per member, n_seeds = ensemble_seeds repetitions from seed = ensemble_seed;
# three members span the plane below
cfg = ensembles.budgeted(config.resolve_cell(globals()), min_members=3)
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)
NAMES, TRAJ = ensembles.LABELS, ensembles.TRAJECTORY_METHODS

# %% tags=["remove-cell"]
claims = verdicts.declare(  # the statistics: ensembles.claim_values, one value per repetition
    Claim("ens_distinct", "every method builds distinct members",
          "smallest disagreement of the four methods", ">", 0.005),
    *(Claim(f"ens_diversity_{m}", f"{NAMES[m]}: members disagree less often than independent ones",
            f"disagreement({m}) / disagreement(deep)", "<", 1 / 1.2) for m in TRAJ),
    Claim("ens_slice_deep", "the centroid of three independent members leaves the low-loss set",
          "centroid − worst member train loss (nats), deep", ">", 0.3),
    *(Claim(f"ens_slice_{m}", f"{NAMES[m]}: the centroid of three members stays low",
            f"centroid − worst member train loss (nats), {m}", "<", 0.1) for m in TRAJ),
    Claim("ens_barrier_deep", "the line between independent members crosses a barrier",
          "mean pairwise line barrier (nats), deep", ">", 0.05),
    *(Claim(f"ens_barrier_{m}", f"{NAMES[m]}: the line between members stays lower than deep's",
            f"barrier({m}) / barrier(deep)", "<", 1 / 2) for m in TRAJ))

# %% tags=["remove-input"]
verdicts.what_would_count(claims, unit="repetition")

# %% [markdown]
# ## Experiment
#
# :::{admonition} Our protocol
# The paper states the ordering but not the set-up; this one is ours. Each method builds $m_{\max}$ =
# `n_members` members for the same budget of $m_{\max} S$ gradient steps ($S$ = `ensemble_steps`): independent
# runs (deep); cosine cycles of $S$ steps from one initialisation (snapshot); one $S$-step run, then short cycles
# of `cycle_steps` steps at `fge_lr` (FGE) or iterates at the constant rate `swa_lr` every `cycle_steps` steps
# (SWA), both continuing deep member 0. Diversity is measured as in {cite:t}`fort2019deep`: prediction
# disagreement and the cosine of weight displacements. Every method is repeated `ensemble_seeds` times (one
# vmapped stack per method) from the base seed `ensemble_seed`, new with this protocol, and every check is
# judged on its statistic measured once per repetition. The methods live in `wedges_lib.ensembles`.
# :::

# %%
ens = ensembles.build_all(cfg, ds)  # FGE and SWA continue deep member 0 (its steps are counted)
stats = {m: ensembles.summarize(e, ds, n_interp=cfg.n_interp) for m, e in ens.items()}
print("gradient steps:", ", ".join(f"{NAMES[m]} {e.grad_steps}" for m, e in ens.items()))

# %% [markdown]
# For the first repetition: the members × members disagreement (fraction of test inputs on which two members
# predict different classes), the training loss on the straight line from the first member to the last, and
# on the plane through members 0, 1 and 2, on an `ensemble_grid` × `ensemble_grid` grid in true distances from
# member 0 (`wedges_lib.surfaces.plane_through`).

# %%
pairs = {m: ensembles.pair_view(e, ds, n_interp=cfg.n_interp) for m, e in ens.items()}
planes = {m: ensembles.plane_view(e, ds, n=cfg.ensemble_grid) for m, e in ens.items()}

# %% [markdown]
# ## Figures

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Test accuracy (left) and NLL (right) of the ensemble of the first m members, mean ± std over repetitions; the dotted line is the SWA weight average of the first m SWA iterates.", "name": "fig-ensembles-gain"}}
ks = torch.arange(1, cfg.n_members + 1)
fig, ax = plots.figure(2)
plots.curves(ax[0, 0], ks, {NAMES[m]: s["acc"].T for m, s in stats.items()}, xlabel="members m",
             ylabel="test accuracy", title="accuracy vs ensemble size", marker="o")
plots.curves(ax[0, 1], ks, {NAMES[m]: s["nll"].T for m, s in stats.items()}, xlabel="members m",
             ylabel="test NLL (nats)", title="NLL vs ensemble size", marker="o")
ax[0, 0].plot(ks, stats["swa"]["swa_acc"].mean(0).cpu(), ":", color="black", label="SWA average")
ax[0, 0].legend()
for a in ax[0]:
    a.set_xticks(ks.tolist())

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Pairwise test-set disagreement of the members of each method (first repetition): independent members (left) against members taken along one trajectory (the other three).", "name": "fig-ensembles-diversity"}}
fig, ax = plots.figure(4, width=2.6, height=2.4)
vmax = max(p["disagreement"].max().item() for p in pairs.values())
for a, (m, p) in zip(ax[0], pairs.items()):
    plots.heatmap(a, ks, ks, p["disagreement"], xlabel="member", ylabel="member", title=NAMES[m],
                  vmax=vmax, colorbar=m == "swa", cbar_label="disagreement")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Training loss on the straight line from the first to the last member of each method (first repetition).", "name": "fig-ensembles-line"}}
fig, ax = plots.figure(1, width=4.4)
plots.curves(ax[0, 0], pairs["deep"]["t"], {NAMES[m]: p["line"] for m, p in pairs.items()},
             xlabel="t  (first member → last member)", ylabel="train cross-entropy",
             title="the straight line between two members", logy=True)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Training loss (log10, one colour scale for all panels) on the plane through members 0, 1 and 2 of each method (first repetition; none where its run diverged); the axes are weight-space distances from member 0, each panel at its own extent.", "name": "fig-ensembles-plane"}}
shown = {m: s for m, s in planes.items() if s is not None}  # None: a run diverged, no plane
levels = plots.shared_log_levels([s["loss"] for s in shown.values()]) if shown else 21
fig, ax = plots.figure(4, width=2.9, height=2.6)
for a, (m, s) in zip(ax[0], shown.items()):
    pts = {str(k): s["points"][k].tolist() for k in range(3)}
    plots.contour(a, s["xs"], s["ys"], s["loss"], points=pts, levels=levels, title=NAMES[m],
                  xlabel="distance along 0 → 1", ylabel="distance ⊥ to 0 → 1" * (m == "deep"),
                  colorbar=m == "swa", cbar_label="train loss")

# %% [markdown]
# ## Result vs paper
#
# Means over repetitions; distance: between members in weight space; centroid: of members 0, 1 and 2.

# %% tags=["remove-input"]
wedges_lib.record("ens_members", cfg.n_members)
wedges_lib.record("ens_steps", cfg.ensemble_steps)
ensembles.results(stats, ens)  # records ens_{method}_{number} and shows them

# %% tags=["hide-input"]
verdict = ensembles.judge_all(claims, ensembles.claim_values(stats, ens), cfg.scale)

# %% [markdown]
# Each cell: the verdict, then the statistic's mean [95 % interval] over repetitions; a claim of several parts
# is reproduced when every part is, not reproduced when none is even partly, partly reproduced otherwise.
#
# | claim (per repetition) | deep ensemble | snapshot | FGE | SWA iterates | overall |
# |---|---|---|---|---|---|
# | trajectory members disagree less: disagreement(method) / disagreement(deep) < {glue:text}`ens_diversity_fge_threshold` | — | {glue:text}`ens_diversity_snapshot_badge` {glue:text}`ens_diversity_snapshot_summary` | {glue:text}`ens_diversity_fge_badge` {glue:text}`ens_diversity_fge_summary` | {glue:text}`ens_diversity_swa_badge` {glue:text}`ens_diversity_swa_summary` | **{glue:text}`ens_diversity_badge`** |
# | averaging three members: centroid − worst member loss (nats) > {glue:text}`ens_slice_deep_threshold` for deep, < {glue:text}`ens_slice_fge_threshold` along a trajectory | {glue:text}`ens_slice_deep_badge` {glue:text}`ens_slice_deep_summary` | {glue:text}`ens_slice_snapshot_badge` {glue:text}`ens_slice_snapshot_summary` | {glue:text}`ens_slice_fge_badge` {glue:text}`ens_slice_fge_summary` | {glue:text}`ens_slice_swa_badge` {glue:text}`ens_slice_swa_summary` | **{glue:text}`ens_slice_badge`** |
# | line barrier: deep's > {glue:text}`ens_barrier_deep_threshold` nats; barrier(method) / barrier(deep) < {glue:text}`ens_barrier_fge_threshold` | {glue:text}`ens_barrier_deep_badge` {glue:text}`ens_barrier_deep_summary` | {glue:text}`ens_barrier_snapshot_badge` {glue:text}`ens_barrier_snapshot_summary` | {glue:text}`ens_barrier_fge_badge` {glue:text}`ens_barrier_fge_summary` | {glue:text}`ens_barrier_swa_badge` {glue:text}`ens_barrier_swa_summary` | **{glue:text}`ens_barrier_badge`** |
#
# **Trajectory members are less diverse than independent ones** ({numref}`fig-ensembles-diversity`):
# {glue:text}`ens_diversity_sentence` **Only independent members are separated by a barrier**
# ({numref}`fig-ensembles-line`): {glue:text}`ens_barrier_sentence` **Averaging independent members leaves the
# low-loss set, averaging trajectory members does not** ({numref}`fig-ensembles-plane`):
# {glue:text}`ens_slice_sentence` Every method builds distinct members: {glue:text}`ens_distinct_badge`
# ({glue:text}`ens_distinct_summary`). Runs that diverged (their repetition counts as not measured):
# {glue:text}`ens_diverged`. All for {glue:text}`ens_members` members of {glue:text}`ens_steps` steps each; the
# SWA weight average reaches accuracy {glue:text}`ens_swa_avg_acc` ({numref}`fig-ensembles-gain`). The weight
# cosine is reported, not judged: it is that of displacements from each member's own initialisation, so members
# that share theirs and most of their path score near 1 and independent ones near 0 whatever the landscape.

# %% [markdown]
# ## Takeaway
#
# **What the wedge model says.** In the toy model of {ref}`ch-toy-model` the low-loss set is a union of wedges,
# each thin in a few directions and long in the rest. A trajectory that has reached one wedge and is kicked by
# a learning-rate restart (snapshot, FGE) or by constant-rate noise (SWA) moves along that wedge: its members are
# joined by low straight lines and, sharing the wedge, compute much the same function. Independent
# initialisations fall onto different wedges: the straight line between them leaves the low-loss set and crosses
# a barrier, and their predictions differ — which is what an ensemble needs. The ordering of diversity is the
# picture {cite:t}`fort2019deep` measured on larger networks; whether it becomes a larger gain also depends on how
# accurate the members are (compare the gain column). SWA uses the same geometry the other way round, averaging
# iterates of one wedge into a single point near its centre.
#
# **Try it.** `python -m wedges_lib run book/06_ensembles.py --scale smoke -p fge_lr 0.5 -p swa_lr 0.5 --out
# runs/fge` — large rates push FGE and SWA members off their wedge (at smoke scale their diversity parts then
# came out not reproduced when we tried it).
