"""Wedges: the n-wedge model of neural network loss landscapes (Fort & Jastrzebski 2019), as a library.

Import the modules you need (``from wedges_lib import params, train``); :func:`record` keeps a
chapter's key numbers for the book and for papermill runs; :func:`check` asserts a chapter's claim.
"""
__version__ = "0.2.0"


def record(name: str, value, *, display: bool = False):
    """Keep one of a chapter's key numbers (see :func:`wedges_lib.results.record`)."""
    from .results import record as _record

    return _record(name, value, display=display)


def check(name: str, ok: bool, expected: str, measured: str) -> None:
    """A chapter's claim check (see :func:`wedges_lib.results.check`): records a verdict, raises when not ok."""
    from .results import check as _check

    _check(name, ok, expected, measured)
