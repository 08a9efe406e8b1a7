"""Every chapter at the paper scale, end to end, on a synthetic CIFAR-10 (random images in torchvision's layout).

The paper scale reads CIFAR-10 through torchvision; the real data is not here (no network), so a small CIFAR-10 in the
same files (cifar-10-batches-py: five train batches, a test batch, batches.meta) is written to a temporary
WEDGES_DATA, and each chapter runs through the CLI (`python -m wedges_lib run CHAPTER --scale paper`) with the paper
preset's data set, model, optimiser and schedule, and with its sizes shrunk (steps, seeds, grids, widths: SHRINK) so the
whole file takes a few minutes on 2 cores. What it shows: the paper path (data loading, the image models, every
chapter's code at the paper settings) runs to the end and records its numbers. What it cannot show: the paper's
results (random images, a handful of steps) or the paper scale's runtime on a GPU (book/90_reproducing_at_scale.md).
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_data import write_cifar10

from wedges_lib import config, notebook

ROOT = Path(__file__).resolve().parents[1]
# 91_benchmarks reads no data set: its paper setting is the full (non-quick) benchmark suite, timed in the book build.
SKIP = {"91_benchmarks": "reads no data set; at the paper scale it runs the full benchmark suite"}
CHAPTERS = sorted(p for p in (ROOT / "book").glob("[0-9][0-9]_*.py") if p.stem not in SKIP)
N_TRAIN, N_TEST = 250, 50  # synthetic images

# Small values of the knobs that set the cost; every other knob keeps its paper value (data set, model, optimiser,
# learning rates, schedules, L2, projection, radii...). A knob not listed here runs at its paper value.
SHRINK = dict(
    n_seeds=2, n_train=0, width=0.25, batch_size=32, steps=6, record_every=2, n_interp=5,
    toy_D=400, toy_n=20, toy_K=5, toy_runs=8, toy_steps=40, toy_dirs=4, toy_grid=11,
    plane_D=200, plane_n=10, plane_K=3, plane_dims=(2, 5, 10), plane_radii=(1.5, 3.0, 10.0), plane_seeds=2,
    plane_steps=30,
    dims=(10, 40), subspace_width=0.25, subspace_steps=6, goldilocks_dim=40, goldilocks_probes=2,
    goldilocks_examples=32, td_dims=(10, 20), td_subspaces=2, td_steps=6, burnin_steps=(2, 4),
    lrs=(0.05, 2.0), widths=(0.25, 0.5), l2s=(0.0, 0.005), hp_examples=32, hp_probes=2,
    curve_steps=4, pair_grid=3, n_pairs=2, align_widths=(0.25, 0.5),
    n_solutions=3, structure_steps=4, n_eval=4, set_grid=3, n_sets=2,
    n_members=3, ensemble_grid=3,
    lr_fractions=(1.0,), fge_cycle_epochs=1,
    own_n_train=32, own_n_test=8, own_steps=2, own_batch=8, own_bn_batches=1, own_curv_n=4, own_topk=1,
    own_lanczos=2, own_probes=2, own_grid=2, own_points=3, own_curve_steps=1,  # a ResNet-18: the smoke sizes
    own_repeats=2, own_measured=1, own_ascent_steps=1, own_snapshots=3,
)


# where a chapter sets a base knob for itself (config.CHAPTER_PRESETS), its own shrunk value
SHRINK_CHAPTER = {"03_hyperparameters": dict(steps=20, record_every=5),
                  "06_ensembles": dict(steps=12)}  # Garipov FGE's budget buys 3 cycle lows


@pytest.fixture(scope="module")
def paper_data(tmp_path_factory):
    """A WEDGES_DATA holding only the synthetic CIFAR-10 (and, later, the runs' cached results)."""
    root = tmp_path_factory.mktemp("paper-data")
    write_cifar10(root / "cifar10", n_train=N_TRAIN, n_test=N_TEST)
    return root


def test_shrunk_knobs_are_valid_and_smaller_than_the_papers():
    paper = config.PRESETS["paper"]
    for name, value in SHRINK.items():
        if name not in config.SPECS:
            continue  # a knob of a chapter that is not in this tree
        config.SPECS[name].check(name, value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name not in ("n_train", "own_measured"):
            # (for n_train and own_measured, 0 means all: any positive value is fewer)
            assert value <= paper[name], f"{name}: {value} is not a shrunk paper value ({paper[name]})"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_at_the_paper_scale_on_synthetic_cifar10(chapter, paper_data, tmp_path):
    knobs = notebook.parameters(chapter)
    overrides = {k: v for k, v in {**SHRINK, **SHRINK_CHAPTER.get(chapter.stem, {})}.items() if k in knobs}
    cmd = [sys.executable, "-m", "wedges_lib", "run", str(chapter), "--scale", "paper", "--out", str(tmp_path / "run"),
           "--quiet", *[a for k, v in overrides.items() for a in ("-p", k, repr(v))]]
    env = {**os.environ, "WEDGES_DATA": str(paper_data), "WEDGES_OFFLINE": "1", "WEDGES_SCALE": "paper"}
    start = time.time()
    p = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.time() - start
    assert p.returncode == 0, f"{chapter.name} at the paper scale failed after {seconds:.0f} s:\n{p.stderr[-3000:]}"
    params = json.loads((tmp_path / "run" / "params.json").read_text())
    assert params["scale"] == "paper"
    if "dataset" in params:
        assert params["dataset"] == "cifar10" and params["model"] == config.PRESETS["paper"]["model"], params
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()), f"{chapter.name} recorded no numbers"
    print(f"{chapter.stem}: {seconds:.1f} s at the paper scale (shrunk) on synthetic CIFAR-10")
