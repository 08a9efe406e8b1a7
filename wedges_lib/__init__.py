"""Wedges: the n-wedge model of neural network loss landscapes (Fort & Jastrzebski 2019), as a library.

Import the modules you need (``from wedges_lib import params, train``). The chapter-facing helpers of
:mod:`wedges_lib.results` are here too: :func:`record` keeps a chapter's key numbers for the book and for
papermill runs, :func:`thresholds` declares its checks' thresholds, :func:`check` records a verdict.
"""
__version__ = "0.3.0"

from .results import check, record, thresholds  # noqa: E402  (after __version__, which results does not need)

__all__ = ["check", "record", "thresholds", "__version__"]
