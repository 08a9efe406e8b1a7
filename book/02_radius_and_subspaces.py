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
# (ch-radius)=
# # Random subspaces and the radius
#
# **Claim.** A network trained only inside a random $d$-dimensional affine subspace
# $\theta = \theta_0 + Pw$ reaches good accuracy once $d$ exceeds an *intrinsic dimension* far below the parameter
# count $D$ {cite:p}`li2018intrinsic`. {cite:t}`fort2019large` add that where the subspace is placed matters: the
# wedges of low loss widen with the radius, so a subspace through a point $\theta_0$ further from the origin meets
# them more easily, and the intrinsic dimension should fall as $\lVert\theta_0\rVert$ grows.
#
# **Motivation.** A random plane of a few thousand dimensions in a space of tens of thousands is almost surely
# orthogonal to any given direction, yet training inside it works. The wedge model explains this by the wedges'
# $D - n$ long directions, and it makes a testable prediction: the radius of the plane's anchor point should change
# the answer. {cite:t}`fort2018goldilocks` saw a radius effect of another shape: random subspaces train well only in
# a *shell* of radii, the "Goldilocks zone", where the Hessian's trace is large compared to its size,
# $\mathrm{Tr}(H)/\lVert H\rVert_F$. This chapter measures which of the two shapes a network shows.

# %% tags=["remove-cell"]
import math

import torch

import wedges_lib
from wedges_lib import cache, config, data, params, plots, subspace, toy

torch.set_num_threads(1)  # on a shared CPU extra threads mostly wait for each other
SIGMAS = 2  # a radius effect must exceed this many seed standard deviations

# %% tags=["parameters"]
scale = None
seed = None
n_seeds = None
dims = None
radii = None
projection = None
subspace_width = None
subspace_steps = None
subspace_lr = None
subspace_step = None
id_fraction = None
goldilocks_probes = None
goldilocks_examples = None
toy_r_min = None
plane_D = None
plane_n = None
plane_K = None
plane_kappa = None
plane_dims = None
plane_radii = None
plane_seeds = None
plane_steps = None

# %% tags=["remove-cell"]
cfg = config.resolve(scale, **{k: v for k, v in dict(globals()).items() if k in config.SPECS and k != "scale"})
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)
NETWORK = ("dataset", "n_train", "model", "seed", "n_seeds", "optimizer", "lr", "momentum", "l2", "schedule",
           "batch_size", "steps", "device", "dims", "radii", "projection", "subspace_width", "subspace_steps",
           "subspace_lr", "subspace_step", "goldilocks_probes", "goldilocks_examples")

# %% [markdown]
# ## Experiment
#
# :::{admonition} Our protocol
# The anchor $\theta_0$ is a fresh initialisation of the network scaled by a factor $c$ (`radii`, multiples of the
# initialisation's own norm); $P$ is a random projection (`projection`; by default Fastfood, whose columns have unit
# norm); $w \in \mathbb{R}^d$ starts at 0 and is the only thing trained, by Adam with a cosine schedule for
# `subspace_steps` steps. **The step is made comparable across radii** in two ways. Adam's step does not depend on
# the gradient's scale, which changes by orders of magnitude with $c$;
# its learning rate on $w$ is `subspace_lr`$/\sqrt d$, so one step moves $\theta$ by about `subspace_lr` at every
# $d$. With `subspace_step = "relative"` (our default) that step is further multiplied by $c$, so that the
# *angular* step $\lVert\Delta\theta\rVert / \lVert\theta_0\rVert$ is the same at every radius: each radius gets
# the same budget measured in its own units. All radii of one seed share the initialisation direction, the
# projection and the minibatch order, so radii are compared in pairs. The intrinsic dimension is the smallest
# $d$ whose test accuracy reaches `id_fraction` of the same network's full-space accuracy (plain training with
# the scale's optimiser), interpolated in $\log d$ between the swept values.
# :::
#
# For each $d$ every radius and seed trains in one vmapped pass. At the anchors themselves (before any training)
# we estimate $\mathrm{Tr}(H)$ and $\lVert H\rVert_F^2 = \mathbb{E}\lVert Hv\rVert^2$ of the training loss with
# `goldilocks_probes` Hutchinson probes each, on `goldilocks_examples` training examples.


# %%
def experiment() -> dict:
    """Full-space reference, the (radius, d, seed) sweep, and the curvature at every anchor: tensors only."""
    model, th = subspace.init(cfg, ds)
    ref = subspace.reference_accuracy(cfg, ds, model, th, quiet=True)
    sweep = subspace.sweep_config(cfg, ds, model, th, quiet=True)
    x, y = ds.x_train[:cfg.goldilocks_examples], ds.y_train[:cfg.goldilocks_examples]
    gold = [subspace.goldilocks(model, x, y, t, cfg.radii, n_probes=cfg.goldilocks_probes, seed=cfg.seed + k)
            for k, t in enumerate(th)]
    return {"ref": ref["test_acc"], "sweep": vars(sweep), "ratio": torch.stack([g["ratio"] for g in gold], 1)}


res = cache.cached("radius-subspaces", {k: cfg[k] for k in NETWORK}, experiment)
sw, ref, ratio = subspace.SweepResult(**res["sweep"]), res["ref"], res["ratio"]  # ratio (R, S)
model, th = subspace.init(cfg, ds)
c = torch.tensor(cfg.radii)
init_loss = params.evaluate(model, (c.to(th)[:, None, None] * th).flatten(0, 1), ds.x_train, ds.y_train)[0]
init_loss = init_loss.reshape(len(c), -1)  # (R, S)
idim = subspace.intrinsic_dimension(model, ds, th, cfg.dims, reference=ref, fraction=cfg.id_fraction, sweep=sw)
acc, (mean, std) = sw.test_acc, sw.mean_std("test_acc")  # (R, n, S); (R, n) each
print(f"D = {th.shape[1]}; full-space test accuracy {[round(v, 3) for v in ref.tolist()]}; "
      f"diverged subspace runs: {int(sw.diverged.sum())}")

# %% [markdown]
# **The toy's prediction.** The same experiment on the wedge toy of {ref}`ch-toy-model`: wedges that open up from the
# hole's edge $r_{\min}$, random $d$-planes through a random point at radius $r$, success when descent inside the
# plane reaches zero loss; $d_{50}$ is the smallest $d$ where half the planes succeed.

# %%
wedge_toy = toy.make_wedges(cfg.plane_D, cfg.plane_n, cfg.plane_K, kappa=cfg.plane_kappa, r_min=cfg.toy_r_min,
                            r_open=cfg.toy_r_min, seed=cfg.seed)
success = toy.hyperplane_success_map(wedge_toy, cfg.plane_dims, cfg.plane_radii, seeds=cfg.plane_seeds,
                                     steps=cfg.plane_steps, seed=cfg.seed)
d50 = toy.intrinsic_dimension(success, cfg.plane_dims)  # (len(plane_radii),)

# %% [markdown]
# ## Figures

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Training in random subspaces of MNIST-1D's MLP, anchored at radius c × the initialisation's norm (mean ± 1 std over seeds). Left: test accuracy against the subspace dimension d, one line per radius; the dashed line is the intrinsic dimension's threshold. Middle: test accuracy at the largest d against the radius, with the full-space accuracy. Right: the intrinsic dimension against the radius (error bars over seeds; triangles: not reached at the largest d).", "name": "fig-radius-subspaces"}}
def radius_axis(a, xs) -> None:
    """A log x axis ticked at the radii xs."""
    a.set_xscale("log")
    a.set_xticks(xs, [f"{v:g}" for v in xs])
    a.set_xticks([], minor=True)


fig, ax = plots.figure(3)
plots.curves(ax[0, 0], torch.tensor(cfg.dims), {f"c = {r:g}": acc[i] for i, r in enumerate(cfg.radii)},
             xlabel="subspace dimension d", ylabel="test accuracy", marker="o", title="accuracy grows with d")
ax[0, 0].axhline(float(idim.threshold.mean()), ls="--", color="grey")
ax[0, 0].set_xscale("log")
plots.curves(ax[0, 1], c, {f"d = {cfg.dims[-1]}": acc[:, -1], "full space": ref.expand(len(c), -1)},
             xlabel="radius c (× init norm)", ylabel="test accuracy", marker="o", title="best in a middle band")
ax[0, 2].errorbar(c, idim.mean, yerr=idim.std, marker="o", ms=3, capsize=3, label="intrinsic dimension")
missed = ~torch.isfinite(idim.mean)
if missed.any():
    ax[0, 2].plot(c[missed], [cfg.dims[-1]] * int(missed.sum()), "^", color=plots.PALETTE[3], ms=7,
                  label=f"not reached (> {cfg.dims[-1]})")
ax[0, 2].legend()
plots.label(ax[0, 2], "radius c (× init norm)", f"d reaching {cfg.id_fraction:g} × full-space acc.",
            "intrinsic dimension: a valley")
ax[0, 2].set_yscale("log")
for a in (ax[0, 1], ax[0, 2]):
    radius_axis(a, cfg.radii)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Why. Left: $\\mathrm{Tr}(H)/\\lVert H\\rVert_F$ of the training loss at the anchors (before training; mean ± 1 std over seeds) against the radius; the Goldilocks zone of Fort & Scherlis is where it is large. Middle: the loss at the anchors grows steeply with the radius (the softmax saturates). Right: the wedge toy's prediction, the intrinsic dimension d₅₀ of random planes through a point at radius r, falls steadily as the wedges open up.", "name": "fig-radius-why"}}
fig, ax = plots.figure(3)
plots.curves(ax[0, 0], c, {"Tr(H) / ‖H‖$_F$": ratio}, xlabel="radius c (× init norm)", ylabel="Tr(H) / ‖H‖$_F$",
             marker="o", title="Goldilocks: curvature turns positive")
plots.curves(ax[0, 1], c, {"training loss at θ₀": init_loss}, xlabel="radius c (× init norm)",
             ylabel="cross-entropy", marker="o", logy=True, title="far out the anchor is overconfident")
plots.curves(ax[0, 2], torch.tensor(cfg.plane_radii) / cfg.toy_r_min, {"toy d₅₀": d50}, marker="o",
             xlabel="radius r / r$_{min}$", ylabel="d₅₀ (half the planes succeed)", title="the toy: falls with r")
for a, xs in zip(ax[0], (cfg.radii, cfg.radii, [r / cfg.toy_r_min for r in cfg.plane_radii])):
    radius_axis(a, xs)

# %% [markdown]
# ## Result vs paper

# %% tags=["remove-cell"]
last = acc[:, -1]  # (R, S): every seed's test accuracy at the largest d
best = int(mean[:, -1].argmax())
noise = last.std(-1).pow(2).mean().sqrt()  # seed std at the largest d, pooled over radii
margin = SIGMAS * float(noise)
one = int(c.log().abs().argmin())  # the radius closest to the initialisation's own
rise, fall = last[best] - last[0], last[best] - last[-1]  # (S,): paired, seed by seed
peak = int(ratio.mean(1).argmax())
low = int(torch.where(torch.isfinite(idim.mean), idim.mean, math.inf).argmin())  # the lowest intrinsic dimension
at = dict(smallest=0, best=best, largest=len(c) - 1, one=one, low=low, peak=peak)  # radius indices in the text
num = dict(d=cfg.dims[-1], ref_acc=ref.mean(), sigmas=SIGMAS, margin=margin, rise_min=rise.min(), fall_min=fall.min(),
           toy_d50_first=d50[0], toy_d50_last=d50[-1], toy_r_first=cfg.plane_radii[0], toy_r_last=cfg.plane_radii[-1])
num |= {k: cfg.radii[i] for k, i in at.items()}  # the radius multiples themselves
num |= {f"acc_{k}": mean[at[k], -1] for k in ("best", "smallest", "largest")}
num |= {f"id_{k}": subspace.id_summary(idim, at[k]) for k in ("smallest", "low", "largest")}
num |= {f"ratio_{k}": ratio[at[k]].mean() for k in ("smallest", "peak", "largest")}
num |= {f"init_loss_{k}": init_loss[at[k]].mean() for k in ("one", "largest")}
for name, value in num.items():
    wedges_lib.record(f"radius_{name}", float(value) if isinstance(value, torch.Tensor) else value)

# %% [markdown]
# At $d$ = {glue:text}`radius_d` ({numref}`fig-radius-subspaces`) the subspaces anchored at
# {glue:text}`radius_best` × the initialisation's norm train best, to test accuracy {glue:text}`radius_acc_best`
# (full-space training: {glue:text}`radius_ref_acc`). Closer in, at {glue:text}`radius_smallest` ×, they reach
# {glue:text}`radius_acc_smallest`; further out, at {glue:text}`radius_largest` ×, only
# {glue:text}`radius_acc_largest`. Seed by seed, the best radius beats the smallest by at least
# {glue:text}`radius_rise_min` and the largest by at least {glue:text}`radius_fall_min`, against a margin of
# {glue:text}`radius_margin` ({glue:text}`radius_sigmas` × the seed-to-seed spread, pooled over radii). Better
# than the far-out anchors: **{glue:text}`radius_far_worse_verdict`**; better than the near ones:
# **{glue:text}`radius_near_worse_verdict`**. The intrinsic dimension draws the same valley:
# {glue:text}`radius_id_smallest` at {glue:text}`radius_smallest` ×, lowest at {glue:text}`radius_low` × with
# {glue:text}`radius_id_low`, and {glue:text}`radius_id_largest` at {glue:text}`radius_largest` ×.
#
# So the paper's prediction is **partly reproduced**. Moving the anchor out from {glue:text}`radius_smallest` × to
# {glue:text}`radius_best` × the initialisation's norm makes subspace training easier, as wider wedges further
# out would; beyond that it gets harder again, the opposite of the prediction, while the toy's $d_{50}$ keeps
# falling, from {glue:text}`radius_toy_d50_first` at $r$ = {glue:text}`radius_toy_r_first` to
# {glue:text}`radius_toy_d50_last` at {glue:text}`radius_toy_r_last` ({numref}`fig-radius-why`). The band matches
# the Goldilocks zone of {cite:t}`fort2018goldilocks` on its inner side: $\mathrm{Tr}(H)/\lVert H\rVert_F$ at
# the anchors rises from {glue:text}`radius_ratio_smallest` at {glue:text}`radius_smallest` × to
# {glue:text}`radius_ratio_peak` at {glue:text}`radius_peak` ×. On its outer side the ratio stays high
# ({glue:text}`radius_ratio_largest` at {glue:text}`radius_largest` ×), so the fall there has another cause:
# the anchor's loss grows from {glue:text}`radius_init_loss_one` at {glue:text}`radius_one` × to
# {glue:text}`radius_init_loss_largest`, a saturated softmax whose logits a small subspace cannot pull back in the
# steps it has.

# %% tags=["hide-input"]
assert not bool(sw.diverged.any()), "some subspace runs diverged: the comparison needs converging runs"
seeds_text = lambda v: ", ".join(f"{x:.3f}" for x in v.tolist())  # noqa: E731
wedges_lib.check("radius_far_worse", bool((fall > margin).all()),
                 f"at d = {cfg.dims[-1]} the best radius (c = {cfg.radii[best]:g}) to beat the largest "
                 f"(c = {cfg.radii[-1]:g}) in every seed by > {margin:.3f} ({SIGMAS} x the seed std)",
                 f"differences per seed {seeds_text(fall)}")
wedges_lib.check("radius_near_worse", bool((rise > margin).all()),
                 f"at d = {cfg.dims[-1]} the best radius (c = {cfg.radii[best]:g}) to beat the smallest "
                 f"(c = {cfg.radii[0]:g}) in every seed by > {margin:.3f} ({SIGMAS} x the seed std)",
                 f"differences per seed {seeds_text(rise)}")

# %% [markdown]
# ## Takeaway
#
# Where a random subspace sits matters, as {cite:t}`fort2019large` predict, but the network shows a band rather than
# "the further out the better". The wedge toy ({ref}`ch-toy-model`) captures the inner side: near the origin the
# wedges are thin in angle and the Hessian at the anchor has little positive curvature, so a random plane rarely
# finds low loss. The toy has no softmax, and its loss does not saturate: far from the origin a real network's
# logits are huge, the anchor sits on a plateau of confident wrong answers, and a random subspace of modest
# dimension cannot undo that. Wedges may still widen out there; a subspace anchored there just cannot use them.
#
# **Try it.** `python -m wedges_lib run book/02_radius_and_subspaces.py --scale cpu -p subspace_step absolute
# --out runs/abs` gives every radius the same step length instead of the same angle (a plane anchored near the
# origin can then travel outward along itself); `-p radii "[1.0, 1.0, 1.0]"` removes the radius effect, and the
# check fails, as it should.
