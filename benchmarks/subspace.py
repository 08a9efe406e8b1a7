"""Subspace training: time per step against plain training, and peak memory at D ~ 1e6.

    python -m benchmarks.subspace [--quick] [--threads N] [--repeats N] [--clock cpu] [--json out.json]

1. Time of one optimisation step of ``subspace.subspace_train`` (d = 1000, each projection) and of
   ``train.train`` (plain SGD on all D parameters), on the cpu preset's MLP 40-256-256-10
   (D = 78,858) with minibatches of 128. A step's time is (T(n2) - T(n1)) / (n2 - n1) for runs of
   n1 and n2 steps after a warm-up run (minimum over ``--repeats`` of each, the two interleaved), so
   start-up and the final evaluation cancel. ``--clock cpu`` measures the process's CPU time instead of wall time.
2. Peak memory of subspace training at D ~ 1e6 (the MLP at width 3.8: 40-973-973-10, D = 997,335)
   with d = 10,000 (``blocked``: d = 1,000, because it generates D·d Gaussians per pass). Each
   projection, and plain training for comparison, runs in a fresh process; memory is the growth of
   the process's peak resident set size (VmHWM, ``common.peak_rss``) from a baseline taken after
   loading the data and building the model, to the end of two training steps and the final
   evaluation on the whole training and test sets. A dense (D, d) float32 matrix would take D·d·4
   bytes.
"""
from __future__ import annotations

import torch

from benchmarks.common import Row, Timer, apply_threads, parser, run_child, write_rows
from wedges_lib import config, data, projections, subspace, train

# run by common.run_child in a fresh process, with peak_rss (VmHWM: the process's own peak RSS) in scope
_MEMORY_CHILD = r"""
import json, sys, torch
torch.set_num_threads(int(sys.argv[4]))
from wedges_lib import config, data, params, projections, subspace, train
kind, d, width = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
peak = peak_rss
cfg = config.resolve("cpu", width=width)
ds = data.load("mnist1d")
model, theta0 = train.init(cfg, ds, 0)
base = peak()
if kind == "plain":
    train.train(model, ds, theta0, steps=2, record_every=2, quiet=True)
    state = 0
else:
    proj = projections.make_projection(kind, theta0.numel(), d, seed=0)
    subspace.subspace_train(model, ds, theta0, proj, steps=2, quiet=True)
    state = proj.nbytes
print(json.dumps(dict(kind=kind, D=theta0.numel(), d=d, extra=peak() - base, state=state, base=base)))
"""


def step_time(fn, n1: int, n2: int, repeats: int, clock: str = "wall") -> float:
    """Seconds per step of ``fn(steps)``: (min T(n2) - min T(n1)) / (n2 - n1) over ``repeats`` after a warm-up.

    Minima are robust to other load on the machine; the difference cancels start-up and evaluation.
    ``clock``: "wall", or "cpu" for this process's CPU time.
    """
    fn(n1)  # warm-up: first-call costs (allocations, vmap tracing) must not enter the difference
    timer = Timer()
    for _ in range(repeats):
        for n in (n1, n2):
            timer.run(n, lambda: fn(n))
    return (timer[n2].best(clock) - timer[n1].best(clock)) / (n2 - n1)


def time_steps(quick: bool, repeats: int, d: int = 1000, clock: str = "wall") -> list[dict]:
    """Per-step time of plain training and of subspace training with each projection (cpu-preset MLP)."""
    cfg = config.resolve("cpu")
    ds = data.load("mnist1d")
    model, theta0 = train.init(cfg, ds, 0)
    D = theta0.numel()
    n1, n2 = (5, 25) if quick else (10, 60)
    rows = []
    plain = step_time(lambda n: train.train(model, ds, theta0, steps=n, record_every=n, lr=cfg.lr, quiet=True),
                      n1, n2, repeats, clock)
    rows.append(dict(what="plain train.train (SGD)", D=D, d=D, ms=plain * 1e3, ratio=1.0))
    for kind in projections.PROJECTIONS:
        if kind == "blocked" and quick:
            continue
        proj = projections.make_projection(kind, D, d, seed=0)
        a, b = (1, 3) if kind == "blocked" else (n1, n2)
        t = step_time(lambda n: subspace.subspace_train(model, ds, theta0, proj, steps=n, quiet=True), a, b,
                      1 if kind == "blocked" else repeats, clock)
        rows.append(dict(what=f"subspace_train ({kind})", D=D, d=d, ms=t * 1e3, ratio=t / plain))
    return rows


def peak_memory(quick: bool, threads: int) -> list[dict]:
    """Peak-RSS growth of subspace training at D ~ 1e6 for each scalable projection, each in a fresh process."""
    runs = [("plain", 0), ("fastfood", 10_000), ("sparse", 10_000)] + ([] if quick else [("blocked", 1_000)])
    rows = []
    for kind, d in runs:
        r = run_child(_MEMORY_CHILD, [kind, d, 3.8, threads])
        r["dense_bytes"] = r["D"] * r["d"] * 4 if r["d"] else 0
        rows.append(r)
    return rows


def main(argv=None) -> dict:
    """Run both benchmarks and print their tables."""
    ap = parser(__doc__, quick="fewer steps, skip the slow blocked projection", repeats=(5, 2))
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time, or this process's CPU time (steadier on a shared machine, with --threads 1)")
    args = ap.parse_args(argv)
    threads = apply_threads(args)
    print(f"torch {torch.__version__}, {threads} thread(s)")
    steps = time_steps(args.quick, args.repeats, clock=args.clock)
    print(f"\nTime per optimisation step (batch 128, one run; {args.clock} clock):")
    print(f"{'':32s} {'D':>8s} {'d':>7s} {'ms/step':>9s} {'x plain':>8s}")
    for r in steps:
        print(f"{r['what']:32s} {r['D']:8d} {r['d']:7d} {r['ms']:9.2f} {r['ratio']:8.2f}")
    mem = peak_memory(args.quick, threads)
    print("\nPeak memory of two training steps and the final evaluation (growth of peak RSS after setup):")
    print(f"{'projection':10s} {'D':>9s} {'d':>7s} {'peak MB':>9s} {'P state MB':>11s} {'dense P would be':>17s}")
    for r in mem:
        dense = f"{r['dense_bytes'] / 2**30:14.1f} GB" if r["d"] else f"{'-':>17s}"
        print(f"{r['kind']:10s} {r['D']:9d} {r['d']:7d} {r['extra'] / 2**20:9.1f} {r['state'] / 2**20:11.1f} {dense}")
    result = dict(threads=threads, clock=args.clock, steps=steps, memory=mem)
    if args.json:
        plain = next(r for r in mem if r["kind"] == "plain")
        rows = [Row(task=f"one step, {r['what']}, d = {r['d']:,}", unit="ms", wedges=r["ms"],
                    peer="plain train.train step", peer_value=steps[0]["ms"],
                    goal=">= 1/3" if any(k in r["what"] for k in ("fastfood", "sparse")) else "none (baseline)")
                for r in steps[1:]]
        rows += [Row(task=f"peak memory, {r['kind']}, D = {r['D']:,}, d = {r['d']:,}", unit="MB",
                     wedges=r["extra"] / 2**20, peer="plain training", peer_value=plain["extra"] / 2**20,
                     goal=f"dense P: {r['dense_bytes'] / 2**30:.0f} GB")
                 for r in mem if r["kind"] != "plain"]
        write_rows(args.json, rows)
    return result


if __name__ == "__main__":
    main()
