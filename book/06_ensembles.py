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
from wedges_lib import config, data, ensembles, params, plots, surfaces

# %% tags=["parameters"]
scale = None
lr = None
width = None
seed = None
n_members = None
ensemble_steps = None
ensemble_seeds = None
fge_lr = None
cycle_steps = None
swa_lr = None
ensemble_grid = None

# %% tags=["remove-cell"]
given = dict(lr=lr, width=width, seed=seed, n_members=n_members, ensemble_steps=ensemble_steps,
             ensemble_seeds=ensemble_seeds, cycle_steps=cycle_steps, fge_lr=fge_lr, swa_lr=swa_lr,
             ensemble_grid=ensemble_grid)
base = config.resolve(scale, **given)
if base.n_members < 3:
    raise ValueError(f"parameter 'n_members': got {base.n_members}; this chapter needs an int >= 3 "
                     "(it slices the loss on the plane through three members)")
cfg = config.resolve(scale, steps=base.ensemble_steps, n_seeds=base.ensemble_seeds, **given)
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)
NAMES = {"deep": "deep ensemble", "snapshot": "snapshot", "fge": "FGE", "swa": "SWA iterates"}

# %% [markdown]
# ## Experiment
#
# :::{admonition} Our protocol
# The paper states the ordering but not the set-up; this one is ours. Each method builds $m_{\max}$ =
# `n_members` members for the same budget of $m_{\max} S$ gradient steps ($S$ = `ensemble_steps`): independent
# runs (deep); cosine cycles of $S$ steps from one initialisation (snapshot); one $S$-step run, then short cycles
# of `cycle_steps` steps at `fge_lr` (FGE) or iterates at the constant rate `swa_lr` every `cycle_steps` steps
# (SWA), both continuing deep member 0. Diversity is measured as in {cite:t}`fort2019deep`: prediction
# disagreement and the cosine of weight displacements. Every method is repeated `ensemble_seeds` times.
# :::
#
# The methods live in `wedges_lib.ensembles`.

# %%
ens = {"deep": ensembles.deep_ensemble(cfg, ds, quiet=True)}
start = ens["deep"].members[:, 0]  # FGE and SWA continue deep member 0 (its steps are counted)
for m in ("snapshot", "fge", "swa"):
    ens[m] = ensembles.build(m, cfg, ds, quiet=True, **({} if m == "snapshot" else {"pretrained": start}))
stats = {m: ensembles.summarize(e, ds, n_interp=cfg.n_interp) for m, e in ens.items()}
print("gradient steps per ensemble:", ", ".join(f"{NAMES[m]} {e.grad_steps}" for m, e in ens.items()))

# %% [markdown]
# For the first repetition, the members × members disagreement (fraction of test inputs on which two members
# predict different classes) and the training loss on the straight line between the first and the last member:

# %%
x, y = ds.x_test, ds.y_test
agree = {m: ensembles.disagreement(ensembles.predict(e.model, e.members[0], x)) for m, e in ens.items()}
ts = torch.linspace(0, 1, cfg.n_interp)
line = {m: params.evaluate(e.model, params.interpolate(e.members[0, 0], e.members[0, -1], ts),
                           ds.x_train, ds.y_train)[0] for m, e in ens.items()}

# %% [markdown]
# **A plane through three members.** For each method, the training loss on the plane through its members 0, 1
# and 2 (first repetition), on an `ensemble_grid` × `ensemble_grid` grid in true distances from member 0
# (`wedges_lib.surfaces.plane_through`), and the loss at the centroid of the three — the point a weight average
# of them would return.

# %%
xt, yt = ds.x_train, ds.y_train
slices = {m: surfaces.plane_through(e.model, *e.members[0, :3], n=cfg.ensemble_grid, x=xt, y=yt)
          for m, e in ens.items()}
three_and_centroid = {m: params.evaluate(e.model, torch.cat([e.members[0, :3], e.members[0, :3].mean(0, keepdim=True)]),
                                         xt, yt)[0] for m, e in ens.items()}  # (4,): the three members, their centroid
member_loss = {m: v[:3].max().item() for m, v in three_and_centroid.items()}  # the worst of the three
centroid = {m: v[3].item() for m, v in three_and_centroid.items()}

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
vmax = max(a.max().item() for a in agree.values())
for a, (m, d) in zip(ax[0], agree.items()):
    plots.heatmap(a, ks, ks, d, xlabel="member", ylabel="member", title=NAMES[m], vmax=vmax,
                  colorbar=m == "swa", cbar_label="disagreement")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Training loss on the straight line from the first to the last member of each method (first repetition).", "name": "fig-ensembles-line"}}
fig, ax = plots.figure(1, width=4.4)
plots.curves(ax[0, 0], ts, {NAMES[m]: v for m, v in line.items()}, xlabel="t  (first member → last member)",
             ylabel="train cross-entropy", title="the straight line between two members", logy=True)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Training loss (log10, one colour scale for all panels) on the plane through members 0, 1 and 2 of each method (first repetition); the axes are weight-space distances from member 0, each panel at its own extent.", "name": "fig-ensembles-plane"}}
lo = min(s["loss"].min().item() for s in slices.values())
hi = max(s["loss"].max().item() for s in slices.values())
levels = torch.linspace(torch.tensor(max(lo, 1e-4)).log10().item(), torch.tensor(hi).log10().item(), 21)
fig, ax = plots.figure(4, width=2.9, height=2.6)
for a, (m, s) in zip(ax[0], slices.items()):
    pts = {str(k): s["points"][k].tolist() for k in range(3)}
    plots.contour(a, s["xs"], s["ys"], s["loss"], points=pts, levels=levels, title=NAMES[m],
                  xlabel="distance along 0 → 1", ylabel="distance ⊥ to 0 → 1" if m == "deep" else "",
                  colorbar=m == "swa", cbar_label="train loss")

# %% [markdown]
# ## Result vs paper

# %% tags=["remove-cell"]
mean = {m: {k: v.mean(0)[-1].item() if v.dim() > 1 else v.mean().item() for k, v in s.items()} for m, s in stats.items()}
for m, s in mean.items():
    for k in ("acc", "nll", "disagreement", "weight_cosine", "barrier"):
        wedges_lib.record(f"ens_{m}_{k}", s[k])
    wedges_lib.record(f"ens_{m}_gain", s["acc"] - stats[m]["member_acc"].mean().item())
wedges_lib.record("ens_swa_avg_acc", mean["swa"]["swa_acc"])
for m in ens:
    wedges_lib.record(f"ens_{m}_centroid", centroid[m])
    wedges_lib.record(f"ens_{m}_member_loss", member_loss[m])
wedges_lib.record("ens_members", cfg.n_members)
wedges_lib.record("ens_steps", cfg.steps)

# %% [markdown]
# | method | ensemble acc. | NLL | gain over a member | disagreement | weight cosine | line barrier |
# |---|---|---|---|---|---|---|
# | deep ensemble | {glue:text}`ens_deep_acc` | {glue:text}`ens_deep_nll` | {glue:text}`ens_deep_gain` | {glue:text}`ens_deep_disagreement` | {glue:text}`ens_deep_weight_cosine` | {glue:text}`ens_deep_barrier` |
# | snapshot | {glue:text}`ens_snapshot_acc` | {glue:text}`ens_snapshot_nll` | {glue:text}`ens_snapshot_gain` | {glue:text}`ens_snapshot_disagreement` | {glue:text}`ens_snapshot_weight_cosine` | {glue:text}`ens_snapshot_barrier` |
# | FGE | {glue:text}`ens_fge_acc` | {glue:text}`ens_fge_nll` | {glue:text}`ens_fge_gain` | {glue:text}`ens_fge_disagreement` | {glue:text}`ens_fge_weight_cosine` | {glue:text}`ens_fge_barrier` |
# | SWA iterates | {glue:text}`ens_swa_acc` | {glue:text}`ens_swa_nll` | {glue:text}`ens_swa_gain` | {glue:text}`ens_swa_disagreement` | {glue:text}`ens_swa_weight_cosine` | {glue:text}`ens_swa_barrier` |
#
# All for {glue:text}`ens_members` members, each with a budget of {glue:text}`ens_steps` steps, means over repetitions;
# accuracy and NLL of the full ensemble on the test set; the weight cosine is that of the members' displacements
# from their initialisation; the barrier is the mean over member pairs of the largest rise of the training loss
# above the chord ({numref}`fig-ensembles-line`). The SWA weight average reaches accuracy {glue:text}`ens_swa_avg_acc`
# ({numref}`fig-ensembles-gain`).
# Independent members are more diverse than trajectory members ({numref}`fig-ensembles-diversity`):
# **{glue:text}`ens_diversity_verdict`**;
# only independent members are separated by a barrier: **{glue:text}`ens_barrier_verdict`**.
#
# On the plane through three members ({numref}`fig-ensembles-plane`) the training loss at their centroid is
# {glue:text}`ens_deep_centroid` for deep members (worst member {glue:text}`ens_deep_member_loss`), against
# {glue:text}`ens_snapshot_centroid` (snapshot, worst member {glue:text}`ens_snapshot_member_loss`),
# {glue:text}`ens_fge_centroid` (FGE, {glue:text}`ens_fge_member_loss`) and {glue:text}`ens_swa_centroid`
# (SWA iterates, {glue:text}`ens_swa_member_loss`). The wedge model predicts that averaging independent members
# leaves the low-loss set and averaging trajectory members does not: **{glue:text}`ens_slice_verdict`**.

# %% tags=["hide-input"]
traj = ("snapshot", "fge", "swa")
dis = {m: mean[m]["disagreement"] for m in mean}
cos = {m: mean[m]["weight_cosine"] for m in mean}
bar = {m: mean[m]["barrier"] for m in mean}
measured = ", ".join(f"{m}: disagreement {dis[m]:.3f}, weight cosine {cos[m]:.3f}, barrier {bar[m]:.3f}" for m in mean)
wedges_lib.check("ens_distinct", min(dis.values()) > 0.005 and max(cos.values()) < 0.9999,
                 "distinct members in every method (disagreement > 0.005, weight cosine < 0.9999)", measured)
wedges_lib.check("ens_diversity", all(dis["deep"] > 1.2 * dis[m] and cos["deep"] < cos[m] - 0.3 for m in traj),
                 "deep members to disagree > 1.2x as often as each trajectory method's and to have a weight "
                 "cosine lower by > 0.3", measured)
excess = {m: centroid[m] - member_loss[m] for m in ens}
wedges_lib.check("ens_slice", excess["deep"] > 0.3 and all(excess[m] < 0.1 for m in traj),
                 "the centroid of three deep members to lie > 0.3 nats above the worst of them, and the centroid of "
                 "three trajectory members < 0.1 nats above (or below) theirs",
                 ", ".join(f"{m}: centroid {centroid[m]:.3f} vs worst member {member_loss[m]:.3f}" for m in ens))
wedges_lib.check("ens_barrier", bar["deep"] > max(0.05, 2 * max(bar[m] for m in traj)),
                 "a line barrier between independent members > 0.05 and > 2x that within any trajectory", measured)

# %% [markdown]
# ## Takeaway
#
# **What the wedge model says.** In the toy model of {ref}`ch-toy-model` the low-loss set is a union of wedges,
# each thin in a few directions and long in the rest. A trajectory that has reached one wedge and is kicked by
# a learning-rate restart (snapshot, FGE) or by constant-rate noise (SWA) moves along that wedge: its members are
# far apart in weight space yet joined by low straight lines, and since they share the wedge they compute much
# the same function. Independent initialisations fall onto different wedges: their displacements are nearly
# orthogonal, the straight line between them leaves the low-loss set and crosses a barrier, and their predictions
# differ — which is what an ensemble needs. The ordering of diversity above is the picture {cite:t}`fort2019deep`
# measured on larger networks; whether it becomes a larger gain also depends on how accurate the members are
# (compare the gain column: snapshot members train with a full schedule per cycle). SWA uses the same geometry the
# other way round, averaging iterates of one wedge into a single point near its centre.
#
# **Try it.** `python -m wedges_lib run book/06_ensembles.py --scale smoke -p fge_lr 0.05 --out runs/fge` —
# a larger cyclical rate pushes FGE members further along (or off) their wedge.
