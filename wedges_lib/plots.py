"""One figure style for the whole book: labelled axes, a title that states the finding, Okabe–Ito colours.

Figures are returned, never saved, unless the caller asks (``fig.savefig``); Jupyter Book embeds them.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import patheffects

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
    """A figure with ``nrows x ncols`` axes of about ``width x height`` inches each; returns (fig, axes).

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-radius`, :ref:`ch-hyperparameters`, :ref:`ch-pairs`,
    :ref:`ch-sets`, :ref:`ch-ensembles` and :ref:`ch-your-model`.
    """
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kw)


def label(ax, xlabel: str, ylabel: str, title: str | None = None) -> None:
    """Axis labels (with units) and an optional title that states the finding.

    Used in :ref:`ch-hyperparameters`.
    """
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)


def curves(ax, x, ys: dict[str, object], *, xlabel: str, ylabel: str, title: str | None = None,
           logy: bool = False, marker: str | None = None) -> None:
    """One line per entry of ``ys`` (label -> values (T,) or (T, S) for S seeds: mean with a ±1 std band).

    Used in :ref:`ch-quickstart`, :ref:`ch-toy-model`, :ref:`ch-pairs` and :ref:`ch-your-model`.
    """
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


def contour(ax, xs, ys, Z, *, points: dict[str, Sequence[float]] | None = None,
            levels: int | Sequence[float] = 20, xlabel: str = "direction 1", ylabel: str = "direction 2",
            title: str | None = None, log: bool = True, cbar_label: str = "loss", colorbar: bool = True):
    """Filled contour of Z (len(ys), len(xs)) over the grid, with labelled marker points; returns the mappable.

    ``levels``: a count, or the level values themselves (in log10 units when ``log``) to share one colour
    scale across panels; values outside them take the end colours.

    Used in :ref:`ch-pairs`, :ref:`ch-sets`, :ref:`ch-ensembles` and :ref:`ch-your-model`.
    """
    Z = _np(Z)
    Zp = np.log10(np.clip(Z, 1e-4, None)) if log else Z
    if isinstance(levels, int) and np.ptp(Zp) < 1e-6:  # a flat field (e.g. zero loss everywhere): one unit wide
        levels = np.linspace(Zp.min() - 0.5, Zp.max() + 0.5, levels)
    cs = ax.contourf(_np(xs), _np(ys), Zp, levels=levels if isinstance(levels, int) else _np(levels),
                     cmap="viridis", extend="neither" if isinstance(levels, int) else "both")
    if colorbar:
        ax.figure.colorbar(cs, ax=ax).set_label(f"log10 {cbar_label}" if log else cbar_label)
    offsets = ((5, 5), (5, -13), (-15, 5), (-15, -13))  # points that lie close keep their names apart
    for k, ((name, (px, py)), colour) in enumerate(zip((points or {}).items(), PALETTE[1:] * 4)):
        ax.plot([px], [py], "o", color=colour, mec="white", ms=7)
        ax.annotate(name, (px, py), textcoords="offset points", xytext=offsets[k % len(offsets)], color="white",
                    fontsize=9, path_effects=[patheffects.withStroke(linewidth=2, foreground="black")])
    label(ax, xlabel, ylabel, title)
    return cs


def diverged_marks(ax, x, diverged, y_at: float) -> None:
    """Mark runs that diverged with a red cross at height ``y_at`` (so they show, not vanish)."""
    x, d = _np(x), _np(diverged).astype(bool)
    if d.any():
        ax.plot(x[d], np.full(d.sum(), y_at), "x", color=PALETTE[3], ms=8, mew=2, label="diverged")
        ax.legend()


def heatmap(ax, xs, ys, Z, *, xlabel: str, ylabel: str, title: str | None = None, cbar_label: str = "",
            vmin: float = 0.0, vmax: float = 1.0, fmt: str | None = "{:.2f}", colorbar: bool = True):
    """Z (len(ys), len(xs)) as one coloured cell per (x, y) pair, the values written in the cells; returns the image.

    Used in :ref:`ch-toy-model`.
    """
    Z = _np(Z)
    im = ax.imshow(Z, origin="lower", aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in _np(xs)])
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in _np(ys)])
    ax.grid(False)
    if fmt:
        for (i, j), v in np.ndenumerate(Z):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=6,
                    color="black" if v > vmin + 0.6 * (vmax - vmin) else "white")
    if colorbar:
        ax.figure.colorbar(im, ax=ax).set_label(cbar_label)
    label(ax, xlabel, ylabel, title)
    return im


def paths(ax, lines: dict[str, object], *, styles: Sequence[str] = ("-", "--", ":", "-.")) -> None:
    """Polylines in the plane: ``lines`` maps a label to (T, 2) points; a legend names them.

    Used in :ref:`ch-pairs` and :ref:`ch-sets`.
    """
    for k, ((name, xy), colour) in enumerate(zip(lines.items(), PALETTE[1:] * 4)):
        xy = _np(xy)
        ax.plot(xy[:, 0], xy[:, 1], styles[k % len(styles)], color=colour, lw=1.6, label=name)
    ax.legend(loc="best", frameon=True, framealpha=0.85)


def section(ax, sec, *, runs=None, names: Sequence[str] = ("a", "b", "c"), chords: bool = True,
            xlabel: str = "along b − a", ylabel: str = "towards c", title: str | None = None):
    """A plane section through three points (``sec.x`` (n,), ``sec.y`` (n,), ``sec.loss`` (n, n), ``sec.points``
    (3, 2), as :func:`wedges_lib.toy.plane_section` returns) on a log colour scale, the points named; with
    ``chords`` the straight line a → b and the bent path a → c → b, and ``runs`` (T, R, 2) projected on the plane.

    Used in :ref:`ch-pairs`.
    """
    P = _np(sec.points)
    cs = contour(ax, sec.x, sec.y, sec.loss, points=dict(zip(names, P)), xlabel=xlabel, ylabel=ylabel, title=title)
    if runs is not None:
        for k, xy in enumerate(np.moveaxis(_np(runs), 1, 0)):
            ax.plot(xy[:, 0], xy[:, 1], color="white", lw=1.5, label="runs (projected)" if k == 0 else None,
                    path_effects=[patheffects.withStroke(linewidth=2.5, foreground="black")])  # shows in a legend
    if chords:
        paths(ax, {f"{names[0]} → {names[1]}": P[[0, 1]], f"{names[0]} → {names[2]} → {names[1]}": P[[0, 2, 1]]},
              styles=("--", "-"))
    elif runs is not None:
        ax.legend(loc="best", frameon=True, framealpha=0.85)
    return cs


def cloud3d(points, groups, *, lines: dict[str, object] | None = None, marks: dict[str, object] | None = None,
            title: str | None = None, styles: Sequence[str] = ("-", "--", "-"),
            colours: Sequence[str] = ("black", PALETTE[3], PALETTE[4]), size: tuple[float, float] = (6.4, 5.2),
            marker_size: float = 12.0, alpha: float = 0.3, elev: float = 22.0, azim: float = 45.0):
    """3D scatter of points (M, 3) coloured by integer ``groups`` (M,), with ``lines`` (label -> (T, 3) or a list
    of them, one style and colour per label) and named ``marks`` (name -> (3,)); returns (fig, ax).

    Used in :ref:`ch-toy-model`.
    """
    fig = plt.figure(figsize=size)
    ax = fig.add_subplot(projection="3d")
    pts = _np(points)
    ax.scatter(pts[:, 0], pts[:, 1], pts[:, 2], c=[PALETTE[int(g) % len(PALETTE)] for g in _np(groups)],
               s=marker_size, alpha=alpha, lw=0)
    for k, (name, xyz) in enumerate((lines or {}).items()):
        for m, p in enumerate(xyz if isinstance(xyz, (list, tuple)) else [xyz]):
            p = _np(p)
            ax.plot(p[:, 0], p[:, 1], p[:, 2], styles[k % len(styles)], color=colours[k % len(colours)], lw=2,
                    label=name if m == 0 else None)
    for name, p in (marks or {}).items():
        ax.text(*_np(p).tolist(), name, fontsize=11, weight="bold")
    ax.set(xlabel="x", ylabel="y", zlabel="z", title=title or "")
    ax.view_init(elev=elev, azim=azim)
    if lines:
        ax.legend(loc="upper left")
    return fig, ax


def frame_values(control, n: int = 7) -> list:
    """The values a static slider steps through for an ipywidgets ``control``: ``n`` evenly spaced over a slider's
    range (on its step) plus its current value, or a dropdown's options.

    >>> import ipywidgets as widgets
    >>> frame_values(widgets.FloatSlider(1.5, min=1.0, max=10.0, step=0.1), n=4)
    [1.0, 1.5, 4.0, 7.0, 10.0]
    >>> frame_values(widgets.Dropdown(options=("linear", "sqrt"), value="sqrt"))
    ['linear', 'sqrt']
    """
    if hasattr(control, "options"):
        return list(control.options)
    grid = np.linspace(control.min, control.max, n)
    values = {control.min + round((v - control.min) / control.step) * control.step for v in grid} | {control.value}
    cast = int if isinstance(control.value, int) else lambda v: round(float(v), 10)
    return sorted({cast(v) for v in values})


def frames(draw, controls: dict, name: str, n: int = 7):
    """A slider over :func:`frame_values` of ``controls[name]`` that shows ``draw(**values)`` precomputed at each
    (the other controls at their values): plain HTML and a line of JavaScript, so it moves in the rendered book,
    without a kernel. Returns an ``IPython.display.HTML``. Used in :ref:`ch-toy-model`, :ref:`ch-radius` and
    :ref:`ch-hyperparameters`."""
    import base64
    import html
    import io
    import json

    from IPython.display import HTML

    fixed = {k: w.value for k, w in controls.items()}
    shots = []
    for v in frame_values(controls[name], n):
        draw(**{**fixed, name: v})
        fig, buf = plt.gcf(), io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        shots.append({"label": f"{v:g}" if isinstance(v, (int, float)) else str(v),
                      "src": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()})
    start = next(i for i, v in enumerate(frame_values(controls[name], n)) if v == fixed[name])
    move = ("var d=this.closest('.wedges-frames'),f=JSON.parse(d.querySelector('script').textContent)[this.value];"
            "var i=d.querySelector('img');i.src=f.src;i.alt=i.alt.replace(/= .*$/,'= '+f.label);"
            "d.querySelector('output').textContent=f.label;")
    return HTML(f'<div class="wedges-frames"><label>{html.escape(name)} = <output>{shots[start]["label"]}</output> '
                f'<input type="range" min="0" max="{len(shots) - 1}" step="1" value="{start}" '
                f'aria-label="{html.escape(name)}" oninput="{html.escape(move)}"></label>'
                f'<br><img src="{shots[start]["src"]}" alt="the figure at {html.escape(name)} = '
                f'{shots[start]["label"]}" style="max-width: 100%">'
                f'<script type="application/json">{json.dumps(shots)}</script></div>')


def live(draw, controls: dict, *, per_row: int = 3):
    """Sliders that call ``draw(**values)`` on every change and show its figure below them; returns the widget.

    The output area starts empty: draw the initial state once yourself, above, so that the page shows it
    without a kernel, e.g. as a static slider over one control (:func:`frames`): the rendered book cannot run
    ``draw``, Jupyter makes these sliders live.

    Used in :ref:`ch-toy-model`.
    """
    import ipywidgets as widgets

    out = widgets.Output()

    def redraw(_change) -> None:
        with out:
            out.clear_output(wait=True)
            draw(**{k: w.value for k, w in controls.items()})
            plt.show()

    for name, w in controls.items():
        w.description = w.description or name
        w.observe(redraw, names="value")
    boxes = list(controls.values())
    rows = [widgets.HBox(boxes[i:i + per_row]) for i in range(0, len(boxes), per_row)]
    return widgets.VBox(rows + [out])


def toy_pair(axes, secs: dict) -> None:
    """The two pictures of a toy pair of solutions (``toy_experiments.sections``): the plane through a, b and
    their joint c, and the plane through a's start, a and b with the runs. Used in :ref:`ch-toy-model`."""
    section(axes[0], secs["joint"], title="two wedges meet at c")
    start = "0" if secs.get("from_origin") else "θ₀"  # a start already on a wedge: the plane through the origin
    section(axes[1], secs["descent"], names=(start, "a", "b"), chords=False, xlabel=f"along a − {start}",
            ylabel="towards b", runs=secs["runs"], title="descent" if start == "θ₀" else "starts already on wedges")


def draw_knob(ax_curv, ax_radius, paths: Sequence[dict], band) -> None:
    """Two panels for one knob's sweep (``paths`` from chapter 03's ``knob_paths``): λ_max against training loss
    (seed means; the shaded ``band`` (n,) of losses is where the runs are compared) and r/r0 against step. A run
    that diverged or got stuck is dotted and named so in the legend; a diverged one ends in a red cross at the
    step it diverged, drawn at the top of the panel (whose scale the trained runs set).
    Used in :ref:`ch-hyperparameters`."""
    low, top, crosses = np.inf, 0.0, []
    for p, colour in zip(paths, PALETTE * 4):
        if p["lmax"] is not None:
            ax_curv.plot(_np(p["loss"]), _np(p["lmax"]), "o-", ms=3, color=colour, label=p["name"])
        ax_radius.plot(_np(p["step"]), _np(p["radius_ratio"]), color=colour, label=p["name"],
                       ls="-" if p["all_trained"] else ":")
        if p["ratio_range"] is not None:
            low, top = min(low, p["ratio_range"][0]), max(top, p["ratio_range"][1])
        crosses += list(p["diverged_steps"])
    ax_curv.axvspan(float(np.min(_np(band))), float(np.max(_np(band))), color="grey", alpha=0.15, lw=0)
    ax_curv.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    for fmt in (ax_curv.xaxis.set_major_formatter, ax_curv.xaxis.set_minor_formatter):  # 0.8, not 8×10⁻¹
        fmt(FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax_curv.invert_xaxis()
    ax_curv.legend(fontsize=7)
    if top > 0:
        ax_radius.set_ylim(low - 0.05 * (top - low), top + 0.1 * (top - low))
    if crosses:
        diverged_marks(ax_radius, crosses, [True] * len(crosses), ax_radius.get_ylim()[1])
    ax_radius.legend(fontsize=7)


def draw_overlay(ax, points: dict) -> None:
    """Several knobs' points on one log-log plane (``overlay.figure_points``: per group 'x', 'xlo', 'xhi', 'y',
    'ylo', 'yhi' (n,), 'labels'; 'line' (a, b)): each group in its colour with 95 % interval bars and its labels
    beside the points, points shared by several sweeps in black, and the line fitted to all points dashed.
    Used in :ref:`ch-hyperparameters`."""
    groups = [(k, p) for k, p in points.items() if k != "line"]
    for (name, p), colour, marker in zip(groups, PALETTE, "osD^v"):
        colour = "black" if name == "shared" else colour
        x, y = _np(p["x"]), _np(p["y"])
        err = lambda m, lo, hi: np.stack([m - _np(lo), _np(hi) - m])  # noqa: E731
        ax.errorbar(x, y, xerr=err(x, p["xlo"], p["xhi"]), yerr=err(y, p["ylo"], p["yhi"]), color=colour,
                    marker=marker, ms=4, capsize=2, ls="none", label=name)
        for s, xi, yi in zip(p["labels"], x, y):
            ax.annotate(s.split()[-1], (float(xi), float(yi)), textcoords="offset points", xytext=(4, 3),
                        fontsize=7, color=colour)
    a, b = points["line"]
    xs = np.concatenate([_np(p["x"]) for _, p in groups] + [np.empty(0)])  # no group: no point reached the band
    if np.isfinite(a) and np.isfinite(b) and np.isfinite(xs).any():
        grid = np.geomspace(np.nanmin(xs), np.nanmax(xs), 50)
        ax.plot(grid, np.exp(a) * grid ** b, "--", color="grey", lw=1, label=f"one curve (slope {b:.2g})")
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # plain numbers, not powers of ten, on these short log ranges
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
        axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.legend()


def log_ticks(ax, xs: Sequence[float]) -> None:
    """A log x axis ticked at exactly the values ``xs`` (e.g. the radii swept), no minor ticks.
    Used in :ref:`ch-radius`."""
    ax.set_xscale("log")
    ax.set_xticks(list(xs), [f"{v:g}" for v in xs])
    ax.set_xticks([], minor=True)


def shared_log_levels(surfaces: Sequence, n: int = 21, floor: float = 1e-4) -> np.ndarray:
    """``n`` contour levels in log10 units spanning all the loss surfaces (clipped below at ``floor``), for
    :func:`contour` panels that share one colour scale. Used in :ref:`ch-ensembles`."""
    lo = min(float(np.min(_np(s))) for s in surfaces)
    hi = max(float(np.max(_np(s))) for s in surfaces)
    return np.linspace(np.log10(max(lo, floor)), np.log10(hi), n)


def histograms(ax, samples: dict[str, object], *, bins, xlabel: str, ylabel: str = "count",
               title: str | None = None, logx: bool = False, marks: dict[str, float] | None = None) -> None:
    """Overlaid histograms of each named sample (1D), clamped into the ``bins`` range, with dashed vertical
    ``marks`` (name -> x). Used in :ref:`ch-sets`."""
    edges = _np(bins) if not isinstance(bins, int) else bins
    for (name, v), colour in zip(samples.items(), PALETTE):
        v = _np(v)
        if not isinstance(edges, int):
            v = np.clip(v, edges[0], edges[-1])
        ax.hist(v, bins=edges, alpha=0.6, color=colour, label=name)
    for name, x in (marks or {}).items():
        ax.axvline(float(x), color="black", ls="--", label=name)
    if logx:
        ax.set_xscale("log")
    ax.legend()
    label(ax, xlabel, ylabel, title)


def mean_worst(ax, rows: dict[str, tuple[float, float]], *, xlabel: str, title: str | None = None) -> None:
    """Horizontal bars of each row's worst (behind) and mean value (name -> (mean, worst)), log scale.
    Used in :ref:`ch-sets`."""
    names = list(rows)
    ax.barh(range(len(names)), [float(w) for _, w in rows.values()], color=PALETTE[3], label="worst")
    ax.barh(range(len(names)), [float(m) for m, _ in rows.values()], color=PALETTE[0], label="mean")
    ax.set_yticks(range(len(names)), names)
    ax.set_xscale("log")
    ax.legend()
    label(ax, xlabel, "", title)
