"""The book's chapters executed on every core before Sphinx reads them, into Jupyter Book's execution cache.

Jupyter Book 1 (myst-nb) executes notebooks one after another, as Sphinx reads them, and each chapter sets torch
to one thread: on a machine with two cores one of them idles for most of the build. Listed as a Sphinx extension
(``_config.yml``), this module runs first (``builder-inited``): it reads every chapter of the table of contents
exactly as the book reads it (:func:`wedges_lib.notebook.reads`, so the cache's hash of the code cells matches),
asks the execution cache (jupyter-cache, ``execute_notebooks: cache``) which have no executed copy, executes those
in parallel — one kernel per core, the slowest first (:func:`order`) — and stores each executed notebook in the
cache. myst-nb then finds every chapter cached and executes nothing; a chapter that failed here is not cached, so
myst-nb executes it again and reports its error as usual. Each chapter's time is written to
``_build/.jupyter_cache/wedges-times.json`` (:func:`read_times`), which ``benchmarks.build_time`` reads.

``WEDGES_BUILD_JOBS`` sets the number of parallel kernels (default: the cores, at most the chapters to run). Each
kernel gets the cores divided among the kernels as its threads (``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``, unless
the environment sets them): two kernels of two threads each on two cores wait on each other's OpenMP barriers, which
made a chapter without its own ``torch.set_num_threads`` up to 35 times slower (chapter 00: 14 s alone, 511 s beside
another). The kernels also keep freed memory for reuse (glibc's ``MALLOC_MMAP_THRESHOLD_`` /
``MALLOC_TRIM_THRESHOLD_``, ``MALLOC``, unless set): by default every block over 32 MB comes from ``mmap`` and
goes back on free, so each new parameter-sized tensor of a ResNet-18 (45 MB) is page-faulted afresh — 43 % of
chapter 92's CPU time was the kernel's (81 of 189 s; 4.5 of 105 s with the setting, peak memory 4.2 -> 5.2 GB).
The slowest cells of each chapter are kept beside its time (``wedges-cells.json``, :func:`read_cells`).
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from .results import write_json

TIMES = "wedges-times.json"  # beside the execution cache's database: chapter -> seconds, of the last execution
CELLS = "wedges-cells.json"  # chapter -> its slowest cells [[seconds, first line of code], ...] in that execution
SLOWEST = 5  # cells kept per chapter
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # torch's intra-op pool and BLAS read them when they start
MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(2 ** 32), "MALLOC_TRIM_THRESHOLD_": str(2 ** 34)}  # read at a process's start


def kernel_threads(jobs: int, cores: int | None = None, environ=None) -> int | None:
    """The threads each of ``jobs`` parallel kernels gets: the cores shared out (at least 1), or None where the
    environment (``environ``, default ``os.environ``) already sets ``OMP_NUM_THREADS`` (the kernels inherit it).

    >>> [kernel_threads(jobs, cores=2, environ={}) for jobs in (1, 2, 3)]
    [2, 1, 1]
    >>> kernel_threads(2, cores=2, environ={"OMP_NUM_THREADS": "4"}) is None
    True
    """
    if (os.environ if environ is None else environ).get("OMP_NUM_THREADS"):
        return None
    return max(1, (cores or os.cpu_count() or 1) // max(1, jobs))


def slowest_cells(nb, n: int = SLOWEST) -> list[list]:
    """The ``n`` slowest code cells of an executed notebook (executed with ``record_timing``): [[seconds, the first
    line of code], ...], slowest first."""
    from datetime import datetime

    out = []
    for cell in nb.cells:
        t = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type != "code" or "shell.execute_reply" not in t or "iopub.execute_input" not in t:
            continue
        seconds = (datetime.fromisoformat(t["shell.execute_reply"].replace("Z", "+00:00"))
                   - datetime.fromisoformat(t["iopub.execute_input"].replace("Z", "+00:00"))).total_seconds()
        first = next((ln for ln in cell.source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
        out.append([round(seconds, 1), first.strip()[:100]])
    return sorted(out, key=lambda c: -c[0])[:n]


def _execute(path: str, timeout: int, threads: int | None) -> tuple[str, str | None, float, list, str | None]:
    """Execute one chapter (in its own folder) in a fresh kernel with ``threads`` threads (None: as the environment
    says): (path, executed notebook as JSON or None, seconds, its slowest cells, error)."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    from .notebook import reads

    if threads is not None:  # this worker process's environment is the kernel's
        os.environ.update({k: str(threads) for k in THREAD_VARS})
    for k, v in MALLOC.items():
        os.environ.setdefault(k, v)
    nb = reads(Path(path).read_text(), fmt="py:percent")
    start = time.perf_counter()
    result = single_nb_execution(nb, cwd=str(Path(path).parent), allow_errors=False, timeout=timeout,
                                 meta_override=True, record_timing=True)
    seconds = time.perf_counter() - start
    slow = slowest_cells(nb)
    for cell in nb.cells:  # the execution cache hashes cell metadata: a timed cell would never match the chapter
        cell.metadata.pop("execution", None)
    if result.err is not None:
        return path, None, seconds, slow, f"{result.err.__class__.__name__}: {result.err}"
    return path, nbformat.writes(nb), seconds, slow, None


def order(paths: list[Path], times: dict[str, float], budgets: dict[str, float] | None = None) -> list[Path]:
    """The chapters to execute, slowest first, so that the last kernel to finish starts early: by their last
    recorded time here, else their budget (:data:`wedges_lib.presets.CHAPTER_BUDGETS`, the measured cost at the
    cpu scale: a cold build has no record yet), chapters with neither first of all.

    >>> [p.name for p in order([Path("a.py"), Path("b.py"), Path("c.py"), Path("d.py")], {"a": 5.0, "b": 60.0},
    ...                        {"d": 30, "b": 1})]
    ['c.py', 'b.py', 'd.py', 'a.py']
    """
    if budgets is None:
        from .presets import CHAPTER_BUDGETS as budgets
    return sorted(paths, key=lambda p: -times.get(p.stem, budgets.get(p.stem, float("inf"))))


def read_times(cache_path: str | Path) -> dict[str, float]:
    """Seconds each chapter took when it was last executed here (empty before any build)."""
    path = Path(cache_path) / TIMES
    return json.loads(path.read_text()) if path.is_file() else {}


def read_cells(cache_path: str | Path) -> dict[str, list]:
    """Each chapter's slowest cells when it was last executed here: {chapter: [[seconds, first line], ...]}."""
    path = Path(cache_path) / CELLS
    return json.loads(path.read_text()) if path.is_file() else {}


def pending(paths: list[Path], cache_path: str | Path) -> list[Path]:
    """The chapters whose code (as the book reads it) has no executed copy in the execution cache."""
    from jupyter_cache import get_cache

    from .notebook import reads

    cache = get_cache(str(cache_path))
    out = []
    for path in paths:
        try:
            cache.match_cache_notebook(reads(path.read_text(), fmt="py:percent"))
        except KeyError:
            out.append(path)
    return out


def execute_all(paths: list[Path], cache_path: str | Path, *, jobs: int | None = None, timeout: int = 1800,
                log=print) -> dict[str, float]:
    """Execute the chapters of ``paths`` that the execution cache at ``cache_path`` lacks, ``jobs`` at a time, and
    cache each that succeeded; returns their seconds by chapter (also merged into ``TIMES``)."""
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    times = read_times(cache_path)
    todo = order(pending(paths, cache_path), times)
    if not todo:
        return {}
    jobs = max(1, min(jobs or int(os.environ.get("WEDGES_BUILD_JOBS", 0)) or os.cpu_count() or 1, len(todo)))
    threads = kernel_threads(jobs)
    log(f"wedges: executing {len(todo)} chapter(s), {jobs} at a time"
        f"{f', {threads} thread(s) each' if threads else ''}: {', '.join(p.stem for p in todo)}")
    cache = get_cache(str(cache_path))
    cells = read_cells(cache_path)
    done: dict[str, float] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_execute, str(p), timeout, threads) for p in todo]
        for future in as_completed(futures):
            path, text, seconds, slow, error = future.result()
            stem = Path(path).stem
            cells[stem] = slow
            if error is not None:
                log(f"wedges: {stem} failed after {seconds:.0f} s ({error}); the book build executes it again")
            else:
                cache.cache_notebook_bundle(CacheBundleIn(nbformat.reads(text, as_version=4), path,
                                                          data={"execution_seconds": seconds}),
                                            check_validity=False, overwrite=True)
                done[stem] = times[stem] = round(seconds, 1)
                log(f"wedges: {stem} executed in {seconds:.0f} s")
            write_json(Path(cache_path, TIMES), times)  # after each chapter: an interrupted build keeps its times
            write_json(Path(cache_path, CELLS), cells)
    return done


def _before_reading(app, env, docnames) -> None:
    mode = getattr(app.config, "nb_execution_mode", None)
    if mode != "cache":
        return
    from myst_nb.sphinx_ext import SPHINX_LOGGER

    cache_path = env.mystnb_config.execution_cache_path
    paths = [Path(env.doc2path(d)) for d in docnames]
    suffixes = tuple(getattr(app.config, "nb_custom_formats", None) or {})
    execute_all([p for p in paths if str(p).endswith(suffixes)], cache_path,
                timeout=int(getattr(app.config, "nb_execution_timeout", 1800) or 1800), log=SPHINX_LOGGER.info)


def setup(app) -> dict:
    """Sphinx extension: execute the chapters Sphinx is about to read, in parallel, into the execution cache."""
    app.connect("env-before-read-docs", _before_reading, priority=900)  # after myst-nb set the cache's path
    return {"parallel_read_safe": True, "parallel_write_safe": True}
