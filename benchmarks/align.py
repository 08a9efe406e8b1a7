"""Permutation alignment by weight matching: Wedges (wedges_lib.align) against rebasin (PyPI) on the same pairs.

Both implement Ainsworth, Hayase & Srinivasa's coordinate descent (Git Re-Basin, ICLR 2023): one linear
assignment (scipy's ``linear_sum_assignment``) per hidden layer given the others, until no layer improves.
rebasin discovers the permutation structure by tracing the model (torchview) on a sample input; Wedges reads it
from the ``nn.Sequential`` chain (:func:`wedges_lib.align.spec`).

* Pairs: two networks trained from seeds 0 and 1 (same data, same SGD settings), the MLP 40-256-256-10 and
  the 1D CNN of ``wedges_lib.models`` (``--quick``: width 0.25, fewer steps, 1000 examples).
* Timing: ``rebasin.PermutationCoordinateDescent(model_a, model_b, x[:8]).rebasin()`` (its tracing included)
  against ``wedges_lib.align.weight_matching(model, theta_a, theta_b)``, after one untimed warm-up call of
  each, alternated ``--repeats`` times.
* Answers: the training loss's barrier on the straight line from A to the aligned B (31 points), before and
  after each alignment; Wedges' aligned barrier must not exceed rebasin's by more than 5 % of the raw barrier
  (the two descend in different layer orders, so their local optima may differ), and each aligned B must compute
  B's function (its logits within 1e-3 of B's; rebasin 0.0.47 fails this on the CNN, whose flattened channels
  feed the linear head, so its barrier there is not an alignment's). A last row: a network and a randomly
  permuted copy of itself; both must recover it exactly.

Needs rebasin, pinned in requirements.txt for the benchmarks (wedges_lib does not import it).
Run: ``python -m benchmarks.align [--quick] [--repeats N] [--json out.json]``.
"""
from __future__ import annotations

import copy

import torch

from benchmarks.common import Row, Timer, apply_threads, parser, ratios, write_rows
from wedges_lib import align, config, connect, data, params, train

PEER = "rebasin 0.0.47 PermutationCoordinateDescent"
TOL_BARRIER = 0.05  # Wedges' aligned barrier may exceed rebasin's by this fraction of the raw barrier
TOL_EXACT = 1e-6  # largest |theta - recovered| for a permuted copy of a network
TOL_FN = 1e-3  # largest |logit difference| between an aligned network and the network it came from


def rebasin_align(model, theta_a, theta_b, x_sample):
    """theta_b aligned to theta_a by rebasin's weight matching, as a flat vector (D,)."""
    from rebasin import PermutationCoordinateDescent

    a = params.load_into(copy.deepcopy(model), theta_a)
    b = params.load_into(copy.deepcopy(model), theta_b)
    PermutationCoordinateDescent(a, b, x_sample).rebasin()
    return params.flatten(b)


def barrier(model, a, b, x, y) -> float:
    """The training loss's barrier on the straight line a -> b (31 points)."""
    return float(connect.barrier_height(connect.profile(model, torch.stack([a, b]), 31, x=x, y=y)["loss"]))


def main(argv=None) -> None:
    ap = parser(__doc__, quick="width 0.25, 300 training steps, 1000 examples, one repeat", repeats=(3, 1))
    ap.add_argument("--steps", type=int, default=None, help="SGD steps training each network (default 2000)")
    args = ap.parse_args(argv)
    repeats = args.repeats
    apply_threads(args)
    width, steps = (0.25, 300) if args.quick else (1.0, args.steps or 2000)
    ds = data.load("mnist1d", n_train=1000 if args.quick else 0)
    x, y = ds.x_train, ds.y_train
    rows, timer = [], Timer()
    print(f"MNIST-1D, {len(y)} training examples; width {width}, {steps} SGD steps per network; "
          f"torch threads {torch.get_num_threads()}\n")
    print("| pair | raw barrier | Wedges: barrier | rebasin: barrier | Wedges (s) | rebasin (s) |")
    print("|---|---|---|---|---|---|")
    for name in ("mlp", "cnn1d"):
        cfg = config.resolve("cpu", model=name, width=width, steps=steps, n_train=len(y))
        run = train.train_config(cfg, ds, seeds=[0, 1], quiet=True)
        model, (ta, tb) = run.model, run.theta
        sample = x[:8]
        align.weight_matching(model, ta, tb)  # warm-up (imports, first-call costs), not timed
        wedges_b = timer.run((name, "wedges"), lambda: align.weight_matching(model, ta, tb))
        try:
            rebasin_align(model, ta, tb, sample)  # warm-up: rebasin and torchview imported here, not timed
            peer_b = timer.run((name, "peer"), lambda: rebasin_align(model, ta, tb, sample))
        except Exception as e:  # a peer that cannot handle the model: said in the row, reported, not fatal
            print(f"| {name} | rebasin failed: {type(e).__name__}: {str(e)[:200]} |")
            continue
        for _ in range(repeats - 1):
            timer.run((name, "peer"), lambda: rebasin_align(model, ta, tb, sample))
            timer.run((name, "wedges"), lambda: align.weight_matching(model, ta, tb))
        fn_w, fn_p = (float((params.forward(model, t, x) - params.forward(model, tb, x)).abs().max())
                      for t in (wedges_b, peer_b))
        raw, ours, theirs = barrier(model, ta, tb, x, y), barrier(model, ta, wedges_b, x, y), barrier(
            model, ta, peer_b, x, y)
        w, p = timer[(name, "wedges")], timer[(name, "peer")]
        print(f"| {name} | {raw:.4f} | {ours:.4f} | {theirs:.4f} | {w.median():.3f} | {p.median():.3f} |")
        print(f"|   | aligned B's logits minus B's: max |diff| Wedges {fn_w:.1e}, rebasin {fn_p:.1e} | | | | |")
        broken = f"; rebasin's aligned B is another function (logits off by {fn_p:.3g})" if fn_p > TOL_FN else ""
        rows.append(Row(task=f"weight matching, trained {name} pair (barrier {raw:.3g} → Wedges {ours:.3g}, "
                             f"rebasin {theirs:.3g}{broken})", unit="s", **ratios(p, w), peer=PEER,
                        goal=">= 1", agreement=(ours - theirs) / raw,
                        agreement_is="Wedges' aligned barrier minus rebasin's, over the raw barrier",
                        tolerance=TOL_BARRIER))
        rows.append(Row(task=f"{name} pair: the aligned B computes B's function", unit="s", **ratios(p, w),
                        peer=PEER, goal="none (diagnostic)", agreement=fn_w,
                        agreement_is="largest |logit difference| from B on the training inputs", tolerance=TOL_FN,
                        peer_agreement=fn_p))
    # a network and a random permutation of itself: both must find the identity back
    model = run.model if args.quick else train.init(config.resolve("cpu"), ds, 0)[0]
    theta = params.flatten(model)
    moved = align.permute(model, theta, align.random_perms(model, seed=1))
    ours = timer.run("copy-wedges", lambda: align.weight_matching(model, theta, moved))
    theirs = timer.run("copy-peer", lambda: rebasin_align(model, theta, moved, x[:8]))
    err_w, err_p = float((ours - theta).abs().max()), float((theirs - theta).abs().max())
    print(f"\npermuted copy recovered: max |diff| Wedges {err_w:.1e}, rebasin {err_p:.1e}")
    rows.append(Row(task="a permuted copy of a network recovered", unit="s", wedges=timer["copy-wedges"].median(),
                    peer=PEER, peer_value=timer["copy-peer"].median(), goal="none (diagnostic)",
                    agreement=err_w, agreement_is="largest |θ − recovered θ|", tolerance=TOL_EXACT,
                    peer_agreement=err_p))
    if args.json:
        write_rows(args.json, rows)


if __name__ == "__main__":
    main()
