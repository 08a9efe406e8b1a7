"""Chapters as notebooks: reading a jupytext percent-format chapter for the book and for papermill.

:func:`reads` is the book's reader (``nb_custom_formats`` in ``_config.yml``): jupytext's reader plus one
hidden code cell that holds :func:`wedges_lib.cache.library_fingerprint`. Jupyter Book's execution cache
hashes the code cells, so a change to the library's source re-executes every chapter, as a change to the
chapter's own code does; the book never shows numbers computed by older library code. Listed as a Sphinx
extension too (:func:`setup`), it makes the fingerprint a configuration value, so Sphinx re-reads every page
(and so calls :func:`reads` again) when the library changed even though no chapter file did.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import nbformat

from .cache import library_fingerprint

FINGERPRINT_PREFIX = "# wedges_lib source fingerprint: "


def reads(text: str, fmt: str | dict | None = None) -> nbformat.NotebookNode:
    """The notebook of a chapter's text (jupytext ``fmt``, e.g. 'py:percent'), with the library-fingerprint cell."""
    import jupytext

    nb = jupytext.reads(text, fmt=fmt)
    cell = nbformat.v4.new_code_cell(FINGERPRINT_PREFIX + library_fingerprint(),
                                     metadata={"tags": ["remove-cell"]})
    cell.id = "wedges-lib-fingerprint"  # deterministic: the cell is the same whenever the library is
    nb.cells.append(cell)
    return nb


def setup(app) -> dict:
    """Sphinx extension: the library fingerprint as an 'env' config value (a change re-reads every page)."""
    app.add_config_value("wedges_lib_fingerprint", library_fingerprint(), "env")
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def to_ipynb(chapter: str | Path, ipynb: str | Path) -> None:
    """Convert a percent-format chapter to a notebook papermill can run (python3 kernel unless it names one)."""
    import jupytext

    nb = jupytext.read(chapter)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    jupytext.write(nb, ipynb)


def parameters(chapter: str | Path) -> list[str]:
    """Names of the parameters in a chapter's ``parameters`` cell (read with papermill, nothing executed)."""
    import papermill

    with tempfile.TemporaryDirectory() as d:
        ipynb = Path(d) / "chapter.ipynb"
        to_ipynb(chapter, ipynb)
        found = papermill.inspect_notebook(str(ipynb))
    if not found:
        raise ValueError(f"{chapter}: no cell tagged 'parameters'")
    return list(found)
