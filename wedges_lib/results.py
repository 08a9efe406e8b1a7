"""A chapter's results: the numbers it records and the verdicts of its checks.

:func:`record` glues a number into the book's prose (myst-nb) and, inside a papermill run, writes it
to the run's ``metrics.json``; :func:`write_json` writes any JSON file atomically (benchmarks use it too).
A chapter's checks are :mod:`wedges_lib.verdicts`: declared before the run, judged over seeds, recorded.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from numbers import Number
from pathlib import Path
from typing import Any

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
    """Keep one of a chapter's key numbers: glued for the book's text, and written to the run's metrics.json.

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`, :ref:`ch-pairs`,
    :ref:`ch-sets`, :ref:`ch-ensembles`, :ref:`ch-benchmarks` and :ref:`ch-your-model`.
    """
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


def glue_figure(name: str, fig: Any) -> None:
    """Show a chapter's figure and glue it as ``name`` for a ``{glue:figure}`` directive in the chapter's markdown,
    which holds the caption and the label (the cell that draws it is tagged ``remove-output``: the figure appears
    once, under its caption). ``fig`` is a matplotlib figure, any displayable object (e.g. a static slider,
    :func:`wedges_lib.plots.frames`), or ``None`` where the chapter has nothing to draw (a line of text stands in).
    In Jupyter the figure shows under its cell as usual.

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`, :ref:`ch-pairs`,
    :ref:`ch-sets`, :ref:`ch-ensembles` and :ref:`ch-your-model`.
    """
    try:
        from myst_nb import glue
    except ImportError:  # outside the book toolchain there is nothing to glue into
        return
    if fig is None:
        glue(name, "(nothing to draw for these inputs)", display=True)
        return
    import matplotlib.pyplot as plt

    glue(name, fig, display=True)
    if isinstance(fig, plt.Figure):
        plt.close(fig)  # or the inline backend draws it a second time
