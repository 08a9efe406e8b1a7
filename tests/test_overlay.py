"""wedges_lib.overlay: the line fit and held-out residuals against hand-computed answers, the pooled seed noise,
and the overlay statistic near 1 when the knobs share one curve and clearly above the declared 2 when one knob
leaves it."""
import math

import matplotlib
import pytest
import torch

from wedges_lib import overlay, plots

matplotlib.use("Agg")

GROUPS = [{"lr", "width", "l2"}, {"lr"}, {"lr"}, {"width"}, {"width"}, {"l2"}, {"l2"}]
XS = torch.tensor([0.0, 0.3, 0.6, -0.3, -0.6, 0.2, -0.2], dtype=torch.float64)


def test_line_fit_is_least_squares_and_nan_when_underdetermined():
    x = torch.tensor([0.0, 1.0, 2.0, 3.0])
    y = torch.tensor([1.0, 2.0, 2.0, 4.0])
    a, b = overlay.line_fit(x, y)
    ref = torch.linalg.lstsq(torch.stack([torch.ones(4), x], 1), y[:, None]).solution.flatten()
    assert (a, b) == pytest.approx(ref.tolist())
    assert all(math.isnan(v) for v in overlay.line_fit(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 2.0])))


def test_held_out_residuals_use_only_the_other_knobs():
    y = 1.0 - 2.0 * XS
    y[5:] += 0.5  # the L2 points sit 0.5 above the others' line
    res = overlay.held_out_residuals(XS[:, None], y[:, None], GROUPS)[:, 0]
    assert math.isnan(res[0])  # the base belongs to every knob: never held out
    assert res[5:].tolist() == pytest.approx([0.5, 0.5])  # L2's residual is measured from lr's and width's line
    fit = [0, 3, 4, 5, 6]  # lr's line: the base, width's and L2's points
    sol = torch.linalg.lstsq(torch.stack([torch.ones(5), XS[fit]], 1), y[fit, None]).solution.flatten()
    assert res[1:3].tolist() == pytest.approx((y[1:3] - sol[0] - sol[1] * XS[1:3]).tolist())
    per_knob = overlay.knob_residuals(XS[:, None], y[:, None], GROUPS)
    assert sorted(per_knob) == ["l2", "lr", "width"] and per_knob["l2"].tolist() == pytest.approx([0.5])
    assert per_knob["lr"].tolist() == pytest.approx([float(res[1:3].pow(2).mean().sqrt())])
    with pytest.raises(ValueError, match="groups"):
        overlay.held_out_residuals(XS[:, None], y[:, None], GROUPS[:3])


def test_seed_noise_pools_the_unbiased_variance_over_points():
    y = torch.tensor([[1.0, 3.0, 2.0], [0.0, 0.0, 3.0], [7.0, math.nan, math.nan]])
    assert overlay.seed_noise(y) == pytest.approx(math.sqrt((1.0 + 3.0) / 2))  # variances 1 and 3; one seed: out
    assert math.isnan(overlay.seed_noise(torch.tensor([[1.0, math.nan]])))


def _ratio(shift: float, reps: int = 200) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(reps):
        x = XS[:, None] + 0.05 * torch.randn(7, 5, generator=gen, dtype=torch.float64)
        y = 1 - 0.5 * x + 0.1 * torch.randn(7, 5, generator=gen, dtype=torch.float64)
        y[5:] += shift * 0.1  # the L2 points off the curve by `shift` seed-noise units
        out.append(overlay.overlay_ratio(x, y, GROUPS).mean())
    return torch.stack(out)


def test_overlay_ratio_is_near_one_on_one_curve_and_large_off_it():
    alike, apart = _ratio(0.0), _ratio(4.0)
    assert 0.9 < float(alike.mean()) < 1.6 and float(alike.quantile(0.95)) < 2.0
    assert float(apart.mean()) > 2.5


def test_slopes_and_the_figure_points():
    x = XS[:, None].repeat(1, 3) + torch.tensor([0.0, 0.01, -0.01], dtype=torch.float64)
    y = 2.0 - 0.5 * x
    assert overlay.slopes(x, y).tolist() == pytest.approx([-0.5] * 3)
    labels = ["base", "lr 0.1", "lr 0.2", "width × 0.5", "width × 2", "L2 0.001", "L2 0.003"]
    pts = overlay.figure_points(x, y, GROUPS, labels)
    assert sorted(pts) == ["l2", "line", "lr", "shared", "width"] and pts["line"] == pytest.approx((2.0, -0.5))
    assert pts["shared"]["labels"] == ["base"] and pts["l2"]["labels"] == ["L2 0.001", "L2 0.003"]
    assert pts["lr"]["x"][0] == pytest.approx(math.exp(0.3)) and pts["lr"]["xlo"][0] < pts["lr"]["x"][0]
    fig, ax = matplotlib.pyplot.subplots()
    plots.draw_overlay(ax, pts)
    legend = ax.get_legend_handles_labels()[1]
    assert any(s.startswith("one curve (slope -0.5") for s in legend) and ax.get_xscale() == "log"
    assert {"shared", "lr", "width", "l2"} <= set(legend)


def test_figure_points_leave_out_unmeasured_points_and_still_draw_the_line():
    x = XS[:, None].repeat(1, 2)
    y = 1.0 - x
    x[1], y[1] = math.nan, math.nan  # a setting where every member diverged
    pts = overlay.figure_points(x, y, GROUPS, [str(i) for i in range(7)])
    assert pts["lr"]["labels"] == ["2"] and pts["line"] == pytest.approx((1.0, -1.0))
    fig, ax = matplotlib.pyplot.subplots()
    plots.draw_overlay(ax, pts)
    line = [ln for ln in ax.get_lines() if ln.get_label().startswith("one curve")][0]
    assert torch.isfinite(torch.tensor(line.get_ydata())).all()
