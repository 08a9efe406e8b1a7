"""Wedges: the n-wedge model of neural network loss landscapes (Fort & Jastrzebski 2019), as a library.

Import the modules you need (``from wedges_lib import params, train``). :func:`record` (from
:mod:`wedges_lib.results`) keeps a chapter's key numbers for the book and for papermill runs; a chapter's
checks are :mod:`wedges_lib.verdicts`.
"""
__version__ = "0.3.0"

from .results import glue_figure, record  # noqa: E402  (after __version__, which results does not need)

__all__ = ["glue_figure", "record", "__version__"]
