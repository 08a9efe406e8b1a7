"""Every parameter any chapter may take: its type, valid values, meaning and value at each scale.

This module is the registry. Importing it (or :mod:`wedges_lib.config`, which reads it) gives the whole
table; nothing is added from elsewhere. A chapter's parameters cell lists the names it reads, and
:func:`wedges_lib.config.resolve` fills the ones left ``None`` from ``PRESETS[scale]``.
The choice tuples below (``LAWS``, ``PROJECTIONS``, ...) are the library's own: the modules that
implement them import them from here.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .validation import Param, check_arg

SCALES = ("smoke", "cpu", "paper")
DATASETS = ("mnist1d", "cifar10", "cifar100", "fashion_mnist")
MODELS = ("mlp", "cnn1d", "cifar_cnn", "resnet", "mlp_invariant", "mlp_gelu")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "step", "cosine")
DEVICES = ("auto", "cpu", "cuda")
LAWS = ("linear", "sqrt", "const")  # the toy's width-growth laws
BASES = ("subspace", "coords")  # the toy's short directions
PROJECTIONS = ("dense", "blocked", "sparse", "fastfood")
STEPS = ("absolute", "relative")  # subspace steps

# --- the knobs every training chapter shares --------------------------------------------------------

SPECS: dict[str, Param] = {
    "scale": Param(str, "preset that fills unset parameters", choices=SCALES),
    "seed": Param(int, "base random seed", low=0),
    "n_seeds": Param(int, "independent repetitions for error bars", low=1),
    "dataset": Param(str, "dataset name", choices=DATASETS),
    "n_train": Param(int, "training examples used (0 = all)", low=0),
    "model": Param(str, "architecture", choices=MODELS),
    "width": Param(float, "width multiplier", low=0, low_open=True),
    "optimizer": Param(str, "optimiser", choices=OPTIMIZERS),
    "lr": Param(float, "learning rate", low=0, low_open=True),
    "momentum": Param(float, "SGD momentum", low=0, high=0.999),
    "l2": Param(float, "L2 penalty strength (coupled weight decay)", low=0),
    "schedule": Param(str, "learning-rate schedule", choices=SCHEDULES),
    "batch_size": Param(int, "minibatch size", low=1),
    "steps": Param(int, "optimisation steps", low=1),
    "record_every": Param(int, "record the trajectory every this many steps", low=1),
    "n_interp": Param(int, "points along an interpolation path", low=3),
    "device": Param(str, "torch device ('auto' = cuda when available)", choices=DEVICES),
}

PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(seed=0, n_seeds=4, dataset="mnist1d", n_train=1000, model="mlp", width=0.25,
                  optimizer="sgd", lr=0.1, momentum=0.9, l2=0.0, schedule="constant", batch_size=128,
                  steps=150, record_every=15, n_interp=11, device="auto"),
    "cpu": dict(seed=0, n_seeds=3, dataset="mnist1d", n_train=0, model="mlp", width=1.0,
                optimizer="sgd", lr=0.05, momentum=0.9, l2=0.0, schedule="cosine", batch_size=128,
                steps=3000, record_every=50, n_interp=31, device="auto"),
    "paper": dict(seed=0, n_seeds=5, dataset="cifar10", n_train=0, model="cifar_cnn", width=1.0,
                  optimizer="sgd", lr=0.05, momentum=0.9, l2=5e-4, schedule="cosine", batch_size=128,
                  steps=20000, record_every=500, n_interp=51, device="auto"),
}


def _add(specs: dict[str, Param], presets: dict[str, dict[str, Any]]) -> None:
    """Add one chapter's knobs to the table: a spec and a (validated) value at every scale for each."""
    clash = sorted(set(specs) & set(SPECS))
    if clash:
        raise ValueError(f"parameters {clash} are declared twice")
    for s in SCALES:
        if set(presets[s]) != set(specs):
            raise ValueError(f"the {s} preset must set exactly {sorted(specs)}")
    SPECS.update(specs)
    for s in SCALES:
        PRESETS[s].update({k: specs[k].check(k, v) for k, v in presets[s].items()})


# --- chapter 01 (the toy model; chapters 04 and 05 reuse its toy_* knobs) ------------------------

_add(
    {
        "toy_D": Param(int, "dimension D of the toy landscape for the phenomena", low=2),
        "toy_n": Param(int, "short directions n of each wedge (toy phenomena)", low=1),
        "toy_K": Param(int, "number of wedges K (toy phenomena)", low=1),
        "toy_kappa": Param(float, "width growth kappa: w(r) = kappa * g(r - r_min) (toy phenomena)", low=0),
        "toy_law": Param(str, "width-growth law g", choices=LAWS),
        "toy_basis": Param(str, "short directions: a random frame ('subspace') or random coordinates ('coords')",
                           choices=BASES),
        "toy_r_min": Param(float, "radius of the hole around the origin; the wedges open up from it", low=0,
                           low_open=True),
        "toy_runs": Param(int, "random initialisations optimised on the toy", low=2),
        "toy_r0": Param(float, "radius of the random initialisations", low=0, low_open=True),
        "toy_lr": Param(float, "gradient-descent step on the toy (stable below 1)", low=0, low_open=True),
        "toy_steps": Param(int, "gradient-descent steps on the toy", low=1),
        "toy_noise": Param(float, "std of the gradient noise added per coordinate (the SGD-like runs)", low=0),
        "toy_dirs": Param(int, "random directions probed for long directions", low=1),
        "toy_grid": Param(int, "grid points per axis of the 2D cross-sections", low=2),
        "plane_D": Param(int, "dimension D of the toy used for random hyperplanes", low=2),
        "plane_n": Param(int, "short directions n of each wedge (hyperplanes)", low=1),
        "plane_K": Param(int, "number of wedges K (hyperplanes)", low=1),
        "plane_kappa": Param(float, "width growth kappa of the opening wedges (hyperplanes)", low=0),
        "plane_width0": Param(float, "constant width of the kappa = 0 contrast (hyperplanes)", low=0),
        "plane_dims": Param(tuple, "hyperplane dimensions d (ints, increasing)", low=1),
        "plane_radii": Param(tuple, "radii of the hyperplanes' base points", low=0, low_open=True),
        "plane_seeds": Param(int, "random hyperplanes per (d, radius) cell", low=1),
        "plane_steps": Param(int, "gradient-descent steps inside a hyperplane", low=1),
    },
    {
        "smoke": dict(toy_D=400, toy_n=10, toy_K=5, toy_kappa=0.2, toy_law="linear", toy_basis="subspace",
                      toy_r_min=1.0, toy_runs=16, toy_r0=1.5, toy_lr=0.3, toy_steps=100, toy_noise=0.04,
                      toy_dirs=32, toy_grid=41, plane_D=100, plane_n=10, plane_K=3,
                      plane_kappa=0.2, plane_width0=0.01, plane_dims=(2, 3, 4, 6, 8, 10, 15, 20, 25),
                      plane_radii=(1.1, 1.5, 2.0, 3.0, 5.0, 10.0), plane_seeds=8, plane_steps=100),
        "cpu": dict(toy_D=1000, toy_n=20, toy_K=10, toy_kappa=0.2, toy_law="linear", toy_basis="subspace",
                    toy_r_min=1.0, toy_runs=16, toy_r0=1.5, toy_lr=0.3, toy_steps=100, toy_noise=0.02,
                    toy_dirs=32, toy_grid=81, plane_D=1000, plane_n=100, plane_K=10,
                    plane_kappa=0.2, plane_width0=0.02, plane_dims=(10, 20, 30, 40, 50, 60, 80, 100, 150, 200),
                    plane_radii=(1.1, 1.5, 2.0, 3.0, 5.0, 10.0), plane_seeds=8, plane_steps=100),
        "paper": dict(toy_D=10000, toy_n=200, toy_K=10, toy_kappa=0.2, toy_law="linear", toy_basis="coords",
                      toy_r_min=1.0, toy_runs=16, toy_r0=1.5, toy_lr=0.3, toy_steps=100, toy_noise=0.007,
                      toy_dirs=32, toy_grid=81, plane_D=10000, plane_n=100, plane_K=10,
                      plane_kappa=0.063, plane_width0=0.005,
                      plane_dims=(10, 20, 30, 40, 60, 80, 100, 125, 150, 200),
                      plane_radii=(1.1, 1.5, 2.0, 3.0, 5.0, 10.0), plane_seeds=8, plane_steps=100),
    },
)

# --- chapter 02 (random subspaces at a radius; the Goldilocks probe; the threshold dimension, Larsen et al. 2022) --

_add(
    {
        "dims": Param(tuple, "subspace dimensions d swept (ints, increasing)", low=1),
        "radii": Param(tuple, "radii of theta0, as multiples of the initialisation's own norm", low=0, low_open=True),
        "projection": Param(str, "random projection P from R^d to R^D", choices=PROJECTIONS),
        "subspace_width": Param(float, "width multiplier of the network trained in subspaces", low=0, low_open=True),
        "subspace_steps": Param(int, "optimisation steps of subspace training", low=1),
        "subspace_lr": Param(float, "Adam's step length in theta at c = 1 (on w: / sqrt(d))", low=0, low_open=True),
        "subspace_step": Param(str, "step equal at every radius, or ∝ it (the same angle)", choices=STEPS),
        "id_fraction": Param(float, "d_int: this fraction of full-space accuracy", low=0, high=1, low_open=True),
        "goldilocks_dim": Param(int, "d of the subspace the restricted Goldilocks ratio PᵀHP is taken in", low=1),
        "goldilocks_probes": Param(int, "Hutchinson probes for Tr(H) and ‖H‖_F at each radius", low=1),
        "goldilocks_examples": Param(int, "training examples whose loss the Goldilocks Hessian is taken of", low=1),
        "td_dims": Param(tuple, "subspace dimensions d of the threshold dimension (ints, each twice the last)", low=1),
        "td_radii": Param(tuple, "radius multiples c of the threshold anchors (with 1.0)", low=0, low_open=True),
        "td_subspaces": Param(int, "random subspaces per (anchor, d, seed) for the probability of success", low=2),
        "td_steps": Param(int, "optimisation steps of each threshold-dimension run", low=1),
        "td_fraction": Param(float, "target: this fraction of full-space test accuracy", low=0, high=1, low_open=True),
        "burnin_steps": Param(tuple, "steps of ordinary training before the subspace (increasing)", low=1),
    },
    {
        "smoke": dict(dims=(10, 40, 160), radii=(0.25, 1.0, 8.0), projection="fastfood", subspace_width=0.25,
                      subspace_steps=150, subspace_lr=1.0, subspace_step="relative", id_fraction=0.5,
                      goldilocks_dim=40, goldilocks_probes=16, goldilocks_examples=1000, td_dims=(10, 20, 40, 80),
                      td_radii=(0.25, 1.0, 8.0), td_subspaces=3, td_steps=60, td_fraction=0.5, burnin_steps=(10, 40)),
        "cpu": dict(dims=(200, 800, 3200, 12800), radii=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0), projection="fastfood",
                    subspace_width=0.5, subspace_steps=500, subspace_lr=1.7, subspace_step="relative", id_fraction=0.8,
                    goldilocks_dim=800, goldilocks_probes=16, goldilocks_examples=1000, td_dims=(200, 400, 800, 1600),
                    td_radii=(0.25, 1.0, 4.0), td_subspaces=3, td_steps=200, td_fraction=0.6, burnin_steps=(30, 150)),
        "paper": dict(dims=(250, 1000, 4000, 16000, 64000), radii=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
                      projection="fastfood", subspace_width=1.0, subspace_steps=10000, subspace_lr=1.0,
                      subspace_step="relative", id_fraction=0.9, goldilocks_dim=4000, goldilocks_probes=64,
                      goldilocks_examples=2000, td_dims=(500, 1000, 2000, 4000, 8000), td_radii=(0.25, 1.0, 4.0),
                      td_subspaces=5, td_steps=2000, td_fraction=0.8, burnin_steps=(200, 1000)),
    },
)

# --- chapter 03 (learning rate, width, L2) -------------------------------------------------------

_add(
    {
        "lrs": Param(tuple, "learning rates of the lr sweep (at the base width and l2)", low=0, low_open=True),
        "widths": Param(tuple, "width multipliers of the width sweep (at the base lr and l2)", low=0, low_open=True),
        "l2s": Param(tuple, "L2 strengths of the L2 sweep (at the base lr and width)", low=0),
        "hp_examples": Param(int, "training examples in the fixed batch the Hessian is measured on", low=1),
        "hp_probes": Param(int, "Rademacher probes of each Hutchinson trace estimate", low=2),
        "hp_rhos": Param(tuple, "distances ρ (fractions of ‖θ‖) of the large-scale loss rise", low=0, low_open=True),
        "hp_directions": Param(int, "random directions of each large-scale loss rise", low=1)},
    {  # L2 strengths by the decay lr·λ·steps they apply over the run at the base lr: 0, 0.1, 0.3, 1 (smoke 0, 1)
        "smoke": dict(lrs=(0.05, 0.2, 30.0), widths=(0.25, 1.0), l2s=(0.0, 0.0333), hp_examples=256, hp_probes=4,
                      hp_rhos=(0.03, 0.1, 0.3), hp_directions=4),
        "cpu": dict(lrs=(0.05, 0.1, 0.2, 10.0), widths=(0.25, 0.5, 1.0, 2.0), l2s=(0.0, 0.0025, 0.0075, 0.025),
                    hp_examples=512, hp_probes=10, hp_rhos=(0.03, 0.1, 0.3), hp_directions=8),
        "paper": dict(lrs=(0.01, 0.02, 0.05, 0.1, 0.2, 2.0), widths=(0.5, 1.0, 2.0, 4.0),
                      l2s=(0.0, 2e-4, 6e-4, 2e-3), hp_examples=2048, hp_probes=50, hp_rhos=(0.03, 0.1, 0.3),
                      hp_directions=16),
    },
)

# --- chapter 04 (pairs of solutions) -------------------------------------------------------------

_add(
    {
        "curve_steps": Param(int, "steps fitting each curve's bend point (Bezier, polygonal chain, F&J connector)",
                             low=1),
        "curve_lr": Param(float, "SGD learning rate of the curves trained on the whole path (Garipov et al.)", low=0,
                          low_open=True),
        "connector_lr": Param(float, "SGD learning rate of the F&J connector (loss at the bend point only)", low=0,
                              low_open=True),
        "pair_grid": Param(int, "grid points per axis of the plane through two solutions and a bend", low=2),
        "n_pairs": Param(int, "independent pairs of solutions in chapter 04 (its repetitions)", low=1),
        "solution_seed": Param(int, "base seed of the networks trained in chapters 04 and 05 (fresh seeds for "
                                    "their verdicts; seeds 0-4 were seen before)", low=0),
        "align_widths": Param(tuple, "width multipliers of chapter 04's barrier-against-width study (n_pairs pairs "
                                     "each, before and after alignment; increasing)", low=0, low_open=True),
        "fj_depth": Param(int, "levels of recursion of the F&J chain at most (level k: up to 2^k - 1 bends; part of "
                               "the protocol)", low=0),
        "fj_tol": Param(float, "the F&J chain bends a segment while its barrier exceeds this fraction of the line's "
                               "(part of the protocol)", low=0),
    },
    {
        "smoke": dict(curve_steps=300, curve_lr=0.3, connector_lr=0.1, pair_grid=15, n_pairs=3,
                      solution_seed=100, align_widths=(0.125, 0.25, 0.5), fj_depth=3, fj_tol=0.05),
        "cpu": dict(curve_steps=1000, curve_lr=0.5, connector_lr=0.05, pair_grid=25, n_pairs=3,
                    solution_seed=100, align_widths=(0.125, 0.25, 0.5, 1.0), fj_depth=3, fj_tol=0.05),
        "paper": dict(curve_steps=10000, curve_lr=0.05, connector_lr=0.01, pair_grid=31, n_pairs=3,
                      solution_seed=100, align_widths=(0.25, 0.5, 1.0, 2.0), fj_depth=3, fj_tol=0.05),
    },
)

# --- chapter 05 (sets of solutions) --------------------------------------------------------------

_add(
    {
        "n_solutions": Param(int, "the larger number k of solutions joined by one structure (the chapter also uses 3)",
                             low=3),
        "structure_steps": Param(int, "SGD steps training each set structure (connector, simplices, complex)",
                                 low=1),
        "structure_lr": Param(float, "SGD learning rate of the set structures", low=0, low_open=True),
        "n_eval": Param(int, "points sampled per structure to evaluate it", low=2),
        "set_grid": Param(int, "grid points per axis of the planes through solutions and the connector", low=2),
        "n_sets": Param(int, "independent sets of 3 solutions in chapter 05 (its repetitions)", low=1),
        "set_volume_reg": Param(float, "λ of Benton et al.'s volume regulariser −λ log(Σ vol² + 1e-4) on the complex",
                                low=0),
    },
    {
        "smoke": dict(n_solutions=4, structure_steps=300, structure_lr=0.3, n_eval=64, set_grid=13, n_sets=3,
                      set_volume_reg=0.03),
        "cpu": dict(n_solutions=5, structure_steps=1000, structure_lr=0.3, n_eval=256, set_grid=21, n_sets=3,
                    set_volume_reg=0.03),
        "paper": dict(n_solutions=5, structure_steps=10000, structure_lr=0.05, n_eval=1024, set_grid=31, n_sets=3,
                      set_volume_reg=0.03),
    },
)

# --- chapter 92 (your own model, checkpoints, data and loss; by default a torchvision ResNet-18) -------

OWN_DATA = ("random", "mnist1d", "cifar10", "cifar100", "fashion_mnist")  # or an import path to a factory
OBJECTIVES = ("cross_entropy",)  # wedges_lib.objectives' losses; or an import path
BN_POLICIES = ("recompute", "eval", "train")  # wedges_lib.batchnorm's policies
_IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def is_import_path(text: Any) -> bool:
    """Whether ``text`` reads 'package.module:name' (the form ``pkgutil.resolve_name`` resolves).

    >>> is_import_path("torchvision.models:resnet18"), is_import_path("resnet18")
    (True, False)
    """
    return isinstance(text, str) and _IMPORT_PATH.fullmatch(text) is not None


@dataclass(frozen=True)
class Parsed(Param):
    """A parameter whose value ``parse(name, value)`` checks and normalises beyond a type and range (an import path,
    a list of files), raising ValueError that names the parameter and shows an example."""

    parse: Callable[[str, Any], Any] | None = None

    def check(self, name: str, value: Any) -> Any:
        """The parsed value, or ValueError naming ``name`` (see :class:`Parsed`)."""
        return self.parse(name, value)


def _one_of_or_import(choices: tuple[str, ...], example: str) -> Callable[[str, Any], str]:
    def parse(name: str, value: Any) -> str:
        ok = value in choices or is_import_path(value)
        check_arg(name, value, ok, f"one of {', '.join(map(repr, choices))} or an import path "
                                   f"'package.module:name', e.g. -p {name} {example}")
        return value
    return parse


def _model(name: str, value: Any) -> str:
    check_arg(name, value, is_import_path(value), "an import path 'package.module:factory' to a callable that "
              f"returns an nn.Module, e.g. -p {name} torchvision.models:resnet18 or -p {name} mypkg.nets:Net")
    return value


def _kwargs(name: str, value: Any) -> dict:
    if isinstance(value, str):  # plain papermill's -p passes text: a dict literal
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass
    ok = isinstance(value, dict) and all(isinstance(k, str) and k.isidentifier() for k in value)
    check_arg(name, value, ok, f"a dict of keyword arguments for own_model's factory, e.g. -p {name} "
              "\"{'num_classes': 10}\"")
    return dict(value)


def _files(name: str, value: Any) -> tuple[str, ...]:
    """Checkpoint files: a comma-separated string or a list of paths, each an existing file; made absolute (a run
    executes its notebook in another folder)."""
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    example = f"a list of state-dict files (torch.save(model.state_dict(), path)), e.g. -p {name} a.pt,b.pt"
    check_arg(name, value, isinstance(items, (list, tuple)) and all(isinstance(v, str) and v for v in items),
              example)
    missing = [v for v in items if not Path(v).is_file()]
    check_arg(name, value, not missing, f"{example}; no such file: {', '.join(missing)}")
    return tuple(str(Path(v).resolve()) for v in items)


_add(
    {
        "own_model": Parsed(str, "the model: an import path to a factory (called with own_model_kwargs under the "
                                 "seed) that returns an nn.Module", parse=_model),
        "own_model_kwargs": Parsed(dict, "keyword arguments of own_model's factory", parse=_kwargs),
        "checkpoints": Parsed(tuple, "state-dict files of own_model (one, two, or a training run's series, in order; "
                                     "comma-separated on the command line); none: two short runs are trained here",
                              parse=_files),
        "own_data": Parsed(str, "the data: CIFAR-shaped random images, a data set of wedges_lib.data, or an import "
                                "path to a factory returning a wedges_lib Dataset, a torch Dataset of (x, y) or (x, y) "
                                "batches", parse=_one_of_or_import(OWN_DATA, "mypkg.data:make")),
        "objective": Parsed(str, "the loss of (model output, batch): cross-entropy, or an import path to a "
                                 "wedges_lib.objectives.Objective or a callable (output, batch) -> per-example losses",
                            parse=_one_of_or_import(OBJECTIVES, "mypkg.losses:loss")),
        "bn": Param(str, "BatchNorm's statistics at an evaluated point: recomputed there, the stored ones, or each "
                         "batch's own", choices=BN_POLICIES),
        "own_n_train": Param(int, "chapter 92's training examples (curvature, sharpness, BatchNorm batches, runs)",
                             low=1),
        "own_n_test": Param(int, "chapter 92's held-out examples (planes, lines and distances are evaluated on them)",
                            low=1),
        "own_steps": Param(int, "SGD steps of each of chapter 92's two demonstration runs", low=1),
        "own_snapshots": Param(int, "points kept along the demonstration's run a (its series of checkpoints)",
                               low=3),
        "own_lr": Param(float, "learning rate of chapter 92's runs and Bezier fits", low=0, low_open=True),
        "own_batch": Param(int, "minibatch size in chapter 92 (training, BatchNorm batches)", low=1),
        "own_bn_batches": Param(int, "training batches the BatchNorm statistics are recomputed on", low=1),
        "own_curv_n": Param(int, "examples per batch the curvature and the sharpness of chapter 92 are measured on",
                            low=1),
        "own_repeats": Param(int, "independent batches (each with its own probes, start and directions) that chapter "
                                  "92's intervals are over", low=2),
        "own_measured": Param(int, "checkpoints the curvature, sharpness and distances are measured at, spread evenly "
                                   "over the series with the last among them (0: every one)", low=0),
        "own_topk": Param(int, "top eigenvalues of the Hessian and the GGN in chapter 92", low=1),
        "own_lanczos": Param(int, "Lanczos iterations at most (chapter 92)", low=2),
        "own_probes": Param(int, "Hutchinson probes per batch for chapter 92's traces", low=2),
        "own_eps": Param(float, "ε of Keskar et al.'s sharpness box |δ_i| <= ε (|θ_i| + 1)", low=0, low_open=True),
        "own_ascent_steps": Param(int, "projected gradient-ascent steps maximising the loss in the ε-box", low=1),
        "own_rhos": Param(tuple, "distances ρ, as fractions of ‖θ‖, of the random-direction probes", low=0,
                          low_open=True),
        "own_grid": Param(int, "grid points per axis of chapter 92's planes", low=2),
        "own_points": Param(int, "points along chapter 92's lines and Bezier curves", low=3),
        "own_curve_steps": Param(int, "steps fitting each of chapter 92's Bezier curves", low=1)},
    {
        "smoke": dict(own_model="torchvision.models:resnet18", own_model_kwargs={"num_classes": 10}, checkpoints=(),
                      own_data="random", objective="cross_entropy", bn="recompute", own_n_train=32, own_n_test=8,
                      own_steps=2, own_snapshots=3, own_lr=0.05, own_batch=8, own_bn_batches=1, own_curv_n=2,
                      own_repeats=2, own_measured=1, own_topk=1, own_lanczos=2, own_probes=2, own_eps=1e-3,
                      own_ascent_steps=1, own_rhos=(0.03, 0.1, 0.3), own_grid=2, own_points=3, own_curve_steps=1),
        "cpu": dict(own_model="torchvision.models:resnet18", own_model_kwargs={"num_classes": 10}, checkpoints=(),
                    own_data="random", objective="cross_entropy", bn="recompute", own_n_train=512, own_n_test=64,
                    own_steps=30, own_snapshots=3, own_lr=0.05, own_batch=32, own_bn_batches=2, own_curv_n=16,
                    own_repeats=3, own_measured=2, own_topk=2, own_lanczos=6, own_probes=4, own_eps=1e-3,
                    own_ascent_steps=5, own_rhos=(0.03, 0.1, 0.3), own_grid=6, own_points=7, own_curve_steps=20),
        "paper": dict(own_model="torchvision.models:resnet18", own_model_kwargs={"num_classes": 10}, checkpoints=(),
                      own_data="cifar10", objective="cross_entropy", bn="recompute", own_n_train=50000,
                      own_n_test=2000, own_steps=5000, own_snapshots=6, own_lr=0.05, own_batch=128,
                      own_bn_batches=20, own_curv_n=1000, own_repeats=5, own_measured=0, own_topk=5,
                      own_lanczos=100, own_probes=100, own_eps=1e-3, own_ascent_steps=10, own_rhos=(0.03, 0.1, 0.3),
                      own_grid=25, own_points=31, own_curve_steps=2000),
    },
)

# --- chapter 06 (ensembles) ----------------------------------------------------------------------

_add(
    {
        "n_members": Param(int, "ensemble members K", low=1),
        "cycle_steps": Param(int, "FGE cycle / SWA collection interval in steps (0 = equal compute with deep)", low=0),
        "lr_fractions": Param(tuple, "FGE peak / SWA constant rates swept, as fractions of lr (increasing)",
                              low=0, low_open=True),
        "val_fraction": Param(float, "fraction of the training examples held out to tune the swept rates",
                              low=0, high=0.9, low_open=True),
        "fge_cycle_epochs": Param(int, "Garipov FGE's cycle in epochs of minibatches (a member at each low)", low=1),
        "fge_low": Param(float, "Garipov FGE's low rate as a fraction of its peak (alpha_2 / alpha_1)", low=0,
                         high=1, low_open=True)},
    {s: dict(n_members=3 if s == "smoke" else 5, cycle_steps=0, lr_fractions=(0.2, 1.0) if s == "smoke" else
             (0.2, 0.5, 1.0), val_fraction=0.1, fge_cycle_epochs=4, fge_low=0.002) for s in SCALES},
)

# --- chapter 06 (its plane) -----------------------------------------------------------------------

_add(
    {"ensemble_grid": Param(int, "grid points per axis of chapter 06's plane through three members", low=2)},
    {"smoke": dict(ensemble_grid=11), "cpu": dict(ensemble_grid=25), "paper": dict(ensemble_grid=31)},
)

# --- base knobs a chapter sets for itself, by their own names --------------------------------------

#: chapter (its file's stem) -> scale -> the base knobs it sets for itself: its seeds and repetitions (fresh seeds
#: for its verdicts), its training budget. :func:`wedges_lib.config.resolve` applies them between the scale's
#: preset and the run's own overrides, so ``-p seed 5`` means the same in every chapter.
CHAPTER_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "00_quickstart": {  # fresh seeds: seeds 0-4 were used while the book was written
        "smoke": dict(seed=900), "cpu": dict(seed=900), "paper": dict(seed=900)},
    "01_toy_model": {  # fresh seeds (its toys use seed ... seed + n_seeds): seeds 0-4 were used while it was written
        "smoke": dict(seed=950), "cpu": dict(seed=950), "paper": dict(seed=950)},
    "02_radius_and_subspaces": {
        "smoke": dict(seed=1200, n_seeds=3), "cpu": dict(seed=1200, n_seeds=5), "paper": dict(seed=1200, n_seeds=5)},
    "03_hyperparameters": {  # a constant rate: no run is compared while its step is annealed; fresh seeds 1800
        "smoke": dict(seed=1800, n_seeds=4, steps=300, record_every=10, schedule="constant"),
        "cpu": dict(seed=1800, n_seeds=5, steps=800, record_every=10, schedule="constant"),
        "paper": dict(seed=1800, n_seeds=5, steps=10000, record_every=100, schedule="constant")},
    "04_pairs_of_solutions": {  # fresh seeds after the connector's bar, its chain and the checks against alignment
        "smoke": dict(solution_seed=1400, seed=1440), "cpu": dict(solution_seed=1400, seed=1440),
        "paper": dict(solution_seed=1400, seed=1440)},
    "05_connecting_many_solutions": {  # fresh seeds after the joint alignment and the check against the aligned hull
        "smoke": dict(solution_seed=1500, seed=1550), "cpu": dict(solution_seed=1500, seed=1550),
        "paper": dict(solution_seed=1500, seed=1550)},
    "06_ensembles": {  # steps S per member, repetitions per method; fresh seeds for validation tuning, Garipov FGE
        "smoke": dict(seed=760, n_seeds=3, steps=150, width=0.25),
        "cpu": dict(seed=760, n_seeds=5, steps=800, width=0.5),
        "paper": dict(seed=760, n_seeds=5, steps=20000, width=1.0)},
}


#: each chapter's time budget at the cpu scale (seconds of execution, one thread, two chapters at a time on two
#: cores), from the cold build measured on 2026-12-06 (benchmarks/results/builds/cpu.json: 686 s, 11.4 minutes, the
#: chapters 1,315 s) with about 15 % to spare; ``python -m benchmarks.build_time`` flags a chapter over its budget,
#: and a cold build runs the largest first. Within budget, the chapters fill 2 cores for about 12.7 minutes.
CHAPTER_BUDGETS: dict[str, int] = {
    "00_quickstart": 30, "01_toy_model": 55, "02_radius_and_subspaces": 425, "03_hyperparameters": 260,
    "04_pairs_of_solutions": 145, "05_connecting_many_solutions": 310, "06_ensembles": 150, "91_benchmarks": 60,
    "92_your_model": 95}


def _check_chapter_presets() -> None:
    """Every chapter's own values are registered knobs, valid, at every scale."""
    for chapter, scales in CHAPTER_PRESETS.items():
        if set(scales) != set(SCALES):
            raise ValueError(f"CHAPTER_PRESETS[{chapter!r}] must set every scale {SCALES}")
        for values in scales.values():
            for k, v in values.items():
                SPECS[k].check(k, v)


_check_chapter_presets()
