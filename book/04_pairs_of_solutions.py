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
# (ch-pairs)=
# # Pairs of solutions: a barrier on the line, a tunnel around it
#
# **Claim.** Two networks trained from different random initialisations are separated by a high barrier on the
# straight line between them, yet a simple curve with one bend joins them at low loss
# {cite:p}`garipov2018loss,draxler2018essentially`; and the straight line from an initialisation to its solution
# descends monotonically {cite:p}`goodfellow2015qualitatively`. {cite:t}`fort2019large` explain all three with
# one picture, the wedges; later work credits them with a very simple connector: a bend point that starts at the
# two solutions' midpoint and descends the loss only in the hyperplane orthogonal to the segment between them.
#
# **Motivation.** A barrier on the straight line suggests isolated valleys; a low-loss curve says they are one
# valley. Both hold at once, so the valley must be curved around the segment, and it must be easy to find: a
# bend point moved by plain gradient descent, with no search over paths. The monotonic line from the start is
# just as telling: the landscape is not convex, yet from where training starts it looks as if it were.

# %% tags=["remove-cell"]
import torch

import wedges_lib
from wedges_lib import cache, config, connect, data, plots, surfaces, toy, train

torch.set_num_threads(1)  # small matrices: on a shared CPU extra threads mostly wait for each other

# %% tags=["parameters"]
scale = None
seed = None
lr = None
steps = None
width = None
n_interp = None
curve_steps = None
curve_lr = None
connector_lr = None
pair_grid = None

# %% tags=["remove-cell"]
cfg = config.resolve(scale, seed=seed, lr=lr, steps=steps, width=width, n_interp=n_interp,
                     curve_steps=curve_steps, curve_lr=curve_lr, connector_lr=connector_lr, pair_grid=pair_grid)
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)
x, y = ds.x_train, ds.y_train
key = train.training_key(cfg)

# %% [markdown]
# ## Experiment
#
# **Two solutions.** We train two networks from the seeds `seed` and `seed + 1`, in one vmapped pass, and evaluate
# the training loss along the straight line $\theta(t) = (1-t)\,\theta_A + t\,\theta_C$ between them, and along
# the line from each one's initialisation to it. The *barrier* of a path is its highest loss minus the mean of
# its two ends.


# %% tags=["hide-output"]
def two_solutions() -> dict:
    run = train.train_config(cfg, ds, seeds=[cfg.seed, cfg.seed + 1], quiet=True)
    return {"theta0": run.theta0, "theta": run.theta, "diverged": bool(run.diverged.any()),
            "train_loss": run.history["loss"][-1], "test_acc": run.history["test_acc"][-1]}


sol = cache.cached("pairs-solutions", key, two_solutions)
model, _ = train.init(cfg, ds, cfg.seed)  # the architecture; the parameters are the vectors in `sol`
A, C = sol["theta"]
line = connect.profile(model, sol["theta"], cfg.n_interp, x=x, y=y)
from_init = [connect.profile(model, torch.stack([t0, t1]), cfg.n_interp, x=x, y=y)
             for t0, t1 in zip(sol["theta0"], sol["theta"])]
print(f"D = {A.numel()}; train loss {sol['train_loss'].tolist()}, test accuracy {sol['test_acc'].tolist()}")

# %% [markdown]
# **Curves.** Each curve fits one point $B$ (`wedges_lib.connect`), starting from the midpoint (the straight line).
# The quadratic Bezier curve $(1-t)^2\theta_A + 2t(1-t)B + t^2\theta_C$ and the polygonal chain $A \to B \to C$ are
# trained as {cite:t}`garipov2018loss` do: each step descends the mean minibatch loss at a few random $t$. The
# connector of {cite:t}`fort2019large` descends the loss *at $B$* alone, with the gradient's component along
# $\theta_C - \theta_A$ projected out, and uses the chain $A \to B \to C$; as a variant we keep its constraint but
# descend the loss along the whole chain. Every fit takes `curve_steps` SGD steps, at `curve_lr` for the path
# objectives and `connector_lr` for the connector.

# %%
fit = dict(data=ds, steps=cfg.curve_steps, batch_size=cfg.batch_size, seed=cfg.seed, quiet=True)
makers = {  # name -> (fit the bend, path kind)
    "Bezier": (lambda: connect.train_curve(model, A, C, kind="bezier", lr=cfg.curve_lr, **fit), "bezier"),
    "polygonal chain": (lambda: connect.train_curve(model, A, C, kind="polychain", lr=cfg.curve_lr, **fit),
                        "polychain"),
    "F&J connector": (lambda: connect.fj_connector(model, A, C, lr=cfg.connector_lr, **fit), "polychain"),
    "F&J, path objective": (lambda: connect.fj_connector(model, A, C, objective="path", lr=cfg.curve_lr, **fit),
                            "polychain")}
curve_key = {**key, "curve_steps": cfg.curve_steps, "curve_lr": cfg.curve_lr, "connector_lr": cfg.connector_lr}
bends = {name: cache.cached("pairs-bend", {**curve_key, "curve": name}, lambda: make().b)
         for name, (make, _) in makers.items()}
curves = {name: connect.profile(model, torch.stack([A, b, C]), cfg.n_interp, kind=makers[name][1], x=x, y=y)
          for name, b in bends.items()}

# %% [markdown]
# **The tunnel.** The Bezier curve lies in the plane through $\theta_A$, $\theta_C$ and its bend $B$; we evaluate
# the loss on a `pair_grid` $\times$ `pair_grid` grid of that plane (all grid points of a chunk in one vmapped pass).

# %%
plane = surfaces.plane_through(model, A, C, bends["Bezier"], n=cfg.pair_grid, x=x, y=y)
on_plane = lambda pts: torch.stack([(pts - A) @ plane["u"], (pts - A) @ plane["v"]], dim=1)  # noqa: E731
bezier_xy = on_plane(connect.curve_points(torch.stack([A, bends["Bezier"], C]), torch.linspace(0, 1, 50)))

# %% [markdown]
# **The toy's account.** In the wedge model of {ref}`ch-toy-model` two descents that end on different wedges give
# solutions $a$ and $c$; the straight line between them leaves both wedges, while the chain $a \to b \to c$ through
# a point $b$ where the two wedges intersect (towards $a + c$) never does.

# %%
tm = toy.make_wedges(cfg.toy_D, cfg.toy_n, cfg.toy_K, kappa=cfg.toy_kappa, law=cfg.toy_law, r_min=cfg.toy_r_min,
                     r_open=cfg.toy_r_min, basis=cfg.toy_basis, seed=cfg.seed)
ends = toy.descend(tm, toy.random_points(tm, cfg.toy_runs, cfg.toy_r0, seed=cfg.seed), lr=cfg.toy_lr,
                   steps=cfg.toy_steps).theta
i, j = toy.pick_pair(toy.wedge_of(tm, ends))
ta, tc = ends[i], ends[j]
tb = toy.joint_point(tm, ta, tc)  # toy.intersection_point of both wedges, at radius max(|a|, |c|), near a + c
toy_paths = {"straight a → c": toy.path_loss(tm, torch.stack([ta, tc]), 2 * cfg.toy_grid - 1),  # as many points
             "a → b → c (intersection)": toy.path_loss(tm, torch.stack([ta, tb, tc]), cfg.toy_grid)}
toy_sec = toy.plane_section(tm, ta, tc, tb, n=cfg.toy_grid)

# %% [markdown]
# ## Figures

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Two independently trained networks A and C. Left: the training loss along the straight line between them and along the four trained curves (log scale; the polygonal chain and the constrained chain trained on its path nearly coincide). Middle: the loss on the plane through A, C and the Bezier curve's bend B (log10 scale): the straight line crosses a ridge, the curve runs through a low-loss tunnel around it. Right: the straight line from each network's initialisation to its solution descends monotonically.", "name": "fig-pairs"}}
fig, ax = plots.figure(3, width=3.8)
plots.curves(ax[0, 0], line["t"], {"straight line": line["loss"], **{k: v["loss"] for k, v in curves.items()}},
             xlabel="t  (A → C)", ylabel="train cross-entropy", title="a barrier only on the line", logy=True)
lowest = min(float(v["loss"].min()) for v in [line, *curves.values()])
ax[0, 0].set_ylim(bottom=lowest / 100)  # room for the legend below the curves
ax[0, 0].legend(loc="lower left", fontsize=7)
P = plane["points"]
plots.contour(ax[0, 1], plane["xs"], plane["ys"], plane["loss"], points={"A": P[0], "C": P[1], "B (bend)": P[2]},
              xlabel="along C − A  (distance in θ)", ylabel="towards B  (distance in θ)", title="a low-loss tunnel",
              cbar_label="train loss")
ax[0, 1].plot(P[:2, 0], P[:2, 1], "--", color="black", lw=1.8, label="straight line")
plots.paths(ax[0, 1], {"Bezier curve": bezier_xy})
plots.curves(ax[0, 2], from_init[0]["t"], {f"network {k}": p["loss"] for k, p in zip("AC", from_init)},
             xlabel="t  (θ₀ → θ*)", ylabel="train cross-entropy", title="init → solution: monotonic", logy=True)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The same story in the toy wedge model. Left: the loss on the plane through two solutions a, c on different wedges and the intersection point b (log scale, dark is zero). Right: the loss along the straight line a → c and along the chain through b (zero drawn at 1e-12).", "name": "fig-pairs-toy"}}
fig, ax = plots.figure(2, width=3.8)
plots.section(ax[0, 0], toy_sec, names=("a", "c", "b"), xlabel="along c − a", ylabel="towards b",
              title="toy: the wedges meet at b")
plots.curves(ax[0, 1], toy_paths["straight a → c"][0], {k: v[1].clamp_min(1e-12) for k, v in toy_paths.items()},
             xlabel="position on the path (b at ½)", ylabel="toy loss", title="through b the loss stays zero",
             logy=True)

# %% [markdown]
# ## Result vs paper

# %% tags=["remove-cell"]
PATH_FRACTION, POINT_FRACTION = 0.1, 0.25  # a curve's barrier must be below this fraction of the line's
line_barrier = connect.barrier_height(line["loss"]).item()
ends_loss = 0.5 * (line["loss"][0] + line["loss"][-1]).item()
ratio = {k: connect.barrier_height(v["loss"]).item() / line_barrier for k, v in curves.items()}
drops = [(p["loss"][0] - p["loss"][-1]).item() for p in from_init]
rises = [connect.max_rise(p["loss"]).item() for p in from_init]
toy_barrier = {k: connect.barrier_height(v[1]).item() for k, v in toy_paths.items()}
for name, short in zip(curves, ("bezier", "chain", "fj", "fjpath")):
    wedges_lib.record(f"pairs_{short}_ratio", ratio[name])
    wedges_lib.record(f"pairs_{short}_acc_drop", connect.accuracy_drop(curves[name]["acc"]).item())
for name, value in dict(ends_loss=ends_loss, line_barrier=line_barrier, init_rise=max(rises), init_drop=min(drops),
                        line_acc_drop=connect.accuracy_drop(line["acc"]).item(), path_fraction=PATH_FRACTION,
                        point_fraction=POINT_FRACTION, toy_line=toy_barrier["straight a → c"],
                        toy_via=toy_barrier["a → b → c (intersection)"]).items():
    wedges_lib.record(f"pairs_{name}", value)
wedges_lib.record("curve_steps", cfg.curve_steps)

# %% [markdown]
# The two networks end at a mean training loss of {glue:text}`pairs_ends_loss`; on the straight line between them
# the loss rises by {glue:text}`pairs_line_barrier` and the training accuracy drops by
# {glue:text}`pairs_line_acc_drop` ({numref}`fig-pairs`). After {glue:text}`curve_steps` steps the barrier of each
# curve, as a fraction of the line's, is {glue:text}`pairs_bezier_ratio` for the Bezier curve,
# {glue:text}`pairs_chain_ratio` for the polygonal chain, {glue:text}`pairs_fj_ratio` for the connector of
# {cite:t}`fort2019large` and {glue:text}`pairs_fjpath_ratio` for its variant trained on the whole path; the largest
# accuracy drops along them are {glue:text}`pairs_bezier_acc_drop`, {glue:text}`pairs_chain_acc_drop`,
# {glue:text}`pairs_fj_acc_drop` and {glue:text}`pairs_fjpath_acc_drop`. The lines from the initialisations fall by
# at least {glue:text}`pairs_init_drop` and never rise by more than {glue:text}`pairs_init_rise`. In the toy the
# straight line's barrier is {glue:text}`pairs_toy_line` and the chain through the intersection's is
# {glue:text}`pairs_toy_via`, zero up to rounding ({numref}`fig-pairs-toy`).
#
# - A barrier on the straight line: **{glue:text}`pairs_line_verdict`**.
# - Curves trained on the whole path below {glue:text}`pairs_path_fraction` of it, as {cite:t}`garipov2018loss` and
#   {cite:t}`draxler2018essentially` found: **{glue:text}`pairs_curves_verdict`**.
# - The connector of {cite:t}`fort2019large` below {glue:text}`pairs_point_fraction` of it:
#   **{glue:text}`pairs_connector_verdict`**. Where it falls short, a bend point of low loss, found in the
#   hyperplane, has not made both segments low: what is left sits on the segments. The variant that descends the
#   whole path under the same constraint is held to the stricter bound above, so if it passes, the hyperplane is
#   not the limit, the objective is.
# - Monotonic lines from the initialisation {cite:p}`goodfellow2015qualitatively`:
#   **{glue:text}`pairs_monotonic_verdict`**.

# %% tags=["hide-input"]
assert not sol["diverged"], "training diverged: the chapter needs two converged networks"
wedges_lib.check("pairs_line", line_barrier > max(ends_loss, 0.05),
                 f"a barrier on the straight line above the endpoints' mean loss {ends_loss:.3f} (and above 0.05)",
                 f"barrier {line_barrier:.3f}")
path_trained = {k: v for k, v in ratio.items() if k != "F&J connector"}
wedges_lib.check("pairs_curves", max(path_trained.values()) < PATH_FRACTION,
                 f"every curve trained on its path below {PATH_FRACTION} of the line's barrier {line_barrier:.3f}",
                 ", ".join(f"{k} {v:.3f}" for k, v in path_trained.items()))
wedges_lib.check("pairs_connector", ratio["F&J connector"] < POINT_FRACTION,
                 f"the F&J connector below {POINT_FRACTION} of the line's barrier {line_barrier:.3f}",
                 f"{ratio['F&J connector']:.3f} of it")
wedges_lib.check("pairs_monotonic", all(r < 0.02 * d for r, d in zip(rises, drops)),
                 "monotonic init→solution lines (largest rise < 2 % of the drop, both networks)",
                 ", ".join(f"rise {r:.2e} of drop {d:.3f}" for r, d in zip(rises, drops)))

# %% [markdown]
# ## Takeaway
#
# In the wedge model ({ref}`ch-toy-model`) low loss lives on wedges: each is thin in a few directions and long in
# all the others, and wedges intersect. Two solutions on different wedges see a barrier on the segment between
# them: its middle is half-way out of each wedge along that wedge's short directions, and nearer the origin, where
# the wedges are narrower. A bend to where the two wedges meet removes it, and since the wedges are long that
# meeting region is large and easy to reach. The networks add a caveat the toy hides: a bend point of low loss need
# not make the straight segments to it low; training the path does. From a random start outside the wedges, the
# straight line to a solution only gets closer to the solution's wedge, so the loss, a distance to it, falls all
# the way.
#
# **Try it.** Train the curves longer or not at all (`-p curve_steps 1` makes every curve the straight line, and
# the curve check fails), or change the networks:
# `python -m wedges_lib run book/04_pairs_of_solutions.py --scale smoke -p curve_steps 1 --out runs/pairs-untrained`.
