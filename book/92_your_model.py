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
# (ch-your-model)=
# # Appendix: your own model
#
# The book's networks are the library's own, and they use GroupNorm, so that a network is a function of its
# parameter vector alone. Yours may not be. This appendix takes a model the library never built — torchvision's
# ResNet-18, with BatchNorm — and puts it through every tool of the book, each in the few lines it takes: the
# Hessian's and the generalised Gauss-Newton's top eigenvalues, traces per layer, a filter-normalised plane
# {cite:p}`li2018visualizing`, and the line and a Bezier curve {cite:p}`garipov2018loss` between two short runs.
#
# **BatchNorm.** BatchNorm's running statistics were estimated for the trained weights; at an interpolated,
# averaged or perturbed point they are wrong unless re-estimated, as SWA's `update_bn` does for one model
# {cite:p}`izmailov2018averaging`. Wedges' evaluators take the policy `bn`: `"recompute"` (the default:
# re-estimated at every evaluated point on training batches, many points per vectorised pass), `"eval"`
# (stored) or `"train"` (each batch's own); a BatchNorm model without a policy is an error. Any loss of
# (model output, batch) and batches that are tuples or dicts of tensors work too (`wedges_lib.objectives`).

# %% tags=["remove-cell"]
import warnings

import torch

import wedges_lib
from wedges_lib import cache, config, connect, curvature, operators, plots, protocol, surfaces, verdicts
from wedges_lib.landscape import Landscape
from wedges_lib.objectives import split
from wedges_lib.studies.ch92_your_model import init, load_data, train_runs, update_bn_check

# %% tags=["parameters", "hide-input"]
scale = None
seed = None
device = None
own_data = None
own_n_train = None
own_n_test = None
own_steps = None
own_lr = None
own_batch = None
own_bn_batches = None
own_curv_n = None
own_topk = None
own_lanczos = None
own_probes = None
own_grid = None
own_points = None
own_curve_steps = None

# %% tags=["remove-cell"]
cfg = config.resolve_cell(globals())
ds = load_data(cfg.own_data, cfg.own_n_train, cfg.own_n_test, cfg.seed)
ds = ds.to(config.pick_device(cfg.device))
net, theta0 = init(ds.n_classes, [cfg.seed, cfg.seed + 1], ds.x_train.device)  # 2 inits

# %% tags=["remove-input"]
CHAPTER = "92_your_model"  # its section of the book's protocol (wedges_lib/protocol.yml)
claims = protocol.declare(CHAPTER)
protocol.what_would_count(CHAPTER, claims)

# %% [markdown]
# ## Your model, your data, your loss
#
# At the smoke and cpu scales the data are random images shaped like CIFAR-10 (each class a smooth random
# prototype plus noise); the paper scale reads CIFAR-10. One `Landscape` holds the model, the batches the loss
# averages over, the objective and the BatchNorm policy; it is a batched loss of many parameter vectors at once:

# %%
train_batches = split(ds.x_train, ds.y_train, size=cfg.own_batch)
bn_batches = train_batches[:cfg.own_bn_batches]  # BatchNorm statistics are recomputed on these
land = Landscape(net, [(ds.x_test, ds.y_test)], bn="recompute", bn_batches=bn_batches)

# %% [markdown]
# Two short runs from two seeds, trained in one vectorised pass with batch statistics (nothing stored):

# %%
def two_runs(cfg, model, data, theta0):
    land = Landscape(model, [(data.x_test, data.y_test)])
    return train_runs(land, theta0, data, seeds=[cfg.seed, cfg.seed + 1], steps=cfg.own_steps,
                      lr=cfg.own_lr, batch_size=cfg.own_batch)


a, c = cache.cached("own-runs", cfg, two_runs, model=net, data=ds, theta0=theta0)

# %% [markdown]
# ## Curvature: Hessian, Gauss-Newton, per layer
#
# The Hessian at `a` (BatchNorm statistics recomputed at `a`, then fixed), the generalised Gauss-Newton through
# the same Lanczos, and Hutchinson traces of every layer's diagonal block from one set of probes:

# %%
n = cfg.own_curv_n
curv = Landscape(net, [(ds.x_train[:n], ds.y_train[:n])], bn_batches=bn_batches)
losses = {"Hessian": curv.loss_fn(a), "GGN": operators.ggn_loss(curv, a)}
blocks = operators.layer_blocks(net)
with warnings.catch_warnings(record=True) as unconverged:
    warnings.simplefilter("always")
    top = {k: curvature.top_eigenvalues(f, a, k=cfg.own_topk, max_iter=cfg.own_lanczos,
                                        tol=1e-2)[0] for k, f in losses.items()}
layer_traces = {k: operators.block_traces(f, a, blocks, n_probes=cfg.own_probes, batch=1,
                                          seed=cfg.seed) for k, f in losses.items()}

# %% [markdown]
# ## A plane, a line and a curve, BatchNorm recomputed at every point
#
# A random filter-normalised plane around `a`, the straight line `a` → `c` (once more with batch statistics,
# for contrast), and a Bezier curve fitted between them (in train mode, as Garipov et al. fit theirs):

# %%
plane = surfaces.random_plane(land, a, n=cfg.own_grid, lay=land.lay, seed=cfg.seed)
line = surfaces.line(land, a, c, cfg.own_points)
line_batch = surfaces.line(Landscape(net, land.batches, bn="train"), a, c, cfg.own_points)


def bezier(cfg, model, data, a, c):
    land = Landscape(model, [(data.x_test, data.y_test)])
    fit = connect.train_curve(land.xy_loss(), a, c, kind="bezier", data=data, n_t=1, quiet=True,
                              seed=cfg.seed, steps=cfg.own_curve_steps, lr=cfg.own_lr,
                              batch_size=cfg.own_batch)
    return fit.b


bend = cache.cached("own-bezier", cfg, bezier, model=net, data=ds, a=a, c=c)
curve = connect.profile(land, torch.stack([a, bend, c]), cfg.own_points, kind="bezier")

# %% tags=["remove-cell"]
paths = {"line": (torch.stack([a, c]), line), "Bezier": (torch.stack([a, bend, c]), curve)}
per_point, max_dev = update_bn_check(land, paths)  # against torch.optim.swa_utils.update_bn
total = {k: sum(e.value for e in v.values()) for k, v in layer_traces.items()}
unconverged = [w for w in unconverged if "Lanczos stopped" in str(w.message)]
numbers = {"own_D": a.numel(), "own_blocks": len(blocks), "own_unconverged": len(unconverged),
           "own_hessian_top": top["Hessian"][0], "own_ggn_top": top["GGN"][0],
           "own_hessian_trace": total["Hessian"], "own_ggn_trace": total["GGN"],
           "own_end_loss": 0.5 * (line["loss"][0] + line["loss"][-1]),
           "own_line_barrier": connect.barrier_height(line["loss"]),
           "own_batch_barrier": connect.barrier_height(line_batch["loss"]),
           "own_curve_barrier": connect.barrier_height(curve["loss"]),
           "own_max_dev": max_dev, "own_points_checked": len(per_point)}
for k, v in numbers.items():
    wedges_lib.record(k, float(v) if torch.is_tensor(v) else v)

# %% [markdown]
# ## Figure

# %% tags=["hide-input"] mystnb={"figure": {"caption": "A torchvision ResNet-18 through Wedges. Top left: the top Hessian and GGN eigenvalues at run a. Top right: the trace of each layer's diagonal block, Hessian and GGN (Hutchinson, shared probes). Bottom left: held-out loss on a filter-normalised random plane around a, BatchNorm recomputed at every grid point. Bottom right: held-out loss on the line a → c with BatchNorm recomputed and with batch statistics, and on the fitted Bezier curve.", "name": "fig-your-model"}}
fig, ax = plots.figure(2, 2, width=4.2, height=3.0)
plots.curves(ax[0, 0], range(1, cfg.own_topk + 1), top, xlabel="rank", ylabel="eigenvalue",
             title="top eigenvalues at a", marker="o")
per_layer = {k: [e.value for e in v.values()] for k, v in layer_traces.items()}
plots.curves(ax[0, 1], range(len(blocks)), per_layer, xlabel="layer (input → output)",
             ylabel="trace of its block", title="curvature per layer")
plots.contour(ax[1, 0], plane["xs"], plane["ys"], plane["loss"], points={"a": (0.0, 0.0)},
              title="filter-normalised plane")
plots.curves(ax[1, 1], line["t"], {"line, BN recomputed": line["loss"], "line, batch statistics":
             line_batch["loss"], "Bezier, BN recomputed": curve["loss"]}, xlabel="t  (a → c)",
             ylabel="held-out cross-entropy", title="line and curve between two runs")

# %% [markdown]
# ## Result
#
# The ResNet-18 has {glue:text}`own_D` parameters in {glue:text}`own_blocks` layers ({numref}`fig-your-model`).
# At run `a` the top Hessian eigenvalue is {glue:text}`own_hessian_top`, the top GGN eigenvalue
# {glue:text}`own_ggn_top` (Lanczos, tolerance 1e-2; {glue:text}`own_unconverged` hit the cap); layer traces sum to
# {glue:text}`own_hessian_trace` (Hessian) and {glue:text}`own_ggn_trace` (GGN). Between the two runs, whose
# held-out loss averages {glue:text}`own_end_loss`, the straight line rises by {glue:text}`own_line_barrier`
# with BatchNorm recomputed and by {glue:text}`own_batch_barrier` with batch statistics; the fitted Bezier
# curve's barrier is {glue:text}`own_curve_barrier`. At the {glue:text}`own_points_checked` points of the line
# and the curve, Wedges' losses differ from plain PyTorch with `update_bn` by at most
# {glue:text}`own_max_dev`: agreement is **{glue:text}`own_bn_agree_badge`**.

# %% tags=["hide-input"]
worst = verdicts.exact(claims["own_bn_agree"], max(per_point),
                       why=f"{max(per_point):.3g}, the worst of {len(per_point)} points")
protocol.sanity_list(CHAPTER, protocol.conclude(CHAPTER, {"own_bn_agree": verdicts.combine("own_bn_agree", [worst],
                                                                                         kind="sanity")}))

# %% [markdown]
# ## Takeaway
#
# Any `nn.Module` goes in as it is, with one word for what BatchNorm does at a point. The cpu scale's data are
# random images: its numbers say nothing about ResNets on CIFAR, which the paper scale runs.
#
# **Try it.** `python -m wedges_lib run book/92_your_model.py --scale paper` (CIFAR-10 on disk), or in your code
# `Landscape(your_model, your_batches, objective=your_loss)` and the calls above; `operators.ef_loss` gives the
# empirical Fisher, `Landscape.load(theta)` a plain model with recomputed statistics (SWA's `update_bn` step).
