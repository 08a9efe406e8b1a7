"""Wedges' benchmarks: each module times one of the library's answers against a peer's for the same job (and
checks the answers agree), on a CPU or, where it has ``--device cuda``, a GPU. Run one as a module from the
repository root, ``python -m benchmarks.curvature --quick``, or all of them with ``python -m benchmarks.suite``;
:mod:`benchmarks.common` is the frame they share (rows, timing, flags) and :mod:`benchmarks.suite` runs them one
after another and keeps their rows for the book's benchmarks appendix. This package imports nothing at load
time: ``curvature`` sets the BLAS thread variables before numpy loads.
"""
