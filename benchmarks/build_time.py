"""How long the book takes to build cold: every chapter's execution time against its budget, and the total.

    python -m benchmarks.build_time                 # the cpu scale (the rendered book), printed
    python -m benchmarks.build_time --scale smoke   # the CI's build
    python -m benchmarks.build_time --save          # also keeps it in benchmarks/results/builds/<scale>.json

It builds the whole book (``jupyter-book build . -W -n --keep-going``, the README's command) into a temporary
folder with an empty result cache (``WEDGES_DATA``) and an empty execution cache, so nothing computed before is
reused, and reads each chapter's time from the parallel executor's record (:mod:`wedges_lib.execution`). A chapter
over its budget (:data:`wedges_lib.presets.CHAPTER_BUDGETS`, seconds at the cpu scale) is flagged. The book's
benchmarks appendix shows the last saved build beside the budgets.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT
from benchmarks.suite import RESULTS, git_commit, machine
from wedges_lib.execution import read_cells, read_times
from wedges_lib.presets import CHAPTER_BUDGETS
from wedges_lib.results import write_json

BUILDS = RESULTS / "builds"  # one record per scale: the last cold build measured and saved


def saved_build(scale: str = "cpu") -> dict | None:
    """The last saved build record at ``scale`` (None if none was saved)."""
    path = BUILDS / f"{scale}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def build(scale: str, jobs: int | None = None, keep: Path | None = None) -> dict:
    """Build the book cold at ``scale`` in a temporary folder (or in ``keep``, an empty or new folder that stays);
    the record: total and per-chapter seconds."""
    if keep is not None and Path(keep).exists() and any(Path(keep).iterdir()):
        raise ValueError(f"parameter 'keep': {str(keep)!r} is not empty; a cold build needs an empty folder")
    context = tempfile.TemporaryDirectory(prefix="wedges-build-") if keep is None else _Kept(Path(keep))
    with context as tmp:
        env = {**os.environ, "WEDGES_SCALE": scale, "WEDGES_DATA": str(Path(tmp) / "data")}
        if jobs:
            env["WEDGES_BUILD_JOBS"] = str(jobs)
        load = os.getloadavg()[1]  # other work on the machine slows every chapter: kept with the record
        start = time.perf_counter()
        p = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--path-output",
                            str(Path(tmp) / "out"), "-W", "-n", "--keep-going"], env=env, cwd=ROOT,
                           capture_output=True, text=True)
        total = time.perf_counter() - start
        chapters = read_times(Path(tmp) / "out" / "_build" / ".jupyter_cache")
        cells = read_cells(Path(tmp) / "out" / "_build" / ".jupyter_cache")
    return {"scale": scale, "total_seconds": round(total, 1), "chapters": chapters, "cells": cells,
            "succeeded": p.returncode == 0,
            "load": [round(load, 2), round(os.getloadavg()[2], 2)],  # 5-min average before, 15-min after
            "cores": os.cpu_count(), "jobs": jobs or os.cpu_count(), "log_tail": (p.stdout + p.stderr)[-2000:]}


class _Kept:
    """A folder that outlives the build (``--keep``), used like a TemporaryDirectory."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> str:
        self.path.mkdir(parents=True, exist_ok=True)
        return str(self.path)

    def __exit__(self, *exc) -> None:
        return None


def table(record: dict) -> str:
    """The record as a plain-text table: chapter, seconds, budget at cpu, and a flag when over it."""
    rows = [f"{'chapter':32} {'seconds':>8} {'budget':>8}"]
    for name, seconds in sorted(record["chapters"].items()):
        budget = CHAPTER_BUDGETS.get(name)
        over = "  OVER BUDGET" if budget is not None and record["scale"] == "cpu" and seconds > budget else ""
        rows.append(f"{name:32} {seconds:8.0f} {budget if budget is not None else '—':>8}{over}")
    rows.append(f"{'sum of chapters':32} {sum(record['chapters'].values()):8.0f}")
    rows.append(f"{'whole build (wall clock)':32} {record['total_seconds']:8.0f}")
    for name, cells in sorted(record.get("cells", {}).items()):  # where each chapter's time goes
        rows.append(f"{name}, slowest cells:")
        rows += [f"  {seconds:8.1f} s  {line}" for seconds, line in cells]
    return "\n".join(rows)


def markdown(record: dict | None) -> str:
    """A saved build as Markdown: where and when it was measured, then every chapter's seconds beside its budget."""
    if record is None:
        return "No build was saved yet: `python -m benchmarks.build_time --save` measures one."
    rows = "\n".join(f"| {name} | {seconds:.0f} | {CHAPTER_BUDGETS.get(name, '—')} | "
                      f"{'over' if seconds > CHAPTER_BUDGETS.get(name, float('inf')) else 'within'} |"
                      for name, seconds in sorted(record["chapters"].items()))
    return (f"Built cold at the {record['scale']} scale on {record['device']} ({record['jobs']} chapters at a time), "
            f"{record['date']}, commit `{record['commit']}`: **{record['total_seconds'] / 60:.1f} minutes** "
            f"(the chapters' execution times add up to {sum(record['chapters'].values()) / 60:.1f})"
            + (f"; the machine's load average was {record['load'][0]:g} before and {record['load'][1]:g} over the "
               f"build (the build alone keeps {record['jobs']} of its {record['cores']} cores busy: more is other work)"
               if "load" in record else "") + ".\n\n"
            f"| chapter | seconds | budget (s) | |\n|---|---|---|---|\n{rows}\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.build_time", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="cpu", choices=("smoke", "cpu", "paper"))
    ap.add_argument("--jobs", type=int, default=None, help="parallel kernels (default: the cores)")
    ap.add_argument("--save", action="store_true", help="keep the record in benchmarks/results/builds/<scale>.json")
    ap.add_argument("--keep", type=Path, default=None, help="build into this (empty) folder and keep it: the book "
                    "in KEEP/out/_build/html, the result cache in KEEP/data")
    args = ap.parse_args(argv)
    record = build(args.scale, args.jobs, args.keep)
    record |= {"device": machine(), "date": datetime.date.today().isoformat(), "commit": git_commit()}
    print(table(record))
    if not record["succeeded"]:
        print(record["log_tail"], file=sys.stderr)
    if args.save:
        BUILDS.mkdir(parents=True, exist_ok=True)
        write_json(BUILDS / f"{args.scale}.json", {k: v for k, v in record.items() if k != "log_tail"})
    return 0 if record["succeeded"] else 1


if __name__ == "__main__":
    sys.exit(main())
