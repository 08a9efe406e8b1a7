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

``WEDGES_BUILD_JOBS`` sets the number of parallel kernels (default: the cores, at most the chapters to run).
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

TIMES = "wedges-times.json"  # beside the execution cache's database: chapter -> seconds, of the last execution


def _execute(path: str, timeout: int) -> tuple[str, str | None, float, str | None]:
    """Execute one chapter (in its own folder) in a fresh kernel: (path, executed notebook as JSON or None, seconds,
    error)."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    from .notebook import reads

    nb = reads(Path(path).read_text(), fmt="py:percent")
    start = time.perf_counter()
    result = single_nb_execution(nb, cwd=str(Path(path).parent), allow_errors=False, timeout=timeout,
                                 meta_override=True)
    seconds = time.perf_counter() - start
    if result.err is not None:
        return path, None, seconds, f"{result.err.__class__.__name__}: {result.err}"
    return path, nbformat.writes(nb), seconds, None


def order(paths: list[Path], times: dict[str, float]) -> list[Path]:
    """The chapters to execute, slowest first by their last recorded time (unknown ones first of all), so that the
    last kernel to finish starts early.

    >>> [p.name for p in order([Path("a.py"), Path("b.py"), Path("c.py")], {"a": 5.0, "b": 60.0})]
    ['c.py', 'b.py', 'a.py']
    """
    return sorted(paths, key=lambda p: -times.get(p.stem, float("inf")))


def read_times(cache_path: str | Path) -> dict[str, float]:
    """Seconds each chapter took when it was last executed here (empty before any build)."""
    path = Path(cache_path) / TIMES
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
    log(f"wedges: executing {len(todo)} chapter(s), {jobs} at a time: {', '.join(p.stem for p in todo)}")
    cache = get_cache(str(cache_path))
    done: dict[str, float] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for path, text, seconds, error in pool.map(_execute, [str(p) for p in todo], [timeout] * len(todo)):
            stem = Path(path).stem
            if error is not None:
                log(f"wedges: {stem} failed after {seconds:.0f} s ({error}); the book build executes it again")
                continue
            cache.cache_notebook_bundle(CacheBundleIn(nbformat.reads(text, as_version=4), path,
                                                      data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)
            done[stem] = times[stem] = round(seconds, 1)
            log(f"wedges: {stem} executed in {seconds:.0f} s")
    Path(cache_path, TIMES).write_text(json.dumps(times, indent=1, sort_keys=True))
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
