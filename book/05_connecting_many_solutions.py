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
# (ch-sets)=
# # Connecting many solutions: one low-loss structure for a whole set
#
# **Claim.** Not only pairs: $k$ independently trained networks can all be joined by one low-loss structure, found
# by plain optimisation {cite:p}`fort2019large` — a single *connector* point $\theta_c$ such that every segment
# $\theta_i \to \theta_c$ stays at low loss — while the naive hull $\mathrm{conv}\{\theta_1, \dots, \theta_k\}$ of
# the solutions alone is high. {cite:t}`benton2021loss` later built whole simplices of low loss the same way.
#
# **Motivation.** {ref}`ch-pairs` joined two solutions with one bend. If low loss lives on wedges that intersect,
# many wedges share a common region, and one point there sees every solution along a straight line. That is a
# prediction about sets, and it is testable: train the connector, then sample the structure and look at the worst
# point.

# %% tags=["remove-cell"]
import torch

import wedges_lib
from wedges_lib import cache, config, connect, data, params, plots, sets, surfaces, toy, train

torch.set_num_threads(1)

# %% tags=["parameters"]
scale = None
seed = None
lr = None
steps = None
width = None
n_solutions = None
connector_steps = None
set_lr = None
n_samples = None
set_grid = None

# %% tags=["remove-cell"]
cfg = config.resolve(scale, seed=seed, lr=lr, steps=steps, width=width, n_solutions=n_solutions,
                     connector_steps=connector_steps, set_lr=set_lr, n_samples=n_samples, set_grid=set_grid)
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)
x, y = ds.x_train, ds.y_train
key = train.training_key(cfg)

# %% [markdown]
# ## Experiment
#
# **Solutions.** We train `n_solutions` networks from the seeds `seed`, `seed + 1`, … in one vmapped pass; the
# first three form the set with $k = 3$, all of them the larger set.

# %%
def solutions() -> dict:
    run = train.train_config(cfg, ds, seeds=[cfg.seed + i for i in range(cfg.n_solutions)], quiet=True)
    return {"theta": run.theta, "diverged": bool(run.diverged.any())}


sol = cache.cached("sets-solutions", {**key, "n_solutions": cfg.n_solutions}, solutions)
model, _ = train.init(cfg, ds, cfg.seed)  # the architecture; the parameters are the vectors in `sol`
sol_loss, sol_acc = params.evaluate(model, sol["theta"], x, y)
print(f"D = {sol['theta'].shape[1]}; train loss of the solutions {[round(v, 4) for v in sol_loss.tolist()]}")

# %% [markdown]
# **Structures.** Each starts where the solutions' mean is and takes `connector_steps` SGD steps; every step
# descends the mean minibatch loss at 8 points sampled uniformly in the structure (one vmapped pass):
# the connector of {cite:t}`fort2019large` on the $k$ segments $\theta_i \to \theta_c$; the same point trained on
# the triangles $\mathrm{conv}\{\theta_c, \theta_i, \theta_j\}$ (the stronger variant); and, after
# {cite:t}`benton2021loss`, the complex of $k$ simplices $\mathrm{conv}\{\theta_i, e_1, e_2\}$ sharing two
# trainable vertices. We evaluate each on `n_samples` uniform samples, on the whole training set, and the naive
# hull the same way.

# %%
MAKERS = {
    "connector (segments)": lambda S, st: sets.train_connector(model, ds, S, variant="segments", **st),
    "connector (triangles)": lambda S, st: sets.train_connector(model, ds, S, variant="simplices", **st),
    "complex (Benton et al.)": lambda S, st: sets.train_simplex(model, ds, S, n_extra=2, **st)}
fit = dict(steps=cfg.connector_steps, lr=cfg.set_lr, seed=cfg.seed, batch_size=cfg.batch_size, quiet=True)
skey = {**key, "n_solutions": cfg.n_solutions, "connector_steps": cfg.connector_steps, "set_lr": cfg.set_lr}
results, evals = {}, {}
for k in (3, cfg.n_solutions):
    S = sol["theta"][:k]
    evals[k, "naive hull"] = sets.evaluate_structure(model, x, y, lambda n, s: sets.hull_points(S, n, s),
                                                        cfg.n_samples, cfg.seed)
    for name, make in MAKERS.items():
        if k > 3 and name.startswith("complex"):
            continue
        res = cache.cached("sets-structure", {**skey, "k": k, "structure": name},
                           lambda: vars(make(S, fit)))  # noqa: B023  (called at once)
        results[k, name] = sets.SetResult(res["kind"], res["solutions"], res["extra"], res["history"])
        evals[k, name] = sets.evaluate_structure(model, x, y, results[k, name].sample, cfg.n_samples, cfg.seed)
for (k, name), e in evals.items():
    print(f"k = {k}, {name:24s} loss mean {e['mean']:.3f}, worst {e['max']:.3f}, accuracy min {e['acc'].min():.3f}")

# %% [markdown]
# **Sections.** The loss on the plane through $\theta_1$, $\theta_2$ and the connector $\theta_c$ (it holds two of
# the trained segments), and on the plane through the three solutions (the naive hull), `set_grid` points a side.

# %%
A, B, C3 = sol["theta"][:3]
conn = results[3, "connector (segments)"].extra[0]
plane_c = surfaces.plane_through(model, A, B, conn, n=cfg.set_grid, x=x, y=y)
plane_h = surfaces.plane_through(model, A, B, C3, n=cfg.set_grid, x=x, y=y)

# %% [markdown]
# **The toy's account.** In the wedge model ({ref}`ch-toy-model`) the solutions of three descents lie on three
# wedges; any point where all three wedges intersect (as `toy.intersection_point` finds for two) has zero loss
# and sees each solution along a segment inside its wedge. The same connector training, on the toy loss, finds one.

# %%
tm = toy.make_wedges(cfg.toy_D, cfg.toy_n, cfg.toy_K, kappa=cfg.toy_kappa, law=cfg.toy_law, r_min=cfg.toy_r_min,
                     r_open=cfg.toy_r_min, basis=cfg.toy_basis, seed=cfg.seed)
ends = toy.descend(tm, toy.random_points(tm, cfg.toy_runs, cfg.toy_r0, seed=cfg.seed), lr=cfg.toy_lr,
                   steps=cfg.toy_steps).theta
wedge = toy.wedge_of(tm, ends).tolist()
pick = [wedge.index(w) for w in dict.fromkeys(wedge)][:3]  # first runs on distinct wedges
toy_sols = ends[pick]
toy_f = lambda th: toy.loss(tm, th)  # noqa: E731
toy_conn = sets.train_connector(toy_f, None, toy_sols, steps=cfg.connector_steps, lr=cfg.toy_lr, n_samples=16,
                                   seed=cfg.seed, quiet=True)
toy_eval = {"naive hull": sets.evaluate_structure(toy_f, None, None,
                                                     lambda n, s: sets.hull_points(toy_sols, n, s), 512),
            "connector": sets.evaluate_structure(toy_f, None, None, toy_conn.sample, 512)}

# %% [markdown]
# ## Figures

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Three trained networks θ₁, θ₂, θ₃. Left: the loss on the plane through θ₁, θ₂ and the trained connector θc (log10): both segments to θc run through low loss. Middle: the plane through the three solutions, where the naive hull lies: a high-loss middle. Right: the training loss at sampled points of each structure (k = 3) and of the naive hull, with the solutions' loss dashed.", "name": "fig-sets"}}
fig, ax = plots.figure(3, width=3.8)
P = plane_c["points"]
plots.contour(ax[0, 0], plane_c["xs"], plane_c["ys"], plane_c["loss"], points={"θ₁": P[0], "θ₂": P[1], "θc": P[2]},
              xlabel="along θ₂ − θ₁", ylabel="towards θc", title="segments to θc stay low", cbar_label="train loss")
plots.paths(ax[0, 0], {"θ₁ → θc → θ₂": P[[0, 2, 1]]})
Q = plane_h["points"]
plots.contour(ax[0, 1], plane_h["xs"], plane_h["ys"], plane_h["loss"], points={"θ₁": Q[0], "θ₂": Q[1], "θ₃": Q[2]},
              xlabel="along θ₂ − θ₁", ylabel="towards θ₃", title="the naive hull is high", cbar_label="train loss")
plots.paths(ax[0, 1], {"naive hull": Q[[0, 1, 2, 0]]})
bins = torch.logspace(-3, 1, 40).clamp_min(float(sol_loss.min()) / 2).unique()
for name, colour in zip(["naive hull", *MAKERS], plots.PALETTE):
    ax[0, 2].hist(evals[3, name]["loss"].cpu().clamp(bins[0], bins[-1]).numpy(), bins=bins.numpy(), alpha=0.6,
                  color=colour, label=name)
ax[0, 2].axvline(float(sol_loss[:3].mean()), color="black", ls="--", label="solutions")
ax[0, 2].set_xscale("log")
ax[0, 2].legend()
plots.label(ax[0, 2], "train cross-entropy at a sampled point", "count", "sampled losses (k = 3)")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Left: the mean and worst sampled loss of every structure for k = 3 and the larger k (log scale). Right: the toy wedge model: loss at points sampled on the naive hull of three solutions on different wedges and on the segments to the trained connector.", "name": "fig-sets-summary"}}
fig, ax = plots.figure(2, width=4.6)
names = list(evals)
ax[0, 0].barh(range(len(names)), [float(evals[n]["max"]) for n in names], color=plots.PALETTE[3], label="worst")
ax[0, 0].barh(range(len(names)), [float(evals[n]["mean"]) for n in names], color=plots.PALETTE[0], label="mean")
ax[0, 0].set_yticks(range(len(names)), [f"k={k}: {n}" for k, n in names])
ax[0, 0].set_xscale("log")
ax[0, 0].legend()
plots.label(ax[0, 0], "train cross-entropy", "", "trained structures vs the naive hull")
for (name, e), colour in zip(toy_eval.items(), plots.PALETTE):
    ax[0, 1].hist(e["loss"].cpu().clamp_min(1e-8).log10().numpy(), bins=30, alpha=0.6, color=colour, label=name)
ax[0, 1].legend()
plots.label(ax[0, 1], "log10 toy loss (floored at 1e-8)", "count", "toy: a common intersection")

# %% [markdown]
# ## Result vs paper

# %% tags=["remove-cell"]
FRACTION = 0.2  # a trained structure's mean excess loss must stay below this fraction of the hull's
L3, Lk = float(sol_loss[:3].mean()), float(sol_loss.mean())
excess = {(k, n): float(e["mean"]) - (L3 if k == 3 else Lk) for (k, n), e in evals.items()}
frac = {kn: excess[kn] / excess[kn[0], "naive hull"] for kn in excess}
for (k, name), short in zip([(3, "connector (segments)"), (cfg.n_solutions, "connector (segments)"),
                             (3, "connector (triangles)"), (3, "complex (Benton et al.)")],
                            ("seg3", "segk", "tri3", "cplx3")):
    wedges_lib.record(f"sets_{short}_mean", evals[k, name]["mean"])
    wedges_lib.record(f"sets_{short}_worst", evals[k, name]["max"])
    wedges_lib.record(f"sets_{short}_fraction", frac[k, name])
    wedges_lib.record(f"sets_{short}_accmin", evals[k, name]["acc"].min())
for k, short in ((3, "hull3"), (cfg.n_solutions, "hullk")):
    wedges_lib.record(f"sets_{short}_mean", evals[k, "naive hull"]["mean"])
    wedges_lib.record(f"sets_{short}_accmin", evals[k, "naive hull"]["acc"].min())
for name, value in dict(sol3=L3, solk=Lk, k=cfg.n_solutions, fraction=FRACTION,
                        toy_hull=toy_eval["naive hull"]["mean"], toy_conn=toy_eval["connector"]["mean"],
                        toy_conn_worst=toy_eval["connector"]["max"]).items():
    wedges_lib.record(f"sets_{name}", value)

# %% [markdown]
# The three solutions have a mean training loss of {glue:text}`sets_sol3`, the {glue:text}`sets_k` of the larger set
# {glue:text}`sets_solk`. On the naive hull the mean sampled loss is {glue:text}`sets_hull3_mean` for $k = 3$ and
# {glue:text}`sets_hullk_mean` for the larger set (lowest accuracy {glue:text}`sets_hull3_accmin`). On the trained
# connector's segments it is {glue:text}`sets_seg3_mean` (worst point {glue:text}`sets_seg3_worst`, lowest accuracy
# {glue:text}`sets_seg3_accmin`) for $k = 3$ and {glue:text}`sets_segk_mean` (worst {glue:text}`sets_segk_worst`)
# for the larger set: an excess over the solutions of {glue:text}`sets_seg3_fraction` and
# {glue:text}`sets_segk_fraction` of the hull's ({numref}`fig-sets`, {numref}`fig-sets-summary`). The complex of
# {cite:t}`benton2021loss` reaches {glue:text}`sets_cplx3_mean` (worst {glue:text}`sets_cplx3_worst`), the
# triangles $\mathrm{conv}\{\theta_c, \theta_i, \theta_j\}$ {glue:text}`sets_tri3_mean` (worst
# {glue:text}`sets_tri3_worst`). The triangles carry a handicap the segments do not: each contains the fixed
# straight segment $\theta_i \to \theta_j$ with its barrier, which no training of $\theta_c$ can lower. In the toy
# the naive hull's mean loss is {glue:text}`sets_toy_hull` and the connector's segments' {glue:text}`sets_toy_conn`
# (worst {glue:text}`sets_toy_conn_worst`).
#
# - A high naive hull: **{glue:text}`sets_hull_verdict`**.
# - One trained connector joins every solution at low loss (excess below {glue:text}`sets_fraction` of the hull's,
#   for $k = 3$ and the larger set), as {cite:t}`fort2019large` predict: **{glue:text}`sets_connector_verdict`**.

# %% tags=["hide-input"]
assert not sol["diverged"], "training diverged: the chapter needs converged networks"
hull_ok = all(excess[k, "naive hull"] > max(0.1, L3 if k == 3 else Lk) for k in (3, cfg.n_solutions))
wedges_lib.check("sets_hull", hull_ok, "the naive hull's mean loss above twice the solutions' (and 0.1 above them)",
                 ", ".join(f"k={k}: {float(evals[k, 'naive hull']['mean']):.3f} vs {L:.3f}"
                           for k, L in ((3, L3), (cfg.n_solutions, Lk))))
segs = [frac[k, "connector (segments)"] for k in (3, cfg.n_solutions)]
wedges_lib.check("sets_connector", max(segs) < FRACTION,
                 f"the connector's mean excess loss below {FRACTION} of the naive hull's, for k = 3 and k = "
                 f"{cfg.n_solutions}", ", ".join(f"{s:.3f}" for s in segs))

# %% [markdown]
# ## Takeaway
#
# A set of solutions is not a set of isolated valleys: one point, found by descending the loss along the segments
# to it, sees all of them at low loss, and that is what the wedges predict: wedges are long in most directions, so
# many of them meet, and a point in their common intersection is joined to each solution inside that solution's
# wedge. The hull of the solutions is not in the intersection, which is why averaging weights fails.
#
# **Try it.** `-p connector_steps 1` leaves the connector at the solutions' mean and the connector check fails:
# `python -m wedges_lib run book/05_connecting_many_solutions.py --scale smoke -p connector_steps 1 --out runs/sets-untrained`.
