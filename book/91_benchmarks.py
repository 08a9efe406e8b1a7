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
# (ch-benchmarks)=
# # Appendix: benchmarks
#
# Wedges leans on `torch.func` to evaluate many parameter vectors in one vectorised pass. This page runs the
# benchmarks in `benchmarks/` on the machine that builds the book and sets Wedges against a peer doing the same
# job: training an ensemble one member after another; PyHessian {cite:p}`yao2020pyhessian` for Hessian
# eigenvalues and traces; loss-landscapes for a filter-normalised random plane {cite:p}`li2018visualizing`;
# plain training for the cost of training in a random subspace {cite:p}`li2018intrinsic`; rebasin for permutation
# alignment by weight matching {cite:p}`ainsworth2023git`. Each benchmark is a script one can run alone
# (`python -m benchmarks.NAME --help`); here each runs in a fresh process, one after another, and writes its
# rows to a JSON file that this page reads. The full suite's saved runs follow this build's, each under the machine,
# date and commit it was measured on.
#
# Read every **ratio** as the peer's figure divided by Wedges' (above 1: Wedges is faster or smaller). The
# **goal** is the ratio asked of Wedges when the feature was built; **agreement** says how close Wedges' answer
# is to the reference, so that a speed-up never comes from computing something else. Timings depend on the
# machine and its load: the numbers below are this build's, not a promise. Each timing is the median of
# rounds that alternate the methods; **ratio range** is the smallest and largest ratio of one round.

# %% tags=["remove-cell"]
import math
import os

import torch
from IPython.display import Markdown, display

import wedges_lib
from benchmarks import build_time, suite  # runs the benchmarks, reads saved runs, draws tables
from wedges_lib import config, protocol, verdicts

CHAPTER = "91_benchmarks"  # its own presets and its protocol section

# %% tags=["parameters", "hide-input"]
scale = None

# %% tags=["remove-cell"]
cfg = config.resolve_cell(globals(), CHAPTER)
quick = cfg.scale != "paper"  # smoke and cpu: each benchmark's quick version; paper: the full suite

# %% tags=["remove-cell"]
claims = protocol.declare(CHAPTER)  # bench_agree_{benchmark}: every checked row within tolerance
AGREE = [name.removeprefix("bench_agree_") for name in claims]

# %% tags=["remove-input"]
protocol.what_would_count(CHAPTER, claims)

# %% [markdown]
# Here nothing depends on a seed: each checked row is one deterministic measurement (its interval is the value
# itself), judged alone against its tolerance: **reproduced** within it, **contradicted** outside. A benchmark's
# verdict is its least favourable row's. These checks guard the library's numbers, so they are sanity checks: they
# count for no claim of the paper. The subspace benchmark checks no answer (it times training only).

# %% [markdown]
# ## Experiment
#
# At the `smoke` and `cpu` scales each script runs its quick version: one round, smaller problems, and fewer rows
# (the curvature benchmark without its trained network and its scipy baseline, the subspace benchmark without the
# blocked projection). It tests that every benchmark runs and that every answer agrees with its reference, in about a
# minute of the build; its timings are one noisy round. At `paper` the full suite runs (about five minutes on one
# CPU thread). The full suite's figures are the saved runs in the next section.

# %%
rows = suite.run_all(device="cpu", quick=quick)  # each in a fresh process, one after another
print(f"{suite.machine()}, torch {torch.__version__}, 1-min load average after the runs "
      f"{os.getloadavg()[0]:.1f}")

# %% [markdown]
# ## Results

# %% tags=["remove-input"]
for name, rs in rows.items():
    display(*suite.tables(name, rs))

# %% tags=["remove-cell"]
met = [r.goal_met for rs in rows.values() for r in rs]
wedges_lib.record("bench_goals", sum(m != "" for m in met))
wedges_lib.record("bench_goals_met", sum(m == "yes" for m in met))
wedges_lib.record("bench_scale", cfg.scale)
wedges_lib.record("bench_version", "each benchmark's quick version" if quick else "the full suite")

# %% [markdown]
# This build ran {glue:text}`bench_version` at the **{glue:text}`bench_scale`** scale;
# {glue:text}`bench_goals_met` of its {glue:text}`bench_goals` speed rows meet their goal. Where a goal is missed the
# table says so: the library's features do what they should (the agreement column), and how far they are from the
# goal is a measurement, not a failure of the build. **Ratio at peak** (ratio / of peak) is the ratio Wedges would
# reach doing the same work at the matmul peak: a goal above it asks for less work, not faster code.
#
# Every answer must agree with its reference: **{glue:text}`bench_agree_badge`** — ensemble
# {glue:text}`bench_agree_ensemble_badge` ({glue:text}`bench_agree_ensemble_summary`); curvature
# {glue:text}`bench_agree_curvature_badge` ({glue:text}`bench_agree_curvature_summary`); surfaces
# {glue:text}`bench_agree_surfaces_badge` ({glue:text}`bench_agree_surfaces_summary`); alignment
# {glue:text}`bench_agree_align_badge` ({glue:text}`bench_agree_align_summary`). The overall verdict
# follows the same rule over the four benchmarks.

# %% tags=["hide-input"]
def agreement_verdict(name: str) -> verdicts.Verdict:
    """A benchmark's verdict (recorded): each checked row judged exactly on agreement / tolerance
    (verdicts.exact; a NaN is not reproduced), the rows combined."""
    claim = claims[f"bench_agree_{name}"]
    parts = [verdicts.exact(claim, r.agreement / r.tolerance, label=r.task,
                            why=f"{r.agreement / r.tolerance:.2g} × tolerance")
             for r in rows[name] if r.agrees is not None]
    parts = parts or [verdicts.exact(claim, math.nan, label="no checked row")]
    wedges_lib.record(f"{claim.name}_worst", max(p.mean for p in parts) if all(
        math.isfinite(p.mean) for p in parts) else math.nan)
    return verdicts.combine(claim.name, parts, kind="sanity", what="checked rows")


overall = {f"bench_agree_{name}": agreement_verdict(name) for name in AGREE}
overall = protocol.conclude(CHAPTER, overall)

# %% [markdown]
# ## Saved runs of the full suite
#
# `python -m benchmarks.suite --save` runs the full suite on a quiet machine and keeps its rows in
# `benchmarks/results/` (on a GPU: `--device cuda --save`, since a GPU's rows cannot be measured while the book builds
# on a CPU). Each saved run is shown as it was measured, under its device, date and commit; it is not part of this
# build's verdicts.

# %% tags=["remove-input"]
runs = suite.saved()
for run in runs:
    display(Markdown(f"**{run['device']}**, measured {run['date']} at commit `{run['commit']}` "
                     f"with torch {run['torch']}"
                     + (" (each benchmark's quick version)" if run["quick"] else "")))
    for name, rs in run["benchmarks"].items():
        display(*suite.tables(name, rs))
if not runs:
    display(Markdown("No run is saved in `benchmarks/results/` yet."))

# %% [markdown]
# ## The book's own build
#
# The README's first command builds this book cold; `python -m benchmarks.build_time --save` times it into a
# temporary folder with empty caches (every chapter executed, two at a time on two cores: `wedges_lib.execution`)
# and keeps the record in `benchmarks/results/builds/`. The last saved build, each chapter beside its budget
# (`wedges_lib.presets.CHAPTER_BUDGETS`, seconds at the cpu scale):

# %% tags=["remove-input"]
Markdown(build_time.markdown(build_time.saved_build("cpu")))

# %% [markdown]
# ## Takeaway
#
# Vectorising over parameter vectors pays most where a peer loops in Python over small pieces of work: many
# grid points of a plane, many ensemble members, many Lanczos vectors. Where the work per call is already one
# large matrix product (a Hutchinson probe of a big network), the gain must come from fewer of them: deflating
# the Lanczos space pays where a few eigenvalues hold much of the Hessian (a trained network), little on the
# broad spectrum of a network at initialisation, and for a ReLU network the trace needs no probe at all
# (Tr H = Tr GGN, computed exactly); "of peak" (of the machine's matmul FLOP/s) says how close. The ensemble
# rows also set Wedges against the loop a PyTorch user writes (an `nn.Module` and `torch.optim.SGD`, one member
# after another): a lone member trained by Wedges takes the same batched path as the stack, so the first row
# measures batching alone.
# On a GPU, where a small network leaves most of the device idle, batching matters more; see
# {ref}`ch-reproducing` for running the chapters there.
#
# **Try it.** `python -m benchmarks.curvature --threads 2`, `python -m benchmarks.suite --quick` (every benchmark,
# one after another; `--save` keeps the run for this page), or build this page with the full suite:
# `python -m wedges_lib run book/91_benchmarks.py --scale paper --out runs/bench`.
