"""The frame every benchmark in ``benchmarks/`` shares: result rows, timing, peak memory and flags.

* :class:`Row` is one line of a benchmark's result: Wedges' figure, a peer's figure for the same job, the
  ratio peer / Wedges, the goal asked of that ratio and, where the answer is checked, how close Wedges'
  answer is to a reference. A benchmark writes its rows with :func:`write_rows` (``--json PATH``); the
  book's benchmarks appendix (``book/91_benchmarks.py``) reads them back with :func:`read_rows`.
* :func:`timed` times one call (wall and process-CPU seconds, CUDA work included); :func:`interleave` and
  :class:`Timer` repeat calls, alternating between the methods so that load on the machine hits all of
  them, and keep every sample in a :class:`Timing` (median, best, spread).
* :func:`peak_rss` is the process's peak resident set size (VmHWM); :func:`run_child` runs a snippet in a
  fresh Python process, with ``peak_rss`` in scope, and returns the JSON object it prints last;
  :func:`child_env` is the environment in which a child process imports ``benchmarks``.
* :func:`parser` builds the argument parser with the standard flags ``--quick``, ``--json PATH``,
  ``--device``, ``--threads`` and ``--repeats``; :func:`apply_threads` applies ``--threads`` to torch.

This module imports neither torch nor numpy at load time: a benchmark that must set the BLAS thread
variables before numpy loads (``curvature.py``) parses its flags first.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent  # the repository root: the folder from which ``benchmarks`` is importable


def child_env() -> dict[str, str]:
    """This process's environment with the repository root added to the end of ``PYTHONPATH``: a child Python
    process imports ``benchmarks`` (and runs ``python -m benchmarks.NAME``) from any folder, installed or not."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": (path + os.pathsep if path else "") + str(ROOT)}


# ---------------------------------------------------------------- result rows


@dataclass(frozen=True, kw_only=True)
class Row:
    """One result row: Wedges against a peer on one task.

    ``wedges`` and ``peer_value`` are in ``unit`` (``"s"``, ``"ms"``, ``"MB"``: smaller is better), and
    :attr:`ratio` is ``peer_value / wedges`` (above 1: Wedges is faster or smaller). ``goal`` is either a
    ratio goal ``">= x"`` (x a number or a fraction such as ``1/3``) or a note saying the row has none
    (``"none (diagnostic)"``, ``"dense P: 7 GB"``). ``agreement`` is how far Wedges' answer is from the
    reference, described by ``agreement_is`` and allowed up to ``tolerance`` (all three or none);
    ``peer_agreement`` is the same measure for the peer's answer, where there is one. ``ratio_lo`` and
    ``ratio_hi`` are the smallest and largest of the per-round ratios (the methods interleaved; ``wedges`` and
    ``peer_value`` are medians), and ``peak_fraction`` the fraction of the machine's matmul FLOP/s
    (:func:`matmul_peak`) that Wedges' path reaches, where its FLOPs are counted.
    """

    task: str
    unit: str
    wedges: float
    peer: str
    peer_value: float
    goal: str
    agreement: float | None = None
    agreement_is: str | None = None
    tolerance: float | None = None
    peer_agreement: float | None = None
    ratio_lo: float | None = None
    ratio_hi: float | None = None
    peak_fraction: float | None = None

    def __post_init__(self) -> None:
        for name in ("task", "unit", "peer", "goal"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"Row.{name} must be a non-empty string, not {getattr(self, name)!r}")
        for name in ("wedges", "peer_value", "agreement", "tolerance", "peer_agreement", "ratio_lo", "ratio_hi",
                     "peak_fraction"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, float(value))  # numpy / torch scalars -> float
        if not (math.isfinite(self.wedges) and math.isfinite(self.peer_value)):
            raise ValueError(f"{self.task}: measured values must be finite, not {self.wedges} and {self.peer_value}")
        checked = [self.agreement is not None, self.agreement_is is not None, self.tolerance is not None]
        if any(checked) and not all(checked):
            raise ValueError(f"{self.task}: agreement, agreement_is and tolerance go together")
        if self.peer_agreement is not None and self.agreement is None:
            raise ValueError(f"{self.task}: peer_agreement without agreement")
        _ = self.goal_ratio  # fails on a malformed ratio goal

    @property
    def ratio(self) -> float:
        """The peer's figure over Wedges' (above 1: Wedges is faster or smaller)."""
        if self.wedges == 0:  # a difference of timings (subspace.py's step time) can come out 0 on a noisy machine
            return math.copysign(math.inf, self.peer_value)
        return self.peer_value / self.wedges

    @property
    def goal_ratio(self) -> float | None:
        """The ratio asked of Wedges, or None when the goal is no ratio."""
        if not self.goal.startswith(">= "):
            return None
        try:
            return float(Fraction(self.goal[3:]))
        except ValueError:
            raise ValueError(f"{self.task}: goal {self.goal!r} is not '>= number'") from None

    @property
    def goal_met(self) -> str:
        """'yes' / 'no' for a ratio goal, '' for a row without one."""
        goal = self.goal_ratio
        return "" if goal is None else ("yes" if self.ratio >= goal else "no")

    @property
    def agrees(self) -> bool | None:
        """Whether Wedges' answer is within tolerance of the reference; None for a row that is not checked."""
        return None if self.agreement is None else self.agreement <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready fields, ``ratio`` included, unset optional fields left out."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        out["ratio"] = self.ratio
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Row:
        """A row from :meth:`to_dict`'s form; unknown fields, missing ones and a ratio that is not
        peer_value / wedges are errors."""
        d = dict(d)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names - {"ratio"}
        if unknown:
            raise ValueError(f"unknown row fields {sorted(unknown)} in {d.get('task', d)!r}")
        ratio = d.pop("ratio", None)
        try:
            row = cls(**d)
        except TypeError as e:
            raise ValueError(f"bad row {d.get('task', d)!r}: {e}") from None
        if ratio is not None and not math.isclose(ratio, row.ratio, rel_tol=1e-9):
            raise ValueError(f"{row.task}: ratio {ratio} is not peer_value / wedges = {row.ratio}")
        return row


def write_rows(path: str | Path, rows: Iterable[Row]) -> None:
    """Write the rows as a JSON list (atomically, with wedges_lib.results.write_json)."""
    from wedges_lib.results import write_json

    write_json(Path(path), [r.to_dict() for r in rows])


def read_rows(path: str | Path) -> list[Row]:
    """The rows a benchmark wrote with :func:`write_rows`."""
    return [Row.from_dict(d) for d in json.loads(Path(path).read_text())]


# ---------------------------------------------------------------- timing


def _sync() -> None:
    """Wait for queued CUDA work, if CUDA is in use (a no-op on the CPU)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, wall seconds, process-CPU seconds) of one call of ``fn``, queued GPU work included."""
    _sync()
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    _sync()
    return out, time.perf_counter() - w, time.process_time() - c


@dataclass
class Timing:
    """The wall and process-CPU seconds of repeated runs of one method, and the last run's result."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    result: Any = None

    def samples(self, clock: str = "wall") -> list[float]:
        if clock not in ("wall", "cpu"):
            raise ValueError(f"clock must be 'wall' or 'cpu', not {clock!r}")
        if not self.wall:
            raise ValueError("no timed runs")
        return self.wall if clock == "wall" else self.cpu

    def median(self, clock: str = "wall") -> float:
        return statistics.median(self.samples(clock))

    def best(self, clock: str = "wall") -> float:
        """The fastest run: robust to other load on the machine."""
        return min(self.samples(clock))

    def spread(self, clock: str = "wall") -> float:
        """Slowest minus fastest run, in seconds (0 for a single run)."""
        s = self.samples(clock)
        return max(s) - min(s)

    def __str__(self) -> str:
        n = len(self.wall)
        if n == 1:
            return f"{self.wall[0]:.3g} s (1 run)"
        return f"{self.median():.3g} s median, best {self.best():.3g}, spread {self.spread():.2g} s ({n} runs)"


class Timer:
    """Timings by name: ``timer.run(name, fn)`` times one call, keeps its sample and returns its result."""

    def __init__(self) -> None:
        self.timings: dict[str, Timing] = {}

    def run(self, name: Any, fn: Callable[[], Any]) -> Any:
        out, wall, cpu = timed(fn)
        t = self.timings.setdefault(name, Timing())
        t.wall.append(wall)
        t.cpu.append(cpu)
        t.result = out
        return out

    def __getitem__(self, name: Any) -> Timing:
        return self.timings[name]


def interleave(fns: dict[Any, Callable[[], Any]], repeats: int,
               after: Callable[[Any, Any], None] | None = None) -> dict[Any, Timing]:
    """Time each of ``fns`` ``repeats`` times, in rounds that call every one in turn; ``after(name, result)``
    runs after each call, untimed (e.g. to read a counter)."""
    timer = Timer()
    for _ in range(repeats):
        for name, fn in fns.items():
            out = timer.run(name, fn)
            if after is not None:
                after(name, out)
    return timer.timings


def ratios(peer: Timing, wedges: Timing) -> dict[str, float]:
    """The median of each method's runs and the spread of the per-round ratios peer / Wedges, as Row fields."""
    per_round = [p / w for p, w in zip(peer.wall, wedges.wall) if w > 0]
    return dict(wedges=wedges.median(), peer_value=peer.median(), ratio_lo=min(per_round, default=math.nan),
                ratio_hi=max(per_round, default=math.nan))


_PEAK: dict[str, float] = {}


def matmul_peak(device: str = "cpu", n: int | None = None, repeat: int = 5) -> float:
    """The machine's matmul FLOP/s: an n x n float32 ``torch.matmul`` (n = 2048 on a CPU, 4096 on a GPU) with
    torch's current thread count, best of ``repeat``; measured once per process and device."""
    import torch

    key = f"{device}:{torch.get_num_threads()}"
    if key not in _PEAK:
        n = n or (4096 if device != "cpu" else 2048)
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        a @ b
        best = min(timed(lambda: a @ b)[1] for _ in range(repeat))
        _PEAK[key] = 2 * n**3 / best
    return _PEAK[key]


# ---------------------------------------------------------------- memory


def peak_rss() -> int:
    """This process's peak resident set size in bytes: VmHWM from /proc, else ru_maxrss.

    Measure in a fresh process (:func:`run_child`): ru_maxrss of a forked child starts from its parent's.
    """
    try:
        with open("/proc/self/status") as f:
            return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) * 1024
    except (OSError, AttributeError):
        import resource

        scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux kB
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def run_child(code: str, argv: Sequence[str] = ()) -> dict[str, Any]:
    """Run ``code`` in a fresh Python process (``sys.argv[1:]`` = ``argv``, :func:`peak_rss` in scope) and
    return the JSON object it prints on its last line of output."""
    preamble = "from benchmarks.common import peak_rss\n"
    proc = subprocess.run([sys.executable, "-c", preamble + code, *map(str, argv)], capture_output=True, text=True,
                          env=child_env())
    if proc.returncode != 0:
        raise RuntimeError(f"child process {list(argv)} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- flags

_BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class BenchParser(argparse.ArgumentParser):
    """An argument parser whose ``parse_args`` also resolves ``--repeats`` (by ``--quick``) and, for
    ``--threads N``, sets the BLAS thread variables (they take effect for libraries loaded afterwards)."""

    repeats_default: tuple[int, int] = (3, 1)

    def parse_args(self, args=None, namespace=None):
        ns = super().parse_args(args, namespace)
        if ns.repeats is None:
            ns.repeats = self.repeats_default[1 if ns.quick else 0]
        if ns.repeats < 1:
            self.error("--repeats must be at least 1")
        if ns.threads < 0:
            self.error("--threads must be 0 (the libraries' default) or more")
        if ns.threads:
            for var in _BLAS_THREADS:
                os.environ[var] = str(ns.threads)
        return ns


def parser(doc: str | None, *, quick: str = "a smoke run: fewer repeats and a smaller problem",
           repeats: tuple[int, int] = (3, 1), threads: int = 0,
           devices: Sequence[str] = ("cpu",)) -> BenchParser:
    """The argument parser of a benchmark, with the standard flags; add the benchmark's own to it.

    ``doc``: the script's docstring (its first line is the description). ``repeats``: the default of
    ``--repeats`` without and with ``--quick``. ``threads``: the default of ``--threads`` (0: the
    libraries' own choice). ``devices``: the choices of ``--device``, the first the default.
    """
    script = Path(sys.argv[0])  # run as ``python -m benchmarks.NAME``: usage lines say so
    prog = f"python -m benchmarks.{script.stem}" if script.suffix == ".py" and script.resolve().parent == HERE else None
    ap = BenchParser(prog=prog, description=(doc or "").strip().splitlines()[0] if doc else None)
    ap.repeats_default = repeats
    ap.add_argument("--quick", action="store_true", help=quick)
    ap.add_argument("--json", metavar="PATH", default=None, help="also write the result rows to this JSON file")
    ap.add_argument("--device", choices=tuple(devices), default=devices[0],
                    help="where the benchmark runs" + ("" if len(devices) > 1 else " (this benchmark: the CPU only)"))
    ap.add_argument("--threads", type=int, default=threads,
                    help=f"CPU threads for torch and BLAS, 0: the libraries' own choice (default {threads})")
    ap.add_argument("--repeats", "--repeat", type=int, default=None,
                    help=f"timed runs of each method, interleaved (default {repeats[0]}, {repeats[1]} with --quick)")
    return ap


def apply_threads(args: argparse.Namespace) -> int:
    """Set torch's intra-op threads from ``--threads`` (0: leave torch's default); the number in use."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    return torch.get_num_threads()
