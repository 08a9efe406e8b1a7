"""1D and 2D slices of a loss landscape: lines, planes through three points, random planes.

Every slice is a set of points ``origin + coords @ directions`` in parameter space, evaluated many at a
time: the points of a chunk are stacked (chunk, D) and evaluated in one ``vmap``-ed pass
(:func:`wedges_lib.params.evaluate` for a network, which also streams the data in batches). So the
memory held at once is one chunk of parameter vectors and its activations, never the whole grid.

What is evaluated, ``f``, is either

* a network: an ``nn.Module`` (its architecture) plus data ``x, y`` — a minibatch or a whole split —
  giving the mean cross-entropy ``'loss'`` and the accuracy ``'acc'`` at every point; or
* any batched loss ``f(thetas (K, D)) -> (K,)`` (e.g. ``lambda th: toy.loss(model, th)``), giving ``'loss'``.

Grids follow matplotlib's convention: a plane's ``loss`` is (len(ys), len(xs)), ``loss[j, i]`` at
``origin + xs[i] * d1 + ys[j] * d2``, ready for ``contour(xs, ys, loss)``.

Random directions are Gaussian and normalised in one of two ways. **Filter normalisation** (Li et al.
2018): for every weight with two or more axes, the direction's slice for each output filter / neuron
(row ``i`` of the first axis) is rescaled to the norm of the same slice of theta; parameters with one
axis (biases, normalisation gains) are set to zero — the "ignore biasbn" convention of Li et al.'s code,
so the slice never moves them. **Model normalisation** scales the whole direction to ‖theta‖.
"""
from __future__ import annotations

from typing import Callable, Union

import torch
from torch import nn

from . import params
from .validation import check_arg

BatchedLoss = Callable[[torch.Tensor], torch.Tensor]
Target = Union[nn.Module, BatchedLoss]
NORMALIZATIONS = ("filter", "model", "none")




def _affine_layers(plan: params.LinearPlan, origin: torch.Tensor, directions: torch.Tensor, coords: torch.Tensor,
                   x: torch.Tensor, y: torch.Tensor, chunk: int, batch: int) -> dict[str, torch.Tensor]:
    """evaluate_affine's path for a network of Linear layers. Every layer's weights on the points origin +
    c @ directions are origin's plus c times the directions', so a chunk's weights come from one product per
    layer; and the first layer's pre-activations are W0 x + b0 + sum_i c_i (Di x + ei), from m + 1 products per
    data batch for the whole plane instead of one per point. The other layers are one fused batched product
    each (:func:`wedges_lib.params.forward_from`)."""
    through = params.plan_layers(plan, torch.cat([origin[None], directions]))  # origin's and each d's layers
    shapes = [w.shape[1:] for w, _ in through]
    basis = [(w.flatten(1), None if b is None else b.flatten(1)) for w, b in through]
    x = x.flatten(1) if plan.flatten else x
    firsts = [params.forward_from(plan, through, xb.expand(len(through[0][0]), *xb.shape), stop=1).flatten(1)
              for xb in x.split(batch)]
    P = len(coords)
    loss, correct = torch.zeros(P, device=origin.device), torch.zeros(P, device=origin.device)
    for start in range(0, P, chunk):
        c = coords[start:start + chunk]
        layers = [None] + [(torch.addmm(w[:1], c, w[1:]).view(len(c), *shape),  # the first layer: below
                            None if b is None else torch.addmm(b[:1], c, b[1:])[:, None])
                           for (w, b), shape in zip(basis[1:], shapes[1:])]
        for A, yb in zip(firsts, y.split(batch)):  # A (m + 1, B * out): the first layer at origin and along each d
            pre = torch.addmm(A[:1], c, A[1:]).view(len(c), len(yb), -1)
            l_sum, c_sum = params.ce_sums(params.forward_from(plan, layers, pre, start=1), yb)
            loss[start:start + len(c)] += l_sum
            correct[start:start + len(c)] += c_sum
    return {"loss": loss / len(y), "acc": correct / len(y)}


def evaluate_affine(f: Target, origin: torch.Tensor, directions: torch.Tensor, coords: torch.Tensor, *,
                    x: torch.Tensor | None = None, y: torch.Tensor | None = None, chunk: int | None = None,
                    batch: int | None = None, path: str = "auto") -> dict[str, torch.Tensor]:
    """Evaluate f at the P points origin (D,) + coords (P, m) @ directions (m, D): {'loss': (P,)[, 'acc': (P,)]}.

    Points are built and evaluated ``chunk`` at a time (vmapped); a network's data is streamed ``batch``
    examples at a time; None takes :func:`wedges_lib.params.default_sizes` for origin's device. ``path``
    (networks): ``"auto"`` takes, for a network of Linear layers and element-wise activations
    (:func:`wedges_lib.params.linear_plan`), batched matrix products with the first layer computed affinely
    in the coordinates (m + 1 products per data batch instead of one per point); ``"bmm"`` the batched products
    without that saving; ``"vmap"`` a vmapped ``functional_call``. All give the same values up to float rounding.
    """
    check_arg("path", path, path in ("auto", "bmm", "vmap"), "one of auto, bmm, vmap")
    chunk = params.default_sizes(origin.device)[0] if chunk is None else chunk
    batch = params.default_sizes(origin.device)[1] if batch is None else batch
    check_arg("chunk", chunk, isinstance(chunk, int) and chunk >= 1, "an int >= 1")
    check_arg("batch", batch, isinstance(batch, int) and batch >= 1, "an int >= 1")
    directions = directions.reshape(-1, origin.shape[-1]).to(origin)
    coords = coords.reshape(len(coords), -1).to(origin)
    check_arg("coords", tuple(coords.shape), coords.shape[1] == directions.shape[0],
           f"shape (P, {directions.shape[0]}), one column per direction")
    is_net = isinstance(f, nn.Module)
    if is_net:
        check_arg("x", None if x is None else tuple(x.shape), x is not None and y is not None,
               "inputs x and labels y when f is a network")
    elif not callable(f):
        raise ValueError(f"parameter 'f': got {type(f).__name__}; expected an nn.Module or a callable (K, D) -> (K,)")
    out: dict[str, list] = {"loss": [], "acc": []} if is_net else {"loss": []}
    plan = params.linear_plan(f) if is_net and path == "auto" else None
    if plan is not None:
        with torch.no_grad():
            return _affine_layers(plan, origin, directions, coords, x.to(origin.device), y.to(origin.device),
                                  chunk, batch)
    with torch.no_grad():
        for c in coords.split(chunk):
            thetas = origin[None] + c @ directions
            if is_net:
                loss, acc = params.evaluate(f, thetas, x, y, chunk=chunk, batch=batch, path=path)
                out["loss"].append(loss)
                out["acc"].append(acc)
            else:
                loss = f(thetas)
                check_arg("f", f"output of shape {tuple(loss.shape)}", loss.shape == (len(c),),
                          f"a batched loss returning shape ({len(c)},) for input ({len(c)}, D)")
                out["loss"].append(loss)
    return {k: torch.cat(v) for k, v in out.items()}


def _grid(n: int, lo: float, hi: float) -> torch.Tensor:
    return torch.linspace(lo, hi, n)


def line(f: Target, a: torch.Tensor, b: torch.Tensor, ts: torch.Tensor | int = 31, *,
         x: torch.Tensor | None = None, y: torch.Tensor | None = None, chunk: int | None = None,
         batch: int | None = None) -> dict[str, torch.Tensor]:
    """f along a + t (b - a) for a, b (D,) and ts (T,) (an int: T points in [0, 1]).

    Returns 't' (T,), 'distance' (T,) = t ‖b - a‖, 'loss' (T,) and, for a network, 'acc' (T,).

    Used in :ref:`ch-your-model`.
    """
    if isinstance(ts, int):
        check_arg("ts", ts, ts >= 2, "an int >= 2 or a tensor (T,)")
        ts = _grid(ts, 0.0, 1.0)
    ts = torch.as_tensor(ts, dtype=a.dtype).reshape(-1)
    res = evaluate_affine(f, a, (b - a)[None], ts[:, None], x=x, y=y, chunk=chunk, batch=batch)
    return {"t": ts, "distance": ts * params.radius(b - a).cpu(), **res}


def plane(f: Target, origin: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor, xs: torch.Tensor,
          ys: torch.Tensor, *, x: torch.Tensor | None = None, y: torch.Tensor | None = None, chunk: int | None = None,
          batch: int | None = None) -> dict[str, torch.Tensor]:
    """f on the grid origin + xs[i] d1 + ys[j] d2 (origin, d1, d2 (D,); xs (A,), ys (B,)).

    Returns 'xs', 'ys', 'loss' (B, A) and, for a network, 'acc' (B, A); ``loss[j, i]`` is at (xs[i], ys[j]).
    """
    xs, ys = torch.as_tensor(xs).reshape(-1), torch.as_tensor(ys).reshape(-1)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")  # (B, A) each
    coords = torch.stack([X.reshape(-1), Y.reshape(-1)], dim=1)
    res = evaluate_affine(f, origin, torch.stack([d1, d2]), coords, x=x, y=y, chunk=chunk, batch=batch)
    return {"xs": xs, "ys": ys, **{k: v.reshape(len(ys), len(xs)) for k, v in res.items()}}


def orthonormal_basis(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gram-Schmidt basis (u, v), each (D,), of the plane through a, b, c: u along b - a, v in the plane ⟂ u."""
    u = b - a
    check_arg("b", "b == a", float(params.radius(u)) > 0, "a point different from a")
    u = u / params.radius(u)
    v = (c - a) - ((c - a) @ u) * u
    check_arg("c", "c on the line through a and b", float(params.radius(v)) > 1e-6 * float(params.radius(c - a)),
           "a point off the line through a and b")
    return u, v / params.radius(v)


def plane_through(f: Target, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, *, n: int = 25,
                  margin: float = 0.2, x: torch.Tensor | None = None, y: torch.Tensor | None = None,
                  chunk: int | None = None, batch: int | None = None) -> dict[str, torch.Tensor]:
    """f on an n x n grid of the plane through a, b, c (each (D,)), in true distances from a.

    The axes are the orthonormal basis of :func:`orthonormal_basis` with a at (0, 0); the grid spans the
    three points plus ``margin`` of their largest extent on every side. Returns :func:`plane`'s keys plus
    'points' (3, 2), the 2D coordinates of a, b, c, and 'u', 'v' (D,), the basis.

    Used in :ref:`ch-pairs`, :ref:`ch-sets` and :ref:`ch-ensembles`.
    """
    check_arg("n", n, isinstance(n, int) and n >= 2, "an int >= 2")
    check_arg("margin", margin, isinstance(margin, (int, float)) and margin >= 0, "a float >= 0")
    u, v = orthonormal_basis(a, b, c)
    pts = torch.stack([torch.stack([(p - a) @ u, (p - a) @ v]) for p in (a, b, c)]).cpu()
    lo, hi = pts.min(dim=0).values, pts.max(dim=0).values
    pad = margin * float((hi - lo).max())
    xs = _grid(n, float(lo[0]) - pad, float(hi[0]) + pad)
    ys = _grid(n, float(lo[1]) - pad, float(hi[1]) + pad)
    res = plane(f, a, u, v, xs, ys, x=x, y=y, chunk=chunk, batch=batch)
    return {**res, "points": pts, "u": u, "v": v}


def filter_normalize(direction: torch.Tensor, theta: torch.Tensor, lay: params.Layout) -> torch.Tensor:
    """Filter-normalised copy of direction (D,) at theta (D,): each output row of a weight takes theta's row
    norm, 1-D params 0."""
    parts = []
    for d, w in zip(params.unflatten(direction, lay).values(), params.unflatten(theta, lay).values()):
        if d.ndim <= 1:
            parts.append(torch.zeros_like(d).reshape(-1))
            continue
        d2, w2 = d.reshape(len(d), -1), w.reshape(len(w), -1)
        scale = torch.linalg.vector_norm(w2, dim=1, keepdim=True) / (
            torch.linalg.vector_norm(d2, dim=1, keepdim=True) + 1e-10)
        parts.append((d2 * scale).reshape(-1))
    return torch.cat(parts)


def model_normalize(direction: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """direction (D,) rescaled to the norm of theta (D,)."""
    return direction * (params.radius(theta) / params.radius(direction))


def random_directions(theta: torch.Tensor, n: int = 2, *, normalization: str = "filter",
                      lay: params.Layout | None = None, seed: int = 0) -> torch.Tensor:
    """n Gaussian directions (n, D) at theta (D,), normalised by 'filter' (needs ``lay``), 'model' or 'none'.

    Direction k is the k-th draw of ``randn(D)`` from a generator seeded with ``seed``, then normalised.
    """
    check_arg("normalization", normalization, normalization in NORMALIZATIONS, f"one of {', '.join(NORMALIZATIONS)}")
    check_arg("n", n, isinstance(n, int) and n >= 1, "an int >= 1")
    check_arg("lay", lay, normalization != "filter" or lay is not None,
           "the model's params.Layout when normalization='filter'")
    gen = torch.Generator().manual_seed(seed)
    dirs = [torch.randn(theta.shape[-1], generator=gen, dtype=theta.dtype).to(theta.device) for _ in range(n)]
    if normalization == "filter":
        return torch.stack([filter_normalize(d, theta, lay) for d in dirs])
    if normalization == "model":
        return torch.stack([model_normalize(d, theta) for d in dirs])
    return torch.stack(dirs)


def random_plane(f: Target, theta: torch.Tensor, *, distance: float = 1.0, n: int = 25, normalization: str = "filter",
                 lay: params.Layout | None = None, seed: int = 0, x: torch.Tensor | None = None,
                 y: torch.Tensor | None = None, chunk: int | None = None,
                 batch: int | None = None) -> dict[str, torch.Tensor]:
    """f on an n x n grid theta (D,) + a d1 + b d2, a and b in [-distance, distance], d1, d2 random normalised.

    ``lay`` defaults to f's layout when f is a network. Returns :func:`plane`'s keys plus 'directions' (2, D).
    The directions are not orthogonalised (in high D they nearly are); coordinates are in units of them.

    Used in :ref:`ch-your-model`.
    """
    check_arg("n", n, isinstance(n, int) and n >= 2, "an int >= 2")
    lay = params.layout(f) if lay is None and isinstance(f, nn.Module) else lay
    d = random_directions(theta, 2, normalization=normalization, lay=lay, seed=seed)
    g = _grid(n, -distance, distance)
    res = plane(f, theta, d[0], d[1], g, g, x=x, y=y, chunk=chunk, batch=batch)
    return {**res, "directions": d}
