"""Every benchmark in one go, and the saved runs the book's benchmarks appendix shows.

    python -m benchmarks.suite                   # all five benchmarks on the CPU, printed
    python -m benchmarks.suite --device cuda --save
    python -m benchmarks.suite --quick --save --results /tmp/results

Each benchmark module runs in a fresh Python process with ``--json`` (one after another, never two at once, so
they do not share the machine) and its rows are read back (:func:`run`). On a GPU only the benchmarks that have
a ``--device cuda`` run (:data:`GPU`); ``subspace`` and ``align`` time CPU work only. ``--save`` writes the rows
to ``benchmarks/results/<device>.json`` (:func:`save`) with the device's name, the date, torch's version, the
git commit and the flags; the appendix (``book/91_benchmarks.py``) measures the CPU rows during the build and
shows every saved file beside them (:func:`saved`, :func:`table`), naming its device and date. A GPU's time is
short: try the command with ``--quick`` on a CPU first, then run it once on the GPU.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import HERE, ROOT, Row, child_env, read_rows

NAMES = ("ensemble", "curvature", "surfaces", "subspace", "align")
GPU = ("ensemble", "curvature", "surfaces")  # the benchmarks with a --device cuda
RESULTS = HERE / "results"
TITLES = {"ensemble": "K members trained in one batched pass vs one after another",
          "curvature": "Hessian top eigenvalues, and trace at equal standard error, vs PyHessian and curvlinops",
          "surfaces": "a loss plane vs loss-landscapes",
          "subspace": "training in a random d-dimensional subspace vs plain training",
          "align": "permutation alignment by weight matching vs rebasin"}


def names_for(device: str) -> tuple[str, ...]:
    """The benchmarks that run on ``device`` ('cpu' or 'cuda')."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"parameter 'device': got {device!r}; expected 'cpu' or 'cuda'")
    return NAMES if device == "cpu" else GPU


def args_for(name: str, *, quick: bool = False, device: str = "cpu") -> list[str]:
    """The flags benchmark ``name`` runs with: its quick version (curvature's without the slow scipy baseline)
    and the device, where it has one."""
    if name not in NAMES:
        raise ValueError(f"parameter 'name': got {name!r}; expected one of {', '.join(NAMES)}")
    args = (["--quick"] + (["--no-scipy"] if name == "curvature" else [])) if quick else []
    return args + (["--device", device] if name in GPU else [])


def run(name: str, args: list[str]) -> list[Row]:
    """Run benchmark ``name`` alone, ``python -m benchmarks.NAME ARGS --json OUT`` in a fresh process from the
    repository root: its rows, or an error with the end of its output."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name}.json"
        cmd = [sys.executable, "-m", f"benchmarks.{name}", *args, "--json", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=child_env())
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"python -m benchmarks.{name} {' '.join(args)} failed (exit {proc.returncode}):\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        return read_rows(out)  # checks each row against the row type (common.Row)


def run_all(*, device: str = "cpu", quick: bool = False, progress: bool = True) -> dict[str, list[Row]]:
    """Every benchmark that runs on ``device``, one after another: {name: rows}; with ``progress``, a text bar on a
    terminal (none in a notebook)."""
    from tqdm import tqdm  # a text bar on a terminal only (disable=None): none in the book's appendix

    names = names_for(device)
    return {name: run(name, args_for(name, quick=quick, device=device))
            for name in tqdm(names, desc="benchmarks", disable=None if progress else True)}


def machine(device: str = "cpu") -> str:
    """The device in words: the GPU's name, or the CPU's model (from /proc/cpuinfo where there is one) and count."""
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    return f"{model}, {os.cpu_count()} CPUs"


def git_commit() -> str:
    """The short hash of the commit measured ('unknown' outside a git checkout)."""
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE)
    return git.stdout.strip() if git.returncode == 0 else "unknown"


def save(rows: dict[str, list[Row]], *, device: str, quick: bool, directory: Path = RESULTS) -> Path:
    """Write one run's rows, with where and when they were measured, to ``directory/<device>.json`` (atomically;
    a run on the same device replaces the file), with the device's name, the date, torch's version and the git
commit of the benchmarks measured. Returns the path."""
    import torch

    from wedges_lib.results import write_json

    name = machine(device)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() + ".json")
    write_json(path, {"device": name, "date": datetime.date.today().isoformat(), "torch": torch.__version__,
                      "commit": git_commit(), "quick": quick,
                      "benchmarks": {k: [r.to_dict() for r in v] for k, v in rows.items()}})
    return path


def saved(directory: Path = RESULTS) -> list[dict[str, Any]]:
    """Every saved run in ``directory`` (sorted by file name): its fields, with ``benchmarks`` as {name: rows}.
    A file that is not a saved run is an error that names it."""
    runs = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            d = json.loads(path.read_text())
            unknown = set(d["benchmarks"]) - set(NAMES)
            d["benchmarks"] = {k: [Row.from_dict(r) for r in d["benchmarks"][k]] for k in NAMES
                               if k in d["benchmarks"]}  # in the suite's order
            missing = {"device", "date", "torch", "commit", "quick"} - set(d)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{path} is not a saved benchmark run: {e}") from None
        if missing or unknown:
            raise ValueError(f"{path} is not a saved benchmark run: missing {sorted(missing)} or unknown "
                             f"benchmarks {sorted(unknown)} (known: {', '.join(NAMES)})")
        runs.append(d)
    return runs


SPEED_COLUMNS = ("task", "unit", "Wedges", "peer's", "ratio peer / Wedges", "ratio range", "goal", "goal met")
CHECK_COLUMNS = ("task", "peer", "of peak", "ratio at peak", "agreement", "peer's agreement")


def tables(name: str, rows: list[Row], caption: str = ""):
    """Benchmark ``name``'s rows as two styled pandas tables that fit the book's text column: the speed (each
    task's values, the ratio, its range over rounds, the goal and whether it is met) and the evidence behind it
    (the peer, the fraction of the matmul peak, the ratio at peak — ratio / of peak — and the agreement)."""
    import pandas as pd

    df = pd.DataFrame([dict(r.to_dict(), **{"goal met": r.goal_met}) for r in rows])
    ratio = "ratio peer / Wedges"
    df = df.rename(columns={"wedges": "Wedges", "peer_value": "peer's", "ratio": ratio,
                            "peer_agreement": "peer's agreement", "peak_fraction": "of peak"})
    if "ratio_lo" in df:  # the range of the per-round ratios (timings: medians of rounds)
        df["ratio range"] = [f"{a:.2f}–{b:.2f}" if a == a else "" for a, b in zip(df.ratio_lo, df.ratio_hi)]
    if "of peak" in df:  # the ratio were Wedges' work done at the matmul peak
        df["ratio at peak"] = df[ratio] / pd.to_numeric(df["of peak"], errors="coerce")
    fmt = {"Wedges": "{:.3g}", "peer's": "{:.3g}", ratio: "{:.2f}", "agreement": "{:.1e}",
           "peer's agreement": "{:.1e}", "of peak": "{:.0%}", "ratio at peak": "{:.2f}"}
    described = list(dict.fromkeys(r.agreement_is for r in rows if r.agreement_is))
    caption = caption or TITLES[name]
    checks = caption + ": the peer, the work's share of the peak and the agreement" + (
        f" ({'; '.join(described)})" if described else "")
    return tuple(df[[c for c in cols if c in df]].style.format({k: v for k, v in fmt.items() if k in cols},
                                                                na_rep="").hide(axis="index").set_caption(cap)
                 for cols, cap in ((SPEED_COLUMNS, caption + ": speed"), (CHECK_COLUMNS, checks)))


def main(argv=None) -> None:
    """Run the suite, print each benchmark's rows and, with --save, keep them."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.suite", description=__doc__.strip().splitlines()[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the benchmarks run")
    ap.add_argument("--quick", action="store_true", help="each benchmark's quick version (a test of the set-up)")
    ap.add_argument("--save", action="store_true", help="write the rows to RESULTS/<device>.json")
    ap.add_argument("--results", type=Path, default=RESULTS, help=f"where --save writes (default {RESULTS})")
    args = ap.parse_args(argv)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            ap.error("--device cuda: torch sees no CUDA device on this machine")
    rows = run_all(device=args.device, quick=args.quick)
    for name, rs in rows.items():
        print(f"\n{name}: {TITLES[name]}")
        for r in rs:
            print(f"  {r.task}: {r.wedges:.3g} vs {r.peer_value:.3g} {r.unit} -> {r.ratio:.2f}x "
                  f"(goal {r.goal}{', met' if r.goal_met == 'yes' else ', missed' if r.goal_met else ''})")
    if args.save:
        print(f"\nsaved to {save(rows, device=args.device, quick=args.quick, directory=args.results)}")


if __name__ == "__main__":
    main()
