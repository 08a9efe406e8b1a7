"""Running chapters as jobs: one papermill run with parameters, and the numbers a chapter records.

A run folder holds ``notebook.ipynb`` (executed), ``params.json`` (resolved parameters),
``metrics.json`` (what the chapter passed to :func:`record`) and ``status.json``. It is built under a
temporary name beside its final place and renamed when the run ends, so a folder that exists is
complete; a failed run keeps its executed notebook for debugging and says ``"status": "failed"``.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from numbers import Number
from pathlib import Path
from typing import Any

from . import config

RUN_DIR_ENV = "WEDGES_RUN_DIR"


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to a temporary file beside ``path``, then rename it (atomic)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=_jsonable)
    os.replace(tmp, path)


def _jsonable(v: Any) -> Any:
    if hasattr(v, "tolist"):  # numpy / torch
        return v.tolist()
    return str(v)


def _plain(value: Any) -> Any:
    value = _jsonable(value) if hasattr(value, "tolist") else value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def record(name: str, value: Any, *, display: bool = False) -> Any:
    """Keep one of a chapter's key numbers: glued for the book's text, and written to the run's metrics.json."""
    value = _plain(value)
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        path = Path(run_dir) / "metrics.json"
        metrics = json.loads(path.read_text()) if path.exists() else {}
        metrics[name] = value
        write_json(path, metrics)
    try:
        from myst_nb import glue
    except ImportError:  # outside the book toolchain recording still works
        return value
    shown = f"{value:.3g}" if isinstance(value, Number) and not isinstance(value, (bool, int)) else value
    glue(name, shown, display=display)
    return value


def to_ipynb(chapter: str | Path, ipynb: str | Path) -> None:
    """Convert a percent-format chapter to a notebook papermill can run (python3 kernel unless it names one)."""
    import jupytext

    nb = jupytext.read(chapter)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    jupytext.write(nb, ipynb)


def chapter_parameters(chapter: str | Path) -> list[str]:
    """Names of the parameters in a chapter's ``parameters`` cell (read with jupytext, nothing executed)."""
    import papermill

    with tempfile.TemporaryDirectory() as d:
        ipynb = Path(d) / "chapter.ipynb"
        to_ipynb(chapter, ipynb)
        found = papermill.inspect_notebook(str(ipynb))
    if not found:
        raise ValueError(f"{chapter}: no cell tagged 'parameters'")
    return list(found)


def validate(chapter: str | Path, scale: str | None, overrides: dict[str, Any]) -> config.Config:
    """Check a run's parameters before anything executes; return the resolved configuration."""
    if not Path(chapter).is_file():
        raise ValueError(f"chapter {str(chapter)!r} does not exist")
    known = chapter_parameters(chapter)
    _import_chapter_registries()
    unknown = [k for k in overrides if k not in known]
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r} for {Path(chapter).name}; "
                         f"valid parameters: {', '.join(k for k in known if k != 'scale')}")
    cfg = config.resolve(scale, **overrides)
    return config.Config({k: cfg[k] for k in known if k in cfg})


def _import_chapter_registries() -> None:
    """Import the library modules that register chapter-specific parameters with config."""
    import importlib
    import pkgutil

    import wedges_lib

    for mod in pkgutil.iter_modules(wedges_lib.__path__):
        if mod.name not in ("__main__",):
            importlib.import_module(f"wedges_lib.{mod.name}")


def run_chapter(chapter: str | Path, out: str | Path, *, scale: str | None = None,
                overrides: dict[str, Any] | None = None, quiet: bool = False, kernel: str = "python3") -> dict:
    """Execute ``chapter`` with papermill at ``scale`` with ``overrides`` into the run folder ``out``.

    Raises ValueError (nothing created) for bad parameters or an existing ``out``. Returns the status
    dict; ``status['status']`` is 'complete' or 'failed'.
    """
    import papermill

    overrides = dict(overrides or {})
    cfg = validate(chapter, scale, overrides)
    out = Path(out)
    if out.exists():
        raise ValueError(f"run folder {str(out)!r} already exists; choose another --out or delete it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    write_json(tmp / "params.json", dict(cfg))
    src = tmp / "source.ipynb"
    to_ipynb(chapter, src)
    env_before = os.environ.get(RUN_DIR_ENV)
    os.environ[RUN_DIR_ENV] = str(tmp.resolve())
    status: dict[str, Any] = {"chapter": str(chapter), "scale": cfg["scale"], "started": time.time()}
    try:
        papermill.execute_notebook(str(src), str(tmp / "notebook.ipynb"), parameters={"scale": cfg["scale"], **overrides},
                                   progress_bar=not quiet, kernel_name=kernel, cwd=str(Path(chapter).parent))
        status["status"] = "complete"
    except Exception as e:  # papermill raises PapermillExecutionError with the cell's traceback
        status.update(status="failed", error=f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}")
    finally:
        if env_before is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = env_before
    src.unlink()
    if not (tmp / "metrics.json").exists():
        write_json(tmp / "metrics.json", {})
    status["seconds"] = round(time.time() - status.pop("started"), 2)
    write_json(tmp / "status.json", status)
    try:
        os.rename(tmp, out)
    except OSError:  # someone else completed the same run meanwhile: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return status
