"""A filter-normalised random plane: Wedges (vmapped grid) against loss-landscapes (one point at a time).

Same model (MLP 40-256-256-10 at its seed-0 initialisation, or trained with ``--trained``), same data
(1000 MNIST-1D training examples), same 25 x 25 grid, same metric (mean cross-entropy on all 1000).

* Timing: ``loss_landscapes.random_plane(model, Loss(CrossEntropyLoss(), x, y), distance, steps,
  normalization='filter', deepcopy_model=True)`` against ``wedges_lib.surfaces.random_plane`` (which also
  returns the accuracy grid). Runs alternate, ``--repeats`` times each, so load on the machine hits both.
* Values: the two libraries draw different directions (loss-landscapes: uniform [0, 1) entries from the
  global RNG, biases normalised too, then the whole direction rescaled to ‖theta‖ / (distance * steps)).
  We rebuild loss-landscapes' exact directions (same seed, its own functions) and its exact grid
  points — including its zig-zag walk, which evaluates even columns at offsets 1..steps and odd ones
  at 0..steps-1 along the second direction — and evaluate those points with
  ``wedges_lib.surfaces.evaluate_affine``; the two grids must agree to float32 tolerance.

Needs loss-landscapes, pinned in requirements.txt for the benchmarks (wedges_lib does not import it).
Run: ``python benchmarks/surfaces.py [--quick] [--repeats N] [--trained] [--json out.json]``.
"""
from __future__ import annotations

import copy

import torch

from common import Row, Timer, apply_threads, parser, timed, write_rows
from wedges_lib import data, models, params, surfaces, train

RTOL = 1e-4  # largest relative difference allowed between the two libraries' values


def loss_landscapes_directions(model, distance: float, steps: int, seed: int):
    """loss-landscapes' two per-step direction vectors (D,) for random_plane with this global seed."""
    from loss_landscapes.model_interface.model_parameters import orthogonal_to, rand_u_like
    from loss_landscapes.model_interface.model_wrapper import wrap_model

    torch.manual_seed(seed)
    start = wrap_model(copy.deepcopy(model)).get_module_parameters()  # the same calls, in random_plane's order
    d1 = rand_u_like(start)
    d2 = orthogonal_to(d1)
    d1.filter_normalize_(start)
    d2.filter_normalize_(start)
    d1.mul_(((start.model_norm() / distance) / steps) / d1.model_norm())
    d2.mul_(((start.model_norm() / distance) / steps) / d2.model_norm())
    return torch.cat([p.reshape(-1) for p in d1.parameters]), torch.cat([p.reshape(-1) for p in d2.parameters])


def loss_landscapes_coords(steps: int) -> torch.Tensor:
    """The (steps * steps, 2) step offsets at which random_plane evaluates, in its output order [i][j]."""
    rows = []
    for i in range(steps):
        first = 1 if i % 2 == 0 else 0  # even columns walk up after a step, odd ones walk down before
        rows += [(i - steps / 2, j + first - steps / 2) for j in range(steps)]
    return torch.tensor(rows)


def main(argv=None) -> None:
    ap = parser(__doc__, quick="a 9 x 9 grid, one repeat", repeats=(3, 1))
    ap.add_argument("--steps", type=int, default=None, help="grid points per axis (default 25, 9 with --quick)")
    ap.add_argument("--distance", type=float, default=1.0, help="loss-landscapes' distance argument")
    ap.add_argument("--chunk", type=int, default=None, help="Wedges: grid points per vmapped pass (default: by device)")
    ap.add_argument("--width", type=float, default=1.0, help="MLP width multiplier (1.0: 40-256-256-10)")
    ap.add_argument("--examples", type=int, default=1000, help="training examples the loss is averaged over")
    ap.add_argument("--trained", action="store_true", help="train the MLP first (1000 SGD steps)")
    args = ap.parse_args(argv)
    steps, repeats = args.steps or (9 if args.quick else 25), args.repeats
    apply_threads(args)

    import loss_landscapes
    import loss_landscapes.metrics

    ds = data.load("mnist1d", n_train=args.examples)
    x, y = ds.x_train, ds.y_train
    model = models.make("mlp", ds.input_shape, ds.n_classes, width=args.width, seed=0)
    if args.trained:
        res = train.train(model, ds, params.flatten(model), steps=1000, lr=0.05, quiet=True)
        params.load_into(model, res.theta)
    theta = params.flatten(model)
    hidden = [m.out_features for m in model if isinstance(m, torch.nn.Linear)]
    print(f"model: MLP 40-{'-'.join(map(str, hidden))}, D = {theta.numel()}; data: {len(y)} examples; "
          f"grid {steps} x {steps}; torch threads {torch.get_num_threads()}")

    metric = loss_landscapes.metrics.Loss(torch.nn.CrossEntropyLoss(), x, y)
    # Wedges' own grid spans the same distance: ±(steps/2) steps of ‖theta‖ / (distance * steps) each.
    wedges_distance = 0.5 / args.distance

    # warm-up (first-call costs of vmap and the allocator), not timed
    surfaces.random_plane(model, theta, distance=wedges_distance, n=3, x=x, y=y, chunk=args.chunk)
    loss_landscapes.random_plane(model, metric, args.distance, 3, normalization="filter", deepcopy_model=True)
    timer = Timer()
    for r in range(repeats):
        torch.manual_seed(r)
        z_ll = timer.run("ll", lambda: loss_landscapes.random_plane(model, metric, args.distance, steps,
                                                                   normalization="filter", deepcopy_model=True))
        timer.run("wedges", lambda: surfaces.random_plane(model, theta, distance=wedges_distance, n=steps, seed=r,
                                                          x=x, y=y, chunk=args.chunk))
    ll, w = timer["ll"], timer["wedges"]

    # values: loss-landscapes' last plane (seed repeats - 1), re-evaluated by Wedges at the same points
    d1, d2 = loss_landscapes_directions(model, args.distance, steps, repeats - 1)
    res, t_inject, c_inject = timed(lambda: surfaces.evaluate_affine(
        model, theta, torch.stack([d1, d2]), loss_landscapes_coords(steps), x=x, y=y, chunk=args.chunk))
    ours = res["loss"].reshape(steps, steps)
    theirs = torch.as_tensor(z_ll, dtype=torch.float32)
    err = (ours - theirs).abs().max().item()
    rel = err / theirs.abs().max().item()

    print(f"\n| {steps}x{steps} plane | wall, median of {repeats} (s) | wall, min (s) | wall, spread (s) "
          f"| CPU time, median (s) |")
    print("|---|---|---|---|---|")
    print(f"| loss-landscapes 3.0.6 random_plane | {ll.median():.3f} | {ll.best():.3f} | {ll.spread():.3f} "
          f"| {ll.median('cpu'):.3f} |")
    print(f"| wedges surfaces.random_plane (loss + acc, chunk {args.chunk or 'default'}) | {w.median():.3f} "
          f"| {w.best():.3f} | {w.spread():.3f} | {w.median('cpu'):.3f} |")
    print(f"| wedges evaluate_affine on loss-landscapes' points (loss + acc) | {t_inject:.3f} | | | {c_inject:.3f} |")
    print(f"\nspeed-up: wall median {ll.median() / w.median():.2f}x, wall min {ll.best() / w.best():.2f}x, "
          f"CPU time {ll.median('cpu') / w.median('cpu'):.2f}x")
    print(f"values on loss-landscapes' own directions and points: max |diff| = {err:.2e} "
          f"(relative {rel:.1e}); loss range {theirs.min().item():.4f} .. {theirs.max().item():.4f}")
    if args.json:
        row = dict(unit="s", peer="loss-landscapes 3.0.6 random_plane", peer_value=ll.median(), goal=">= 2",
                   agreement=rel, agreement_is="largest relative difference from loss-landscapes on its own points",
                   tolerance=RTOL)
        rows = [Row(**row, task=f"{steps}x{steps} filter-normalised plane", wedges=w.median()),
                Row(**dict(row, goal="none (diagnostic)"), task=f"{steps}x{steps}, Wedges on loss-landscapes' points",
                    wedges=t_inject)]
        write_rows(args.json, rows)
    if rel > RTOL:
        raise SystemExit(f"value mismatch: relative error {rel:.1e} > {RTOL:g}")


if __name__ == "__main__":
    main()
