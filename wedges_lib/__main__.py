"""Command line.

``python -m wedges_lib run CHAPTER --scale S -p NAME VALUE ... --out DIR``: one papermill run (the executed notebook,
its HTML export ``report.html`` unless ``--no-html``, and ``metrics.json``).
``python -m wedges_lib sweep CHAPTER --scale S --grid NAME=V1,V2 --seeds 0-4 --out DIR``: a grid on Dask.
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 ok, 1 run failed, 2 bad input)."""
    parser = argparse.ArgumentParser(prog="python -m wedges_lib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute one chapter with parameters into a run folder")
    run.add_argument("chapter", help="path of a book/NN_topic.py chapter")
    run.add_argument("--scale", default=None, help="smoke, cpu or paper (default: $WEDGES_SCALE or cpu)")
    run.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="override one parameter (repeatable)")
    run.add_argument("--out", required=True, help="run folder to create (must not exist)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--no-html", action="store_true", help="no report.html (the executed notebook's export)")
    sw = sub.add_parser("sweep", help="run a grid of parameters x seeds of one chapter on Dask")
    sw.add_argument("chapter", help="path of a book/NN_topic.py chapter")
    sw.add_argument("--scale", default=None, help="smoke, cpu or paper (default: $WEDGES_SCALE or cpu)")
    sw.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,...",
                    help="values of one parameter (repeatable; the runs are every combination)")
    sw.add_argument("--seeds", default="0", help="seeds, e.g. 0-4 or 0,3,7 (default 0)")
    sw.add_argument("--out", required=True, help="result store: one folder per run, named by a hash of its parameters")
    sw.add_argument("--scheduler", default=None, help="Dask scheduler address (default: a LocalCluster)")
    sw.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: CPU cores)")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from . import sweep

    try:
        if args.command == "sweep":
            return _sweep(args, sweep)
        overrides = {name: sweep.parse_value(value) for name, value in args.param}
        status = sweep.run_chapter(args.chapter, args.out, scale=args.scale, overrides=overrides, quiet=args.quiet,
                                   html=not args.no_html)
    except (ValueError, NotADirectoryError) as e:  # bad parameters, or WEDGES_DATA naming a file
        print(f"error: {e}", file=sys.stderr)
        return 2
    if status["status"] != "complete":
        print(f"run failed: {status.get('error', '')}; executed notebook kept in {args.out}", file=sys.stderr)
        return 1
    print(f"run complete in {status['seconds']} s: {args.out}")
    return 0


def _sweep(args, sweep) -> int:
    results = sweep.run_sweep(args.chapter, args.out, scale=args.scale, grid=sweep.parse_grid(args.grid),
                              seeds=sweep.parse_seeds(args.seeds), scheduler=args.scheduler,
                              n_workers=args.workers, quiet=args.quiet)
    failed = [r for r in results if r["status"] == "failed"]
    counts = {s: sum(r["status"] == s for r in results) for s in ("complete", "skipped", "failed")}
    print(f"sweep: {counts['complete']} run, {counts['skipped']} already complete, {counts['failed']} failed "
          f"-> {args.out}")
    for r in failed:
        print(f"failed: {r['name']}: {r.get('error', '')} (notebook kept in {args.out}/{r['name']})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
