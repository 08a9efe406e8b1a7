"""A filter-normalised random plane: Wedges (batched grid) against loss-landscapes (one point at a time).

Same model (MLP 40-256-256-10 at its seed-0 initialisation, or trained with ``--trained``), same data
(1000 MNIST-1D training examples), same 25 x 25 grid, same metric (mean cross-entropy on all 1000).

* Timing: ``loss_landscapes.random_plane(model, Loss(CrossEntropyLoss(), x, y), distance, steps,
  normalization='filter', deepcopy_model=True)`` against ``wedges_lib.surfaces.random_plane`` (which also
  returns the accuracy grid). Runs alternate, ``--repeats`` times each, so load on the machine hits both; the
  rows give medians and the range of the per-round ratios. Goal on a CPU: parity (a plane point by point is
  ~98 GFLOP of matrix products, which loss-landscapes already runs near the matmul peak); on a GPU, where one
  point at a time is launch-bound, ≥ 10×.
* Profile: ``surfaces.evaluate_affine`` on loss-landscapes' own points by each path — ``auto`` (batched
  products, the first layer affine in the plane's coordinates: W1 x + a D1 x + b D2 x from three products
  per data batch instead of one per point), ``bmm`` (batched products only) and ``vmap`` (a vmapped
  ``functional_call``) — and, with ``--profile``, over points per pass (chunk) and examples per batch (a printed
  grid of 36 runs, in no row: the suite and the book's appendix skip it). GFLOP/s count the matrix products each
  path does, against the matmul peak (``common.matmul_peak``).
* Values: the two libraries draw different directions (loss-landscapes: uniform [0, 1) entries from the
  global RNG, biases normalised too, then the whole direction rescaled to ‖theta‖ / (distance * steps)).
  We rebuild loss-landscapes' exact directions (same seed, its own functions) and its exact grid
  points — including its zig-zag walk, which evaluates even columns at offsets 1..steps and odd ones
  at 0..steps-1 along the second direction — and evaluate those points with
  ``wedges_lib.surfaces.evaluate_affine``; the grids must agree to float32 tolerance, on every path.

Needs loss-landscapes, pinned in requirements.txt for the benchmarks (wedges_lib does not import it).
Run: ``python -m benchmarks.surfaces [--quick] [--repeats N] [--trained] [--profile] [--json out.json]
[--device cuda]``.
"""
from __future__ import annotations

import copy

import torch

from benchmarks.common import Row, apply_threads, interleave, matmul_peak, parser, ratios, timed, write_rows
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
    return (torch.cat([p.reshape(-1) for p in d1.parameters]).to(start.parameters[0].device),
            torch.cat([p.reshape(-1) for p in d2.parameters]).to(start.parameters[0].device))


def loss_landscapes_coords(steps: int) -> torch.Tensor:
    """The (steps * steps, 2) step offsets at which random_plane evaluates, in its output order [i][j]."""
    rows = []
    for i in range(steps):
        first = 1 if i % 2 == 0 else 0  # even columns walk up after a step, odd ones walk down before
        rows += [(i - steps / 2, j + first - steps / 2) for j in range(steps)]
    return torch.tensor(rows)


def main(argv=None) -> None:
    ap = parser(__doc__, quick="a 9 x 9 grid, one repeat", repeats=(3, 1), devices=("cpu", "cuda"))
    ap.add_argument("--steps", type=int, default=None, help="grid points per axis (default 25, 9 with --quick)")
    ap.add_argument("--distance", type=float, default=1.0, help="loss-landscapes' distance argument")
    ap.add_argument("--chunk", type=int, default=None, help="Wedges: grid points per vmapped pass (default: by device)")
    ap.add_argument("--width", type=float, default=1.0, help="MLP width multiplier (1.0: 40-256-256-10)")
    ap.add_argument("--examples", type=int, default=1000, help="training examples the loss is averaged over")
    ap.add_argument("--trained", action="store_true", help="train the MLP first (1000 SGD steps)")
    ap.add_argument("--profile", action="store_true",
                    help="also print each path's time over points per pass and examples per batch (36 runs)")
    args = ap.parse_args(argv)
    steps, repeats = args.steps or (9 if args.quick else 25), args.repeats
    apply_threads(args)

    import loss_landscapes
    import loss_landscapes.metrics

    ds = data.load("mnist1d", n_train=args.examples)
    x, y = ds.x_train.to(args.device), ds.y_train.to(args.device)
    model = models.make("mlp", ds.input_shape, ds.n_classes, width=args.width, seed=0).to(args.device)
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
    peak = matmul_peak(args.device)
    n_weights = sum(m.weight.numel() for m in model if isinstance(m, torch.nn.Linear))
    first = model[1].weight.numel()  # the first Linear layer (after Flatten)
    flops_point = 2 * len(y) * n_weights  # per grid point, evaluated exactly one point at a time
    flops_ll = steps * steps * flops_point
    flops_affine = steps * steps * 2 * len(y) * (n_weights - first) + 3 * 2 * len(y) * first
    print(f"matmul peak {peak / 1e9:.0f} GFLOP/s; a plane point by point: {flops_ll / 1e9:.1f} GFLOP, with the "
          f"first layer affine in the coordinates {flops_affine / 1e9:.1f} GFLOP")

    # warm-up (first-call costs of vmap and the allocator), not timed
    surfaces.random_plane(model, theta, distance=wedges_distance, n=3, x=x, y=y, chunk=args.chunk)
    loss_landscapes.random_plane(model, metric, args.distance, 3, normalization="filter", deepcopy_model=True)
    d1, d2 = loss_landscapes_directions(model, args.distance, steps, 0)
    dirs, coords = torch.stack([d1, d2]), loss_landscapes_coords(steps)

    def on_points(path, chunk=args.chunk, batch=None):
        return lambda: surfaces.evaluate_affine(model, theta, dirs, coords, x=x, y=y, chunk=chunk, batch=batch,
                                                path=path)

    if args.profile:  # points per pass and examples per batch, on loss-landscapes' points (one run each; printed)
        print("\nevaluate_affine on the plane's points, one run each (s): path / chunk / batch")
        for path in ("auto", "bmm", "vmap"):
            for chunk in (4, 8, 16, 32):
                for batch in (128, 256, 1000):
                    _, wall, _ = timed(on_points(path, chunk, batch))
                    work = flops_affine if path == "auto" else flops_ll
                    print(f"  {path:5s} chunk {chunk:3d} batch {batch:5d}: {wall:6.3f} s, "
                          f"{work / wall / 1e9:6.1f} GFLOP/s ({work / wall / peak:.0%} of peak)")

    seed = [0]

    def ll_plane():
        torch.manual_seed(seed[0])
        return loss_landscapes.random_plane(model, metric, args.distance, steps, normalization="filter",
                                            deepcopy_model=True)

    fns = {"ll": ll_plane,
           "wedges": lambda: surfaces.random_plane(model, theta, distance=wedges_distance, n=steps, seed=seed[0],
                                                   x=x, y=y, chunk=args.chunk),
           "auto": on_points("auto"), "bmm": on_points("bmm"), "vmap": on_points("vmap")}
    timings = interleave(fns, repeats)
    ll = timings["ll"]

    # values: loss-landscapes' plane (seed 0), re-evaluated by Wedges at the same points, by each path
    theirs = torch.as_tensor(ll.result, dtype=torch.float32)
    rel = {p: ((timings[p].result["loss"].reshape(steps, steps) - theirs).abs().max() / theirs.abs().max()).item()
           for p in ("auto", "bmm", "vmap")}
    print(f"\n| {steps}x{steps} plane | wall, median of {repeats} (s) | spread (s) | GFLOP/s | of peak |")
    print("|---|---|---|---|---|")
    named = {"ll": ("loss-landscapes 3.0.6 random_plane", flops_ll),
             "wedges": ("wedges surfaces.random_plane (loss + acc)", flops_affine),
             "auto": ("evaluate_affine on loss-landscapes' points, path auto", flops_affine),
             "bmm": ("... path bmm (no first-layer saving)", flops_ll),
             "vmap": ("... path vmap (functional_call)", flops_ll)}
    for key, (label, work) in named.items():
        t = timings[key]
        print(f"| {label} | {t.median():.3f} | {t.spread():.3f} | {work / t.median() / 1e9:.1f} "
              f"| {work / t.median() / peak:.0%} |")
    print("\nvalues on loss-landscapes' own directions and points, largest relative difference: "
          + ", ".join(f"{p} {r:.1e}" for p, r in rel.items()))
    if args.json:
        row = dict(unit="s", peer="loss-landscapes 3.0.6 random_plane",
                   agreement_is="largest relative difference from loss-landscapes on its own points",
                   tolerance=RTOL)
        rows = [Row(**row, task=f"{steps}x{steps} filter-normalised plane",
                    goal=">= 1" if args.device == "cpu" else ">= 10", agreement=rel["auto"],
                    peak_fraction=flops_affine / timings["wedges"].median() / peak, **ratios(ll, timings["wedges"]))]
        for key, label in (("auto", "Wedges on loss-landscapes' points"),
                           ("bmm", "the same, bmm without the first-layer saving"),
                           ("vmap", "the same, vmapped functional_call")):
            work = flops_affine if key == "auto" else flops_ll
            rows.append(Row(**row, task=f"{steps}x{steps}, {label}", goal="none (diagnostic)", agreement=rel[key],
                            peak_fraction=work / timings[key].median() / peak, **ratios(ll, timings[key])))
        write_rows(args.json, rows)
    if max(rel.values()) > RTOL:
        raise SystemExit(f"value mismatch: relative errors {rel} > {RTOL:g}")


if __name__ == "__main__":
    main()
