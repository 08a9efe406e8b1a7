"""The n-wedge toy landscape (Fort & Jastrzebski 2019) in D dimensions, batched over many points.

Wedge k has n short directions (an orthonormal frame, or a coordinate subset) and D - n long ones.
A point theta is inside wedge k when its short part is within the wedge's width at its radius:
``‖P_k theta‖ <= w(‖theta‖)``, with ``w(r) = width0 + kappa * g(max(r - r_open, 0))`` and g the
width law (``linear``: g(x) = x, ``sqrt``: g(x) = sqrt(x), ``const``: g = 0). The loss is the
squared distance, in the short directions, to the nearest wedge, plus the hole around the origin:

    L(theta) = min_k relu(‖P_k theta‖ - w(‖theta‖))²  +  hole * relu(r_min - ‖theta‖)²

It is exactly 0 inside any wedge outside the hole. The exact min is used: its gradient is the
gradient of the nearest wedge's term, which is all gradient descent needs.

What the geometry implies (checked in tests/test_toy.py): a random d-plane through a random point at
radius r reaches a wedge when the *angular* width w(r) / r is large enough, so training in random
hyperplanes gets easier further out only if w(r) / r grows with r. Wedges that open up from
``r_open > 0`` (e.g. the hole's edge) do; a cone through the origin (``width0 = r_open = 0``) is
scale-invariant, so the radius does not matter; a constant width (``kappa = 0``) shrinks in angle.
The same condition, r w'(r) > w(r), is what lets plain gradient descent move outward: its radius
grows at the rate 2 gap (r w'(r) - ‖P_k theta‖) / r, so it drifts outward only just outside a wedge
that opens up; gradient noise (``descend(noise=...)``) drives it outward along the long directions.

Shapes: a point is ``theta`` (D,); a stack of points (..., D); per-point results drop the last axis.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch.func import grad

from . import surfaces
from .presets import BASES, LAWS
from .validation import check_arg

_CHUNK = 1 << 24  # entries of the (points, K, n) short-coordinate tensor computed at once
_MAX_FRAME = 1 << 28  # entries of a dense (K, n, D) frame; beyond it use basis="coords"


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class WedgeModel:
    """K wedges in R^D. ``short`` is (K, n, D) orthonormal rows (basis 'subspace') or (K, n) indices ('coords')."""

    short: torch.Tensor
    D: int
    n_short: int
    K: int
    width0: float
    kappa: float
    law: str
    r_min: float
    r_open: float
    hole: float
    basis: str
    seed: int


def make_wedges(D: int, n_short: int, K: int, *, width0: float = 0.0, kappa: float = 0.2,
                law: str = "linear", r_min: float = 1.0, r_open: float = 0.0, hole: float = 1.0,
                basis: str = "subspace", seed: int = 0) -> WedgeModel:
    """K wedges in R^D, each with n_short short directions drawn from ``seed``; see the module doc for the loss.

    Used in :ref:`ch-radius`.
    """
    check_arg("D", D, _is_int(D) and D >= 2, "an int >= 2")
    check_arg("n_short", n_short, _is_int(n_short) and 1 <= n_short < D, f"an int in [1, D - 1] = [1, {D - 1}]")
    check_arg("K", K, _is_int(K) and K >= 1, "an int >= 1")
    check_arg("width0", width0, _is_real(width0) and width0 >= 0, "a finite float >= 0")
    check_arg("kappa", kappa, _is_real(kappa) and kappa >= 0, "a finite float >= 0")
    check_arg("law", law, law in LAWS, f"one of {', '.join(map(repr, LAWS))}")
    check_arg("r_min", r_min, _is_real(r_min) and r_min >= 0, "a finite float >= 0")
    check_arg("r_open", r_open, _is_real(r_open) and r_open >= 0, "a finite float >= 0")
    check_arg("hole", hole, _is_real(hole) and hole >= 0, "a finite float >= 0")
    check_arg("basis", basis, basis in BASES, f"one of {', '.join(map(repr, BASES))}")
    check_arg("seed", seed, _is_int(seed) and seed >= 0, "an int >= 0")
    gen = torch.Generator().manual_seed(seed)
    if basis == "subspace":
        check_arg("basis", basis, K * n_short * D <= _MAX_FRAME,
               f"'coords' when K * n_short * D = {K * n_short * D} > {_MAX_FRAME} (a dense frame would not fit)")
        q, _ = torch.linalg.qr(torch.randn(K, D, n_short, generator=gen))  # (K, D, n), orthonormal columns
        short = q.transpose(1, 2).contiguous()
    else:
        short = torch.stack([torch.randperm(D, generator=gen)[:n_short].sort().values for _ in range(K)])
    return WedgeModel(short, D, n_short, K, float(width0), float(kappa), law, float(r_min), float(r_open),
                      float(hole), basis, seed)


def _check_theta(model: WedgeModel, theta: torch.Tensor, name: str = "theta") -> None:
    check_arg(name, tuple(theta.shape), theta.ndim >= 1 and theta.shape[-1] == model.D,
           f"a tensor of shape (..., D) with D = {model.D}")


def width(model: WedgeModel, r: torch.Tensor | float) -> torch.Tensor:
    """The wedges' width w(r) at radius r, (...) -> (...).

    >>> m = make_wedges(D=10, n_short=2, K=3, width0=0.25, kappa=0.5, law="linear", r_open=1.0)
    >>> width(m, torch.tensor([0.5, 1.0, 3.0])).tolist()  # 0.25 + 0.5 * max(r - 1, 0)
    [0.25, 0.25, 1.25]
    >>> width(make_wedges(D=10, n_short=2, K=3, kappa=0.5, law="sqrt"), 4.0).item()  # 0.5 * sqrt(4)
    1.0
    """
    r = r if isinstance(r, torch.Tensor) else torch.tensor(float(r))
    x = torch.relu(r - model.r_open)
    if model.law == "linear":
        g = x
    elif model.law == "sqrt":
        g = torch.sqrt(x.clamp_min(1e-12))  # finite gradient at r <= r_open
    else:
        g = torch.zeros_like(x)
    return model.width0 + model.kappa * g


def short_coords(model: WedgeModel, theta: torch.Tensor) -> torch.Tensor:
    """Coordinates of theta (..., D) along every wedge's short directions, (..., K, n)."""
    _check_theta(model, theta)
    if model.basis == "coords":
        return theta[..., model.short]
    frames = model.short.to(theta.dtype).reshape(model.K * model.n_short, model.D)
    return (theta @ frames.T).unflatten(-1, (model.K, model.n_short))


def _margins(model: WedgeModel, theta: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(short_coords(model, theta), dim=-1) - width(model, r).to(theta.dtype)[..., None]


def margins(model: WedgeModel, theta: torch.Tensor) -> torch.Tensor:
    """Signed margin ‖P_k theta‖ - w(‖theta‖) of theta (..., D) to every wedge, (..., K); <= 0 inside."""
    return _margins(model, theta, torch.linalg.vector_norm(theta, dim=-1))


def _loss(model: WedgeModel, theta: torch.Tensor) -> torch.Tensor:
    r = torch.linalg.vector_norm(theta, dim=-1)
    wedge = torch.relu(_margins(model, theta, r)).pow(2).amin(dim=-1)
    return wedge + model.hole * torch.relu(model.r_min - r).pow(2)


def loss(model: WedgeModel, theta: torch.Tensor) -> torch.Tensor:
    """The toy loss of theta (..., D), shape (...); large stacks are evaluated in chunks."""
    _check_theta(model, theta)
    batch = theta.shape[:-1]
    flat = theta.reshape(-1, model.D)
    rows = max(1, _CHUNK // (model.K * model.n_short))
    if flat.shape[0] <= rows:
        return _loss(model, theta)
    return torch.cat([_loss(model, c) for c in flat.split(rows)]).reshape(batch)


def wedge_of(model: WedgeModel, theta: torch.Tensor) -> torch.Tensor:
    """Index of the nearest (deepest, when inside several) wedge of theta (..., D), long (...).

    Used in :ref:`ch-toy-model`.
    """
    return margins(model, theta).argmin(dim=-1)


def random_points(model: WedgeModel, count: int, radius: float | torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """``count`` uniformly random directions scaled to ``radius`` (float, or (count,)), shape (count, D)."""
    check_arg("count", count, _is_int(count) and count >= 1, "an int >= 1")
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(count, model.D, generator=g)
    u = u / torch.linalg.vector_norm(u, dim=-1, keepdim=True)
    return u * torch.as_tensor(radius, dtype=u.dtype).reshape(-1, 1)


def intersection_point(model: WedgeModel, i: int, j: int, radius: float, seed: int = 0,
                       near: torch.Tensor | None = None) -> torch.Tensor:
    """A point (D,) at ``radius`` with zero short coordinates in both wedges i and j: zero loss there.

    Its direction is a random vector (from ``seed``), or ``near`` (D,), with both wedges' short parts removed.
    Pass ``near = a + b`` for a joint of the path a -> point -> b that stays inside the wedges.
    """
    check_arg("i", i, _is_int(i) and 0 <= i < model.K, f"an int in [0, K - 1] = [0, {model.K - 1}]")
    check_arg("j", j, _is_int(j) and 0 <= j < model.K, f"an int in [0, K - 1] = [0, {model.K - 1}]")
    check_arg("radius", radius, _is_real(radius) and radius > 0, "a finite float > 0")
    if near is None:
        v = torch.randn(model.D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    else:
        _check_theta(model, near, "near")
        v = near.detach().reshape(model.D).to(torch.float64).clone()
    if model.basis == "coords":
        v[model.short[i]] = 0.0
        v[model.short[j]] = 0.0
    else:
        both = torch.cat([model.short[i], model.short[j]]).to(torch.float64)  # (2n, D)
        check_arg("n_short", model.n_short, i == j or 2 * model.n_short < model.D,
               f"2 * n_short < D = {model.D}, so that two wedges' long directions intersect")
        q, _ = torch.linalg.qr(both.T)  # (D, 2n) orthonormal basis of both short spaces
        v = v - q @ (q.T @ v)
    check_arg("near" if near is not None else "n_short", near if near is not None else model.n_short,
           float(torch.linalg.vector_norm(v)) > 0, "a vector with a component outside both wedges' short directions")
    return (v * (radius / torch.linalg.vector_norm(v))).to(torch.get_default_dtype())


@dataclass
class DescentResult:
    """A (batched) descent run on the toy. ``theta`` (B, D) final points (or (D,) for a single run).

    ``history`` maps 'step' (T,), 'loss' and 'radius' (T, B) or (T,) at the recorded steps; ``diverged``
    (B,) or () flags runs that went NaN / inf or whose radius exploded (they are frozen, nothing raises);
    ``w`` holds the final hyperplane coordinates for descent in random hyperplanes (in
    :func:`hyperplane_success_map`), else None;
    ``path`` every step's points, (steps + 1, B, D) or (steps + 1, D), when :func:`descend` kept them, else None.
    """

    theta: torch.Tensor
    history: dict[str, torch.Tensor]
    diverged: torch.Tensor
    w: torch.Tensor | None = None
    path: torch.Tensor | None = None


def _descend(model: WedgeModel, to_theta: Callable[[torch.Tensor], torch.Tensor], x0: torch.Tensor, *,
             lr: float, steps: int, noise: float, seed: int, record_every: int, explode: float,
             keep_path: bool = False) -> tuple[torch.Tensor, dict, torch.Tensor, torch.Tensor | None]:
    """Gradient descent on x (..., m) with theta = to_theta(x) (..., D), the toy's one descent loop.

    Returns final x, history, diverged (...) and, when ``keep_path``, every step's x (steps + 1, ..., m), else None.
    """
    check_arg("lr", lr, _is_real(lr) and lr > 0, "a finite float > 0")
    check_arg("steps", steps, _is_int(steps) and steps >= 0, "an int >= 0")
    check_arg("noise", noise, _is_real(noise) and noise >= 0, "a finite float >= 0")
    check_arg("record_every", record_every, _is_int(record_every) and record_every >= 1, "an int >= 1")
    check_arg("explode", explode, _is_real(explode) and explode > 1, "a finite float > 1")
    gen = torch.Generator().manual_seed(seed)
    # members are independent, so the gradient of the summed loss is every member's own gradient
    grad_fn = grad(lambda x: loss(model, to_theta(x)).sum())
    x = x0.clone()
    limit = explode * max(1.0, model.r_min, float(torch.linalg.vector_norm(to_theta(x0), dim=-1).max()))
    diverged = torch.zeros(x.shape[:-1], dtype=torch.bool)
    hist: dict[str, list] = {"step": [], "loss": [], "radius": []}
    path = [x] if keep_path else None

    def record(step: int) -> None:
        th = to_theta(x)
        hist["step"].append(step)
        hist["loss"].append(loss(model, th))
        hist["radius"].append(torch.linalg.vector_norm(th, dim=-1))

    with torch.no_grad():
        record(0)
    for step in range(1, steps + 1):
        g = grad_fn(x)
        if noise > 0:
            g = g + noise * torch.randn(g.shape, generator=gen, dtype=g.dtype)
        with torch.no_grad():
            new = x - lr * g
            r = torch.linalg.vector_norm(to_theta(new), dim=-1)
            bad = ~torch.isfinite(new).all(dim=-1) | ~torch.isfinite(r) | (r > limit)
            diverged |= bad
            x = torch.where(diverged[..., None], x, new)
            if keep_path:
                path.append(x)
            if step % record_every == 0 or step == steps:
                record(step)
    out = {"step": torch.tensor(hist["step"]), "loss": torch.stack(hist["loss"]),
           "radius": torch.stack(hist["radius"])}
    return x, out, diverged, (torch.stack(path) if keep_path else None)


def descend(model: WedgeModel, theta0: torch.Tensor, *, lr: float = 0.3, steps: int = 200, noise: float = 0.0,
            seed: int = 0, record_every: int = 1, explode: float = 1e3, keep_path: bool = False) -> DescentResult:
    """Gradient descent from theta0 (D,) or (B, D); ``noise`` > 0 adds N(0, noise²) to every gradient entry (SGD-like).

    The gradient is ``torch.func.grad`` of the summed loss: runs are independent, so it is every run's own
    gradient (what ``vmap(grad)`` gives), in one pass. The loss's curvature is 2 (times ``hole`` inside the
    hole), so lr < 1 / max(1, hole) is stable. A run is marked diverged (and frozen) when it goes
    non-finite or its radius exceeds ``explode`` times max(1, r_min, the largest initial radius).
    ``keep_path`` keeps every step's points in ``path`` (steps + 1, B, D) or (steps + 1, D), for drawing runs.
    """
    _check_theta(model, theta0, "theta0")
    check_arg("theta0", tuple(theta0.shape), theta0.ndim <= 2, "shape (D,) or (B, D)")
    single = theta0.ndim == 1
    x, hist, div, path = _descend(model, lambda x: x, theta0.reshape(-1, model.D).detach(), lr=lr, steps=steps,
                                  noise=noise, seed=seed, record_every=record_every, explode=explode,
                                  keep_path=keep_path)
    if single:
        return DescentResult(x[0], {k: (v[:, 0] if v.ndim == 2 else v) for k, v in hist.items()}, div[0],
                             path=None if path is None else path[:, 0])
    return DescentResult(x, hist, div, path=path)


def random_planes(D: int, d: int, count: int, *, seed: int = 0) -> torch.Tensor:
    """``count`` random D x d matrices with orthonormal columns (QR of a Gaussian), shape (count, D, d)."""
    check_arg("d", d, _is_int(d) and 1 <= d <= D, f"an int in [1, D] = [1, {D}]")
    q, _ = torch.linalg.qr(torch.randn(count, D, d, generator=torch.Generator().manual_seed(seed)))
    return q


def plane_lr(model: WedgeModel, d: int) -> float:
    """Default step for descent in a random d-plane: 0.5 D / (√n + √d)², at least 0.5 (a float).

    The loss is a squared distance: its curvature in w is 2 σ², σ the singular values of (short frame) @ P,
    at most (√n + √d) / √D for a random P. The step is half the stability limit 1 / σ_max², and it does not
    depend on the radius, so every radius moves the same fraction of its way per step.
    """
    return max(0.5, 0.5 * model.D / (math.sqrt(model.n_short) + math.sqrt(d)) ** 2)


def _plane_descend(model: WedgeModel, theta0: torch.Tensor, P: torch.Tensor, **kw) -> DescentResult:
    """Descent in theta = theta0 + P w with theta0 (..., S, D) and P (S, D, d) shared over the leading axes."""
    to_theta = lambda w: theta0 + torch.einsum("sDk,...sk->...sD", P, w)  # noqa: E731
    w0 = torch.zeros(*theta0.shape[:-1], P.shape[-1], dtype=theta0.dtype)
    w, hist, div, _ = _descend(model, to_theta, w0, noise=0.0, seed=0, **kw)
    return DescentResult(to_theta(w), hist, div, w)


def hyperplane_success_map(model: WedgeModel, dims: Sequence[int], radii: Sequence[float], *, seeds: int = 8,
                           threshold: float = 1e-4, lr: float | None = None, steps: int = 200,
                           seed: int = 0) -> torch.Tensor:
    """Fraction of ``seeds`` random d-planes through a random point at radius r whose descent reaches
    loss / r² < ``threshold``, shape (len(dims), len(radii)).

    The same ``seeds`` directions and planes serve every radius (common random numbers; the planes are
    nested, each d-plane inside the larger ones). The loss is judged relative to r² (a squared distance
    scales like r²) and ``lr`` defaults to :func:`plane_lr` for each d, the same at every radius.

    Used in :ref:`ch-radius`.
    """
    dims, radii = list(dims), [float(r) for r in radii]
    check_arg("dims", dims, len(dims) > 0 and all(_is_int(d) and 1 <= d <= model.D for d in dims),
           f"a non-empty list of ints in [1, D] = [1, {model.D}]")
    check_arg("radii", radii, len(radii) > 0 and all(math.isfinite(r) and r > 0 for r in radii),
           "a non-empty list of finite floats > 0")
    check_arg("seeds", seeds, _is_int(seeds) and seeds >= 1, "an int >= 1")
    check_arg("threshold", threshold, _is_real(threshold) and threshold > 0, "a finite float > 0")
    S, R = seeds, len(radii)
    r = torch.tensor(radii)
    u = random_points(model, S, 1.0, seed=seed)  # (S, D)
    theta0 = r[:, None, None] * u  # (R, S, D)
    out = torch.zeros(len(dims), R)
    nested = random_planes(model.D, max(dims), S, seed=seed + 1)  # the d-plane is spanned by the first d columns
    for a, d in enumerate(dims):
        P = nested[..., :d]
        step = plane_lr(model, d) if lr is None else lr
        res = _plane_descend(model, theta0, P, lr=step, steps=steps, record_every=steps, explode=1e3)
        ok = (res.history["loss"][-1] / r[:, None] ** 2 < threshold) & ~res.diverged
        out[a] = ok.float().mean(dim=1)
    return out


def intrinsic_dimension(success: torch.Tensor, dims: Sequence[int], level: float = 0.5) -> torch.Tensor:
    """Smallest d of ``dims`` whose success (len(dims), R) reaches ``level``, per column: (R,), nan where none does.

    Used in :ref:`ch-radius`.
    """
    check_arg("success", tuple(success.shape), success.ndim == 2 and success.shape[0] == len(dims),
           f"shape (len(dims), R) = ({len(dims)}, R)")
    ok = success >= level
    d = torch.tensor([float(v) for v in dims])[ok.float().argmax(dim=0)]
    return torch.where(ok.any(dim=0), d, torch.tensor(math.nan))



@dataclass
class PlaneSection:
    """The loss on the plane through three points: ``loss`` (n, n) at (x[j], y[i]); ``points`` (3, 2) the
    plane coordinates of a, b, c; ``origin`` (2,) those of the projection of theta = 0."""

    x: torch.Tensor
    y: torch.Tensor
    loss: torch.Tensor
    points: torch.Tensor
    origin: torch.Tensor


def plane_section(model: WedgeModel, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, *, n: int = 81,
                  margin: float = 0.25) -> PlaneSection:
    """Loss on an n x n grid of the plane through a, b, c (each (D,)): the points' span plus ``margin`` of it.

    The frame and grid are :func:`wedges_lib.surfaces.plane_through`'s (e1 along b - a, e2 towards c).
    """
    sec = surfaces.plane_through(lambda th: loss(model, th), a, b, c, n=n, margin=margin, chunk=n * n)
    e1, e2 = sec["u"], sec["v"]
    return PlaneSection(sec["xs"], sec["ys"], sec["loss"], sec["points"], torch.stack([-a @ e1, -a @ e2]))


def line_section(model: WedgeModel, a: torch.Tensor, b: torch.Tensor, n: int = 101, *,
                 extend: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss along a + t (b - a), t (n,) in [-extend, 1 + extend]; returns (t, loss), both (n,)."""
    check_arg("n", n, _is_int(n) and n >= 2, "an int >= 2")
    check_arg("extend", extend, _is_real(extend) and extend >= 0, "a finite float >= 0")
    t = torch.linspace(-extend, 1 + extend, n)
    return t, loss(model, a + t[:, None] * (b - a))


def path_loss(model: WedgeModel, points: torch.Tensor, n: int = 101) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss along the polygon through points (M, D), n samples per segment; returns (t, loss) with t (N,) the
    arc-length fraction in [0, 1]."""
    check_arg("points", tuple(points.shape), points.ndim == 2 and points.shape[0] >= 2, "shape (M, D) with M >= 2")
    check_arg("n", n, _is_int(n) and n >= 2, "an int >= 2")
    s = torch.linspace(0, 1, n)
    seg = [points[m] + s[:, None] * (points[m + 1] - points[m]) for m in range(len(points) - 1)]
    pts = torch.cat([seg[0]] + [q[1:] for q in seg[1:]])  # drop the repeated joints
    steps = torch.linalg.vector_norm(pts.diff(dim=0), dim=-1)
    t = torch.cat([torch.zeros(1), steps.cumsum(0)])
    return t / t[-1].clamp_min(1e-30), loss(model, pts)


def escape_distance(model: WedgeModel, theta: torch.Tensor, directions: torch.Tensor, *, t_max: float,
                    threshold: float, n: int = 201) -> torch.Tensor:
    """Distance from theta (D,) along each unit direction (M, D) at which the loss first exceeds ``threshold``,
    (M,); ``inf`` where it stays below up to ``t_max``."""
    check_arg("t_max", t_max, _is_real(t_max) and t_max > 0, "a finite float > 0")
    check_arg("n", n, _is_int(n) and n >= 2, "an int >= 2")
    u = directions / torch.linalg.vector_norm(directions, dim=-1, keepdim=True)
    t = torch.linspace(0, t_max, n)
    over = loss(model, theta + t[:, None, None] * u) > threshold  # (n, M)
    first = torch.where(over.any(dim=0), over.float().argmax(dim=0), n)
    return torch.cat([t, torch.tensor([math.inf])])[first]
