"""Command line: ``python -m wedges_lib run CHAPTER --scale S -p NAME VALUE ... --out DIR``."""
from __future__ import annotations

import argparse
import ast
import sys
from typing import Any


def parse_value(text: str) -> Any:
    """A parameter value from the command line: a Python literal (1, 0.05, True, (1, 2)) or else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


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
    args = parser.parse_args(argv)

    from . import sweep

    overrides = {name: parse_value(value) for name, value in args.param}
    try:
        status = sweep.run_chapter(args.chapter, args.out, scale=args.scale, overrides=overrides, quiet=args.quiet)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if status["status"] != "complete":
        print(f"run failed: {status.get('error', '')}; executed notebook kept in {args.out}", file=sys.stderr)
        return 1
    print(f"run complete in {status['seconds']} s: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
