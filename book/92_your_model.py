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
# parameter vector alone. Yours may not be. This appendix is a report on any model, data, loss and checkpoints,
# made by one command:
#
# ```bash
# python -m wedges_lib run book/92_your_model.py --scale cpu -p own_model mypkg.nets:Net \
#     -p own_model_kwargs "{'num_classes': 10}" -p checkpoints run/step1000.pt,run/step2000.pt,run/step3000.pt \
#     -p own_data mypkg.data:make --out runs/my-report
# ```
#
# The run folder then holds the executed notebook, `report.html` (this page for your model, readable offline) and
# `metrics.json`. Every input is built, loaded and checked together before anything runs: each checkpoint against the
# model, the data against the model, the loss against its output; a bad one stops the run with one line that names
# the parameter. Without checkpoints, the appendix makes its own: two short runs of torchvision's ResNet-18, which
# has BatchNorm, on CIFAR-shaped random images. It puts them through every tool of the book: the Hessian's and the
# generalised Gauss-Newton's top eigenvalues and traces per layer, ε-sharpness, the loss at distances ρ‖θ‖, a
# filter-normalised plane {cite:p}`li2018visualizing`, a trajectory's PCA plane, and the line and a Bezier curve
# {cite:p}`garipov2018loss` between two checkpoints, before and after weight matching {cite:p}`ainsworth2023git`.
#
# **BatchNorm.** BatchNorm's running statistics were estimated for the trained weights; at an interpolated,
# averaged or perturbed point they are wrong unless re-estimated, as SWA's `update_bn` does for one model
# {cite:p}`izmailov2018averaging`. Wedges' evaluators take the policy `bn`: `"recompute"` (the default:
# re-estimated at every evaluated point on training batches, many points per vectorised pass), `"eval"`
# (the stored statistics: the last checkpoint's) or `"train"` (each batch's own). Any loss of (model output, batch)
# works too (`-p objective mypkg.losses:loss`, see `wedges_lib.objectives`).

# %% tags=["remove-cell"]
import wedges_lib
from wedges_lib import config, protocol, verdicts
from wedges_lib.studies import ch92_your_model as study

CHAPTER = "92_your_model"  # its own presets and its protocol section

# %% tags=["parameters", "hide-input"]
scale = None
seed = None
device = None
own_model = None
own_model_kwargs = None
checkpoints = None
own_data = None
objective = None
bn = None
own_n_train = None
own_n_test = None
own_steps = None
own_snapshots = None
own_lr = None
own_batch = None
own_bn_batches = None
own_curv_n = None
own_repeats = None
own_measured = None
own_topk = None
own_lanczos = None
own_probes = None
own_eps = None
own_ascent_steps = None
own_rhos = None
own_grid = None
own_points = None
own_curve_steps = None

# %% tags=["remove-cell"]
cfg = config.resolve_cell(globals(), CHAPTER)
inputs = study.check_inputs(cfg)  # model, checkpoints, data and loss, checked together

# %% tags=["remove-input"]
claims = protocol.declare(CHAPTER)
protocol.what_would_count(CHAPTER, claims)

# %% [markdown]
# ## Your model, your data, your loss
#
# One `Landscape` holds the model, the held-out batches the loss averages over, the objective and the BatchNorm
# policy; it is a batched loss of many parameter vectors at once. The curvature and the sharpness are measured on
# `own_repeats` disjoint training batches, each with its own probes and random start, the same at every checkpoint:
# every number below is a mean with its 95 % interval over those batches (or over random directions).

# %%
series = study.checkpoints(cfg, inputs)  # yours, or two short runs trained here (cached)
land, batches = study.landscapes(cfg, inputs)
n_train, n_test = len(inputs.data.y_train), len(inputs.data.y_test)
print(f"{inputs.described}: {series.thetas.shape[1]:,} parameters;",
      f"checkpoints {', '.join(series.names)}; data {cfg.own_data}",
      f"({n_train} train, {n_test} held out); bn={cfg.bn}")

# %% [markdown]
# ## Curvature and sharpness along the checkpoints
#
# At each measured checkpoint (`own_measured` of them, spread over the series with the last; 0 measures every one):
# the Hessian's and the Gauss-Newton's top eigenvalues (Lanczos; BatchNorm statistics
# recomputed at the point, then fixed), their traces per layer (Hutchinson probes shared by the layers; a layer's
# trace is its diagonal block's, the total their sum), and Keskar et al.'s (2017) ε-sharpness,
#
# $$\phi_\epsilon(\theta) = 100 \cdot \frac{\max_{\delta \in C_\epsilon} L(\theta + \delta) - L(\theta)}{1 + L(\theta)},
# \qquad C_\epsilon = \{\delta : |\delta_i| \le \epsilon\,(|\theta_i| + 1)\},$$
#
# maximised by a few steps of projected sign-gradient ascent from a random point of the box. All on one schedule:
# the same batches, probes and starts at every checkpoint, so that the trends of $\lambda_{\max}$, the traces and
# the sharpness can be compared.

# %%
curv = study.curvature_along(cfg, inputs, land, batches, series)
study.tables("curvature", series, curv)

# %% tags=["hide-input", "remove-output"]
fig = study.figures("curvature", series, curv)
wedges_lib.glue_figure("fig_own_curvature", fig)

# %% [markdown]
# ```{glue:figure} fig_own_curvature
# :name: fig-own-curvature
#
# Curvature along the checkpoints, each point a mean with its 95 % interval over the batches. Top: the top eigenvalue
# and the trace of the Hessian and of the generalised Gauss-Newton. Bottom left: Keskar's ε-sharpness. Bottom right:
# the trace of each layer's diagonal block at the last checkpoint.
# ```

# %% [markdown]
# ## The loss far away: random directions at distances ρ‖θ‖
#
# The held-out loss at θ + ρ‖θ‖ d, d a random unit direction, for each ρ of `own_rhos`: how far the low loss
# reaches around each measured checkpoint on the scale of the weights themselves (the wedges' long directions).

# %%
dist = study.distances(cfg, land, series)

# %% tags=["hide-input", "remove-output"]
fig = study.figures("distances", series, dist)
wedges_lib.glue_figure("fig_own_distances", fig)

# %% [markdown]
# ```{glue:figure} fig_own_distances
# :name: fig-own-distances
#
# The rise of the held-out loss at distance ρ‖θ‖ along random directions from each checkpoint: means with 95 %
# intervals over the directions.
# ```

# %% [markdown]
# ## Planes: random, through checkpoints, and a trajectory's PCA plane
#
# A filter-normalised random plane around the last checkpoint, the plane through up to three checkpoints, and the
# PCA plane of the whole series (Li et al.'s trajectory plot). A checkpoint drawn on a PCA plane is its
# projection: where it lies off the plane, the contour under it shows another point's loss. The table gives each
# checkpoint's distance from the plane and its true loss beside the loss the plane shows at its projection.

# %%
pl = study.planes(cfg, land, series)
study.tables("pca", series, pl=pl) if "pca" in pl else print("one or two checkpoints: no PCA plane")

# %% tags=["hide-input", "remove-output"]
fig = study.figures("planes", series, pl)
wedges_lib.glue_figure("fig_own_planes", fig)

# %% [markdown]
# ```{glue:figure} fig_own_planes
# :name: fig-own-planes
#
# Held-out loss on a filter-normalised random plane around the last checkpoint, on the plane through up to three
# checkpoints (true distances), and on the PCA plane of the series, each checkpoint at its projection and labelled
# with its true loss.
# ```

# %% [markdown]
# ## Between two checkpoints, before and after weight matching
#
# The straight line and a fitted Bezier curve between the first and the last checkpoint (the two runs' ends
# without checkpoints), BatchNorm per `bn` at every point, and, for a BatchNorm model, the line once more with
# batch statistics. Where `wedges_lib.align` can permute the model (chains of Linear and convolution layers), the
# last checkpoint is permuted to match the first by weight matching, the permuted network is checked to compute the
# same function, and the line and curve are drawn again; otherwise the report says why it is not aligned.

# %%
pth = study.paths(cfg, inputs, land, series.pair) if series.pair is not None else None
print("one checkpoint: no line" if pth is None else f"{pth['how']}; the permuted network's "
      f"largest relative output change: {pth['same_function']:.2g}")

# %% tags=["hide-input", "remove-output"]
fig = study.figures("paths", series, pth) if pth is not None else None
wedges_lib.glue_figure("fig_own_paths", fig)

# %% [markdown]
# ```{glue:figure} fig_own_paths
# :name: fig-own-paths
#
# Held-out loss along the line and the fitted Bezier curve between two checkpoints, before and, where the model allows
# it, after weight matching; for a BatchNorm model also the line with batch statistics.
# ```

# %% tags=["remove-cell"]
numbers = study.numbers(series, curv, dist, pl, pth)
per_point, max_dev = study.bn_agreement(land, *study.checked_points(series, dist, pth))
numbers |= {"own_max_dev": max_dev, "own_points_checked": len(per_point)}
for k, v in numbers.items():
    wedges_lib.record(k, v)

# %% [markdown]
# ## Result
#
# The model has {glue:text}`own_D` parameters in {glue:text}`own_blocks` layers; the report reads
# {glue:text}`own_K` checkpoints ({numref}`fig-own-curvature`). At the last one the top Hessian eigenvalue is
# {glue:text}`own_hessian_top`, the top GGN eigenvalue {glue:text}`own_ggn_top` (Lanczos, tolerance 1e-2;
# {glue:text}`own_unconverged` runs hit the cap), the traces {glue:text}`own_hessian_trace` (Hessian) and
# {glue:text}`own_ggn_trace` (GGN), and the ε-sharpness {glue:text}`own_eps_sharpness` % (means with 95 % intervals
# over the batches). At ρ = 0.3 the held-out loss rises by {glue:text}`own_rise_far` ({numref}`fig-own-distances`).
# The PCA plane holds {glue:text}`own_pca_explained` of the series' variance; the largest gap between a checkpoint's
# true loss and the plane's loss at its projection is {glue:text}`own_worst_gap` ({numref}`fig-own-planes`). Between
# the two ends the line rises by {glue:text}`own_line_barrier`, the Bezier curve by {glue:text}`own_curve_barrier`
# ({glue:text}`own_alignment`; {numref}`fig-own-paths`). At the {glue:text}`own_points_checked` checkpoints and points
# of the line and curve, Wedges' losses differ from plain PyTorch under the same BatchNorm policy (`update_bn` for
# `recompute`) by at most {glue:text}`own_max_dev`: agreement is **{glue:text}`own_bn_agree_badge`**.

# %% tags=["hide-input"]
worst = verdicts.exact(claims["own_bn_agree"], max(per_point),
                       why=f"{max(per_point):.3g}, the worst of {len(per_point)} points")
judged = {"own_bn_agree": verdicts.combine("own_bn_agree", [worst], kind="sanity")}
protocol.sanity_list(CHAPTER, protocol.conclude(CHAPTER, judged))

# %% [markdown]
# ## Takeaway
#
# Any `nn.Module` goes in as it is, with one word for what BatchNorm does at a point; any checkpoints, data and loss
# too. A PCA plane of a trajectory is honest only where its checkpoints lie on it: the table says how far they do
# not. The demonstration's data are random images: its numbers say nothing about ResNets on CIFAR, which the paper
# scale runs.
#
# **Try it.** The command at the top of this page on your own model and checkpoints; `-p own_data cifar10` (on
# disk) or `mnist1d`; `-p bn eval`; `-p own_eps 5e-4`. In your own code, `Landscape(your_model, your_batches,
# objective=your_loss)` and the calls of `wedges_lib.studies.ch92_your_model`; `operators.ef_loss` gives the
# empirical Fisher, `Landscape.load(theta)` a plain model with recomputed statistics (SWA's `update_bn` step).
