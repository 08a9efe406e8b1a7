"""One figure style for the whole book: labelled axes, a title that states the finding, Okabe–Ito colours.

Figures are returned, never saved, unless the caller asks (``fig.savefig``); Jupyter Book embeds them.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

# Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

STYLE = {
    "figure.dpi": 110, "savefig.dpi": 110, "figure.figsize": (6.4, 3.6),
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8, "legend.frameon": False,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.prop_cycle": plt.cycler(color=PALETTE),
    "figure.constrained_layout.use": True,
}
plt.rcParams.update(STYLE)


def _np(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def figure(ncols: int = 1, nrows: int = 1, *, width: float = 3.4, height: float = 2.8, **kw):
    """A figure with ``nrows x ncols`` axes of about ``width x height`` inches each; returns (fig, axes)."""
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kw)


def label(ax, xlabel: str, ylabel: str, title: str | None = None) -> None:
    """Axis labels (with units) and an optional title that states the finding."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)


def curves(ax, x, ys: dict[str, object], *, xlabel: str, ylabel: str, title: str | None = None,
           logy: bool = False, marker: str | None = None) -> None:
    """One line per entry of ``ys`` (label -> values (T,) or (T, S) for S seeds: mean with a ±1 std band)."""
    x = _np(x)
    for (name, y), colour in zip(ys.items(), PALETTE * 4):
        y = _np(y)
        if y.ndim == 2:
            m, s = np.nanmean(y, 1), np.nanstd(y, 1)
            ax.fill_between(x, m - s, m + s, color=colour, alpha=0.2, lw=0)
            y = m
        ax.plot(x, y, color=colour, label=name, marker=marker, ms=3)
    if logy:
        ax.set_yscale("log")
    if len(ys) > 1:
        ax.legend()
    label(ax, xlabel, ylabel, title)


def contour(ax, xs, ys, Z, *, points: dict[str, Sequence[float]] | None = None, levels: int = 20,
            xlabel: str = "direction 1", ylabel: str = "direction 2", title: str | None = None,
            log: bool = True, cbar_label: str = "loss"):
    """Filled contour of Z (len(ys), len(xs)) over the grid, with labelled marker points; returns the mappable."""
    Z = _np(Z)
    Zp = np.log10(np.clip(Z, 1e-4, None)) if log else Z
    cs = ax.contourf(_np(xs), _np(ys), Zp, levels=levels, cmap="viridis")
    cb = ax.figure.colorbar(cs, ax=ax)
    cb.set_label(f"log10 {cbar_label}" if log else cbar_label)
    for (name, (px, py)), colour in zip((points or {}).items(), PALETTE[1:] * 4):
        ax.plot([px], [py], "o", color=colour, mec="white", ms=7)
        ax.annotate(name, (px, py), textcoords="offset points", xytext=(5, 5), color="white", fontsize=9)
    label(ax, xlabel, ylabel, title)
    return cs


def diverged_marks(ax, x, diverged, y_at: float) -> None:
    """Mark runs that diverged with a red cross at height ``y_at`` (so they show, not vanish)."""
    x, d = _np(x), _np(diverged).astype(bool)
    if d.any():
        ax.plot(x[d], np.full(d.sum(), y_at), "x", color=PALETTE[3], ms=8, mew=2, label="diverged")
        ax.legend()
