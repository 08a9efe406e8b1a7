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
# straight line between them, yet a curve with one bend joins them at low loss
# {cite:p}`garipov2018loss,draxler2018essentially`; the line from an initialisation to its solution descends
# monotonically {cite:p}`goodfellow2015qualitatively`. {cite:t}`fort2019large` explain all three with the wedges;
# later work credits them with a simple connector: a bend point that starts on the segment between the two solutions
# and descends the loss only in the hyperplane orthogonal to it, repeated on the new segments while a barrier is left.
#
# **Motivation.** A barrier on the straight line suggests isolated valleys; a low-loss curve says they are one
# valley, curved around the segment, and easy to find. The monotonic line from the start is as telling: the
# landscape is not convex, yet from where training starts it looks so. A referee asks first how much of the barrier
# is permutation symmetry: hidden units can be reordered without changing the function, and after such an
# alignment much of it vanishes {cite:p}`entezari2022role,ainsworth2023git`. We measure the barrier both ways.

# %% tags=["remove-cell"]
import torch

import wedges_lib
from wedges_lib import config, data, protocol
from wedges_lib.studies import ch04_pairs as study

torch.set_num_threads(1)  # small matrices: on a shared CPU extra threads mostly wait for each other

CHAPTER = "04_pairs_of_solutions"  # its own presets and its protocol section

# %% tags=["parameters", "hide-input"]
scale = None
seed = None
solution_seed = None
n_pairs = None
dataset = None
n_train = None
model = None
width = None
optimizer = None
lr = None
momentum = None
l2 = None
schedule = None
batch_size = None
steps = None
record_every = None
device = None
n_interp = None
curve_steps = None
curve_lr = None
connector_lr = None
fj_depth = None
fj_tol = None
pair_grid = None
align_widths = None
toy_D = None
toy_n = None
toy_K = None
toy_kappa = None
toy_law = None
toy_basis = None
toy_r_min = None
toy_runs = None
toy_r0 = None
toy_lr = None
toy_steps = None
toy_grid = None

# %% tags=["remove-cell"]
cfg = config.resolve_cell(globals(), CHAPTER)
ds = data.load(cfg.dataset, cfg.n_train, cfg.device)
claims = protocol.declare(CHAPTER)

# %% tags=["remove-input"]
protocol.what_would_count(CHAPTER, claims)

# %% [markdown]
# :::{admonition} Our protocol
# :class: note
# Each statistic is measured once per pair (the lines from initialisation once per network) on `n_pairs`
# independent pairs, pair $i$ holding networks $2i$, $2i + 1$ trained from the fresh seeds `solution_seed` + …
# (the width check: once per pair index, over `align_widths`); the curves' minibatches come from seed `seed` + $i$.
# These seeds are fresh: the chapter's protocol changed (the connector's bar and chain, the alignment controls
# given their own section, the checks against the aligned line), and its verdicts are judged on seeds no earlier
# version ran (the deviations list has the old seeds' results). Claim C4's headline is the least favourable of its
# primary checks after Holm's correction. Permutation alignment is a competing account of the barrier: its checks
# are controls with a heading of their own, and C4 is also judged on the barrier alignment leaves — do the curves
# still beat the aligned line? A line's monotonicity is its largest rise over its range.
#
# *The F&J connector.* We know it from two second-hand descriptions: one bend from the midpoint, and a recursion — a
# bend from the line's highest-loss point, in the hyperplane through it orthogonal to A–C, then the same on each new
# segment while its barrier exceeds a tolerance. We judge the recursion: it is the procedure as described, and a
# single bend is its first level. Its depth (`fj_depth`) and tolerance (`fj_tol`, a fraction of the line's barrier)
# were declared before its first run; one bend from the midpoint is shown beside it, unjudged.
#
# *Deviation (2026-12-06): the connector's bar, 0.25 → 0.1.* The connector was first judged at 0.25 of the line's
# barrier, argued thus (after its first cpu result, 0.112 [0.075, 0.149], was known): it descends the loss at its
# bend alone, never seeing the segments; were its bend at the ends' loss and each segment as curved as the line, a
# bump of constant curvature $\kappa$ on a segment of length $\ell$ being $\kappa \ell^2 / 8$ high, and each
# segment at least half as long as A–C, a quarter of the line's barrier would be left. A chain that recurses
# until its segments are low needs no such allowance: it is held to the curves' bar.
# :::
#
# ## Experiment
#
# **Pairs.** We train the $2 \times$ `n_pairs` networks in one vmapped pass and evaluate each pair's training loss
# on the line $(1-t)\,\theta_A + t\,\theta_C$ and on the line from each one's initialisation to it. A path's
# *barrier* is its highest loss minus the mean of its two ends. **Curves.** Each fits one point $B$, from the
# midpoint. The Bezier curve $(1-t)^2\theta_A + 2t(1-t)B + t^2\theta_C$ and the chain $A \to B \to C$ are trained as
# {cite:t}`garipov2018loss` do, on the mean minibatch loss at a few random $t$ per step. The connector of
# {cite:t}`fort2019large` starts $B$ at the line's highest-loss point and descends the loss *at $B$* alone, its
# gradient's component along $\theta_C - \theta_A$ projected out; then each segment whose barrier exceeds `fj_tol`
# of the line's gets a bend the same way, for at most `fj_depth` levels (level $k$: up to $2^k - 1$ bends). Beside
# it: one such bend from the midpoint, and a variant that keeps the midpoint's constraint but descends the whole
# chain. Each fit takes `curve_steps` SGD steps at `curve_lr` (`connector_lr` for the connector's bends). We also
# evaluate the plane through A, C and the Bezier bend B.
#
# **Alignment.** `wedges_lib.align` permutes C's hidden units to match A's by weight matching (the coordinate
# descent of {cite:t}`ainsworth2023git`) or by the correlation of their activations on the training inputs; the
# aligned C computes the same function. We measure the line from A to it, at every width of `align_widths` too.
# **The toy's account**: in the wedge model ({ref}`ch-toy-model`) two descents end on different wedges at $a$ and
# $c$; the line between them leaves both wedges, the chain $a \to b \to c$ through their intersection $b$ does not.

# %% tags=["hide-output"]
raw = study.run(cfg, ds)  # networks; per pair lines, curves, aligned lines; widths; the toy

# %% [markdown]
# ## Figures

# %% tags=["hide-input", "remove-output"]
fig = study.figures("pairs", raw, cfg, bar=claims["pairs_connector"].threshold)
wedges_lib.glue_figure("fig_pairs", fig)

# %% [markdown]
# ```{glue:figure} fig_pairs
# :name: fig-pairs
#
# Independently trained pairs of networks A and C (mean over the measured pairs, ±1 std shaded). Top left: the
# training loss along the straight line between them and along the four one-bend curves (log scale). Top right: for
# the first measured pair, the loss on the plane through A, C and the Bezier curve's bend B (log10 scale), with the
# straight line (dashed) and the Bezier curve. Bottom left: the loss along the straight line from each network's
# initialisation to its solution. Bottom right: the F&J connector's barrier over the line's after each level of
# recursion (level 0 is the line), with the curves' bar dashed.
# ```

# %% [markdown]
# **Along the paths.** The slider moves a point along the first measured pair's straight line and its Bezier
# curve (left, in the plane of {numref}`fig-pairs`) and reads the loss at it on each path (right), from the
# profiles above; it needs no kernel.

# %% tags=["hide-input"]
study.figures("explorer", raw, cfg)

# %% tags=["hide-input", "remove-output"]
fig = study.figures("toy", raw, cfg)
wedges_lib.glue_figure("fig_pairs_toy", fig)

# %% [markdown]
# ```{glue:figure} fig_pairs_toy
# :name: fig-pairs-toy
#
# The same story in the toy wedge model. Left: the loss on the plane through two solutions a, c on different wedges
# and the intersection point b (log scale, dark is zero). Right: the loss along the straight line a → c and along the
# chain through b (zero drawn at 1e-12).
# ```

# %% tags=["remove-cell"]
for name, value in study.numbers(raw, cfg).items():
    wedges_lib.record(name, value)
v = protocol.conclude(CHAPTER, study.judge(claims, study.statistics(raw), cfg.scale))
wedges_lib.record("pairs_connector_sentence", study.connector_sentence(v))
bar = claims["pairs_connector"].threshold
wedges_lib.record("pairs_fjchain_bends", study.bends_to_reach(raw["studies"], bar))

# %% [markdown]
# ## Result vs paper
#
# The measured pairs ({glue:text}`pairs_diverged` networks diverged) end at a mean training loss of
# {glue:text}`pairs_ends_loss`; on the straight line the loss rises by {glue:text}`pairs_line_barrier` and the
# accuracy drops by {glue:text}`pairs_line_acc_drop` on average ({numref}`fig-pairs`); along the curves, after
# {glue:text}`curve_steps` steps, by {glue:text}`pairs_bezier_acc_drop` (Bezier), {glue:text}`pairs_chain_acc_drop`
# (chain), {glue:text}`pairs_fj_acc_drop` (F&J, one bend at the midpoint) and {glue:text}`pairs_fjpath_acc_drop`
# (F&J, path). The lines from the initialisations fall by at least {glue:text}`pairs_init_drop` and rise by at most
# {glue:text}`pairs_init_rise`. In the toy the line's barrier is {glue:text}`pairs_toy_line`, the chain's through
# the intersection {glue:text}`pairs_toy_via` ({numref}`fig-pairs-toy`). Verdicts: mean [95 % interval] (scale, n).
#
# - A barrier on the straight line, **{glue:text}`pairs_line_badge`**: height {glue:text}`pairs_line_height_summary`
#   ({glue:text}`pairs_line_height_badge`); over the ends' loss {glue:text}`pairs_line_ratio_summary` (a sanity
#   check: any barrier over ends near zero loss is a large ratio, {glue:text}`pairs_line_ratio_badge`).
# - Curves trained on their path below {glue:text}`pairs_curves_bezier_threshold` of the line's barrier
#   {cite:p}`garipov2018loss,draxler2018essentially`, **{glue:text}`pairs_curves_badge`**: Bezier
#   {glue:text}`pairs_curves_bezier_summary` ({glue:text}`pairs_curves_bezier_badge`), chain
#   {glue:text}`pairs_curves_chain_summary` ({glue:text}`pairs_curves_chain_badge`), constrained chain
#   {glue:text}`pairs_curves_fjpath_summary` ({glue:text}`pairs_curves_fjpath_badge`).
# - The connector of {cite:t}`fort2019large`, recursing from the highest-loss point, below
#   {glue:text}`pairs_connector_threshold` of it, **{glue:text}`pairs_connector_badge`**:
#   {glue:text}`pairs_connector_summary`. {glue:text}`pairs_connector_sentence` Its barrier over the line's after
#   each level (one bend at level 1): {glue:text}`pairs_fjchain_levels`; bends it had when it first went below the
#   bar, per pair: {glue:text}`pairs_fjchain_bends` (bottom right of {numref}`fig-pairs`). One bend from the
#   midpoint, not judged: {glue:text}`pairs_fj_ratio` of the line's barrier on average.
# - Beyond permutation symmetry: a curve lower than the line after weight matching, the barrier alignment leaves
#   (below {glue:text}`pairs_beyond_bezier_threshold` of it), **{glue:text}`pairs_beyond_badge`**: Bezier
#   {glue:text}`pairs_beyond_bezier_summary` ({glue:text}`pairs_beyond_bezier_badge`), the F&J connector
#   {glue:text}`pairs_beyond_connector_summary` ({glue:text}`pairs_beyond_connector_badge`).
# - Monotonic lines from the initialisation {cite:p}`goodfellow2015qualitatively`,
#   **{glue:text}`pairs_monotonic_badge`**: {glue:text}`pairs_monotonic_summary`.
# - **Claim C4: {glue:text}`pairs_badge`** — the least favourable of the primary checks above after Holm's
#   correction: {glue:text}`pairs_summary`.
#
# ## What permutation symmetry explains
#
# Hidden units can be relabelled without changing the function, so part of the line's barrier may be a
# relabelling, not a valley: {cite:t}`entezari2022role` conjecture that it all is, once the units are matched,
# and weight matching {cite:p}`ainsworth2023git` removes much of it. That account competes with the wedges, so its
# checks are *controls*: they say how to read C4 and count for no claim (the checks against the aligned line above
# are C4's). After weight matching the line's barrier is {glue:text}`pairs_weight_barrier` (accuracy drop
# {glue:text}`pairs_weight_acc_drop`; activation matching: {glue:text}`pairs_activation_barrier`;
# {numref}`fig-pairs-symmetry`).
#
# - Weight matching removes most of the barrier, **{glue:text}`pairs_align_ratio_badge`**: aligned ÷ raw
#   {glue:text}`pairs_align_ratio_summary`; a barrier is left after it, **{glue:text}`pairs_align_height_badge`**:
#   {glue:text}`pairs_align_height_summary`.
# - Wider networks, a lower aligned barrier {cite:p}`entezari2022role`, **{glue:text}`pairs_width_badge`**:
#   {glue:text}`pairs_width_summary` per doubling; from width {glue:text}`pairs_w_narrow` to
#   {glue:text}`pairs_w_wide` the barrier goes {glue:text}`pairs_w_line_narrow` → {glue:text}`pairs_w_line_wide`
#   raw, {glue:text}`pairs_w_weight_narrow` → {glue:text}`pairs_w_weight_wide` after weight matching,
#   {glue:text}`pairs_w_activation_narrow` → {glue:text}`pairs_w_activation_wide` after activation matching.
# - Together, **{glue:text}`pairs_symmetry_badge`**: {glue:text}`pairs_symmetry_summary`.

# %% tags=["hide-input", "remove-output"]
fig = study.figures("symmetry", raw, cfg)
wedges_lib.glue_figure("fig_pairs_symmetry", fig)

# %% [markdown]
# ```{glue:figure} fig_pairs_symmetry
# :name: fig-pairs-symmetry
#
# What permutation symmetry explains (mean over the measured pairs, ±1 std). Left: the training loss along the
# straight line A → C, along the line to C aligned to A by weight matching and by activation matching (the same
# function as C), and along the Bezier curve (log scale). Right: the line's barrier against the width multiplier,
# before and after each alignment (mean over the pairs at each width, ±1 std).
# ```

# %% tags=["remove-input"]
protocol.sanity_list(CHAPTER, v)

# %% [markdown]
# ## Takeaway
#
# In the wedge model ({ref}`ch-toy-model`) low loss lives on intersecting wedges, thin in a few directions and long
# in all others. Two solutions on different wedges see a barrier on the segment between them: its middle is half-way
# out of each wedge, and nearer the origin, where wedges are narrower. A bend to where the wedges meet removes it,
# and since wedges are long that region is large and easy to reach. The networks ask what the toy hides: whether a
# bend point of low loss makes the segments to it low (the connector's verdict). From a random start the straight
# line to a solution only nears its wedge, so the loss falls all the way. The toy has no permutation symmetry: read
# literally, each relabelling of C is a solution on a wedge of its own and alignment picks the copy whose wedge lies
# nearest A's; what it leaves is a barrier between wedges that no relabelling removes, and the curves remove the raw
# barrier without one — whether they beat the aligned line is C4's own check ({glue:text}`pairs_beyond_badge`). A
# wider network has more long directions, so wedges meet in more room: a falling aligned barrier fits the model,
# which does not predict its size.
#
# **Try it.** `-p curve_steps 1` leaves every curve near the line and the curves' verdict falls to not reproduced:
# `python -m wedges_lib run book/04_pairs_of_solutions.py --scale smoke -p curve_steps 1 --out runs/x`.
